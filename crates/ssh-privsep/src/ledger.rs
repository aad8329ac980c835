//! The monitor's record of each worker connection, and the checks every
//! request passes before the monitor acts on it.
//!
//! The model is OpenSSH's `monitor.c`: a request is allowed only in the
//! state the connection is in. Here the states are kept per connection of
//! a worker, since one worker holds many:
//!
//! - the first exchange hash signed becomes the session identifier, and
//!   there is exactly one first exchange; a re-key is signed only after it;
//! - authentication requests come only after the first exchange, and all
//!   name the same user (OpenSSH: "user change not allowed");
//! - a `publickey` signature is checked over data the monitor builds from
//!   its own session identifier, never over data the worker supplies;
//! - failed attempts are counted here, so a worker cannot try passwords
//!   without limit through the monitor;
//! - the hand-over to the user's session happens once, for the user whose
//!   proofs the monitor itself verified, and only when they satisfy the
//!   required methods.

use std::collections::HashMap;

use ssh_transport::kex::ExchangeHashRequest;
use ssh_wire::messages::userauth::{AuthMethod, UserauthRequest};
use ssh_wire::{Decode, Reader};

use crate::ConnId;

/// An authentication method the monitor verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// A `publickey` signature.
    PublicKey,
    /// A password.
    Password,
    /// A keyboard-interactive (PAM) conversation.
    KeyboardInteractive,
}

/// Why the monitor refused a request. Each one means the worker broke the
/// rules (or was made to): the monitor forgets the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The worker already holds as many connections as allowed.
    TooManyConnections,
    /// A request for a connection the monitor does not know (never
    /// started with a first key exchange, or forgotten).
    UnknownConnection,
    /// A second "first" key exchange: the session identifier is set once.
    SecondFirstExchange,
    /// Authentication before the first key exchange.
    NoSessionYet,
    /// A request naming another user than the connection's first.
    UserChanged {
        /// The connection's user.
        was: String,
        /// The user named now.
        now: String,
    },
    /// More failed attempts than allowed.
    TooManyAttempts,
    /// A publickey verification of something that is not a signed
    /// `publickey` USERAUTH_REQUEST for `ssh-connection`.
    NotASignedPublicKeyRequest,
    /// A hand-over without the proofs the monitor verified.
    NotAuthenticated,
    /// The connection was already handed over.
    AlreadyHandedOver,
}

impl core::fmt::Display for Refusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::TooManyConnections => f.write_str("too many connections for one worker"),
            Self::UnknownConnection => f.write_str("unknown connection"),
            Self::SecondFirstExchange => f.write_str("a second first key exchange"),
            Self::NoSessionYet => f.write_str("authentication before the key exchange"),
            Self::UserChanged { was, now } => {
                write!(f, "user change not allowed ({was:?} to {now:?})")
            }
            Self::TooManyAttempts => f.write_str("too many authentication attempts"),
            Self::NotASignedPublicKeyRequest => {
                f.write_str("not a signed publickey request for ssh-connection")
            }
            Self::NotAuthenticated => f.write_str("hand-over without verified proofs"),
            Self::AlreadyHandedOver => f.write_str("the connection was already handed over"),
        }
    }
}

impl std::error::Error for Refusal {}

/// The monitor's limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Connections one worker may have in the ledger at once.
    pub max_connections: usize,
    /// Failed authentication attempts per connection (sshd's
    /// `MaxAuthTries`, 6).
    pub max_attempts: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            max_attempts: 6,
        }
    }
}

#[derive(Debug, Default)]
struct Conn {
    session_id: Vec<u8>,
    user: Option<String>,
    proofs: Vec<Method>,
    failures: u32,
    handed_over: bool,
}

/// What a `publickey` verification needs, taken from a USERAUTH_REQUEST
/// the monitor decoded itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKeyProof {
    /// The user.
    pub user: String,
    /// The public key algorithm named.
    pub algorithm: String,
    /// The public key blob (a certificate's, for a certificate).
    pub key: Vec<u8>,
    /// For `publickey-hostbound-v00@openssh.com`, the host key blob the
    /// client bound the signature to: the monitor checks it is one of its
    /// own.
    pub host_key: Option<Vec<u8>>,
    /// The data the signature must cover, built from the monitor's own
    /// session identifier.
    pub signed_data: Vec<u8>,
    /// The signature blob.
    pub signature: Vec<u8>,
}

/// The monitor's record of one worker's connections.
#[derive(Debug, Default)]
pub struct Ledger {
    limits: Limits,
    conns: HashMap<ConnId, Conn>,
}

impl Ledger {
    /// An empty ledger with these limits.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            conns: HashMap::new(),
        }
    }

    /// Connections on record.
    pub fn len(&self) -> usize {
        self.conns.len()
    }

    /// True when no connection is on record.
    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// Checks a request to sign an exchange hash. The first exchange of a
    /// connection starts its record, and its `H` (computed here) becomes
    /// the session identifier; a re-key needs that record. The caller then
    /// signs with [`ExchangeHashRequest::sign`], which checks that `K_S`
    /// is the host key used.
    pub fn sign_exchange_hash(
        &mut self,
        conn: ConnId,
        request: &ExchangeHashRequest,
    ) -> Result<(), Refusal> {
        if request.first() {
            return self.begin(
                conn,
                Conn {
                    session_id: request.exchange_hash(),
                    ..Conn::default()
                },
            );
        }
        self.live(conn)?;
        Ok(())
    }

    /// Checks a `publickey` query (no signature) for `user`.
    pub fn query_public_key(&mut self, conn: ConnId, user: &str) -> Result<(), Refusal> {
        self.attempt(conn, user)
    }

    /// Checks a signed `publickey` request and returns what to verify:
    /// the signature over data built from the monitor's session
    /// identifier, and (the caller's part) whether the key is authorized
    /// for the user. Report the outcome with [`Ledger::record`].
    pub fn public_key_proof(
        &mut self,
        conn: ConnId,
        userauth_request: &[u8],
    ) -> Result<PublicKeyProof, Refusal> {
        let request = decode_userauth(userauth_request)
            .ok_or(Refusal::NotASignedPublicKeyRequest)
            .map_err(|e| self.refuse(conn, e))?;
        self.attempt(conn, &request.user)?;
        let session_id = self
            .conns
            .get(&conn)
            .map(|c| c.session_id.clone())
            .unwrap_or_default();
        let (algorithm, public_key, signature, host_key) = match &request.method {
            AuthMethod::PublicKey {
                algorithm,
                public_key,
                signature: Some(signature),
            } => (algorithm, public_key, signature, None),
            AuthMethod::PublicKeyHostBound {
                algorithm,
                public_key,
                host_key,
                signature: Some(signature),
            } => (algorithm, public_key, signature, Some(host_key.clone())),
            _ => return Err(self.refuse(conn, Refusal::NotASignedPublicKeyRequest)),
        };
        if request.service != "ssh-connection" {
            return Err(self.refuse(conn, Refusal::NotASignedPublicKeyRequest));
        }
        let signed_data = request
            .publickey_signed_data(&session_id)
            .ok_or(Refusal::NotASignedPublicKeyRequest)
            .map_err(|e| self.refuse(conn, e))?;
        Ok(PublicKeyProof {
            user: request.user.clone(),
            algorithm: algorithm.clone(),
            key: public_key.clone(),
            host_key,
            signed_data,
            signature: signature.clone(),
        })
    }

    /// Checks a password attempt for `user`. Report the outcome with
    /// [`Ledger::record`].
    pub fn password(&mut self, conn: ConnId, user: &str) -> Result<(), Refusal> {
        self.attempt(conn, user)
    }

    /// The outcome of a check the monitor made itself: a verified proof
    /// counts towards the hand-over, a failure towards the attempt limit.
    pub fn record(&mut self, conn: ConnId, method: Method, verified: bool) {
        if let Some(c) = self.conns.get_mut(&conn) {
            if verified {
                if !c.proofs.contains(&method) {
                    c.proofs.push(method);
                }
            } else {
                c.failures = c.failures.saturating_add(1);
            }
        }
    }

    /// The worker says `user` is authenticated. Allowed once, for the
    /// connection's user, when the proofs the monitor verified satisfy
    /// one of the `required` method lists (sshd's `AuthenticationMethods`;
    /// empty: any one proof).
    pub fn hand_over(
        &mut self,
        conn: ConnId,
        user: &str,
        required: &[Vec<Method>],
    ) -> Result<(), Refusal> {
        let c = self.live(conn)?;
        if c.handed_over {
            return Err(self.refuse(conn, Refusal::AlreadyHandedOver));
        }
        if c.user.as_deref() != Some(user) {
            return Err(self.refuse(conn, Refusal::NotAuthenticated));
        }
        let satisfied = if required.is_empty() {
            !c.proofs.is_empty()
        } else {
            required
                .iter()
                .any(|list| list.iter().all(|m| c.proofs.contains(m)))
        };
        if !satisfied {
            return Err(self.refuse(conn, Refusal::NotAuthenticated));
        }
        c.handed_over = true;
        Ok(())
    }

    /// Takes on record a connection authenticated elsewhere (handed over
    /// to a user's session process): with its session identifier (the
    /// monitor's own, from the worker's record), so that its re-keys can
    /// be signed, and nothing else: no authentication request is allowed
    /// for it. The number must be new to this ledger.
    pub fn adopt(&mut self, conn: ConnId, session_id: Vec<u8>, user: &str) -> Result<(), Refusal> {
        self.begin(
            conn,
            Conn {
                session_id,
                user: Some(user.to_owned()),
                handed_over: true,
                ..Conn::default()
            },
        )
    }

    /// Puts a new connection on record: a number already known is refused
    /// (and forgotten), and so is one past the limit.
    fn begin(&mut self, conn: ConnId, record: Conn) -> Result<(), Refusal> {
        if self.conns.contains_key(&conn) {
            return Err(self.refuse(conn, Refusal::SecondFirstExchange));
        }
        if self.conns.len() >= self.limits.max_connections {
            return Err(Refusal::TooManyConnections);
        }
        self.conns.insert(conn, record);
        Ok(())
    }

    /// The session identifier of a connection, once known.
    pub fn session_id(&self, conn: ConnId) -> Option<&[u8]> {
        self.conns.get(&conn).map(|c| &c.session_id[..])
    }

    /// The connection ended: its record goes.
    pub fn closed(&mut self, conn: ConnId) {
        self.conns.remove(&conn);
    }

    fn live(&mut self, conn: ConnId) -> Result<&mut Conn, Refusal> {
        self.conns.get_mut(&conn).ok_or(Refusal::UnknownConnection)
    }

    /// An authentication attempt for `user`: after the first exchange,
    /// for the connection's one user, within the attempt limit.
    fn attempt(&mut self, conn: ConnId, user: &str) -> Result<(), Refusal> {
        let max = self.limits.max_attempts;
        let Some(c) = self.conns.get_mut(&conn) else {
            return Err(Refusal::NoSessionYet);
        };
        if c.handed_over {
            return Err(self.refuse(conn, Refusal::AlreadyHandedOver));
        }
        match &c.user {
            Some(was) if was != user => {
                let e = Refusal::UserChanged {
                    was: was.clone(),
                    now: user.to_owned(),
                };
                return Err(self.refuse(conn, e));
            }
            Some(_) => {}
            None => c.user = Some(user.to_owned()),
        }
        if c.failures >= max {
            return Err(self.refuse(conn, Refusal::TooManyAttempts));
        }
        Ok(())
    }

    /// A refusal forgets the connection: a worker that broke the rules for
    /// it gets nothing more for it.
    fn refuse(&mut self, conn: ConnId, e: Refusal) -> Refusal {
        self.conns.remove(&conn);
        e
    }
}

fn decode_userauth(payload: &[u8]) -> Option<UserauthRequest> {
    let mut r = Reader::new(payload);
    let request = UserauthRequest::decode(&mut r).ok()?;
    r.finish("userauth request").ok()?;
    Some(request)
}
