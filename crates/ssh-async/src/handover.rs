//! Privilege separation in the async layer: host keys held by another
//! process ([`ExchangeHashSigner`]), and a connection handed from the
//! process that authenticated it to the one that serves it
//! ([`Server::accept_for_hand_over`], [`Server::resume`]).
//!
//! The processes themselves (who forks whom, the sandbox, passing the
//! socket) are the host crate's; this layer only stops a connection at
//! USERAUTH_SUCCESS with its socket and state, and starts one from them.

use std::sync::{Arc, Mutex};

use futures::future::BoxFuture;
use futures::io::{AsyncRead, AsyncWrite};
use rand::rngs::StdRng;
use ssh_session::{KeepaliveConfig, ServerSession};
use ssh_transport::TransportState;
use zeroize::Zeroizing;

use crate::Error;
use crate::driver::Driver;
use crate::runtime;
use crate::server::{Server, ServerConnection, ServerHandler, ServerOptions, handshake};
use crate::state::{Shared, Side, State};

/// Signs exchange hashes for host keys whose private half this process
/// does not hold ([`ssh_keys::RemoteKey`]): a privilege-separated
/// server's monitor, asked over its socket. Asked at every key exchange,
/// the first and each re-key.
pub trait ExchangeHashSigner: Send + Sync {
    /// Signs the exchange hash whose inputs `request` holds
    /// (`ExchangeHashRequest::encode`'s form: the holder computes `H`
    /// itself). An error refuses; the connection ends.
    fn sign(&self, request: Zeroizing<Vec<u8>>) -> BoxFuture<'static, Result<Vec<u8>, String>>;
}

/// A connection stopped at USERAUTH_SUCCESS, for the process that will
/// serve it ([`Server::resume`]).
pub struct HandOver<S> {
    /// The client's stream (its socket, to pass on).
    pub stream: S,
    /// Where the connection stands.
    pub state: TransportState,
    /// The authenticated user.
    pub user: String,
}

impl<S> core::fmt::Debug for HandOver<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HandOver")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Runs the handshake and authentication as [`Server::accept`] does,
    /// then stops at USERAUTH_SUCCESS instead of serving the connection:
    /// every byte for the client written, the transport exported, the
    /// stream given back (what the client sent behind SUCCESS is in the
    /// state, not lost).
    pub async fn accept_for_hand_over<S, H>(
        stream: S,
        options: ServerOptions,
        handler: &mut H,
    ) -> Result<HandOver<S>, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        H: ServerHandler,
    {
        let (mut driver, mut session, user, _) = handshake(stream, options, handler, true).await?;
        driver.flush_all(&mut *session).await?;
        let state = session.export_state(driver.now())?;
        Ok(HandOver {
            stream: driver.into_stream(),
            state,
            user,
        })
    }

    /// Serves a connection another process authenticated
    /// ([`Server::accept_for_hand_over`]): `options` are this process's
    /// (its host keys and signer sign the re-keys; `auth` is not used).
    pub async fn resume<S>(
        stream: S,
        options: ServerOptions,
        state: TransportState,
        user: String,
    ) -> Result<ServerConnection, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let rt = options
            .runtime
            .clone()
            .or_else(runtime::default_runtime)
            .ok_or(Error::NoRuntime)?;
        let mut session = Box::new(ServerSession::from_state(
            rt.now(),
            options.transport,
            options.host_keys,
            options.connection,
            Box::new(rand::make_rng::<StdRng>()),
            state,
        )?);
        if let Some((interval, max_missed)) = options.keepalive {
            session.set_keepalive(Some(KeepaliveConfig::new(interval, max_missed)))?;
        }
        let driver = Driver::new(stream, rt.clone());
        let mut state = State::new(session, Side::Server);
        state.accept_incoming = true;
        state.accept_global = options.global_requests;
        state.signer = options.exchange_hash_signer;
        let shared: Shared = Arc::new(Mutex::new(state));
        rt.spawn(Box::pin(crate::driver::drive(shared.clone(), driver)));
        Ok(ServerConnection::new(shared, user))
    }
}
