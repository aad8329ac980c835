//! In-memory client/server pairs with injected time and randomness.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    clippy::field_reassign_with_default
)]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use ssh_keys::{EcdsaCurve, KeyType, PrivateKey};
use ssh_wire::NameList;
use ssh_wire::messages::transport::DisconnectReason;

use super::*;

mod binding;
mod handover;
mod host_certs;
mod hostile;
mod rekey_rules;
mod remote_sign;
mod strict_kex;

fn rng(seed: u64) -> Box<dyn CryptoRng + Send> {
    Box::new(StdRng::seed_from_u64(seed))
}

fn rsa_key() -> &'static PrivateKey {
    static KEY: OnceLock<PrivateKey> = OnceLock::new();
    KEY.get_or_init(|| PrivateKey::generate_rsa(2048, &mut StdRng::seed_from_u64(7)).unwrap())
}

/// The RSA key is slow to make, so one is shared by every test.
struct SharedKey(&'static PrivateKey);

impl Signer for SharedKey {
    fn public_key(&self) -> &ssh_keys::PublicKey {
        self.0.public_key()
    }
    fn sign(
        &self,
        alg: ssh_keys::SignatureAlgorithm,
        data: &[u8],
        rng: &mut dyn CryptoRng,
    ) -> Result<Vec<u8>, ssh_keys::Error> {
        self.0.sign(alg, data, rng)
    }
}

fn host_key(t: KeyType) -> HostKey {
    match t {
        KeyType::Ed25519 => Box::new(PrivateKey::from_ed25519_seed(&[7; 32])),
        KeyType::Ecdsa(curve) => Box::new(
            PrivateKey::generate(KeyType::Ecdsa(curve), &mut StdRng::seed_from_u64(3)).unwrap(),
        ),
        KeyType::Rsa => Box::new(SharedKey(rsa_key())),
        _ => panic!("no such key type"),
    }
}

fn all_host_keys() -> Vec<HostKey> {
    vec![
        host_key(KeyType::Ed25519),
        host_key(KeyType::Ecdsa(EcdsaCurve::NistP256)),
        host_key(KeyType::Ecdsa(EcdsaCurve::NistP384)),
        host_key(KeyType::Ecdsa(EcdsaCurve::NistP521)),
        host_key(KeyType::Rsa),
    ]
}

fn list(s: &str) -> NameList {
    NameList::parse(s).unwrap()
}

/// A client and a server wired back to back.
struct Pair {
    c: Transport,
    s: Transport,
    now: Instant,
    /// Upper-layer payloads each side received, in order.
    c_got: Vec<Vec<u8>>,
    s_got: Vec<Vec<u8>>,
    c_events: Vec<Event>,
    s_events: Vec<Event>,
    accept_host_key: bool,
    /// Bytes in flight, for tampering tests.
    c_to_s: Vec<u8>,
    s_to_c: Vec<u8>,
}

impl Pair {
    fn new(cc: Config, sc: Config, keys: Vec<HostKey>) -> Self {
        Self {
            c: Transport::client(cc, rng(1)).unwrap(),
            s: Transport::server(sc, keys, rng(2)).unwrap(),
            now: Instant::now(),
            c_got: Vec::new(),
            s_got: Vec::new(),
            c_events: Vec::new(),
            s_events: Vec::new(),
            accept_host_key: true,
            c_to_s: Vec::new(),
            s_to_c: Vec::new(),
        }
    }

    fn default_pair() -> Self {
        Self::new(Config::default(), Config::server_default(), all_host_keys())
    }

    /// Moves what each side has written to the other side's "wire".
    fn collect(&mut self) {
        self.c.poll_transmit(&mut self.c_to_s);
        self.s.poll_transmit(&mut self.s_to_c);
    }

    /// Runs until nothing moves. Errors of either side are returned.
    fn drive(&mut self) -> Result<(), (Role, Error)> {
        for _ in 0..10_000 {
            self.collect();
            if self.c_to_s.is_empty() && self.s_to_c.is_empty() {
                return Ok(());
            }
            let data = core::mem::take(&mut self.c_to_s);
            let mut at = 0;
            while at < data.len() {
                let n = self
                    .s
                    .handle_input(self.now, &data[at..])
                    .map_err(|e| (Role::Server, e))?;
                at += n;
                self.pump_server().map_err(|e| (Role::Server, e))?;
            }
            let data = core::mem::take(&mut self.s_to_c);
            let mut at = 0;
            while at < data.len() {
                let n = self
                    .c
                    .handle_input(self.now, &data[at..])
                    .map_err(|e| (Role::Client, e))?;
                at += n;
                self.pump_client().map_err(|e| (Role::Client, e))?;
            }
        }
        panic!("the pair does not settle");
    }

    fn pump_server(&mut self) -> Result<(), Error> {
        while let Some(p) = self.s.poll_incoming()? {
            self.s_got.push(p.to_vec());
        }
        while let Some(e) = self.s.poll_event() {
            if let Event::ServiceRequest(_) = e {
                self.s.accept_service()?;
            }
            self.s_events.push(e);
        }
        Ok(())
    }

    fn pump_client(&mut self) -> Result<(), Error> {
        loop {
            while let Some(p) = self.c.poll_incoming()? {
                self.c_got.push(p.to_vec());
            }
            let mut answered = false;
            while let Some(e) = self.c.poll_event() {
                if let Event::HostKey { .. } = e {
                    if self.accept_host_key {
                        self.c.accept_host_key()?;
                    } else {
                        self.c.reject_host_key()?;
                    }
                    answered = true;
                }
                self.c_events.push(e);
            }
            if !answered {
                return Ok(());
            }
        }
    }

    fn handshake(&mut self) {
        self.drive().unwrap();
        assert!(self.c.is_established(), "client: {:?}", self.c.error());
        assert!(self.s.is_established(), "server: {:?}", self.s.error());
        assert_eq!(self.c.session_id(), self.s.session_id());
    }
}

/// A channel-data-like payload (message 94) carrying a counter.
fn payload(i: u32, len: usize) -> Vec<u8> {
    let mut p = vec![94];
    p.extend_from_slice(&i.to_be_bytes());
    p.extend((0..len).map(|j| (j as u32).wrapping_mul(31).wrapping_add(i) as u8));
    p
}

fn config_with(kex: &str, host_key: &str, cipher: &str, mac: &str) -> (Config, Config) {
    let mut c = Config::default();
    let mut s = Config::server_default();
    for cfg in [&mut c, &mut s] {
        cfg.algorithms.kex = list(kex);
        cfg.algorithms.host_key = list(host_key);
        cfg.algorithms.ciphers = list(cipher);
        cfg.algorithms.macs = list(mac);
    }
    (c, s)
}

#[test]
fn default_handshake_negotiates_post_quantum_and_strict_kex() {
    let mut p = Pair::default_pair();
    p.handshake();
    let n = p.c.negotiated().unwrap();
    assert_eq!(n.kex, "mlkem768x25519-sha256");
    assert_eq!(n.host_key, "ssh-ed25519");
    assert_eq!(n.cipher_c2s, "chacha20-poly1305@openssh.com");
    assert!(n.strict_kex);
    assert!(p.c.strict && p.s.strict);
    // The server sent EXT_INFO with server-sig-algs and ping.
    let ext = p
        .c_events
        .iter()
        .find_map(|e| match e {
            Event::ExtInfo(x) => Some(x.clone()),
            _ => None,
        })
        .expect("EXT_INFO");
    assert!(
        ext.server_sig_algs()
            .unwrap()
            .unwrap()
            .contains("rsa-sha2-256")
    );
    assert!(p.c.peer_supports_ping());
    assert!(p.c.peer_supports_agent_forward());
    assert_eq!(ext.agent_forward(), Some(&b"0"[..]));
    assert!(matches!(
        p.c_events.first(),
        Some(Event::PeerVersion(v)) if v.starts_with("SSH-2.0-rssh_")
    ));
}

#[test]
fn every_kex_with_every_host_key() {
    for kex in &kex_all() {
        for hk in &host_key_all() {
            let (c, s) = config_with(kex, hk, "aes128-ctr", "hmac-sha2-256");
            let mut p = Pair::new(c, s, host_certs::certified_host_keys());
            p.handshake();
            let n = p.c.negotiated().unwrap();
            assert_eq!((n.kex.as_str(), n.host_key.as_str()), (*kex, *hk));
            let (algorithm, certificate) = p
                .c_events
                .iter()
                .find_map(|e| match e {
                    Event::HostKey {
                        algorithm,
                        certificate,
                        ..
                    } => Some((*algorithm, certificate.is_some())),
                    _ => None,
                })
                .unwrap();
            let alg = crate::HostKeyAlgorithm::from_name(hk).unwrap();
            assert_eq!(algorithm, alg.signature());
            assert_eq!(certificate, alg.is_certificate(), "{hk}");
        }
    }
}

/// Every implemented algorithm of each list, from the algorithm tables.
fn kex_all() -> Vec<&'static str> {
    crate::kex::KexAlgorithm::ALL
        .iter()
        .map(|a| a.name())
        .collect()
}
fn host_key_all() -> Vec<&'static str> {
    crate::config::default_host_key_algorithms().collect()
}
fn ciphers() -> Vec<&'static str> {
    crate::cipher::CipherAlg::DEFAULT
        .iter()
        .map(|a| a.name())
        .collect()
}
fn macs() -> Vec<&'static str> {
    crate::cipher::MacAlg::ALL
        .iter()
        .filter(|m| **m != crate::cipher::MacAlg::None)
        .map(|a| a.name())
        .collect()
}

fn exchange_data(p: &mut Pair, count: u32, len: usize) {
    let before_c = p.c_got.len();
    let before_s = p.s_got.len();
    for i in 0..count {
        p.c.send_payload(&payload(i, len)).unwrap();
        p.s.send_payload(&payload(i + 1000, len)).unwrap();
    }
    p.drive().unwrap();
    let got_s: Vec<_> = p.s_got[before_s..].to_vec();
    let got_c: Vec<_> = p.c_got[before_c..].to_vec();
    assert_eq!(got_s.len(), count as usize);
    assert_eq!(got_c.len(), count as usize);
    for i in 0..count {
        assert_eq!(got_s[i as usize], payload(i, len));
        assert_eq!(got_c[i as usize], payload(i + 1000, len));
    }
}

#[test]
fn every_cipher_with_every_mac_moves_data() {
    for cipher in &ciphers() {
        for mac in &macs() {
            let (c, s) = config_with("curve25519-sha256", "ssh-ed25519", cipher, mac);
            let mut p = Pair::new(c, s, all_host_keys());
            p.handshake();
            exchange_data(&mut p, 5, 3000);
            let n = p.c.negotiated().unwrap();
            assert_eq!(n.cipher_s2c, *cipher);
            if cipher.contains("gcm") || cipher.contains("poly1305") {
                assert_eq!(n.mac_s2c, None);
            } else {
                assert_eq!(n.mac_s2c.as_deref(), Some(*mac));
            }
        }
    }
}

#[test]
fn a_flipped_bit_in_any_encrypted_packet_fails() {
    for cipher in &ciphers() {
        for mac in ["hmac-sha2-256-etm@openssh.com", "hmac-sha2-256"] {
            for pos in [0usize, 3, 4, 5, 20, 60] {
                let (c, s) = config_with("curve25519-sha256", "ssh-ed25519", cipher, mac);
                let mut p = Pair::new(c, s, all_host_keys());
                p.handshake();
                p.c.send_payload(&payload(1, 40)).unwrap();
                p.collect();
                let len = p.c_to_s.len();
                assert!(len > 60);
                p.c_to_s[pos % len] ^= 0x10;
                // A flipped length may make the server wait for a longer
                // packet; more traffic then completes it and the MAC or
                // tag fails. Nothing is ever delivered.
                let mut result = p.drive();
                for i in 0..100 {
                    if result.is_err() {
                        break;
                    }
                    p.c.send_payload(&payload(i, 4000)).unwrap();
                    result = p.drive();
                }
                let err = result.unwrap_err();
                assert_eq!(err.0, Role::Server, "{cipher} {mac} {pos}");
                assert!(
                    matches!(err.1, Error::Protocol { .. }),
                    "{cipher} {mac} {pos}: {:?}",
                    err.1
                );
                assert!(p.s_got.is_empty());
                // The server stays failed and told the client why.
                assert!(p.s.error().is_some());
                assert!(p.s.poll_incoming().is_err());
            }
        }
    }
}

#[test]
fn rekey_forced_from_each_side_with_data_in_flight() {
    for initiator in [Role::Client, Role::Server] {
        let mut p = Pair::default_pair();
        p.handshake();
        let sid = p.c.session_id().unwrap().to_vec();
        for i in 0..10 {
            p.c.send_payload(&payload(i, 500)).unwrap();
            p.s.send_payload(&payload(i + 1000, 500)).unwrap();
        }
        match initiator {
            Role::Client => p.c.force_rekey().unwrap(),
            Role::Server => p.s.force_rekey().unwrap(),
        }
        // Held while the exchange runs, then released in order.
        for i in 10..20 {
            p.c.send_payload(&payload(i, 500)).unwrap();
            p.s.send_payload(&payload(i + 1000, 500)).unwrap();
        }
        p.drive().unwrap();
        assert_eq!(p.c.kex_count(), 2);
        assert_eq!(p.s.kex_count(), 2);
        assert_eq!(
            p.c.session_id().unwrap(),
            sid,
            "session id survives re-keys"
        );
        assert_eq!(
            p.s_got,
            (0..20).map(|i| payload(i, 500)).collect::<Vec<_>>()
        );
        assert_eq!(
            p.c_got,
            (0..20).map(|i| payload(i + 1000, 500)).collect::<Vec<_>>()
        );
        assert!(
            p.c_events
                .iter()
                .any(|e| matches!(e, Event::KexDone { first: false, .. }))
        );
        exchange_data(&mut p, 3, 100);
    }
}

#[test]
fn rekey_by_volume_only_after_authentication() {
    let mut c = Config::default();
    c.rekey.bytes = Some(64 * 1024);
    let mut p = Pair::new(c, Config::server_default(), all_host_keys());
    p.handshake();
    exchange_data(&mut p, 20, 8000);
    assert_eq!(
        p.c.kex_count(),
        1,
        "no re-key of our own before authentication"
    );
    p.c.set_authenticated().unwrap();
    p.s.set_authenticated().unwrap();
    exchange_data(&mut p, 40, 8000);
    assert!(p.c.kex_count() >= 3, "re-keyed {} times", p.c.kex_count());
    assert_eq!(p.c.kex_count(), p.s.kex_count());
}

#[test]
fn rekey_by_time() {
    let mut c = Config::default();
    c.rekey.interval = Some(Duration::from_secs(60));
    let mut p = Pair::new(c, Config::server_default(), all_host_keys());
    p.handshake();
    p.c.set_authenticated().unwrap();
    let deadline = p.c.poll_timeout().expect("a deadline");
    assert_eq!(deadline, p.now + Duration::from_secs(60));
    p.c.handle_timeout(p.now + Duration::from_secs(30)).unwrap();
    assert!(!p.c.in_kex());
    p.now += Duration::from_secs(61);
    p.c.handle_timeout(p.now).unwrap();
    assert!(p.c.in_kex());
    p.drive().unwrap();
    assert_eq!(p.c.kex_count(), 2);
    assert_eq!(p.c.poll_timeout(), Some(p.now + Duration::from_secs(60)));
}

#[test]
fn upper_layer_message_before_newkeys_is_fatal() {
    let mut p = Pair::default_pair();
    p.collect();
    let version_end = p.c_to_s.iter().position(|&b| b == b'\n').unwrap() + 1;
    let len = u32::from_be_bytes(p.c_to_s[version_end..version_end + 4].try_into().unwrap());
    let after = version_end + 4 + len as usize;
    // A client-sent USERAUTH_SUCCESS before keys exist.
    let mut bogus = Vec::new();
    ssh_wire::packet::write_plain(&mut bogus, &[52], &[0; 10]);
    p.c_to_s.splice(after..after, bogus);
    let err = p.drive().unwrap_err();
    assert_eq!(err.0, Role::Server);
    assert!(matches!(err.1, Error::Protocol { .. }));
}

#[test]
fn payloads_sent_before_the_first_kex_wait_for_it() {
    let mut p = Pair::default_pair();
    p.c.send_payload(&payload(1, 10)).unwrap();
    assert!(!p.c.can_send());
    p.handshake();
    assert_eq!(p.s_got, vec![payload(1, 10)]);
}

#[test]
fn guessed_kex_packet_right_and_wrong() {
    // Right: both prefer curve25519 and ed25519.
    let (mut c, s) = config_with(
        "curve25519-sha256,ecdh-sha2-nistp256",
        "ssh-ed25519",
        "aes128-ctr",
        "hmac-sha2-256",
    );
    c.guess_kex = true;
    let mut p = Pair::new(c, s, all_host_keys());
    p.handshake();
    assert_eq!(p.c.negotiated().unwrap().kex, "curve25519-sha256");

    // Wrong: the server prefers another method, so the guessed packet is
    // ignored and the client sends a fresh one.
    let (mut c, mut s) = config_with(
        "curve25519-sha256,ecdh-sha2-nistp256",
        "ssh-ed25519",
        "aes128-ctr",
        "hmac-sha2-256",
    );
    c.guess_kex = true;
    s.algorithms.kex = list("ecdh-sha2-nistp256,curve25519-sha256");
    let mut p = Pair::new(c, s, all_host_keys());
    p.handshake();
    // The client's preference decides the method, but the guess was wrong
    // because the server's first choice differs (RFC 4253 §7).
    assert_eq!(p.c.negotiated().unwrap().kex, "curve25519-sha256");
    exchange_data(&mut p, 2, 10);
}

/// A wrongly guessed packet is ignored unread: it belongs to another
/// method, so under the negotiated one it may not even decode. dbclient
/// guesses curve25519; a server that picks a DH group read its 32-byte
/// `Q_C` as an mpint, and when that began with a zero byte before one
/// below 0x80 (about one connection in 512) it disconnected with "invalid
/// mpint: unnecessary leading byte" (seen in the interop table).
#[test]
fn wrongly_guessed_packet_is_ignored_without_decoding_it() {
    let (mut c, mut s) = config_with(
        "curve25519-sha256,diffie-hellman-group14-sha256",
        "ssh-ed25519",
        "aes128-ctr",
        "hmac-sha2-256",
    );
    c.guess_kex = true;
    s.algorithms.kex = list("diffie-hellman-group14-sha256");
    let mut p = Pair::new(c, s, all_host_keys());
    p.collect();
    let version_end = p.c_to_s.iter().position(|&b| b == b'\n').unwrap() + 1;
    let len = u32::from_be_bytes(p.c_to_s[version_end..version_end + 4].try_into().unwrap());
    let guessed = version_end + 4 + len as usize;
    // The guessed packet: length, padding length, then its payload: the
    // message number and the string Q_C.
    assert_eq!(p.c_to_s[guessed + 5], 30, "the guessed KEX_ECDH_INIT");
    let q_c = guessed + 5 + 1 + 4;
    p.c_to_s[q_c] = 0;
    p.c_to_s[q_c + 1] = 1;
    p.handshake();
    assert_eq!(
        p.s.negotiated().unwrap().kex,
        "diffie-hellman-group14-sha256"
    );
    exchange_data(&mut p, 2, 10);
}

#[test]
fn rejected_host_key_ends_the_connection() {
    let mut p = Pair::default_pair();
    p.accept_host_key = false;
    let err = p.drive().unwrap_err();
    assert_eq!(err, (Role::Client, Error::HostKeyRejected));
    // The server is told: HOST_KEY_NOT_VERIFIABLE.
    p.collect();
    let mut at = 0;
    let data = core::mem::take(&mut p.c_to_s);
    let err = loop {
        at += p.s.handle_input(p.now, &data[at..]).unwrap();
        match p.s.poll_incoming() {
            Err(e) => break e,
            Ok(_) => assert!(at < data.len(), "no disconnect seen"),
        }
    };
    assert!(matches!(
        err,
        Error::PeerDisconnected { reason, .. } if reason == DisconnectReason::HOST_KEY_NOT_VERIFIABLE
    ));
}

#[test]
fn no_common_cipher_names_both_lists() {
    let (c, s) = config_with(
        "curve25519-sha256",
        "ssh-ed25519",
        "aes128-ctr",
        "hmac-sha2-256",
    );
    let (_, mut s2) = (0, s);
    s2.algorithms.ciphers = list("aes256-gcm@openssh.com");
    let mut p = Pair::new(c, s2, all_host_keys());
    let err = p.drive().unwrap_err();
    let text = err.1.to_string();
    assert!(
        text.contains("[aes128-ctr]") && text.contains("[aes256-gcm@openssh.com]"),
        "{text}"
    );
}

#[test]
fn compression_both_kinds() {
    for comp in ["zlib", "zlib@openssh.com"] {
        let mut c = Config::default();
        c.algorithms.compression = list(comp);
        let mut s = Config::server_default();
        s.algorithms.compression = list(&format!("none,{comp}"));
        let mut p = Pair::new(c, s, all_host_keys());
        p.handshake();
        assert_eq!(p.c.negotiated().unwrap().comp_c2s, comp);
        exchange_data(&mut p, 3, 20_000);
        let delayed = comp.contains('@');
        assert_eq!(p.c.tx.comp.is_some(), !delayed);
        p.c.set_authenticated().unwrap();
        p.s.set_authenticated().unwrap();
        assert!(p.c.tx.comp.is_some() && p.s.rx.decomp.is_some());
        let before = p.c.counters().0.bytes;
        exchange_data(&mut p, 3, 20_000);
        let sent = p.c.counters().0.bytes - before;
        assert!(
            sent < 3 * 20_000 / 4,
            "compressed: {sent} bytes on the wire"
        );
    }
}

#[test]
fn service_request_and_ping() {
    let mut p = Pair::default_pair();
    p.handshake();
    p.c.request_service("ssh-userauth").unwrap();
    p.drive().unwrap();
    assert!(
        p.s_events
            .contains(&Event::ServiceRequest("ssh-userauth".into()))
    );
    assert!(
        p.c_events
            .contains(&Event::ServiceAccepted("ssh-userauth".into()))
    );
    assert!(p.c.send_ping(b"x").is_err(), "not before authentication");
    p.c.set_authenticated().unwrap();
    p.s.set_authenticated().unwrap();
    p.c.send_ping(b"hello").unwrap();
    p.drive().unwrap();
    assert!(p.c_events.contains(&Event::Pong(b"hello".to_vec())));
}

#[test]
fn held_queue_is_bounded_and_reports_writable() {
    let mut c = Config::default();
    c.max_held_bytes = 2000;
    let mut p = Pair::new(c, Config::server_default(), all_host_keys());
    p.handshake();
    p.c.force_rekey().unwrap();
    p.c.send_payload(&payload(0, 1500)).unwrap();
    assert_eq!(p.c.send_payload(&payload(1, 1500)), Err(Error::WouldBlock));
    p.drive().unwrap();
    assert!(p.c_events.contains(&Event::Writable));
    assert_eq!(p.s_got, vec![payload(0, 1500)]);
    assert!(p.c.can_send());
}

#[test]
fn peer_sending_data_during_its_own_rekey_is_disconnected() {
    let mut p = Pair::default_pair();
    p.handshake();
    // The server starts a re-key; then (in violation of RFC 4253 §7.1) a
    // data payload is sealed right after its KEXINIT.
    p.s.force_rekey().unwrap();
    p.s.kex.as_mut().unwrap().sent_newkeys = true; // lets it seal data
    p.s.send_payload(&payload(9, 10)).unwrap();
    let err = p.drive().unwrap_err();
    assert_eq!(err.0, Role::Client);
    assert!(
        err.1
            .to_string()
            .contains("key exchange the peer had started"),
        "{}",
        err.1
    );
}

#[test]
fn disconnect_is_sent_and_sticks() {
    let mut p = Pair::default_pair();
    p.handshake();
    p.c.disconnect(DisconnectReason::BY_APPLICATION, "bye");
    assert_eq!(p.c.send_payload(&payload(0, 1)), Err(Error::Disconnected));
    let err = p.drive().unwrap_err();
    assert_eq!(err.0, Role::Server);
    assert!(
        matches!(err.1, Error::PeerDisconnected { ref description, .. } if description == "bye")
    );
}

#[test]
fn unknown_message_is_answered_with_unimplemented() {
    let mut p = Pair::default_pair();
    p.handshake();
    // Message 200 (local extension range) from the client, sealed with the
    // client's current keys.
    p.c.seal_payload(&[200, 1, 2, 3]).unwrap();
    let seq = p.c.tx.seq - 1;
    p.drive().unwrap();
    assert!(
        p.c_events.contains(&Event::Unimplemented(seq)),
        "{:?}",
        p.c_events
    );
    // Both sides carry on.
    exchange_data(&mut p, 2, 10);
}

#[test]
fn a_peer_that_does_not_reset_sequence_numbers_is_cut_off() {
    // A MAC over the sequence number detects it (AES-GCM does not use
    // sequence numbers; with chacha20-poly1305 the length decrypts wrongly
    // first, see a_flipped_bit_in_any_encrypted_packet_fails).
    let (c, s) = config_with(
        "curve25519-sha256",
        "ssh-ed25519",
        "aes128-ctr",
        "hmac-sha2-256-etm@openssh.com",
    );
    let mut p = Pair::new(c, s, all_host_keys());
    p.handshake();
    // A client claiming strict kex but counting on from before NEWKEYS
    // (as a Terrapin-style prefix would make it): its next packet's MAC is
    // computed over the wrong sequence number.
    p.c.tx.seq += 3;
    p.c.send_payload(&payload(1, 10)).unwrap();
    let err = p.drive().unwrap_err();
    assert_eq!(err.0, Role::Server);
    assert!(
        matches!(err.1, Error::Protocol { reason, .. } if reason == DisconnectReason::MAC_ERROR),
        "{:?}",
        err.1
    );
    assert!(p.s_got.is_empty());
}

#[test]
fn upper_layers_can_answer_unimplemented() {
    let mut p = Pair::default_pair();
    p.handshake();
    p.c.send_payload(&[126, 0]).unwrap(); // an unassigned channel number
    let seq = p.c.tx.seq - 1;
    p.collect();
    let data = core::mem::take(&mut p.c_to_s);
    p.s.handle_input(p.now, &data).unwrap();
    assert_eq!(p.s.poll_incoming().unwrap(), Some(&[126u8, 0][..]));
    p.s.reject_last_payload().unwrap();
    p.drive().unwrap();
    assert!(
        p.c_events.contains(&Event::Unimplemented(seq)),
        "{:?}",
        p.c_events
    );
}

mod lending;
