//! The agent client codec against a small fake agent holding real keys.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use rand::SeedableRng;
use rand::rngs::StdRng;
use ssh_auth::agent::{
    AgentClient, AgentError, AgentResponse, MAX_AGENT_FRAME, SSH_AGENT_RSA_SHA2_256,
    SSH_AGENT_RSA_SHA2_512,
};
use ssh_keys::{PrivateKey, SignatureAlgorithm};
use ssh_wire::Reader;
use ssh_wire::codec::{put_string, put_u32};

fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    put_u32(&mut out, body.len() as u32);
    out.extend_from_slice(body);
    out
}

/// Answers one request frame the way ssh-agent does.
fn fake_agent(keys: &[PrivateKey], request: &[u8], seen_flags: &mut Vec<u32>) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(5);
    let mut r = Reader::new(request);
    let len = r.u32("len").unwrap() as usize;
    assert_eq!(len, r.remaining());
    match r.u8("type").unwrap() {
        11 => {
            let mut body = vec![12];
            put_u32(&mut body, keys.len() as u32);
            for (i, k) in keys.iter().enumerate() {
                put_string(&mut body, &k.public().to_blob());
                put_string(&mut body, format!("key {i}").as_bytes());
            }
            frame(&body)
        }
        13 => {
            let blob = r.string("blob").unwrap();
            let data = r.string("data").unwrap();
            let flags = r.u32("flags").unwrap();
            seen_flags.push(flags);
            let Some(k) = keys.iter().find(|k| k.public().to_blob() == blob) else {
                return frame(&[5]);
            };
            let alg = match flags {
                SSH_AGENT_RSA_SHA2_256 => SignatureAlgorithm::RsaSha256,
                SSH_AGENT_RSA_SHA2_512 => SignatureAlgorithm::RsaSha512,
                _ => k.key_type().signature_algorithms()[0],
            };
            let sig = k.sign(alg, data, &mut rng).unwrap();
            let mut body = vec![14];
            put_string(&mut body, &sig);
            frame(&body)
        }
        _ => frame(&[5]),
    }
}

#[test]
fn identities_and_signatures() {
    let mut rng = StdRng::seed_from_u64(6);
    let keys = vec![
        PrivateKey::from_ed25519_seed(&[1; 32]),
        PrivateKey::generate_rsa(2048, &mut rng).unwrap(),
    ];
    let mut flags = Vec::new();
    let mut c = AgentClient::new();
    c.request_identities().unwrap();
    let req = c.poll_transmit();
    assert_eq!(req, vec![0, 0, 0, 1, 11]);
    let answer = fake_agent(&keys, &req, &mut flags);
    // Delivered one byte at a time: nothing until the frame is complete.
    for (i, b) in answer.iter().enumerate() {
        c.handle_input(&[*b]).unwrap();
        if i + 1 < answer.len() {
            assert!(c.poll_response().is_none());
        }
    }
    let Some(AgentResponse::Identities(ids)) = c.poll_response() else {
        panic!("no identities");
    };
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0].key.as_ref(), Some(keys[0].public()));
    assert_eq!(ids[1].comment, "key 1");

    for (key, alg, flag) in [
        (&keys[0], SignatureAlgorithm::Ed25519, 0),
        (
            &keys[1],
            SignatureAlgorithm::RsaSha256,
            SSH_AGENT_RSA_SHA2_256,
        ),
        (
            &keys[1],
            SignatureAlgorithm::RsaSha512,
            SSH_AGENT_RSA_SHA2_512,
        ),
    ] {
        c.sign(&key.public().to_blob(), alg, b"to be signed")
            .unwrap();
        let req = c.poll_transmit();
        c.handle_input(&fake_agent(&keys, &req, &mut flags))
            .unwrap();
        let Some(AgentResponse::Signature(sig)) = c.poll_response() else {
            panic!("no signature");
        };
        key.public().verify(alg, b"to be signed", &sig).unwrap();
        assert_eq!(flags.last(), Some(&flag));
    }
    // A key the agent does not hold: FAILURE.
    let other = PrivateKey::from_ed25519_seed(&[2; 32]);
    c.sign(&other.public().to_blob(), SignatureAlgorithm::Ed25519, b"x")
        .unwrap();
    let req = c.poll_transmit();
    c.handle_input(&fake_agent(&keys, &req, &mut flags))
        .unwrap();
    assert_eq!(c.poll_response(), Some(AgentResponse::Failure));
    assert!(!c.is_waiting());
}

#[test]
fn hostile_agent_frames_are_rejected() {
    // Oversized frame: refused from its length alone.
    let mut c = AgentClient::new();
    c.request_identities().unwrap();
    let mut big = Vec::new();
    put_u32(&mut big, (MAX_AGENT_FRAME + 1) as u32);
    assert_eq!(
        c.handle_input(&big),
        Err(AgentError::FrameTooLarge(MAX_AGENT_FRAME + 1))
    );
    // Stays failed.
    assert!(c.request_identities().is_err());

    // Huge identity count.
    let mut c = AgentClient::new();
    c.request_identities().unwrap();
    assert!(
        c.handle_input(&frame(&[12, 0xff, 0xff, 0xff, 0xff]))
            .is_err()
    );

    // An answer nobody asked for.
    let mut c = AgentClient::new();
    assert!(c.handle_input(&frame(&[6])).is_err());

    // Trailing bytes after FAILURE.
    let mut c = AgentClient::new();
    c.request_identities().unwrap();
    assert!(c.handle_input(&frame(&[5, 0])).is_err());

    // A signature of another algorithm than asked (ssh-rsa for rsa-sha2-512).
    let mut c = AgentClient::new();
    c.sign(b"blob", SignatureAlgorithm::RsaSha512, b"d")
        .unwrap();
    let mut sig = Vec::new();
    put_string(&mut sig, b"ssh-rsa");
    put_string(&mut sig, &[1; 256]);
    let mut body = vec![14];
    put_string(&mut body, &sig);
    assert!(matches!(
        c.handle_input(&frame(&body)),
        Err(AgentError::Protocol(_))
    ));

    // Empty frame.
    let mut c = AgentClient::new();
    c.request_identities().unwrap();
    assert!(c.handle_input(&[0, 0, 0, 0]).is_err());
}

#[test]
fn pending_requests_are_bounded() {
    let mut c = AgentClient::new();
    for _ in 0..ssh_auth::agent::MAX_PENDING {
        c.request_identities().unwrap();
    }
    assert_eq!(c.request_identities(), Err(AgentError::TooManyPending));
}
