//! Hand-built payloads checked field by field, and the context rules for
//! numbers 30-49 and 60-79.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use ssh_wire::messages::channel_request::opcode;
use ssh_wire::messages::*;
use ssh_wire::{Decode, DecodeError, Encode, NameList};

/// A `string` field.
fn s(out: &mut Vec<u8>, v: &[u8]) {
    out.extend_from_slice(&(v.len() as u32).to_be_bytes());
    out.extend_from_slice(v);
}

fn u32be(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

const KEX: &str =
    "curve25519-sha256,diffie-hellman-group14-sha256,ext-info-c,kex-strict-c-v00@openssh.com";
const HOSTKEY: &str = "ssh-ed25519,rsa-sha2-512";
const CIPHER: &str = "chacha20-poly1305@openssh.com,aes128-ctr";
const MAC: &str = "hmac-sha2-256-etm@openssh.com";
const COMP: &str = "none,zlib@openssh.com";

/// A KEXINIT as a client like OpenSSH's sends it, built byte by byte.
fn kexinit_bytes() -> Vec<u8> {
    let mut p = vec![20u8];
    p.extend(0u8..16); // cookie
    s(&mut p, KEX.as_bytes());
    s(&mut p, HOSTKEY.as_bytes());
    s(&mut p, CIPHER.as_bytes());
    s(&mut p, CIPHER.as_bytes());
    s(&mut p, MAC.as_bytes());
    s(&mut p, MAC.as_bytes());
    s(&mut p, COMP.as_bytes());
    s(&mut p, COMP.as_bytes());
    s(&mut p, b"");
    s(&mut p, b"");
    p.push(0); // first_kex_packet_follows
    u32be(&mut p, 0); // reserved
    p
}

#[test]
fn kexinit_fields() {
    let bytes = kexinit_bytes();
    let TransportMessage::KexInit(k) = TransportMessage::decode(&bytes, None).unwrap() else {
        panic!("not a KEXINIT");
    };
    let expected_cookie: Vec<u8> = (0u8..16).collect();
    assert_eq!(k.cookie.as_slice(), expected_cookie.as_slice());
    assert_eq!(k.kex_algorithms.len(), 4);
    assert_eq!(k.kex_algorithms.names()[3], "kex-strict-c-v00@openssh.com");
    assert_eq!(k.kex_algorithms.to_string(), KEX);
    assert_eq!(k.server_host_key_algorithms.to_string(), HOSTKEY);
    assert_eq!(k.encryption_client_to_server.to_string(), CIPHER);
    assert_eq!(k.encryption_server_to_client.to_string(), CIPHER);
    assert_eq!(k.mac_client_to_server.to_string(), MAC);
    assert_eq!(k.mac_server_to_client.to_string(), MAC);
    assert_eq!(
        k.compression_client_to_server.names(),
        ["none", "zlib@openssh.com"]
    );
    assert_eq!(k.compression_server_to_client.to_string(), COMP);
    assert!(k.languages_client_to_server.is_empty());
    assert!(k.languages_server_to_client.is_empty());
    assert!(!k.first_kex_packet_follows);
    assert_eq!(k.reserved, 0);
    assert_eq!(k.to_bytes(), bytes);
    assert_eq!(k.encoded_len(), bytes.len());
}

#[test]
fn kexinit_with_guess_and_nonzero_boolean() {
    let mut bytes = kexinit_bytes();
    let n = bytes.len();
    bytes[n - 5] = 7; // "All non-zero values MUST be interpreted as TRUE"
    bytes[n - 1] = 9;
    let k = KexInit::decode_exact(&bytes).unwrap();
    assert!(k.first_kex_packet_follows);
    assert_eq!(k.reserved, 9);
    // Re-encoding gives the canonical TRUE: the transport must hash the
    // bytes it received, not these.
    assert_eq!(k.to_bytes()[n - 5], 1);
}

#[test]
fn disconnect_bytes() {
    let msg = Disconnect {
        reason: DisconnectReason::PROTOCOL_ERROR,
        description: "bad".into(),
        language: String::new(),
    };
    assert_eq!(
        msg.to_bytes(),
        [1, 0, 0, 0, 2, 0, 0, 0, 3, b'b', b'a', b'd', 0, 0, 0, 0]
    );
    assert_eq!(DisconnectReason::ILLEGAL_USER_NAME.0, 15);
    assert_eq!(DisconnectReason::BY_APPLICATION.0, 11);
}

#[test]
fn ext_info_server_sig_algs_and_ping() {
    let mut p = vec![7u8];
    u32be(&mut p, 3);
    s(&mut p, b"server-sig-algs");
    s(&mut p, b"ssh-ed25519,rsa-sha2-256");
    s(&mut p, b"ping@openssh.com");
    s(&mut p, b"0");
    s(&mut p, b"delay-compression");
    let mut dc = Vec::new();
    s(&mut dc, b"zlib@openssh.com,none");
    s(&mut dc, b"none");
    s(&mut p, &dc);
    let TransportMessage::ExtInfo(e) = TransportMessage::decode(&p, None).unwrap() else {
        panic!("not EXT_INFO");
    };
    assert_eq!(e.extensions.len(), 3);
    let algs = e.server_sig_algs().unwrap().unwrap();
    assert_eq!(algs.names(), ["ssh-ed25519", "rsa-sha2-256"]);
    assert_eq!(e.ping(), Some(&b"0"[..]));
    assert_eq!(e.publickey_hostbound(), None);
    let (c2s, s2c) = e.delay_compression().unwrap().unwrap();
    assert_eq!(c2s.names(), ["zlib@openssh.com", "none"]);
    assert_eq!(s2c.names(), ["none"]);
    assert_eq!(e.to_bytes(), p);

    let mut built = ExtInfo::new();
    built
        .push("server-sig-algs", &b"ssh-ed25519,rsa-sha2-256"[..])
        .push("ping@openssh.com", &b"0"[..])
        .push("delay-compression", dc);
    assert_eq!(built, e);
}

#[test]
fn kex_numbers_depend_on_context() {
    // 30 with one string-sized field: an mpint for DH, Q_C for ECDH.
    let mut p = vec![30u8];
    s(&mut p, &[0x42; 32]);
    assert!(matches!(
        TransportMessage::decode(&p, Some(KexContext::Dh)).unwrap(),
        TransportMessage::Kex(KexMessage::DhInit(KexdhInit { e })) if e.positive_be() == Some(&[0x42; 32][..])
    ));
    assert!(matches!(
        TransportMessage::decode(&p, Some(KexContext::Ecdh)).unwrap(),
        TransportMessage::Kex(KexMessage::EcdhInit(KexEcdhInit { q_c })) if q_c == [0x42; 32]
    ));
    // Outside a key exchange: unknown, so the transport can answer
    // SSH_MSG_UNIMPLEMENTED with the number.
    let TransportMessage::Unknown(u) = TransportMessage::decode(&p, None).unwrap() else {
        panic!("expected Unknown");
    };
    assert_eq!(u.number, 30);
    assert_eq!(u.to_bytes(), p);
    // Under group exchange 30 is REQUEST_OLD, a single uint32.
    assert!(TransportMessage::decode(&p, Some(KexContext::DhGex)).is_err());
    let old = [30u8, 0, 0, 8, 0];
    assert_eq!(
        TransportMessage::decode(&old, Some(KexContext::DhGex)).unwrap(),
        TransportMessage::Kex(KexMessage::GexRequestOld(KexGexRequestOld { n: 2048 }))
    );
    // 34 exists only in group exchange.
    let req = [34u8, 0, 0, 8, 0, 0, 0, 0x10, 0, 0, 0, 0x20, 0];
    assert_eq!(
        KexMessage::decode(&req, KexContext::DhGex).unwrap(),
        KexMessage::GexRequest(KexGexRequest {
            min: 2048,
            n: 4096,
            max: 8192
        })
    );
    assert!(matches!(
        TransportMessage::decode(&req, Some(KexContext::Ecdh)).unwrap(),
        TransportMessage::Unknown(UnknownMessage { number: 34, .. })
    ));
    assert!(KexMessage::decode(&req, KexContext::Dh).is_err());
}

#[test]
fn transport_rejects_other_layers_and_keeps_unknown_numbers() {
    assert!(matches!(
        TransportMessage::decode(&[52], None),
        Err(DecodeError::UnexpectedMessage { got: 52, .. })
    ));
    let u = TransportMessage::decode(&[200, 1, 2], None).unwrap();
    assert_eq!(u.number(), 200);
    assert_eq!(u.to_bytes(), [200, 1, 2]);
    assert!(TransportMessage::decode(&[], None).is_err());
}

#[test]
fn ping_pong_numbers() {
    let ping = Ping {
        data: b"x".to_vec(),
    };
    assert_eq!(ping.to_bytes(), [192, 0, 0, 0, 1, b'x']);
    let pong = TransportMessage::decode(&[193, 0, 0, 0, 0], None).unwrap();
    assert_eq!(pong, TransportMessage::Pong(Pong::default()));
}

#[test]
fn userauth_publickey_request_and_signed_data() {
    let mut p = vec![50u8];
    s(&mut p, b"alice");
    s(&mut p, b"ssh-connection");
    s(&mut p, b"publickey");
    p.push(1);
    s(&mut p, b"ssh-ed25519");
    s(&mut p, b"KEYBLOB");
    s(&mut p, b"SIG");
    let m = UserauthMessage::decode(&p, AuthContext::None).unwrap();
    let UserauthMessage::Request(req) = &m else {
        panic!("not a request");
    };
    assert_eq!(req.user, "alice");
    assert_eq!(req.service, "ssh-connection");
    assert_eq!(
        req.method,
        AuthMethod::PublicKey {
            algorithm: "ssh-ed25519".into(),
            public_key: b"KEYBLOB".to_vec(),
            signature: Some(b"SIG".to_vec()),
        }
    );
    assert_eq!(req.method.context(), AuthContext::PublicKey);
    assert_eq!(m.to_bytes(), p);

    // RFC 4252 §7: session identifier, then the request with TRUE and
    // without the signature.
    let mut signed = Vec::new();
    s(&mut signed, b"SESSION");
    let sig_field = 4 + 3;
    signed.extend_from_slice(&p[..p.len() - sig_field]);
    assert_eq!(req.publickey_signed_data(b"SESSION").unwrap(), signed);

    // The query form has FALSE and no signature.
    let mut q = vec![50u8];
    s(&mut q, b"alice");
    s(&mut q, b"ssh-connection");
    s(&mut q, b"publickey");
    q.push(0);
    s(&mut q, b"ssh-ed25519");
    s(&mut q, b"KEYBLOB");
    let query = UserauthRequest::decode_exact(&q).unwrap();
    assert!(matches!(
        query.method,
        AuthMethod::PublicKey {
            signature: None,
            ..
        }
    ));
    // The signed data is the same whether or not the request carries one.
    assert_eq!(query.publickey_signed_data(b"SESSION").unwrap(), signed);
}

#[test]
fn userauth_password_change_and_keyboard_interactive() {
    let mut p = vec![50u8];
    s(&mut p, b"bob");
    s(&mut p, b"ssh-connection");
    s(&mut p, b"password");
    p.push(1);
    s(&mut p, b"old");
    s(&mut p, b"new");
    let req = UserauthRequest::decode_exact(&p).unwrap();
    assert_eq!(
        req.method,
        AuthMethod::Password {
            password: "old".into(),
            new_password: Some("new".into()),
        }
    );

    let mut k = vec![50u8];
    s(&mut k, b"bob");
    s(&mut k, b"ssh-connection");
    s(&mut k, b"keyboard-interactive");
    s(&mut k, b"");
    s(&mut k, b"pam");
    let req = UserauthRequest::decode_exact(&k).unwrap();
    assert_eq!(
        req.method,
        AuthMethod::KeyboardInteractive {
            language: String::new(),
            submethods: "pam".into(),
        }
    );

    let mut u = vec![50u8];
    s(&mut u, b"bob");
    s(&mut u, b"ssh-connection");
    s(&mut u, b"gssapi-with-mic");
    u32be(&mut u, 1);
    let req = UserauthRequest::decode_exact(&u).unwrap();
    assert_eq!(
        req.method,
        AuthMethod::Unknown {
            name: "gssapi-with-mic".into(),
            rest: vec![0, 0, 0, 1],
        }
    );
    assert_eq!(req.to_bytes(), u);
}

#[test]
fn userauth_60_depends_on_context() {
    let mut p = vec![60u8];
    s(&mut p, b"a");
    s(&mut p, b"b");
    assert!(matches!(
        UserauthMessage::decode(&p, AuthContext::PublicKey).unwrap(),
        UserauthMessage::PkOk(UserauthPkOk { algorithm, public_key }) if algorithm == "a" && public_key == b"b"
    ));
    assert!(matches!(
        UserauthMessage::decode(&p, AuthContext::Password).unwrap(),
        UserauthMessage::PasswdChangereq(UserauthPasswdChangereq { prompt, language }) if prompt == "a" && language == "b"
    ));
    assert!(matches!(
        UserauthMessage::decode(&p, AuthContext::None),
        Err(DecodeError::UnexpectedMessage { got: 60, .. })
    ));
    // Keyboard-interactive: 60 is INFO_REQUEST, which needs more fields.
    assert!(UserauthMessage::decode(&p, AuthContext::KeyboardInteractive).is_err());
    let mut info = vec![60u8];
    s(&mut info, b"name");
    s(&mut info, b"instr");
    s(&mut info, b"");
    u32be(&mut info, 2);
    s(&mut info, b"Password: ");
    info.push(0);
    s(&mut info, b"OTP: ");
    info.push(1);
    let UserauthMessage::InfoRequest(r) =
        UserauthMessage::decode(&info, AuthContext::KeyboardInteractive).unwrap()
    else {
        panic!("not INFO_REQUEST");
    };
    assert_eq!(r.name, "name");
    assert_eq!(r.instruction, "instr");
    assert_eq!(
        r.prompts,
        [
            InfoPrompt {
                prompt: "Password: ".into(),
                echo: false
            },
            InfoPrompt {
                prompt: "OTP: ".into(),
                echo: true
            },
        ]
    );
    // 61 only in keyboard-interactive.
    let resp = [61u8, 0, 0, 0, 1, 0, 0, 0, 2, b'h', b'i'];
    assert_eq!(
        UserauthMessage::decode(&resp, AuthContext::KeyboardInteractive).unwrap(),
        UserauthMessage::InfoResponse(UserauthInfoResponse {
            responses: vec!["hi".into()]
        })
    );
    assert!(UserauthMessage::decode(&resp, AuthContext::PublicKey).is_err());
    // Generic numbers in any context.
    assert_eq!(
        UserauthMessage::decode(&[52], AuthContext::KeyboardInteractive).unwrap(),
        UserauthMessage::Success(UserauthSuccess)
    );
}

#[test]
fn userauth_failure_bytes() {
    let msg = UserauthFailure {
        methods: NameList::parse("publickey,password").unwrap(),
        partial_success: false,
    };
    let mut p = vec![51u8];
    s(&mut p, b"publickey,password");
    p.push(0);
    assert_eq!(msg.to_bytes(), p);
}

fn pty_req_bytes(modes: &[u8]) -> Vec<u8> {
    let mut p = vec![98u8];
    u32be(&mut p, 7);
    s(&mut p, b"pty-req");
    p.push(1);
    s(&mut p, b"xterm-256color");
    for v in [80u32, 24, 640, 480] {
        u32be(&mut p, v);
    }
    s(&mut p, modes);
    p
}

#[test]
fn pty_req_with_terminal_modes() {
    let mut modes = Vec::new();
    for (op, v) in [
        (opcode::VINTR, 3u32),
        (opcode::ECHO, 1),
        (opcode::IUTF8, 1),
        (opcode::TTY_OP_ISPEED, 38400),
        (opcode::TTY_OP_OSPEED, 38400),
    ] {
        modes.push(op);
        u32be(&mut modes, v);
    }
    modes.push(opcode::TTY_OP_END);
    let p = pty_req_bytes(&modes);
    let ConnectionMessage::Request(req) = ConnectionMessage::decode(&p).unwrap() else {
        panic!("not a channel request");
    };
    assert_eq!(req.recipient, 7);
    assert!(req.want_reply);
    let ChannelRequestKind::PtyReq(pty) = &req.request else {
        panic!("not pty-req");
    };
    assert_eq!(pty.term, "xterm-256color");
    assert_eq!(
        (pty.cols, pty.rows, pty.width_px, pty.height_px),
        (80, 24, 640, 480)
    );
    assert_eq!(pty.modes.modes.len(), 5);
    assert_eq!(pty.modes.get(opcode::IUTF8), Some(1));
    assert_eq!(pty.modes.get(opcode::TTY_OP_OSPEED), Some(38400));
    assert_eq!(pty.modes.get(opcode::ICANON), None);
    assert!(pty.modes.unparsed.is_empty());
    assert_eq!(req.to_bytes(), p);
    assert_eq!(opcode::IUTF8, 42);
    assert_eq!(opcode::CS8, 91);
}

#[test]
fn terminal_modes_edge_cases() {
    // An empty string: no modes (some clients send it).
    let p = pty_req_bytes(b"");
    let req = ChannelRequest::decode_exact(&p).unwrap();
    let ChannelRequestKind::PtyReq(pty) = &req.request else {
        panic!()
    };
    assert!(pty.modes.modes.is_empty());
    // Opcode 160 and above stop parsing: the rest is kept as it was.
    let modes = [53, 0, 0, 0, 1, 200, 9, 9, 0];
    let req = ChannelRequest::decode_exact(&pty_req_bytes(&modes)).unwrap();
    let ChannelRequestKind::PtyReq(pty) = &req.request else {
        panic!()
    };
    assert_eq!(pty.modes.modes, [(53, 1)]);
    assert_eq!(pty.modes.unparsed, [200, 9, 9, 0]);
    assert_eq!(req.to_bytes(), pty_req_bytes(&modes));
    // Bytes after TTY_OP_END are trailing bytes.
    assert!(ChannelRequest::decode_exact(&pty_req_bytes(&[0, 1])).is_err());
    // A truncated argument.
    assert!(ChannelRequest::decode_exact(&pty_req_bytes(&[53, 0, 0])).is_err());
}

#[test]
fn channel_data_borrows_and_opens() {
    let p = [94u8, 0, 0, 0, 5, 0, 0, 0, 3, b'a', b'b', b'c'];
    let ConnectionMessage::Data(d) = ConnectionMessage::decode(&p).unwrap() else {
        panic!()
    };
    assert_eq!(d.recipient, 5);
    assert_eq!(d.data, b"abc");
    assert!(core::ptr::eq(d.data.as_ptr(), p[9..].as_ptr()));

    let mut o = vec![90u8];
    s(&mut o, b"direct-tcpip");
    for v in [1u32, 2 * 1024 * 1024, 32768] {
        u32be(&mut o, v);
    }
    s(&mut o, b"example.org");
    u32be(&mut o, 443);
    s(&mut o, b"127.0.0.1");
    u32be(&mut o, 50000);
    let open = ChannelOpen::decode_exact(&o).unwrap();
    assert_eq!(open.sender, 1);
    assert_eq!(open.initial_window, 2 * 1024 * 1024);
    assert_eq!(open.max_packet, 32768);
    assert_eq!(
        open.channel_type,
        ChannelType::DirectTcpip {
            host: "example.org".into(),
            port: 443,
            originator_address: "127.0.0.1".into(),
            originator_port: 50000,
        }
    );
    assert_eq!(open.to_bytes(), o);

    let fail = ChannelOpenFailure {
        recipient: 1,
        reason: OpenFailureReason::UNKNOWN_CHANNEL_TYPE,
        description: String::new(),
        language: String::new(),
    };
    assert_eq!(
        fail.to_bytes(),
        [92, 0, 0, 0, 1, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0]
    );
}

#[test]
fn global_requests_and_success_payloads() {
    let mut p = vec![80u8];
    s(&mut p, b"tcpip-forward");
    p.push(1);
    s(&mut p, b"localhost");
    u32be(&mut p, 0);
    let g = GlobalRequest::decode_exact(&p).unwrap();
    assert_eq!(
        g.request,
        GlobalRequestKind::TcpipForward {
            address: "localhost".into(),
            port: 0
        }
    );
    let ok = RequestSuccess::with_port(40123);
    assert_eq!(ok.to_bytes(), [81, 0, 0, 0x9c, 0xbb]);
    assert_eq!(
        RequestSuccess::decode_exact(&ok.to_bytes())
            .unwrap()
            .bound_port()
            .unwrap(),
        40123
    );
    assert!(RequestSuccess::default().bound_port().is_err());

    let mut h = vec![80u8];
    s(&mut h, b"hostkeys-00@openssh.com");
    h.push(0);
    s(&mut h, b"key one");
    s(&mut h, b"key two");
    let g = GlobalRequest::decode_exact(&h).unwrap();
    assert_eq!(
        g.request,
        GlobalRequestKind::HostKeys {
            keys: vec![b"key one".to_vec(), b"key two".to_vec()]
        }
    );
    let sigs = vec![b"sig1".to_vec(), b"sig2".to_vec()];
    let ok = RequestSuccess::with_signatures(&sigs);
    assert_eq!(ok.hostkey_signatures().unwrap(), sigs);
}

#[test]
fn session_bind_agent_request() {
    let sb = SessionBind {
        host_key: b"HK".to_vec(),
        session_id: b"SID".to_vec(),
        signature: b"SIG".to_vec(),
        is_forwarding: true,
    };
    let mut want = vec![27u8];
    s(&mut want, b"session-bind@openssh.com");
    s(&mut want, b"HK");
    s(&mut want, b"SID");
    s(&mut want, b"SIG");
    want.push(1);
    assert_eq!(sb.to_agent_request(), want);
}

#[test]
fn struct_decode_checks_the_number() {
    assert!(matches!(
        NewKeys::decode_exact(&[20]),
        Err(DecodeError::UnexpectedMessage { got: 20, .. })
    ));
    assert_eq!(NewKeys::decode_exact(&[21]).unwrap(), NewKeys);
    assert_eq!(<NewKeys as Message>::NUMBER, 21);
}

#[test]
fn publickey_hostbound_request_and_signed_data() {
    // OpenSSH PROTOCOL §3.1: has_signature, pkalg, public key, server host
    // key, then the signature.
    let mut p = vec![50u8];
    s(&mut p, b"alice");
    s(&mut p, b"ssh-connection");
    s(&mut p, b"publickey-hostbound-v00@openssh.com");
    p.push(1);
    s(&mut p, b"ssh-ed25519");
    s(&mut p, b"KEY");
    s(&mut p, b"HOSTKEY");
    s(&mut p, b"SIG");
    let req = UserauthRequest::decode_exact(&p).unwrap();
    assert_eq!(
        req.method,
        AuthMethod::PublicKeyHostBound {
            algorithm: "ssh-ed25519".into(),
            public_key: b"KEY".to_vec(),
            host_key: b"HOSTKEY".to_vec(),
            signature: Some(b"SIG".to_vec()),
        }
    );
    assert_eq!(req.method.context(), AuthContext::PublicKey);
    assert_eq!(req.to_bytes(), p);
    let mut signed = Vec::new();
    s(&mut signed, b"SID");
    signed.extend_from_slice(&p[..p.len() - (4 + 3)]);
    assert_eq!(req.publickey_signed_data(b"SID").unwrap(), signed);
    // Without the host key field it is truncated.
    let cut = p.len() - (4 + 3) - (4 + 7);
    let mut short = p[..cut].to_vec();
    let flag = short.len() - (4 + 3) - (4 + 11) - 1;
    short[flag] = 0; // has_signature FALSE
    assert!(UserauthRequest::decode_exact(&short).is_err());
}

#[test]
fn channel_data_headers_match_the_full_encoding() {
    let data = b"hello";
    let mut out = Vec::new();
    ChannelData::encode_header(9, data.len() as u32, &mut out);
    assert_eq!(out.len(), ChannelData::HEADER_LEN);
    out.extend_from_slice(data);
    assert_eq!(out, ChannelData { recipient: 9, data }.to_bytes());

    let mut out = Vec::new();
    ChannelExtendedData::encode_header(9, 1, data.len() as u32, &mut out);
    assert_eq!(out.len(), ChannelExtendedData::HEADER_LEN);
    out.extend_from_slice(data);
    let full = ChannelExtendedData {
        recipient: 9,
        data_type: 1,
        data,
    };
    assert_eq!(out, full.to_bytes());
}

#[test]
fn reason_names() {
    assert_eq!(
        DisconnectReason::MAC_ERROR.name(),
        Some("SSH_DISCONNECT_MAC_ERROR")
    );
    assert_eq!(DisconnectReason(16).name(), None);
    assert_eq!(
        OpenFailureReason::CONNECT_FAILED.name(),
        Some("SSH_OPEN_CONNECT_FAILED")
    );
    assert_eq!(OpenFailureReason(0).name(), None);
}
