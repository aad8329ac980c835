//! The helper process that makes sockets as a user for a root server:
//! its start (the running program again, marked by an environment
//! variable), the server's side of the requests, and the helper's own
//! loop.
//!
//! Each request travels on the helper's control socket (its stdin, a
//! `SOCK_SEQPACKET` socket pair) together with one end of a fresh socket
//! pair of its own; the helper answers on that pair from a thread of its
//! own, so a slow `connect` delays no other request. The helper ends when
//! the control socket reaches end of file (the server dropped its
//! [`super::Sockets`]).

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_io::Async;
use nix::unistd::{Gid, Uid};
use rustix::net::SocketType;

use super::ops;
use super::proto::{MAX_FDS, MAX_MESSAGE, Reply, Request};
use crate::fdpass::{send_with_fds, seqpacket_pair};
use crate::user::User;

/// The environment variable that makes a program the helper: the ids to
/// switch to, `uid:gid:group,group,...`.
pub(super) const HELPER_ENV: &str = "SSH_ASYNC_SOCKETS_HELPER";

/// Requests the helper works on at once; more are refused with `EAGAIN`.
const MAX_IN_FLIGHT: usize = 256;

/// The server's handle on one user's helper, started on first use.
#[derive(Debug)]
pub(super) struct Helper {
    user: String,
    spec: String,
    program: PathBuf,
    running: Mutex<Option<Arc<Running>>>,
}

#[derive(Debug)]
struct Running {
    control: Async<OwnedFd>,
    /// Reaped in the background once dropped.
    _child: async_process::Child,
}

/// Receives one helper record.
fn recv_with_fds(sock: BorrowedFd<'_>) -> io::Result<Option<(Vec<u8>, Vec<OwnedFd>)>> {
    crate::fdpass::recv_with_fds(sock, MAX_MESSAGE)
}

impl Helper {
    /// A helper for `user`, running `program` (which must call
    /// [`super::run_helper_if_requested`] first thing) once needed.
    pub(super) fn new(user: &User, program: PathBuf) -> io::Result<Helper> {
        let groups: Vec<String> = user.group_ids()?.iter().map(u32::to_string).collect();
        Ok(Helper {
            user: user.name.clone(),
            spec: format!("{}:{}:{}", user.uid, user.gid, groups.join(",")),
            program,
            running: Mutex::new(None),
        })
    }

    fn start(&self) -> io::Result<Arc<Running>> {
        let (ours, theirs) = seqpacket_pair()?;
        let mut cmd = std::process::Command::new(&self.program);
        cmd.arg0(format!("sockets helper: {}", self.user))
            .env_clear()
            .env(HELPER_ENV, &self.spec)
            .current_dir("/");
        // Stdio set on the async command: its conversion forgets them.
        let mut cmd = async_process::Command::from(cmd);
        cmd.stdin(Stdio::from(theirs))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let child = cmd.spawn().map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot start the sockets helper {}: {e}",
                    self.program.display()
                ),
            )
        })?;
        Ok(Arc::new(Running {
            control: Async::new(ours)?,
            _child: child,
        }))
    }

    fn running(&self) -> io::Result<Arc<Running>> {
        let mut guard = self
            .running
            .lock()
            .map_err(|_| io::Error::other("sockets helper state poisoned"))?;
        if let Some(r) = guard.as_ref() {
            return Ok(r.clone());
        }
        let r = self.start()?;
        *guard = Some(r.clone());
        Ok(r)
    }

    /// Forgets `dead` (it ended or failed), so that the next request
    /// starts a new helper.
    fn forget(&self, dead: &Arc<Running>) {
        if let Ok(mut guard) = self.running.lock()
            && guard.as_ref().is_some_and(|r| Arc::ptr_eq(r, dead))
        {
            *guard = None;
        }
    }

    /// Has the helper do `req`: the path it answered with (if any) and the
    /// descriptors.
    pub(super) async fn call(&self, req: &Request) -> io::Result<(Vec<u8>, Vec<OwnedFd>)> {
        let data = req.encode()?;
        let run = self.running()?;
        let (mine, theirs) = seqpacket_pair()?;
        let sent = run
            .control
            .write_with(|c| send_with_fds(c.as_fd(), &data, &[theirs.as_fd()]))
            .await;
        drop(theirs);
        if let Err(e) = sent {
            self.forget(&run);
            return Err(io::Error::new(
                e.kind(),
                format!("sockets helper for {}: {e}", self.user),
            ));
        }
        let mine = Async::new(mine)?;
        let got = mine.read_with(|s| recv_with_fds(s.as_fd())).await?;
        let Some((bytes, fds)) = got else {
            self.forget(&run);
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                format!("sockets helper for {} ended", self.user),
            ));
        };
        let reply = Reply::decode(&bytes)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed helper reply"))?;
        let path = reply.into_result()?;
        Ok((path, fds))
    }
}

/// The ids of [`HELPER_ENV`]'s value.
fn parse_spec(spec: &OsStr) -> Option<(Uid, Gid, Vec<Gid>)> {
    let s = std::str::from_utf8(spec.as_bytes()).ok()?;
    let mut parts = s.splitn(3, ':');
    let uid = parts.next()?.parse::<u32>().ok()?;
    let gid = parts.next()?.parse::<u32>().ok()?;
    let groups = parts.next()?;
    let mut gids = Vec::new();
    if !groups.is_empty() {
        for g in groups.split(',') {
            gids.push(Gid::from_raw(g.parse::<u32>().ok()?));
            if gids.len() > 65536 {
                return None;
            }
        }
    }
    Some((Uid::from_raw(uid), Gid::from_raw(gid), gids))
}

/// Runs the helper: never returns.
pub(super) fn helper_main(spec: &OsStr) -> ! {
    let code = match serve(spec) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("sockets helper: {e}");
            1
        }
    };
    std::process::exit(code)
}

fn serve(spec: &OsStr) -> io::Result<()> {
    let (uid, gid, groups) = parse_spec(spec)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "malformed ids"))?;
    let control = io::stdin().as_fd().try_clone_to_owned()?;
    if rustix::net::sockopt::socket_type(&control)? != SocketType::SEQPACKET {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "stdin is not the server's socket",
        ));
    }
    crate::user::become_ids(uid, gid, &groups)?;
    // Unix sockets are made mode 0600 (sshd's StreamLocalBindMask 0177);
    // directories are given their mode explicitly.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o177));
    rustix::process::chdir("/")?;
    let in_flight = Arc::new(AtomicUsize::new(0));
    loop {
        let got = match recv_with_fds(control.as_fd()) {
            Ok(got) => got,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // A truncated record: its descriptors are closed, nobody to
            // answer.
            Err(e) if e.kind() == io::ErrorKind::InvalidData => continue,
            Err(e) => return Err(e),
        };
        let Some((data, mut fds)) = got else {
            return Ok(());
        };
        // Exactly one descriptor: the socket to answer on.
        let (Some(reply_to), true) = (fds.pop(), fds.is_empty()) else {
            continue;
        };
        if in_flight.fetch_add(1, Ordering::SeqCst) >= MAX_IN_FLIGHT {
            in_flight.fetch_sub(1, Ordering::SeqCst);
            let busy = Reply::from_error(&io::Error::from_raw_os_error(libc::EAGAIN));
            let _ = send_with_fds(reply_to.as_fd(), &busy.encode(), &[]);
            continue;
        }
        let counter = in_flight.clone();
        let spawned = std::thread::Builder::new()
            .name("request".into())
            .spawn(move || {
                answer(&data, &reply_to);
                counter.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Does one request and sends the reply with its descriptors.
fn answer(data: &[u8], reply_to: &OwnedFd) {
    let (reply, fds) = match Request::decode(data) {
        None => (
            Reply::Err {
                errno: libc::EINVAL,
                message: "malformed request".into(),
            },
            Vec::new(),
        ),
        Some(req) => match perform(req) {
            Ok((path, fds)) => (Reply::Ok(path), fds),
            Err(e) => (Reply::from_error(&e), Vec::new()),
        },
    };
    let borrowed: Vec<BorrowedFd<'_>> = fds.iter().map(|f| f.as_fd()).collect();
    let _ = send_with_fds(reply_to.as_fd(), &reply.encode(), &borrowed);
}

fn perform(req: Request) -> io::Result<(Vec<u8>, Vec<OwnedFd>)> {
    Ok(match req {
        Request::ConnectTcp { host, port } => (
            Vec::new(),
            vec![OwnedFd::from(ops::connect_tcp(&host, port)?)],
        ),
        Request::ConnectUnix { path } => {
            (Vec::new(), vec![OwnedFd::from(ops::connect_unix(&path)?)])
        }
        Request::ListenTcp { addr, port } => {
            let mut ls = ops::listen_tcp(addr.as_deref(), port)?;
            ls.truncate(MAX_FDS);
            (Vec::new(), ls.into_iter().map(OwnedFd::from).collect())
        }
        Request::ListenUnix { path } => (Vec::new(), vec![OwnedFd::from(ops::listen_unix(&path)?)]),
        Request::CreatePrivateDir { prefix } => {
            let p = ops::create_private_dir(&prefix)?;
            (p.as_os_str().as_bytes().to_vec(), Vec::new())
        }
        Request::RemovePath { path } => {
            ops::remove_path(&path)?;
            (Vec::new(), Vec::new())
        }
    })
}

/// The path bytes of a reply as a path.
pub(super) fn path_of(bytes: Vec<u8>) -> PathBuf {
    use std::os::unix::ffi::OsStringExt;
    PathBuf::from(OsString::from_vec(bytes))
}

/// Whether `path` is worth sending (the helper refuses empty ones).
pub(super) fn check_path(path: &Path) -> io::Result<()> {
    if path.as_os_str().is_empty() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "empty path"));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ids_spec() {
        let (u, g, gs) = parse_spec(OsStr::new("1000:100:100,27")).unwrap();
        assert_eq!((u.as_raw(), g.as_raw()), (1000, 100));
        assert_eq!(gs, vec![Gid::from_raw(100), Gid::from_raw(27)]);
        let (_, _, gs) = parse_spec(OsStr::new("1:2:")).unwrap();
        assert!(gs.is_empty());
        assert!(parse_spec(OsStr::new("1:2")).is_none());
        assert!(parse_spec(OsStr::new("x:2:")).is_none());
        assert!(parse_spec(OsStr::new("1:2:3,,4")).is_none());
    }
}
