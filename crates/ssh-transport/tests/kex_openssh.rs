//! Key exchange against a real OpenSSH server: `sshd -i` on a pipe, our
//! client side of every method OpenSSH 9.x offers, and the server's
//! signature over our exchange hash as the proof that both sides computed
//! the same `K` and `H`.
//!
//! Skipped (with a message) when `/usr/sbin/sshd` or `ssh-keygen` is not
//! installed; methods the installed sshd does not know are skipped too.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use rand::SeedableRng;
use rand::rngs::StdRng;
use ssh_keys::{SignatureAlgorithm, VerifyPolicy};
use ssh_transport::kex::{
    ClientKex, ExchangeHashInput, GexRequest, KexAlgorithm, exchange_hash, verify_exchange_hash,
};
use ssh_wire::Reader;
use ssh_wire::codec::{put_string, put_u32};

const SSHD: &str = "/usr/sbin/sshd";
const V_C: &[u8] = b"SSH-2.0-rssh_kex_test";

fn tools_present() -> bool {
    Path::new(SSHD).exists()
        && Command::new("ssh-keygen")
            .arg("-?")
            .stderr(Stdio::null())
            .status()
            .is_ok()
}

fn host_key(dir: &Path, kind: &str, bits: &str) -> PathBuf {
    let path = dir.join(format!("hostkey_{kind}{bits}"));
    if !path.exists() {
        let mut cmd = Command::new("ssh-keygen");
        cmd.args(["-q", "-N", "", "-t", kind]);
        if !bits.is_empty() {
            cmd.args(["-b", bits]);
        }
        let status = cmd.arg("-f").arg(&path).status().unwrap();
        assert!(status.success());
    }
    path
}

struct Peer {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Peer {
    fn start(host_key: &Path, kex: &str, host_alg: &str) -> Self {
        let mut child = Command::new(SSHD)
            .args(["-i", "-e", "-f", "/dev/null", "-h"])
            .arg(host_key)
            .args([
                "-o",
                &format!("KexAlgorithms={kex}"),
                "-o",
                &format!("HostKeyAlgorithms={host_alg}"),
                "-o",
                "PubkeyAuthentication=no",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Self {
            child,
            stdin,
            stdout,
        }
    }

    fn send_packet(&mut self, payload: &[u8]) {
        // RFC 4253 §6, before NEWKEYS: no MAC, block size 8, >= 4 padding.
        let mut pad = 8 - (5 + payload.len()) % 8;
        if pad < 4 {
            pad += 8;
        }
        let mut out = Vec::new();
        put_u32(&mut out, (1 + payload.len() + pad) as u32);
        out.push(pad as u8);
        out.extend_from_slice(payload);
        out.extend(std::iter::repeat_n(0u8, pad));
        self.stdin.write_all(&out).unwrap();
        self.stdin.flush().unwrap();
    }

    fn read_packet(&mut self) -> Vec<u8> {
        let mut len = [0u8; 4];
        self.stdout.read_exact(&mut len).unwrap();
        let len = u32::from_be_bytes(len) as usize;
        assert!(len < 65536, "packet length {len}");
        let mut body = vec![0u8; len];
        self.stdout.read_exact(&mut body).unwrap();
        let pad = body[0] as usize;
        body[1..len - pad].to_vec()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kexinit(kex: &str, host_alg: &str) -> Vec<u8> {
    let mut p = vec![20];
    p.extend_from_slice(&[7; 16]);
    for list in [
        kex,
        host_alg,
        "aes128-ctr",
        "aes128-ctr",
        "hmac-sha2-256",
        "hmac-sha2-256",
        "none",
        "none",
        "",
        "",
    ] {
        put_string(&mut p, list.as_bytes());
    }
    p.push(0);
    put_u32(&mut p, 0);
    p
}

/// Runs one exchange; `None` when this sshd does not offer the method.
fn exchange(alg: KexAlgorithm, host: SignatureAlgorithm, key: &Path, seed: u64) -> Option<()> {
    let mut peer = Peer::start(key, alg.name(), host.name());
    let mut rng = StdRng::seed_from_u64(seed);
    peer.stdin.write_all(V_C).unwrap();
    peer.stdin.write_all(b"\r\n").unwrap();
    let mut line = String::new();
    peer.stdout.read_line(&mut line).unwrap();
    if line.is_empty() {
        // sshd refused its configuration: a method it does not know.
        return None;
    }
    let v_s = line.trim_end_matches(['\r', '\n']).as_bytes().to_vec();
    assert!(v_s.starts_with(b"SSH-2.0-OpenSSH"), "{line:?}");
    let i_s = peer.read_packet();
    assert_eq!(i_s[0], 20);
    // The server's KEXINIT lists only what we configured; an unknown
    // method leaves its kex list without it.
    let mut r = Reader::new(&i_s[17..]);
    let server_kex = r.utf8("kex").unwrap();
    if !server_kex.split(',').any(|n| n == alg.name()) {
        return None;
    }
    let i_c = kexinit(alg.name(), host.name());
    peer.send_packet(&i_c);

    let request = GexRequest::DEFAULT;
    let (client, init) = if alg.is_group_exchange() {
        let mut req = vec![34];
        put_u32(&mut req, request.min);
        put_u32(&mut req, request.n);
        put_u32(&mut req, request.max);
        peer.send_packet(&req);
        let group = peer.read_packet();
        assert_eq!(group[0], 31);
        let mut r = Reader::new(&group[1..]);
        let p = r.string("p").unwrap().to_vec();
        let g = r.string("g").unwrap().to_vec();
        r.finish("group").unwrap();
        ClientKex::start_gex(alg, &request, &p, &g, &mut rng).unwrap()
    } else {
        ClientKex::start(alg, &mut rng).unwrap()
    };
    let mut msg = vec![if alg.is_group_exchange() { 32 } else { 30 }];
    put_string(&mut msg, &init);
    peer.send_packet(&msg);

    let reply = peer.read_packet();
    assert_eq!(reply[0], if alg.is_group_exchange() { 33 } else { 31 });
    let mut r = Reader::new(&reply[1..]);
    let k_s = r.string("K_S").unwrap().to_vec();
    let server_public = r.string("server public").unwrap().to_vec();
    let signature = r.string("signature").unwrap().to_vec();
    r.finish("reply").unwrap();

    let group = client.group().cloned();
    let k = client.finish(&server_public).unwrap();
    let input = ExchangeHashInput {
        client_version: V_C,
        server_version: &v_s,
        client_kexinit: &i_c,
        server_kexinit: &i_s,
        host_key: &k_s,
        gex: if alg.is_group_exchange() {
            Some((&request, group.as_ref().unwrap()))
        } else {
            None
        },
        client_public: &init,
        server_public: &server_public,
    };
    let h = exchange_hash(alg, &input, &k);
    verify_exchange_hash(host, &k_s, &h, &signature, &VerifyPolicy::default())
        .unwrap_or_else(|e| panic!("{} / {}: {e}", alg.name(), host.name()));
    // And a wrong H does not verify.
    let mut wrong = h.clone();
    wrong[0] ^= 1;
    assert!(
        verify_exchange_hash(host, &k_s, &wrong, &signature, &VerifyPolicy::default()).is_err()
    );
    Some(())
}

#[test]
fn every_method_against_openssh() {
    if !tools_present() {
        eprintln!("skipped: {SSHD} or ssh-keygen not installed");
        return;
    }
    let dir = std::env::temp_dir().join(format!("rssh-kex-openssh-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ed25519 = host_key(&dir, "ed25519", "");
    let mut done = Vec::new();
    for (i, alg) in KexAlgorithm::ALL.into_iter().enumerate() {
        if exchange(alg, SignatureAlgorithm::Ed25519, &ed25519, i as u64).is_some() {
            done.push(alg.name());
        }
    }
    eprintln!("exchanged with OpenSSH: {done:?}");
    // Every OpenSSH since 8.5 has these.
    for name in [
        "sntrup761x25519-sha512@openssh.com",
        "curve25519-sha256",
        "ecdh-sha2-nistp256",
        "ecdh-sha2-nistp521",
        "diffie-hellman-group-exchange-sha256",
        "diffie-hellman-group16-sha512",
        "diffie-hellman-group18-sha512",
        "diffie-hellman-group14-sha256",
    ] {
        assert!(done.contains(&name), "{name} was not exchanged");
    }

    // Every host key type, over curve25519-sha256.
    let hosts = [
        (
            "ecdsa",
            "256",
            SignatureAlgorithm::from_name("ecdsa-sha2-nistp256").unwrap(),
        ),
        (
            "ecdsa",
            "384",
            SignatureAlgorithm::from_name("ecdsa-sha2-nistp384").unwrap(),
        ),
        (
            "ecdsa",
            "521",
            SignatureAlgorithm::from_name("ecdsa-sha2-nistp521").unwrap(),
        ),
        ("rsa", "2048", SignatureAlgorithm::RsaSha256),
        ("rsa", "2048", SignatureAlgorithm::RsaSha512),
    ];
    for (i, (kind, bits, alg)) in hosts.into_iter().enumerate() {
        let key = host_key(&dir, kind, bits);
        assert!(
            exchange(KexAlgorithm::Curve25519Sha256, alg, &key, 100 + i as u64).is_some(),
            "{}",
            alg.name()
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
