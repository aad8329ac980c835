//! `rssh`, an `ssh(1)` built on `ssh-async`: the command line, the
//! configuration files, `known_hosts`, prompts and the local terminal.
//! Nothing of the protocol lives here.
//!
//! - [`cli`]: the options and the destination forms.
//! - [`config`]: `-F`/`~/.ssh/config`/`/etc/ssh/ssh_config`, `-o`, `-G`,
//!   the transport configuration.
//! - [`connect`]: TCP, `ProxyCommand`, jump hosts (`-J`/`ProxyJump`,
//!   natively over `direct-tcpip`), and authenticating each hop.
//! - [`hostkeys`]: `known_hosts` and `StrictHostKeyChecking`.
//! - [`auth`]: keys (agent, files, certificates), passwords,
//!   keyboard-interactive: the `ClientHandler`.
//! - [`prompt`]: `/dev/tty` or `SSH_ASKPASS`.
//! - [`session`]: the session channel and the terminal.
//! - [`escape`]: `~.` and friends.
//! - [`stdio`]: the stdio forwarding of `-W`.
//! - [`background`]: going to the background (`-f`).
//!
//! Exit status: the remote command's, 255 for connection and
//! authentication errors (as `ssh`).

pub mod auth;
pub mod background;
pub mod banner;
pub mod cli;
pub mod config;
pub mod connect;
pub mod ending;
pub mod escape;
pub mod forwarding;
pub mod hostcerts;
pub mod hostkeys;
pub mod log;
pub mod prompt;
pub mod session;
pub mod stdio;

use std::ffi::OsString;

use ssh_async::{Client, runtime};
use ssh_config::client::{ClientQuery, ClientSettings, RequestTty};
use ssh_config::{Endpoint, LogLevel};
use ssh_wire::messages::GlobalRequestKind;

use crate::cli::Cli;
use crate::connect::Context;
use crate::session::SessionSpec;

/// The version line `-V` prints.
pub const VERSION: &str = concat!("rssh_", env!("CARGO_PKG_VERSION"));

/// Exit status for connection and authentication failures.
const FAIL: i32 = 255;

fn usage() -> String {
    "usage: rssh [-46AaCfGgNnqsTtVvXxY] [-b bind_address] [-c cipher_spec]\n\
     \x20           [-D [bind_address:]port] [-E log_file] [-e escape_char]\n\
     \x20           [-F configfile] [-i identity_file] [-J destination] [-L address]\n\
     \x20           [-l login_name] [-m mac_spec] [-o option] [-p port] [-R address]\n\
     \x20           [-W host:port] destination [command [argument ...]]"
        .to_owned()
}

/// Runs `rssh` with these arguments (the first is the program name);
/// returns the exit status.
pub fn main_with_args<I: IntoIterator<Item = OsString>>(args: I) -> i32 {
    let args: Vec<OsString> = args.into_iter().collect();
    let cli = match Cli::parse_args(args.clone()) {
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
    match prepare(&cli) {
        Ok(Prepared::Dump(text)) => {
            print!("{text}");
            0
        }
        Ok(Prepared::Connect(boxed)) => {
            let (settings, ctx) = *boxed;
            if cli.background
                && !cli.no_command
                && cli.stdio_forward.is_none()
                && cli.command().is_none()
                && settings.remote_command.is_none()
            {
                eprintln!("Cannot fork into background without a command to execute.");
                return FAIL;
            }
            if cli.background && !background::is_child() {
                return background::run_parent(args.get(1..).unwrap_or_default());
            }
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
            // One thread: the connection's driver and the session's
            // pumps hand each buffer over without waking another thread.
            let rt = runtime::CurrentThread::new();
            let mut ctx = ctx;
            ctx.runtime = Some(std::sync::Arc::new(rt.clone()));
            rt.block_on(connect_and_run(&cli, settings, ctx))
        }
        Err(msg) => {
            eprintln!("{msg}");
            FAIL
        }
    }
}

enum Prepared {
    Dump(String),
    Connect(Box<(ClientSettings, Context)>),
}

/// The `-L`/`-R`/`-D` arguments, parsed (OpenSSH's "Bad ... forwarding
/// specification").
fn command_line_forwards(cli: &Cli, s: &mut ClientSettings) -> Result<(), String> {
    use ssh_config::{ForwardKind, parse_forward_spec};
    let parse = |spec: &String, kind: ForwardKind, name: &str| {
        parse_forward_spec(spec, kind)
            .map_err(|_| format!("Bad {name} forwarding specification '{spec}'"))
    };
    let mut local = Vec::new();
    for f in &cli.local_forward {
        local.push(parse(f, ForwardKind::Local, "local")?);
    }
    let mut remote = Vec::new();
    for f in &cli.remote_forward {
        remote.push(parse(f, ForwardKind::Remote, "remote")?);
    }
    let mut dynamic = Vec::new();
    for f in &cli.dynamic_forward {
        dynamic.push(parse(f, ForwardKind::Dynamic, "dynamic")?.listen);
    }
    if s.clear_all_forwardings {
        return Ok(());
    }
    // The command line's come first, as OpenSSH adds them before reading
    // the files.
    local.append(&mut s.local_forward);
    remote.append(&mut s.remote_forward);
    dynamic.append(&mut s.dynamic_forward);
    s.local_forward = local;
    s.remote_forward = remote;
    s.dynamic_forward = dynamic;
    Ok(())
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
    if let Some(w) = &cli.stdio_forward {
        stdio::parse_target(w)?;
    }
    let me = ssh_os::user::User::current()
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
    let mut settings = config::resolve(&configs, &cli.override_lines(), &query)?;
    command_line_forwards(cli, &mut settings)?;
    if cli.dump_config {
        return Ok(Prepared::Dump(config::dump(&settings)));
    }
    if let Some(j) = &settings.proxy_jump {
        connect::split_jumps(j).map_err(|e| format!("rssh: {e}"))?;
    }
    let jump_overrides = cli
        .override_lines()
        .into_iter()
        .filter(|l| l.starts_with("LogLevel DEBUG"))
        .collect();
    let ctx = Context {
        configs,
        jump_overrides,
        local_user: me.name.clone(),
        home: me.home.clone(),
        jumps: Vec::new(),
        proxies: Vec::new(),
        runtime: None,
    };
    Ok(Prepared::Connect(Box::new((settings, ctx))))
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

async fn connect_and_run(cli: &Cli, s: ClientSettings, mut ctx: Context) -> i32 {
    let connected = match connect::connect_host(&mut ctx, &s, 0).await {
        Ok(c) => c,
        Err(()) => {
            ctx.shutdown().await;
            return FAIL;
        }
    };
    let client = connected.client;
    let code = run_connected(cli, &s, &client, &connected.peer, &ctx.home).await;
    session::disconnect(client).await;
    ctx.shutdown().await;
    code
}

/// Everything after authentication: forwards, then `-W`, `-N` or the
/// session.
async fn run_connected(
    cli: &Cli,
    s: &ClientSettings,
    client: &Client,
    peer: &connect::Peer,
    home: &std::path::Path,
) -> i32 {
    let session = !cli.no_command && cli.stdio_forward.is_none();
    // A session may add remote forwards with ~C: it has a dispatcher too.
    let dispatcher = (session || forwarding::needs_dispatcher(s, session))
        .then(|| ssh_client_kit::Dispatcher::start(client));
    let forwarder = forwarding::Forwarder::new(client, dispatcher.clone(), s);
    if forwarder.setup(s).await.is_err() {
        return FAIL;
    }
    if !session {
        // As ssh: no session is coming.
        tracing::debug!("Requesting no-more-sessions@openssh.com");
        if let Err(e) = client.send_global_request(GlobalRequestKind::NoMoreSessions) {
            tracing::debug!("no-more-sessions: {e}");
        }
    }
    if let Some(w) = &cli.stdio_forward {
        let target: Endpoint = match stdio::parse_target(w) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{e}");
                return FAIL;
            }
        };
        background::detach();
        return stdio::run(client, &target).await;
    }
    if cli.no_command {
        background::detach();
        return session::wait_only(client, &s.hostname, peer).await;
    }
    let extras = forwarding::session_extras(dispatcher.as_ref(), s, home).await;
    let command = cli.command().or_else(|| s.remote_command.clone());
    let null_stdin = cli.null_stdin || cli.background;
    let stdin_tty = ssh_os::terminal::is_tty(std::io::stdin());
    let has_command = command.is_some() || cli.subsystem;
    let (tty, say_no_tty) = want_tty(s.request_tty, has_command, stdin_tty && !null_stdin);
    if say_no_tty {
        tracing::info!("Pseudo-terminal will not be allocated because stdin is not a terminal.");
    }
    let spec = SessionSpec {
        command,
        subsystem: cli.subsystem,
        tty,
        null_stdin,
        escape: s.escape_char,
        send_env: s.send_env.clone(),
        set_env: s.set_env.clone(),
        host: s.hostname.clone(),
        peer: peer.clone(),
        verbose_close: s.log_level >= LogLevel::Info,
        x11: extras.x11,
        agent: extras.agent,
        commands: Some(forwarder),
    };
    background::detach();
    session::run(client, &spec).await
}

/// An authenticated connection made from an `ssh` command line, for
/// programs that run over `rssh`'s connection code (`rscp`, `rsftp`), as
/// OpenSSH's `scp` and `sftp` run `ssh`.
pub struct Connection {
    /// The connection.
    pub client: Client,
    ctx: Context,
}

impl Connection {
    /// Disconnects, then ends the jump hosts and proxy commands.
    pub async fn close(mut self) {
        session::disconnect(self.client).await;
        self.ctx.shutdown().await;
    }
}

/// Connects and authenticates with the `ssh` arguments `args` (the
/// program name first, then options such as `-p`, `-i`, `-o`, `-F`, `-J`,
/// then the destination; no command): the configuration, host key checks
/// and authentication of `rssh` itself. Errors are printed; `Err` carries
/// the exit status.
pub async fn connect(args: Vec<OsString>) -> Result<Connection, i32> {
    let cli = match Cli::parse_args(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rssh: {e}");
            return Err(FAIL);
        }
    };
    let (settings, mut ctx) = match prepare(&cli) {
        Ok(Prepared::Connect(boxed)) => *boxed,
        Ok(Prepared::Dump(_)) => return Err(FAIL),
        Err(msg) => {
            eprintln!("{msg}");
            return Err(FAIL);
        }
    };
    if let Err(e) = log::init(settings.log_level, cli.log_file.as_deref()) {
        eprintln!("rssh: log: {}", config::io_message(&e));
        return Err(FAIL);
    }
    match connect::connect_host(&mut ctx, &settings, 0).await {
        Ok(c) => Ok(Connection {
            client: c.client,
            ctx,
        }),
        Err(()) => {
            ctx.shutdown().await;
            Err(FAIL)
        }
    }
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
