//! The interop cases, as data. Add a case: write a `fn(&mut Ctx) -> Result<()>`
//! and list it in [`all`].

use std::collections::BTreeSet;
use std::fs;
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use serde::Serialize;
use ssh_wire::NameList;
use ssh_wire::version::Version;

use crate::bail;
use crate::interop::{Case, Ctx};
use crate::peer::{HostKeyType, SshdConfig};
use crate::util::{Context, Result};
use crate::wire::{self, Conn};

/// Every case, in table order.
pub fn all() -> Vec<Case> {
    let mut cases = vec![
        Case {
            name: "banner",
            about: "sshd's version line parses and names the image's OpenSSH",
            run: banner,
            param: "",
        },
        Case {
            name: "banner-twice",
            about: "an sshd without -d (sshd -D -e) serves two connections in a row",
            run: banner_twice,
            param: "",
        },
        Case {
            name: "kexinit",
            about: "sshd's first packet is a KEXINIT offering only what `ssh -Q` lists",
            run: kexinit,
            param: "",
        },
        Case {
            name: "client-kexinit",
            about: "ssh's version line and KEXINIT, sent to our listener, match `ssh -Q`",
            run: client_kexinit,
            param: "",
        },
    ];
    cases.extend(crate::transport_cases::cases());
    cases.extend(crate::binary_cases::cases());
    cases.extend(crate::binary_hostcerts::cases());
    cases.extend(crate::forward_cases::cases());
    cases.extend(crate::peer_clients::cases());
    cases.extend(crate::hostile_cases::cases());
    cases.extend(crate::hostile_server::cases());
    cases
}

/// Connects to a fresh `sshd`, reads its version line and checks it is
/// `SSH-2.0-` followed by the OpenSSH version found in the peer.
fn banner(ctx: &mut Ctx<'_>) -> Result<()> {
    let mut sshd = ctx.sshd(&SshdConfig::default())?;
    let mut conn = Conn::connect(sshd.addr())?;
    let (raw, version) = conn.read_server_version()?;
    drop(conn);
    sshd.wait_exit(Duration::from_secs(5));
    if !raw.ends_with(b"\r\n") {
        bail!("version line does not end with CR LF: {raw:?}");
    }
    if version.proto() != "2.0" {
        bail!("protocol version {:?}, expected 2.0", version.proto());
    }
    if !version.as_str().starts_with("SSH-2.0-OpenSSH_") {
        bail!(
            "{:?} does not start with SSH-2.0-OpenSSH_",
            version.as_str()
        );
    }
    let expected = format!("SSH-2.0-{}", ctx.backend.openssh_version());
    if version.as_str() != expected {
        bail!(
            "version line {:?}, but the peer's ssh -V says {expected:?}",
            version.as_str()
        );
    }
    Ok(())
}

/// Starts `sshd -D -e` (not single-connection) and reads its banner on two
/// connections one after the other: the mode later cases use when they
/// need several connections.
fn banner_twice(ctx: &mut Ctx<'_>) -> Result<()> {
    let cfg = SshdConfig {
        single_connection: false,
        ..SshdConfig::default()
    };
    let sshd = ctx.sshd(&cfg)?;
    let mut lines = Vec::new();
    for _ in 0..2 {
        let mut conn = Conn::connect(sshd.addr())?;
        let (_, version) = conn.read_server_version()?;
        lines.push(version.as_str().to_owned());
    }
    let expected = format!("SSH-2.0-{}", ctx.backend.openssh_version());
    if lines.iter().any(|l| *l != expected) {
        bail!("version lines {lines:?}, expected {expected:?} twice");
    }
    let log = sshd.stop();
    if log.matches("Connection from 127.0.0.1").count() < 2 {
        bail!("sshd's log does not show two connections");
    }
    Ok(())
}

/// What `ssh -Q` lists, per KEXINIT field.
struct Supported {
    kex: BTreeSet<String>,
    cipher: BTreeSet<String>,
    mac: BTreeSet<String>,
    key_sig: BTreeSet<String>,
    compression: BTreeSet<String>,
}

fn supported(ctx: &Ctx<'_>) -> Result<Supported> {
    let q = |what: &str| -> Result<BTreeSet<String>> {
        Ok(ctx.backend.query(what)?.into_iter().collect())
    };
    Ok(Supported {
        kex: q("kex")?,
        cipher: q("cipher")?,
        mac: q("mac")?,
        // `key` lists key types; `key-sig` adds the signature algorithms
        // (rsa-sha2-256/512) that KEXINIT's host key list names.
        key_sig: q("key-sig")?,
        compression: q("compression")?,
    })
}

/// Names in KEXINIT's kex list that are markers, not methods.
pub const KEX_MARKERS: [&str; 4] = [
    "ext-info-s",
    "ext-info-c",
    "kex-strict-s-v00@openssh.com",
    "kex-strict-c-v00@openssh.com",
];

/// Every name of `list` that is not in `known` (and not a marker), as
/// problems.
fn unknown_names(
    field: &str,
    list: &NameList,
    known: &BTreeSet<String>,
    problems: &mut Vec<String>,
) {
    for name in list.iter() {
        if !KEX_MARKERS.contains(&name) && !known.contains(name) {
            problems.push(format!(
                "{field} offers {name:?}, which `ssh -Q` does not list"
            ));
        }
    }
}

/// Which side sent a KEXINIT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Side {
    /// `sshd`.
    Server,
    /// `ssh`.
    Client,
}

impl Side {
    /// The strict-kex marker this side sends and the one it must not.
    const fn strict_markers(self) -> (&'static str, &'static str) {
        match self {
            Self::Server => (
                "kex-strict-s-v00@openssh.com",
                "kex-strict-c-v00@openssh.com",
            ),
            Self::Client => (
                "kex-strict-c-v00@openssh.com",
                "kex-strict-s-v00@openssh.com",
            ),
        }
    }

    /// The ext-info marker only the other side may send.
    const fn foreign_ext_info(self) -> &'static str {
        match self {
            Self::Server => "ext-info-c",
            Self::Client => "ext-info-s",
        }
    }
}

/// Checks a KEXINIT from OpenSSH against what its `ssh -Q` lists and
/// against OpenSSH's defaults; returns every problem found. `host_keys`:
/// the keys a server was given (each must be offered).
fn check_kexinit(
    k: &wire::KexInit,
    s: &Supported,
    side: Side,
    host_keys: &[HostKeyType],
) -> Vec<String> {
    let mut problems = Vec::new();
    unknown_names("kex_algorithms", &k.kex_algorithms, &s.kex, &mut problems);
    unknown_names(
        "server_host_key_algorithms",
        &k.server_host_key_algorithms,
        &s.key_sig,
        &mut problems,
    );
    for (field, list) in [
        (
            "encryption_client_to_server",
            &k.encryption_client_to_server,
        ),
        (
            "encryption_server_to_client",
            &k.encryption_server_to_client,
        ),
    ] {
        unknown_names(field, list, &s.cipher, &mut problems);
    }
    for (field, list) in [
        ("mac_client_to_server", &k.mac_client_to_server),
        ("mac_server_to_client", &k.mac_server_to_client),
    ] {
        unknown_names(field, list, &s.mac, &mut problems);
    }
    for (field, list) in [
        (
            "compression_client_to_server",
            &k.compression_client_to_server,
        ),
        (
            "compression_server_to_client",
            &k.compression_server_to_client,
        ),
    ] {
        unknown_names(field, list, &s.compression, &mut problems);
    }
    let mut expect = |field: &str, list: &NameList, name: &str| {
        if !list.contains(name) {
            problems.push(format!(
                "{field} lacks {name:?} (a default of OpenSSH): {list}"
            ));
        }
    };
    expect("kex_algorithms", &k.kex_algorithms, "curve25519-sha256");
    // Strict kex (Terrapin, CVE-2023-48795): every release tested has it.
    let (strict, foreign_strict) = side.strict_markers();
    expect("kex_algorithms", &k.kex_algorithms, strict);
    if side == Side::Client {
        // RFC 8308 §2.1: a client asks for SSH_MSG_EXT_INFO.
        expect("kex_algorithms", &k.kex_algorithms, "ext-info-c");
    }
    for list in [
        &k.encryption_client_to_server,
        &k.encryption_server_to_client,
    ] {
        expect("encryption", list, "chacha20-poly1305@openssh.com");
        expect("encryption", list, "aes256-gcm@openssh.com");
    }
    for list in [&k.mac_client_to_server, &k.mac_server_to_client] {
        expect("mac", list, "hmac-sha2-256-etm@openssh.com");
    }
    for key in host_keys {
        for alg in key.algorithms() {
            expect(
                "server_host_key_algorithms",
                &k.server_host_key_algorithms,
                alg,
            );
        }
    }
    for marker in [foreign_strict, side.foreign_ext_info()] {
        if k.kex_algorithms.contains(marker) {
            problems.push(format!(
                "the {side:?} sends the other side's marker {marker:?}"
            ));
        }
    }
    if k.first_kex_packet_follows {
        problems.push("first_kex_packet_follows is set".to_owned());
    }
    if k.reserved != 0 {
        problems.push(format!("reserved is {}", k.reserved));
    }
    if !k.languages_client_to_server.is_empty() || !k.languages_server_to_client.is_empty() {
        problems.push("languages offered".to_owned());
    }
    problems
}

/// What is saved beside the captured bytes.
#[derive(Serialize)]
struct CaptureInfo<'a> {
    openssh: &'a str,
    version_line: &'a str,
    kex_algorithms: &'a [String],
    server_host_key_algorithms: &'a [String],
    encryption_client_to_server: &'a [String],
    encryption_server_to_client: &'a [String],
    mac_client_to_server: &'a [String],
    mac_server_to_client: &'a [String],
    compression_client_to_server: &'a [String],
    compression_server_to_client: &'a [String],
}

/// Saves a peer's version line and KEXINIT packet as sent, and the decoded
/// lists, under `target/interop-captures/<peer>/<who>-*`.
fn save_capture(
    ctx: &Ctx<'_>,
    who: &str,
    raw_version: &[u8],
    raw_packet: &[u8],
    version: &Version,
    k: &wire::KexInit,
) -> Result<()> {
    let dir = ctx.capture_dir()?;
    for (name, bytes) in [
        (format!("{who}-version-line.bin"), raw_version),
        (format!("{who}-kexinit-packet.bin"), raw_packet),
    ] {
        let path = dir.join(name);
        fs::write(&path, bytes).context(format_args!("writing {}", path.display()))?;
    }
    let info = CaptureInfo {
        openssh: ctx.backend.openssh_version(),
        version_line: version.as_str(),
        kex_algorithms: k.kex_algorithms.names(),
        server_host_key_algorithms: k.server_host_key_algorithms.names(),
        encryption_client_to_server: k.encryption_client_to_server.names(),
        encryption_server_to_client: k.encryption_server_to_client.names(),
        mac_client_to_server: k.mac_client_to_server.names(),
        mac_server_to_client: k.mac_server_to_client.names(),
        compression_client_to_server: k.compression_client_to_server.names(),
        compression_server_to_client: k.compression_server_to_client.names(),
    };
    let path = dir.join(format!("{who}-kexinit.json"));
    let json = serde_json::to_string_pretty(&info).context("encoding capture info")?;
    fs::write(&path, json + "\n").context(format_args!("writing {}", path.display()))
}

/// Sends our version, reads sshd's version and first packet, decodes the
/// KEXINIT and checks it against `ssh -Q` in the same peer. Saves the bytes
/// under `target/interop-captures/<peer>/`.
fn kexinit(ctx: &mut Ctx<'_>) -> Result<()> {
    let cfg = SshdConfig::default();
    let mut sshd = ctx.sshd(&cfg)?;
    let mut conn = Conn::connect(sshd.addr())?;
    conn.send_version()?;
    let (raw_version, version) = conn.read_server_version()?;
    let (raw_packet, payload) = conn.read_plain_packet()?;
    drop(conn);
    sshd.wait_exit(Duration::from_secs(5));

    let k = wire::decode_kexinit(&payload)?;
    save_capture(ctx, "server", &raw_version, &raw_packet, &version, &k)?;
    let problems = check_kexinit(&k, &supported(ctx)?, Side::Server, &cfg.host_keys);
    if !problems.is_empty() {
        bail!("{}", problems.join("\n"));
    }
    Ok(())
}

/// Runs the peer's `ssh` against a listener of ours, reads its version
/// line and KEXINIT, then hangs up; checks them like the server's.
fn client_kexinit(ctx: &mut Ctx<'_>) -> Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", 0)).context("binding 127.0.0.1:0")?;
    let port = listener.local_addr().context("local address")?.port();
    let capture = thread::spawn(move || -> Result<_> {
        let mut conn = Conn::accept(&listener)?;
        conn.send_version()?;
        let (raw_version, version) = conn.read_client_version()?;
        let (raw_packet, payload) = conn.read_plain_packet()?;
        Ok((raw_version, version, raw_packet, payload))
    });
    let port = port.to_string();
    let out = ctx.ssh(
        &[
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
            "-p",
            &port,
            "xtask@127.0.0.1",
            "true",
        ],
        b"",
    )?;
    let Ok(captured) = capture.join() else {
        bail!("the capturing thread panicked");
    };
    let (raw_version, version, raw_packet, payload) = captured?;
    if out.status.success() {
        bail!("ssh succeeded although we hung up after its KEXINIT");
    }
    if !raw_version.ends_with(b"\r\n") {
        bail!("version line does not end with CR LF: {raw_version:?}");
    }
    let expected = format!("SSH-2.0-{}", ctx.backend.openssh_version());
    if version.as_str() != expected {
        bail!(
            "version line {:?}, but the peer's ssh -V says {expected:?}",
            version.as_str()
        );
    }
    let k = wire::decode_kexinit(&payload)?;
    save_capture(ctx, "client", &raw_version, &raw_packet, &version, &k)?;
    let problems = check_kexinit(&k, &supported(ctx)?, Side::Client, &[]);
    if !problems.is_empty() {
        bail!("{}", problems.join("\n"));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    fn list(text: &str) -> NameList {
        NameList::parse(text).unwrap()
    }

    fn good() -> (wire::KexInit, Supported) {
        let k = wire::KexInit {
            cookie: [0; 16],
            kex_algorithms: list("curve25519-sha256,ext-info-s,kex-strict-s-v00@openssh.com"),
            server_host_key_algorithms: list("ssh-ed25519"),
            encryption_client_to_server: list(
                "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com",
            ),
            encryption_server_to_client: list(
                "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com",
            ),
            mac_client_to_server: list("hmac-sha2-256-etm@openssh.com"),
            mac_server_to_client: list("hmac-sha2-256-etm@openssh.com"),
            compression_client_to_server: list("none"),
            compression_server_to_client: list("none"),
            languages_client_to_server: NameList::new(),
            languages_server_to_client: NameList::new(),
            first_kex_packet_follows: false,
            reserved: 0,
        };
        let s = Supported {
            kex: set(&["curve25519-sha256", "diffie-hellman-group14-sha256"]),
            cipher: set(&["chacha20-poly1305@openssh.com", "aes256-gcm@openssh.com"]),
            mac: set(&["hmac-sha2-256-etm@openssh.com"]),
            key_sig: set(&["ssh-ed25519", "rsa-sha2-256"]),
            compression: set(&["none", "zlib@openssh.com"]),
        };
        (k, s)
    }

    #[test]
    fn a_consistent_kexinit_passes() {
        let (k, s) = good();
        assert_eq!(
            check_kexinit(&k, &s, Side::Server, &[HostKeyType::Ed25519]),
            Vec::<String>::new()
        );
    }

    #[test]
    fn unknown_or_missing_names_are_reported() {
        let (mut k, s) = good();
        k.encryption_server_to_client =
            list("chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,rot13");
        let p = check_kexinit(
            &k,
            &s,
            Side::Server,
            &[HostKeyType::Ed25519, HostKeyType::Rsa],
        );
        assert!(p.iter().any(|m| m.contains("\"rot13\"")), "{p:?}");
        assert!(
            p.iter().any(|m| m.contains("lacks \"rsa-sha2-512\"")),
            "{p:?}"
        );

        let (mut k, s) = good();
        k.kex_algorithms = list("curve25519-sha256");
        let p = check_kexinit(&k, &s, Side::Server, &[]);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("kex-strict-s-v00@openssh.com"));
    }

    #[test]
    fn markers_are_not_methods_but_client_markers_are_wrong() {
        let (mut k, s) = good();
        k.kex_algorithms = list("curve25519-sha256,kex-strict-s-v00@openssh.com,ext-info-c");
        let p = check_kexinit(&k, &s, Side::Server, &[]);
        assert_eq!(
            p,
            ["the Server sends the other side's marker \"ext-info-c\""]
        );
    }
}
