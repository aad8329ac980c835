//! Users' session processes, as the monitor runs them: after
//! authentication a connection is served by a process of its user's
//! (rsshd started again as `rsshd --privsep-user NAME RHOST CHROOT ARGS`,
//! which becomes the user, confined to CHROOT when it is not empty, before
//! it reads a byte of it). One process per user (and chroot) holds all of
//! that user's connections; it is started with the first and told to
//! finish a few seconds after the last ([`LINGER`]).
//!
//! The monitor keeps a [`Ledger`] per process, which adopts each
//! connection with the session identifier the worker's record gave: the
//! process may ask for signatures over its connections' re-keys, and for
//! nothing else.

use std::collections::HashMap;
use std::net::IpAddr;
use std::os::fd::{AsFd as _, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use ssh_async::runtime;
use ssh_async::ssh_auth::authorized_keys::KeyOptions;
use ssh_os::fdpass::RecordChannel;
use ssh_os::loginrec::LoginRecord;
use ssh_os::user::User;
use ssh_privsep::{ConnId, Ledger, Limits, Reply, Request, WorkerFrame};
use zeroize::Zeroizing;

use super::frame_body;
use crate::Setup;

/// The first argument that starts a user's session process.
pub(crate) const USER_FLAG: &str = "--privsep-user";

/// How long a session process waits, once its user's last connection
/// ended, for another (one after another, as scripts connect, they do not
/// each start a process: 8 ms of server CPU per connection otherwise,
/// against 4 ms in one process, measured with `cargo xtask bench`).
const LINGER: std::time::Duration = std::time::Duration::from_secs(5);

/// The session processes of the users with connections.
pub(crate) struct UserProcesses {
    setup: Arc<Setup>,
    program: PathBuf,
    /// The live process of each user (by uid, and by chroot: a chrooted
    /// account's process is confined there). Held across a hand-over, so
    /// that a process told to finish gets no new connection.
    live: futures::lock::Mutex<HashMap<ProcessKey, Arc<UserLink>>>,
    next_conn: AtomicU32,
}

/// Which process serves a connection: its user's uid, and the
/// `ChrootDirectory` it is confined to.
type ProcessKey = (u32, Option<PathBuf>);

/// One user's session process, as the monitor knows it.
struct UserLink {
    pid: u32,
    key: ProcessKey,
    user: String,
    chan: RecordChannel,
    ledger: Mutex<Ledger>,
    /// The client address of each connection (for its login records).
    peers: Mutex<HashMap<ConnId, IpAddr>>,
    /// The terminals this process's sessions were logged in on, and their
    /// records: it may log out only those, and those left at its end are
    /// logged out by the monitor.
    lines: Mutex<HashMap<String, LoginRecord>>,
}

/// An authenticated connection, for its user's process.
pub(crate) struct HandOver {
    pub(crate) user: User,
    /// The account's `ChrootDirectory`, expanded.
    pub(crate) chroot: Option<PathBuf>,
    /// The session identifier the monitor computed.
    pub(crate) session_id: Vec<u8>,
    pub(crate) peer: String,
    pub(crate) local: String,
    pub(crate) key_options: Option<KeyOptions>,
    /// The password must be changed first (sshd's `force_pwchange`).
    pub(crate) password_change: bool,
    pub(crate) state: Zeroizing<Vec<u8>>,
    pub(crate) socket: OwnedFd,
}

impl UserLink {
    /// Writes the login records a session process asks for, after
    /// checking what it can: a login for one of its connections, on a
    /// `pts/N` terminal its user owns, for a program that is its child
    /// (or already gone), on a line not already logged in; a logout only
    /// for a line it logged in (with the monitor's own record of it).
    fn login_record(&self, conn: ConnId, login: bool, line: &str, pid: u32) -> Result<(), String> {
        use std::os::unix::fs::MetadataExt as _;
        if !login {
            let record = lock(&self.lines)
                .remove(line)
                .ok_or_else(|| format!("a logout of {line}, never logged in"))?;
            if let Err(e) = record.logout() {
                tracing::info!("logout records for {line}: {e}");
            }
            return Ok(());
        }
        let addr = *lock(&self.peers)
            .get(&conn)
            .ok_or("a login record for an unknown connection")?;
        let n = line.strip_prefix("pts/").unwrap_or_default();
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("a login record for {line:?}"));
        }
        let tty = std::path::Path::new("/dev").join(line);
        let owner = std::fs::metadata(&tty)
            .map_err(|e| format!("{}: {e}", tty.display()))?
            .uid();
        if owner != self.key.0 {
            return Err(format!("{} is not {}'s", tty.display(), self.user));
        }
        // A program already gone (`ssh -tt host true`, reaped before we
        // look) is taken at its word: its logout follows at once.
        if let Some(parent) = parent_of(pid)
            && parent != self.pid
        {
            return Err(format!("process {pid} is not the session process's child"));
        }
        let mut lines = lock(&self.lines);
        if lines.contains_key(line) {
            return Err(format!("{line} logged in twice"));
        }
        let host = addr.to_string();
        let record = LoginRecord::on_tty(&tty, &self.user, self.key.0, &host, Some(addr), pid);
        if let Err(e) = record.login() {
            tracing::info!("login records for {line}: {e}");
        }
        lines.insert(line.to_owned(), record);
        Ok(())
    }
}

/// The parent of process `pid`, from `/proc/PID/stat` (the field after
/// the command's closing parenthesis and the state).
fn parent_of(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, after) = stat.rsplit_once(')')?;
    after.split_whitespace().nth(1)?.parse().ok()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl UserProcesses {
    pub(crate) fn new(setup: Arc<Setup>, program: PathBuf) -> Arc<Self> {
        Arc::new(Self {
            setup,
            program,
            live: futures::lock::Mutex::new(HashMap::new()),
            next_conn: AtomicU32::new(0),
        })
    }

    /// Gives `h`'s connection to its user's process, started first if the
    /// user has none.
    pub(crate) async fn hand_over(self: &Arc<Self>, h: HandOver) -> Result<(), String> {
        let mut live = self.live.lock().await;
        let key = (h.user.uid, h.chroot.clone());
        let link = match live.get(&key) {
            Some(link) => link.clone(),
            None => {
                let rhost = h
                    .peer
                    .parse::<std::net::SocketAddr>()
                    .map_or_else(|_| h.peer.clone(), |p| p.ip().to_string());
                let (child, link) = self.start(&h.user, &rhost, h.chroot.as_deref()).await?;
                tracing::debug!("session process {} of {} started", link.pid, link.user);
                live.insert(key, link.clone());
                drop(runtime::spawn(self.clone().answer(link.clone(), child)));
                link
            }
        };
        let conn = ConnId(self.next_conn.fetch_add(1, Ordering::Relaxed));
        lock(&link.ledger)
            .adopt(conn, h.session_id, &h.user.name)
            .map_err(|e| e.to_string())?;
        if let Ok(peer) = h.peer.parse::<std::net::SocketAddr>() {
            lock(&link.peers).insert(conn, peer.ip());
        }
        let frame = WorkerFrame::Serve {
            conn,
            user: h.user.name.clone(),
            peer: h.peer,
            local: h.local,
            key_options: h.key_options.map(Box::new),
            password_change: h.password_change,
            state: h.state,
        };
        if let Err(e) = link.chan.send(&frame.encode(), &[h.socket.as_fd()]).await {
            lock(&link.ledger).closed(conn);
            return Err(format!("session process {}: {e}", link.pid));
        }
        Ok(())
    }

    /// The user's last connection ended: if no other came within
    /// [`LINGER`], new connections go to a new process, and this one is
    /// told to finish (it has nothing left to serve).
    async fn retire_if_idle(self: Arc<Self>, link: Arc<UserLink>) {
        runtime::sleep(LINGER).await;
        let mut live = self.live.lock().await;
        if lock(&link.ledger).is_empty()
            && live.get(&link.key).is_some_and(|l| Arc::ptr_eq(l, &link))
        {
            live.remove(&link.key);
            if let Err(e) = link.chan.shutdown_send() {
                tracing::debug!("session process {}: {e}", link.pid);
            }
        }
    }

    /// Starts `user`'s process; `rhost` (the first connection's client
    /// address) names the remote host of its PAM session; with `chroot`,
    /// it confines itself there.
    async fn start(
        &self,
        user: &User,
        rhost: &str,
        chroot: Option<&Path>,
    ) -> Result<(Child, Arc<UserLink>), String> {
        let (child, chan) = super::start_process(
            &self.program,
            &[
                USER_FLAG.as_ref(),
                user.name.as_ref(),
                rhost.as_ref(),
                chroot.map_or("".as_ref(), Path::as_os_str),
            ],
            "user-log",
            &self.setup.keys,
        )
        .await?;
        let link = Arc::new(UserLink {
            pid: child.id(),
            key: (user.uid, chroot.map(Path::to_path_buf)),
            user: user.name.clone(),
            chan,
            ledger: Mutex::new(Ledger::new(Limits {
                max_connections: usize::MAX,
                ..Limits::default()
            })),
            peers: Mutex::new(HashMap::new()),
            lines: Mutex::new(HashMap::new()),
        });
        Ok((child, link))
    }

    /// Answers a user's process until it ends: signatures for its
    /// connections' re-keys, and the end of each connection. A request of
    /// any other kind, or one the ledger refuses, ends the process.
    async fn answer(self: Arc<Self>, link: Arc<UserLink>, mut child: Child) {
        loop {
            let (record, _fds) = match link.chan.recv().await {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e) => {
                    tracing::error!("session process {}: {e}", link.pid);
                    break;
                }
            };
            let request =
                frame_body(&record).and_then(|b| Request::decode(b).map_err(|e| e.to_string()));
            match request {
                Ok(Request::SignExchangeHash { conn, request }) => {
                    let reply = match super::sign_exchange(
                        &self.setup.keys,
                        &mut lock(&link.ledger),
                        conn,
                        &request,
                    ) {
                        Ok(sig) => Reply::Signature(sig),
                        Err(why) => {
                            tracing::error!("session process {}: refused: {why}", link.pid);
                            break;
                        }
                    };
                    let frame = WorkerFrame::Reply { conn, reply };
                    if let Err(e) = link.chan.send(&frame.encode(), &[]).await {
                        tracing::debug!("session process {}: {e}", link.pid);
                    }
                }
                Ok(Request::LoginRecord {
                    conn,
                    login,
                    line,
                    pid,
                }) => {
                    // Refused, not fatal: the program of a session may be
                    // gone before the monitor looks at it.
                    if let Err(why) = link.login_record(conn, login, &line, pid) {
                        tracing::error!(
                            "session process {}: login records refused: {why}",
                            link.pid
                        );
                    }
                }
                Ok(Request::Closed { conn, .. }) => {
                    lock(&link.peers).remove(&conn);
                    let empty = {
                        let mut ledger = lock(&link.ledger);
                        ledger.closed(conn);
                        ledger.is_empty()
                    };
                    if empty {
                        drop(runtime::spawn(self.clone().retire_if_idle(link.clone())));
                    }
                }
                Ok(other) => {
                    tracing::error!("session process {}: unexpected {other:?}", link.pid);
                    break;
                }
                Err(e) => {
                    tracing::error!("session process {}: {e}", link.pid);
                    break;
                }
            }
        }
        {
            let mut live = self.live.lock().await;
            if live.get(&link.key).is_some_and(|l| Arc::ptr_eq(l, &link)) {
                live.remove(&link.key);
            }
        }
        for (_, record) in lock(&link.lines).drain() {
            if let Err(e) = record.logout() {
                tracing::info!("logout records for {}: {e}", record.line);
            }
        }
        let dropped = lock(&link.ledger).len();
        if dropped > 0 {
            let _ = child.kill();
        }
        // Reaped on a thread of its own: the process may take a moment.
        let (pid, user) = (link.pid, link.user.clone());
        let reaper = std::thread::Builder::new()
            .name("user-reap".into())
            .spawn(move || {
                let status = child.wait();
                if dropped > 0 {
                    tracing::error!(
                        "session process {pid} of {user} ended ({}); {dropped} connection(s) dropped",
                        status.map_or_else(|e| e.to_string(), |s| s.to_string())
                    );
                } else {
                    tracing::debug!("session process {pid} of {user} ended");
                }
            });
        if let Err(e) = reaper {
            tracing::error!("session process {}: {e}", link.pid);
        }
    }
}
