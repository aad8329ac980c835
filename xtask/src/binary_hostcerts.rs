//! Host certificate rows: certificates made by the peer's own
//! `ssh-keygen -s CA -h -I id -n principals -V validity`, a known hosts
//! file holding only `@cert-authority` (and `@revoked`, or the plain key,
//! where a row says so), `StrictHostKeyChecking=yes`.
//!
//! Each setting runs three ways:
//! - `ssh>rsshd:hostcert-*`: the peer's `ssh` against our `rsshd` with
//!   `HostCertificate`;
//! - `rssh>sshd:hostcert-*`: our `rssh` against the peer's `sshd` with
//!   `HostCertificate`;
//! - `ssh>sshd:hostcert-*`: the validation twin, `ssh` against `sshd`:
//!   the same checks, so that a row failing only with one of ours points
//!   at us, and the messages a refusal must print are the ones `ssh`
//!   prints.
//!
//! Host certificate principals are patterns (`127.0.0.*`) for `ssh` from
//! OpenSSH 10.3 on, as for `rssh`; with an older `ssh` that row is n/a.
//!
//! A row's parameter is `<a|b>:<server>:<setting>` (`a`: `rssh` here, `b`:
//! `ssh` in the peer, as [`crate::binary_setup::Way`]).

use std::fs;

use crate::bail;
use crate::binary_setup::{Call, OPENSSH_SSHD, Setup, Srv, Way, tail};
use crate::interop::{Case, Ctx, skip};
use crate::peer::HostKeyType;
use crate::util::{self, Context, Result};

/// What a row sets up and expects.
#[derive(Clone, Copy, Debug)]
struct Setting {
    name: &'static str,
    about: &'static str,
    /// The certified host key (the server has no other).
    key: HostKeyType,
    /// `ssh-keygen -n`.
    principals: &'static str,
    /// `ssh-keygen -V`.
    validity: &'static str,
    /// The known hosts file also revokes the CA.
    revoke_ca: bool,
    /// The known hosts file also lists the plain host key.
    plain_key: bool,
    /// Accepted, or refused with these messages (`{port}` stands for the
    /// server's port).
    refused_with: &'static [&'static str],
    /// Printed on the way, accepted or not.
    also_says: &'static [&'static str],
    /// The first OpenSSH whose `ssh` behaves so (older ones: n/a for rows
    /// with OpenSSH's client).
    since: Option<(u32, u32)>,
}

const OK: &[&str] = &[];
const VALID: &str = "-5m:+1h";
/// A window long past.
const EXPIRED: &str = "20200101:20200201";

const SETTINGS: &[Setting] = &[
    Setting {
        name: "ed25519",
        about: "an ssh-ed25519 host certificate from a CA in @cert-authority: accepted with no line for the key",
        key: HostKeyType::Ed25519,
        principals: "127.0.0.1",
        validity: VALID,
        revoke_ca: false,
        plain_key: false,
        refused_with: OK,
        also_says: OK,
        since: None,
    },
    Setting {
        name: "ecdsa256",
        about: "an ecdsa-sha2-nistp256 host certificate from a trusted CA: accepted",
        key: HostKeyType::EcdsaP256,
        principals: "127.0.0.1",
        validity: VALID,
        revoke_ca: false,
        plain_key: false,
        refused_with: OK,
        also_says: OK,
        since: None,
    },
    Setting {
        name: "rsa",
        about: "an RSA host certificate (rsa-sha2-*-cert-v01, signed with rsa-sha2-*) from a trusted CA: accepted",
        key: HostKeyType::Rsa,
        principals: "127.0.0.1",
        validity: VALID,
        revoke_ca: false,
        plain_key: false,
        refused_with: OK,
        also_says: OK,
        since: None,
    },
    Setting {
        name: "wildcard-principal",
        about: "a principal pattern (127.0.0.*) names the host: accepted",
        key: HostKeyType::Ed25519,
        principals: "other.example,127.0.0.*",
        validity: VALID,
        revoke_ca: false,
        plain_key: false,
        refused_with: OK,
        also_says: OK,
        // Host certificate principals as patterns: OpenSSH 10.3.
        since: Some((10, 3)),
    },
    Setting {
        name: "expired",
        about: "an expired certificate: OpenSSH's reason, the plain key unknown, refused",
        key: HostKeyType::Ed25519,
        principals: "127.0.0.1",
        validity: EXPIRED,
        revoke_ca: false,
        plain_key: false,
        refused_with: &[
            "Certificate invalid: expired",
            "No ED25519 host key is known for [127.0.0.1]:{port} and you have requested strict checking.",
            "Host key verification failed.",
        ],
        also_says: OK,
        since: None,
    },
    Setting {
        name: "wrong-principal",
        about: "a certificate for another host name: OpenSSH's reason, refused",
        key: HostKeyType::Ed25519,
        principals: "other.example",
        validity: VALID,
        revoke_ca: false,
        plain_key: false,
        refused_with: &[
            "Certificate invalid: name is not a listed principal",
            "No ED25519 host key is known for [127.0.0.1]:{port} and you have requested strict checking.",
            "Host key verification failed.",
        ],
        also_says: OK,
        since: None,
    },
    Setting {
        name: "revoked-ca",
        about: "the CA also @revoked: OpenSSH's warning, refused (no fall back to the plain key)",
        key: HostKeyType::Ed25519,
        principals: "127.0.0.1",
        validity: VALID,
        revoke_ca: true,
        plain_key: true,
        refused_with: &[
            "WARNING: REVOKED HOST KEY DETECTED!",
            "The ED25519-CERT host key for [127.0.0.1]:{port} is marked as revoked.",
            "ED25519-CERT host key for [127.0.0.1]:{port} was revoked and you have requested strict checking.",
            "Host key verification failed.",
        ],
        also_says: OK,
        since: None,
    },
    Setting {
        name: "expired-plain-known",
        about: "an expired certificate, the plain key in known_hosts: OpenSSH's reason, then accepted by the plain key",
        key: HostKeyType::Ed25519,
        principals: "127.0.0.1",
        validity: EXPIRED,
        revoke_ca: false,
        plain_key: true,
        refused_with: OK,
        also_says: &["Certificate invalid: expired"],
        since: None,
    },
];

/// The servers a setting runs against.
const SERVERS: [(&str, &str, &str); 3] = [
    ("ssh>rsshd", "b", "rsshd"),
    ("rssh>sshd", "a", "sshd"),
    ("ssh>sshd", "b", "sshd"),
];

/// Every row: each setting against each server.
pub fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for (prefix, way, server) in SERVERS {
        for s in SETTINGS {
            out.push(Case {
                name: Box::leak(format!("{prefix}:hostcert-{}", s.name).into_boxed_str()),
                about: s.about,
                run: hostcert,
                param: Box::leak(format!("{way}:{server}:{}", s.name).into_boxed_str()),
            });
        }
    }
    out
}

/// The `(server, setting)` of the running row.
fn setting(ctx: &Ctx<'_>) -> Result<(&'static str, Setting)> {
    let mut fields = ctx.param.splitn(3, ':');
    let (_, server, name) = (fields.next(), fields.next(), fields.next());
    let server = server.unwrap_or_default();
    match SETTINGS.iter().find(|s| Some(s.name) == name) {
        Some(s) => Ok((server, *s)),
        None => bail!("no host certificate setting in {:?}", ctx.param),
    }
}

/// `(major, minor)` of `OpenSSH_10.0p2 Debian-...`.
pub(crate) fn openssh_version(text: &str) -> Option<(u32, u32)> {
    let rest = text.strip_prefix("OpenSSH_")?;
    let (major, rest) = rest.split_once('.')?;
    let minor: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// `ssh-keygen` inside the peer.
fn keygen(ctx: &Ctx<'_>, args: &[&str]) -> Result<()> {
    util::checked_output(&mut ctx.backend.command("ssh-keygen", args))?;
    Ok(())
}

fn hostcert(ctx: &mut Ctx<'_>) -> Result<()> {
    let (server_name, s) = setting(ctx)?;
    if let Some(since) = s.since
        && Way::from_param(ctx.param) == Way::Rsshd
        && openssh_version(ctx.backend.openssh_version()).is_some_and(|v| v < since)
    {
        return Err(skip(format!(
            "OpenSSH's ssh before {}.{} does not do this",
            since.0, since.1
        )));
    }
    let setup = Setup::new(ctx, true)?;
    // A user key to log in with.
    let line = setup.keygen("id", "ed25519", "")?;
    setup.account(ctx, &line)?;
    // The CA, and the host key's certificate, made by the peer's
    // ssh-keygen.
    let ca = setup.peer("ca");
    keygen(
        ctx,
        &["-q", "-t", "ed25519", "-N", "", "-C", "xtask-ca", "-f", &ca],
    )?;
    let host_pub = setup
        .scratch_host
        .join(format!("{}.pub", s.key.file_name()));
    fs::copy(&host_pub, setup.host("host.pub"))
        .context(format_args!("copying {}", host_pub.display()))?;
    keygen(
        ctx,
        &[
            "-q",
            "-s",
            &ca,
            "-h",
            "-I",
            "xtask-host",
            "-n",
            s.principals,
            "-V",
            s.validity,
            "-z",
            "7",
            &setup.peer("host.pub"),
        ],
    )?;
    let srv = Srv {
        host_keys: vec![s.key],
        extra: vec![format!("HostCertificate {}", setup.peer("host-cert.pub"))],
        ..Srv::default()
    };
    let program = match server_name {
        "sshd" => OPENSSH_SSHD.to_owned(),
        _ => setup.rsshd()?,
    };
    let server = setup.start_program(ctx, &srv, &program)?;
    let port = server.port();
    // known_hosts: the CA, and what the setting adds.
    let ca_pub = fs::read_to_string(setup.host("ca.pub")).context("reading ca.pub")?;
    let mut kh = format!("@cert-authority * {}", ca_pub.trim_end());
    kh.push('\n');
    if s.revoke_ca {
        kh.push_str(&format!("@revoked * {}\n", ca_pub.trim_end()));
    }
    if s.plain_key {
        kh.push_str(&format!("[127.0.0.1]:{port} {}\n", setup.host_key(s.key)?));
    }
    fs::write(setup.host("cert_known_hosts"), kh).context("writing cert_known_hosts")?;
    let mut call = Call::remote("echo ok").opt("-i").opt(&setup.client("id"));
    call.known_hosts = Some(setup.client("cert_known_hosts"));
    call.strict = "yes".into();
    let out = setup.run(ctx, port, &call)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let says = |what: &str| stderr.contains(&what.replace("{port}", &port.to_string()));
    for line in s.also_says {
        if !says(line) {
            bail!(
                "the client did not say {line:?}; its stderr:\n{}",
                tail(&out.stderr)
            );
        }
    }
    if s.refused_with.is_empty() {
        if !out.status.success() || out.stdout != b"ok\n" {
            bail!(
                "the client exited with {} (stdout {:?}); its stderr:\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                tail(&out.stderr)
            );
        }
        // The certificate was what the client checked: the server's
        // `kex:` line names a certificate algorithm (sshd and rsshd at
        // DEBUG1).
        let log = server.log();
        let negotiated = log.lines().any(|l| {
            l.contains("kex:") && l.contains("host key") && l.contains("-cert-v01@openssh.com")
        });
        if !negotiated {
            bail!("the server's log does not show a certificate algorithm negotiated");
        }
        return Ok(());
    }
    if out.status.code() != Some(255) {
        bail!("exit status {}, expected 255", out.status);
    }
    if !out.stdout.is_empty() {
        bail!("the command ran anyway");
    }
    for line in s.refused_with {
        if !says(line) {
            bail!(
                "the client did not say {line:?}; its stderr:\n{}",
                tail(&out.stderr)
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssh_versions_parse() {
        assert_eq!(
            openssh_version("OpenSSH_9.2p1 Debian-2+deb12u3"),
            Some((9, 2))
        );
        assert_eq!(openssh_version("OpenSSH_10.0"), Some((10, 0)));
        assert_eq!(openssh_version("OpenSSH_10.3p1"), Some((10, 3)));
        assert_eq!(openssh_version("dropbear_2022.83"), None);
    }

    #[test]
    fn every_setting_runs_against_every_server() {
        let cases = cases();
        assert_eq!(cases.len(), SETTINGS.len() * SERVERS.len());
        for c in &cases {
            let want = if c.name.starts_with("rssh>") {
                Way::Rssh
            } else {
                Way::Rsshd
            };
            assert_eq!(Way::from_param(c.param), want, "{}", c.name);
            let mut ctx_param = c.param.splitn(3, ':');
            let server = ctx_param.nth(1).unwrap_or_default();
            assert!(c.name.contains(&format!(">{server}:")), "{}", c.name);
        }
    }
}
