//! Certificates a client presents that a server must refuse, through
//! `TrustedUserCAKeys`: no principals, expired, a `source-address` the
//! client is outside of. The certificates are made with `ssh-keygen -s`
//! here; the client is the peer's `ssh` with `-v`, whose log must show the
//! certificate offered (a refusal of a certificate never offered would
//! prove nothing). After the refusal the same key, certified properly,
//! logs in: the CA is trusted, only the certificate was wrong.

use std::process::Command;

use crate::bail;
use crate::binary_setup::{Call, Setup, USER, tail};
use crate::hostile_cases::Target;
use crate::interop::Ctx;
use crate::util::{self, Result};

/// Makes the row's CA; returns its public key's path inside the peer (for
/// `TrustedUserCAKeys`).
pub(crate) fn make_ca(setup: &Setup) -> Result<String> {
    setup.keygen("ca", "ed25519", "")?;
    Ok(setup.peer("ca.pub"))
}

/// Certifies the key `name` of the case directory with `options` (its
/// certificate goes beside it, where `ssh -i` finds it).
fn certify(setup: &Setup, name: &str, options: &[&str]) -> Result<()> {
    util::checked_output(
        Command::new("ssh-keygen")
            .args(["-q", "-s"])
            .arg(setup.host("ca"))
            .args(["-I", "xtask-hostile", "-z", "9"])
            .args(options)
            .arg(setup.host(&format!("{name}.pub"))),
    )?;
    Ok(())
}

/// The row's bad certificate is refused; a good one for the same key
/// logs in.
pub(crate) fn attack(t: &mut Target<'_>, ctx: &mut Ctx<'_>) -> Result<()> {
    let setup = t.setup;
    let bad: &[&str] = match t.name {
        "cert-no-principals" => &["-V", "-5m:+1h"],
        "cert-expired" => &["-n", USER, "-V", "20200101:20200102"],
        "cert-source-address" => &[
            "-n",
            USER,
            "-V",
            "-5m:+1h",
            "-O",
            "source-address=192.0.2.1/32",
        ],
        other => bail!("no certificate row {other:?}"),
    };
    setup.keygen("holder", "ed25519", "")?;
    certify(setup, "holder", bad)?;
    let port = t.addr.port();
    let with_key = |remote: &str| {
        Call::remote(remote)
            .opt("-v")
            .opt("-i")
            .opt(&setup.client("holder"))
            .opt("-o")
            .opt("IdentitiesOnly=yes")
    };
    let out = setup.run(ctx, port, &with_key(&t.marker.command()))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !stderr.contains("ED25519-CERT") {
        bail!(
            "the client did not offer the certificate:\n{}",
            tail(&out.stderr)
        );
    }
    if out.status.code() != Some(255) || !stderr.contains("Permission denied") {
        bail!(
            "the certificate was not refused (exit {}):\n{}",
            out.status,
            tail(&out.stderr)
        );
    }
    t.note("the certificate offered and refused: Permission denied");
    t.marker.absent()?;
    certify(setup, "holder", &["-n", USER, "-V", "-5m:+1h"])?;
    let out = setup.run_ok(ctx, port, &with_key("echo certified"))?;
    if String::from_utf8_lossy(&out.stdout).trim() != "certified" {
        bail!(
            "the good certificate's session printed {:?}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    t.note("the same key with a good certificate logged in");
    Ok(())
}
