//! Hostile bytes into both state machines: errors, never panics.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use ssh_sftp::memfs::MemFs;
use ssh_sftp::{
    Attrs, Client, ClientConfig, Handle, OpenFlags, Packet, Request, Response, Server,
    ServerOptions, StatusCode,
};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }
}

fn mutate(rng: &mut Rng, bytes: &[u8]) -> Vec<u8> {
    let mut m = bytes.to_vec();
    for _ in 0..1 + rng.below(6) {
        let i = rng.below(m.len());
        m[i] = u8::try_from(rng.next() & 0xff).unwrap();
    }
    if rng.below(4) == 0 {
        m.truncate(rng.below(m.len()));
    }
    m
}

fn requests() -> Vec<u8> {
    let mut out = Vec::new();
    Packet::Init {
        version: 3,
        extensions: vec![],
    }
    .encode(&mut out)
    .unwrap();
    let handle = Handle(1u64.to_be_bytes().to_vec());
    let reqs = [
        Request::Open {
            filename: b"/f".to_vec(),
            flags: OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREAT,
            attrs: Attrs::new(),
        },
        Request::Write {
            handle: handle.clone(),
            offset: 3,
            data: b"data".to_vec(),
        },
        Request::Read {
            handle: handle.clone(),
            offset: 0,
            len: 100,
        },
        Request::Opendir {
            path: b"/".to_vec(),
        },
        Request::Readdir {
            handle: Handle(2u64.to_be_bytes().to_vec()),
        },
        Request::Setstat {
            path: b"/f".to_vec(),
            attrs: Attrs {
                size: Some(10),
                ..Attrs::new()
            },
        },
        Request::Close { handle },
    ];
    for (id, request) in (1..).zip(reqs) {
        Packet::Request { id, request }.encode(&mut out).unwrap();
    }
    out
}

#[test]
fn mutated_request_streams_never_panic_the_server() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let stream = requests();
    for _ in 0..3000 {
        let m = mutate(&mut rng, &stream);
        let mut server = Server::new(MemFs::new(), ServerOptions::default());
        let mut rest = &m[..];
        while let Ok(n) = server.handle_input(rest) {
            rest = &rest[n..];
            let mut out = Vec::new();
            if !server.poll_transmit(&mut out) && n == 0 {
                break;
            }
            if rest.is_empty() {
                break;
            }
        }
    }
}

#[test]
fn mutated_reply_streams_never_panic_the_client() {
    let mut rng = Rng(0x0fed_cba9_8765_4321);
    let mut stream = Vec::new();
    Packet::Version {
        version: 3,
        extensions: vec![],
    }
    .encode(&mut stream)
    .unwrap();
    let replies = [
        Response::Handle(Handle(b"h".to_vec())),
        Response::Data(vec![1; 50]),
        Response::status(StatusCode::EOF),
        Response::Attrs(Attrs::new()),
    ];
    for (id, response) in (0..).zip(replies) {
        Packet::Response { id, response }
            .encode(&mut stream)
            .unwrap();
    }
    for _ in 0..3000 {
        let m = mutate(&mut rng, &stream);
        let mut client = Client::new(ClientConfig::default());
        let split = rng.below(m.len() + 1);
        if client.handle_input(&m[..split]).is_err() {
            continue;
        }
        // Requests in flight for the replies to match, when ready.
        if client.is_ready() {
            let _ = client.open(b"/f", OpenFlags::READ, Attrs::new());
            let _ = client.download(&Handle(b"h".to_vec()), 0, Some(100));
            let _ = client.stat(b"/");
        }
        let _ = client.handle_input(&m[split..]);
        while client.poll_event().is_some() {}
    }
}
