//! What the session tests share: a server on loopback whose sessions
//! follow a policy, and our client logged in to it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use async_std::net::{TcpListener, TcpStream};
use ssh_async::ssh_keys::PrivateKey;
use ssh_async::{
    Client, ClientOptions, Server, ServerHandler, ServerOptions, SimpleHandler, runtime,
};
use ssh_os::user::User;
use ssh_server_kit::session::{SessionPolicy, serve_session};

pub const LIMIT: Duration = Duration::from_secs(30);

pub struct Anyone;
impl ServerHandler for Anyone {
    async fn password(&mut self, _user: &str, password: &str) -> bool {
        password == "pw"
    }
}

pub fn policy() -> SessionPolicy {
    let user = User::current().unwrap();
    SessionPolicy {
        env: vec![
            ("HOME".into(), user.home.display().to_string()),
            ("PATH".into(), "/usr/bin:/bin".into()),
        ],
        user,
        switch_user: false,
        accept_env: vec!["LANG".into(), "LC_*".into()],
        permit_tty: true,
        subsystems: vec![("upper".into(), "tr a-z A-Z".into())],
        force_command: None,
        internal_sftp: ssh_server_kit::session::InternalSftp::Shell,
        chroot: None,
        x11_forwarding: false,
        x11_display_offset: 10,
        x11_use_localhost: true,
        xauth_location: "/usr/bin/xauth".into(),
        agent_forwarding: false,
        password_change: false,
        login_message: Default::default(),
        motd: None,
        nologin: None,
        sockets: None,
        login_records: None,
        login_recorder: None,
    }
}

/// Starts a server whose sessions follow `policy`; returns a client.
pub async fn start(policy: SessionPolicy) -> Client {
    start_with_socket(policy).await.0
}

/// [`start`], also returning the client's socket (to cut it).
pub async fn start_with_socket(policy: SessionPolicy) -> (Client, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let policy = Arc::new(policy);
    drop(runtime::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let key = PrivateKey::from_ed25519_seed(&[9; 32]);
        let conn = Server::accept(stream, ServerOptions::new(vec![Box::new(key)]), &mut Anyone)
            .await
            .unwrap();
        while let Some(incoming) = conn.next_channel().await {
            let ch = incoming.accept().unwrap();
            drop(runtime::spawn(serve_session(
                ch,
                policy.clone(),
                conn.clone(),
            )));
        }
    }));
    let stream = TcpStream::connect(addr).await.unwrap();
    let mut handler = SimpleHandler {
        host_key_check: Box::new(|_| true),
        keys: Vec::new(),
        password: Some("pw".into()),
    };
    let options = ClientOptions::new("me", handler.methods());
    let socket = stream.clone();
    let client = Client::connect(stream, options, &mut handler)
        .await
        .unwrap();
    (client, socket)
}

pub fn block<F: std::future::Future<Output = ()>>(f: F) {
    runtime::block_on(async { runtime::timeout(LIMIT, f).await.expect("timed out") });
}

/// A fresh directory for HOME (xauth writes `$HOME/.Xauthority`).
pub fn temp_home(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ssh-async-host-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap();
    dir
}
