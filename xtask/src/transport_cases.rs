//! Interop cases for the transport layer: for each algorithm both sides
//! support, both directions complete a key exchange, a service request,
//! a (trivial) authentication and then a re-key forced by our side, and
//! exchange one more message under the new keys:
//!
//! - our client transport against `sshd`: `none` authentication of a
//!   throwaway user with an empty password inside the container
//!   (`PermitEmptyPasswords yes`), then a forced re-key, then a global
//!   request answered by `sshd`;
//! - OpenSSH's `ssh` against our server transport, which accepts `none`,
//!   forces a re-key, and refuses the session channel under the new keys.
//!
//! Both OpenSSH sides refuse a re-key before authentication (their
//! pre-auth dispatch tables have no KEXINIT), as does our transport's own
//! policy, so the re-key comes after it. The algorithm lists are data: one
//! table row per algorithm.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;
use ssh_keys::{EcdsaCurve, KeyType, PrivateKey, Signer};
use ssh_transport::{Config, Event, HostKey, Transport};
use ssh_wire::NameList;
use ssh_wire::codec::put_string;

use crate::bail;
use crate::interop::{Case, Ctx, skip};
use crate::peer::SshdConfig;
use crate::util::{Context, Result};

/// Which list an algorithm belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Kex,
    HostKey,
    Cipher,
    Mac,
}

impl Kind {
    /// The `ssh -Q` query listing the peer's support.
    const fn query(self) -> &'static str {
        match self {
            Self::Kex => "kex",
            Self::HostKey => "key-sig",
            Self::Cipher => "cipher",
            Self::Mac => "mac",
        }
    }

    /// The `ssh_config` / `sshd_config` keyword.
    const fn keyword(self) -> &'static str {
        match self {
            Self::Kex => "KexAlgorithms",
            Self::HostKey => "HostKeyAlgorithms",
            Self::Cipher => "Ciphers",
            Self::Mac => "MACs",
        }
    }
}

/// The function of an interop case.
type CaseFn = fn(&mut Ctx<'_>) -> Result<()>;

/// One row per algorithm, each run in both directions.
pub fn cases() -> Vec<Case> {
    use ssh_transport::cipher::{CipherAlg, MacAlg};
    use ssh_transport::kex::KexAlgorithm;
    let mut out = Vec::new();
    // Every algorithm we implement, from the algorithm tables.
    let lists: [(Kind, Vec<&'static str>, CaseFn); 4] = [
        (
            Kind::Kex,
            KexAlgorithm::ALL.iter().map(|a| a.name()).collect(),
            kex,
        ),
        // Plain host keys: the certificate algorithms need certificates
        // on both sides, and have their rows in `binary_hostcerts`.
        (
            Kind::HostKey,
            ssh_transport::config::default_host_key_algorithms()
                .filter(|n| !n.ends_with("-cert-v01@openssh.com"))
                .collect(),
            host_key,
        ),
        (
            Kind::Cipher,
            CipherAlg::DEFAULT.iter().map(|a| a.name()).collect(),
            cipher,
        ),
        (
            Kind::Mac,
            MacAlg::ALL
                .iter()
                .filter(|m| **m != MacAlg::None)
                .map(|a| a.name())
                .collect(),
            mac,
        ),
    ];
    for (kind, names, run) in lists {
        for name in names {
            let label: &'static str =
                Box::leak(format!("{}:{name}", kind.query()).into_boxed_str());
            out.push(Case {
                name: label,
                about: "our transport and OpenSSH complete a key exchange and a re-key, both ways",
                run,
                param: name,
            });
        }
    }
    out.push(Case {
        name: "rekey:sshd-initiated",
        about: "sshd starts a re-key (RekeyLimit default 1) after authentication; our client follows",
        run: sshd_initiated_rekey,
        param: "",
    });
    out
}

fn kex(ctx: &mut Ctx<'_>) -> Result<()> {
    both_ways(ctx, Kind::Kex)
}
fn host_key(ctx: &mut Ctx<'_>) -> Result<()> {
    both_ways(ctx, Kind::HostKey)
}
fn cipher(ctx: &mut Ctx<'_>) -> Result<()> {
    both_ways(ctx, Kind::Cipher)
}
fn mac(ctx: &mut Ctx<'_>) -> Result<()> {
    both_ways(ctx, Kind::Mac)
}

fn both_ways(ctx: &mut Ctx<'_>, kind: Kind) -> Result<()> {
    let name = ctx.param;
    if !ctx.backend.query(kind.query())?.iter().any(|n| n == name) {
        return Err(skip(format!(
            "{} does not support {name}",
            ctx.backend.openssh_version()
        )));
    }
    our_client(ctx, kind, name).context("rssh transport -> sshd")?;
    our_server(ctx, kind, name).context("ssh -> rsshd transport")?;
    Ok(())
}

fn list(text: &str) -> NameList {
    NameList::parse(text).unwrap_or_default()
}

/// Our configuration with `kind` restricted to `name` (and a non-AEAD
/// cipher when a MAC is tested, so the MAC is used).
fn restrict(mut cfg: Config, kind: Kind, name: &str) -> Config {
    let a = &mut cfg.algorithms;
    match kind {
        Kind::Kex => a.kex = list(name),
        Kind::HostKey => a.host_key = list(name),
        Kind::Cipher => a.ciphers = list(name),
        Kind::Mac => {
            a.macs = list(name);
            a.ciphers = list("aes128-ctr");
        }
    }
    cfg
}

fn rng() -> Box<dyn rand_core::CryptoRng + Send> {
    Box::new(StdRng::from_rng(&mut rand::rng()))
}

/// USERAUTH_REQUEST for method `none`.
fn userauth_none() -> Vec<u8> {
    let mut p = vec![50];
    put_string(&mut p, USER.as_bytes());
    put_string(&mut p, b"ssh-connection");
    put_string(&mut p, b"none");
    p
}

/// CHANNEL_OPEN_FAILURE (administratively prohibited) for a CHANNEL_OPEN.
fn open_failure(open: &[u8]) -> Result<Vec<u8>> {
    let mut r = ssh_wire::Reader::new(open.get(1..).unwrap_or_default());
    let sender = r
        .string("channel type")
        .and_then(|_| r.u32("sender channel"))
        .map_err(|e| format!("CHANNEL_OPEN: {e}"))?;
    let mut p = vec![92];
    p.extend_from_slice(&sender.to_be_bytes());
    p.extend_from_slice(&1u32.to_be_bytes());
    put_string(&mut p, b"xtask");
    put_string(&mut p, b"");
    Ok(p)
}

/// What a driver step asks for.
enum Flow {
    Continue,
    Done,
}

/// Runs a transport over a blocking socket until `on` says done. Every
/// event and upper-layer payload goes to `on`.
fn drive(
    stream: &mut TcpStream,
    t: &mut Transport,
    mut on: impl FnMut(&mut Transport, Option<Event>, Option<Vec<u8>>) -> Result<Flow>,
) -> Result<()> {
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .context("socket timeout")?;
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        t.poll_transmit(&mut out);
        if !out.is_empty() {
            stream.write_all(&out).context("writing to the peer")?;
            out.clear();
        }
        let n = stream.read(&mut buf).context("reading from the peer")?;
        if n == 0 {
            bail!("the peer closed the connection");
        }
        let mut at = 0;
        while at < n {
            let chunk = buf.get(at..n).unwrap_or_default();
            at += t
                .handle_input(Instant::now(), chunk)
                .map_err(|e| format!("transport: {e}"))?;
            loop {
                let mut progressed = false;
                loop {
                    let p = match t.poll_incoming() {
                        Ok(Some(p)) => p.to_vec(),
                        Ok(None) => break,
                        Err(e) => {
                            // Events queued before the error still count
                            // (a KexDone before the peer's DISCONNECT).
                            while let Some(ev) = t.poll_event() {
                                on(t, Some(ev), None)?;
                            }
                            bail!("transport: {e}");
                        }
                    };
                    progressed = true;
                    if let Flow::Done = on(t, None, Some(p))? {
                        return flush(stream, t);
                    }
                }
                while let Some(e) = t.poll_event() {
                    progressed = true;
                    if let Flow::Done = on(t, Some(e), None)? {
                        return flush(stream, t);
                    }
                }
                if !progressed {
                    break;
                }
            }
        }
    }
}

fn flush(stream: &mut TcpStream, t: &mut Transport) -> Result<()> {
    let mut out = Vec::new();
    t.poll_transmit(&mut out);
    stream.write_all(&out).context("writing to the peer")
}

/// The throwaway account inside a container: no password, so that
/// `none` authentication succeeds with `PermitEmptyPasswords yes`.
const USER: &str = "xtask";

/// Creates [`USER`] in the container if needed. Never on the host backend,
/// whose accounts are the machine's own.
fn ensure_user(ctx: &Ctx<'_>) -> Result<()> {
    if ctx.backend.name() == "host" {
        return Err(skip("needs a container for its throwaway account"));
    }
    // Written directly: newer minimal images lack useradd and passwd.
    let script = format!(
        "set -e; grep -q '^{USER}:' /etc/passwd || {{ \
         echo '{USER}::4242:4242:{USER}:/home/{USER}:/bin/sh' >> /etc/passwd; \
         echo '{USER}:x:4242:' >> /etc/group; \
         if [ -f /etc/shadow ]; then echo '{USER}::20000:0:99999:7:::' >> /etc/shadow; fi; \
         mkdir -p /home/{USER}; chown 4242:4242 /home/{USER}; }}"
    );
    crate::util::checked_output(&mut ctx.backend.command("sh", &["-c", &script]))?;
    Ok(())
}

/// GLOBAL_REQUEST `keepalive@openssh.com` wanting a reply; sshd answers
/// REQUEST_FAILURE.
fn keepalive() -> Vec<u8> {
    let mut p = vec![80];
    put_string(&mut p, b"keepalive@openssh.com");
    p.push(1);
    p
}

/// Our client against `sshd`: key exchange, service, `none` authentication,
/// a re-key forced by us, and a global request answered under the new keys.
fn our_client(ctx: &mut Ctx<'_>, kind: Kind, name: &str) -> Result<()> {
    ensure_user(ctx)?;
    let cfg = SshdConfig {
        extra: vec![
            format!("{} +{name}", kind.keyword()),
            "PasswordAuthentication yes".to_owned(),
            "PermitEmptyPasswords yes".to_owned(),
        ],
        ..SshdConfig::default()
    };
    let mut sshd = ctx.sshd(&cfg)?;
    let mut stream = TcpStream::connect(sshd.addr()).context("connecting to sshd")?;
    let mut t = Transport::client(restrict(Config::default(), kind, name), rng())
        .map_err(|e| format!("client: {e}"))?;
    let mut rekeyed = false;
    let result = drive(&mut stream, &mut t, |t, event, payload| {
        match (event, payload) {
            (Some(Event::HostKey { algorithm, .. }), _) => {
                if kind == Kind::HostKey && algorithm.name() != name {
                    bail!("host key algorithm {}", algorithm.name());
                }
                t.accept_host_key().map_err(|e| e.to_string())?;
            }
            (Some(Event::KexDone { negotiated, first }), _) => {
                check_negotiated(kind, name, &negotiated)?;
                if first {
                    t.request_service("ssh-userauth")
                        .map_err(|e| e.to_string())?;
                } else {
                    rekeyed = true;
                    t.send_payload(&keepalive()).map_err(|e| e.to_string())?;
                }
            }
            (Some(Event::ServiceAccepted(_)), _) => {
                t.send_payload(&userauth_none())
                    .map_err(|e| e.to_string())?;
            }
            (_, Some(p)) => match p.first() {
                // USERAUTH_SUCCESS: re-key now that it is allowed.
                Some(52) => {
                    t.set_authenticated().map_err(|e| e.to_string())?;
                    t.force_rekey().map_err(|e| e.to_string())?;
                }
                // REQUEST_FAILURE to our keepalive, under the new keys.
                Some(82) if rekeyed => return Ok(Flow::Done),
                // Banner, global requests (hostkeys-00), failures.
                Some(53 | 80) => {}
                Some(51) => bail!("sshd refused the none authentication"),
                other => bail!("unexpected message {other:?}"),
            },
            _ => {}
        }
        Ok(Flow::Continue)
    });
    drop(stream);
    sshd.wait_exit(Duration::from_secs(5));
    result?;
    if t.kex_count() != 2 {
        bail!("{} key exchanges, expected 2", t.kex_count());
    }
    Ok(())
}

/// `sshd` with a one-second re-key time limit: after our client has
/// authenticated and waited, sshd starts the re-key (before its next
/// packet); our client answers it and gets the reply under the new keys.
fn sshd_initiated_rekey(ctx: &mut Ctx<'_>) -> Result<()> {
    ensure_user(ctx)?;
    let cfg = SshdConfig {
        extra: vec![
            "PasswordAuthentication yes".to_owned(),
            "PermitEmptyPasswords yes".to_owned(),
            "RekeyLimit default 1".to_owned(),
        ],
        ..SshdConfig::default()
    };
    let mut sshd = ctx.sshd(&cfg)?;
    let mut stream = TcpStream::connect(sshd.addr()).context("connecting to sshd")?;
    let mut t = Transport::client(Config::default(), rng()).map_err(|e| format!("client: {e}"))?;
    let result = drive(&mut stream, &mut t, |t, event, payload| {
        match (event, payload) {
            (Some(Event::HostKey { .. }), _) => t.accept_host_key().map_err(|e| e.to_string())?,
            (Some(Event::KexDone { first: true, .. }), _) => {
                t.request_service("ssh-userauth")
                    .map_err(|e| e.to_string())?;
            }
            // sshd's re-key is answered by our transport on its own.
            (Some(Event::ServiceAccepted(_)), _) => {
                t.send_payload(&userauth_none())
                    .map_err(|e| e.to_string())?;
            }
            (_, Some(p)) => match p.first() {
                Some(52) => {
                    t.set_authenticated().map_err(|e| e.to_string())?;
                    // Past sshd's one-second limit before the next packet.
                    thread::sleep(Duration::from_millis(1500));
                    t.send_payload(&keepalive()).map_err(|e| e.to_string())?;
                }
                // Payloads are polled before events, so ask the transport.
                Some(82) if t.kex_count() == 2 => return Ok(Flow::Done),
                Some(82) => bail!("sshd answered without re-keying"),
                Some(53 | 80) => {}
                other => bail!("unexpected message {other:?}"),
            },
            _ => {}
        }
        Ok(Flow::Continue)
    });
    drop(stream);
    sshd.wait_exit(Duration::from_secs(5));
    result?;
    if t.kex_count() != 2 {
        bail!("{} key exchanges, expected 2", t.kex_count());
    }
    Ok(())
}

/// The negotiated algorithm of `kind` must be `name`.
fn check_negotiated(
    kind: Kind,
    name: &str,
    n: &ssh_transport::negotiate::Negotiated,
) -> Result<()> {
    let got = match kind {
        Kind::Kex => n.kex.clone(),
        Kind::HostKey => n.host_key.clone(),
        Kind::Cipher => n.cipher_c2s.clone(),
        Kind::Mac => n.mac_c2s.clone().unwrap_or_default(),
    };
    if got != name {
        bail!("negotiated {got}, not {name}");
    }
    Ok(())
}

/// Host keys of every type for our server (the RSA key made once).
fn host_keys() -> Vec<HostKey> {
    static RSA: OnceLock<Option<PrivateKey>> = OnceLock::new();
    struct Shared(&'static PrivateKey);
    impl Signer for Shared {
        fn public_key(&self) -> &ssh_keys::PublicKey {
            self.0.public_key()
        }
        fn sign(
            &self,
            alg: ssh_keys::SignatureAlgorithm,
            data: &[u8],
            rng: &mut dyn rand_core::CryptoRng,
        ) -> std::result::Result<Vec<u8>, ssh_keys::Error> {
            self.0.sign(alg, data, rng)
        }
    }
    let mut r = StdRng::from_rng(&mut rand::rng());
    let mut keys: Vec<HostKey> = Vec::new();
    for t in [
        KeyType::Ed25519,
        KeyType::Ecdsa(EcdsaCurve::NistP256),
        KeyType::Ecdsa(EcdsaCurve::NistP384),
        KeyType::Ecdsa(EcdsaCurve::NistP521),
    ] {
        if let Ok(k) = PrivateKey::generate(t, &mut r) {
            keys.push(Box::new(k));
        }
    }
    if let Some(k) = RSA
        .get_or_init(|| {
            PrivateKey::generate_rsa(2048, &mut StdRng::from_rng(&mut rand::rng())).ok()
        })
        .as_ref()
    {
        keys.push(Box::new(Shared(k)));
    }
    keys
}

/// OpenSSH's `ssh` against our server transport, which accepts `none`,
/// re-keys, and refuses the session channel under the new keys.
fn our_server(ctx: &mut Ctx<'_>, kind: Kind, name: &str) -> Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).context("binding 127.0.0.1:0")?;
    let port = listener.local_addr().context("local address")?.port();
    let cfg = restrict(Config::server_default(), kind, name);
    let wanted = name.to_owned();
    let server = thread::spawn(move || -> Result<u64> {
        let (mut stream, _) = listener.accept().context("accepting ssh")?;
        let mut t =
            Transport::server(cfg, host_keys(), rng()).map_err(|e| format!("server: {e}"))?;
        let mut rekeyed = false;
        let mut refused = false;
        let result = drive(&mut stream, &mut t, |t, event, payload| {
            match (event, payload) {
                (Some(Event::ServiceRequest(_)), _) => {
                    t.accept_service().map_err(|e| e.to_string())?;
                }
                (Some(Event::KexDone { negotiated, first }), _) => {
                    check_negotiated(kind, &wanted, &negotiated)?;
                    rekeyed |= !first;
                }
                // USERAUTH_REQUEST: accept whatever it is (`none`), then
                // re-key now that it is allowed.
                (_, Some(p)) if p.first() == Some(&50) => {
                    t.send_payload(&[52]).map_err(|e| e.to_string())?;
                    t.set_authenticated().map_err(|e| e.to_string())?;
                    t.force_rekey().map_err(|e| e.to_string())?;
                }
                // CHANNEL_OPEN: refused, sent after the re-key's NEWKEYS.
                (_, Some(p)) if p.first() == Some(&90) => {
                    t.send_payload(&open_failure(&p)?)
                        .map_err(|e| e.to_string())?;
                    refused = true;
                }
                (_, Some(_)) => {}
                _ => {}
            }
            Ok(Flow::Continue)
        });
        let answered = refused && rekeyed;
        match result {
            // ssh gives up after the refusal and hangs up.
            Err(e) if answered && (e.0.contains("closed") || e.0.contains("disconnected")) => {
                Ok(t.kex_count())
            }
            Err(e) => Err(e),
            Ok(()) => Ok(t.kex_count()),
        }
    });
    let port = port.to_string();
    let target = format!("{USER}@127.0.0.1");
    let option = format!("{}={name}", kind.keyword());
    let mut args = vec![
        "-vvv",
        "-F",
        "/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "ConnectTimeout=10",
        "-o",
        &option,
    ];
    if kind == Kind::Mac {
        args.extend(["-o", "Ciphers=aes128-ctr"]);
    }
    args.extend(["-p", &port, &target, "true"]);
    let out = ctx.ssh(&args, b"")?;
    let Ok(server) = server.join() else {
        bail!("the server thread panicked");
    };
    let kex_count = server?;
    let log = String::from_utf8_lossy(&out.stderr);
    let want = match kind {
        Kind::Kex => format!("kex: algorithm: {name}"),
        Kind::HostKey => format!("kex: host key algorithm: {name}"),
        Kind::Cipher => format!("kex: server->client cipher: {name}"),
        Kind::Mac => format!("MAC: {name}"),
    };
    if !log.contains(&want) {
        bail!("ssh's log lacks {want:?}");
    }
    let newkeys = log.matches("SSH2_MSG_NEWKEYS received").count();
    if newkeys < 2 {
        bail!("ssh saw {newkeys} NEWKEYS, expected 2 (the first exchange and our re-key)");
    }
    for line in [
        "SSH2_MSG_SERVICE_ACCEPT received",
        "Authenticated to 127.0.0.1",
        "open failed: administratively prohibited: xtask",
    ] {
        if !log.contains(line) {
            bail!("ssh's log lacks {line:?}");
        }
    }
    if kex_count != 2 {
        bail!("our server finished {kex_count} key exchanges, expected 2");
    }
    Ok(())
}
