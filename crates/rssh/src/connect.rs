//! Reaching and authenticating to a host: over TCP, through a
//! `ProxyCommand` (run as OpenSSH runs it: `exec command` with `$SHELL
//! -c`, its stdin and stdout the transport), or through jump hosts
//! (`-J`/`ProxyJump`) done natively: each hop is a connection of its own
//! (its own configuration, known_hosts check under its own name and
//! authentication), and a `direct-tcpip` channel of the previous hop
//! carries the next one.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::io::{AsyncRead, AsyncWrite};
use ssh_async::agent::AgentConnection;
use ssh_async::runtime::net::{TcpStream, UnixStream};
use ssh_async::ssh_wire::messages::{ChannelType, OpenFailureReason};
use ssh_async::{Client, ClientOptions, runtime};
use ssh_config::LogLevel;
use ssh_config::client::{AddressFamily, ClientConfig, ClientQuery, ClientSettings};

use crate::auth::{self, Handler};
use crate::banner::BannerWatch;
use crate::cli;
use crate::config;
use crate::hostcerts;
use crate::hostkeys::{self, HostKeyPolicy};
use crate::prompt::Prompter;

/// More jump hosts than this in one chain is a loop.
const MAX_HOPS: usize = 16;

/// A transport stream of any kind.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for T {}

/// What the connections of one run share: the configuration files (each
/// jump host resolves its own settings from them), the lines `-v` sets
/// for them, and what keeps the chain alive (jump hosts' connections,
/// proxy commands).
pub struct Context {
    /// The parsed configuration files.
    pub configs: Vec<ClientConfig>,
    /// Override lines a jump host gets (OpenSSH passes only `-F` and
    /// `-v` to the `ssh -W` it runs for a jump).
    pub jump_overrides: Vec<String>,
    /// The local user's name and home.
    pub local_user: String,
    /// The local user's home.
    pub home: PathBuf,
    /// Jump hosts' connections, first hop first.
    pub jumps: Vec<Client>,
    /// Proxy commands started.
    pub proxies: Vec<std::process::Child>,
    /// The runtime the connections run on; `None`: the library's default
    /// (async-std's thread pool). rssh itself runs on one thread
    /// ([`runtime::CurrentThread`]).
    pub runtime: Option<std::sync::Arc<dyn runtime::Runtime>>,
}

impl Context {
    /// Ends the jump hosts' connections (last hop first) and the proxy
    /// commands (SIGHUP, as OpenSSH).
    pub async fn shutdown(&mut self) {
        while let Some(c) = self.jumps.pop() {
            let _ = runtime::timeout(std::time::Duration::from_secs(2), c.disconnect()).await;
        }
        for mut child in self.proxies.drain(..) {
            if let Ok(Some(_)) = child.try_wait() {
                continue;
            }
            if let Some(pid) = i32::try_from(child.id())
                .ok()
                .and_then(rustix::process::Pid::from_raw)
            {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::HUP);
            }
            let _ = child.try_wait();
        }
    }
}

/// Where a connection leads, for messages: an address, or a proxy
/// (`UNKNOWN` port 65535 as OpenSSH names it).
#[derive(Debug, Clone, Default)]
pub struct Peer {
    /// The address text.
    pub ip: String,
    /// The port.
    pub port: u16,
}

impl Peer {
    fn proxy() -> Peer {
        Peer {
            ip: "UNKNOWN".into(),
            port: 65535,
        }
    }
}

/// An authenticated connection.
pub struct Connected {
    /// The connection.
    pub client: Client,
    /// Where it leads.
    pub peer: Peer,
}

/// OpenSSH's text for a channel open failure reason.
pub fn reason_text(r: OpenFailureReason) -> &'static str {
    match r.0 {
        1 => "administratively prohibited",
        2 => "connect failed",
        3 => "unknown channel type",
        4 => "resource shortage",
        _ => "unknown reason",
    }
}

/// The message OpenSSH prints when opening channel `n` failed.
pub fn open_failure(n: u32, e: &ssh_async::Error) -> String {
    match e {
        ssh_async::Error::ChannelOpenFailed {
            reason,
            description,
        } => format!(
            "channel {n}: open failed: {}: {}",
            reason_text(*reason),
            auth::sanitize(description)
        ),
        other => format!("channel {n}: open failed: {other}"),
    }
}

/// `direct-tcpip` to `host:port` as `-W` and `-J` open it: the
/// originator is 127.0.0.1 port 65535 (OpenSSH's fake address for a
/// channel without a socket).
pub fn stdio_target(host: &str, port: u16) -> ChannelType {
    ChannelType::DirectTcpip {
        host: host.to_owned(),
        port: port.into(),
        originator_address: "127.0.0.1".into(),
        originator_port: 65535,
    }
}

/// One jump host of `-J`/`ProxyJump`: `[user@]host[:port]` or
/// `ssh://[user@]host[:port]` (an IPv6 address in brackets).
pub fn parse_jump_host(s: &str) -> Result<cli::Destination, String> {
    if s.starts_with("ssh://") {
        return cli::parse_destination(s);
    }
    let bad = || format!("Invalid ProxyJump \"{s}\"");
    let (user, hostport) = match s.rfind('@') {
        Some(at) => (
            Some(s.get(..at).unwrap_or_default().to_owned()),
            s.get(at + 1..).unwrap_or_default(),
        ),
        None => (None, s),
    };
    if user.as_deref() == Some("") {
        return Err(bad());
    }
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let end = v6.find(']').ok_or_else(bad)?;
        let after = v6.get(end + 1..).unwrap_or_default();
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(bad)?),
        };
        (v6.get(..end).unwrap_or_default(), port)
    } else {
        match hostport.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err(bad());
    }
    let port = match port {
        Some(p) => Some(cli::parse_port(p).map_err(|_| bad())?),
        None => None,
    };
    Ok(cli::Destination {
        user,
        host: host.to_owned(),
        port,
    })
}

/// `a,b,c` into the last hop and the list before it (`None` when there
/// is only one).
pub fn split_jumps(list: &str) -> Result<(cli::Destination, Option<String>), String> {
    let (extra, last) = match list.rsplit_once(',') {
        Some((e, l)) => (Some(e.to_owned()), l),
        None => (None, list),
    };
    if let Some(e) = &extra {
        for h in e.split(',') {
            parse_jump_host(h)?;
        }
    }
    Ok((parse_jump_host(last)?, extra))
}

/// The addresses of `host`, filtered by the address family.
fn addresses(host: &str, port: u16, family: AddressFamily) -> Result<Vec<SocketAddr>, String> {
    let addrs = (host, port).to_socket_addrs().map_err(|e| {
        let m = config::io_message(&e);
        let m = m
            .strip_prefix("failed to lookup address information: ")
            .unwrap_or(&m)
            .to_owned();
        format!("rssh: Could not resolve hostname {host}: {m}")
    })?;
    let v: Vec<SocketAddr> = addrs
        .filter(|a| match family {
            AddressFamily::Any => true,
            AddressFamily::Inet => a.is_ipv4(),
            AddressFamily::Inet6 => a.is_ipv6(),
        })
        .collect();
    if v.is_empty() {
        return Err(format!(
            "rssh: Could not resolve hostname {host}: Address family for hostname not supported"
        ));
    }
    Ok(v)
}

/// Connects to the first address that answers.
async fn connect_tcp(
    s: &ClientSettings,
    addrs: &[SocketAddr],
) -> Result<(TcpStream, SocketAddr), String> {
    let mut last = String::from("no address");
    for addr in addrs {
        tracing::debug!(
            "Connecting to {} [{}] port {}.",
            s.hostname,
            addr.ip(),
            addr.port()
        );
        let attempt = TcpStream::connect(*addr);
        let r = match s.connect_timeout {
            Some(t) => runtime::timeout(t, attempt)
                .await
                .unwrap_or_else(|| Err(std::io::ErrorKind::TimedOut.into())),
            None => attempt.await,
        };
        match r {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                tracing::debug!("Connection established.");
                return Ok((stream, *addr));
            }
            Err(e) => {
                last = if e.kind() == std::io::ErrorKind::TimedOut {
                    "Connection timed out".to_owned()
                } else {
                    config::io_message(&e)
                };
                tracing::debug!(
                    "connect to address {} port {}: {last}",
                    addr.ip(),
                    addr.port()
                );
            }
        }
    }
    Err(format!(
        "rssh: connect to host {} port {}: {last}",
        s.hostname, s.port
    ))
}

/// Starts `ProxyCommand` as OpenSSH does (`exec command` run by `$SHELL
/// -c`, else `/bin/sh`); a socket pair is its stdin and stdout, its
/// stderr is ours.
fn spawn_proxy(command: &str) -> Result<(UnixStream, std::process::Child), String> {
    let shell = std::env::var_os("SHELL")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "/bin/sh".into());
    let line = format!("exec {command}");
    tracing::debug!("Executing proxy command: {line}");
    let (ours, theirs) = std::os::unix::net::UnixStream::pair()
        .map_err(|e| format!("rssh: socketpair: {}", config::io_message(&e)))?;
    let theirs_out = theirs
        .try_clone()
        .map_err(|e| format!("rssh: dup: {}", config::io_message(&e)))?;
    let child = std::process::Command::new(&shell)
        .arg("-c")
        .arg(&line)
        .env_remove(crate::background::NOTIFY_ENV)
        .stdin(std::process::Stdio::from(std::os::fd::OwnedFd::from(
            theirs,
        )))
        .stdout(std::process::Stdio::from(std::os::fd::OwnedFd::from(
            theirs_out,
        )))
        .spawn()
        .map_err(|e| {
            format!(
                "rssh: exec({}): {}",
                std::path::Path::new(&shell).display(),
                config::io_message(&e)
            )
        })?;
    Ok((UnixStream::from(ours), child))
}

/// Whether a host name is free of shell syntax (OpenSSH's
/// `valid_hostname`): no leading '-', no quote, `$`, `\`, `;`, `&`,
/// redirection, pipe, parenthesis, brace, white space or control
/// character.
fn valid_hostname(s: &str) -> bool {
    !s.starts_with('-')
        && !s
            .chars()
            .any(|c| "'`\"$\\;&<>|(){}".contains(c) || c.is_whitespace() || c.is_control())
}

/// Whether a user name is free of shell syntax (OpenSSH's
/// `valid_ruser`): no leading '-', no quote, `;`, `&`, redirection,
/// pipe, parenthesis or brace, no '-' after white space, no trailing
/// `\`.
fn valid_ruser(s: &str) -> bool {
    if s.starts_with('-') || s.ends_with('\\') {
        return false;
    }
    let bytes = s.as_bytes();
    !bytes.iter().enumerate().any(|(i, &b)| {
        b"'`\";&<>|(){}".contains(&b)
            || (b.is_ascii_whitespace() && bytes.get(i + 1) == Some(&b'-'))
    })
}

/// Resolves the settings of a jump host `dest`: the configuration files,
/// the jump overrides, and `ProxyJump extra` for the hops before it.
fn jump_settings(
    ctx: &Context,
    dest: &cli::Destination,
    extra: Option<&str>,
) -> Result<ClientSettings, String> {
    let mut overrides = ctx.jump_overrides.clone();
    if let Some(e) = extra {
        overrides.insert(0, format!("ProxyJump {e}"));
    }
    let query = ClientQuery {
        host: dest.host.clone(),
        user: dest.user.clone(),
        port: dest.port,
        local_user: ctx.local_user.clone(),
        home: ctx.home.clone(),
    };
    config::resolve(&ctx.configs, &overrides, &query)
}

/// Opens the transport to `s`: TCP, a proxy command, or a channel of a
/// jump host's connection. Errors are printed here.
async fn open_stream(
    ctx: &mut Context,
    s: &ClientSettings,
    depth: usize,
) -> Result<(Box<dyn Stream>, Peer), ()> {
    if let Some(list) = &s.proxy_jump {
        let (hop, extra) = split_jumps(list).map_err(|e| tracing::error!("rssh: {e}"))?;
        let js = jump_settings(ctx, &hop, extra.as_deref()).map_err(|e| eprintln!("{e}"))?;
        if depth >= MAX_HOPS || js.host == s.host && js.port == s.port && js.user == s.user {
            tracing::error!("rssh: jumphost loop via {}", hop.host);
            return Err(());
        }
        tracing::debug!(
            "Setting implicit ProxyCommand from ProxyJump: {}{}",
            hop.host,
            extra.map(|e| format!(" (via {e})")).unwrap_or_default()
        );
        let jump = Box::pin(connect_host(ctx, &js, depth + 1)).await?;
        let ch = match jump
            .client
            .open_channel(stdio_target(&s.hostname, s.port))
            .await
        {
            Ok(ch) => ch,
            Err(e) => {
                tracing::error!("{}", open_failure(0, &e));
                tracing::error!("stdio forwarding failed");
                tracing::error!("kex_exchange_identification: Connection closed by remote host");
                tracing::error!("Connection closed by UNKNOWN port 65535");
                ctx.jumps.push(jump.client);
                return Err(());
            }
        };
        ctx.jumps.push(jump.client);
        return Ok((Box::new(ch), Peer::proxy()));
    }
    if let Some(command) = &s.proxy_command {
        // The command was expanded with the names as typed (%h, %n, %r):
        // refuse shell syntax in them (as OpenSSH since 9.6).
        if !valid_hostname(&s.host) {
            tracing::error!("hostname contains invalid characters");
            return Err(());
        }
        if !valid_ruser(&s.user) {
            tracing::error!("remote username contains invalid characters");
            return Err(());
        }
        let (stream, child) = spawn_proxy(command).map_err(|e| tracing::error!("{e}"))?;
        ctx.proxies.push(child);
        return Ok((Box::new(stream), Peer::proxy()));
    }
    let addrs =
        addresses(&s.hostname, s.port, s.address_family).map_err(|e| tracing::error!("{e}"))?;
    let (stream, addr) = connect_tcp(s, &addrs)
        .await
        .map_err(|e| tracing::error!("{e}"))?;
    Ok((
        Box::new(stream),
        Peer {
            ip: addr.ip().to_string(),
            port: addr.port(),
        },
    ))
}

/// Connects to and authenticates with the host of `s`, over whatever
/// its settings say. Errors are printed here (as `ssh` prints them).
pub async fn connect_host(
    ctx: &mut Context,
    s: &ClientSettings,
    depth: usize,
) -> Result<Connected, ()> {
    let mut transport = config::transport_config(s).map_err(|e| eprintln!("rssh: {e}"))?;
    let key_host = s
        .host_key_alias
        .clone()
        .unwrap_or_else(|| s.hostname.clone());
    let files: Vec<_> = s
        .user_known_hosts_files
        .iter()
        .chain(&s.global_known_hosts_files)
        .cloned()
        .collect();
    if s.host_key_algorithms.is_default() {
        let known = hostkeys::known_key_types(&files, &key_host, s.port);
        let has_ca = hostcerts::has_cert_authority(&files, &key_host, s.port);
        if !known.is_empty() || has_ca {
            transport.algorithms.host_key = hostcerts::order_host_key_algorithms(
                &transport.algorithms.host_key,
                &known,
                has_ca,
            );
            tracing::debug!("prefer hostkeyalgs: {}", transport.algorithms.host_key);
        }
    }
    let started = std::time::Instant::now();
    let (stream, peer) = open_stream(ctx, s, depth).await?;
    let banner_seen = Arc::new(AtomicBool::new(false));
    let stream = BannerWatch::new(stream, banner_seen.clone());
    let prompter = Prompter {
        batch: s.batch_mode,
    };
    let policy = HostKeyPolicy {
        host: key_host,
        port: s.port,
        address: peer.ip.clone(),
        user_files: s.user_known_hosts_files.clone(),
        global_files: s.global_known_hosts_files.clone(),
        mode: s.strict_host_key_checking,
        hash: s.hash_known_hosts,
        prompter,
        alias: s.host_key_alias.is_some(),
        ca_algorithms: hostcerts::ca_algorithms(
            &config::algorithms(
                ssh_config::AlgoKind::CaSignature,
                &s.ca_signature_algorithms,
            )
            .map_err(|e| eprintln!("rssh: {e}"))?,
        ),
    };
    let mut handler = Handler::new(policy, prompter, &s.user, &s.hostname);
    handler.passphrase_tries = s.number_of_password_prompts;
    handler.show_banner = s.log_level >= LogLevel::Info;
    if s.pubkey_authentication
        && let Some(path) = auth::agent_path(s)
    {
        match AgentConnection::connect(&path).await {
            Ok(a) => handler.agent = Some(a),
            Err(e) => tracing::debug!("agent {}: {e}", path.display()),
        }
    }
    if s.pubkey_authentication {
        handler.keys = auth::prepare_keys(s, &mut handler.agent).await;
    }
    let methods = auth::methods(s, &handler.keys);
    let mut options = ClientOptions::new(&s.user, methods);
    options.transport = transport;
    options.runtime.clone_from(&ctx.runtime);
    if !s.server_alive_interval.is_zero() {
        options.keepalive = Some((s.server_alive_interval, s.server_alive_count_max));
    }
    options.signature_algorithms = auth::accepted_algorithms(s).map(|names| {
        names
            .iter()
            .filter_map(|n| ssh_async::ssh_keys::SignatureAlgorithm::from_name(n).ok())
            .collect()
    });
    let connecting = Client::connect(stream, options, &mut handler);
    let connected = match s.connect_timeout {
        None => connecting.await,
        Some(limit) => {
            // What is left of ConnectTimeout after the TCP connect, for the
            // server's version line (as ssh's banner exchange).
            let left = limit.saturating_sub(started.elapsed());
            let watchdog = async {
                runtime::sleep(left).await;
                if banner_seen.load(Ordering::Acquire) {
                    futures::future::pending::<()>().await;
                }
            };
            match futures::future::select(core::pin::pin!(connecting), core::pin::pin!(watchdog))
                .await
            {
                futures::future::Either::Left((r, _)) => r,
                futures::future::Either::Right(_) => {
                    tracing::error!(
                        "kex_exchange_identification: Connection timed out during banner exchange"
                    );
                    tracing::error!(
                        "banner exchange: Connection to {} port {}: Connection timed out",
                        peer.ip,
                        peer.port
                    );
                    return Err(());
                }
            }
        }
    };
    let client = match connected {
        Ok(c) => c,
        Err(e) => {
            report_connect_error(&e, s, &peer, &handler);
            return Err(());
        }
    };
    client.with_transport(|t| {
        if let Some(v) = t.peer_version() {
            tracing::debug!(
                "Remote protocol version {}, remote software version {}",
                v.proto(),
                v.software()
            );
        }
        if let Some(n) = t.negotiated() {
            tracing::debug!("kex: algorithm: {}", n.kex);
            tracing::debug!("kex: host key algorithm: {}", n.host_key);
            tracing::debug!(
                "kex: server->client cipher: {} MAC: {} compression: {}",
                n.cipher_s2c,
                n.mac_s2c.as_deref().unwrap_or("<implicit>"),
                n.comp_s2c
            );
            tracing::debug!(
                "kex: client->server cipher: {} MAC: {} compression: {}",
                n.cipher_c2s,
                n.mac_c2s.as_deref().unwrap_or("<implicit>"),
                n.comp_c2s
            );
        }
    });
    // OpenSSH 10.1's WarnWeakCrypto: a key exchange that is not
    // post-quantum, when the user did not choose the list.
    let kex = client.with_transport(|t| t.negotiated().map(|n| n.kex.clone()));
    if s.warn_weak_crypto
        && s.kex_algorithms.as_str().is_empty()
        && let Some(kex) = kex
        && !is_post_quantum(&kex)
    {
        tracing::info!(
            "** WARNING: connection is not using a post-quantum key exchange algorithm."
        );
        tracing::info!(
            "** This session may be vulnerable to \"store now, decrypt later\" attacks."
        );
        tracing::info!("** The server may need to be upgraded. See https://openssh.com/pq.html");
    }
    crate::log::verbose(&format!(
        "Authenticated to {} ([{}]:{}) using \"{}\".",
        s.hostname, peer.ip, peer.port, handler.last_method
    ));
    Ok(Connected { client, peer })
}

/// A hybrid with a post-quantum KEM (ML-KEM, sntrup761).
fn is_post_quantum(kex: &str) -> bool {
    use ssh_async::ssh_transport::kex::{KexAlgorithm, KexFamily};
    KexAlgorithm::from_name(kex).is_some_and(|k| k.family() == KexFamily::Hybrid)
}

fn report_connect_error(e: &ssh_async::Error, s: &ClientSettings, peer: &Peer, handler: &Handler) {
    use ssh_async::Error as E;
    use ssh_async::ssh_session::Error as S;
    use ssh_transport::Error as T;
    let ip = &peer.ip;
    let port = peer.port;
    match e {
        // The handler said why.
        E::HostKeyRejected => {}
        E::Session(S::Auth(ssh_auth::AuthError::NoMoreMethods)) => {
            tracing::error!(
                "{}@{}: Permission denied ({}).",
                s.user,
                s.hostname,
                handler.last_failure.join(",")
            );
        }
        E::Session(S::Transport(T::Incompatible(n))) => {
            tracing::error!(
                "Unable to negotiate with {ip} port {port}: no matching {} found. Their offer: {}",
                n.what,
                n.server
            );
        }
        E::Session(S::Transport(T::PeerDisconnected {
            reason,
            description,
        })) => {
            tracing::error!(
                "Received disconnect from {ip} port {port}:{}: {description}",
                reason.0
            );
            tracing::error!("Disconnected from {ip} port {port}");
        }
        E::Connection(_) => tracing::error!("Connection closed by {ip} port {port}"),
        E::Io(io) if io.kind() == std::io::ErrorKind::ConnectionReset => {
            tracing::error!("Connection reset by {ip} port {port}");
        }
        E::Io(io)
            if matches!(
                io.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::UnexpectedEof
            ) =>
        {
            tracing::error!("Connection closed by {ip} port {port}");
        }
        E::Io(io) => tracing::error!("Connection to {ip} port {port}: {}", config::io_message(io)),
        other => tracing::error!("rssh: {other}"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn jump_hosts_parse_as_openssh_reads_them() {
        let d = parse_jump_host("bob@jump.example:2222").unwrap();
        assert_eq!(d.user.as_deref(), Some("bob"));
        assert_eq!(d.host, "jump.example");
        assert_eq!(d.port, Some(2222));
        let d = parse_jump_host("[::1]:22").unwrap();
        assert_eq!((d.host.as_str(), d.port), ("::1", Some(22)));
        let d = parse_jump_host("ssh://u@h:7").unwrap();
        assert_eq!((d.user.as_deref(), d.port), (Some("u"), Some(7)));
        for bad in ["", "@h", "h:0", "h:x", "[::1", "u@"] {
            assert!(parse_jump_host(bad).is_err(), "{bad:?} accepted");
        }
        let (last, extra) = split_jumps("a,b@c:3,d").unwrap();
        assert_eq!(last.host, "d");
        assert_eq!(extra.as_deref(), Some("a,b@c:3"));
        let (last, extra) = split_jumps("x").unwrap();
        assert_eq!((last.host.as_str(), extra), ("x", None));
        assert!(split_jumps("a,,b").is_err());
    }

    #[test]
    fn open_failures_read_as_openssh_prints_them() {
        let e = ssh_async::Error::ChannelOpenFailed {
            reason: OpenFailureReason::CONNECT_FAILED,
            description: "Connection refused".into(),
        };
        assert_eq!(
            open_failure(3, &e),
            "channel 3: open failed: connect failed: Connection refused"
        );
    }
}
