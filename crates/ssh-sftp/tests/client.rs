//! The client against the in-memory server, in process: requests, replies
//! out of order, pipelined transfers, short reads, errors.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use ssh_sftp::Filesystem;
use ssh_sftp::client::{ApiError, ExtendedReply, ProtocolError, Status};
use ssh_sftp::extensions::ExtendedRequest as E;
use ssh_sftp::memfs::MemFs;
use ssh_sftp::{
    Attrs, Client, ClientConfig, Event, ExtensionPair, Handle, Limits, OpenFlags, Packet,
    PacketReader, Reply, Request, RequestId, Response, Server, ServerOptions, StatusCode,
    TransferId,
};

/// Client and server joined by two byte pipes; `reverse` hands the
/// server's replies of each round to the client in reverse order.
struct Pair {
    client: Client,
    server: Server<MemFs>,
    reverse: bool,
    events: Vec<Event>,
    max_in_flight_seen: usize,
    /// Client bytes the server has not taken yet.
    to_server: Vec<u8>,
}

impl Pair {
    fn new(fs: MemFs, options: ServerOptions, config: ClientConfig) -> Self {
        let mut p = Self {
            client: Client::new(config),
            server: Server::new(fs, options),
            reverse: false,
            events: Vec::new(),
            max_in_flight_seen: 0,
            to_server: Vec::new(),
        };
        p.run();
        assert!(matches!(
            p.events.remove(0),
            Event::Ready {
                limits: Some(_),
                ..
            }
        ));
        p
    }

    fn with_fs(fs: MemFs) -> Self {
        Self::new(fs, ServerOptions::default(), ClientConfig::default())
    }

    /// Moves bytes both ways until neither side has any.
    fn run(&mut self) {
        loop {
            self.max_in_flight_seen = self.max_in_flight_seen.max(self.client.in_flight());
            let mut c2s = Vec::new();
            self.client.poll_transmit(&mut c2s);
            self.to_server.extend_from_slice(&c2s);
            let n = self.server.handle_input(&self.to_server).unwrap();
            self.to_server.drain(..n);
            let mut s2c = Vec::new();
            self.server.poll_transmit(&mut s2c);
            if c2s.is_empty() && s2c.is_empty() {
                break;
            }
            if self.reverse {
                let mut reader = PacketReader::default();
                reader.handle_input(&s2c);
                let mut packets = Vec::new();
                while let Some(body) = reader.poll_packet().unwrap() {
                    packets.push(Packet::decode(body).unwrap());
                }
                s2c.clear();
                for p in packets.iter().rev() {
                    p.encode(&mut s2c).unwrap();
                }
            }
            // In odd-sized pieces, as a channel might deliver them.
            for piece in s2c.chunks(1000) {
                self.client.handle_input(piece).unwrap();
            }
            while let Some(e) = self.client.poll_event() {
                self.events.push(e);
            }
        }
        while let Some(e) = self.client.poll_event() {
            self.events.push(e);
        }
    }

    fn call(&mut self, request: &Request) -> Reply {
        let id = self.client.request(request.clone()).unwrap();
        self.run();
        let i = self
            .events
            .iter()
            .position(|e| matches!(e, Event::Reply { id: got, .. } if *got == id))
            .unwrap();
        match self.events.remove(i) {
            Event::Reply { reply, .. } => reply,
            _ => unreachable!(),
        }
    }

    fn open(&mut self, path: &[u8], flags: OpenFlags) -> Result<Handle, Status> {
        let req = Request::Open {
            filename: path.to_vec(),
            flags,
            attrs: Attrs::new(),
        };
        match self.call(&req) {
            Reply::Handle(h) => Ok(h),
            Reply::Status(s) => Err(s),
            r => panic!("{r:?}"),
        }
    }

    /// Downloads a whole file; the data and the result.
    fn download(&mut self, path: &[u8]) -> (Vec<u8>, Result<u64, Status>) {
        let h = self.open(path, OpenFlags::READ).unwrap();
        let t = self.client.download(&h, 0, None).unwrap();
        self.run();
        let mut data = Vec::new();
        let mut result = None;
        for e in self.events.drain(..) {
            match e {
                Event::Data {
                    transfer,
                    offset,
                    data: d,
                } if transfer == t => {
                    assert_eq!(offset, data.len() as u64, "data in file order");
                    data.extend_from_slice(&d);
                }
                Event::TransferDone {
                    transfer,
                    result: r,
                } if transfer == t => result = Some(r),
                e => panic!("{e:?}"),
            }
        }
        (data, result.unwrap())
    }

    /// Uploads `data` through the window, as an async writer would.
    fn upload(&mut self, h: &Handle, data: &[u8]) -> Result<u64, Status> {
        let t = self.client.upload(h, 0).unwrap();
        let mut sent = 0;
        let mut done = None;
        while done.is_none() {
            if sent < data.len() {
                sent += self.client.upload_write(t, &data[sent..]).unwrap();
                if sent == data.len() {
                    self.client.upload_finish(t).unwrap();
                }
            }
            self.run();
            for e in self.events.drain(..) {
                match e {
                    Event::Writable { transfer } => assert_eq!(transfer, t),
                    Event::TransferDone { transfer, result } if transfer == t => {
                        done = Some(result)
                    }
                    e => panic!("{e:?}"),
                }
            }
        }
        done.unwrap()
    }

    /// Uploads `data` in pieces: `piece(capacity, left, i)` says how many
    /// bytes the `i`th write offers (none this round when 0).
    fn upload_pieces(
        &mut self,
        h: &Handle,
        data: &[u8],
        mut piece: impl FnMut(usize, usize, usize) -> usize,
    ) -> Result<u64, Status> {
        let t = self.client.upload(h, 0).unwrap();
        let (mut sent, mut i, mut done) = (0usize, 0usize, None);
        while done.is_none() {
            let room = self.client.upload_capacity(t).unwrap();
            let n = piece(room, data.len() - sent, i).min(data.len() - sent);
            if n > 0 {
                let took = self.client.upload_write(t, &data[sent..sent + n]).unwrap();
                sent += took;
                if took == n {
                    i += 1;
                }
                if sent == data.len() {
                    self.client.upload_finish(t).unwrap();
                }
            }
            self.run();
            for e in self.events.drain(..) {
                if let Event::TransferDone { transfer, result } = e {
                    assert_eq!(transfer, t);
                    done = Some(result);
                }
            }
        }
        done.unwrap()
    }
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn ten_mib_download_with_many_reads_in_flight() {
    let mut fs = MemFs::new();
    let file = pattern(10 * 1024 * 1024 + 123);
    fs.put_file(b"/big", &file).unwrap();
    let mut p = Pair::with_fs(fs);
    let (data, result) = p.download(b"/big");
    assert_eq!(result, Ok(file.len() as u64));
    assert!(data == file);
    assert!(p.max_in_flight_seen >= 64, "{}", p.max_in_flight_seen);
}

#[test]
fn a_pipeline_that_is_the_limit_grows_to_its_bound() {
    let mut fs = MemFs::new();
    let file = pattern(24 * 1024 * 1024);
    fs.put_file(b"/big", &file).unwrap();
    // Grows from 64 requests while every one is in flight at each reply,
    // up to 8 MiB worth of 32 KiB requests.
    let config = ClientConfig {
        max_bytes_in_flight: 8 * 1024 * 1024,
        ..ClientConfig::default()
    };
    let mut p = Pair::new(fs.clone(), ServerOptions::default(), config);
    let (data, result) = p.download(b"/big");
    assert_eq!(result, Ok(file.len() as u64));
    assert!(data == file);
    assert_eq!(p.max_in_flight_seen, 256, "8 MiB / 32 KiB");
    // A bound of 64 requests: the pipeline stays as sftp -R 64 has it.
    let config = ClientConfig {
        max_bytes_in_flight: 64 * 32 * 1024,
        ..ClientConfig::default()
    };
    let mut p = Pair::new(fs, ServerOptions::default(), config);
    let (data, _) = p.download(b"/big");
    assert!(data == file);
    assert_eq!(p.max_in_flight_seen, 64);
}

#[test]
fn an_upload_pipeline_that_is_the_limit_grows_to_its_bound() {
    // As downloads: from 64 WRITEs while every one is in flight at each
    // reply, up to 8 MiB worth of 32 KiB requests.
    let config = ClientConfig {
        max_bytes_in_flight: 8 * 1024 * 1024,
        ..ClientConfig::default()
    };
    let mut p = Pair::new(MemFs::new(), ServerOptions::default(), config);
    let file = pattern(24 * 1024 * 1024);
    let h = p.open(b"/up", OpenFlags::WRITE | OpenFlags::CREAT).unwrap();
    assert_eq!(p.upload(&h, &file), Ok(file.len() as u64));
    assert!(p.server.filesystem().contents(b"/up").unwrap() == file);
    assert_eq!(p.max_in_flight_seen, 256, "8 MiB / 32 KiB");
}

/// An application that writes exactly what the pipeline has room for
/// (as rsftp's 256 KiB reads do when 64 x 32 KiB is free) is the pipeline
/// being the limit too: it grows. It stayed at 64 requests, 2 MiB per
/// round trip, through a 100 ms path.
#[test]
fn an_upload_that_fills_the_pipeline_exactly_grows_it() {
    let config = ClientConfig {
        max_bytes_in_flight: 8 * 1024 * 1024,
        ..ClientConfig::default()
    };
    let mut p = Pair::new(MemFs::new(), ServerOptions::default(), config);
    let file = pattern(24 * 1024 * 1024);
    let h = p.open(b"/up", OpenFlags::WRITE | OpenFlags::CREAT).unwrap();
    // Exactly what there is room for, as rsftp's reads happen to be.
    let result = p.upload_pieces(&h, &file, |room, _, _| room);
    assert_eq!(result, Ok(file.len() as u64));
    assert!(p.server.filesystem().contents(b"/up").unwrap() == file);
    assert_eq!(p.max_in_flight_seen, 256, "8 MiB / 32 KiB");
}

#[test]
fn ten_mib_download_with_replies_out_of_order() {
    let mut fs = MemFs::new();
    let file = pattern(10 * 1024 * 1024);
    fs.put_file(b"/big", &file).unwrap();
    let mut p = Pair::with_fs(fs);
    p.reverse = true;
    let (data, result) = p.download(b"/big");
    assert_eq!(result, Ok(file.len() as u64));
    assert!(data == file);
}

#[test]
fn ten_mib_upload_with_many_writes_in_flight() {
    let mut p = Pair::with_fs(MemFs::new());
    p.reverse = true;
    let file = pattern(10 * 1024 * 1024 + 5);
    let h = p.open(b"/up", OpenFlags::WRITE | OpenFlags::CREAT).unwrap();
    assert_eq!(p.upload(&h, &file), Ok(file.len() as u64));
    assert!(p.max_in_flight_seen >= 64);
    assert!(p.server.filesystem().contents(b"/up").unwrap() == file);
    assert!(matches!(
        p.call(&Request::Close { handle: h }),
        Reply::Status(Status {
            code: StatusCode::OK,
            ..
        })
    ));
}

/// Writes of sizes that straddle the chunk (a byte, a chunk and one, a
/// tail): partial chunks are topped up and whole ones go out as they are,
/// and the file comes out whole and in order.
#[test]
fn an_upload_in_uneven_pieces_arrives_in_order() {
    let mut p = Pair::with_fs(MemFs::new());
    let file = pattern(3 * 1024 * 1024 + 11);
    let h = p.open(b"/up", OpenFlags::WRITE | OpenFlags::CREAT).unwrap();
    let sizes = [
        1usize,
        7,
        32 * 1024 - 8,
        32 * 1024 + 1,
        100_000,
        3,
        65_536,
        250_001,
    ];
    let result = p.upload_pieces(&h, &file, |room, _, i| {
        if room == 0 { 0 } else { sizes[i % sizes.len()] }
    });
    assert_eq!(result, Ok(file.len() as u64));
    assert!(p.server.filesystem().contents(b"/up").unwrap() == file);
}

#[test]
fn short_reads_are_completed() {
    let mut fs = MemFs::new();
    let file = pattern(1024 * 1024 + 17);
    fs.put_file(b"/f", &file).unwrap();
    fs.set_max_read(Some(1000));
    let mut p = Pair::with_fs(fs);
    let (data, result) = p.download(b"/f");
    assert_eq!(result, Ok(file.len() as u64));
    assert!(data == file);
    // And out of order.
    p.reverse = true;
    let (data, _) = p.download(b"/f");
    assert!(data == file);
}

#[test]
fn empty_file_and_ranged_download() {
    let mut fs = MemFs::new();
    fs.put_file(b"/empty", b"").unwrap();
    fs.put_file(b"/f", &pattern(100_000)).unwrap();
    let mut p = Pair::with_fs(fs);
    assert_eq!(p.download(b"/empty"), (Vec::new(), Ok(0)));
    let h = p.open(b"/f", OpenFlags::READ).unwrap();
    let t = p.client.download(&h, 50_000, Some(40_000)).unwrap();
    p.run();
    let mut got = Vec::new();
    for e in p.events.drain(..) {
        match e {
            Event::Data { transfer, data, .. } if transfer == t => got.extend(data),
            Event::TransferDone { result, .. } => assert_eq!(result, Ok(40_000)),
            e => panic!("{e:?}"),
        }
    }
    assert_eq!(got, pattern(100_000)[50_000..90_000]);
}

#[test]
fn typed_replies() {
    let mut fs = MemFs::new();
    fs.put_file(b"/f", b"abc").unwrap();
    let mut p = Pair::with_fs(fs);
    assert!(p.client.has_extension("posix-rename@openssh.com"));
    assert_eq!(p.client.limits().unwrap().max_open_handles, 256);
    let Reply::Attrs(a) = p.call(&Request::Stat {
        path: b"/f".to_vec(),
    }) else {
        panic!()
    };
    assert_eq!(a.size, Some(3));
    let Reply::Name(n) = p.call(&Request::Realpath {
        path: b"/./f".to_vec(),
    }) else {
        panic!()
    };
    assert_eq!(n[0].filename, b"/f");
    let Reply::Extended(ExtendedReply::StatVfs(s)) = p.call(&Request::Extended(E::Statvfs {
        path: b"/".to_vec(),
    })) else {
        panic!()
    };
    assert_eq!(s.namemax, 255);
    let r = p.call(&Request::Extended(E::UsersGroupsById {
        uids: vec![0],
        gids: vec![0],
    }));
    let Reply::Extended(ExtendedReply::UsersGroups(ug)) = r else {
        panic!()
    };
    assert_eq!(ug.users, vec![b"root".to_vec()]);
    // Many requests at once, answered out of order, each matched by id.
    p.reverse = true;
    let ids: Vec<RequestId> = (0..20).map(|_| p.client.stat(b"/f").unwrap()).collect();
    let missing = p.client.stat(b"/nope").unwrap();
    p.run();
    assert_eq!(p.events.len(), 21);
    assert!(
        matches!(&p.events[0], Event::Reply { id, reply: Reply::Status(s) } if *id == missing && s.code == StatusCode::NO_SUCH_FILE)
    );
    for id in ids {
        assert!(
            p.events.iter().any(
                |e| matches!(e, Event::Reply { id: got, reply: Reply::Attrs(_) } if *got == id)
            )
        );
    }
}

#[test]
fn errors_reach_the_application() {
    let mut fs = MemFs::new();
    fs.put_file(b"/f", b"abc").unwrap();
    fs.put_file(b"/locked", b"abc").unwrap();
    fs.setstat(
        b"/locked",
        &Attrs {
            permissions: Some(0o200),
            ..Attrs::new()
        },
    )
    .unwrap();
    let options = ServerOptions {
        denied_requests: vec!["write".into()],
        ..ServerOptions::default()
    };
    let mut p = Pair::new(fs, options, ClientConfig::default());
    assert_eq!(
        p.open(b"/missing", OpenFlags::READ).unwrap_err().code,
        StatusCode::NO_SUCH_FILE
    );
    assert_eq!(
        p.open(b"/locked", OpenFlags::READ).unwrap_err().code,
        StatusCode::PERMISSION_DENIED
    );
    // The deny list refuses every WRITE of an upload.
    let h = p.open(b"/f", OpenFlags::WRITE).unwrap();
    let err = p.upload(&h, &pattern(200_000)).unwrap_err();
    assert_eq!(err.code, StatusCode::PERMISSION_DENIED);
    assert_eq!(p.server.filesystem().contents(b"/f"), Some(&b"abc"[..]));
}

#[test]
fn read_only_server_refuses_the_upload() {
    let mut fs = MemFs::new();
    fs.put_file(b"/f", b"abc").unwrap();
    let options = ServerOptions {
        read_only: true,
        ..ServerOptions::default()
    };
    let mut p = Pair::new(fs, options, ClientConfig::default());
    let err = p
        .open(b"/f", OpenFlags::WRITE | OpenFlags::TRUNC)
        .unwrap_err();
    assert_eq!(err.code, StatusCode::PERMISSION_DENIED);
    assert_eq!(p.download(b"/f").0, b"abc");
}

#[test]
fn requests_wait_for_ready() {
    let mut c = Client::new(ClientConfig::default());
    assert_eq!(c.stat(b"/"), Err(ApiError::NotReady));
}

/// A scripted server: what the client sends is decoded and checked by hand.
fn client_after_version(extensions: Vec<ExtensionPair>) -> Client {
    let mut c = Client::new(ClientConfig {
        chunk_size: 1 << 20,
        max_in_flight: 4,
        max_bytes_in_flight: 0,
    });
    let mut out = Vec::new();
    assert!(c.poll_transmit(&mut out));
    assert_eq!(
        Packet::decode(&out[4..]).unwrap(),
        Packet::Init {
            version: 3,
            extensions: vec![]
        }
    );
    let mut v = Vec::new();
    Packet::Version {
        version: 3,
        extensions,
    }
    .encode(&mut v)
    .unwrap();
    c.handle_input(&v).unwrap();
    c
}

fn sent(c: &mut Client) -> Vec<(u32, Request)> {
    let mut out = Vec::new();
    c.poll_transmit(&mut out);
    let mut r = PacketReader::default();
    r.handle_input(&out);
    let mut v = Vec::new();
    while let Some(body) = r.poll_packet().unwrap() {
        match Packet::decode(body).unwrap() {
            Packet::Request { id, request } => v.push((id, request)),
            p => panic!("{p:?}"),
        }
    }
    v
}

fn reply(c: &mut Client, id: u32, response: Response) -> Result<(), ProtocolError> {
    let mut v = Vec::new();
    Packet::Response { id, response }.encode(&mut v).unwrap();
    c.handle_input(&v)
}

#[test]
fn chunks_follow_the_servers_limits() {
    let ext = vec![ExtensionPair {
        name: b"limits@openssh.com".to_vec(),
        data: b"1".to_vec(),
    }];
    let mut c = client_after_version(ext);
    let reqs = sent(&mut c);
    assert_eq!(reqs[0].1, Request::Extended(E::Limits));
    assert!(!c.is_ready());
    let mut data = Vec::new();
    Limits {
        max_packet_len: 34_000,
        max_read_len: 1000,
        max_write_len: 2000,
        max_open_handles: 10,
    }
    .encode(&mut data);
    reply(&mut c, reqs[0].0, Response::ExtendedReply(data)).unwrap();
    assert!(
        matches!(c.poll_event(), Some(Event::Ready { limits: Some(l), .. }) if l.max_read_len == 1000)
    );
    let h = Handle(b"h".to_vec());
    c.download(&h, 0, None).unwrap();
    let reads = sent(&mut c);
    assert_eq!(reads.len(), 4);
    for (i, (_, r)) in reads.iter().enumerate() {
        assert_eq!(
            r,
            &Request::Read {
                handle: h.clone(),
                offset: i as u64 * 1000,
                len: 1000
            }
        );
    }
    let t = c.upload(&h, 0).unwrap();
    assert_eq!(c.upload_capacity(t), Ok(8000));
    assert_eq!(c.upload_write(t, &[0; 9000]), Ok(8000));
    let writes = sent(&mut c);
    assert_eq!(writes.len(), 4);
    assert!(
        writes
            .iter()
            .all(|(_, r)| matches!(r, Request::Write { data, .. } if data.len() == 2000))
    );
}

#[test]
fn without_limits_chunks_fit_a_packet() {
    let mut c = client_after_version(vec![]);
    assert!(matches!(
        c.poll_event(),
        Some(Event::Ready { limits: None, .. })
    ));
    c.download(&Handle(b"h".to_vec()), 0, None).unwrap();
    let reads = sent(&mut c);
    assert!(reads.iter().all(|(_, r)| matches!(r, Request::Read { len, .. } if *len as usize == ssh_sftp::numbers::MAX_DATA_LEN)));
}

#[test]
fn unknown_ids_and_wrong_reply_types_are_protocol_errors() {
    let mut c = client_after_version(vec![]);
    c.poll_event();
    let err = reply(&mut c, 77, Response::status(StatusCode::OK)).unwrap_err();
    assert_eq!(err, ProtocolError::UnknownRequestId { id: 77 });
    // Sticky.
    assert_eq!(c.handle_input(&[]), Err(err.clone()));
    assert_eq!(c.stat(b"/"), Err(ApiError::Failed(err)));

    let mut c = client_after_version(vec![]);
    c.poll_event();
    let id = c.stat(b"/").unwrap();
    let err = reply(&mut c, id.0, Response::Data(vec![1])).unwrap_err();
    assert!(matches!(
        err,
        ProtocolError::UnexpectedReply {
            expected: "ATTRS",
            got: 103,
            ..
        }
    ));

    let mut c = client_after_version(vec![]);
    c.poll_event();
    let t = c.download(&Handle(b"h".to_vec()), 0, None).unwrap();
    let reads = sent(&mut c);
    let err = reply(
        &mut c,
        reads[0].0,
        Response::Data(vec![0; 300_000].into_iter().take(261_121).collect()),
    )
    .unwrap_err();
    assert!(matches!(err, ProtocolError::TooMuchData { .. }));
    let _ = t;
}

#[test]
fn version_must_be_three() {
    let mut c = Client::new(ClientConfig::default());
    let mut v = Vec::new();
    Packet::Version {
        version: 6,
        extensions: vec![],
    }
    .encode(&mut v)
    .unwrap();
    assert_eq!(
        c.handle_input(&v),
        Err(ProtocolError::Version { version: 6 })
    );
}

#[test]
fn a_failed_read_ends_the_download_with_the_status() {
    let mut c = client_after_version(vec![]);
    c.poll_event();
    let t: TransferId = c.download(&Handle(b"h".to_vec()), 0, None).unwrap();
    let reads = sent(&mut c);
    for (id, _) in &reads {
        reply(&mut c, *id, Response::status(StatusCode::FAILURE)).unwrap();
    }
    let events: Vec<_> = std::iter::from_fn(|| c.poll_event()).collect();
    assert_eq!(events.len(), 1);
    assert!(
        matches!(&events[0], Event::TransferDone { transfer, result: Err(s) } if *transfer == t && s.code == StatusCode::FAILURE)
    );
    assert!(sent(&mut c).is_empty());
}

#[test]
fn a_late_first_read_holds_the_window() {
    let mut c = client_after_version(vec![]);
    c.poll_event();
    let t = c.download(&Handle(b"h".to_vec()), 0, None).unwrap();
    let reads = sent(&mut c);
    assert_eq!(reads.len(), 4);
    let chunk = match &reads[0].1 {
        Request::Read { len, .. } => *len as usize,
        r => panic!("{r:?}"),
    };
    // Every READ but the first is answered, many times over: no new READ
    // goes beyond four chunks past the undelivered first one.
    for (id, _) in &reads[1..] {
        reply(&mut c, *id, Response::Data(vec![0; chunk])).unwrap();
    }
    assert!(sent(&mut c).is_empty());
    assert!(c.poll_event().is_none());
    reply(&mut c, reads[0].0, Response::Data(vec![1; chunk])).unwrap();
    let delivered: Vec<_> = std::iter::from_fn(|| c.poll_event()).collect();
    assert_eq!(delivered.len(), 4);
    assert!(matches!(&delivered[0], Event::Data { transfer, offset: 0, .. } if *transfer == t));
    assert_eq!(sent(&mut c).len(), 4);
}
