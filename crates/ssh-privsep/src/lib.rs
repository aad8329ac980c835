//! Privilege separation for an SSH server, sans-IO: the request set
//! between the unprivileged pre-authentication workers and the privileged
//! monitor, and the monitor's per-connection state checks.
//!
//! The processes (see ARCHITECTURE.md, "rsshd's process model"):
//! - the **monitor** runs as root and holds the host private keys; it
//!   answers the [`Request`]s below, after [`Ledger`] allowed each;
//! - **workers** run unprivileged, each holding many connections through
//!   the version exchange, key exchange and authentication, asking the
//!   monitor for every signature and every decision;
//! - after authentication, the user's **session process** takes the
//!   connection over.
//!
//! What a worker an attacker controls can get from the monitor: signatures
//! over genuine exchange hashes only (the monitor computes `H` from its
//! inputs, for the host key the exchange names), answers about keys and
//! passwords within the attempt limit, and a hand-over only for a user
//! whose proofs the monitor verified itself, over data it built from the
//! session identifier it computed. It never gets a private key, and it
//! cannot authenticate anyone by saying so.
//!
//! No I/O here: the host crate reads frames from the socket into a
//! [`FrameReader`], decodes them, asks the [`Ledger`], does the work
//! (signing, reading `authorized_keys` as the user, PAM) and writes the
//! [`Reply`].

mod ledger;
mod message;

pub use ledger::{Ledger, Limits, Method, PublicKeyProof, Refusal};
pub use message::{
    ConnId, FrameError, FrameReader, MAX_FRAME, MAX_HOST_KEYS, MAX_KEY_OPTION_LISTS, Reply,
    Request, WorkerFrame,
};
