//! The SSH binary encoding and message catalogue.
//!
//! This crate knows how SSH messages look on the wire and nothing else: no
//! cryptography, no I/O, no clock. It provides
//!
//! - the RFC 4251 §5 data types ([`codec`], [`NameList`], [`Mpint`]) behind a
//!   borrowed [`Reader`] that bounds every nested length by the bytes present
//!   and rejects trailing bytes;
//! - the table of message numbers and their layers ([`msg`]);
//! - every message of RFC 4252/4253/4254/4256/4419/5656/8308 and the OpenSSH
//!   extensions as typed structs, with one enum per layer ([`messages`]);
//! - the plaintext binary packet layout of RFC 4253 §6 ([`packet`]) and the
//!   version exchange of §4.2 ([`version`]).
//!
//! Every decoder returns a [`DecodeError`] on bad input; none panics and none
//! allocates more than the input it was given.
//!
//! Architecture invariant: this crate depends on no other crate of the
//! project and on nothing that does I/O.

pub mod codec;
pub mod error;
pub mod messages;
pub mod mpint;
pub mod msg;
pub mod namelist;
pub mod packet;
pub mod version;

pub use codec::{Decode, Encode, Reader};
pub use error::DecodeError;
pub use mpint::Mpint;
pub use namelist::NameList;
