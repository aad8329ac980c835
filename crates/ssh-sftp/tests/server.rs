//! Every request through the server against the in-memory file system.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use ssh_sftp::extensions::ExtendedRequest as E;
use ssh_sftp::memfs::MemFs;
use ssh_sftp::{
    Attrs, Handle, Limits, OpenFlags, Packet, PacketReader, Request, Response, Server, ServerError,
    ServerOptions, StatVfs, StatusCode, UsersGroups,
};

struct Harness {
    server: Server<MemFs>,
    next_id: u32,
    replies: PacketReader,
}

impl Harness {
    fn new(fs: MemFs, options: ServerOptions) -> Self {
        let mut server = Server::new(fs, options);
        let mut init = Vec::new();
        Packet::Init {
            version: 3,
            extensions: vec![],
        }
        .encode(&mut init)
        .unwrap();
        server.handle_input(&init).unwrap();
        let mut h = Self {
            server,
            next_id: 0,
            replies: PacketReader::default(),
        };
        match h.next_packet() {
            Packet::Version {
                version,
                extensions,
            } => {
                assert_eq!(version, 3);
                assert_eq!(extensions.len(), 11);
            }
            p => panic!("{p:?}"),
        }
        h
    }

    fn default() -> Self {
        let mut fs = MemFs::new();
        fs.put_file(b"/hello.txt", b"hello world").unwrap();
        fs.create_dir_all(b"/dir/sub").unwrap();
        Self::new(fs, ServerOptions::default())
    }

    fn next_packet(&mut self) -> Packet {
        let mut out = Vec::new();
        self.server.poll_transmit(&mut out);
        self.replies.handle_input(&out);
        Packet::decode(self.replies.poll_packet().unwrap().unwrap()).unwrap()
    }

    fn call(&mut self, request: Request) -> Response {
        self.next_id += 1;
        let id = self.next_id;
        let mut bytes = Vec::new();
        Packet::Request { id, request }.encode(&mut bytes).unwrap();
        self.server.handle_input(&bytes).unwrap();
        match self.next_packet() {
            Packet::Response { id: got, response } => {
                assert_eq!(got, id);
                response
            }
            p => panic!("{p:?}"),
        }
    }

    fn status(&mut self, request: Request) -> StatusCode {
        match self.call(request) {
            Response::Status { code, .. } => code,
            r => panic!("{r:?}"),
        }
    }

    fn open(&mut self, path: &str, flags: OpenFlags) -> Handle {
        match self.call(Request::Open {
            filename: path.into(),
            flags,
            attrs: Attrs::new(),
        }) {
            Response::Handle(h) => h,
            r => panic!("{r:?}"),
        }
    }

    fn name(&mut self, request: Request) -> Vec<u8> {
        match self.call(request) {
            Response::Name(mut n) => {
                assert_eq!(n.len(), 1);
                n.remove(0).filename
            }
            r => panic!("{r:?}"),
        }
    }

    fn attrs(&mut self, request: Request) -> Attrs {
        match self.call(request) {
            Response::Attrs(a) => a,
            r => panic!("{r:?}"),
        }
    }
}

fn v(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

const OK: StatusCode = StatusCode::OK;

#[test]
fn open_read_write_close() {
    let mut h = Harness::default();
    let f = h.open("/hello.txt", OpenFlags::READ);
    let r = h.call(Request::Read {
        handle: f.clone(),
        offset: 6,
        len: 100,
    });
    assert_eq!(r, Response::Data(v("world")));
    let eof = h.status(Request::Read {
        handle: f.clone(),
        offset: 11,
        len: 100,
    });
    assert_eq!(eof, StatusCode::EOF);
    assert_eq!(h.status(Request::Close { handle: f.clone() }), OK);
    // The handle is stale now.
    assert_eq!(h.status(Request::Close { handle: f }), StatusCode::FAILURE);

    let w = h.open(
        "/new",
        OpenFlags::WRITE | OpenFlags::CREAT | OpenFlags::EXCL,
    );
    let write = |offset, data: &str| Request::Write {
        handle: w.clone(),
        offset,
        data: v(data),
    };
    assert_eq!(h.status(write(0, "abc")), OK);
    assert_eq!(h.status(write(5, "z")), OK);
    assert_eq!(h.attrs(Request::Fstat { handle: w.clone() }).size, Some(6));
    assert_eq!(h.status(Request::Close { handle: w }), OK);
    assert_eq!(
        h.server.filesystem().contents(b"/new"),
        Some(&b"abc\0\0z"[..])
    );
    // EXCL on an existing file fails.
    let r = h.status(Request::Open {
        filename: v("/new"),
        flags: OpenFlags::WRITE | OpenFlags::CREAT | OpenFlags::EXCL,
        attrs: Attrs::new(),
    });
    assert_eq!(r, StatusCode::FAILURE);
    // Append goes to the end whatever the offset.
    let a = h.open("/new", OpenFlags::WRITE | OpenFlags::APPEND);
    h.status(Request::Write {
        handle: a,
        offset: 0,
        data: v("!"),
    });
    assert_eq!(
        h.server.filesystem().contents(b"/new"),
        Some(&b"abc\0\0z!"[..])
    );
}

#[test]
fn stat_family_and_setstat() {
    let mut h = Harness::default();
    let a = h.attrs(Request::Stat {
        path: v("/hello.txt"),
    });
    assert_eq!(a.size, Some(11));
    assert!(a.is_regular());
    assert!(h.attrs(Request::Lstat { path: v("/dir") }).is_dir());
    let set = Attrs {
        permissions: Some(0o600),
        atime_mtime: Some((5, 6)),
        uid_gid: Some((7, 8)),
        size: Some(5),
        extended: vec![],
    };
    assert_eq!(
        h.status(Request::Setstat {
            path: v("/hello.txt"),
            attrs: set.clone()
        }),
        OK
    );
    let a = h.attrs(Request::Stat {
        path: v("/hello.txt"),
    });
    assert_eq!(a.permissions, Some(0o100_600));
    assert_eq!(a.atime_mtime, Some((5, 6)));
    assert_eq!(a.uid_gid, Some((7, 8)));
    assert_eq!(a.size, Some(5));
    let f = h.open("/hello.txt", OpenFlags::READ);
    let attrs = Attrs {
        size: Some(2),
        ..Attrs::new()
    };
    assert_eq!(
        h.status(Request::Fsetstat {
            handle: f.clone(),
            attrs
        }),
        OK
    );
    assert_eq!(h.attrs(Request::Fstat { handle: f }).size, Some(2));
    assert_eq!(
        h.status(Request::Stat { path: v("/nope") }),
        StatusCode::NO_SUCH_FILE
    );
}

#[test]
fn directories() {
    let mut h = Harness::default();
    let mkdir = |p: &str| Request::Mkdir {
        path: v(p),
        attrs: Attrs::new(),
    };
    assert_eq!(h.status(mkdir("/dir/a")), OK);
    assert_eq!(h.status(mkdir("/dir/a")), StatusCode::FAILURE);
    for i in 0..250 {
        h.server
            .filesystem_mut()
            .put_file(format!("/dir/a/f{i:03}").as_bytes(), b"")
            .unwrap();
    }
    let d = match h.call(Request::Opendir { path: v("/dir/a") }) {
        Response::Handle(d) => d,
        r => panic!("{r:?}"),
    };
    let mut names = Vec::new();
    loop {
        match h.call(Request::Readdir { handle: d.clone() }) {
            Response::Name(n) => {
                assert!(n.len() <= 100);
                names.extend(n.into_iter().map(|e| e.filename));
            }
            Response::Status { code, .. } => {
                assert_eq!(code, StatusCode::EOF);
                break;
            }
            r => panic!("{r:?}"),
        }
    }
    assert_eq!(names.len(), 252);
    assert_eq!(names[0], v("."));
    assert_eq!(names[2], v("f000"));
    // A directory handle is not a file handle.
    let r = h.status(Request::Read {
        handle: d.clone(),
        offset: 0,
        len: 1,
    });
    assert_eq!(r, StatusCode::FAILURE);
    assert_eq!(h.status(Request::Close { handle: d }), OK);
    assert_eq!(
        h.status(Request::Rmdir { path: v("/dir/a") }),
        StatusCode::FAILURE
    );
    assert_eq!(
        h.status(Request::Rmdir {
            path: v("/dir/sub")
        }),
        OK
    );
    assert_eq!(
        h.status(Request::Opendir {
            path: v("/dir/sub")
        }),
        StatusCode::NO_SUCH_FILE
    );
}

#[test]
fn names_links_and_renames() {
    let mut h = Harness::default();
    assert_eq!(h.name(Request::Realpath { path: v(".") }), v("/"));
    assert_eq!(
        h.name(Request::Realpath {
            path: v("/dir/sub/../x")
        }),
        v("/dir/x")
    );
    assert_eq!(
        h.status(Request::Symlink {
            target: v("hello.txt"),
            link_path: v("/link")
        }),
        OK
    );
    assert_eq!(
        h.name(Request::Readlink { path: v("/link") }),
        v("hello.txt")
    );
    assert!(h.attrs(Request::Lstat { path: v("/link") }).is_symlink());
    assert_eq!(h.attrs(Request::Stat { path: v("/link") }).size, Some(11));
    assert_eq!(
        h.name(Request::Realpath { path: v("/link") }),
        v("/hello.txt")
    );
    assert_eq!(
        h.status(Request::Rename {
            old_path: v("/hello.txt"),
            new_path: v("/dir/h")
        }),
        OK
    );
    h.server.filesystem_mut().put_file(b"/other", b"o").unwrap();
    // SSH_FXP_RENAME does not replace; posix-rename does.
    let rename = Request::Rename {
        old_path: v("/other"),
        new_path: v("/dir/h"),
    };
    assert_eq!(h.status(rename), StatusCode::FAILURE);
    let posix = Request::Extended(E::PosixRename {
        old_path: v("/other"),
        new_path: v("/dir/h"),
    });
    assert_eq!(h.status(posix), OK);
    assert_eq!(h.server.filesystem().contents(b"/dir/h"), Some(&b"o"[..]));
    let hard = Request::Extended(E::Hardlink {
        old_path: v("/dir/h"),
        new_path: v("/hard"),
    });
    assert_eq!(h.status(hard), OK);
    assert_eq!(
        h.status(Request::Remove {
            filename: v("/dir/h")
        }),
        OK
    );
    assert_eq!(h.server.filesystem().contents(b"/hard"), Some(&b"o"[..]));
    assert_eq!(
        h.status(Request::Remove {
            filename: v("/dir/h")
        }),
        StatusCode::NO_SUCH_FILE
    );
    // A directory cannot move under itself.
    let under = Request::Extended(E::PosixRename {
        old_path: v("/dir"),
        new_path: v("/dir/sub/x"),
    });
    assert_eq!(h.status(under), StatusCode::BAD_MESSAGE);
    // A symlink loop ends as "no such file", never a hang.
    let looped = Request::Symlink {
        target: v("/loop"),
        link_path: v("/loop"),
    };
    assert_eq!(h.status(looped), OK);
    assert_eq!(
        h.status(Request::Stat { path: v("/loop") }),
        StatusCode::NO_SUCH_FILE
    );
}

#[test]
fn openssh_extensions() {
    let mut fs = MemFs::new();
    fs.add_user(b"bob", 1001, b"/home/bob");
    fs.create_dir_all(b"/home/bob/docs").unwrap();
    fs.put_file(b"/src", &[7; 100_000]).unwrap();
    let mut h = Harness::new(fs, ServerOptions::default());
    let Response::ExtendedReply(d) = h.call(Request::Extended(E::Limits)) else {
        panic!()
    };
    let l = Limits::decode(&d).unwrap();
    assert_eq!(l.max_packet_len, 256 * 1024);
    assert_eq!(l.max_open_handles, 256);
    let Response::ExtendedReply(d) = h.call(Request::Extended(E::Statvfs { path: v("/") })) else {
        panic!()
    };
    assert_eq!(StatVfs::decode(&d).unwrap().namemax, 255);
    let src = h.open("/src", OpenFlags::READ);
    let dst = h.open("/dst", OpenFlags::WRITE | OpenFlags::CREAT);
    let Response::ExtendedReply(d) = h.call(Request::Extended(E::Fstatvfs {
        handle: src.clone(),
    })) else {
        panic!()
    };
    assert_eq!(StatVfs::decode(&d).unwrap().bsize, 4096);
    assert_eq!(
        h.status(Request::Extended(E::Fsync {
            handle: dst.clone()
        })),
        OK
    );
    let copy = |len| {
        Request::Extended(E::CopyData {
            read_handle: src.clone(),
            read_offset: 10,
            read_length: len,
            write_handle: dst.clone(),
            write_offset: 0,
        })
    };
    assert_eq!(h.status(copy(0)), OK);
    assert_eq!(
        h.server.filesystem().contents(b"/dst").unwrap().len(),
        99_990
    );
    assert_eq!(h.status(copy(200_000)), StatusCode::EOF);
    let same = Request::Extended(E::CopyData {
        read_handle: src.clone(),
        read_offset: 0,
        read_length: 0,
        write_handle: src.clone(),
        write_offset: 0,
    });
    assert_eq!(h.status(same), StatusCode::FAILURE);
    assert_eq!(
        h.name(Request::Extended(E::HomeDirectory { username: v("bob") })),
        v("/home/bob")
    );
    assert_eq!(
        h.name(Request::Extended(E::ExpandPath {
            path: v("~bob/docs")
        })),
        v("/home/bob/docs")
    );
    assert_eq!(
        h.name(Request::Extended(E::ExpandPath { path: v("~") })),
        v("/")
    );
    let r = h.call(Request::Extended(E::UsersGroupsById {
        uids: vec![0, 1001, 4242],
        gids: vec![1000],
    }));
    let Response::ExtendedReply(d) = r else {
        panic!()
    };
    let ug = UsersGroups::decode(&d).unwrap();
    assert_eq!(ug.users, vec![v("root"), v("bob"), v("")]);
    assert_eq!(ug.groups, vec![v("users")]);
    h.server.filesystem_mut().put_file(b"/t", b"").unwrap();
    assert_eq!(
        h.status(Request::Symlink {
            target: v("/t"),
            link_path: v("/l")
        }),
        OK
    );
    let lset = |attrs| {
        Request::Extended(E::Lsetstat {
            path: v("/l"),
            attrs,
        })
    };
    let perms = Attrs {
        permissions: Some(0o700),
        ..Attrs::new()
    };
    assert_eq!(h.status(lset(perms)), OK);
    assert_eq!(
        h.attrs(Request::Lstat { path: v("/l") }).permissions,
        Some(0o120_700)
    );
    assert_eq!(
        h.attrs(Request::Stat { path: v("/l") }).permissions,
        Some(0o100_644)
    );
    let size = Attrs {
        size: Some(1),
        ..Attrs::new()
    };
    assert_eq!(h.status(lset(size)), StatusCode::BAD_MESSAGE);
    let unknown = Request::Extended(E::Unknown {
        name: v("nope@example.com"),
        data: vec![],
    });
    assert_eq!(h.status(unknown), StatusCode::OP_UNSUPPORTED);
}

#[test]
fn read_only_server_refuses_writes() {
    let mut fs = MemFs::new();
    fs.put_file(b"/f", b"data").unwrap();
    let options = ServerOptions {
        read_only: true,
        ..ServerOptions::default()
    };
    let mut h = Harness::new(fs, options);
    let f = h.open("/f", OpenFlags::READ);
    assert_eq!(
        h.call(Request::Read {
            handle: f.clone(),
            offset: 0,
            len: 10
        }),
        Response::Data(v("data"))
    );
    let denied = StatusCode::PERMISSION_DENIED;
    let open_w = Request::Open {
        filename: v("/f"),
        flags: OpenFlags::WRITE,
        attrs: Attrs::new(),
    };
    assert_eq!(h.status(open_w), denied);
    let write = Request::Write {
        handle: f,
        offset: 0,
        data: v("x"),
    };
    assert_eq!(h.status(write), denied);
    assert_eq!(h.status(Request::Remove { filename: v("/f") }), denied);
    let mkdir = Request::Mkdir {
        path: v("/d"),
        attrs: Attrs::new(),
    };
    assert_eq!(h.status(mkdir), denied);
    let posix = Request::Extended(E::PosixRename {
        old_path: v("/f"),
        new_path: v("/g"),
    });
    assert_eq!(h.status(posix), denied);
    assert_eq!(h.server.filesystem().contents(b"/f"), Some(&b"data"[..]));
}

#[test]
fn allow_and_deny_lists() {
    let mut fs = MemFs::new();
    fs.put_file(b"/f", b"data").unwrap();
    let options = ServerOptions {
        denied_requests: ServerOptions::request_list("remove,statvfs"),
        ..ServerOptions::default()
    };
    let mut h = Harness::new(fs.clone(), options);
    let denied = StatusCode::PERMISSION_DENIED;
    assert_eq!(h.status(Request::Remove { filename: v("/f") }), denied);
    assert_eq!(
        h.status(Request::Extended(E::Statvfs { path: v("/") })),
        denied
    );
    assert!(h.attrs(Request::Stat { path: v("/f") }).is_regular());

    let options = ServerOptions {
        allowed_requests: Some(ServerOptions::request_list("open,read,close")),
        ..ServerOptions::default()
    };
    let mut h = Harness::new(fs, options);
    let f = h.open("/f", OpenFlags::READ);
    assert_eq!(h.status(Request::Stat { path: v("/f") }), denied);
    assert_eq!(h.status(Request::Close { handle: f }), OK);
}

#[test]
fn start_directory_and_umask() {
    let mut fs = MemFs::new();
    fs.create_dir_all(b"/home/u").unwrap();
    let options = ServerOptions {
        start_directory: Some(v("/home/u")),
        umask: Some(0o027),
        ..ServerOptions::default()
    };
    let mut h = Harness::new(fs, options);
    assert_eq!(h.name(Request::Realpath { path: v(".") }), v("/home/u"));
    assert_eq!(h.name(Request::Realpath { path: v("") }), v("/home/u"));
    let f = h.open("new", OpenFlags::WRITE | OpenFlags::CREAT);
    h.status(Request::Close { handle: f });
    let mkdir = Request::Mkdir {
        path: v("d"),
        attrs: Attrs {
            permissions: Some(0o777),
            ..Attrs::new()
        },
    };
    assert_eq!(h.status(mkdir), OK);
    let a = h.attrs(Request::Stat {
        path: v("/home/u/new"),
    });
    assert_eq!(a.permissions, Some(0o100_640));
    let a = h.attrs(Request::Stat { path: v("d") });
    assert_eq!(a.permissions, Some(0o040_750));
}

#[test]
fn permission_denied_and_missing_files() {
    let mut fs = MemFs::new();
    fs.put_file(b"/secret", b"s").unwrap();
    let mut h = Harness::new(fs, ServerOptions::default());
    let chmod = Request::Setstat {
        path: v("/secret"),
        attrs: Attrs {
            permissions: Some(0o200),
            ..Attrs::new()
        },
    };
    assert_eq!(h.status(chmod), OK);
    let open = Request::Open {
        filename: v("/secret"),
        flags: OpenFlags::READ,
        attrs: Attrs::new(),
    };
    assert_eq!(h.status(open), StatusCode::PERMISSION_DENIED);
    let open = Request::Open {
        filename: v("/missing"),
        flags: OpenFlags::READ,
        attrs: Attrs::new(),
    };
    assert_eq!(h.status(open), StatusCode::NO_SUCH_FILE);
}

#[test]
fn forged_handles_and_the_handle_limit() {
    let mut fs = MemFs::new();
    fs.put_file(b"/f", b"x").unwrap();
    let options = ServerOptions {
        max_handles: 3,
        ..ServerOptions::default()
    };
    let mut h = Harness::new(fs, options);
    for forged in [vec![], vec![0; 8], vec![0xff; 256], vec![1, 2, 3]] {
        let r = h.status(Request::Read {
            handle: Handle(forged.clone()),
            offset: 0,
            len: 1,
        });
        assert_eq!(r, StatusCode::FAILURE);
        assert_eq!(
            h.status(Request::Fstat {
                handle: Handle(forged)
            }),
            StatusCode::FAILURE
        );
    }
    let handles: Vec<_> = (0..3).map(|_| h.open("/f", OpenFlags::READ)).collect();
    let open = Request::Open {
        filename: v("/f"),
        flags: OpenFlags::READ,
        attrs: Attrs::new(),
    };
    assert_eq!(h.status(open.clone()), StatusCode::FAILURE);
    assert_eq!(
        h.status(Request::Opendir { path: v("/") }),
        StatusCode::FAILURE
    );
    h.status(Request::Close {
        handle: handles[0].clone(),
    });
    assert_eq!(h.server.open_handles(), 2);
    assert!(matches!(h.call(open), Response::Handle(_)));
}

#[test]
fn unknown_packet_types_get_op_unsupported_and_garbage_fails_the_session() {
    let mut h = Harness::default();
    let mut bytes = Vec::new();
    Packet::Unknown {
        packet_type: 60,
        id: Some(9),
    }
    .encode(&mut bytes)
    .unwrap();
    h.server.handle_input(&bytes).unwrap();
    assert_eq!(
        h.next_packet(),
        Packet::Response {
            id: 9,
            response: Response::status(StatusCode::OP_UNSUPPORTED)
        }
    );
    // A truncated OPEN is a protocol error, and the error sticks.
    let err = h
        .server
        .handle_input(&[0, 0, 0, 6, 3, 0, 0, 0, 1, 0])
        .unwrap_err();
    assert!(matches!(err, ServerError::Decode(_)));
    assert_eq!(h.server.handle_input(&[]), Err(err));
}

#[test]
fn requests_before_init_fail() {
    let mut server = Server::new(MemFs::new(), ServerOptions::default());
    let mut bytes = Vec::new();
    Packet::Request {
        id: 1,
        request: Request::Stat { path: v("/") },
    }
    .encode(&mut bytes)
    .unwrap();
    assert!(matches!(
        server.handle_input(&bytes),
        Err(ServerError::NotInitialised { packet_type: 17 })
    ));
}

#[test]
fn hostile_write_offset_does_not_allocate() {
    let mut h = Harness::default();
    let f = h.open("/big", OpenFlags::WRITE | OpenFlags::CREAT);
    let r = h.status(Request::Write {
        handle: f,
        offset: u64::MAX - 1,
        data: v("xy"),
    });
    assert_ne!(r, OK);
}

#[test]
fn pipelined_reads_stop_at_the_output_limit() {
    let mut fs = MemFs::new();
    fs.put_file(b"/big", &vec![1; 4 * 1024 * 1024]).unwrap();
    let mut h = Harness::new(fs, ServerOptions::default());
    let f = h.open("/big", OpenFlags::READ);
    let mut bytes = Vec::new();
    for i in 0..16u32 {
        Packet::Request {
            id: 1000 + i,
            request: Request::Read {
                handle: f.clone(),
                offset: u64::from(i) * 262_144,
                len: 262_144,
            },
        }
        .encode(&mut bytes)
        .unwrap();
    }
    let mut offered = &bytes[..];
    let mut replies = 0;
    while !offered.is_empty() {
        let n = h.server.handle_input(offered).unwrap();
        assert!(n < bytes.len(), "took everything at once");
        offered = &offered[n..];
        assert!(!h.server.wants_input() || offered.is_empty());
        let mut out = Vec::new();
        h.server.poll_transmit(&mut out);
        assert!(out.len() <= ssh_sftp::server::OUTPUT_LIMIT + ssh_sftp::MAX_PACKET_LEN + 4);
        h.replies.handle_input(&out);
        while let Some(body) = h.replies.poll_packet().unwrap() {
            assert!(matches!(
                Packet::decode(body).unwrap(),
                Packet::Response {
                    response: Response::Data(_),
                    ..
                }
            ));
            replies += 1;
        }
    }
    assert_eq!(replies, 16);
}
