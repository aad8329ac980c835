//! The request log (`-l`): what each level records, in OpenSSH's words,
//! with names escaped and the waiting lines bounded.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use ssh_sftp::memfs::MemFs;
use ssh_sftp::{
    Attrs, Handle, LogLevel, MAX_LOG_LINES, OpenFlags, Packet, PacketReader, Request, Response,
    Server, ServerOptions, StatusCode,
};

struct Session {
    server: Server<MemFs>,
    id: u32,
    replies: PacketReader,
}

impl Session {
    fn new(level: LogLevel, denied: &[&str]) -> Self {
        let mut fs = MemFs::new();
        fs.put_file(b"/hello.txt", b"hello world").unwrap();
        fs.create_dir_all(b"/dir").unwrap();
        let options = ServerOptions {
            log_level: level,
            denied_requests: denied.iter().map(|s| (*s).to_owned()).collect(),
            ..ServerOptions::default()
        };
        let mut s = Self {
            server: Server::new(fs, options),
            id: 0,
            replies: PacketReader::default(),
        };
        let mut init = Vec::new();
        Packet::Init {
            version: 3,
            extensions: vec![],
        }
        .encode(&mut init)
        .unwrap();
        s.server.handle_input(&init).unwrap();
        let mut out = Vec::new();
        s.server.poll_transmit(&mut out);
        s
    }

    fn call(&mut self, request: Request) -> Response {
        self.id += 1;
        let mut bytes = Vec::new();
        Packet::Request {
            id: self.id,
            request,
        }
        .encode(&mut bytes)
        .unwrap();
        self.server.handle_input(&bytes).unwrap();
        let mut out = Vec::new();
        self.server.poll_transmit(&mut out);
        self.replies.handle_input(&out);
        match Packet::decode(self.replies.poll_packet().unwrap().unwrap()).unwrap() {
            Packet::Response { response, .. } => response,
            p => panic!("{p:?}"),
        }
    }

    fn open(&mut self, path: &[u8], flags: OpenFlags, mode: u32) -> Handle {
        let mut attrs = Attrs::new();
        attrs.permissions = Some(mode);
        match self.call(Request::Open {
            filename: path.to_vec(),
            flags,
            attrs,
        }) {
            Response::Handle(h) => h,
            r => panic!("{r:?}"),
        }
    }

    fn lines(&mut self) -> Vec<String> {
        std::iter::from_fn(|| self.server.poll_log()).collect()
    }

    /// A session of uploads, reads, a rename, a removal, directories.
    fn work(&mut self) {
        let h = self.open(
            b"/up\nload",
            OpenFlags::WRITE | OpenFlags::CREAT | OpenFlags::TRUNC,
            0o644,
        );
        for offset in [0, 5] {
            let r = self.call(Request::Write {
                handle: h.clone(),
                offset,
                data: b"12345".to_vec(),
            });
            assert!(matches!(
                r,
                Response::Status {
                    code: StatusCode::OK,
                    ..
                }
            ));
        }
        self.call(Request::Close { handle: h });
        let h = self.open(b"/hello.txt", OpenFlags::READ, 0);
        self.call(Request::Read {
            handle: h.clone(),
            offset: 0,
            len: 100,
        });
        self.call(Request::Close { handle: h });
        self.call(Request::Rename {
            old_path: b"/hello.txt".to_vec(),
            new_path: b"/bye.txt".to_vec(),
        });
        self.call(Request::Remove {
            filename: b"/bye.txt".to_vec(),
        });
        let mut attrs = Attrs::new();
        attrs.permissions = Some(0o750);
        self.call(Request::Mkdir {
            path: b"/new".to_vec(),
            attrs,
        });
        let d = match self.call(Request::Opendir {
            path: b"/dir".to_vec(),
        }) {
            Response::Handle(h) => h,
            r => panic!("{r:?}"),
        };
        self.call(Request::Close { handle: d });
    }
}

#[test]
fn info_records_changes_and_closes_in_openssh_words() {
    let mut s = Session::new(LogLevel::Info, &[]);
    s.work();
    assert_eq!(
        s.lines(),
        [
            r#"open "/up\nload" flags WRITE,CREATE,TRUNCATE mode 0644"#,
            r#"close "/up\nload" bytes read 0 written 10"#,
            r#"open "/hello.txt" flags READ mode 00"#,
            r#"close "/hello.txt" bytes read 11 written 0"#,
            r#"rename old "/hello.txt" new "/bye.txt""#,
            r#"remove name "/bye.txt""#,
            r#"mkdir name "/new" mode 0750"#,
        ]
    );
}

#[test]
fn verbose_adds_directories_and_error_records_nothing() {
    let mut s = Session::new(LogLevel::Verbose, &[]);
    s.work();
    let lines = s.lines();
    assert_eq!(lines.len(), 9, "{lines:?}");
    assert_eq!(lines[7], r#"opendir "/dir""#);
    assert_eq!(lines[8], r#"closedir "/dir""#);
    let mut s = Session::new(LogLevel::Error, &[]);
    s.work();
    assert!(s.lines().is_empty());
}

#[test]
fn refused_requests_are_recorded() {
    let mut s = Session::new(LogLevel::Info, &["remove"]);
    let r = s.call(Request::Remove {
        filename: b"/hello.txt".to_vec(),
    });
    assert!(matches!(
        r,
        Response::Status {
            code: StatusCode::PERMISSION_DENIED,
            ..
        }
    ));
    let lines = s.lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[0].starts_with("Refusing denied remove request"),
        "{lines:?}"
    );
    assert_eq!(lines[1], r#"remove name "/hello.txt""#);
}

#[test]
fn lines_nobody_takes_are_bounded() {
    let mut s = Session::new(LogLevel::Info, &[]);
    for i in 0..MAX_LOG_LINES + 10 {
        s.call(Request::Remove {
            filename: format!("/missing-{i}").into_bytes(),
        });
    }
    let lines = s.lines();
    assert_eq!(lines.len(), MAX_LOG_LINES + 1);
    assert_eq!(
        lines[MAX_LOG_LINES],
        format!("10 log lines dropped (more than {MAX_LOG_LINES} waiting)")
    );
    // Taken lines make room again.
    s.call(Request::Remove {
        filename: b"/again".to_vec(),
    });
    assert_eq!(s.lines(), [r#"remove name "/again""#]);
}
