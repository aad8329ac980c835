//! The server side of user authentication (RFC 4252, RFC 4256), sans-IO.
//!
//! Feed the client's auth payloads to [`ServerAuth::handle_payload`],
//! answer the events of [`ServerAuth::poll_event`], send what
//! [`ServerAuth::poll_outgoing`] gives, and call
//! [`ServerAuth::handle_timeout`] when [`ServerAuth::poll_timeout`] is
//! reached. Time is always passed in; nothing here reads a clock.
//!
//! "Key offered" and "key proven" are different outcomes: the application
//! approves a key ([`ServerEvent::VerifyPublicKey`]); only after that, a
//! signature over this session's id, verified here, authenticates.

use std::collections::VecDeque;
use std::time::Instant;

use ssh_keys::{PublicKey, SignatureAlgorithm};
use ssh_wire::messages::DisconnectReason;
use ssh_wire::messages::userauth::{
    AuthContext, AuthMethod, UserauthBanner, UserauthFailure, UserauthInfoRequest, UserauthMessage,
    UserauthPasswdChangereq, UserauthPkOk, UserauthSuccess,
};
use ssh_wire::{Encode, NameList};

use crate::cert::{Certificate, cert_signature_algorithm};
use crate::error::AuthError;

mod api;
pub use api::{
    AccountVerdict, KeyboardInteractiveAnswer, PasswordVerdict, ServerConfig, ServerEvent,
};

/// Requests held while the application decides about an earlier one
/// (RFC 4252 §5 lets clients send several without waiting).
const MAX_QUEUED_REQUESTS: usize = 4;

/// A `publickey` request waiting for the application's verdict.
#[derive(Debug)]
struct KeyAttempt {
    key: PublicKey,
    algorithm: SignatureAlgorithm,
    /// What PK_OK echoes: the request's algorithm name and blob.
    echo: (String, Vec<u8>),
    /// The signed data and the signature (`None` for a query).
    signed: Option<(Vec<u8>, Vec<u8>)>,
    /// The USERAUTH_REQUEST itself, for a signed one: what
    /// [`ServerEvent::PublicKeyVerified`] hands on as the proof.
    request: Vec<u8>,
    /// The method name for the required lists.
    method: String,
}

fn request_algorithm(method: &AuthMethod) -> String {
    match method {
        AuthMethod::PublicKey { algorithm, .. }
        | AuthMethod::PublicKeyHostBound { algorithm, .. } => algorithm.clone(),
        _ => String::new(),
    }
}

#[derive(Debug)]
enum Waiting {
    /// Ready for a request.
    Request,
    PublicKey(Box<KeyAttempt>),
    Password,
    /// The application is choosing prompts (or a verdict).
    KeyboardInteractiveApp,
    /// Prompts sent; the client's INFO_RESPONSE is due.
    InfoResponse {
        count: usize,
    },
    /// Every method passed; the application checks the account.
    Account {
        method: String,
    },
    Done,
}

/// The server authentication state machine.
#[derive(Debug)]
pub struct ServerAuth {
    config: ServerConfig,
    /// `None` if `now + config.deadline` is not representable: no limit.
    deadline: Option<Instant>,
    /// The user and service of the first request; changes are refused.
    user: Option<(String, String)>,
    session_id: Vec<u8>,
    lists: Vec<VecDeque<String>>,
    failures: u32,
    /// Requests seen: only a first `none` goes uncounted (sshd's rule).
    requests: u32,
    waiting: Waiting,
    queued: VecDeque<Vec<u8>>,
    /// Payloads, each released at its instant.
    out: VecDeque<(Instant, Vec<u8>)>,
    events: VecDeque<ServerEvent>,
    error: Option<AuthError>,
    banner_sent: bool,
}

impl ServerAuth {
    /// Starts authentication at `now` for the connection with
    /// `session_id`.
    pub fn new(config: ServerConfig, session_id: &[u8], now: Instant) -> Self {
        let lists = if config.required.is_empty() {
            config
                .methods
                .iter()
                .map(|m| VecDeque::from([m.clone()]))
                .collect()
        } else {
            config
                .required
                .iter()
                .map(|l| l.iter().cloned().collect())
                .collect()
        };
        Self {
            deadline: now.checked_add(config.deadline),
            config,
            user: None,
            session_id: session_id.to_vec(),
            lists,
            failures: 0,
            requests: 0,
            waiting: Waiting::Request,
            queued: VecDeque::new(),
            out: VecDeque::new(),
            events: VecDeque::new(),
            error: None,
            banner_sent: false,
        }
    }

    /// True once SUCCESS was sent.
    pub fn is_authenticated(&self) -> bool {
        matches!(self.waiting, Waiting::Done) && self.error.is_none()
    }

    /// True while a question to the application is unanswered (a key, a
    /// password, prompts or a verdict, the account): the client's next
    /// messages must wait for the answer, as they would in sshd, which
    /// decides each request before it reads the next.
    pub fn awaiting_application(&self) -> bool {
        matches!(
            self.waiting,
            Waiting::PublicKey(_)
                | Waiting::Password
                | Waiting::KeyboardInteractiveApp
                | Waiting::Account { .. }
        )
    }

    /// The next payload to send at `now`, if any (FAILUREs are held back
    /// by the failure delay).
    pub fn poll_outgoing(&mut self, now: Instant) -> Option<Vec<u8>> {
        match self.out.front() {
            Some((at, _)) if *at <= now => self.out.pop_front().map(|(_, p)| p),
            _ => None,
        }
    }

    /// Nothing waits to go out: no event, no message (held back or not).
    pub fn is_drained(&self) -> bool {
        self.events.is_empty() && self.out.is_empty() && self.queued.is_empty()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    /// The next instant at which [`ServerAuth::handle_timeout`] has work:
    /// a held-back FAILURE or the authentication deadline.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.error.is_some() {
            return None;
        }
        let held = self.out.front().map(|(at, _)| *at);
        if matches!(self.waiting, Waiting::Done) {
            return held;
        }
        match (held, self.deadline) {
            (Some(h), Some(d)) => Some(h.min(d)),
            (h, d) => h.or(d),
        }
    }

    /// Handles the passage of time: past the deadline, an unauthenticated
    /// connection fails with [`AuthError::Timeout`].
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), AuthError> {
        self.check()?;
        if self.deadline.is_some_and(|d| now >= d) && !matches!(self.waiting, Waiting::Done) {
            return self.fail(AuthError::Timeout);
        }
        Ok(())
    }

    fn check(&self) -> Result<(), AuthError> {
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    fn fail<T>(&mut self, e: AuthError) -> Result<T, AuthError> {
        self.error = Some(e.clone());
        self.out.clear();
        Err(e)
    }

    fn send(&mut self, now: Instant, payload: Vec<u8>) {
        // Never before a held-back FAILURE: order is kept.
        let at = self.out.back().map_or(now, |(t, _)| (*t).max(now));
        self.out.push_back((at, payload));
    }

    fn send_banner(&mut self, now: Instant) {
        if !self.banner_sent {
            self.banner_sent = true;
            if let Some(message) = self.config.banner.clone() {
                self.send_text(now, message);
            }
        }
    }

    /// A USERAUTH_BANNER carrying `message`.
    fn send_text(&mut self, now: Instant, message: String) {
        let banner = UserauthBanner {
            message,
            language: String::new(),
        };
        self.send(now, banner.to_bytes());
    }

    /// The methods that can continue: the next method of every list.
    fn continue_methods(&self) -> NameList {
        let mut names: Vec<&str> = Vec::new();
        for l in &self.lists {
            if let Some(m) = l.front()
                && !names.contains(&m.as_str())
            {
                names.push(m);
            }
        }
        NameList::from_names(names).unwrap_or_default()
    }

    fn allowed(&self, method: &str) -> bool {
        self.lists
            .iter()
            .any(|l| l.front().is_some_and(|m| m == method))
    }

    /// A failed attempt: counted (except a first `none`), then FAILURE after the
    /// delay, or the end if the limit is reached.
    fn reject(&mut self, now: Instant, counted: bool) -> Result<(), AuthError> {
        self.waiting = Waiting::Request;
        let mut at = now;
        if counted {
            self.failures = self.failures.saturating_add(1);
            if self.failures >= self.config.max_tries {
                return self.fail(AuthError::TooManyAttempts);
            }
            at = now.checked_add(self.config.failure_delay).unwrap_or(now);
        }
        let failure = UserauthFailure {
            methods: self.continue_methods(),
            partial_success: false,
        };
        let at = self.out.back().map_or(at, |(t, _)| (*t).max(at));
        self.out.push_back((at, failure.to_bytes()));
        self.drain_queue(now)
    }

    /// A method succeeded: SUCCESS if a list is complete, else FAILURE
    /// with partial success.
    fn method_succeeded(&mut self, now: Instant, method: &str) -> Result<(), AuthError> {
        for l in &mut self.lists {
            if l.front().is_some_and(|m| m == method) {
                l.pop_front();
            }
        }
        if self.lists.iter().any(VecDeque::is_empty) {
            if self.config.check_account {
                self.waiting = Waiting::Account {
                    method: method.to_owned(),
                };
                let user = self.user.clone().unwrap_or_default().0;
                self.events.push_back(ServerEvent::CheckAccount {
                    user,
                    method: method.to_owned(),
                });
            } else {
                self.succeed(now, method);
            }
            return Ok(());
        }
        self.waiting = Waiting::Request;
        let failure = UserauthFailure {
            methods: self.continue_methods(),
            partial_success: true,
        };
        self.send(now, failure.to_bytes());
        self.drain_queue(now)
    }

    /// SUCCESS: requests queued behind the last one are dropped (RFC 4252
    /// §5.1: ignored after success).
    fn succeed(&mut self, now: Instant, method: &str) {
        self.waiting = Waiting::Done;
        self.queued.clear();
        self.send(now, UserauthSuccess.to_bytes());
        let (user, service) = self.user.clone().unwrap_or_default();
        self.events.push_back(ServerEvent::Success {
            user,
            service,
            method: method.to_owned(),
        });
    }

    fn drain_queue(&mut self, now: Instant) -> Result<(), AuthError> {
        while matches!(self.waiting, Waiting::Request) {
            let Some(p) = self.queued.pop_front() else {
                break;
            };
            self.handle_request_payload(now, &p)?;
        }
        Ok(())
    }

    /// Handles one auth-layer payload (numbers 50-79) from the client.
    pub fn handle_payload(&mut self, now: Instant, payload: &[u8]) -> Result<(), AuthError> {
        self.check()?;
        if self.deadline.is_some_and(|d| now >= d) && !matches!(self.waiting, Waiting::Done) {
            return self.fail(AuthError::Timeout);
        }
        let ctx = match self.waiting {
            Waiting::InfoResponse { .. } => AuthContext::KeyboardInteractive,
            _ => AuthContext::None,
        };
        let message = match UserauthMessage::decode(payload, ctx) {
            Ok(m) => m,
            Err(e) => return self.fail(AuthError::protocol(format!("from client: {e}"))),
        };
        match message {
            UserauthMessage::Request(_) => {
                match self.waiting {
                    // RFC 4252 §5.1: requests after success are ignored.
                    Waiting::Done => Ok(()),
                    // A new request abandons a keyboard-interactive
                    // exchange (RFC 4256 §3.3).
                    Waiting::Request | Waiting::InfoResponse { .. } => {
                        self.handle_request_payload(now, payload)
                    }
                    _ => {
                        if self.queued.len() >= MAX_QUEUED_REQUESTS {
                            return self.fail(AuthError::protocol(
                                "too many authentication requests in flight",
                            ));
                        }
                        self.queued.push_back(payload.to_vec());
                        Ok(())
                    }
                }
            }
            UserauthMessage::InfoResponse(r) => {
                let Waiting::InfoResponse { count } = self.waiting else {
                    return self.fail(AuthError::protocol("unexpected INFO_RESPONSE"));
                };
                if r.responses.len() != count {
                    // RFC 4256 §3.4: "The number of responses MUST match".
                    return self.fail(AuthError::protocol(
                        "INFO_RESPONSE count differs from the prompts",
                    ));
                }
                self.waiting = Waiting::KeyboardInteractiveApp;
                let user = self.user.clone().unwrap_or_default().0;
                self.events.push_back(ServerEvent::InfoResponse {
                    user,
                    responses: r.responses,
                });
                Ok(())
            }
            // SUCCESS, FAILURE, BANNER, PK_OK... are server messages: a
            // client sending them is attacking (libssh CVE-2018-10933).
            other => self.fail(AuthError::protocol(format!(
                "client sent server-only message {}",
                other.number()
            ))),
        }
    }

    fn handle_request_payload(&mut self, now: Instant, payload: &[u8]) -> Result<(), AuthError> {
        let request = match UserauthMessage::decode(payload, AuthContext::None) {
            Ok(UserauthMessage::Request(r)) => r,
            Ok(_) => return self.fail(AuthError::protocol("expected USERAUTH_REQUEST")),
            Err(e) => return self.fail(AuthError::protocol(format!("from client: {e}"))),
        };
        self.send_banner(now);
        if request.service != self.config.service {
            return self.fail(AuthError::Protocol {
                reason: DisconnectReason::SERVICE_NOT_AVAILABLE,
                why: format!("service {:?} not available", request.service),
            });
        }
        match &self.user {
            None => self.user = Some((request.user.clone(), request.service.clone())),
            Some((u, s)) if *u == request.user && *s == request.service => {}
            Some(_) => {
                // OpenSSH refuses a change of user or service too.
                return self.fail(AuthError::protocol("change of user or service"));
            }
        }
        // The host-bound variant is `publickey` for the required lists.
        let method_name = match request.method {
            AuthMethod::PublicKeyHostBound { .. } => "publickey".to_owned(),
            _ => request.method.name().to_owned(),
        };
        let first = self.requests == 0;
        self.requests = self.requests.saturating_add(1);
        if !self.allowed(&method_name) {
            // `none` and disallowed methods: list what can continue. The
            // first `none` asks for that list and is free; later ones
            // count, as in sshd (a client looping on `none` is cut off).
            let counted = !(first && matches!(request.method, AuthMethod::None));
            return self.reject(now, counted);
        }
        let user = request.user.clone();
        match &request.method {
            AuthMethod::PublicKey {
                algorithm,
                public_key,
                signature,
            }
            | AuthMethod::PublicKeyHostBound {
                algorithm,
                public_key,
                signature,
                ..
            } => {
                if let AuthMethod::PublicKeyHostBound { host_key, .. } = &request.method
                    && self.config.host_key.as_ref() != Some(host_key)
                {
                    return self.reject(now, true);
                }
                // A certificate (`*-cert-v01@openssh.com`) carries the key.
                let (algorithm, key, certificate) = match cert_signature_algorithm(algorithm) {
                    Some(alg) => match Certificate::from_blob(public_key) {
                        Ok(cert) => (Ok(alg), Ok(cert.key.clone()), Some(Box::new(cert))),
                        Err(_) => return self.reject(now, true),
                    },
                    None => (
                        SignatureAlgorithm::from_name(algorithm),
                        PublicKey::from_blob(public_key),
                        None,
                    ),
                };
                let (Ok(algorithm), Ok(key)) = (algorithm, key) else {
                    return self.reject(now, true);
                };
                if algorithm.key_type() != key.key_type()
                    || (algorithm.uses_sha1() && !self.config.verify_policy.allow_ssh_rsa)
                {
                    return self.reject(now, true);
                }
                let signed = match signature {
                    Some(sig) => Some((
                        request
                            .publickey_signed_data(&self.session_id)
                            .unwrap_or_default(),
                        sig.clone(),
                    )),
                    None => None,
                };
                let query_only = signed.is_none();
                let proof = if query_only {
                    Vec::new()
                } else {
                    request.to_bytes()
                };
                self.waiting = Waiting::PublicKey(Box::new(KeyAttempt {
                    key: key.clone(),
                    algorithm,
                    echo: (request_algorithm(&request.method), public_key.clone()),
                    signed,
                    request: proof,
                    method: method_name,
                }));
                self.events.push_back(ServerEvent::VerifyPublicKey {
                    user,
                    key,
                    algorithm,
                    query_only,
                    certificate,
                });
                Ok(())
            }
            AuthMethod::Password {
                password,
                new_password,
            } => {
                self.waiting = Waiting::Password;
                self.events.push_back(ServerEvent::VerifyPassword {
                    user,
                    password: password.clone(),
                    new_password: new_password.clone(),
                });
                Ok(())
            }
            AuthMethod::KeyboardInteractive { submethods, .. } => {
                self.waiting = Waiting::KeyboardInteractiveApp;
                self.events.push_back(ServerEvent::KeyboardInteractive {
                    user,
                    submethods: submethods.clone(),
                });
                Ok(())
            }
            // hostbased, unknown methods: not implemented.
            _ => self.reject(now, true),
        }
    }

    /// Answers [`ServerEvent::VerifyPublicKey`]: `acceptable` says whether
    /// `user` may log in with this key. For a signed request the signature
    /// is then verified here; only a valid signature authenticates.
    pub fn answer_public_key(&mut self, now: Instant, acceptable: bool) -> Result<(), AuthError> {
        self.check()?;
        let Waiting::PublicKey(attempt) = core::mem::replace(&mut self.waiting, Waiting::Request)
        else {
            return Err(AuthError::Misuse("no public key is being verified"));
        };
        let KeyAttempt {
            key,
            algorithm,
            echo: (algorithm_name, blob),
            signed,
            request,
            method,
        } = *attempt;
        if !acceptable {
            return self.reject(now, true);
        }
        match signed {
            None => {
                // RFC 4252 §7: the key is acceptable; PK_OK echoes the
                // request's algorithm name and blob.
                self.send(
                    now,
                    UserauthPkOk {
                        algorithm: algorithm_name,
                        public_key: blob,
                    }
                    .to_bytes(),
                );
                self.drain_queue(now)
            }
            Some((data, signature)) => {
                let verified = ssh_keys::verify_with_policy(
                    &key,
                    algorithm,
                    &data,
                    &signature,
                    &self.config.verify_policy,
                );
                if verified.is_ok() {
                    let user = self.user.clone().unwrap_or_default().0;
                    self.events
                        .push_back(ServerEvent::PublicKeyVerified { user, key, request });
                    self.method_succeeded(now, &method)
                } else {
                    self.reject(now, true)
                }
            }
        }
    }

    /// Answers [`ServerEvent::VerifyPassword`].
    pub fn answer_password(
        &mut self,
        now: Instant,
        verdict: PasswordVerdict,
    ) -> Result<(), AuthError> {
        self.check()?;
        if !matches!(self.waiting, Waiting::Password) {
            return Err(AuthError::Misuse("no password is being verified"));
        }
        self.waiting = Waiting::Request;
        match verdict {
            PasswordVerdict::Accept => self.method_succeeded(now, "password"),
            PasswordVerdict::Reject => self.reject(now, true),
            PasswordVerdict::ChangeRequired { prompt } => {
                self.send(
                    now,
                    UserauthPasswdChangereq {
                        prompt,
                        language: String::new(),
                    }
                    .to_bytes(),
                );
                self.drain_queue(now)
            }
        }
    }

    /// Answers [`ServerEvent::KeyboardInteractive`] or
    /// [`ServerEvent::InfoResponse`].
    pub fn answer_keyboard_interactive(
        &mut self,
        now: Instant,
        answer: KeyboardInteractiveAnswer,
    ) -> Result<(), AuthError> {
        self.check()?;
        if !matches!(self.waiting, Waiting::KeyboardInteractiveApp) {
            return Err(AuthError::Misuse(
                "no keyboard-interactive exchange is waiting",
            ));
        }
        match answer {
            KeyboardInteractiveAnswer::Prompts {
                name,
                instruction,
                prompts,
            } => {
                if prompts.len() > ssh_wire::messages::userauth::MAX_PROMPTS {
                    return Err(AuthError::Misuse("too many prompts"));
                }
                self.waiting = Waiting::InfoResponse {
                    count: prompts.len(),
                };
                self.send(
                    now,
                    UserauthInfoRequest {
                        name,
                        instruction,
                        language: String::new(),
                        prompts,
                    }
                    .to_bytes(),
                );
                Ok(())
            }
            KeyboardInteractiveAnswer::Accept => self.method_succeeded(now, "keyboard-interactive"),
            KeyboardInteractiveAnswer::Reject => self.reject(now, true),
        }
    }

    /// Answers [`ServerEvent::CheckAccount`]. A denial sends its message
    /// as a banner and fails with [`AuthError::AccountDenied`]; the banner
    /// stays queued in [`ServerAuth::poll_outgoing`] so that the session
    /// can send it before its DISCONNECT.
    pub fn answer_account(
        &mut self,
        now: Instant,
        verdict: AccountVerdict,
    ) -> Result<(), AuthError> {
        self.check()?;
        let Waiting::Account { method } = core::mem::replace(&mut self.waiting, Waiting::Request)
        else {
            return Err(AuthError::Misuse("no account is being checked"));
        };
        match verdict {
            AccountVerdict::Allow => {
                self.succeed(now, &method);
                Ok(())
            }
            AccountVerdict::AllowWithBanner { message } => {
                if !message.is_empty() {
                    self.send_text(now, message);
                }
                self.succeed(now, &method);
                Ok(())
            }
            AccountVerdict::Deny { message } => {
                self.queued.clear();
                if !message.is_empty() {
                    self.send_text(now, message);
                }
                let user = self.user.clone().unwrap_or_default().0;
                let e = AuthError::AccountDenied { user };
                self.error = Some(e.clone());
                Err(e)
            }
        }
    }
}
