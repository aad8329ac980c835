//! The algorithm rows of the clients in [`crate::peer_clients`]: what a
//! client offers (its KEXINIT, captured once per peer), and one connection
//! per name it shares with the row's server, the server allowing that name
//! alone and its log naming it.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use crate::bail;
use crate::binary_setup::{Setup, Srv};
use crate::interop::Ctx;
use crate::peer::HostKeyType;
use crate::peer_clients::{Client, Run, Target, expect_stdout, fields, prepare, run, run_ok};
use crate::util::{Context, Result};
use crate::wire::{self, Conn};

/// The algorithm lists of KEXINIT a row can go through. (Rows per host
/// key algorithm and per MAC would cost about 30 s more per run for the
/// three releases; the transport matrix against OpenSSH has them.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Kex,
    HostKey,
    Cipher,
}

impl Kind {
    /// Every kind, in row order.
    pub(crate) const ALL: [Self; 3] = [Self::Kex, Self::HostKey, Self::Cipher];

    /// The row name's suffix and the parameter's detail.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::Kex => "kex",
            Self::HostKey => "hostkey",
            Self::Cipher => "cipher",
        }
    }

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// `ssh -Q` of it.
    pub(crate) const fn query(self) -> &'static str {
        match self {
            Self::Kex => "kex",
            Self::HostKey => "key-sig",
            Self::Cipher => "cipher",
        }
    }

    /// The `sshd_config`/`ssh_config` keyword.
    pub(crate) const fn keyword(self) -> &'static str {
        match self {
            Self::Kex => "KexAlgorithms",
            Self::HostKey => "HostKeyAlgorithms",
            Self::Cipher => "Ciphers",
        }
    }

    /// Every name of ours, from the transport's tables.
    pub(crate) fn ours(self) -> Vec<String> {
        use ssh_transport::cipher::CipherAlg;
        use ssh_transport::kex::KexAlgorithm;
        match self {
            Self::Kex => KexAlgorithm::ALL
                .iter()
                .map(|a| a.name().to_owned())
                .collect(),
            Self::HostKey => ssh_transport::config::default_host_key_algorithms()
                .map(str::to_owned)
                .collect(),
            Self::Cipher => CipherAlg::DEFAULT
                .iter()
                .map(|a| a.name().to_owned())
                .collect(),
        }
    }

    /// The list of this kind in a KEXINIT (client to server for ciphers).
    pub(crate) fn list(self, k: &wire::KexInit) -> Vec<String> {
        let list = match self {
            Self::Kex => &k.kex_algorithms,
            Self::HostKey => &k.server_host_key_algorithms,
            Self::Cipher => &k.encryption_client_to_server,
        };
        list.iter()
            .filter(|n| !crate::cases::KEX_MARKERS.contains(n))
            .map(str::to_owned)
            .collect()
    }

    /// The server's configuration line allowing `name` alone.
    pub(crate) fn server_line(self, name: &str) -> String {
        format!("{} {name}", self.keyword())
    }
}

/// What a log says when a connection used `name` of `kind`: OpenSSH's
/// `debug1: kex: ...` lines (`openssh`), else ssh-transport's `kex:`
/// debug event (`rsshd`'s log, `rssh -vv`).
pub(crate) fn evidence(openssh: bool, kind: Kind, name: &str) -> String {
    match (openssh, kind) {
        (true, Kind::Kex) => format!("kex: algorithm: {name}"),
        (true, Kind::HostKey) => format!("kex: host key algorithm: {name}"),
        (true, Kind::Cipher) => format!("kex: client->server cipher: {name} "),
        (false, Kind::Kex) => format!("kex: algorithm {name},"),
        (false, Kind::HostKey) => format!(", host key {name},"),
        (false, Kind::Cipher) => format!("client->server {name} MAC"),
    }
}

/// The host key type signing with `alg`.
pub(crate) fn host_key_type(alg: &str) -> Option<HostKeyType> {
    HostKeyType::ALL
        .into_iter()
        .find(|t| t.algorithms().contains(&alg) || (alg == "ssh-rsa" && *t == HostKeyType::Rsa))
}

/// What a client offers in its KEXINIT, captured once per peer and client.
pub(crate) fn offered(
    ctx: &mut Ctx<'_>,
    client: &dyn Client,
    setup: &Setup,
) -> Result<wire::KexInit> {
    static SEEN: Mutex<BTreeMap<String, wire::KexInit>> = Mutex::new(BTreeMap::new());
    let id = format!("{}/{}", ctx.backend.name(), client.name());
    if let Some(k) = SEEN.lock().unwrap_or_else(PoisonError::into_inner).get(&id) {
        return Ok(k.clone());
    }
    let listener = TcpListener::bind(("127.0.0.1", 0)).context("binding 127.0.0.1:0")?;
    let port = listener.local_addr().context("local address")?.port();
    let capture = thread::spawn(move || -> Result<Vec<u8>> {
        let mut conn = Conn::accept(&listener)?;
        conn.send_version()?;
        conn.read_client_version()?;
        Ok(conn.read_plain_packet()?.1)
    });
    let mut r = Run::new(None, "true");
    r.timeout = Duration::from_secs(20);
    // The client fails when we hang up after its KEXINIT.
    let out = run(ctx, client, setup, port, &r);
    let Ok(payload) = capture.join() else {
        bail!("the capturing thread panicked");
    };
    let payload = match payload {
        Ok(p) => p,
        Err(e) => bail!(
            "{}'s KEXINIT did not arrive: {e} (the client: {out:?})",
            client.name()
        ),
    };
    let k = wire::decode_kexinit(&payload)?;
    SEEN.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(id, k.clone());
    Ok(k)
}

/// The names of `kind` the client offers and we have (and for the rows
/// against sshd, sshd has too), in the client's order.
pub(crate) fn shared(
    ctx: &mut Ctx<'_>,
    client: &dyn Client,
    setup: &Setup,
    kind: Kind,
) -> Result<Vec<String>> {
    let offer = kind.list(&offered(ctx, client, setup)?);
    // The validation rows go through the same names, where sshd has them.
    let mut server = kind.ours();
    if Target::of(ctx) == Target::Sshd {
        let sshd = ctx.backend.query(kind.query())?;
        server.retain(|n| sshd.contains(n));
    }
    let both: Vec<String> = offer
        .iter()
        .filter(|n| server.contains(n) && !client.refuses(kind, n))
        // Host key algorithms need a host key of ours (no security keys).
        .filter(|n| kind != Kind::HostKey || host_key_type(n).is_some())
        .cloned()
        .collect();
    if both.is_empty() {
        bail!(
            "no {} shared: {} offers {offer:?}, the server has {server:?}",
            kind.name(),
            client.name()
        );
    }
    Ok(both)
}

/// One connection per name of the row's kind: the server allows that
/// name alone (and its host key only, for host key algorithms), the
/// client runs `echo ok`, the server's log names the algorithm.
pub(crate) fn algorithms(ctx: &mut Ctx<'_>) -> Result<()> {
    let Some(kind) = Kind::from_name(fields(ctx).1) else {
        bail!("no algorithm kind in {:?}", ctx.param);
    };
    let target = Target::of(ctx);
    let (client, setup, key) = prepare(ctx)?;
    let names = shared(ctx, client, &setup, kind)?;
    let mut failures = Vec::new();
    for name in &names {
        let mut srv = Srv {
            extra: vec![kind.server_line(name)],
            ..Srv::default()
        };
        if kind == Kind::HostKey {
            let Some(t) = host_key_type(name) else {
                bail!("no host key type signs with {name}");
            };
            srv.host_keys = vec![t];
        }
        let server = setup.start(ctx, &srv)?;
        let mut r = Run::new(Some(key.clone()), "echo ok");
        r.opts = client.choose(kind, name);
        let result = run_ok(ctx, client, &setup, server.port(), &r)
            .and_then(|out| expect_stdout(&out, "ok\n"));
        let log = server.stop();
        let needle = evidence(target == Target::Sshd, kind, name);
        match result {
            Err(e) => failures.push(format!("{name}: {e}")),
            Ok(()) if !log.contains(&needle) => {
                failures.push(format!("{name}: the server's log lacks {needle:?}"));
            }
            Ok(()) => {}
        }
    }
    println!(
        "  {}: {}>{} {}: {}",
        ctx.backend.name(),
        client.name(),
        target.name(),
        kind.name(),
        names.join(" ")
    );
    if !failures.is_empty() {
        bail!(
            "{} of {} failed:\n{}",
            failures.len(),
            names.len(),
            failures.join("\n")
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_names_the_algorithm_in_each_servers_words() {
        assert_eq!(
            evidence(true, Kind::Kex, "curve25519-sha256"),
            "kex: algorithm: curve25519-sha256"
        );
        assert_eq!(
            evidence(false, Kind::Cipher, "aes128-ctr"),
            "client->server aes128-ctr MAC"
        );
        assert_eq!(
            Kind::Kex.server_line("curve25519-sha256"),
            "KexAlgorithms curve25519-sha256"
        );
        assert_eq!(host_key_type("rsa-sha2-512"), Some(HostKeyType::Rsa));
        assert_eq!(
            host_key_type("ecdsa-sha2-nistp384"),
            Some(HostKeyType::EcdsaP384)
        );
        assert_eq!(host_key_type("ssh-dss"), None);
    }
}
