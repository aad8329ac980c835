//! The socket and file operations themselves, synchronous: run on a
//! blocking thread of ours ([`super::Sockets::direct`]) or in the helper
//! process running as the user.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::os::fd::OwnedFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use rand::Rng;
use rand::rngs::StdRng;
use rustix::fs::Mode;
use rustix::net::{AddressFamily, SocketFlags, SocketType};

/// The backlog of forwarding listeners (OpenSSH uses `SSH_LISTEN_BACKLOG`
/// 128).
const BACKLOG: i32 = 128;

/// Connects to `host` port `port`, resolving the name here and trying
/// each address in turn, as OpenSSH's `connect_to` does.
pub(crate) fn connect_tcp(host: &str, port: u16) -> io::Result<TcpStream> {
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{host}: no address to connect to"),
        )
    }))
}

/// Connects to the Unix socket at `path`.
pub(crate) fn connect_unix(path: &Path) -> io::Result<UnixStream> {
    UnixStream::connect(path)
}

/// The addresses a TCP listener binds: `None` = every address (IPv6 and
/// IPv4 wildcards), `"localhost"` = the loopback address of both
/// families, anything else as the resolver has it.
fn listen_addresses(addr: Option<&str>, port: u16) -> io::Result<Vec<SocketAddr>> {
    let ips: Vec<SocketAddr> = match addr {
        None => vec![
            SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), port),
            SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port),
        ],
        Some(a) if a.eq_ignore_ascii_case("localhost") => vec![
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port),
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
        ],
        Some(a) => {
            let mut v: Vec<SocketAddr> = Vec::new();
            for sa in (a, port).to_socket_addrs()? {
                if !v.contains(&sa) {
                    v.push(sa);
                }
            }
            v
        }
    };
    Ok(ips)
}

fn bind_one(addr: SocketAddr) -> io::Result<TcpListener> {
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    };
    let fd: OwnedFd =
        rustix::net::socket_with(family, SocketType::STREAM, SocketFlags::CLOEXEC, None)?;
    if addr.is_ipv6() {
        // The IPv4 wildcard is bound separately: the IPv6 socket must not
        // take IPv4 too.
        rustix::net::sockopt::set_ipv6_v6only(&fd, true)?;
    }
    rustix::net::sockopt::set_socket_reuseaddr(&fd, true)?;
    rustix::net::bind(&fd, &addr)?;
    rustix::net::listen(&fd, BACKLOG)?;
    Ok(TcpListener::from(fd))
}

/// Binds a listener on each address of `addr` (see [`listen_addresses`]).
/// Port 0: the port the first bind got is used for the others, as
/// OpenSSH's `channel_setup_fwd_listener_tcpip` does. Addresses that fail
/// are skipped (a host without IPv6); the error of the last one is
/// returned when none could be bound.
pub(crate) fn listen_tcp(addr: Option<&str>, port: u16) -> io::Result<Vec<TcpListener>> {
    let mut port = port;
    let mut out = Vec::new();
    let mut last = None;
    for mut sa in listen_addresses(addr, port)? {
        sa.set_port(port);
        match bind_one(sa) {
            Ok(l) => {
                if port == 0 {
                    port = l.local_addr()?.port();
                }
                out.push(l);
            }
            Err(e) => last = Some(e),
        }
    }
    if out.is_empty() {
        return Err(last.unwrap_or_else(|| {
            io::Error::new(io::ErrorKind::NotFound, "no address to listen on")
        }));
    }
    Ok(out)
}

/// Binds a Unix socket at `path` with mode 0600 (sshd's
/// `StreamLocalBindMask` 0177). The helper process runs with umask 0177, so
/// the socket never exists with a wider mode there; on our own thread
/// (a process-wide umask is no option with other threads running) the
/// mode is narrowed right after the bind.
pub(crate) fn listen_unix(path: &Path) -> io::Result<UnixListener> {
    let l = UnixListener::bind(path)?;
    if let Err(e) = rustix::fs::chmod(path, Mode::from_raw_mode(0o600)) {
        let _ = rustix::fs::unlink(path);
        return Err(e.into());
    }
    Ok(l)
}

/// Creates a fresh directory `/tmp/<prefix><10 random characters>` with
/// mode 0700 (as `mkdtemp`), owned by whoever runs this.
pub(crate) fn create_private_dir(prefix: &str) -> io::Result<PathBuf> {
    if prefix.contains('/') || prefix.contains('\0') || prefix.len() > 64 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "directory prefix with a '/' or NUL, or too long",
        ));
    }
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng: StdRng = rand::make_rng();
    for _ in 0..100 {
        let mut name = String::from(prefix);
        for _ in 0..10 {
            let i = usize::try_from(rng.next_u32()).unwrap_or(0) % CHARS.len();
            name.push(char::from(CHARS.get(i).copied().unwrap_or(b'x')));
        }
        let path = Path::new("/tmp").join(name);
        match rustix::fs::mkdir(&path, Mode::from_raw_mode(0o700)) {
            Ok(()) => {
                // The umask may have taken bits away (the helper's 0177
                // takes the search bit).
                rustix::fs::chmod(&path, Mode::from_raw_mode(0o700))?;
                return Ok(path);
            }
            Err(rustix::io::Errno::EXIST) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        "no free name for a private directory",
    ))
}

/// Removes `path`: an empty directory with `rmdir`, anything else with
/// `unlink` (a symbolic link itself, never what it points to).
pub(crate) fn remove_path(path: &Path) -> io::Result<()> {
    let st = rustix::fs::lstat(path)?;
    if rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Directory {
        rustix::fs::rmdir(path)?;
    } else {
        rustix::fs::unlink(path)?;
    }
    Ok(())
}
