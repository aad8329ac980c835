//! Our SFTP client against OpenSSH's `sftp-server`, over its stdin and
//! stdout: what the in-memory tests cannot show, that we speak as OpenSSH
//! does. Skipped when the binary is not installed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use ssh_sftp::client::{ExtendedReply, Status};
use ssh_sftp::extensions::ExtendedRequest as E;
use ssh_sftp::{
    Attrs, Client, ClientConfig, Event, Handle, OpenFlags, Reply, Request, Server, ServerOptions,
    StatusCode,
};

use super::OsFs;

const SFTP_SERVERS: [&str; 2] = ["/usr/lib/openssh/sftp-server", "/usr/libexec/sftp-server"];

struct OpenSsh {
    child: Child,
    stdin: ChildStdin,
    stdout: Receiver<Vec<u8>>,
    client: Client,
    events: Vec<Event>,
}

impl OpenSsh {
    fn start(dir: &Path, args: &[&str]) -> Option<Self> {
        let bin = SFTP_SERVERS.iter().find(|p| Path::new(p).exists())?;
        let mut child = Command::new(bin)
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let mut out = child.stdout.take().unwrap();
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut buf = vec![0; 65_536];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 || tx.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        let mut s = Self {
            child,
            stdin,
            stdout: rx,
            client: Client::new(ClientConfig::default()),
            events: Vec::new(),
        };
        s.run();
        assert!(matches!(
            s.events.remove(0),
            Event::Ready {
                limits: Some(_),
                ..
            }
        ));
        Some(s)
    }

    /// Sends what the client has, then reads until nothing is in flight.
    fn run(&mut self) {
        loop {
            let mut up = Vec::new();
            if self.client.poll_transmit(&mut up) {
                self.stdin.write_all(&up).unwrap();
            }
            while let Some(e) = self.client.poll_event() {
                self.events.push(e);
            }
            if self.client.in_flight() == 0 && self.client.is_ready() {
                return;
            }
            let chunk = self
                .stdout
                .recv_timeout(Duration::from_secs(20))
                .expect("sftp-server answers");
            self.client.handle_input(&chunk).unwrap();
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

    fn handle(&mut self, r: Request) -> Handle {
        match self.call(r) {
            Reply::Handle(h) => h,
            r => panic!("{r:?}"),
        }
    }

    fn status(&mut self, r: Request) -> StatusCode {
        match self.call(r) {
            Reply::Status(Status { code, .. }) => code,
            r => panic!("{r:?}"),
        }
    }
}

impl Drop for OpenSsh {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let p = std::env::temp_dir().join(format!(
        "ssh-server-kit-openssh-sftp-{name}-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&p).unwrap();
    p
}

#[test]
fn our_client_against_openssh_sftp_server() {
    let dir = temp_dir("client");
    let Some(mut s) = OpenSsh::start(&dir, &["-e"]) else {
        eprintln!("no OpenSSH sftp-server installed: skipped");
        return;
    };
    assert!(s.client.has_extension("posix-rename@openssh.com"));
    let limits = s.client.limits().unwrap();
    assert_eq!(limits.max_packet_len, 256 * 1024);

    // Upload 5 MiB pipelined, then download it back.
    let file: Vec<u8> = (0..5 * 1024 * 1024 + 3).map(|i| (i % 251) as u8).collect();
    let open = |flags| Request::Open {
        filename: b"f.bin".to_vec(),
        flags,
        attrs: Attrs::new(),
    };
    let h = s.handle(open(OpenFlags::WRITE | OpenFlags::CREAT | OpenFlags::TRUNC));
    let t = s.client.upload(&h, 0).unwrap();
    let mut sent = 0;
    let mut done = None;
    while done.is_none() {
        if sent < file.len() {
            sent += s.client.upload_write(t, &file[sent..]).unwrap();
            if sent == file.len() {
                s.client.upload_finish(t).unwrap();
            }
        }
        s.run();
        for e in s.events.drain(..) {
            if let Event::TransferDone { result, .. } = e {
                done = Some(result);
            }
        }
    }
    assert_eq!(done.unwrap(), Ok(file.len() as u64));
    assert_eq!(s.status(Request::Close { handle: h }), StatusCode::OK);
    assert!(std::fs::read(dir.join("f.bin")).unwrap() == file);

    let h = s.handle(open(OpenFlags::READ));
    s.client.download(&h, 0, None).unwrap();
    s.run();
    let mut got = Vec::new();
    for e in s.events.drain(..) {
        match e {
            Event::Data { data, .. } => got.extend(data),
            Event::TransferDone { result, .. } => assert_eq!(result, Ok(file.len() as u64)),
            e => panic!("{e:?}"),
        }
    }
    assert!(got == file);

    // SYMLINK in OpenSSH's order: target first.
    let symlink = Request::Symlink {
        target: b"f.bin".to_vec(),
        link_path: b"link".to_vec(),
    };
    assert_eq!(s.status(symlink), StatusCode::OK);
    assert_eq!(
        std::fs::read_link(dir.join("link")).unwrap(),
        Path::new("f.bin")
    );
    let Reply::Attrs(a) = s.call(Request::Fstat { handle: h }) else {
        panic!()
    };
    assert_eq!(a.size, Some(file.len() as u64));
    let Reply::Extended(ExtendedReply::StatVfs(v)) = s.call(Request::Extended(E::Statvfs {
        path: b".".to_vec(),
    })) else {
        panic!()
    };
    assert!(v.bsize > 0);
    let Reply::Extended(ExtendedReply::UsersGroups(ug)) =
        s.call(Request::Extended(E::UsersGroupsById {
            uids: vec![0],
            gids: vec![0],
        }))
    else {
        panic!()
    };
    assert_eq!(ug.users, vec![b"root".to_vec()]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn openssh_read_only_and_deny_list_answer_as_ours() {
    let dir = temp_dir("ro");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("f"), b"x").unwrap();
    let Some(mut s) = OpenSsh::start(&dir, &["-e", "-R", "-P", "stat"]) else {
        return;
    };
    let open = Request::Open {
        filename: b"f".to_vec(),
        flags: OpenFlags::WRITE,
        attrs: Attrs::new(),
    };
    assert_eq!(s.status(open), StatusCode::PERMISSION_DENIED);
    assert_eq!(
        s.status(Request::Stat {
            path: b"f".to_vec()
        }),
        StatusCode::PERMISSION_DENIED
    );
    assert_eq!(
        s.status(Request::Remove {
            filename: b"f".to_vec()
        }),
        StatusCode::PERMISSION_DENIED
    );
    let unknown = Request::Extended(E::Unknown {
        name: b"nope@example.com".to_vec(),
        data: vec![],
    });
    assert_eq!(s.status(unknown), StatusCode::OP_UNSUPPORTED);
    let forged = Request::Read {
        handle: Handle(b"forged".to_vec()),
        offset: 0,
        len: 1,
    };
    let code = s.status(forged);
    assert!(
        code == StatusCode::FAILURE || code == StatusCode::NO_SUCH_FILE,
        "{code}"
    );
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Set in the environment of the test binary started by `sftp -D` (through
/// a script) to make [`serve_stdio`] serve.
const SERVE_ENV: &str = "SSH_SERVER_KIT_SFTP_SERVE_STDIO";

/// Not a test of its own: when [`SERVE_ENV`] is set, serves SFTP with
/// [`OsFs`] from stdin to the FIFO it names, which the script copies to
/// its stdout (libtest prints to stdout, which the script sends to
/// stderr; a socket, as `sftp` gives, cannot be reopened by path).
#[test]
fn serve_stdio() {
    if std::env::var_os(SERVE_ENV).is_none() {
        return;
    }
    let base = std::env::current_dir().unwrap();
    let mut server = Server::new(OsFs::new(base, None), ServerOptions::default());
    let fifo = std::env::var_os(SERVE_ENV).unwrap();
    let mut out = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
    let mut stdin = std::io::stdin().lock();
    let mut pending = Vec::new();
    let mut buf = vec![0; 65_536];
    loop {
        let n = stdin.read(&mut buf).unwrap();
        if n == 0 {
            return;
        }
        pending.extend_from_slice(&buf[..n]);
        loop {
            let taken = server.handle_input(&pending).unwrap();
            pending.drain(..taken);
            let mut reply = Vec::new();
            server.poll_transmit(&mut reply);
            out.write_all(&reply).unwrap();
            if pending.is_empty() || (taken == 0 && reply.is_empty()) {
                break;
            }
        }
    }
}

#[test]
fn openssh_sftp_client_against_our_server() {
    let Some(sftp) = which("sftp") else {
        eprintln!("no OpenSSH sftp installed: skipped");
        return;
    };
    let dir = temp_dir("server");
    let exe = std::env::current_exe().unwrap();
    let script = dir.join("serve.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nfifo='{fifo}'\nrm -f \"$fifo\"\nmkfifo \"$fifo\" || exit 1\ncat \"$fifo\" &\n\
             {SERVE_ENV}=\"$fifo\" exec '{exe}' sftp::openssh_tests::serve_stdio --exact --test-threads=1 -q 1>&2\n",
            fifo = dir.join("out.fifo").display(),
            exe = exe.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let local: Vec<u8> = (0..3 * 1024 * 1024 + 11).map(|i| (i % 241) as u8).collect();
    std::fs::write(dir.join("local.bin"), &local).unwrap();
    let batch = dir.join("batch");
    let commands = [
        "mkdir remote",
        "cd remote",
        "put local.bin up.bin",
        "get up.bin down.bin",
        "ln -s up.bin link",
        "rename up.bin moved.bin",
        "chmod 600 moved.bin",
        "ls -l",
        "df",
        "rm link",
    ];
    std::fs::write(&batch, commands.join("\n") + "\n").unwrap();
    let out = Command::new(sftp)
        .arg("-D")
        .arg(&script)
        .arg("-b")
        .arg(&batch)
        .current_dir(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(std::fs::read(dir.join("down.bin")).unwrap() == local);
    assert!(std::fs::read(dir.join("remote/moved.bin")).unwrap() == local);
    assert!(!dir.join("remote/link").exists());
    let mode = std::fs::metadata(dir.join("remote/moved.bin"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    assert!(stdout.contains("moved.bin"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A program on `PATH`.
fn which(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}
