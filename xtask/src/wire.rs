//! Talking raw SSH to a peer over TCP, decoded with `ssh-wire`: the version
//! line and plaintext packets before the first NEWKEYS.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use ssh_wire::packet::{self, PlainPacket};
use ssh_wire::version::{Peer, Version, VersionEvent, VersionReader};
use ssh_wire::{Decode, Reader};

use crate::bail;
use crate::util::{Context, Result};

/// How long a read or write on a test connection may block.
pub const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Our version line in interop tests.
pub const OUR_SOFTWARE: &str = "rssh_xtask";

/// A TCP connection with a receive buffer.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    /// Connects with read and write timeouts set.
    pub fn connect(addr: SocketAddr) -> Result<Self> {
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT)
            .context(format_args!("connecting to {addr}"))?;
        Self::from_stream(stream)
    }

    /// Accepts one connection on `listener`, waiting at most [`IO_TIMEOUT`].
    pub fn accept(listener: &TcpListener) -> Result<Self> {
        listener
            .set_nonblocking(true)
            .context("making the listener non-blocking")?;
        let deadline = Instant::now() + IO_TIMEOUT;
        loop {
            match listener.accept() {
                Ok((stream, _)) => {
                    stream
                        .set_nonblocking(false)
                        .context("making the stream blocking")?;
                    return Self::from_stream(stream);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => bail!("no connection to accept: {e}"),
            }
        }
    }

    /// Wraps an accepted stream, setting the same timeouts.
    pub fn from_stream(stream: TcpStream) -> Result<Self> {
        stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .context("setting a read timeout")?;
        stream
            .set_write_timeout(Some(IO_TIMEOUT))
            .context("setting a write timeout")?;
        Ok(Self {
            stream,
            buf: Vec::new(),
        })
    }

    /// Sends bytes.
    pub fn send(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream.write_all(bytes).context("sending")
    }

    /// Sends our version line.
    pub fn send_version(&mut self) -> Result<Version> {
        let ours = Version::new(OUR_SOFTWARE, None).context("our version line")?;
        self.send(&ours.to_wire())?;
        Ok(ours)
    }

    /// Reads more bytes into the buffer; an error at end of stream.
    fn fill(&mut self) -> Result<()> {
        let mut chunk = [0u8; 4096];
        let n = self
            .stream
            .read(&mut chunk)
            .context("reading from the peer")?;
        if n == 0 {
            bail!(
                "the peer closed the connection ({} bytes unread)",
                self.buf.len()
            );
        }
        self.buf
            .extend_from_slice(chunk.get(..n).unwrap_or_default());
        Ok(())
    }

    /// Reads the server's version line (skipping lines it may send first);
    /// returns the exact bytes of the line and the parsed version.
    pub fn read_server_version(&mut self) -> Result<(Vec<u8>, Version)> {
        self.read_version(Peer::Server)
    }

    /// Reads the client's version line.
    pub fn read_client_version(&mut self) -> Result<(Vec<u8>, Version)> {
        self.read_version(Peer::Client)
    }

    fn read_version(&mut self, peer: Peer) -> Result<(Vec<u8>, Version)> {
        let mut reader = VersionReader::new(peer);
        loop {
            match reader.read(&self.buf).context("the peer's version line")? {
                VersionEvent::Incomplete => self.fill()?,
                VersionEvent::PreBannerLine { consumed, .. } => {
                    self.buf.drain(..consumed);
                }
                VersionEvent::Version { version, consumed } => {
                    let raw: Vec<u8> = self.buf.drain(..consumed).collect();
                    return Ok((raw, version));
                }
            }
        }
    }

    /// Reads one plaintext binary packet; returns the whole packet as on
    /// the wire and its payload.
    pub fn read_plain_packet(&mut self) -> Result<(Vec<u8>, Vec<u8>)> {
        loop {
            match packet::read_plain(&self.buf, packet::MAX_PACKET_LEN)
                .context("a plaintext packet")?
            {
                PlainPacket::Incomplete(_) => self.fill()?,
                PlainPacket::Complete { payload, len } => {
                    let raw: Vec<u8> = self.buf.drain(..len).collect();
                    let Some(payload) = raw.get(payload).map(<[u8]>::to_vec) else {
                        bail!("payload range outside the packet");
                    };
                    return Ok((raw, payload));
                }
            }
        }
    }
}

pub use ssh_wire::messages::KexInit;

/// Decodes a KEXINIT payload (message number first) with `ssh-wire`,
/// rejecting trailing bytes.
pub fn decode_kexinit(payload: &[u8]) -> Result<KexInit> {
    let mut r = Reader::new(payload);
    let kex = KexInit::decode(&mut r).context("decoding KEXINIT")?;
    r.finish("KEXINIT").context("decoding KEXINIT")?;
    Ok(kex)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use ssh_wire::{Encode, NameList, msg};

    fn sample_payload() -> Vec<u8> {
        let mut p = vec![msg::SSH_MSG_KEXINIT];
        p.extend_from_slice(&[7u8; 16]);
        for list in [
            "curve25519-sha256,kex-strict-s-v00@openssh.com",
            "ssh-ed25519",
            "chacha20-poly1305@openssh.com",
            "aes128-ctr",
            "hmac-sha2-256",
            "hmac-sha2-512",
            "none",
            "none,zlib@openssh.com",
            "",
            "",
        ] {
            NameList::parse(list).unwrap().encode(&mut p);
        }
        p.push(0);
        p.extend_from_slice(&[0, 0, 0, 0]);
        p
    }

    #[test]
    fn kexinit_decodes_each_list_in_order() {
        let k = decode_kexinit(&sample_payload()).unwrap();
        assert_eq!(k.cookie, [7u8; 16]);
        assert!(k.kex_algorithms.contains("kex-strict-s-v00@openssh.com"));
        assert_eq!(k.server_host_key_algorithms.names(), ["ssh-ed25519"]);
        assert_eq!(k.encryption_server_to_client.names(), ["aes128-ctr"]);
        assert_eq!(k.mac_server_to_client.names(), ["hmac-sha2-512"]);
        assert_eq!(k.compression_server_to_client.len(), 2);
        assert!(k.languages_server_to_client.is_empty());
        assert!(!k.first_kex_packet_follows);
    }

    #[test]
    fn kexinit_rejects_trailing_bytes_wrong_number_and_truncation() {
        let mut p = sample_payload();
        p.push(0);
        assert!(decode_kexinit(&p).is_err());
        let mut p = sample_payload();
        p[0] = msg::SSH_MSG_NEWKEYS;
        assert!(decode_kexinit(&p).is_err());
        let p = sample_payload();
        for cut in 0..p.len() {
            assert!(decode_kexinit(&p[..cut]).is_err(), "cut at {cut}");
        }
    }
}
