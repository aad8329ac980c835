//! `OsFs` behind the SFTP server, driven by the SFTP client, in a
//! temporary directory.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use ssh_sftp::client::{ExtendedReply, Status};
use ssh_sftp::extensions::ExtendedRequest as E;
use ssh_sftp::{
    Attrs, Client, ClientConfig, Event, Handle, OpenFlags, Reply, Request, Server, ServerOptions,
    StatusCode,
};

use super::OsFs;

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let p = std::env::temp_dir().join(format!(
            "ssh-server-kit-sftp-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Pair {
    client: Client,
    server: Server<OsFs>,
    events: Vec<Event>,
    /// Client bytes the server has not taken yet.
    to_server: Vec<u8>,
}

impl Pair {
    fn new(dir: &TempDir, options: ServerOptions) -> Self {
        let mut p = Self {
            client: Client::new(ClientConfig::default()),
            server: Server::new(OsFs::new(&dir.0, None), options),
            events: Vec::new(),
            to_server: Vec::new(),
        };
        p.run();
        assert!(matches!(p.events.remove(0), Event::Ready { .. }));
        p
    }

    fn run(&mut self) {
        loop {
            let (mut up, mut down) = (Vec::new(), Vec::new());
            self.client.poll_transmit(&mut up);
            self.to_server.extend_from_slice(&up);
            let n = self.server.handle_input(&self.to_server).unwrap();
            self.to_server.drain(..n);
            self.server.poll_transmit(&mut down);
            self.client.handle_input(&down).unwrap();
            while let Some(e) = self.client.poll_event() {
                self.events.push(e);
            }
            if up.is_empty() && down.is_empty() {
                return;
            }
        }
    }

    fn call(&mut self, r: Request) -> Reply {
        self.client.request(r).unwrap();
        self.run();
        match self.events.pop() {
            Some(Event::Reply { reply, .. }) => reply,
            e => panic!("{e:?}"),
        }
    }

    fn status(&mut self, r: Request) -> StatusCode {
        match self.call(r) {
            Reply::Status(Status { code, .. }) => code,
            r => panic!("{r:?}"),
        }
    }

    fn open(&mut self, path: &str, flags: OpenFlags) -> Handle {
        match self.call(Request::Open {
            filename: path.into(),
            flags,
            attrs: Attrs::new(),
        }) {
            Reply::Handle(h) => h,
            r => panic!("{r:?}"),
        }
    }
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 253) as u8).collect()
}

#[test]
fn upload_then_download_a_file() {
    let dir = TempDir::new();
    let mut p = Pair::new(&dir, ServerOptions::default());
    let file = data(3 * 1024 * 1024 + 7);
    let h = p.open(
        "up.bin",
        OpenFlags::WRITE | OpenFlags::CREAT | OpenFlags::TRUNC,
    );
    let t = p.client.upload(&h, 0).unwrap();
    let mut sent = 0;
    let mut done = None;
    while done.is_none() {
        if sent < file.len() {
            sent += p.client.upload_write(t, &file[sent..]).unwrap();
            if sent == file.len() {
                p.client.upload_finish(t).unwrap();
            }
        }
        p.run();
        for e in p.events.drain(..) {
            if let Event::TransferDone { result, .. } = e {
                done = Some(result);
            }
        }
    }
    assert_eq!(done.unwrap(), Ok(file.len() as u64));
    assert_eq!(p.status(Request::Close { handle: h }), StatusCode::OK);
    assert!(std::fs::read(dir.0.join("up.bin")).unwrap() == file);

    let h = p.open("up.bin", OpenFlags::READ);
    p.client.download(&h, 0, None).unwrap();
    p.run();
    let mut got = Vec::new();
    for e in p.events.drain(..) {
        match e {
            Event::Data { data, .. } => got.extend(data),
            Event::TransferDone { result, .. } => assert_eq!(result, Ok(file.len() as u64)),
            e => panic!("{e:?}"),
        }
    }
    assert!(got == file);
}

#[test]
fn directories_links_and_attributes() {
    let dir = TempDir::new();
    let mut p = Pair::new(&dir, ServerOptions::default());
    let mkdir = Request::Mkdir {
        path: b"d".to_vec(),
        attrs: Attrs {
            permissions: Some(0o750),
            ..Attrs::new()
        },
    };
    assert_eq!(p.status(mkdir), StatusCode::OK);
    std::fs::write(dir.0.join("d/a"), b"abc").unwrap();
    let symlink = Request::Symlink {
        target: b"a".to_vec(),
        link_path: b"d/l".to_vec(),
    };
    assert_eq!(p.status(symlink), StatusCode::OK);
    let Reply::Name(n) = p.call(Request::Readlink {
        path: b"d/l".to_vec(),
    }) else {
        panic!()
    };
    assert_eq!(n[0].filename, b"a");
    let Reply::Attrs(a) = p.call(Request::Stat {
        path: b"d/l".to_vec(),
    }) else {
        panic!()
    };
    assert_eq!(a.size, Some(3));
    let setstat = Request::Setstat {
        path: b"d/a".to_vec(),
        attrs: Attrs {
            permissions: Some(0o600),
            atime_mtime: Some((1_000_000, 2_000_000)),
            ..Attrs::new()
        },
    };
    assert_eq!(p.status(setstat), StatusCode::OK);
    let Reply::Attrs(a) = p.call(Request::Lstat {
        path: b"d/a".to_vec(),
    }) else {
        panic!()
    };
    assert_eq!(a.permissions, Some(0o100_600));
    assert_eq!(a.atime_mtime, Some((1_000_000, 2_000_000)));

    // lsetstat: times on the link itself; a mode on a regular file.
    let lset = |path: &[u8], attrs| {
        Request::Extended(E::Lsetstat {
            path: path.to_vec(),
            attrs,
        })
    };
    let times = Attrs {
        atime_mtime: Some((3, 4)),
        ..Attrs::new()
    };
    assert_eq!(p.status(lset(b"d/l", times)), StatusCode::OK);
    let Reply::Attrs(a) = p.call(Request::Lstat {
        path: b"d/l".to_vec(),
    }) else {
        panic!()
    };
    assert_eq!(a.atime_mtime, Some((3, 4)));
    let mode = Attrs {
        permissions: Some(0o640),
        ..Attrs::new()
    };
    assert_eq!(p.status(lset(b"d/a", mode.clone())), StatusCode::OK);
    assert_eq!(p.status(lset(b"d/l", mode)), StatusCode::OP_UNSUPPORTED);

    let Reply::Handle(d) = p.call(Request::Opendir {
        path: b"d".to_vec(),
    }) else {
        panic!()
    };
    let Reply::Name(entries) = p.call(Request::Readdir { handle: d.clone() }) else {
        panic!()
    };
    let mut names: Vec<_> = entries.iter().map(|e| e.filename.clone()).collect();
    names.sort();
    assert_eq!(
        names,
        vec![b".".to_vec(), b"..".to_vec(), b"a".to_vec(), b"l".to_vec()]
    );
    assert_eq!(p.status(Request::Readdir { handle: d }), StatusCode::EOF);

    // RENAME refuses an existing target; posix-rename replaces it.
    std::fs::write(dir.0.join("b"), b"b").unwrap();
    let rename = Request::Rename {
        old_path: b"b".to_vec(),
        new_path: b"d/a".to_vec(),
    };
    assert_eq!(p.status(rename), StatusCode::FAILURE);
    let posix = Request::Extended(E::PosixRename {
        old_path: b"b".to_vec(),
        new_path: b"d/a".to_vec(),
    });
    assert_eq!(p.status(posix), StatusCode::OK);
    assert_eq!(std::fs::read(dir.0.join("d/a")).unwrap(), b"b");
    let hard = Request::Extended(E::Hardlink {
        old_path: b"d/a".to_vec(),
        new_path: b"h".to_vec(),
    });
    assert_eq!(p.status(hard), StatusCode::OK);
    let Reply::Extended(ExtendedReply::StatVfs(s)) = p.call(Request::Extended(E::Statvfs {
        path: b".".to_vec(),
    })) else {
        panic!()
    };
    assert!(s.bsize > 0);
    let Reply::Name(n) = p.call(Request::Realpath {
        path: b"d/missing".to_vec(),
    }) else {
        panic!()
    };
    let canonical = std::fs::canonicalize(&dir.0).unwrap().join("d/missing");
    assert_eq!(n[0].filename, canonical.as_os_str().as_encoded_bytes());
    assert_eq!(
        p.status(Request::Rmdir {
            path: b"d".to_vec()
        }),
        StatusCode::FAILURE
    );
    assert_eq!(
        p.status(Request::Remove {
            filename: b"nope".to_vec()
        }),
        StatusCode::NO_SUCH_FILE
    );
}

#[test]
fn read_only_server_leaves_the_disk_alone() {
    let dir = TempDir::new();
    std::fs::write(dir.0.join("f"), b"keep").unwrap();
    let options = ServerOptions {
        read_only: true,
        ..ServerOptions::default()
    };
    let mut p = Pair::new(&dir, options);
    let open = Request::Open {
        filename: b"f".to_vec(),
        flags: OpenFlags::WRITE | OpenFlags::TRUNC,
        attrs: Attrs::new(),
    };
    assert_eq!(p.status(open), StatusCode::PERMISSION_DENIED);
    assert_eq!(
        p.status(Request::Remove {
            filename: b"f".to_vec()
        }),
        StatusCode::PERMISSION_DENIED
    );
    assert_eq!(std::fs::read(dir.0.join("f")).unwrap(), b"keep");
}
