//! The client side of user authentication (RFC 4252, RFC 4256), sans-IO.
//!
//! Feed the server's auth payloads to [`ClientAuth::handle_payload`], send
//! what [`ClientAuth::poll_outgoing`] gives, and answer the events of
//! [`ClientAuth::poll_event`]:
//!
//! ```text
//! none ──FAILURE(methods)──> for each configured method the server allows:
//!   publickey:  query ──PK_OK──> NeedSignature ─sign()─> signed request
//!   password:   PasswordPrompt ─password()─> request [──CHANGEREQ──> PasswordChangeRequest]
//!   keyboard-interactive: request ──INFO_REQUEST──> InfoRequest ─info_response()─> ...
//! ──SUCCESS──> Success          FAILURE(partial) ──> next method
//! ```

use std::collections::VecDeque;

use ssh_keys::{KeyType, PublicKey, SignatureAlgorithm};
use ssh_wire::messages::userauth::{
    AuthContext, AuthMethod, InfoPrompt, UserauthInfoResponse, UserauthMessage, UserauthRequest,
};
use ssh_wire::{Encode, NameList};

use crate::cert::{Certificate, cert_algorithm_name};
use crate::error::AuthError;

/// The service requested after authentication, normally.
pub const SERVICE_CONNECTION: &str = "ssh-connection";

/// A method the client is willing to try, in the configured order.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ClientMethod {
    /// `publickey` with this key: a query first, then, if the server
    /// accepts the key, a [`ClientEvent::NeedSignature`].
    PublicKey(PublicKey),
    /// `publickey` with an OpenSSH certificate: the request carries the
    /// certificate; the signature is made by its key.
    Certificate(Box<Certificate>),
    /// `password`: a [`ClientEvent::PasswordPrompt`] asks for it.
    Password,
    /// `keyboard-interactive` with these submethods (usually empty).
    KeyboardInteractive {
        /// Comma-separated submethod hints (RFC 4256 §3.1).
        submethods: String,
    },
}

impl ClientMethod {
    fn name(&self) -> &'static str {
        match self {
            Self::PublicKey(_) | Self::Certificate(_) => "publickey",
            Self::Password => "password",
            Self::KeyboardInteractive { .. } => "keyboard-interactive",
        }
    }
}

/// Client configuration.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The user name to log in as.
    pub user: String,
    /// The service to start ([`SERVICE_CONNECTION`]).
    pub service: String,
    /// The methods to try, in order. A method may appear several times
    /// (two keys, or password twice for a retry).
    pub methods: Vec<ClientMethod>,
    /// Send `none` first to learn the server's methods (as OpenSSH does).
    pub try_none: bool,
    /// Allow `ssh-rsa` (SHA-1) signatures if the server lists nothing
    /// better in `server-sig-algs`.
    pub allow_ssh_rsa: bool,
    /// `PubkeyAcceptedAlgorithms`: when set, only these signature
    /// algorithms are used (an RSA key signs with the first of its
    /// algorithms that is both here and in the server's list).
    pub signature_algorithms: Option<Vec<SignatureAlgorithm>>,
}

impl ClientConfig {
    /// A configuration for `user`, service `ssh-connection`, trying
    /// `methods` after `none`.
    pub fn new(user: &str, methods: Vec<ClientMethod>) -> Self {
        Self {
            user: user.to_owned(),
            service: SERVICE_CONNECTION.to_owned(),
            methods,
            try_none: true,
            allow_ssh_rsa: false,
            signature_algorithms: None,
        }
    }
}

/// What the application must know or answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// `SSH_MSG_USERAUTH_BANNER`: show it to the user (it is untrusted
    /// text: strip control characters before printing).
    Banner {
        /// The message.
        message: String,
        /// Its language tag.
        language: String,
    },
    /// The server accepts `key`: sign `data` with `algorithm` and answer
    /// with [`ClientAuth::signature`] (or [`ClientAuth::skip`]).
    NeedSignature {
        /// The key to sign with.
        key: PublicKey,
        /// The signature algorithm (for RSA, chosen from `server-sig-algs`).
        algorithm: SignatureAlgorithm,
        /// The data to sign (RFC 4252 §7).
        data: Vec<u8>,
    },
    /// Ask the user for the password; answer with
    /// [`ClientAuth::password`] (or [`ClientAuth::skip`]).
    PasswordPrompt,
    /// The server wants a new password (RFC 4252 §8); answer with
    /// [`ClientAuth::change_password`] (or [`ClientAuth::skip`]).
    PasswordChangeRequest {
        /// The server's prompt.
        prompt: String,
    },
    /// Keyboard-interactive prompts (RFC 4256 §3.2); answer with
    /// [`ClientAuth::info_response`], one response per prompt.
    InfoRequest {
        /// The name (may be empty).
        name: String,
        /// The instruction (may be empty).
        instruction: String,
        /// The prompts.
        prompts: Vec<InfoPrompt>,
    },
    /// A method failed; `partial_success` says the previous request
    /// succeeded but more methods are required.
    Failure {
        /// The methods that can continue.
        methods: NameList,
        /// RFC 4252 §5.1 partial success.
        partial_success: bool,
    },
    /// Authenticated: the service starts now.
    Success,
}

#[derive(Debug)]
enum Pending {
    /// `none`, a signed public key, or anything answered only by
    /// SUCCESS/FAILURE.
    Plain,
    PkQuery(Box<Offer>),
    Password,
    KeyboardInteractive,
}

/// A key (or certificate) offered in a query: what PK_OK must echo.
#[derive(Debug)]
struct Offer {
    key: PublicKey,
    algorithm: SignatureAlgorithm,
    /// The algorithm name in the request (a certificate name for certs).
    name: String,
    /// The blob in the request (the certificate blob for certs).
    blob: Vec<u8>,
}

#[derive(Debug)]
enum Question {
    Signature { request: UserauthRequest },
    Password,
    PasswordChange,
    Info { count: usize },
}

#[derive(Debug)]
enum State {
    Awaiting(Pending),
    NeedApp(Question),
    Done,
}

/// The client authentication state machine.
#[derive(Debug)]
pub struct ClientAuth {
    config: ClientConfig,
    remaining: VecDeque<ClientMethod>,
    session_id: Vec<u8>,
    server_methods: Option<NameList>,
    server_sig_algs: Option<NameList>,
    state: State,
    out: VecDeque<Vec<u8>>,
    events: VecDeque<ClientEvent>,
    error: Option<AuthError>,
}

impl ClientAuth {
    /// Starts authentication for the connection with `session_id` (the
    /// exchange hash of the first key exchange). The first request is
    /// ready in [`ClientAuth::poll_outgoing`] at once (or a first event).
    pub fn new(config: ClientConfig, session_id: &[u8]) -> Self {
        let mut me = Self {
            remaining: config.methods.iter().cloned().collect(),
            config,
            session_id: session_id.to_vec(),
            server_methods: None,
            server_sig_algs: None,
            state: State::Done,
            out: VecDeque::new(),
            events: VecDeque::new(),
            error: None,
        };
        if me.config.try_none {
            me.send_request(AuthMethod::None);
            me.state = State::Awaiting(Pending::Plain);
        } else if let Err(e) = me.next_method() {
            me.error = Some(e);
        }
        me
    }

    /// The server's `server-sig-algs` (RFC 8308 §3.1), from EXT_INFO:
    /// decides the RSA signature algorithm.
    pub fn set_server_sig_algs(&mut self, algs: NameList) {
        self.server_sig_algs = Some(algs);
    }

    /// True once the server sent SUCCESS.
    pub fn is_authenticated(&self) -> bool {
        matches!(self.state, State::Done) && self.error.is_none()
    }

    /// The next payload to send, if any.
    pub fn poll_outgoing(&mut self) -> Option<Vec<u8>> {
        self.out.pop_front()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    fn check(&self) -> Result<(), AuthError> {
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    fn fail<T>(&mut self, e: AuthError) -> Result<T, AuthError> {
        self.error = Some(e.clone());
        Err(e)
    }

    fn send_request(&mut self, method: AuthMethod) {
        let request = UserauthRequest {
            user: self.config.user.clone(),
            service: self.config.service.clone(),
            method,
        };
        self.out.push_back(request.to_bytes());
    }

    /// The signature algorithm for `key`, or `None` if the server accepts
    /// none we may use.
    fn algorithm_for(&self, key: &PublicKey) -> Option<SignatureAlgorithm> {
        let allowed = |a: &SignatureAlgorithm| {
            self.config
                .signature_algorithms
                .as_ref()
                .is_none_or(|list| list.contains(a))
        };
        let algs = key.key_type().signature_algorithms();
        if key.key_type() != KeyType::Rsa {
            return algs.first().copied().filter(allowed);
        }
        match &self.server_sig_algs {
            // Without server-sig-algs, SHA-256 is the safest guess that
            // every current server accepts.
            None => algs
                .iter()
                .copied()
                .filter(allowed)
                .find(|a| *a == SignatureAlgorithm::RsaSha256)
                .or_else(|| {
                    algs.iter()
                        .copied()
                        .filter(allowed)
                        .find(|a| !a.uses_sha1())
                }),
            Some(list) => {
                algs.iter().copied().filter(allowed).find(|a| {
                    list.contains(a.name()) && (!a.uses_sha1() || self.config.allow_ssh_rsa)
                })
            }
        }
    }

    fn offer(&mut self, offer: Offer) {
        self.send_request(AuthMethod::PublicKey {
            algorithm: offer.name.clone(),
            public_key: offer.blob.clone(),
            signature: None,
        });
        self.state = State::Awaiting(Pending::PkQuery(Box::new(offer)));
    }

    /// Moves on to the next configured method the server allows.
    fn next_method(&mut self) -> Result<(), AuthError> {
        while let Some(method) = self.remaining.pop_front() {
            if let Some(allowed) = &self.server_methods
                && !allowed.contains(method.name())
            {
                continue;
            }
            match method {
                ClientMethod::PublicKey(key) => {
                    let Some(algorithm) = self.algorithm_for(&key) else {
                        continue;
                    };
                    let (name, blob) = (algorithm.name().to_owned(), key.to_blob());
                    self.offer(Offer {
                        key,
                        algorithm,
                        name,
                        blob,
                    });
                }
                ClientMethod::Certificate(cert) => {
                    let Some(algorithm) = self.algorithm_for(&cert.key) else {
                        continue;
                    };
                    self.offer(Offer {
                        key: cert.key.clone(),
                        algorithm,
                        name: cert_algorithm_name(algorithm),
                        blob: cert.blob().to_vec(),
                    });
                }
                ClientMethod::Password => {
                    self.events.push_back(ClientEvent::PasswordPrompt);
                    self.state = State::NeedApp(Question::Password);
                }
                ClientMethod::KeyboardInteractive { submethods } => {
                    self.send_request(AuthMethod::KeyboardInteractive {
                        language: String::new(),
                        submethods,
                    });
                    self.state = State::Awaiting(Pending::KeyboardInteractive);
                }
            }
            return Ok(());
        }
        self.fail(AuthError::NoMoreMethods)
    }

    /// Handles one auth-layer payload (numbers 50-79) from the server.
    pub fn handle_payload(&mut self, payload: &[u8]) -> Result<(), AuthError> {
        self.check()?;
        let ctx = match &self.state {
            State::Awaiting(Pending::PkQuery { .. }) => AuthContext::PublicKey,
            State::Awaiting(Pending::Password) => AuthContext::Password,
            State::Awaiting(Pending::KeyboardInteractive) => AuthContext::KeyboardInteractive,
            _ => AuthContext::None,
        };
        let message = match UserauthMessage::decode(payload, ctx) {
            Ok(m) => m,
            Err(e) => return self.fail(AuthError::protocol(format!("from server: {e}"))),
        };
        if matches!(self.state, State::Done) {
            return self.fail(AuthError::protocol(
                "authentication message after USERAUTH_SUCCESS",
            ));
        }
        match message {
            UserauthMessage::Banner(b) => {
                self.events.push_back(ClientEvent::Banner {
                    message: b.message,
                    language: b.language,
                });
                Ok(())
            }
            UserauthMessage::Request(_) | UserauthMessage::InfoResponse(_) => {
                self.fail(AuthError::protocol("server sent a client-only message"))
            }
            UserauthMessage::Success(_) => {
                if !matches!(self.state, State::Awaiting(_)) {
                    return self.fail(AuthError::protocol("USERAUTH_SUCCESS with no request"));
                }
                self.state = State::Done;
                self.events.push_back(ClientEvent::Success);
                Ok(())
            }
            UserauthMessage::Failure(f) => {
                if !matches!(self.state, State::Awaiting(_)) {
                    return self.fail(AuthError::protocol("USERAUTH_FAILURE with no request"));
                }
                self.events.push_back(ClientEvent::Failure {
                    methods: f.methods.clone(),
                    partial_success: f.partial_success,
                });
                self.server_methods = Some(f.methods);
                self.next_method()
            }
            UserauthMessage::PkOk(ok) => {
                let State::Awaiting(Pending::PkQuery(offer)) =
                    core::mem::replace(&mut self.state, State::Done)
                else {
                    return self.fail(AuthError::protocol("unexpected PK_OK"));
                };
                // RFC 4252 §7: PK_OK echoes the algorithm and key blob.
                if ok.algorithm != offer.name || ok.public_key != offer.blob {
                    return self.fail(AuthError::protocol("PK_OK for a key that was not offered"));
                }
                let Offer {
                    key,
                    algorithm,
                    name,
                    blob,
                } = *offer;
                let request = UserauthRequest {
                    user: self.config.user.clone(),
                    service: self.config.service.clone(),
                    method: AuthMethod::PublicKey {
                        algorithm: name,
                        public_key: blob,
                        signature: None,
                    },
                };
                let data = request
                    .publickey_signed_data(&self.session_id)
                    .unwrap_or_default();
                self.events.push_back(ClientEvent::NeedSignature {
                    key,
                    algorithm,
                    data,
                });
                self.state = State::NeedApp(Question::Signature { request });
                Ok(())
            }
            UserauthMessage::PasswdChangereq(req) => {
                self.events
                    .push_back(ClientEvent::PasswordChangeRequest { prompt: req.prompt });
                self.state = State::NeedApp(Question::PasswordChange);
                Ok(())
            }
            UserauthMessage::InfoRequest(req) => {
                if req.prompts.is_empty() {
                    // RFC 4256 §3.4: answer with zero responses, no user
                    // interaction needed.
                    self.out
                        .push_back(UserauthInfoResponse::default().to_bytes());
                    return Ok(());
                }
                let count = req.prompts.len();
                self.events.push_back(ClientEvent::InfoRequest {
                    name: req.name,
                    instruction: req.instruction,
                    prompts: req.prompts,
                });
                self.state = State::NeedApp(Question::Info { count });
                Ok(())
            }
            _ => self.fail(AuthError::protocol("unexpected authentication message")),
        }
    }

    fn take_question(&mut self, what: &'static str) -> Result<Question, AuthError> {
        self.check()?;
        match core::mem::replace(&mut self.state, State::Done) {
            State::NeedApp(q) => Ok(q),
            other => {
                self.state = other;
                Err(AuthError::Misuse(what))
            }
        }
    }

    /// Answers [`ClientEvent::NeedSignature`] with a signature blob
    /// (`string alg || string sig`, as [`ssh_keys::Signer::sign`] returns).
    pub fn signature(&mut self, signature_blob: Vec<u8>) -> Result<(), AuthError> {
        match self.take_question("no signature was asked for")? {
            Question::Signature { mut request } => {
                if let AuthMethod::PublicKey { signature, .. } = &mut request.method {
                    *signature = Some(signature_blob);
                }
                self.out.push_back(request.to_bytes());
                self.state = State::Awaiting(Pending::Plain);
                Ok(())
            }
            q => self.put_back(q, "no signature was asked for"),
        }
    }

    /// Answers [`ClientEvent::PasswordPrompt`].
    pub fn password(&mut self, password: &str) -> Result<(), AuthError> {
        match self.take_question("no password was asked for")? {
            Question::Password => {
                self.send_request(AuthMethod::Password {
                    password: password.to_owned(),
                    new_password: None,
                });
                self.state = State::Awaiting(Pending::Password);
                Ok(())
            }
            q => self.put_back(q, "no password was asked for"),
        }
    }

    /// Answers [`ClientEvent::PasswordChangeRequest`] with the old and the
    /// new password.
    pub fn change_password(&mut self, old: &str, new: &str) -> Result<(), AuthError> {
        match self.take_question("no password change was asked for")? {
            Question::PasswordChange => {
                self.send_request(AuthMethod::Password {
                    password: old.to_owned(),
                    new_password: Some(new.to_owned()),
                });
                self.state = State::Awaiting(Pending::Password);
                Ok(())
            }
            q => self.put_back(q, "no password change was asked for"),
        }
    }

    /// Answers [`ClientEvent::InfoRequest`]: exactly one response per
    /// prompt (RFC 4256 §3.4).
    pub fn info_response(&mut self, responses: Vec<String>) -> Result<(), AuthError> {
        match self.take_question("no keyboard-interactive prompts are pending")? {
            Question::Info { count } if count == responses.len() => {
                self.out
                    .push_back(UserauthInfoResponse { responses }.to_bytes());
                self.state = State::Awaiting(Pending::KeyboardInteractive);
                Ok(())
            }
            q @ Question::Info { .. } => self.put_back(q, "one response per prompt is required"),
            q => self.put_back(q, "no keyboard-interactive prompts are pending"),
        }
    }

    /// Declines the pending question and moves to the next method (a new
    /// request also abandons a keyboard-interactive exchange, RFC 4256
    /// §3.3).
    pub fn skip(&mut self) -> Result<(), AuthError> {
        self.take_question("nothing to skip")?;
        self.next_method()
    }

    fn put_back(&mut self, q: Question, what: &'static str) -> Result<(), AuthError> {
        self.state = State::NeedApp(q);
        Err(AuthError::Misuse(what))
    }
}
