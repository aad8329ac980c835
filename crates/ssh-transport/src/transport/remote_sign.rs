//! Server: the exchange hash signed by a host key held in another process
//! (privilege separation). The key exchange pauses at the reply; the
//! caller hands the [`ExchangeHashRequest`] to the key's holder, which
//! computes `H` from it and signs, and answers with the signature.

use ssh_keys::VerifyPolicy;

use super::Transport;
use super::method::MethodState;
use crate::error::Error;
use crate::event::Event;
use crate::host_key::verify_server_host_key;
use crate::kex::{ExchangeHashRequest, SharedSecret};

/// What the reply needs besides the signature.
pub(crate) struct PendingSignature {
    pub(super) h: Vec<u8>,
    pub(super) secret: SharedSecret,
    pub(super) server_public: Vec<u8>,
    pub(super) request: ExchangeHashRequest,
}

impl Transport {
    pub(super) fn ask_for_signature(&mut self, pending: PendingSignature) -> Result<(), Error> {
        self.set_method_state(MethodState::ServerAwaitSignature(Box::new(pending)));
        self.signature_pending = true;
        self.events.push_back(Event::SignExchangeHash);
        Ok(())
    }

    /// Server: the exchange hash to sign, after
    /// [`Event::SignExchangeHash`] and until it is answered.
    pub fn exchange_hash_request(&self) -> Option<&ExchangeHashRequest> {
        if !self.signature_pending {
            return None;
        }
        match self.kex.as_ref().map(|run| run.method_state()) {
            Some(Some(MethodState::ServerAwaitSignature(p))) => Some(&p.request),
            _ => None,
        }
    }

    /// Server: the host key's holder signed the exchange hash of
    /// [`Transport::exchange_hash_request`]. The signature is checked
    /// against the host key before it is sent (a holder that signed
    /// something else ends the connection here, with a key exchange
    /// error); then the reply and NEWKEYS go out.
    pub fn answer_exchange_hash_signature(&mut self, signature: Vec<u8>) -> Result<(), Error> {
        self.check_failed()?;
        if !self.signature_pending {
            return Err(Error::Misuse("no exchange hash is waiting for a signature"));
        }
        self.signature_pending = false;
        let r = self.send_signed_reply(signature);
        self.guard(r)
    }

    fn send_signed_reply(&mut self, signature: Vec<u8>) -> Result<(), Error> {
        let Some(MethodState::ServerAwaitSignature(p)) = self.take_method_state() else {
            return Err(Error::kex("no exchange hash waits for a signature"));
        };
        let PendingSignature {
            h,
            secret,
            server_public,
            request,
        } = *p;
        let policy = VerifyPolicy {
            allow_ssh_rsa: true,
            ..VerifyPolicy::DEFAULT
        };
        verify_server_host_key(
            request.host_key_alg,
            &request.host_key,
            &h,
            &signature,
            &policy,
        )
        .map_err(|e| Error::kex(format!("the host key holder's signature: {e}")))?;
        self.finish_server_reply(
            request.kex,
            h,
            secret,
            request.host_key.clone(),
            &server_public,
            signature,
        )
    }
}
