//! `rssh`, an `ssh(1)` built on `ssh-async`: the command line, the
//! configuration files, `known_hosts`, prompts and the local terminal.
//! Nothing of the protocol lives here.
//!
//! - [`cli`]: the options and the destination forms.
//! - [`config`]: `-F`/`~/.ssh/config`/`/etc/ssh/ssh_config`, `-o`, `-G`,
//!   the transport configuration.
//! - [`hostkeys`]: `known_hosts` and `StrictHostKeyChecking`.
//! - [`auth`]: keys (agent, files, certificates), passwords,
//!   keyboard-interactive: the `ClientHandler`.
//! - [`prompt`]: `/dev/tty` or `SSH_ASKPASS`.
//! - [`session`]: the session channel and the terminal.
//! - [`escape`]: `~.` and friends.
//!
//! Exit status: the remote command's, 255 for connection and
//! authentication errors (as `ssh`).

pub mod auth;
pub mod cli;
pub mod config;
pub mod escape;
pub mod hostkeys;
pub mod log;
pub mod prompt;
pub mod session;

use std::ffi::OsString;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use ssh_async::agent::AgentConnection;
use ssh_async::runtime::net::TcpStream;
use ssh_async::{Client, ClientOptions, runtime};
use ssh_config::LogLevel;
use ssh_config::client::{AddressFamily, ClientQuery, ClientSettings, RequestTty};

use crate::auth::Handler;
use crate::cli::Cli;
use crate::hostkeys::HostKeyPolicy;
use crate::prompt::Prompter;
use crate::session::SessionSpec;

/// The version line `-V` prints.
pub const VERSION: &str = concat!("rssh_", env!("CARGO_PKG_VERSION"));

/// Exit status for connection and authentication failures.
const FAIL: i32 = 255;

fn usage() -> String {
    "usage: rssh [-46CGNnqsTtVv] [-c cipher_spec] [-E log_file] [-F configfile]\n\
     \x20           [-i identity_file] [-l login_name] [-m mac_spec] [-o option]\n\
     \x20           [-p port] destination [command [argument ...]]"
        .to_owned()
}

/// Runs `rssh` with these arguments (the first is the program name);
/// returns the exit status.
pub fn main_with_args<I: IntoIterator<Item = OsString>>(args: I) -> i32 {
    let cli = match Cli::parse_args(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rssh: {e}");
            eprintln!("{}", usage());
            return FAIL;
        }
    };
    if cli.help {
        eprintln!("{}", usage());
        return FAIL;
    }
    if cli.version {
        eprintln!("{VERSION}");
        return 0;
    }
    if let Some(opt) = cli.unsupported() {
        eprintln!("rssh: option {opt} is not supported yet");
        return FAIL;
    }
    match prepare(&cli) {
        Ok(Prepared::Dump(text)) => {
            print!("{text}");
            0
        }
        Ok(Prepared::Connect(settings)) => {
            if let Err(e) = log::init(settings.log_level, cli.log_file.as_deref()) {
                eprintln!(
                    "rssh: couldn't open logfile {}: {}",
                    cli.log_file
                        .as_deref()
                        .unwrap_or(std::path::Path::new(""))
                        .display(),
                    config::io_message(&e)
                );
                return FAIL;
            }
            runtime::block_on(connect_and_run(&cli, *settings))
        }
        Err(msg) => {
            eprintln!("{msg}");
            FAIL
        }
    }
}

enum Prepared {
    Dump(String),
    Connect(Box<ClientSettings>),
}

/// Arguments and files into settings.
fn prepare(cli: &Cli) -> Result<Prepared, String> {
    let Some(dest) = cli.args.first() else {
        return Err(usage());
    };
    let dest = cli::parse_destination(dest).map_err(|e| format!("rssh: {e}"))?;
    let port = match &cli.port {
        Some(p) => Some(cli::parse_port(p)?),
        None => dest.port,
    };
    let me = ssh_async::os::user::User::current()
        .map_err(|e| format!("rssh: who are you? {}", config::io_message(&e)))?;
    let query = ClientQuery {
        host: dest.host.clone(),
        // -l, then -o User (as an override line), then user@.
        user: cli
            .login
            .clone()
            .or_else(|| (!cli.user_option()).then(|| dest.user.clone()).flatten()),
        port,
        local_user: me.name.clone(),
        home: me.home.clone(),
    };
    let configs = config::load(cli.config.as_deref(), &me.home)?;
    let settings = config::resolve(&configs, &cli.override_lines(), &query)?;
    if cli.dump_config {
        return Ok(Prepared::Dump(config::dump(&settings)));
    }
    if settings.proxy_jump.is_some() {
        return Err("rssh: ProxyJump is not supported yet".into());
    }
    if settings.proxy_command.is_some() {
        return Err("rssh: ProxyCommand is not supported yet".into());
    }
    Ok(Prepared::Connect(Box::new(settings)))
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

/// `[addr]:port` or `addr` for messages.
fn ip_label(ip: IpAddr) -> String {
    ip.to_string()
}

/// Whether to request a PTY, as `ssh`: `-t`/`RequestTTY yes` when stdin
/// is a terminal, `-tt`/`force` always, `-T`/`no` never, by default when
/// there is no command and stdin is a terminal.
pub fn want_tty(request: RequestTty, has_command: bool, stdin_is_tty: bool) -> (bool, bool) {
    let wanted = match request {
        RequestTty::Force => return (true, false),
        RequestTty::No => false,
        RequestTty::Yes => true,
        RequestTty::Auto => !has_command,
    };
    if wanted && !stdin_is_tty {
        // (no PTY, say why)
        return (false, true);
    }
    (wanted, false)
}

async fn connect_and_run(cli: &Cli, s: ClientSettings) -> i32 {
    if !s.local_forward.is_empty() || !s.remote_forward.is_empty() || !s.dynamic_forward.is_empty()
    {
        tracing::info!("Forwardings in the configuration are not supported yet: ignored.");
    }
    let mut transport = match config::transport_config(&s) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("rssh: {e}");
            return FAIL;
        }
    };
    let key_host = s
        .host_key_alias
        .clone()
        .unwrap_or_else(|| s.hostname.clone());
    if s.host_key_algorithms.is_default() {
        let files: Vec<_> = s
            .user_known_hosts_files
            .iter()
            .chain(&s.global_known_hosts_files)
            .cloned()
            .collect();
        let known = hostkeys::known_key_types(&files, &key_host, s.port);
        if !known.is_empty() {
            transport.algorithms.host_key =
                hostkeys::prefer_known(&transport.algorithms.host_key, &known);
            tracing::debug!("prefer hostkeyalgs: {}", transport.algorithms.host_key);
        }
    }
    let addrs = match addresses(&s.hostname, s.port, s.address_family) {
        Ok(a) => a,
        Err(e) => {
            tracing::error!("{e}");
            return FAIL;
        }
    };
    let (stream, addr) = match connect_tcp(&s, &addrs).await {
        Ok(x) => x,
        Err(e) => {
            tracing::error!("{e}");
            return FAIL;
        }
    };
    let prompter = Prompter {
        batch: s.batch_mode,
    };
    let policy = HostKeyPolicy {
        host: s
            .host_key_alias
            .clone()
            .unwrap_or_else(|| s.hostname.clone()),
        port: s.port,
        address: ip_label(addr.ip()),
        user_files: s.user_known_hosts_files.clone(),
        global_files: s.global_known_hosts_files.clone(),
        mode: s.strict_host_key_checking,
        hash: s.hash_known_hosts,
        prompter,
    };
    let mut handler = Handler::new(policy, prompter, &s.user, &s.hostname);
    handler.passphrase_tries = s.number_of_password_prompts;
    handler.show_banner = s.log_level >= LogLevel::Info;
    if s.pubkey_authentication
        && let Some(path) = auth::agent_path(&s)
    {
        match AgentConnection::connect(&path).await {
            Ok(a) => handler.agent = Some(a),
            Err(e) => tracing::debug!("agent {}: {e}", path.display()),
        }
    }
    if s.pubkey_authentication {
        handler.keys = auth::prepare_keys(&s, &mut handler.agent).await;
    }
    let methods = auth::methods(&s, &handler.keys);
    let mut options = ClientOptions::new(&s.user, methods);
    options.transport = transport;
    if !s.server_alive_interval.is_zero() {
        options.keepalive = Some((s.server_alive_interval, s.server_alive_count_max));
    }
    options.signature_algorithms = auth::accepted_algorithms(&s).map(|names| {
        names
            .iter()
            .filter_map(|n| ssh_async::ssh_keys::SignatureAlgorithm::from_name(n).ok())
            .collect()
    });
    let client = match Client::connect(stream, options, &mut handler).await {
        Ok(c) => c,
        Err(e) => return report_connect_error(&e, &s, &addr, &handler),
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
    log::verbose(&format!(
        "Authenticated to {} ([{}]:{}) using \"{}\".",
        s.hostname,
        addr.ip(),
        addr.port(),
        handler.last_method
    ));
    // The agent is not needed any more.
    drop(handler);

    if cli.no_command {
        return session::wait_only(&client, &s.hostname).await;
    }
    let command = cli.command().or_else(|| s.remote_command.clone());
    let stdin_tty = ssh_async::os::terminal::is_tty(std::io::stdin());
    let has_command = command.is_some() || cli.subsystem;
    let (tty, say_no_tty) = want_tty(s.request_tty, has_command, stdin_tty && !cli.null_stdin);
    if say_no_tty {
        tracing::info!("Pseudo-terminal will not be allocated because stdin is not a terminal.");
    }
    let spec = SessionSpec {
        command,
        subsystem: cli.subsystem,
        tty,
        null_stdin: cli.null_stdin,
        escape: s.escape_char,
        send_env: s.send_env.clone(),
        set_env: s.set_env.clone(),
        host: s.hostname.clone(),
        verbose_close: s.log_level >= LogLevel::Info,
    };
    let code = session::run(&client, &spec).await;
    session::disconnect(client).await;
    code
}

fn report_connect_error(
    e: &ssh_async::Error,
    s: &ClientSettings,
    addr: &SocketAddr,
    handler: &Handler,
) -> i32 {
    use ssh_async::Error as E;
    use ssh_async::ssh_session::Error as S;
    use ssh_transport::Error as T;
    let ip = addr.ip();
    let port = addr.port();
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
        E::Disconnected => tracing::error!("Connection closed by {ip} port {port}"),
        E::Io(io) => tracing::error!("Connection to {ip} port {port}: {}", config::io_message(io)),
        other => tracing::error!("rssh: {other}"),
    }
    FAIL
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tty_decision_follows_ssh() {
        assert_eq!(want_tty(RequestTty::Auto, false, true), (true, false));
        assert_eq!(want_tty(RequestTty::Auto, true, true), (false, false));
        assert_eq!(want_tty(RequestTty::Auto, false, false), (false, true));
        assert_eq!(want_tty(RequestTty::Yes, true, false), (false, true));
        assert_eq!(want_tty(RequestTty::Force, true, false), (true, false));
        assert_eq!(want_tty(RequestTty::No, false, true), (false, false));
    }
}
