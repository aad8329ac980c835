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
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::user::{self, User};
use ssh_async::runtime::net::{TcpListener, TcpStream, UnixListener, UnixStream};

mod helper;
mod ops;
mod proto;

use helper::Helper;
use proto::Request;

/// Makes this process a sockets helper when it was started as one (by
/// [`Sockets::for_user`] of a root server): then it serves the server
/// until the server drops its [`Sockets`] and exits, never returning.
/// Otherwise returns at once.
///
/// Call it first thing in `main` of every program that may create a
/// [`Sockets`] for another user (the helper is the running program
/// started again), before any thread is started.
pub fn run_helper_if_requested() {
    if let Some(spec) = std::env::var_os(helper::HELPER_ENV) {
        helper::helper_main(&spec);
    }
}

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
    Helper(Arc<Helper>),
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
    ///
    /// The helper is this very program ([`std::env::current_exe`]) started
    /// again, which must call [`run_helper_if_requested`] first thing in
    /// `main`. It starts on first use and ends when the last clone of the
    /// returned [`Sockets`] is dropped.
    pub fn for_user(user: &User) -> io::Result<Sockets> {
        if !Sockets::needs_helper(user) {
            return Ok(Sockets::direct());
        }
        Sockets::for_user_via(user, std::env::current_exe()?)
    }

    /// As [`Sockets::for_user`] but the helper is `program` (which calls
    /// [`run_helper_if_requested`] first thing), and it is used whenever
    /// `user` is not who we are, even when we cannot become them (then
    /// every request fails: the helper refuses to start).
    pub fn for_user_via(user: &User, program: PathBuf) -> io::Result<Sockets> {
        if user.uid == rustix::process::geteuid().as_raw()
            && user.uid == rustix::process::getuid().as_raw()
        {
            return Ok(Sockets::direct());
        }
        Ok(Sockets {
            inner: Inner::Helper(Arc::new(Helper::new(user, program)?)),
        })
    }

    /// Whether sockets for `user` are made by a helper process: we are
    /// root and the user is not.
    fn needs_helper(user: &User) -> bool {
        user::is_root() && user.uid != 0
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
            Inner::Helper(h) => {
                let fd = one_fd(
                    h.call(&Request::ConnectTcp {
                        host: host.to_owned(),
                        port,
                    })
                    .await?,
                )?;
                Ok(TcpStream::from(std::net::TcpStream::from(fd)))
            }
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
            Inner::Helper(h) => {
                helper::check_path(path)?;
                let fd = one_fd(
                    h.call(&Request::ConnectUnix {
                        path: path.to_owned(),
                    })
                    .await?,
                )?;
                Ok(UnixStream::from(std::os::unix::net::UnixStream::from(fd)))
            }
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
            Inner::Helper(h) => {
                let (_, fds) = h
                    .call(&Request::ListenTcp {
                        addr: addr.map(str::to_owned),
                        port,
                    })
                    .await?;
                if fds.is_empty() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "the sockets helper sent no listener",
                    ));
                }
                fds.into_iter()
                    .map(|fd| {
                        checked_stream_socket(fd)
                            .map(|fd| TcpListener::from(std::net::TcpListener::from(fd)))
                    })
                    .collect()
            }
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
            Inner::Helper(h) => {
                helper::check_path(path)?;
                let fd = one_fd(
                    h.call(&Request::ListenUnix {
                        path: path.to_owned(),
                    })
                    .await?,
                )?;
                Ok(UnixListener::from(std::os::unix::net::UnixListener::from(
                    fd,
                )))
            }
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
            Inner::Helper(h) => {
                let (path, fds) = h
                    .call(&Request::CreatePrivateDir {
                        prefix: prefix.to_owned(),
                    })
                    .await?;
                drop(fds);
                let path = helper::path_of(path);
                if !path.starts_with("/tmp/") {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "the sockets helper made a directory outside /tmp",
                    ));
                }
                Ok(path)
            }
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
            Inner::Helper(h) => {
                helper::check_path(path)?;
                h.call(&Request::RemovePath {
                    path: path.to_owned(),
                })
                .await?;
                Ok(())
            }
        }
    }
}

/// The one descriptor of a helper reply, checked to be a stream socket.
fn one_fd((_, mut fds): (Vec<u8>, Vec<OwnedFd>)) -> io::Result<OwnedFd> {
    match (fds.pop(), fds.is_empty()) {
        (Some(fd), true) => checked_stream_socket(fd),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the sockets helper sent no descriptor or several",
        )),
    }
}

/// `fd` if it is a stream socket (what every reply carries).
fn checked_stream_socket(fd: OwnedFd) -> io::Result<OwnedFd> {
    if rustix::net::sockopt::socket_type(&fd)? != rustix::net::SocketType::STREAM {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "the sockets helper sent something other than a stream socket",
        ));
    }
    Ok(fd)
}
