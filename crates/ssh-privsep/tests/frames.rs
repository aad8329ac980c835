//! The byte form of requests and replies: round trips, and damaged or
//! oversized frames refused before they are buffered.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use ssh_privsep::{ConnId, FrameError, FrameReader, MAX_FRAME, Reply, Request};
use zeroize::Zeroizing;

fn requests() -> Vec<Request> {
    vec![
        Request::QueryPublicKey {
            conn: ConnId(7),
            user: "alice".into(),
            algorithm: "ssh-ed25519".into(),
            key: vec![1, 2, 3],
        },
        Request::VerifyPublicKey {
            conn: ConnId(8),
            userauth_request: vec![50, 0, 0, 0, 1, b'a'],
        },
        Request::Password {
            conn: ConnId(u32::MAX),
            user: "bob".into(),
            password: Zeroizing::new("hunter2".into()),
        },
        Request::Authenticated {
            conn: ConnId(0),
            user: "carol".into(),
        },
        Request::Closed { conn: ConnId(9) },
    ]
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
    for reply in [
        Reply::Signature(vec![0; 83]),
        Reply::Verdict(true),
        Reply::Verdict(false),
        Reply::Refused("user change not allowed".into()),
    ] {
        let frame = reply.encode();
        assert_eq!(Reply::decode(&body(&frame)).unwrap(), reply);
    }
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
    assert!(Reply::decode(&body(&Request::Closed { conn: ConnId(1) }.encode())).is_err());
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
