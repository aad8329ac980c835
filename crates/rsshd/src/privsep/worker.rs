//! A pre-authentication worker: rsshd started again by the monitor as
//! `rsshd --privsep-worker ARGS` (the monitor's own arguments), with its
//! standard input the record socket to the monitor and its standard output
//! a pipe for log lines.
//!
//! It reads the configuration while still root, then enters the sandbox
//! for good ([`ssh_os::sandbox::enter_worker_sandbox`]) before the first
//! byte from a client: the unprivileged account, an empty root, no new
//! privileges, the system-call allowlist. From then on it serves each
//! client socket the monitor passes it, up to USERAUTH_SUCCESS, on one
//! thread, and asks the monitor for every signature and every decision.
//!
//! The hidden mode gives nothing away: started by hand it reads a
//! configuration its user can read, then waits for frames on its standard
//! input; it holds no key, and it is chosen by the first argument only.

use std::os::fd::{AsFd as _, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::Parser as _;
use ssh_async::runtime::{CurrentThread, net::TcpStream};
use ssh_async::ssh_auth::cert::Certificate;
use ssh_async::ssh_auth::server::{AccountVerdict, KeyboardInteractiveAnswer};
use ssh_async::ssh_keys::{PublicKey, RemoteKey};
use ssh_async::ssh_wire::messages::userauth::InfoPrompt;
use ssh_async::{HostKey, Server, ServerHandler};
use ssh_config::server::ServerSettings;
use ssh_os::fdpass::RecordChannel;
use ssh_privsep::{ConnId, Reply, Request, WorkerFrame};
use zeroize::Zeroizing;

use super::link::{Link, MonitorSigner};
use super::{EMPTY_ROOT, MAX_RECORD, WORKER_FLAG};
use crate::connection;

/// Proofs a connection keeps for the monitor at most (one per verified
/// `publickey` request; sshd's MaxAuthTries bounds them anyway).
const MAX_PROOFS: usize = 8;

/// When started as `rsshd --privsep-worker ARGS`, serves as a worker and
/// exits; otherwise returns.
pub(crate) fn run_if_requested() {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if argv.get(1).is_none_or(|a| a != WORKER_FLAG) {
        return;
    }
    let code = match run(&argv) {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!("worker: {e}");
            eprintln!("rsshd worker: {e}");
            1
        }
    };
    std::process::exit(code);
}

/// What every connection of the worker shares.
struct Context {
    settings: ServerSettings,
    transport: ssh_async::ssh_transport::Config,
    banner: Option<String>,
    /// The host keys' public halves (and certificates), from the monitor.
    keys: Vec<(PublicKey, Option<Certificate>)>,
    link: Arc<Link>,
    /// Connections this worker finished with (handed over or closed):
    /// [`crate::release_memory`] gives back what they freed.
    ended: Arc<AtomicUsize>,
}

fn run(argv: &[std::ffi::OsString]) -> Result<(), String> {
    // The monitor's arguments, as it was started.
    let args = crate::Args::try_parse_from(
        argv.first()
            .into_iter()
            .chain(argv.get(2..).unwrap_or_default()),
    )
    .map_err(|e| e.to_string())?;
    let configured = crate::configure(&args, true)?;
    let settings = configured.settings;
    crate::log::init_pipe(crate::log_filter(settings.log_level, &args));
    let transport = crate::transport_config(&settings)?;
    let banner = connection::banner(&settings);
    let account = super::worker_account()?;
    let monitor: OwnedFd = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|e| format!("the monitor's socket: {e}"))?;
    ssh_os::sandbox::enter_worker_sandbox(account.uid, account.gid, EMPTY_ROOT.as_ref())
        .map_err(|e| format!("sandbox: {e}"))?;
    CurrentThread::new().block_on(async move {
        let chan = RecordChannel::new(monitor, MAX_RECORD)
            .map_err(|e| format!("the monitor's socket: {e}"))?;
        let keys = super::link::host_keys(&chan).await?;
        tracing::debug!("worker {} serving", std::process::id());
        let ctx = Arc::new(Context {
            settings,
            transport,
            banner,
            keys,
            link: Arc::new(Link::new(chan)),
            ended: Arc::new(AtomicUsize::new(0)),
        });
        // A handed-over connection's handshake state is freed here, but
        // glibc would keep the pages: 0.7 MB per worker after 1,000
        // connections (`cargo xtask idle`).
        drop(ssh_async::runtime::spawn(crate::release_memory(
            ctx.ended.clone(),
        )));
        serve(ctx).await
    })
}

/// Takes the monitor's frames until it goes: each new client is served
/// by a task of its own, and each reply goes to the task that waits for
/// it.
async fn serve(ctx: Arc<Context>) -> Result<(), String> {
    loop {
        match super::link::recv(&ctx.link.chan).await? {
            None => return Ok(()),
            Some((WorkerFrame::Connection { conn, peer, .. }, fds)) => {
                let Some(fd) = fds.into_iter().next() else {
                    return Err("a connection without its socket".to_owned());
                };
                let stream = TcpStream::from(std::net::TcpStream::from(fd));
                let ctx = ctx.clone();
                drop(ssh_async::runtime::spawn(handle(conn, stream, peer, ctx)));
            }
            Some((WorkerFrame::Reply { conn, reply }, _)) => ctx.link.answered(conn, reply)?,
            Some((WorkerFrame::Start { .. }, _)) => return Err("a second start".to_owned()),
            Some((other, _)) => return Err(format!("unexpected frame {other:?}")),
        }
    }
}

/// One client, up to USERAUTH_SUCCESS; then its socket and state go to
/// the monitor.
async fn handle(conn: ConnId, stream: TcpStream, peer: String, ctx: Arc<Context>) {
    let ended = ctx.ended.clone();
    hand_over_or_close(conn, stream, peer, ctx).await;
    ended.fetch_add(1, Ordering::SeqCst);
}

/// [`handle`]'s work.
async fn hand_over_or_close(conn: ConnId, stream: TcpStream, peer: String, ctx: Arc<Context>) {
    let host_keys: Vec<HostKey> = ctx
        .keys
        .iter()
        .map(|(k, c)| Box::new(RemoteKey::new(k.clone(), c.clone())) as HostKey)
        .collect();
    let mut options = connection::server_options(
        &ctx.settings,
        &ctx.transport,
        true,
        host_keys,
        ctx.banner.clone(),
    );
    options.exchange_hash_signer = Some(Arc::new(MonitorSigner {
        conn,
        link: ctx.link.clone(),
    }));
    let mut policy = WorkerPolicy {
        conn,
        ctx: ctx.clone(),
        proofs: Vec::new(),
        refused: None,
    };
    match Server::accept_for_hand_over(stream, options, &mut policy).await {
        Ok(handed) => {
            let frame = Request::Authenticated {
                conn,
                user: handed.user,
                state: handed.state.encode(),
            }
            .encode();
            if let Err(e) = ctx.link.chan.send(&frame, &[handed.stream.as_fd()]).await {
                tracing::error!("handing {conn:?} over: {e}");
            }
        }
        Err(e) => {
            match peer.parse::<std::net::SocketAddr>() {
                Ok(p) => tracing::info!("Connection closed by {} port {}: {e}", p.ip(), p.port()),
                Err(_) => tracing::info!("Connection closed by {peer}: {e}"),
            }
            let grace_exceeded = matches!(
                &e,
                ssh_async::Error::Session(ssh_async::ssh_session::Error::Auth(
                    ssh_async::ssh_auth::AuthError::Timeout
                ))
            );
            let frame = Request::Closed {
                conn,
                grace_exceeded,
            }
            .encode();
            if let Err(e) = ctx.link.chan.send(&frame, &[]).await {
                tracing::error!("closing {conn:?}: {e}");
            }
        }
    }
}

/// The authentication policy of a worker's connection: every question
/// goes to the monitor.
struct WorkerPolicy {
    conn: ConnId,
    ctx: Arc<Context>,
    /// Verified `publickey` requests, shown to the monitor before the
    /// account check.
    proofs: Vec<Vec<u8>>,
    /// The monitor ended the connection (RefuseConnection, a refusal).
    refused: Option<String>,
}

impl WorkerPolicy {
    /// The monitor's answer to `request`, `Reply::Verdict(false)` when it
    /// ends the connection (noted for [`ServerHandler::refused`]).
    async fn ask(&mut self, request: Request) -> Reply {
        match self.ctx.link.ask(self.conn, request).await {
            Ok(Reply::Disconnect(why)) => {
                self.refused = Some(why);
                Reply::Verdict(false)
            }
            Ok(Reply::Refused(why)) => {
                tracing::error!("the monitor refused a request: {why}");
                self.refused = Some("authentication refused".to_owned());
                Reply::Verdict(false)
            }
            Ok(reply) => reply,
            Err(e) => {
                tracing::error!("{e}");
                self.refused = Some("internal error".to_owned());
                Reply::Verdict(false)
            }
        }
    }

    async fn verdict(&mut self, request: Request) -> bool {
        matches!(self.ask(request).await, Reply::Verdict(true))
    }
}

impl ServerHandler for WorkerPolicy {
    async fn public_key(
        &mut self,
        user: &str,
        key: &PublicKey,
        certificate: Option<&Certificate>,
        proof: bool,
    ) -> bool {
        let (algorithm, blob) = match certificate {
            Some(c) => (c.type_name(), c.blob().to_vec()),
            None => (key.key_type().name().to_owned(), key.to_blob()),
        };
        self.verdict(Request::QueryPublicKey {
            conn: self.conn,
            user: user.to_owned(),
            algorithm,
            key: blob,
            proof,
        })
        .await
    }

    fn public_key_proof(&mut self, userauth_request: &[u8]) {
        if self.proofs.len() < MAX_PROOFS {
            self.proofs.push(userauth_request.to_vec());
        }
    }

    async fn password(&mut self, user: &str, password: &str) -> bool {
        self.verdict(Request::Password {
            conn: self.conn,
            user: user.to_owned(),
            password: Zeroizing::new(password.to_owned()),
            keyboard_interactive: false,
        })
        .await
    }

    async fn keyboard_interactive(
        &mut self,
        _user: &str,
        _submethods: &str,
    ) -> KeyboardInteractiveAnswer {
        // The same prompt for everyone (the monitor decides on the
        // answer): whether the user exists must not show.
        if !self.ctx.settings.kbd_interactive_authentication {
            return KeyboardInteractiveAnswer::Reject;
        }
        KeyboardInteractiveAnswer::Prompts {
            name: String::new(),
            instruction: String::new(),
            prompts: vec![InfoPrompt {
                prompt: "Password: ".into(),
                echo: false,
            }],
        }
    }

    async fn info_response(
        &mut self,
        user: &str,
        responses: &[String],
    ) -> KeyboardInteractiveAnswer {
        let [password] = responses else {
            return KeyboardInteractiveAnswer::Reject;
        };
        let ok = self
            .verdict(Request::Password {
                conn: self.conn,
                user: user.to_owned(),
                password: Zeroizing::new(password.clone()),
                keyboard_interactive: true,
            })
            .await;
        if ok {
            KeyboardInteractiveAnswer::Accept
        } else {
            KeyboardInteractiveAnswer::Reject
        }
    }

    async fn account(&mut self, user: &str, method: &str) -> AccountVerdict {
        let deny = AccountVerdict::Deny {
            message: String::new(),
        };
        // The monitor verifies each signature itself before it counts.
        for proof in core::mem::take(&mut self.proofs) {
            let request = Request::VerifyPublicKey {
                conn: self.conn,
                userauth_request: proof,
            };
            if !self.verdict(request).await {
                return deny;
            }
        }
        let request = Request::Account {
            conn: self.conn,
            user: user.to_owned(),
            method: method.to_owned(),
        };
        match self.ask(request).await {
            Reply::Verdict(true) => AccountVerdict::Allow,
            Reply::Allowed(message) => AccountVerdict::AllowWithBanner { message },
            Reply::Denied(message) => AccountVerdict::Deny { message },
            _ => deny,
        }
    }

    fn refused(&self) -> Option<String> {
        self.refused.clone()
    }
}
