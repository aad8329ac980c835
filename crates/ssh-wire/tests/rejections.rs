//! Malformed input: truncation at every byte, counts above their bounds,
//! fields that contradict each other.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use ssh_wire::messages::userauth::MAX_PROMPTS;
use ssh_wire::messages::*;
use ssh_wire::{Decode, DecodeError, Encode, NameList};

fn s(out: &mut Vec<u8>, v: &[u8]) {
    out.extend_from_slice(&(v.len() as u32).to_be_bytes());
    out.extend_from_slice(v);
}

fn u32be(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Every proper prefix of `full` must fail to decode with `decode`.
fn every_prefix_fails(full: &[u8], decode: impl Fn(&[u8]) -> bool) {
    assert!(decode(full), "the full message must decode");
    for n in 0..full.len() {
        assert!(
            !decode(&full[..n]),
            "prefix of {n} of {} bytes decoded",
            full.len()
        );
    }
}

fn list(s: &str) -> NameList {
    NameList::parse(s).unwrap()
}

#[test]
fn truncated_transport_messages() {
    let kexinit = KexInit {
        cookie: [7; 16],
        kex_algorithms: list("curve25519-sha256,ext-info-c"),
        server_host_key_algorithms: list("ssh-ed25519"),
        encryption_client_to_server: list("aes128-ctr"),
        encryption_server_to_client: list("aes128-ctr"),
        mac_client_to_server: list("hmac-sha2-256"),
        mac_server_to_client: list("hmac-sha2-256"),
        compression_client_to_server: list("none"),
        compression_server_to_client: list("none"),
        languages_client_to_server: list(""),
        languages_server_to_client: list(""),
        first_kex_packet_follows: true,
        reserved: 0,
    };
    let mut ext = ExtInfo::new();
    ext.push("server-sig-algs", &b"ssh-ed25519"[..]);
    let reply = KexEcdhReply {
        host_key: vec![1; 51],
        q_s: vec![2; 32],
        signature: vec![3; 83],
    };
    let gex = KexGexGroup {
        p: ssh_wire::Mpint::from_positive_be(&[0xff; 256]),
        g: ssh_wire::Mpint::from_positive_be(&[2]),
    };
    let disc = Disconnect {
        reason: DisconnectReason::BY_APPLICATION,
        description: "bye".into(),
        language: "en".into(),
    };
    for (payload, ctx) in [
        (kexinit.to_bytes(), None),
        (ext.to_bytes(), None),
        (reply.to_bytes(), Some(KexContext::Ecdh)),
        (gex.to_bytes(), Some(KexContext::DhGex)),
        (disc.to_bytes(), None),
    ] {
        every_prefix_fails(&payload, |b| TransportMessage::decode(b, ctx).is_ok());
    }
}

#[test]
fn truncated_userauth_messages() {
    let publickey = UserauthRequest {
        user: "user".into(),
        service: "ssh-connection".into(),
        method: AuthMethod::PublicKey {
            algorithm: "ssh-ed25519".into(),
            public_key: vec![9; 51],
            signature: Some(vec![8; 83]),
        },
    };
    let hostbased = UserauthRequest {
        user: "user".into(),
        service: "ssh-connection".into(),
        method: AuthMethod::HostBased {
            algorithm: "ssh-ed25519".into(),
            host_key: vec![1; 10],
            client_host: "client.example".into(),
            client_user: "u".into(),
            signature: vec![2; 10],
        },
    };
    let info = UserauthInfoRequest {
        name: "n".into(),
        instruction: "i".into(),
        language: String::new(),
        prompts: vec![
            InfoPrompt {
                prompt: "Password: ".into(),
                echo: false,
            },
            InfoPrompt {
                prompt: "Code: ".into(),
                echo: true,
            },
        ],
    };
    let response = UserauthInfoResponse {
        responses: vec!["a".into(), "bc".into()],
    };
    for (payload, ctx) in [
        (publickey.to_bytes(), AuthContext::None),
        (hostbased.to_bytes(), AuthContext::None),
        (info.to_bytes(), AuthContext::KeyboardInteractive),
        (response.to_bytes(), AuthContext::KeyboardInteractive),
    ] {
        every_prefix_fails(&payload, |b| UserauthMessage::decode(b, ctx).is_ok());
    }
}

#[test]
fn truncated_connection_messages() {
    let pty = ChannelRequest {
        recipient: 3,
        want_reply: true,
        request: ChannelRequestKind::PtyReq(PtyRequest {
            term: "vt100".into(),
            cols: 80,
            rows: 24,
            width_px: 0,
            height_px: 0,
            modes: TerminalModes {
                modes: vec![(53, 1), (128, 9600)],
                unparsed: vec![],
            },
        }),
    };
    let exit = ChannelRequest {
        recipient: 3,
        want_reply: false,
        request: ChannelRequestKind::ExitSignal {
            signal: "KILL".into(),
            core_dumped: false,
            message: "killed".into(),
            language: String::new(),
        },
    };
    let open = ChannelOpen {
        sender: 1,
        initial_window: 65536,
        max_packet: 32768,
        channel_type: ChannelType::ForwardedTcpip {
            address: "0.0.0.0".into(),
            port: 22,
            originator_address: "10.0.0.1".into(),
            originator_port: 1234,
        },
    };
    let fwd = GlobalRequest {
        want_reply: true,
        request: GlobalRequestKind::TcpipForward {
            address: "".into(),
            port: 8080,
        },
    };
    let data = ChannelExtendedData {
        recipient: 1,
        data_type: 1,
        data: b"err",
    };
    for payload in [
        pty.to_bytes(),
        exit.to_bytes(),
        open.to_bytes(),
        fwd.to_bytes(),
        data.to_bytes(),
    ] {
        every_prefix_fails(&payload, |b| ConnectionMessage::decode(b).is_ok());
    }
}

fn info_request_with_count(count: u32, prompts: usize) -> Vec<u8> {
    let mut p = vec![60u8];
    s(&mut p, b"");
    s(&mut p, b"");
    s(&mut p, b"");
    u32be(&mut p, count);
    for _ in 0..prompts {
        s(&mut p, b"p");
        p.push(0);
    }
    p
}

#[test]
fn prompt_count_is_bounded_before_allocation() {
    let ok = info_request_with_count(MAX_PROMPTS as u32, MAX_PROMPTS);
    let r = UserauthInfoRequest::decode_exact(&ok).unwrap();
    assert_eq!(r.prompts.len(), MAX_PROMPTS);

    // One more than the bound, with all the bytes present.
    let over = info_request_with_count(MAX_PROMPTS as u32 + 1, MAX_PROMPTS + 1);
    assert!(matches!(
        UserauthInfoRequest::decode_exact(&over),
        Err(DecodeError::TooLong {
            what: "num-prompts",
            ..
        })
    ));
    // A huge count with no prompts at all: rejected from the count alone.
    let huge = info_request_with_count(u32::MAX, 0);
    assert!(matches!(
        UserauthInfoRequest::decode_exact(&huge),
        Err(DecodeError::TooLong {
            what: "num-prompts",
            ..
        })
    ));
    // Within the bound but more than the bytes present: an error before
    // any prompt is read.
    let short = info_request_with_count(10, 1);
    assert!(matches!(
        UserauthInfoRequest::decode_exact(&short),
        Err(DecodeError::UnexpectedEnd {
            what: "num-prompts"
        })
    ));
}

#[test]
fn response_count_is_bounded_before_allocation() {
    let mut over = vec![61u8];
    u32be(&mut over, MAX_PROMPTS as u32 + 1);
    for _ in 0..=MAX_PROMPTS {
        s(&mut over, b"x");
    }
    assert!(matches!(
        UserauthInfoResponse::decode_exact(&over),
        Err(DecodeError::TooLong {
            what: "num-responses",
            ..
        })
    ));
    let huge = [61u8, 0xff, 0xff, 0xff, 0xff];
    assert!(matches!(
        UserauthInfoResponse::decode_exact(&huge),
        Err(DecodeError::TooLong { .. })
    ));
}

#[test]
fn extension_count_is_bounded() {
    let mut p = vec![7u8];
    u32be(&mut p, u32::MAX);
    assert!(matches!(
        ExtInfo::decode_exact(&p),
        Err(DecodeError::TooLong {
            what: "nr-extensions",
            ..
        })
    ));
    let mut p = vec![7u8];
    u32be(&mut p, 2);
    s(&mut p, b"a");
    s(&mut p, b"b");
    assert!(ExtInfo::decode_exact(&p).is_err());
}

#[test]
fn hostkey_list_is_bounded() {
    let mut p = vec![80u8];
    s(&mut p, b"hostkeys-00@openssh.com");
    p.push(0);
    for _ in 0..=ssh_wire::messages::global::MAX_HOSTKEYS {
        s(&mut p, b"");
    }
    assert!(matches!(
        GlobalRequest::decode_exact(&p),
        Err(DecodeError::TooLong { .. })
    ));
}

#[test]
fn optional_fields_follow_their_boolean() {
    // publickey with FALSE but a signature: the signature is trailing.
    let mut p = vec![50u8];
    s(&mut p, b"u");
    s(&mut p, b"ssh-connection");
    s(&mut p, b"publickey");
    p.push(0);
    s(&mut p, b"ssh-ed25519");
    s(&mut p, b"KEY");
    s(&mut p, b"SIG");
    assert!(matches!(
        UserauthMessage::decode(&p, AuthContext::None),
        Err(DecodeError::TrailingBytes { .. })
    ));
    // password with TRUE but no new password: truncated.
    let mut p = vec![50u8];
    s(&mut p, b"u");
    s(&mut p, b"ssh-connection");
    s(&mut p, b"password");
    p.push(1);
    s(&mut p, b"old");
    assert!(UserauthRequest::decode_exact(&p).is_err());
}

#[test]
fn names_and_text_are_checked() {
    // A method name that is not US-ASCII.
    let mut p = vec![50u8];
    s(&mut p, b"u");
    s(&mut p, b"ssh-connection");
    s(&mut p, "m\u{e9}thode".as_bytes());
    assert!(UserauthRequest::decode_exact(&p).is_err());
    // A user name that is not UTF-8.
    let mut p = vec![50u8];
    s(&mut p, b"\xff");
    s(&mut p, b"ssh-connection");
    s(&mut p, b"none");
    assert!(UserauthRequest::decode_exact(&p).is_err());
    // A channel type with a non-ASCII byte.
    let mut p = vec![90u8];
    s(&mut p, b"sess\x80on");
    for _ in 0..3 {
        u32be(&mut p, 0);
    }
    assert!(ChannelOpen::decode_exact(&p).is_err());
}

#[test]
fn unknown_numbers_in_auth_and_connection_are_errors() {
    for n in [0u8, 20, 54, 59, 62, 79, 80, 128, 255] {
        assert!(matches!(
            UserauthMessage::decode(&[n], AuthContext::KeyboardInteractive),
            Err(DecodeError::UnexpectedMessage { got, .. }) if got == n
        ));
    }
    for n in [0u8, 50, 83, 89, 101, 127, 192] {
        assert!(matches!(
            ConnectionMessage::decode(&[n]),
            Err(DecodeError::UnexpectedMessage { got, .. }) if got == n
        ));
    }
}

#[test]
fn empty_payloads_are_errors() {
    assert!(TransportMessage::decode(&[], Some(KexContext::Dh)).is_err());
    assert!(UserauthMessage::decode(&[], AuthContext::None).is_err());
    assert!(ConnectionMessage::decode(&[]).is_err());
    assert!(KexMessage::decode(&[], KexContext::Ecdh).is_err());
}
