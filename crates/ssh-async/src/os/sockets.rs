//! Sockets made on a user's behalf: directly when the server runs as
//! that user, through a helper process running as the user otherwise.
//!
//! A root server must not connect, listen or create files for a user with
//! root's rights (a forward to a root-only Unix socket, a listener on a
//! privileged port, a socket file in a directory only root may write).
//! [`Sockets::for_user`] therefore gives, for a root server and another
//! user, a [`Sockets`] whose every operation is done by a helper process
//! running as that user (supplementary groups, group and user id switched
//! as for the user's sessions); the helper hands the descriptors back over
//! a Unix socket pair (`SCM_RIGHTS`). Names are resolved in the helper
//! too. Otherwise ([`Sockets::direct`]) the operations run on a blocking
//! thread of this process.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::user::{self, User};
use crate::runtime::net::{TcpListener, TcpStream, UnixListener, UnixStream};

mod ops;

/// Where sockets for one user (one connection) are made. Cheap to clone;
/// clones share the helper process, which ends when the last clone is
/// dropped.
#[derive(Clone, Debug)]
pub struct Sockets {
    inner: Inner,
}

#[derive(Clone, Debug)]
enum Inner {
    /// In this process, with our own identity.
    Direct,
    /// In a helper process running as the user.
    #[allow(dead_code)]
    Helper(Arc<()>),
}

impl Sockets {
    /// Sockets made by this process, with its own identity (a server not
    /// running as root, a client).
    pub fn direct() -> Sockets {
        Sockets {
            inner: Inner::Direct,
        }
    }

    /// Sockets made with `user`'s identity: through a helper process when
    /// this process runs as root and `user` is someone else, directly
    /// otherwise.
    pub fn for_user(user: &User) -> io::Result<Sockets> {
        if !user::is_root() || user.uid == 0 || user.uid == rustix::process::geteuid().as_raw() {
            return Ok(Sockets::direct());
        }
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("sockets as {} need the helper process (not yet)", user.name),
        ))
    }

    /// Whether the operations are done by a helper process as another
    /// user.
    pub fn uses_helper(&self) -> bool {
        matches!(self.inner, Inner::Helper(_))
    }

    /// Connects to `host` (a name, resolved as the user, or an address)
    /// port `port`, trying each of its addresses in turn.
    pub async fn connect_tcp(&self, host: &str, port: u16) -> io::Result<TcpStream> {
        match &self.inner {
            Inner::Direct => {
                let host = host.to_owned();
                let s = blocking::unblock(move || ops::connect_tcp(&host, port)).await?;
                Ok(TcpStream::from(s))
            }
            Inner::Helper(_) => Err(io::Error::from(io::ErrorKind::Unsupported)),
        }
    }

    /// Connects to the Unix socket at `path`.
    pub async fn connect_unix(&self, path: &Path) -> io::Result<UnixStream> {
        match &self.inner {
            Inner::Direct => {
                let path = path.to_owned();
                let s = blocking::unblock(move || ops::connect_unix(&path)).await?;
                Ok(UnixStream::from(s))
            }
            Inner::Helper(_) => Err(io::Error::from(io::ErrorKind::Unsupported)),
        }
    }

    /// Listens on TCP port `port` (0: one the system chooses, the same for
    /// every address) of `addr`: `None` = every address (IPv6 and IPv4),
    /// `"localhost"` = the loopback address of both families, otherwise the
    /// addresses of that name or address. One listener per address bound;
    /// addresses that cannot be bound are skipped as long as one can.
    pub async fn listen_tcp(&self, addr: Option<&str>, port: u16) -> io::Result<Vec<TcpListener>> {
        match &self.inner {
            Inner::Direct => {
                let addr = addr.map(str::to_owned);
                let ls = blocking::unblock(move || ops::listen_tcp(addr.as_deref(), port)).await?;
                Ok(ls.into_iter().map(TcpListener::from).collect())
            }
            Inner::Helper(_) => Err(io::Error::from(io::ErrorKind::Unsupported)),
        }
    }

    /// Listens on a new Unix socket at `path`, mode 0600 (an existing
    /// file is an error: remove it first with [`Sockets::remove_path`]).
    pub async fn listen_unix(&self, path: &Path) -> io::Result<UnixListener> {
        match &self.inner {
            Inner::Direct => {
                let path = path.to_owned();
                let l = blocking::unblock(move || ops::listen_unix(&path)).await?;
                Ok(UnixListener::from(l))
            }
            Inner::Helper(_) => Err(io::Error::from(io::ErrorKind::Unsupported)),
        }
    }

    /// Creates a new directory `/tmp/<prefix>XXXXXXXXXX`, mode 0700, owned
    /// by the user (as `mkdtemp`). `prefix` must not contain `/`.
    pub async fn create_private_dir(&self, prefix: &str) -> io::Result<PathBuf> {
        match &self.inner {
            Inner::Direct => {
                let prefix = prefix.to_owned();
                blocking::unblock(move || ops::create_private_dir(&prefix)).await
            }
            Inner::Helper(_) => Err(io::Error::from(io::ErrorKind::Unsupported)),
        }
    }

    /// Removes the file, socket or symbolic link at `path`, or the empty
    /// directory.
    pub async fn remove_path(&self, path: &Path) -> io::Result<()> {
        match &self.inner {
            Inner::Direct => {
                let path = path.to_owned();
                blocking::unblock(move || ops::remove_path(&path)).await
            }
            Inner::Helper(_) => Err(io::Error::from(io::ErrorKind::Unsupported)),
        }
    }
}
