//! Forwardings after authentication, with `ssh_async::forward`: local
//! (`-L`, `LocalForward`) and dynamic (`-D`, `DynamicForward`) listeners,
//! remote forwards (`-R`, `RemoteForward`, port 0 printing the allocated
//! port), the agent (`-A`) and X11 (`-X`/`-Y`). Failures are reported as
//! `ssh` reports them; with `ExitOnForwardFailure` they end the program
//! (255), otherwise the session goes on.

use std::path::{Path, PathBuf};

use ssh_async::forward::x11::X11Forwarding;
use ssh_async::forward::{self, Dispatcher, Listeners};
use ssh_async::{Client, runtime};
use ssh_config::client::{ClientSettings, ForwardAgent};
use ssh_config::{Endpoint, Forward};
use ssh_wire::messages::ChannelRequestKind;

use crate::config::io_message;

/// The default `xauth` (`XAuthLocation` is not read yet).
const XAUTH: &str = "/usr/bin/xauth";

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
async fn bind(listen: &Endpoint, gateway_ports: bool) -> Option<Listeners> {
    match Listeners::bind(listen, gateway_ports).await {
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

/// Sets up the local, dynamic and remote forwardings of `s`. `Err(())`
/// when `ExitOnForwardFailure` makes a failure fatal (already printed).
pub async fn setup(
    client: &Client,
    dispatcher: Option<&Dispatcher>,
    s: &ClientSettings,
) -> Result<(), ()> {
    let locals: Vec<(&Endpoint, Option<&Endpoint>)> = s
        .local_forward
        .iter()
        .map(|f| (&f.listen, f.connect.as_ref()))
        .chain(s.dynamic_forward.iter().map(|e| (e, None)))
        .collect();
    let mut ok = 0;
    for (listen, target) in &locals {
        tracing::debug!(
            "Local connections to {} forwarded to remote address {}",
            listen,
            target.map(ToString::to_string).unwrap_or("socks".into())
        );
        let Some(listeners) = bind(listen, s.gateway_ports).await else {
            continue;
        };
        ok += 1;
        let c = client.clone();
        let target = target.cloned();
        drop(runtime::spawn(async move {
            let r = match target {
                Some(t) => forward::serve_local(c, listeners, t).await,
                None => forward::serve_dynamic(c, listeners).await,
            };
            if let Err(e) = r {
                tracing::debug!("forwarding ended: {e}");
            }
        }));
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
    if let Some(d) = dispatcher {
        for f in &s.remote_forward {
            remote(d, f, s.exit_on_forward_failure).await?;
        }
    }
    Ok(())
}

/// One remote forward: the request, then "Allocated port" or the
/// failure.
async fn remote(d: &Dispatcher, f: &Forward, exit_on_failure: bool) -> Result<(), ()> {
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
            Ok(())
        }
        Ok(None) => {
            tracing::debug!("remote forward success for: listen {}", f.listen);
            Ok(())
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
                Ok(())
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
                match X11Forwarding::new(&display, s.forward_x11_trusted, Path::new(XAUTH)).await {
                    Ok(x) => {
                        extras.x11 = Some(x.request());
                        d.enable_x11(x);
                    }
                    // (A missing cookie is the library's warning: the
                    // fake one is used, as ssh does.)
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
