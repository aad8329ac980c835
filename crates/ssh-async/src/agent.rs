//! An async client of an SSH agent over its Unix socket (`SSH_AUTH_SOCK`):
//! the byte codec of [`ssh_auth::agent::AgentClient`] carried over the
//! socket, one request at a time.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! use ssh_async::agent::AgentConnection;
//! let mut agent = AgentConnection::connect("/tmp/agent.sock".as_ref()).await?;
//! for id in agent.identities().await? {
//!     println!("{}", id.comment);
//! }
//! # Ok(())
//! # }
//! ```

use core::fmt;
use std::io;

use futures::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use ssh_auth::agent::{AgentClient, AgentError, AgentResponse, Identity};
use ssh_keys::SignatureAlgorithm;
use ssh_wire::messages::agent::SessionBind;

/// Read buffer size.
const CHUNK: usize = 16 * 1024;

/// What an agent connection runs over: any byte stream (the agent's Unix
/// socket, usually).
trait AgentStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> AgentStream for T {}

/// A connection to an agent.
pub struct AgentConnection {
    stream: Box<dyn AgentStream>,
    codec: AgentClient,
}

impl fmt::Debug for AgentConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentConnection").finish_non_exhaustive()
    }
}

fn agent_err(e: AgentError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl AgentConnection {
    /// Connects to the agent listening on `path`, with async-std's Unix
    /// sockets.
    #[cfg(feature = "async-std")]
    pub async fn connect(path: &std::path::Path) -> io::Result<Self> {
        let stream = crate::runtime::net::UnixStream::connect(path).await?;
        Ok(Self::from_stream(stream))
    }

    /// Uses an already connected stream (any runtime's socket).
    pub fn from_stream<S>(stream: S) -> Self
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        Self {
            stream: Box::new(stream),
            codec: AgentClient::new(),
        }
    }

    /// Sends what the codec queued and reads until one answer is complete.
    async fn round_trip(&mut self) -> io::Result<AgentResponse> {
        let out = self.codec.poll_transmit();
        self.stream.write_all(&out).await?;
        self.stream.flush().await?;
        let mut buf = vec![0u8; CHUNK];
        loop {
            if let Some(r) = self.codec.poll_response() {
                return Ok(r);
            }
            let n = self.stream.read(&mut buf).await?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the agent closed the connection",
                ));
            }
            let got = buf.get(..n).unwrap_or_default();
            self.codec.handle_input(got).map_err(agent_err)?;
        }
    }

    /// The keys the agent holds (SSH_AGENTC_REQUEST_IDENTITIES). An agent
    /// that refuses the request has none.
    pub async fn identities(&mut self) -> io::Result<Vec<Identity>> {
        self.codec.request_identities().map_err(agent_err)?;
        match self.round_trip().await? {
            AgentResponse::Identities(ids) => Ok(ids),
            AgentResponse::Failure => Ok(Vec::new()),
            other => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unexpected agent answer {other:?}"),
            )),
        }
    }

    /// Binds this connection to a session with `session-bind@openssh.com`
    /// (OpenSSH `PROTOCOL.agent`): true when the agent accepted it, false
    /// when it refused or does not know the extension (it then serves as
    /// before).
    pub async fn session_bind(&mut self, bind: &SessionBind) -> io::Result<bool> {
        self.codec.session_bind(bind).map_err(agent_err)?;
        Ok(self.round_trip().await? == AgentResponse::Success)
    }

    /// A signature of `data` with the key `key_blob` (a complete signature
    /// blob, its algorithm checked against `algorithm`); `None` if the
    /// agent refused (key absent, confirmation denied).
    pub async fn sign(
        &mut self,
        key_blob: &[u8],
        algorithm: SignatureAlgorithm,
        data: &[u8],
    ) -> io::Result<Option<Vec<u8>>> {
        self.codec
            .sign(key_blob, algorithm, data)
            .map_err(agent_err)?;
        match self.round_trip().await? {
            AgentResponse::Signature(sig) => Ok(Some(sig)),
            AgentResponse::Failure => Ok(None),
            other => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unexpected agent answer {other:?}"),
            )),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use std::io::{Read, Write};
    use std::os::unix::net::{UnixListener, UnixStream};

    use rand::SeedableRng;
    use ssh_keys::PrivateKey;

    use super::*;
    use crate::runtime;

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut v = (body.len() as u32).to_be_bytes().to_vec();
        v.extend_from_slice(body);
        v
    }

    fn put_string(out: &mut Vec<u8>, s: &[u8]) {
        out.extend_from_slice(&(s.len() as u32).to_be_bytes());
        out.extend_from_slice(s);
    }

    fn read_frame(s: &mut UnixStream) -> Vec<u8> {
        let mut len = [0u8; 4];
        s.read_exact(&mut len).unwrap();
        let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
        s.read_exact(&mut body).unwrap();
        body
    }

    /// A fake agent holding one Ed25519 key: lists it, signs with it,
    /// refuses any other key; the answers are written in small pieces.
    #[test]
    fn lists_signs_and_reports_refusals() {
        let dir = std::env::temp_dir().join(format!("ssh-async-agent-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).unwrap();
        let key = PrivateKey::from_ed25519_seed(&[9; 32]);
        let blob = key.public().to_blob();
        let blob2 = blob.clone();
        let agent = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            // Identities.
            assert_eq!(read_frame(&mut s), vec![11]);
            let mut body = vec![12, 0, 0, 0, 1];
            put_string(&mut body, &blob2);
            put_string(&mut body, b"test key");
            for b in frame(&body) {
                s.write_all(&[b]).unwrap();
            }
            // Sign with our key.
            let req = read_frame(&mut s);
            assert_eq!(req[0], 13);
            let mut rng = rand::rngs::StdRng::from_seed([1; 32]);
            let data = b"data to sign";
            let sig = key
                .sign(SignatureAlgorithm::Ed25519, data, &mut rng)
                .unwrap();
            let mut body = vec![14];
            put_string(&mut body, &sig);
            s.write_all(&frame(&body)).unwrap();
            // Sign with an unknown key: refused.
            let _ = read_frame(&mut s);
            s.write_all(&frame(&[5])).unwrap();
            sig
        });
        runtime::block_on(async {
            let mut a = AgentConnection::connect(&path).await.unwrap();
            let ids = a.identities().await.unwrap();
            assert_eq!(ids.len(), 1);
            assert_eq!(ids[0].comment, "test key");
            assert_eq!(ids[0].blob, blob);
            let sig = a
                .sign(&blob, SignatureAlgorithm::Ed25519, b"data to sign")
                .await
                .unwrap()
                .expect("a signature");
            let other = PrivateKey::from_ed25519_seed(&[3; 32]).public().to_blob();
            let refused = a
                .sign(&other, SignatureAlgorithm::Ed25519, b"x")
                .await
                .unwrap();
            assert_eq!(refused, None);
            let expected = agent.join().unwrap();
            assert_eq!(sig, expected);
            // The agent is gone: a clean error, not a hang.
            assert!(a.identities().await.is_err());
        });
        let _ = std::fs::remove_dir_all(&dir);
    }
}
