//! The monitor's side: starting the workers (and starting another when one
//! dies), giving them the accepted clients, answering their requests after
//! the [`Ledger`] allowed each, and taking back the authenticated
//! connections.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::{AsFd as _, OwnedFd};
use std::process::Child;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::channel::oneshot;
use ssh_async::ServerHandler as _;
use ssh_async::runtime::{self, net::TcpStream};
use ssh_async::ssh_auth::server::{AccountVerdict, KeyboardInteractiveAnswer};
use ssh_async::ssh_keys::{
    Certificate, PublicKey, SignatureAlgorithm, VerifyPolicy, cert::cert_signature_algorithm,
};
use ssh_os::fdpass::RecordChannel;
use ssh_os::user::User;
use ssh_privsep::{ConnId, Ledger, Limits, Method, Reply, Request, WorkerFrame};
use zeroize::Zeroizing;

use super::users::{HandOver, UserProcesses};
use super::{WORKER_FLAG, frame_body};
use crate::Setup;
use crate::auth::Policy;
use crate::connection::{self, Startup};

/// How long the monitor waits for a worker to be up.
const WORKER_WAIT: Duration = Duration::from_secs(10);

/// How long past LoginGraceTime a worker may keep a connection before the
/// monitor takes it for stuck (or no longer ours) and kills it.
const GRACE_MARGIN: Duration = Duration::from_secs(10);

/// The monitor: the workers and what it needs to answer them.
pub(crate) struct Monitor {
    setup: Arc<Setup>,
    me: User,
    /// Unauthenticated connections (MaxStartups).
    active: Arc<AtomicUsize>,
    program: std::path::PathBuf,
    /// The live worker of each slot (`None` while one is being started).
    slots: Vec<Mutex<Option<Arc<WorkerLink>>>>,
    next_conn: AtomicU32,
    next_slot: AtomicUsize,
    /// The users' session processes.
    users: Arc<UserProcesses>,
}

/// One worker process, as the monitor knows it.
struct WorkerLink {
    pid: u32,
    /// Kills the worker (see [`Monitor::watch_grace`]).
    condemn: Mutex<Option<oneshot::Sender<()>>>,
    chan: RecordChannel,
    ledger: Mutex<Ledger>,
    conns: Mutex<HashMap<ConnId, Entry>>,
}

/// One of a worker's connections.
struct Entry {
    /// The connection's policy; `None` while a request uses it.
    policy: Option<Policy>,
    /// When the worker got it.
    started: Instant,
    /// Counts the connection as unauthenticated until it goes.
    _startup: Startup,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Monitor {
    /// Starts `workers` workers, each watched by a task that starts
    /// another when it dies, and waits (up to [`WORKER_WAIT`]) until they
    /// all run.
    pub(crate) async fn start(
        setup: Arc<Setup>,
        me: User,
        active: Arc<AtomicUsize>,
        workers: usize,
    ) -> Result<Arc<Self>, String> {
        super::make_empty_root()?;
        super::worker_account()?;
        let program = crate::session::internal_sftp_program()
            .ok_or("cannot find rsshd's own binary to start the workers")?;
        let users = UserProcesses::new(setup.clone(), program.clone());
        let monitor = Arc::new(Self {
            setup,
            me,
            active,
            program,
            slots: (0..workers.max(1)).map(|_| Mutex::new(None)).collect(),
            next_conn: AtomicU32::new(0),
            next_slot: AtomicUsize::new(0),
            users,
        });
        for slot in 0..monitor.slots.len() {
            drop(runtime::spawn(monitor.clone().keep_worker(slot)));
        }
        drop(runtime::spawn(monitor.clone().watch_grace()));
        let deadline = Instant::now() + WORKER_WAIT;
        while monitor.slots.iter().any(|s| lock(s).is_none()) {
            if Instant::now() > deadline {
                return Err("the pre-authentication workers did not start".into());
            }
            runtime::sleep(Duration::from_millis(10)).await;
        }
        Ok(monitor)
    }

    /// A live worker, the next in turn; while none is (one is being
    /// started again), waits up to [`WORKER_WAIT`].
    async fn live_worker(&self) -> Option<Arc<WorkerLink>> {
        let deadline = Instant::now() + WORKER_WAIT;
        loop {
            let start = self.next_slot.fetch_add(1, Ordering::Relaxed) % self.slots.len().max(1);
            let (later, earlier) = self.slots.split_at(start);
            if let Some(link) = earlier.iter().chain(later).find_map(|s| lock(s).clone()) {
                return Some(link);
            }
            if Instant::now() > deadline {
                return None;
            }
            runtime::sleep(Duration::from_millis(10)).await;
        }
    }

    /// A worker ends each connection at LoginGraceTime itself; one that
    /// keeps a connection [`GRACE_MARGIN`] longer, while no request of it
    /// is being answered here (the monitor's own slowness, a PAM delay,
    /// does not count), is stuck or no longer ours: it is killed and
    /// replaced, and its connections stop counting against MaxStartups.
    async fn watch_grace(self: Arc<Self>) {
        let Some(grace) = self
            .setup
            .settings
            .login_grace_time
            .filter(|g| !g.is_zero())
        else {
            return;
        };
        let limit = grace.saturating_add(GRACE_MARGIN);
        loop {
            runtime::sleep(Duration::from_secs(1)).await;
            let now = Instant::now();
            for slot in &self.slots {
                let Some(link) = lock(slot).clone() else {
                    continue;
                };
                let stale = lock(&link.conns)
                    .values()
                    .any(|e| e.policy.is_some() && now.duration_since(e.started) > limit);
                if stale && let Some(condemn) = lock(&link.condemn).take() {
                    tracing::error!(
                        "worker {} kept a connection {}s past LoginGraceTime: killed",
                        link.pid,
                        GRACE_MARGIN.as_secs()
                    );
                    let _ = condemn.send(());
                }
            }
        }
    }

    /// Keeps a worker running in `slot`: starts it, answers it until it
    /// ends, forgets its connections, and starts another.
    async fn keep_worker(self: Arc<Self>, slot: usize) {
        let Some(slot) = self.slots.get(slot) else {
            return;
        };
        loop {
            match self.spawn_worker().await {
                Ok((mut child, link)) => {
                    tracing::debug!("worker {} started", link.pid);
                    let (condemn, condemned) = oneshot::channel();
                    *lock(&link.condemn) = Some(condemn);
                    *lock(slot) = Some(link.clone());
                    let answering = self.answer_worker(&link);
                    futures::pin_mut!(answering);
                    drop(futures::future::select(answering, condemned).await);
                    *lock(slot) = None;
                    let _ = child.kill();
                    let status = child.wait();
                    let dropped = lock(&link.conns).len();
                    tracing::error!(
                        "worker {} ended ({}); {dropped} unauthenticated connection(s) dropped",
                        link.pid,
                        status.map_or_else(|e| e.to_string(), |s| s.to_string())
                    );
                }
                Err(e) => tracing::error!("cannot start a worker: {e}"),
            }
            runtime::sleep(Duration::from_secs(1)).await;
        }
    }

    async fn spawn_worker(&self) -> Result<(Child, Arc<WorkerLink>), String> {
        let (child, chan) = super::start_process(
            &self.program,
            &[WORKER_FLAG.as_ref()],
            "worker-log",
            &self.setup.keys,
        )
        .await?;
        let link = Arc::new(WorkerLink {
            pid: child.id(),
            condemn: Mutex::new(None),
            chan,
            ledger: Mutex::new(Ledger::new(Limits {
                max_attempts: self.setup.settings.max_auth_tries,
                ..Limits::default()
            })),
            conns: Mutex::new(HashMap::new()),
        });
        Ok((child, link))
    }

    /// Gives an accepted client to a worker (round robin over the live
    /// ones); the monitor keeps no copy of its socket.
    pub(crate) async fn assign(&self, stream: TcpStream, peer: SocketAddr) {
        let Some(link) = self.live_worker().await else {
            tracing::error!(
                "no worker to serve {} port {}: dropped",
                peer.ip(),
                peer.port()
            );
            return;
        };
        let mut local = stream.local_addr().unwrap_or(peer);
        local.set_ip(local.ip().to_canonical());
        let conn = ConnId(self.next_conn.fetch_add(1, Ordering::Relaxed));
        let policy = Policy::new(
            self.setup.config.clone(),
            peer,
            local,
            true,
            self.me.clone(),
        );
        lock(&link.conns).insert(
            conn,
            Entry {
                policy: Some(policy),
                started: Instant::now(),
                _startup: Startup::new(self.active.clone()),
            },
        );
        let frame = WorkerFrame::Connection {
            conn,
            peer: peer.to_string(),
            local: local.to_string(),
        };
        if let Err(e) = link.chan.send(&frame.encode(), &[stream.as_fd()]).await {
            tracing::error!("giving a connection to worker {}: {e}", link.pid);
            lock(&link.conns).remove(&conn);
        }
    }

    /// Reads the worker's requests until it ends; each is answered by a
    /// task of its own, so that one slow answer (PAM's delay after a wrong
    /// password) holds up no other connection. A frame that does not
    /// decode ends the worker.
    async fn answer_worker(self: &Arc<Self>, link: &Arc<WorkerLink>) {
        loop {
            let (record, fds) = match link.chan.recv().await {
                Ok(Some(r)) => r,
                Ok(None) => return,
                Err(e) => {
                    tracing::error!("worker {}: {e}", link.pid);
                    return;
                }
            };
            let request = match frame_body(&record)
                .and_then(|b| Request::decode(b).map_err(|e| e.to_string()))
            {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!("worker {}: {e}", link.pid);
                    return;
                }
            };
            let (monitor, link) = (self.clone(), link.clone());
            drop(runtime::spawn(async move {
                monitor.answer(&link, request, fds).await;
            }));
        }
    }

    async fn answer(&self, link: &Arc<WorkerLink>, request: Request, fds: Vec<OwnedFd>) {
        let reply = match request {
            Request::SignExchangeHash { conn, request } => {
                let reply = self.sign(link, conn, &request);
                Some((conn, reply))
            }
            Request::QueryPublicKey {
                conn,
                user,
                algorithm,
                key,
                proof,
            } => {
                let reply = self
                    .query_public_key(link, conn, &user, &algorithm, &key, proof)
                    .await;
                Some((conn, reply))
            }
            Request::VerifyPublicKey {
                conn,
                userauth_request,
            } => {
                let reply = self.verify_public_key(link, conn, &userauth_request).await;
                Some((conn, reply))
            }
            Request::Password {
                conn,
                user,
                password,
                keyboard_interactive,
            } => {
                let reply = self
                    .password(link, conn, &user, &password, keyboard_interactive)
                    .await;
                Some((conn, reply))
            }
            Request::Account { conn, user, method } => {
                Some((conn, self.account(link, conn, &user, &method).await))
            }
            Request::Authenticated { conn, user, state } => {
                self.take_over(link, conn, user, state, fds).await;
                None
            }
            Request::Closed {
                conn,
                grace_exceeded,
            } => {
                lock(&link.ledger).closed(conn);
                let entry = lock(&link.conns).remove(&conn);
                if let Some(policy) = entry.and_then(|e| e.policy) {
                    lock(&self.setup.penalties).penalise(
                        policy.peer.ip(),
                        connection::penalty(grace_exceeded, &policy),
                        Instant::now(),
                    );
                }
                None
            }
            other => {
                tracing::error!("worker {}: unexpected {other:?}", link.pid);
                None
            }
        };
        if let Some((conn, reply)) = reply {
            if matches!(reply, Reply::Refused(_)) {
                // The connection is forgotten (the ledger already did).
                lock(&link.conns).remove(&conn);
                lock(&link.ledger).closed(conn);
            }
            let frame = WorkerFrame::Reply { conn, reply };
            if let Err(e) = link.chan.send(&frame.encode(), &[]).await {
                tracing::debug!("worker {}: {e}", link.pid);
            }
        }
    }

    /// Signs the exchange hash the request's inputs give, with the host
    /// key its `K_S` names.
    fn sign(
        &self,
        link: &WorkerLink,
        conn: ConnId,
        request: &ssh_async::ssh_transport::kex::ExchangeHashRequest,
    ) -> Reply {
        if !lock(&link.conns).contains_key(&conn) {
            return refused(link, "unknown connection");
        }
        match super::sign_exchange(&self.setup.keys, &mut lock(&link.ledger), conn, request) {
            Ok(sig) => Reply::Signature(sig),
            Err(why) => refused(link, &why),
        }
    }

    async fn query_public_key(
        &self,
        link: &WorkerLink,
        conn: ConnId,
        user: &str,
        algorithm: &str,
        blob: &[u8],
        proof: bool,
    ) -> Reply {
        if let Err(e) = lock(&link.ledger).query_public_key(conn, user) {
            return refused(link, &e.to_string());
        }
        let Some((key, cert)) = offered_key(algorithm, blob) else {
            return Reply::Verdict(false);
        };
        let Some(mut policy) = take_policy(link, conn) else {
            return refused(link, "unknown or busy connection");
        };
        let ok = policy.public_key(user, &key, cert.as_ref(), proof).await;
        finish(link, conn, policy, Reply::Verdict(ok))
    }

    /// Verifies a `publickey` request's signature over data built from the
    /// monitor's own session identifier, and that the key is authorized:
    /// only then is the key proven.
    async fn verify_public_key(&self, link: &WorkerLink, conn: ConnId, request: &[u8]) -> Reply {
        let proof = match lock(&link.ledger).public_key_proof(conn, request) {
            Ok(p) => p,
            Err(e) => return refused(link, &e.to_string()),
        };
        if let Some(bound) = &proof.host_key
            && !self.setup.keys.iter().any(|k| k.public.to_blob() == *bound)
        {
            lock(&link.ledger).record(conn, Method::PublicKey, false);
            return Reply::Verdict(false);
        }
        let algorithm = cert_signature_algorithm(&proof.algorithm).map_or_else(
            || SignatureAlgorithm::from_name(&proof.algorithm).ok(),
            Some,
        );
        let (Some(algorithm), Some((key, cert))) =
            (algorithm, offered_key(&proof.algorithm, &proof.key))
        else {
            lock(&link.ledger).record(conn, Method::PublicKey, false);
            return Reply::Verdict(false);
        };
        let signed = algorithm.key_type() == key.key_type()
            && ssh_async::ssh_keys::verify_with_policy(
                &key,
                algorithm,
                &proof.signed_data,
                &proof.signature,
                &VerifyPolicy::default(),
            )
            .is_ok();
        let Some(mut policy) = take_policy(link, conn) else {
            return refused(link, "unknown or busy connection");
        };
        let ok = signed
            && policy
                .public_key(&proof.user, &key, cert.as_ref(), true)
                .await;
        if ok {
            policy.public_key_verified(&proof.user, &key);
        }
        lock(&link.ledger).record(conn, Method::PublicKey, ok);
        finish(link, conn, policy, Reply::Verdict(ok))
    }

    async fn password(
        &self,
        link: &WorkerLink,
        conn: ConnId,
        user: &str,
        password: &str,
        keyboard_interactive: bool,
    ) -> Reply {
        if let Err(e) = lock(&link.ledger).password(conn, user) {
            return refused(link, &e.to_string());
        }
        let Some(mut policy) = take_policy(link, conn) else {
            return refused(link, "unknown or busy connection");
        };
        let (ok, method) = if keyboard_interactive {
            let answer = policy.info_response(user, &[password.to_owned()]).await;
            (
                matches!(answer, KeyboardInteractiveAnswer::Accept),
                Method::KeyboardInteractive,
            )
        } else {
            (policy.password(user, password).await, Method::Password)
        };
        lock(&link.ledger).record(conn, method, ok);
        finish(link, conn, policy, Reply::Verdict(ok))
    }

    /// sshd's account checks once the methods passed; an allowed account
    /// is logged as accepted here, where the decision is.
    async fn account(&self, link: &WorkerLink, conn: ConnId, user: &str, method: &str) -> Reply {
        if lock(&link.ledger).session_id(conn).is_none() {
            return refused(link, "account check before the key exchange");
        }
        let Some(mut policy) = take_policy(link, conn) else {
            return refused(link, "unknown or busy connection");
        };
        if policy.authenticated.is_some() {
            put_policy(link, conn, policy);
            return refused(link, "a second account check");
        }
        let reply = match ssh_async::ServerHandler::account(&mut policy, user, method).await {
            AccountVerdict::Allow => {
                policy.authenticated(user, method);
                Reply::Verdict(true)
            }
            AccountVerdict::AllowWithBanner { message } => {
                policy.authenticated(user, method);
                Reply::Allowed(message)
            }
            AccountVerdict::Deny { message } => Reply::Denied(message),
        };
        finish(link, conn, policy, reply)
    }

    /// The worker sent USERAUTH_SUCCESS: if the monitor's own record says
    /// the proofs are there, the connection goes to its user's session
    /// process (with a `ChrootDirectory`, one confined there).
    async fn take_over(
        &self,
        link: &WorkerLink,
        conn: ConnId,
        user: String,
        state: Zeroizing<Vec<u8>>,
        fds: Vec<OwnedFd>,
    ) {
        let entry = lock(&link.conns).remove(&conn);
        let Some(mut policy) = entry.and_then(|e| e.policy) else {
            tracing::error!("worker {}: hand-over of an unknown connection", link.pid);
            lock(&link.ledger).closed(conn);
            return;
        };
        let required = policy
            .account(&user)
            .map(|a| required_methods(&a.settings.authentication_methods));
        let granted = {
            let mut ledger = lock(&link.ledger);
            let granted = match required {
                Some(Some(required)) => ledger.hand_over(conn, &user, &required),
                _ => Err(ssh_privsep::Refusal::NotAuthenticated),
            };
            let session_id = ledger.session_id(conn).map(<[u8]>::to_vec);
            ledger.closed(conn);
            granted.map(|()| session_id)
        };
        let session_id = match granted {
            Ok(Some(id)) => id,
            Ok(None) | Err(_) => {
                let why = granted
                    .err()
                    .map_or_else(|| "no session".into(), |e| e.to_string());
                tracing::error!("worker {}: hand-over of {user} refused: {why}", link.pid);
                return;
            }
        };
        let Some(socket) = fds.into_iter().next() else {
            tracing::error!("worker {}: a hand-over without its socket", link.pid);
            return;
        };
        let Some(auth) = connection::Authenticated::from_policy(&mut policy, &user) else {
            return;
        };
        let u = &auth.account.user;
        let h = HandOver {
            user: u.clone(),
            // A chrooted account's process is its own, confined there.
            chroot: auth
                .account
                .settings
                .expand_chroot_directory(&u.name, &u.home),
            session_id,
            peer: auth.peer.to_string(),
            local: auth.local.to_string(),
            key_options: auth.key_options,
            password_change: auth.password_change,
            state,
            socket,
        };
        if let Err(e) = self.users.hand_over(h).await {
            tracing::error!("handing {user}'s connection to its session process: {e}");
        }
    }
}

/// The key a `publickey` request names: a plain key, or a certificate
/// and the key it certifies.
fn offered_key(algorithm: &str, blob: &[u8]) -> Option<(PublicKey, Option<Certificate>)> {
    if algorithm.ends_with("-cert-v01@openssh.com") {
        let cert = Certificate::from_blob(blob).ok()?;
        Some((cert.key.clone(), Some(cert)))
    } else {
        Some((PublicKey::from_blob(blob).ok()?, None))
    }
}

/// sshd's `AuthenticationMethods` as the ledger checks them; a list
/// naming a method the monitor cannot verify (hostbased) can never be
/// satisfied, and is left out; `None` when none is left of a non-empty
/// setting (no hand-over can be granted).
fn required_methods(lists: &[Vec<String>]) -> Option<Vec<Vec<Method>>> {
    let required: Vec<Vec<Method>> = lists
        .iter()
        .filter_map(|list| {
            list.iter()
                .map(|m| match m.split(':').next() {
                    Some("publickey") => Some(Method::PublicKey),
                    Some("password") => Some(Method::Password),
                    Some("keyboard-interactive") => Some(Method::KeyboardInteractive),
                    _ => None,
                })
                .collect()
        })
        .collect();
    (lists.is_empty() || !required.is_empty()).then_some(required)
}

fn take_policy(link: &WorkerLink, conn: ConnId) -> Option<Policy> {
    lock(&link.conns).get_mut(&conn)?.policy.take()
}

fn put_policy(link: &WorkerLink, conn: ConnId, policy: Policy) {
    if let Some(e) = lock(&link.conns).get_mut(&conn) {
        e.policy = Some(policy);
    }
}

/// Puts the policy back and gives `reply`, or the policy's refusal of the
/// connection (sshd's `RefuseConnection`).
fn finish(link: &WorkerLink, conn: ConnId, policy: Policy, reply: Reply) -> Reply {
    let refusal = policy.refused.clone();
    put_policy(link, conn, policy);
    match refusal {
        Some(why) => Reply::Disconnect(why),
        None => reply,
    }
}

fn refused(link: &WorkerLink, why: &str) -> Reply {
    tracing::error!("worker {}: refused: {why}", link.pid);
    Reply::Refused(why.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_methods_map_sshd_names() {
        let lists = vec![
            vec!["publickey".to_owned(), "password".to_owned()],
            vec!["keyboard-interactive:pam".to_owned()],
            vec!["hostbased".to_owned()],
        ];
        assert_eq!(
            required_methods(&lists),
            Some(vec![
                vec![Method::PublicKey, Method::Password],
                vec![Method::KeyboardInteractive]
            ])
        );
        // Any one proof when unset; none at all when only hostbased.
        assert_eq!(required_methods(&[]), Some(vec![]));
        assert_eq!(required_methods(&[vec!["hostbased".to_owned()]]), None);
    }
}
