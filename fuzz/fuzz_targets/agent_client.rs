//! Agent frames as the client reads them (`ssh-auth`'s `AgentClient`):
//! the input interleaves requests (identities, a signature with one of
//! several algorithms, the session-bind extension) and chunks of agent
//! output. Answers never outnumber requests and come in request order
//! with the matching kind; a signature carries the algorithm asked for;
//! an identity's parsed key re-encodes to the blob sent; once failed the
//! client stays failed; what it sends is well-framed.
#![no_main]

use std::collections::VecDeque;

use libfuzzer_sys::fuzz_target;
use ssh_auth::agent::{AgentClient, AgentResponse, MAX_IDENTITIES};
use ssh_keys::{EcdsaCurve, SignatureAlgorithm};
use ssh_wire::messages::SessionBind;

#[derive(Debug)]
enum Asked {
    Identities,
    Sign(SignatureAlgorithm),
    Extension,
}

const ALGS: [SignatureAlgorithm; 4] = [
    SignatureAlgorithm::Ed25519,
    SignatureAlgorithm::RsaSha256,
    SignatureAlgorithm::RsaSha512,
    SignatureAlgorithm::Ecdsa(EcdsaCurve::NistP256),
];

fn check_frames(mut out: &[u8]) {
    while !out.is_empty() {
        let len = u32::from_be_bytes(out[..4].try_into().unwrap()) as usize;
        assert!(len > 0 && out.len() >= 4 + len);
        out = &out[4 + len..];
    }
}

/// Checks what the client sends and every answer it has.
fn drain(c: &mut AgentClient, asked: &mut VecDeque<Asked>) {
    check_frames(&c.poll_transmit());
    while let Some(resp) = c.poll_response() {
        let a = asked.pop_front().expect("an answer without a request");
        match (resp, &a) {
            (AgentResponse::Failure, _) | (AgentResponse::Success, Asked::Extension) => {}
            (AgentResponse::Identities(ids), Asked::Identities) => {
                assert!(ids.len() <= MAX_IDENTITIES);
                for id in ids {
                    if let Some(k) = id.key {
                        assert_eq!(k.to_blob(), id.blob);
                    }
                }
            }
            (AgentResponse::Signature(sig), Asked::Sign(alg)) => {
                let (name, _) = ssh_keys::parse_signature_blob(&sig).unwrap();
                assert_eq!(name, alg.name());
            }
            (r, a) => panic!("{r:?} answers {a:?}"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut c = AgentClient::new();
    let mut asked = VecDeque::new();
    let mut failed = false;
    let mut rest = data;
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        let ok = match op % 4 {
            0 => c.request_identities().map(|()| Asked::Identities),
            1 => {
                let alg = ALGS[usize::from(op / 4) % ALGS.len()];
                c.sign(b"key", alg, b"data").map(|()| Asked::Sign(alg))
            }
            2 => c
                .session_bind(&SessionBind {
                    host_key: vec![1],
                    session_id: vec![2],
                    signature: vec![3],
                    is_forwarding: op & 4 != 0,
                })
                .map(|()| Asked::Extension),
            _ => {
                let n = usize::from(op / 4).min(rest.len());
                let (chunk, tail) = rest.split_at(n);
                rest = tail;
                if c.handle_input(chunk).is_err() {
                    failed = true;
                } else {
                    assert!(!failed, "a failed client took input");
                }
                drain(&mut c, &mut asked);
                continue;
            }
        };
        match ok {
            Ok(a) => {
                assert!(!failed, "a failed client took a request");
                asked.push_back(a);
            }
            Err(_) => {}
        }
        drain(&mut c, &mut asked);
    }
    drain(&mut c, &mut asked);
    if !failed {
        assert_eq!(c.is_waiting(), !asked.is_empty());
    }
});
