//! Privilege separation: a root rsshd is a monitor and a few sandboxed
//! pre-authentication workers.
//!
//! - The **monitor** (the process started as root) listens, accepts, and
//!   applies MaxStartups and PerSourcePenalties. It holds the host private
//!   keys and every account decision (`authorized_keys` read as the user,
//!   PAM, the account checks), each behind ssh-privsep's [`Ledger`], and
//!   serves the connections once they are authenticated.
//! - The **workers** ([`worker`], rsshd started again as
//!   `rsshd --privsep-worker ARGS`), one per core, each hold many
//!   connections from their first byte to USERAUTH_SUCCESS: the version
//!   exchange, the key exchange (the monitor signs the exchange hash) and
//!   authentication (the monitor decides). They run as an unprivileged
//!   user in an empty root, with no new privileges and a system-call
//!   allowlist ([`ssh_os::sandbox`]). A worker holds no private key and
//!   can authenticate nobody: the monitor verifies each proof itself.
//! - At USERAUTH_SUCCESS the worker passes the socket and the transport's
//!   state to the monitor (SCM_RIGHTS), which resumes the connection.
//!
//! A worker that dies takes only its own unauthenticated connections; the
//! monitor starts another. The frames are ssh-privsep's, over a
//! `SOCK_SEQPACKET` pair (the worker's standard input); the worker's log
//! lines come over its standard output and the monitor writes them.
//!
//! [`Ledger`]: ssh_privsep::Ledger

pub(crate) mod link;
pub(crate) mod monitor;
pub(crate) mod user_process;
pub(crate) mod users;
pub(crate) mod worker;

use std::ffi::OsStr;
use std::io::BufRead as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use ssh_async::ssh_transport::kex::ExchangeHashRequest;
use ssh_os::fdpass::RecordChannel;
use ssh_privsep::{ConnId, Ledger, WorkerFrame};

use crate::hostkeys::Loaded;

/// The first argument that starts a worker.
pub(crate) const WORKER_FLAG: &str = "--privsep-worker";

/// The empty directory a worker's root is changed to (created by the
/// monitor, root's and empty).
pub(crate) const EMPTY_ROOT: &str = "/run/rsshd";

/// Records between monitor and worker, at most: a frame and its length.
pub(crate) const MAX_RECORD: usize = ssh_privsep::MAX_FRAME + 4;

/// The account workers run as: sshd's privilege separation user when the
/// system has one, else `nobody`.
pub(crate) fn worker_account() -> Result<ssh_os::user::User, String> {
    for name in ["sshd", "nobody"] {
        if let Ok(Some(u)) = ssh_os::user::User::by_name(name)
            && u.uid != 0
        {
            return Ok(u);
        }
    }
    Err("no unprivileged account for the workers (sshd or nobody)".into())
}

/// Makes [`EMPTY_ROOT`] if it is missing (mode 0755, root's). The
/// sandbox refuses it later unless it is root's, not writable by others
/// and empty.
pub(crate) fn make_empty_root() -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    let path = Path::new(EMPTY_ROOT);
    if path.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .mode(0o755)
        .create(path)
        .map_err(|e| format!("{EMPTY_ROOT}: {e}"))
}

/// The body of a record: a frame whose length prefix must match the
/// record's size exactly.
pub(crate) fn frame_body(record: &[u8]) -> Result<&[u8], String> {
    let (head, body) = record
        .split_first_chunk::<4>()
        .ok_or_else(|| format!("a record of {} bytes", record.len()))?;
    let len = usize::try_from(u32::from_be_bytes(*head)).unwrap_or(usize::MAX);
    if len != body.len() {
        return Err(format!(
            "a frame of {len} bytes in a record of {}",
            record.len()
        ));
    }
    Ok(body)
}

/// Starts `program FLAGS... ARGS` (ARGS: the monitor's own arguments),
/// its standard input a record socket to us and its standard output a
/// pipe of log lines (relayed by a thread named `log_thread`), and sends
/// it the host keys' public halves.
pub(crate) async fn start_process(
    program: &Path,
    flags: &[&OsStr],
    log_thread: &str,
    keys: &[Loaded],
) -> Result<(Child, RecordChannel), String> {
    let (ours, theirs) =
        ssh_os::fdpass::seqpacket_pair().map_err(|e| format!("socketpair: {e}"))?;
    let mut child = Command::new(program)
        .args(flags)
        .args(std::env::args_os().skip(1))
        .env_clear()
        .stdin(Stdio::from(theirs))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("{}: {e}", program.display()))?;
    if let Some(out) = child.stdout.take() {
        // Its log lines, written here as they come.
        let spawned = std::thread::Builder::new()
            .name(log_thread.into())
            .spawn(move || {
                for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                    crate::log::relay(&line);
                }
            });
        if let Err(e) = spawned {
            tracing::error!("{log_thread} thread: {e}");
        }
    }
    let chan = RecordChannel::new(ours, MAX_RECORD).map_err(|e| format!("socket: {e}"))?;
    let host_keys = keys
        .iter()
        .map(|k| {
            let cert = k.certified.as_ref().map(|(_, c)| c.cert().blob().to_vec());
            (k.public.to_blob(), cert)
        })
        .collect();
    if let Err(e) = chan
        .send(&WorkerFrame::Start { host_keys }.encode(), &[])
        .await
    {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!("starting {}: {e}", program.display()));
    }
    Ok((child, chan))
}

/// Signs the exchange hash `request`'s inputs give, with the host key its
/// `K_S` names, if `ledger` allows it for `conn`.
pub(crate) fn sign_exchange(
    keys: &[Loaded],
    ledger: &mut Ledger,
    conn: ConnId,
    request: &ExchangeHashRequest,
) -> Result<Vec<u8>, String> {
    ledger
        .sign_exchange_hash(conn, request)
        .map_err(|e| e.to_string())?;
    let mut rng = rand::rng();
    keys.iter()
        .find_map(|k| request.sign(&*k.host_key(), &mut rng).ok())
        .ok_or_else(|| "an exchange naming none of the host keys".to_owned())
}
