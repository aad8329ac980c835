//! What the server's application sees of authentication: its
//! configuration, the questions it is asked ([`ServerEvent`]) and its
//! answers (verdicts).

use std::time::Duration;

use ssh_keys::{PublicKey, SignatureAlgorithm, VerifyPolicy};
use ssh_wire::messages::userauth::InfoPrompt;

use crate::cert::Certificate;

/// Server configuration.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The methods offered, in the order listed in FAILURE messages
    /// (`publickey`, `password`, `keyboard-interactive`).
    pub methods: Vec<String>,
    /// OpenSSH `AuthenticationMethods`: each inner list must succeed in
    /// order; any one list completes authentication. Empty: any one
    /// method of `methods` suffices.
    pub required: Vec<Vec<String>>,
    /// Failed attempts before the connection is dropped (`MaxAuthTries`).
    pub max_tries: u32,
    /// How long each FAILURE is held back after a failed attempt.
    pub failure_delay: Duration,
    /// Time allowed for the whole authentication (`LoginGraceTime`).
    pub deadline: Duration,
    /// The service clients may request.
    pub service: String,
    /// Text sent as `SSH_MSG_USERAUTH_BANNER` before the first answer.
    pub banner: Option<String>,
    /// Signature policy for `publickey`.
    pub verify_policy: VerifyPolicy,
    /// The server's host key blob, for `publickey-hostbound-v00` (OpenSSH
    /// `PROTOCOL` §3.1). `None` refuses that method.
    pub host_key: Option<Vec<u8>>,
    /// Ask the application whether the account may log in now, once the
    /// client has passed every method it needs and before SUCCESS is
    /// sent ([`ServerEvent::CheckAccount`]; sshd's PAM account
    /// management, which runs whatever the method). False: no such
    /// question, success at once.
    pub check_account: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            methods: vec![
                "publickey".into(),
                "password".into(),
                "keyboard-interactive".into(),
            ],
            required: Vec::new(),
            max_tries: 6,
            failure_delay: Duration::from_millis(100),
            deadline: Duration::from_secs(120),
            service: "ssh-connection".into(),
            banner: None,
            verify_policy: VerifyPolicy::default(),
            host_key: None,
            check_account: false,
        }
    }
}

/// What the application must decide.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerEvent {
    /// Is `key` acceptable for `user`? Answer with
    /// [`ServerAuth::answer_public_key`](super::ServerAuth::answer_public_key). If `query_only` is false, the
    /// request carries a signature that is verified after a yes.
    VerifyPublicKey {
        /// The user.
        user: String,
        /// The key offered.
        key: PublicKey,
        /// The signature algorithm named in the request.
        algorithm: SignatureAlgorithm,
        /// True for a query (no signature).
        query_only: bool,
        /// The certificate, if `key` was offered in one. The application
        /// checks it ([`Certificate::validate`]: its trusted CAs, the
        /// principal, the time) before saying yes.
        certificate: Option<Box<Certificate>>,
    },
    /// Check a password; answer with [`ServerAuth::answer_password`](super::ServerAuth::answer_password).
    VerifyPassword {
        /// The user.
        user: String,
        /// The password.
        password: String,
        /// The new password, if the client is changing it.
        new_password: Option<String>,
    },
    /// A keyboard-interactive exchange starts; answer with
    /// [`ServerAuth::answer_keyboard_interactive`](super::ServerAuth::answer_keyboard_interactive).
    KeyboardInteractive {
        /// The user.
        user: String,
        /// The client's submethod hints.
        submethods: String,
    },
    /// The responses to the last prompts; answer with
    /// [`ServerAuth::answer_keyboard_interactive`](super::ServerAuth::answer_keyboard_interactive).
    InfoResponse {
        /// The user.
        user: String,
        /// One response per prompt.
        responses: Vec<String>,
    },
    /// The signature of a `publickey` request by `key` verified: `key` is
    /// proven, and the method succeeded (a [`ServerEvent::Success`], a
    /// [`ServerEvent::CheckAccount`] or, with more methods required, a
    /// partial success follows). The only event naming a key that
    /// authenticated: [`ServerEvent::VerifyPublicKey`] is asked for
    /// queries and before a signature is checked, so the last key asked
    /// about is not necessarily the key that authenticated (Go's
    /// CVE-2024-45337). Per-key policy (`authorized_keys` options) is the
    /// one of this key.
    PublicKeyVerified {
        /// The user.
        user: String,
        /// The key (for a certificate, the certified key).
        key: PublicKey,
        /// The signed SSH_MSG_USERAUTH_REQUEST payload, as decoded: a
        /// proof another process can check for itself (the signature
        /// covers the session identifier; a privilege-separated server's
        /// monitor verifies it again before it believes the worker).
        request: Vec<u8>,
    },
    /// `user` has passed every method it needs (`method` last): may the
    /// account log in now (expired, locked, `/etc/nologin`, ...)? Asked
    /// only with [`ServerConfig::check_account`]; answer with
    /// [`ServerAuth::answer_account`](super::ServerAuth::answer_account). Nothing has been sent yet.
    CheckAccount {
        /// The user.
        user: String,
        /// The method that completed authentication.
        method: String,
    },
    /// Authenticated: start `service` for `user`.
    Success {
        /// The user.
        user: String,
        /// The service.
        service: String,
        /// The method that completed authentication.
        method: String,
    },
}

/// The application's verdict on a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordVerdict {
    /// Correct.
    Accept,
    /// Wrong.
    Reject,
    /// Correct but expired: ask for a new one with this prompt.
    ChangeRequired {
        /// The prompt.
        prompt: String,
    },
}

/// The application's answer in a keyboard-interactive exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyboardInteractiveAnswer {
    /// Send these prompts (another round).
    Prompts {
        /// Name.
        name: String,
        /// Instruction.
        instruction: String,
        /// Prompts.
        prompts: Vec<InfoPrompt>,
    },
    /// Authenticated.
    Accept,
    /// Failed.
    Reject,
}

/// The application's verdict on an authenticated account
/// ([`ServerEvent::CheckAccount`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountVerdict {
    /// The account may log in.
    Allow,
    /// It may, and `message` (when not empty) is shown to the user first
    /// as a banner: PAM's account messages, as sshd sends them ("You are
    /// required to change your password immediately").
    AllowWithBanner {
        /// What the user is told.
        message: String,
    },
    /// It may not: `message` (when not empty) is shown to the user as a
    /// banner, then the connection ends
    /// ([`AuthError::AccountDenied`](crate::AuthError::AccountDenied)).
    Deny {
        /// What the user is told ("Your account has expired; ...").
        message: String,
    },
}
