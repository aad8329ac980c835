//! The byte form of requests and replies: round trips, and damaged or
//! oversized frames refused before they are buffered.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use ssh_auth::authorized_keys::KeyOptions;
use ssh_privsep::{
    ConnId, FrameError, FrameReader, MAX_FRAME, MAX_HOST_KEYS, MAX_KEY_OPTION_LISTS, Reply,
    Request, WorkerFrame,
};
use zeroize::Zeroizing;

fn requests() -> Vec<Request> {
    vec![
        Request::LoginRecord {
            conn: ConnId(8),
            login: true,
            line: "pts/12".into(),
            pid: 4242,
        },
        Request::QueryPublicKey {
            conn: ConnId(7),
            user: "alice".into(),
            algorithm: "ssh-ed25519".into(),
            key: vec![1, 2, 3],
            proof: true,
        },
        Request::VerifyPublicKey {
            conn: ConnId(8),
            userauth_request: vec![50, 0, 0, 0, 1, b'a'],
        },
        Request::Password {
            conn: ConnId(u32::MAX),
            user: "bob".into(),
            password: Zeroizing::new("hunter2".into()),
            keyboard_interactive: true,
        },
        Request::Account {
            conn: ConnId(3),
            user: "dave".into(),
            method: "publickey".into(),
        },
        Request::Authenticated {
            conn: ConnId(0),
            user: "carol".into(),
            state: Zeroizing::new(vec![9; 300]),
        },
        Request::Closed {
            conn: ConnId(9),
            grace_exceeded: true,
        },
    ]
}

fn replies() -> Vec<Reply> {
    vec![
        Reply::Signature(vec![0; 83]),
        Reply::Verdict(true),
        Reply::Verdict(false),
        Reply::Refused("user change not allowed".into()),
        Reply::Denied("Your account has expired".into()),
        Reply::Disconnect("administratively prohibited connection".into()),
        Reply::Allowed("You are required to change your password immediately".into()),
        Reply::Allowed(String::new()),
    ]
}

fn worker_frames() -> Vec<WorkerFrame> {
    let mut frames = vec![
        WorkerFrame::Start {
            host_keys: vec![(vec![1; 51], None), (vec![2; 279], Some(vec![3; 500]))],
        },
        WorkerFrame::Connection {
            conn: ConnId(12),
            peer: "192.0.2.1:40000".into(),
            local: "[2001:db8::1]:22".into(),
        },
        serve(None),
        serve(Some(Box::default())),
        serve(Some(Box::new(
            KeyOptions::parse(
                "restrict,pty,command=\"echo \\\"hi\\\"\",permitopen=\"h:1\",permitopen=\"*:2\",\
                 permitlisten=\"3\",environment=\"A=b c\",tunnel=\"4\",no-touch-required",
            )
            .unwrap(),
        ))),
    ];
    for reply in replies() {
        frames.push(WorkerFrame::Reply {
            conn: ConnId(5),
            reply,
        });
    }
    frames
}

/// An authenticated connection for a user's session process.
fn serve(key_options: Option<Box<KeyOptions>>) -> WorkerFrame {
    WorkerFrame::Serve {
        conn: ConnId(77),
        user: "alice".into(),
        peer: "192.0.2.1:40000".into(),
        local: "192.0.2.2:22".into(),
        password_change: key_options.is_none(),
        key_options,
        state: Zeroizing::new(vec![9; 300]),
    }
}

/// Splits a frame into its body through the reader.
fn body(frame: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut r = FrameReader::default();
    r.push(frame);
    r.next_frame().unwrap().unwrap()
}

#[test]
fn requests_and_replies_round_trip() {
    for request in requests() {
        let frame = request.encode();
        let again = Request::decode(&body(&frame)).unwrap();
        assert_eq!(again.encode(), frame, "{request:?}");
    }
    for reply in replies() {
        let frame = reply.encode();
        assert_eq!(Reply::decode(&body(&frame)).unwrap(), reply);
    }
    for f in worker_frames() {
        let frame = f.encode();
        assert_eq!(WorkerFrame::decode(&body(&frame)).unwrap(), f);
    }
}

#[test]
fn damaged_worker_frames_are_refused() {
    for f in worker_frames() {
        let b = body(&f.encode());
        for cut in 1..b.len() {
            assert!(
                WorkerFrame::decode(&b[..cut]).is_err(),
                "{f:?} cut at {cut}"
            );
        }
        let mut longer = b.to_vec();
        longer.push(0);
        assert!(WorkerFrame::decode(&longer).is_err(), "trailing byte");
    }
    // No host key, or more than the bound: refused before allocating.
    let none = WorkerFrame::Start { host_keys: vec![] }.encode();
    assert!(WorkerFrame::decode(&body(&none)).is_err());
    let many = WorkerFrame::Start {
        host_keys: vec![(vec![1], None); MAX_HOST_KEYS + 1],
    }
    .encode();
    assert_eq!(
        WorkerFrame::decode(&body(&many)),
        Err(FrameError::Length(MAX_HOST_KEYS + 1))
    );
    // A key's option lists are bounded too.
    let mut options = KeyOptions::default();
    options.permit_open = vec!["h:1".into(); MAX_KEY_OPTION_LISTS + 1];
    let long = serve(Some(Box::new(options))).encode();
    assert_eq!(
        WorkerFrame::decode(&body(&long)),
        Err(FrameError::Length(MAX_KEY_OPTION_LISTS + 1))
    );
}

#[test]
fn a_served_connection_never_shows_its_state() {
    let shown = format!("{:?}", serve(None));
    assert!(
        shown.contains("alice") && !shown.contains("state") && !shown.contains("9, 9"),
        "{shown}"
    );
}

#[test]
fn damaged_frames_are_refused() {
    for request in requests() {
        let frame = request.encode();
        let b = body(&frame);
        for cut in 1..b.len() {
            assert!(
                Request::decode(&b[..cut]).is_err(),
                "{request:?} cut at {cut}"
            );
        }
        let mut longer = b.to_vec();
        longer.push(0);
        assert!(Request::decode(&longer).is_err(), "trailing byte");
    }
    assert_eq!(
        Request::decode(&[99, 0, 0, 0, 1]).unwrap_err(),
        FrameError::UnknownType(99)
    );
    // A reply type is not a request, and the other way round.
    assert!(Request::decode(&body(&Reply::Verdict(true).encode())).is_err());
    let closed = Request::Closed {
        conn: ConnId(1),
        grace_exceeded: false,
    };
    assert!(Reply::decode(&body(&closed.encode())).is_err());
    assert_eq!(Request::decode(&[]).unwrap_err(), FrameError::Length(0));
}

#[test]
fn the_reader_splits_a_stream_and_bounds_a_frame_before_buffering_it() {
    let mut stream = Vec::new();
    for request in requests() {
        stream.extend_from_slice(&request.encode());
    }
    // Fed a byte at a time, every frame comes out whole and in order.
    let mut r = FrameReader::default();
    let mut got = Vec::new();
    for b in &stream {
        r.push(core::slice::from_ref(b));
        while let Some(body) = r.next_frame().unwrap() {
            got.push(Request::decode(&body).unwrap().encode().to_vec());
        }
    }
    let want: Vec<Vec<u8>> = requests().iter().map(|q| q.encode().to_vec()).collect();
    assert_eq!(got, want);
    // An announced length above the bound is refused from its four bytes.
    let mut r = FrameReader::default();
    r.push(&(MAX_FRAME as u32 + 1).to_be_bytes());
    assert_eq!(r.next_frame(), Err(FrameError::Length(MAX_FRAME + 1)));
    let mut r = FrameReader::default();
    r.push(&0u32.to_be_bytes());
    assert_eq!(r.next_frame(), Err(FrameError::Length(0)));
}
