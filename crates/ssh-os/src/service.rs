//! Running as a service: detaching from the terminal as a classic
//! daemon, and the systemd readiness protocol (`sd_notify`) for a unit of
//! `Type=notify`.

use std::io;
use std::os::unix::net::UnixDatagram;

/// Sends `state` (`READY=1`, `STOPPING=1`, `STATUS=...`, one per line) to
/// the service manager named by `$NOTIFY_SOCKET`, as `sd_notify` does: a
/// path, or an abstract socket when it starts with `@`. `Ok(false)` when
/// there is no manager to tell (the variable is unset).
pub fn notify(state: &str) -> io::Result<bool> {
    let Some(target) = std::env::var_os("NOTIFY_SOCKET") else {
        return Ok(false);
    };
    let target = target.to_string_lossy().into_owned();
    if target.is_empty() {
        return Ok(false);
    }
    let socket = UnixDatagram::unbound()?;
    match target.strip_prefix('@') {
        #[cfg(target_os = "linux")]
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
            socket.send_to_addr(state.as_bytes(), &addr)?;
        }
        #[cfg(not(target_os = "linux"))]
        Some(_) => {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "abstract NOTIFY_SOCKET outside Linux",
            ));
        }
        None => {
            socket.send_to(state.as_bytes(), &target)?;
        }
    }
    Ok(true)
}

/// Detaches as sshd does without `-D` (daemon(3)): the parent exits 0,
/// the child goes on in a new session, in `/`, with standard input,
/// output and error on `/dev/null`. Call it before any thread starts: only
/// the calling thread survives the fork.
pub fn detach() -> io::Result<()> {
    nix::unistd::daemon(false, false).map_err(io::Error::from)
}
