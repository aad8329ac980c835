//! `rsshd`: the SSH server of this workspace, used as `sshd` is.
//!
//! Run by root it serves the system's accounts (publickey from each
//! user's `authorized_keys`, passwords and keyboard-interactive through
//! PAM) and runs each session as its user. Run by anyone else with no
//! arguments it listens on 127.0.0.1:2222, creates its host keys in the
//! user's state directory on first start, and serves only that user, by
//! public key.
//!
//! As sshd, it detaches unless given `-D` (or `-d`), and logs to the
//! system log (`SyslogFacility`, AUTH) unless given `-e` (or `-d`), to
//! stderr then. Under a systemd unit of `Type=notify` it says when it
//! listens (`READY=1`).

mod auth;
mod connection;
mod hostkeys;
mod internal_sftp;
mod log;
mod privsep;
mod session;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clap::Parser;
use futures::StreamExt as _;
use ssh_async::runtime::{self, net::TcpListener, net::TcpStream};
use ssh_config::server::{ServerConfig, ServerSettings};
use ssh_config::{AlgoKind, LogLevel};
use ssh_os::config::{FsLoader, apply_algorithms};
use ssh_os::user::User;
use ssh_server_kit::penalties::Penalties;

/// The SSH server.
#[derive(Parser, Debug)]
#[command(
    name = "rsshd",
    version,
    about = "SSH server (OpenSSH-compatible command line)",
    disable_help_flag = true
)]
struct Args {
    /// Do not detach: stay in the foreground.
    #[arg(short = 'D')]
    no_detach: bool,
    /// Debug mode: one connection, verbose logs (repeat for more).
    #[arg(short = 'd', action = clap::ArgAction::Count)]
    debug: u8,
    /// Log to stderr instead of the system log.
    #[arg(short = 'e')]
    stderr: bool,
    /// Quiet: no log output.
    #[arg(short = 'q')]
    quiet: bool,
    /// The configuration file.
    #[arg(short = 'f', value_name = "config_file")]
    config: Option<PathBuf>,
    /// A host key file (repeatable); replaces the configuration's HostKey.
    #[arg(short = 'h', value_name = "host_key_file")]
    host_keys: Vec<PathBuf>,
    /// A host certificate file (repeatable), in addition to the
    /// configuration's HostCertificate.
    #[arg(short = 'c', value_name = "host_certificate_file")]
    host_certs: Vec<PathBuf>,
    /// A port to listen on (repeatable); replaces the configuration's Port.
    #[arg(short = 'p', value_name = "port")]
    ports: Vec<u16>,
    /// A configuration line, as in the file (repeatable); wins over it.
    #[arg(short = 'o', value_name = "option")]
    options: Vec<String>,
    /// Check the configuration and the host keys, then exit.
    #[arg(short = 't')]
    test: bool,
    /// Check the configuration and print the effective settings, then exit.
    #[arg(short = 'T')]
    dump: bool,
    /// Print help.
    #[arg(long = "help", action = clap::ArgAction::Help)]
    help: Option<bool>,
}

fn main() -> ExitCode {
    // Started again as a user's sockets helper (forwarding for a root
    // server): that and nothing else.
    ssh_os::sockets::run_helper_if_requested();
    // Started again as a session's internal-sftp (as the user).
    internal_sftp::run_if_requested();
    // Started again by the monitor as a pre-authentication worker.
    privsep::worker::run_if_requested();
    privsep::user_process::run_if_requested();
    let args = Args::parse();
    // Resolved now, before any session runs (see the function).
    let _ = session::internal_sftp_program();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A daemon's stderr is /dev/null: the system log hears it.
            if log::TO_SYSLOG.load(Ordering::Relaxed) {
                tracing::error!("fatal: {e}");
            }
            eprintln!("rsshd: {e}");
            ExitCode::from(255)
        }
    }
}

/// The tracing filter for sshd's `LogLevel` and `-d`/`-q`.
fn log_filter(level: LogLevel, args: &Args) -> &'static str {
    if args.quiet {
        return "off";
    }
    match (args.debug, level) {
        (3.., _) | (_, LogLevel::Debug3) => "trace",
        (1..=2, _) | (_, LogLevel::Debug | LogLevel::Debug1 | LogLevel::Debug2) => "debug",
        (_, LogLevel::Quiet) => "off",
        (_, LogLevel::Fatal | LogLevel::Error) => "error",
        _ => "info",
    }
}

/// Logs to stderr with `-e` or `-d`, otherwise to the system log under
/// `facility`, as sshd does.
fn init_logging(level: LogLevel, facility: &str, args: &Args) {
    let filter = log_filter(level, args);
    let builder = tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_level(false)
        .with_ansi(false)
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter));
    if args.stderr || args.debug > 0 || args.test || args.dump {
        let _ = builder
            .with_writer(|| log::Escaping(std::io::stderr()))
            .try_init();
    } else {
        let facility =
            ssh_os::syslog::Facility::from_name(facility).unwrap_or(ssh_os::syslog::Facility::AUTH);
        ssh_os::syslog::open(c"rsshd", facility);
        log::TO_SYSLOG.store(true, Ordering::Relaxed);
        let _ = builder.with_writer(log::Syslog).try_init();
    }
}

/// Every [`TRIM_INTERVAL`], if connections ended or went idle (and gave
/// back their buffers, [`ssh_async::idle_releases`]) since the last pass,
/// returns the allocator's free pages to the system.
async fn release_memory(ended: Arc<AtomicUsize>) {
    const TRIM_INTERVAL: Duration = Duration::from_secs(5);
    let mut seen = (0, 0);
    loop {
        runtime::sleep(TRIM_INTERVAL).await;
        let now = (ended.load(Ordering::SeqCst), ssh_async::idle_releases());
        if now != seen {
            seen = now;
            let started = std::time::Instant::now();
            let released = ssh_os::memory::release_free();
            tracing::debug!(
                "malloc_trim after {} ended connections and {} idle releases: released {released} in {:?}",
                now.0,
                now.1,
                started.elapsed()
            );
        }
    }
}

/// Where an ordinary user's server keeps its host keys.
fn state_dir(me: &User) -> PathBuf {
    match std::env::var_os("XDG_STATE_HOME") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("rsshd"),
        _ => me.home.join(".local/state/rsshd"),
    }
}

struct Setup {
    config: Arc<ServerConfig>,
    settings: ServerSettings,
    keys: Vec<hostkeys::Loaded>,
    listen: Vec<(String, u16)>,
    transport: ssh_async::ssh_transport::Config,
    /// PerSourcePenalties: shared by every connection.
    penalties: std::sync::Mutex<Penalties>,
}

/// The configuration as files and command line give it (no host keys).
struct Configured {
    config: ServerConfig,
    settings: ServerSettings,
    /// The configuration file read, if any.
    path: Option<PathBuf>,
    /// A user's server without a configuration (loopback, port 2222).
    personal: bool,
}

fn configure(args: &Args, root: bool) -> Result<Configured, String> {
    let default_path = Path::new("/etc/ssh/sshd_config");
    let path = match &args.config {
        Some(p) => Some(p.clone()),
        None if root && default_path.exists() => Some(default_path.to_path_buf()),
        None => None,
    };
    let mut loader = FsLoader;
    let mut config = match &path {
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
            ServerConfig::parse(&text, p, &mut loader).map_err(|e| e.to_string())?
        }
        None => ServerConfig::parse("", Path::new("(defaults)"), &mut loader)
            .map_err(|e| e.to_string())?,
    };
    config
        .apply_overrides(&args.options)
        .map_err(|e| e.to_string())?;
    for w in config.warnings() {
        eprintln!("rsshd: {w}");
    }
    let mut settings = config.resolve(None);
    if !args.ports.is_empty() {
        settings.ports = args.ports.clone();
    }
    // A user's server without a configuration: loopback, port 2222.
    let personal = !root && path.is_none();
    if personal {
        if args.ports.is_empty() {
            settings.ports = vec![2222];
        }
        if settings.listen_addresses.is_empty() {
            settings.listen_addresses = vec![("127.0.0.1".into(), None)];
        }
    }
    Ok(Configured {
        config,
        settings,
        path,
        personal,
    })
}

/// The transport's algorithms and re-key limits from the settings.
fn transport_config(settings: &ServerSettings) -> Result<ssh_async::ssh_transport::Config, String> {
    let mut transport = ssh_async::ssh_transport::Config::server_default();
    transport.software_version = format!("rsshd_{}", env!("CARGO_PKG_VERSION"));
    for (kind, spec) in [
        (AlgoKind::Kex, &settings.kex_algorithms),
        (AlgoKind::Ciphers, &settings.ciphers),
        (AlgoKind::Macs, &settings.macs),
        (AlgoKind::HostKey, &settings.host_key_algorithms),
    ] {
        apply_algorithms(&mut transport, kind, spec, true)?;
    }
    if !settings.compression {
        transport.algorithms.compression = ["none"].into_iter().collect();
    }
    transport.rekey.bytes = settings.rekey_limit.bytes.filter(|b| *b > 0);
    transport.rekey.interval = settings.rekey_limit.time;
    Ok(transport)
}

fn setup(args: &Args, root: bool, me: &User) -> Result<Setup, String> {
    let Configured {
        config,
        mut settings,
        path,
        personal,
    } = configure(args, root)?;
    // Without a file, sshd's default host keys are root's: a user's
    // server uses its own unless told otherwise (-h, -o HostKey=).
    let hostkey_option = args
        .options
        .iter()
        .any(|o| o.trim_start().to_ascii_lowercase().starts_with("hostkey"));
    // Without a configuration file nor -h/-o HostKey: sshd's default keys
    // if they exist (root with OpenSSH's keys), else our own in the state
    // directory, created on first start.
    let unconfigured = args.host_keys.is_empty() && !hostkey_option && path.is_none();
    let mut key_paths: Vec<PathBuf> = if !args.host_keys.is_empty() {
        args.host_keys.clone()
    } else {
        settings.host_keys.clone()
    };
    if unconfigured && (personal || !key_paths.iter().any(|p| p.exists())) {
        let dir = state_dir(me);
        let made = hostkeys::create_missing(&dir, &format!("rsshd@{}", me.name))?;
        for p in &made {
            eprintln!("rsshd: created host key {}", p.display());
        }
        key_paths = hostkeys::state_key_paths(&dir)
            .into_iter()
            .map(|(_, p)| p)
            .collect();
    }
    let mut keys = Vec::new();
    for p in &key_paths {
        match hostkeys::load(p) {
            Ok(k) => keys.push(k),
            Err(e) => eprintln!("rsshd: {e}"),
        }
    }
    if keys.is_empty() {
        return Err("no hostkeys available -- exiting.".into());
    }
    let cert_paths: Vec<PathBuf> = settings
        .host_certificates
        .iter()
        .chain(&args.host_certs)
        .cloned()
        .collect();
    hostkeys::attach_certificates(&mut keys, &cert_paths)?;
    let transport = transport_config(&settings)?;
    // sshd's default pid file belongs to sshd: ours is rsshd.pid, and a
    // user's server writes none unless configured.
    if settings.pid_file.as_deref() == Some(Path::new("/run/sshd.pid")) {
        settings.pid_file = (!personal).then(|| PathBuf::from("/run/rsshd.pid"));
    }
    let listen = settings.effective_listen();
    let penalties = std::sync::Mutex::new(Penalties::new(
        settings.per_source_penalties.clone(),
        settings.per_source_net_block_size,
        settings.per_source_penalty_exempt_list.clone(),
    ));
    Ok(Setup {
        config: Arc::new(config),
        settings,
        keys,
        listen,
        transport,
        penalties,
    })
}

fn run(args: Args) -> Result<(), String> {
    let root = ssh_os::user::is_root();
    let me = User::current().map_err(|e| format!("who am I: {e}"))?;
    let setup = setup(&args, root, &me)?;
    init_logging(
        setup.settings.log_level,
        &setup.settings.syslog_facility,
        &args,
    );
    if args.dump {
        let dump = setup.settings.dump(&|kind, spec| {
            let (d, s) = ssh_os::config::algorithm_names(kind, true);
            spec.apply(&d, &s)
                .map(|v| v.join(","))
                .unwrap_or_else(|e| e)
        });
        print!("{dump}");
        return Ok(());
    }
    if args.test {
        return Ok(());
    }
    for k in &setup.keys {
        tracing::info!(
            "Server host key: {} {} ({})",
            auth::short_type(&k.public),
            k.public.fingerprint_sha256(),
            k.path.display()
        );
        if let Some((path, c)) = &k.certified {
            tracing::info!(
                "Server host certificate: {} {}, CA {} ({})",
                c.cert().type_name(),
                k.public.fingerprint_sha256(),
                c.cert().signature_key.fingerprint_sha256(),
                path.display()
            );
        }
    }
    // Without -D (or -d) into the background, as sshd: before the runtime
    // starts a thread, and before the pid file, which names the daemon.
    if !args.no_detach && args.debug == 0 {
        ssh_os::service::detach().map_err(|e| format!("daemon() failed: {e}"))?;
    }
    if let Some(pid_file) = &setup.settings.pid_file
        && let Err(e) = std::fs::write(pid_file, format!("{}\n", std::process::id()))
    {
        tracing::error!("Couldn't create pid file \"{}\": {e}", pid_file.display());
    }
    runtime::block_on(serve(args.debug > 0, root, me, setup))
}

/// Runs a served connection's task where the server wants it (one of its
/// threads).
pub(crate) type SpawnServed = Arc<dyn Fn(futures::future::BoxFuture<'static, ()>) + Send + Sync>;

/// Runs each connection's task on one of `threads` in turn, counted in
/// `live` while it runs and in `ended` when it is done.
fn served_spawner(
    threads: Vec<runtime::CurrentThread>,
    live: Arc<AtomicUsize>,
    ended: Arc<AtomicUsize>,
) -> SpawnServed {
    let next = AtomicUsize::new(0);
    Arc::new(move |conn: futures::future::BoxFuture<'static, ()>| {
        let live = live.clone();
        let ended = ended.clone();
        live.fetch_add(1, Ordering::SeqCst);
        let i = next.fetch_add(1, Ordering::Relaxed);
        let task = Box::pin(async move {
            conn.await;
            live.fetch_sub(1, Ordering::SeqCst);
            ended.fetch_add(1, Ordering::SeqCst);
        });
        match threads.get(i % threads.len().max(1)) {
            Some(t) => runtime::Runtime::spawn(t, task),
            None => drop(runtime::spawn(task)),
        }
    })
}

/// The connection threads: one per core (see [`serve`]).
fn start_threads() -> Result<Vec<runtime::CurrentThread>, String> {
    let n = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    (0..n)
        .map(|i| {
            runtime::CurrentThread::start_thread(&format!("conn-{i}"))
                .map_err(|e| format!("cannot start a worker thread: {e}"))
        })
        .collect()
}

async fn serve(single: bool, root: bool, me: User, setup: Setup) -> Result<(), String> {
    let setup = Arc::new(setup);
    let me = Arc::new(me);
    let active = Arc::new(AtomicUsize::new(0));
    let live = Arc::new(AtomicUsize::new(0));
    // Memory the ended connections freed goes back to the system, at most
    // once per interval (glibc would keep it for the life of the server:
    // 32 MiB after 300 connections closed, measured with `cargo xtask
    // idle`).
    let ended = Arc::new(AtomicUsize::new(0));
    drop(runtime::spawn(release_memory(ended.clone())));
    // One thread per core, each running its connections' every
    // task (driver, session pumps, forwards) on itself: a buffer moves
    // from socket to program without waking another thread (perf stat of
    // a 1 GiB download before this: 156,000 context switches in rsshd).
    let threads = start_threads()?;
    let spawn_served = served_spawner(threads, live.clone(), ended.clone());
    // As root, privilege separation (its workers up before we listen): the clients' bytes are read by
    // sandboxed workers until they authenticate ([`privsep`]).
    let monitor = if root && !single {
        let n = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let monitor =
            privsep::monitor::Monitor::start(setup.clone(), (*me).clone(), active.clone(), n)
                .await?;
        tracing::info!(
            "privilege separation: a monitor and {n} sandboxed pre-authentication worker(s)"
        );
        Some(monitor)
    } else {
        let why = if root {
            "debug mode"
        } else {
            "not running as root"
        };
        tracing::info!("single process ({why}): no privilege separation");
        None
    };
    let mut listeners = Vec::new();
    for (addr, port) in &setup.listen {
        let host = if addr.contains(':') {
            format!("[{addr}]:{port}")
        } else {
            format!("{addr}:{port}")
        };
        match TcpListener::bind(host.as_str()).await {
            Ok(l) => {
                tracing::info!("Server listening on {addr} port {port}.");
                listeners.push(l);
            }
            // A `::` socket takes IPv4 too on Linux (no IPV6_V6ONLY here):
            // 0.0.0.0 on the same port is then already served.
            Err(e)
                if addr == "0.0.0.0"
                    && e.kind() == std::io::ErrorKind::AddrInUse
                    && setup.listen.iter().any(|(a, p)| a == "::" && p == port)
                    && !listeners.is_empty() =>
            {
                tracing::debug!("0.0.0.0 port {port}: served by the :: socket");
            }
            Err(e) => tracing::error!("Bind to port {port} on {addr} failed: {e}."),
        }
    }
    if listeners.is_empty() {
        return Err("Cannot bind any address.".into());
    }
    // The handlers are in place before the service manager hears that we
    // are ready: a SIGTERM sent on READY=1 must find them (CI once saw
    // the default action kill the server there, with no STOPPING=1).
    let mut terminate =
        ssh_os::signal::termination_stream().map_err(|e| format!("signals: {e}"))?;
    // A unit of Type=notify learns that we listen.
    if let Err(e) = ssh_os::service::notify("READY=1") {
        tracing::error!("sd_notify: {e}");
    }
    let (tx, mut rx) = futures::channel::mpsc::unbounded::<(TcpStream, SocketAddr)>();
    for l in listeners {
        let tx = tx.clone();
        drop(runtime::spawn(async move {
            loop {
                match l.accept().await {
                    Ok(conn) => {
                        if tx.unbounded_send(conn).is_err() {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::error!("accept: {e}");
                        runtime::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        }));
    }
    drop(tx);
    loop {
        let next = futures::future::select(rx.next(), terminate.next()).await;
        let (stream, mut peer) = match next {
            futures::future::Either::Left((Some(c), _)) => c,
            futures::future::Either::Left((None, _)) => break,
            futures::future::Either::Right((sig, _)) => {
                let name = sig.map_or("?", |s| s.ssh_name());
                tracing::info!("Received signal SIG{name}; terminating.");
                break;
            }
        };
        // IPv4 clients of the `::` socket show as themselves.
        peer.set_ip(peer.ip().to_canonical());
        let unauthenticated = active.load(Ordering::SeqCst);
        let startups = u32::try_from(unauthenticated).unwrap_or(u32::MAX);
        let roll = rand::random_range(0..100u32);
        let penalty = setup
            .penalties
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .refused(peer.ip(), std::time::Instant::now());
        let dropped = match penalty {
            Some(reason) => Some(reason),
            None => setup
                .settings
                .max_startups
                .should_drop(startups, roll)
                .then_some("MaxStartups"),
        };
        if let Some(reason) = dropped {
            let local = stream
                .local_addr()
                .map(|a| format!(" on [{}]:{}", a.ip().to_canonical(), a.port()))
                .unwrap_or_default();
            tracing::info!(
                "drop connection #{unauthenticated} from [{}]:{}{local} {reason}",
                peer.ip(),
                peer.port()
            );
            // As sshd: a word to the client, without waiting for it.
            drop(runtime::spawn(async move {
                use futures::io::AsyncWriteExt as _;
                let mut stream = stream;
                let notice = stream.write_all(b"Not allowed at this time\r\n");
                let _ = runtime::timeout(Duration::from_secs(1), notice).await;
            }));
            continue;
        }
        tracing::info!("Connection from {} port {}", peer.ip(), peer.port());
        prepare_stream(&stream);
        if let Some(monitor) = &monitor {
            monitor.assign(stream, peer).await;
            continue;
        }
        let conn = connection::connection(
            stream,
            peer,
            root,
            me.clone(),
            setup.clone(),
            active.clone(),
        );
        if single {
            conn.await;
            return Ok(());
        }
        spawn_served(Box::pin(conn));
    }
    // SIGTERM stops accepting; the connections running go on to their end.
    // The listening daemon is gone: its pid file too (as sshd 10), and the
    // service manager is told.
    if let Some(pid_file) = &setup.settings.pid_file {
        let _ = std::fs::remove_file(pid_file);
    }
    let _ = ssh_os::service::notify("STOPPING=1");
    let mut said = false;
    while live.load(Ordering::SeqCst) > 0 {
        if !said {
            tracing::info!(
                "waiting for {} connection(s) to end",
                live.load(Ordering::SeqCst)
            );
            said = true;
        }
        runtime::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// An accepted client's socket before the first byte: small packets (a
/// WINDOW_ADJUST behind an sftp status reply) go at once. With Nagle the
/// second waited for the client's delayed ACK while the client's window
/// was spent: sftp put into internal-sftp ran at 84 MB/s on loopback,
/// 516 MB/s with TCP_NODELAY (256 MiB, OpenSSH's sftp). `ssh` and `rssh`
/// set it on their side too.
fn prepare_stream(stream: &TcpStream) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!("TCP_NODELAY: {e}");
    }
}

#[cfg(test)]
#[allow(clippy::panic)]
mod stream_tests {
    use super::*;

    #[test]
    fn accepted_streams_send_small_packets_at_once() {
        runtime::block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0")
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
            let _client = TcpStream::connect(addr)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let (stream, _) = listener.accept().await.unwrap_or_else(|e| panic!("{e}"));
            assert!(!stream.nodelay().unwrap_or(true), "Nagle is on by default");
            prepare_stream(&stream);
            assert!(stream.nodelay().unwrap_or(false));
        });
    }
}
