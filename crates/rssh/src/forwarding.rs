//! Forwardings after authentication, with `ssh_client_kit`: local
//! (`-L`, `LocalForward`) and dynamic (`-D`, `DynamicForward`) listeners,
//! remote forwards (`-R`, `RemoteForward`, port 0 printing the allocated
//! port), the agent (`-A`) and X11 (`-X`/`-Y`). Failures are reported as
//! `ssh` reports them; with `ExitOnForwardFailure` they end the program
//! (255), otherwise the session goes on.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures::future::AbortHandle;

use ssh_async::{Client, runtime};
use ssh_client_kit::x11::X11Forwarding;
use ssh_client_kit::{Dispatcher, Listeners};
use ssh_config::client::{ClientSettings, ForwardAgent};
use ssh_config::{Endpoint, Forward, ForwardKind, parse_forward_spec};
use ssh_wire::messages::ChannelRequestKind;

use crate::config::io_message;

/// What the session channel is to ask for, once forwarding is set up.
#[derive(Debug, Default)]
pub struct SessionExtras {
    /// The `x11-req` to send.
    pub x11: Option<ChannelRequestKind>,
    /// Send `auth-agent-req@openssh.com`.
    pub agent: bool,
}

/// The agent socket `ForwardAgent` names: `yes` is `SSH_AUTH_SOCK`, a
/// `$VARIABLE` is read from the environment, a path is taken with `~`
/// expanded.
pub fn agent_socket(s: &ForwardAgent, home: &Path) -> Option<PathBuf> {
    let from_env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    match s {
        ForwardAgent::No => None,
        ForwardAgent::Yes => from_env("SSH_AUTH_SOCK"),
        ForwardAgent::Path(p) => match p.strip_prefix('$') {
            Some(var) => from_env(var),
            None => Some(match p.strip_prefix("~/") {
                Some(rest) => home.join(rest),
                None => PathBuf::from(p),
            }),
        },
    }
}

/// The address a local listener binds, for messages (OpenSSH's
/// `bind [addr]:port`).
fn bind_label(listen: &Endpoint, gateway_ports: bool) -> String {
    match listen {
        Endpoint::Tcp { bind, port } => {
            let addr = match bind.as_deref() {
                None | Some("localhost") if !gateway_ports => "127.0.0.1",
                None | Some("localhost" | "" | "*") => "0.0.0.0",
                Some(a) => a,
            };
            format!("[{addr}]:{port}")
        }
        Endpoint::Unix(p) => p.display().to_string(),
    }
}

/// Binds one `-L`/`-D` listener; prints OpenSSH's lines when it fails.
async fn bind(listen: &Endpoint, gateway_ports: bool, unlink: bool) -> Option<Listeners> {
    match Listeners::bind_with(listen, gateway_ports, unlink).await {
        Ok(l) => Some(l),
        Err(e) => {
            let msg = io_message(&e);
            match listen {
                Endpoint::Tcp { port, .. } => {
                    tracing::error!("bind {}: {msg}", bind_label(listen, gateway_ports));
                    tracing::error!(
                        "channel_setup_fwd_listener_tcpip: cannot listen to port: {port}"
                    );
                }
                Endpoint::Unix(p) => {
                    tracing::error!("unix_listener: cannot bind to path {}: {msg}", p.display());
                    tracing::error!(
                        "channel_setup_fwd_listener_streamlocal: cannot listen to path: {}",
                        p.display()
                    );
                }
            }
            None
        }
    }
}

/// Where a remote forward leads, for "Allocated port ...".
fn target_label(target: Option<&Endpoint>) -> String {
    match target {
        Some(Endpoint::Tcp { bind, port }) => {
            format!("{}:{port}", bind.as_deref().unwrap_or_default())
        }
        Some(Endpoint::Unix(p)) => p.display().to_string(),
        None => "SOCKS".to_owned(),
    }
}

/// The forwardings of one connection: what the configuration asks for
/// at the start, and what `~C` adds or cancels later. Local and dynamic
/// listeners run as tasks that a cancel aborts (closing the listener).
#[derive(Clone)]
pub struct Forwarder {
    client: Client,
    dispatcher: Option<Dispatcher>,
    gateway_ports: bool,
    /// `StreamLocalBindUnlink`, for `-L` Unix sockets.
    stream_local_bind_unlink: bool,
    locals: Arc<Mutex<Vec<(Endpoint, AbortHandle)>>>,
}

impl core::fmt::Debug for Forwarder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Forwarder").finish_non_exhaustive()
    }
}

impl Forwarder {
    /// Forwardings over `client` with `s`'s `GatewayPorts`,
    /// `StreamLocalBindUnlink` and `PermitRemoteOpen`; remote ones need
    /// the `dispatcher`.
    pub fn new(client: &Client, dispatcher: Option<Dispatcher>, s: &ClientSettings) -> Self {
        if let Some(d) = &dispatcher {
            d.permit_remote_open(s.permit_remote_open.clone());
        }
        Self {
            client: client.clone(),
            dispatcher,
            gateway_ports: s.gateway_ports,
            stream_local_bind_unlink: s.stream_local_bind_unlink,
            locals: Arc::new(Mutex::new(Vec::new())),
        }
    }

    fn locals(&self) -> std::sync::MutexGuard<'_, Vec<(Endpoint, AbortHandle)>> {
        self.locals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Binds a `-L` (`target` given) or `-D` listener and serves it;
    /// false when binding failed (printed).
    pub async fn add_local(&self, listen: &Endpoint, target: Option<&Endpoint>) -> bool {
        tracing::debug!(
            "Local connections to {} forwarded to remote address {}",
            listen,
            target.map(ToString::to_string).unwrap_or("socks".into())
        );
        let Some(listeners) = bind(listen, self.gateway_ports, self.stream_local_bind_unlink).await
        else {
            return false;
        };
        let c = self.client.clone();
        let target = target.cloned();
        let (task, handle) = futures::future::abortable(async move {
            let r = match target {
                Some(t) => ssh_client_kit::serve_local(c, listeners, t).await,
                None => ssh_client_kit::serve_dynamic(c, listeners).await,
            };
            if let Err(e) = r {
                tracing::debug!("forwarding ended: {e}");
            }
        });
        self.locals().push((listen.clone(), handle));
        drop(runtime::spawn(async move {
            let _ = task.await;
        }));
        true
    }

    /// Stops the local or dynamic listeners on `listen` (a TCP port
    /// without a bind address matches any); whether there was one.
    pub fn cancel_local(&self, listen: &Endpoint) -> bool {
        let matches = |e: &Endpoint| match (listen, e) {
            (Endpoint::Tcp { bind: None, port }, Endpoint::Tcp { port: p, .. }) => port == p,
            (a, b) => a == b,
        };
        let mut found = false;
        self.locals().retain(|(e, h)| {
            if matches(e) {
                h.abort();
                found = true;
                false
            } else {
                true
            }
        });
        if found && let Endpoint::Unix(p) = listen {
            let _ = std::fs::remove_file(p);
        }
        found
    }

    /// Sets up the local, dynamic and remote forwardings of `s`.
    /// `Err(())` when `ExitOnForwardFailure` makes a failure fatal
    /// (already printed).
    pub async fn setup(&self, s: &ClientSettings) -> Result<(), ()> {
        let locals: Vec<(&Endpoint, Option<&Endpoint>)> = s
            .local_forward
            .iter()
            .map(|f| (&f.listen, f.connect.as_ref()))
            .chain(s.dynamic_forward.iter().map(|e| (e, None)))
            .collect();
        let mut ok = 0;
        for (listen, target) in &locals {
            if self.add_local(listen, *target).await {
                ok += 1;
            }
        }
        if ok < locals.len() {
            if s.exit_on_forward_failure {
                tracing::error!("Could not request local forwarding.");
                return Err(());
            }
            if ok == 0 {
                tracing::error!("Could not request local forwarding.");
            }
        }
        if let Some(d) = &self.dispatcher {
            for f in &s.remote_forward {
                remote(d, f, s.exit_on_forward_failure).await?;
            }
        }
        Ok(())
    }

    /// Runs one `~C` command line (`-L`, `-R`, `-D` to add, `-KL`, `-KR`,
    /// `-KD` to cancel, `?` for help), answering as `ssh` does.
    pub async fn command(&self, line: &str) {
        let line = line.trim_start();
        if line.is_empty() {
            return;
        }
        if matches!(line.chars().next(), Some('?' | 'h' | 'H')) {
            for l in COMMAND_HELP {
                tracing::info!("{l}");
            }
            return;
        }
        let Some(rest) = line.strip_prefix('-') else {
            tracing::info!("Invalid command.");
            return;
        };
        let (cancel, rest) = match rest.strip_prefix('K') {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let mut chars = rest.chars();
        let kind = match chars.next() {
            Some('L') => ForwardKind::Local,
            Some('R') => ForwardKind::Remote,
            Some('D') => ForwardKind::Dynamic,
            _ => {
                tracing::info!("Invalid command.");
                return;
            }
        };
        let spec = chars.as_str().trim();
        if cancel {
            let Ok(f) = parse_forward_spec(spec, ForwardKind::Dynamic) else {
                tracing::info!("Bad forwarding close port");
                return;
            };
            let done = match kind {
                ForwardKind::Remote => match &self.dispatcher {
                    Some(d) => d.cancel_remote(&f.listen).await.is_ok(),
                    None => false,
                },
                _ => self.cancel_local(&f.listen),
            };
            if done {
                tracing::info!("Canceled forwarding.");
            } else {
                tracing::info!("Unknown port forwarding.");
            }
            return;
        }
        let Ok(f) = parse_forward_spec(spec, kind) else {
            tracing::info!("Bad forwarding specification.");
            return;
        };
        let ok = match kind {
            ForwardKind::Remote => match &self.dispatcher {
                Some(d) => remote(d, &f, false).await == Ok(true),
                None => false,
            },
            ForwardKind::Dynamic => self.add_local(&f.listen, None).await,
            ForwardKind::Local => self.add_local(&f.listen, f.connect.as_ref()).await,
        };
        if ok {
            tracing::info!("Forwarding port.");
        } else {
            tracing::info!("Port forwarding failed.");
        }
    }
}

/// The `~C` help, as `ssh`'s.
const COMMAND_HELP: [&str; 7] = [
    "Commands:",
    "      -L[bind_address:]port:host:hostport    Request local forward",
    "      -R[bind_address:]port:host:hostport    Request remote forward",
    "      -D[bind_address:]port                  Request dynamic forward",
    "      -KL[bind_address:]port                 Cancel local forward",
    "      -KR[bind_address:]port                 Cancel remote forward",
    "      -KD[bind_address:]port                 Cancel dynamic forward",
];

/// One remote forward: the request, then "Allocated port" or the
/// failure. `Ok(false)`: it failed, warned; `Err(())`: it failed and
/// `ExitOnForwardFailure` ends the program.
async fn remote(d: &Dispatcher, f: &Forward, exit_on_failure: bool) -> Result<bool, ()> {
    tracing::debug!(
        "Remote connections from {} forwarded to local address {}",
        f.listen,
        f.connect
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or("socks".into())
    );
    match d.request_remote(&f.listen, f.connect.clone()).await {
        Ok(Some(port)) => {
            tracing::info!(
                "Allocated port {port} for remote forward to {}",
                target_label(f.connect.as_ref())
            );
            Ok(true)
        }
        Ok(None) => {
            tracing::debug!("remote forward success for: listen {}", f.listen);
            Ok(true)
        }
        Err(e) => {
            tracing::debug!("remote forward {}: {e}", f.listen);
            let what = match &f.listen {
                Endpoint::Tcp { port, .. } => format!("listen port {port}"),
                Endpoint::Unix(p) => format!("listen path {}", p.display()),
            };
            if exit_on_failure {
                tracing::error!("Error: remote port forwarding failed for {what}");
                Err(())
            } else {
                tracing::info!("Warning: remote port forwarding failed for {what}");
                Ok(false)
            }
        }
    }
}

/// Agent and X11 forwarding for the session: the dispatcher relays their
/// channels; the session channel sends the requests.
pub async fn session_extras(
    dispatcher: Option<&Dispatcher>,
    s: &ClientSettings,
    home: &Path,
) -> SessionExtras {
    let mut extras = SessionExtras::default();
    let Some(d) = dispatcher else {
        return extras;
    };
    if s.forward_agent != ForwardAgent::No {
        match agent_socket(&s.forward_agent, home) {
            Some(sock) => {
                d.enable_agent(sock);
                extras.agent = true;
            }
            None => tracing::debug!("ForwardAgent: no agent socket"),
        }
    }
    if s.forward_x11 {
        match std::env::var("DISPLAY").ok().filter(|d| !d.is_empty()) {
            None => tracing::debug!("X11 forwarding requested but DISPLAY not set"),
            Some(display) => {
                let x = X11Forwarding::new(
                    &display,
                    s.forward_x11_trusted,
                    &s.xauth_location,
                    s.forward_x11_timeout,
                )
                .await;
                match x {
                    Ok(x) => {
                        extras.x11 = Some(x.request());
                        d.enable_x11(x);
                    }
                    // (The library logged why: a missing trusted cookie
                    // is a warning and the fake one is used, a missing
                    // untrusted one ends X11 forwarding, as in ssh.)
                    Err(e) if e.to_string() == ssh_client_kit::x11::UNTRUSTED_FAILED => {}
                    Err(e) => tracing::error!("X11 forwarding: {}", io_message(&e)),
                }
            }
        }
    }
    extras
}

/// Whether anything needs the server's channel opens answered.
pub fn needs_dispatcher(s: &ClientSettings, session: bool) -> bool {
    !s.remote_forward.is_empty()
        || session && (s.forward_agent != ForwardAgent::No || s.forward_x11)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_openssh() {
        let t = |bind: Option<&str>, port| Endpoint::Tcp {
            bind: bind.map(str::to_owned),
            port,
        };
        assert_eq!(bind_label(&t(None, 80), false), "[127.0.0.1]:80");
        assert_eq!(bind_label(&t(None, 80), true), "[0.0.0.0]:80");
        assert_eq!(bind_label(&t(Some("*"), 80), false), "[0.0.0.0]:80");
        assert_eq!(bind_label(&t(Some("::1"), 8), false), "[::1]:8");
        assert_eq!(target_label(Some(&t(Some("db"), 5432))), "db:5432");
        let home = Path::new("/home/u");
        assert_eq!(
            agent_socket(&ForwardAgent::Path("~/a.sock".into()), home),
            Some(PathBuf::from("/home/u/a.sock"))
        );
        assert_eq!(agent_socket(&ForwardAgent::No, home), None);
    }
}
