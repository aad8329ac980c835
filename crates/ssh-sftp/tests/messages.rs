//! Round trips of every packet, and hostile bytes that must give errors,
//! never panics.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use ssh_sftp::attrs::ExtendedAttr;
use ssh_sftp::extensions::ExtendedRequest as E;
use ssh_sftp::{
    Attrs, ExtensionPair, Handle, Limits, NameEntry, OpenFlags, Packet, PacketReader, Request,
    Response, StatVfs, StatusCode, UsersGroups,
};

fn full_attrs() -> Attrs {
    Attrs {
        size: Some(1 << 40),
        uid_gid: Some((1000, 1001)),
        permissions: Some(0o100_640),
        atime_mtime: Some((1_700_000_000, 1_700_000_001)),
        extended: vec![ExtendedAttr {
            name: b"x@example.com".to_vec(),
            data: vec![0, 1, 2],
        }],
    }
}

fn h(s: &str) -> Handle {
    Handle(s.as_bytes().to_vec())
}

fn p(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn every_request() -> Vec<Request> {
    vec![
        Request::Open {
            filename: p("/a"),
            flags: OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREAT | OpenFlags::TRUNC,
            attrs: full_attrs(),
        },
        Request::Close { handle: h("h1") },
        Request::Read {
            handle: h("h1"),
            offset: u64::MAX,
            len: 32768,
        },
        Request::Write {
            handle: h("h1"),
            offset: 7,
            data: vec![9; 1000],
        },
        Request::Lstat { path: p("l") },
        Request::Fstat { handle: h("h") },
        Request::Setstat {
            path: p("s"),
            attrs: full_attrs(),
        },
        Request::Fsetstat {
            handle: h("h"),
            attrs: Attrs::new(),
        },
        Request::Opendir { path: p("/") },
        Request::Readdir { handle: h("d") },
        Request::Remove { filename: p("f") },
        Request::Mkdir {
            path: p("d"),
            attrs: Attrs {
                permissions: Some(0o755),
                ..Attrs::new()
            },
        },
        Request::Rmdir { path: p("d") },
        Request::Realpath { path: p(".") },
        Request::Stat { path: p("s") },
        Request::Rename {
            old_path: p("a"),
            new_path: p("b"),
        },
        Request::Readlink { path: p("l") },
        Request::Symlink {
            target: p("t"),
            link_path: p("l"),
        },
        Request::Extended(E::PosixRename {
            old_path: p("a"),
            new_path: p("b"),
        }),
        Request::Extended(E::Statvfs { path: p("/") }),
        Request::Extended(E::Fstatvfs { handle: h("h") }),
        Request::Extended(E::Hardlink {
            old_path: p("a"),
            new_path: p("b"),
        }),
        Request::Extended(E::Fsync { handle: h("h") }),
        Request::Extended(E::Lsetstat {
            path: p("l"),
            attrs: full_attrs(),
        }),
        Request::Extended(E::Limits),
        Request::Extended(E::ExpandPath { path: p("~/x") }),
        Request::Extended(E::CopyData {
            read_handle: h("r"),
            read_offset: 1,
            read_length: 0,
            write_handle: h("w"),
            write_offset: 2,
        }),
        Request::Extended(E::HomeDirectory { username: p("bob") }),
        Request::Extended(E::UsersGroupsById {
            uids: vec![0, 1000],
            gids: vec![],
        }),
        Request::Extended(E::Unknown {
            name: p("vendor@example.com"),
            data: vec![1, 2, 3],
        }),
    ]
}

fn every_response() -> Vec<Response> {
    let mut statvfs = Vec::new();
    StatVfs {
        bsize: 4096,
        frsize: 4096,
        blocks: 10,
        bfree: 5,
        bavail: 4,
        files: 100,
        ffree: 50,
        favail: 40,
        fsid: 7,
        flag: StatVfs::RDONLY,
        namemax: 255,
    }
    .encode(&mut statvfs);
    vec![
        Response::status(StatusCode::OK),
        Response::Status {
            code: StatusCode(99),
            message: "odd".into(),
            language: "en".into(),
        },
        Response::Handle(h("handle")),
        Response::Data(vec![1; 5000]),
        Response::Data(Vec::new()),
        Response::Name(vec![]),
        Response::Name(vec![
            NameEntry {
                filename: p("a"),
                longname: p("-rw-r--r-- a"),
                attrs: full_attrs(),
            },
            NameEntry::default(),
        ]),
        Response::Attrs(full_attrs()),
        Response::ExtendedReply(statvfs),
    ]
}

fn every_packet() -> Vec<Packet> {
    let mut v = vec![
        Packet::Init {
            version: 3,
            extensions: vec![],
        },
        Packet::Version {
            version: 3,
            extensions: vec![ExtensionPair {
                name: p("limits@openssh.com"),
                data: p("1"),
            }],
        },
        Packet::Unknown {
            packet_type: 77,
            id: Some(5),
        },
    ];
    for (i, request) in every_request().into_iter().enumerate() {
        v.push(Packet::Request {
            id: u32::try_from(i).unwrap(),
            request,
        });
    }
    for (i, response) in every_response().into_iter().enumerate() {
        v.push(Packet::Response {
            id: u32::MAX - u32::try_from(i).unwrap(),
            response,
        });
    }
    v
}

#[test]
fn every_packet_round_trips_through_the_framer() {
    let mut stream = Vec::new();
    let packets = every_packet();
    for packet in &packets {
        packet.encode(&mut stream).unwrap();
    }
    let mut reader = PacketReader::default();
    let mut got = Vec::new();
    for chunk in stream.chunks(7) {
        reader.handle_input(chunk);
        while let Some(body) = reader.poll_packet().unwrap() {
            got.push(Packet::decode(body).unwrap());
        }
    }
    assert_eq!(got, packets);
}

#[test]
fn every_request_has_its_openssh_name() {
    let names: Vec<_> = every_request().iter().map(Request::name).collect();
    assert!(names.contains(&Some("users-groups-by-id")));
    assert_eq!(names.last(), Some(&None));
    assert!(names[..names.len() - 1].iter().all(Option::is_some));
}

#[test]
fn extended_reply_payloads_round_trip() {
    let l = Limits {
        max_packet_len: 262_144,
        max_read_len: 261_120,
        max_write_len: 261_120,
        max_open_handles: 256,
    };
    let mut out = Vec::new();
    l.encode(&mut out);
    assert_eq!(Limits::decode(&out).unwrap(), l);
    let ug = UsersGroups {
        users: vec![p("root"), p("")],
        groups: vec![p("wheel")],
    };
    let mut out = Vec::new();
    ug.encode(&mut out);
    assert_eq!(UsersGroups::decode(&out).unwrap(), ug);
    let s = StatVfs {
        namemax: 255,
        ..StatVfs::default()
    };
    let mut out = Vec::new();
    s.encode(&mut out);
    assert_eq!(StatVfs::decode(&out).unwrap(), s);
    assert!(StatVfs::decode(&out[1..]).is_err());
    assert!(Limits::decode(&[0; 33]).is_err());
}

#[test]
fn symlink_uses_openssh_argument_order() {
    let mut out = Vec::new();
    Packet::Request {
        id: 1,
        request: Request::Symlink {
            target: p("T"),
            link_path: p("L"),
        },
    }
    .encode(&mut out)
    .unwrap();
    assert_eq!(
        &out[4..],
        b"\x14\x00\x00\x00\x01\x00\x00\x00\x01T\x00\x00\x00\x01L"
    );
}

#[test]
fn oversized_packets_are_refused_both_ways() {
    let big = Packet::Request {
        id: 1,
        request: Request::Write {
            handle: h("h"),
            offset: 0,
            data: vec![0; ssh_sftp::MAX_PACKET_LEN],
        },
    };
    let mut out = vec![1, 2];
    assert!(big.encode(&mut out).is_err());
    assert_eq!(out, [1, 2]);
    assert!(Packet::decode(&vec![3; ssh_sftp::MAX_PACKET_LEN + 1]).is_err());
}

#[test]
fn long_handles_and_hostile_counts_are_refused() {
    let mut body = vec![102, 0, 0, 0, 1];
    body.extend_from_slice(&257u32.to_be_bytes());
    body.extend_from_slice(&[0; 257]);
    assert!(Packet::decode(&body).is_err());
    // NAME claiming four billion entries in a few bytes.
    assert!(Packet::decode(&[104, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0, 0]).is_err());
    // uids string not a multiple of four.
    let mut body = vec![200, 0, 0, 0, 1];
    let name = b"users-groups-by-id@openssh.com";
    body.extend_from_slice(&u32::try_from(name.len()).unwrap().to_be_bytes());
    body.extend_from_slice(name);
    body.extend_from_slice(&[0, 0, 0, 3, 1, 2, 3, 0, 0, 0, 0]);
    assert!(Packet::decode(&body).is_err());
}

#[test]
fn trailing_bytes_are_refused() {
    let mut out = Vec::new();
    Packet::Request {
        id: 1,
        request: Request::Close { handle: h("h") },
    }
    .encode(&mut out)
    .unwrap();
    out.push(0);
    assert!(Packet::decode(&out[4..]).is_err());
}

/// A small deterministic generator (xorshift) for mutation tests, so no
/// property-testing dependency is needed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn truncated_and_mutated_packets_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for packet in every_packet() {
        let mut out = Vec::new();
        packet.encode(&mut out).unwrap();
        let body = &out[4..];
        for cut in 0..body.len() {
            let _ = Packet::decode(&body[..cut]);
        }
        for _ in 0..200 {
            let mut m = body.to_vec();
            let n = 1 + rng.next() % 4;
            for _ in 0..n {
                let i = usize::try_from(rng.next() % m.len() as u64).unwrap();
                m[i] = u8::try_from(rng.next() & 0xff).unwrap();
            }
            if let Ok(decoded) = Packet::decode(&m) {
                // Whatever decodes encodes again to something that decodes
                // to the same value.
                let mut again = Vec::new();
                if decoded.encode(&mut again).is_ok() {
                    assert_eq!(Packet::decode(&again[4..]).unwrap(), decoded);
                }
            }
        }
    }
}

/// `Packet::encode_write` (borrowed data, the upload path) gives the bytes
/// `Packet::encode` gives for the same WRITE, at the packet bound and one
/// over it, where both refuse and leave `out` as it was.
#[test]
fn borrowed_write_encodes_as_the_owned_request() {
    let handle = h("handle-7");
    // Body without data: type, id, handle string, offset, data length.
    let overhead = 1 + 4 + 4 + handle.0.len() + 8 + 4;
    let at_bound = ssh_sftp::MAX_PACKET_LEN - overhead;
    for len in [0, 1, 32 * 1024, 255 * 1024, at_bound, at_bound + 1] {
        let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let mut owned = b"queued".to_vec();
        let owned_result = Packet::Request {
            id: 0x0102_0304,
            request: Request::Write {
                handle: handle.clone(),
                offset: 1 << 33,
                data: data.clone(),
            },
        }
        .encode(&mut owned);
        let mut borrowed = b"queued".to_vec();
        let borrowed_result =
            Packet::encode_write(&mut borrowed, 0x0102_0304, &handle, 1 << 33, &data);
        assert_eq!(owned_result.is_ok(), borrowed_result.is_ok(), "{len}");
        assert_eq!(owned_result.is_ok(), len <= at_bound, "{len}");
        assert!(owned == borrowed, "{len}: the encodings differ");
    }
}
