//! Shared by rsshd's binary tests: scratch directories, host keys, and a
//! running server.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ssh_async::ssh_keys::PrivateKey;
use ssh_async::{Client, ClientOptions, SimpleHandler, runtime};
use ssh_os::user::User;

use ssh_async::ssh_keys::{KeyType, PublicKey};

/// A fresh directory `<tmp>/<prefix>-<name>-<pid>`.
pub fn temp_dir(prefix: &str, name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("{prefix}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Writes a new ed25519 host key file; its path and public key.
pub fn host_key(dir: &Path) -> (PathBuf, PublicKey) {
    use ssh_async::ssh_auth::keyfile::{Encryption, KeyPair};
    let path = dir.join("host_key");
    let mut rng: rand::rngs::StdRng = rand::make_rng();
    let pair = KeyPair::generate(KeyType::Ed25519, None, "host", &mut rng).unwrap();
    let text = pair.to_openssh(&Encryption::None, &mut rng).unwrap();
    std::fs::write(&path, text).unwrap();
    (path, pair.public_key().clone())
}

/// The `rsshd` binary under test.
pub fn rsshd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rsshd"))
}

pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The seed of the key authorized for the current user.
pub const USER_SEED: [u8; 32] = [4; 32];

/// An rsshd on a free loopback port with its log collected, a host key,
/// and the key of [`USER_SEED`] authorized for the current user.
pub struct Server {
    pub running: Running,
    log: std::sync::Arc<std::sync::Mutex<String>>,
    pub port: u16,
    pub host_public: ssh_async::ssh_keys::PublicKey,
}

impl Server {
    pub fn start(name: &str, extra: &str) -> Self {
        let dir = temp_dir("rsshd-test", name);
        let (key, host_public) = host_key(&dir);
        let user_key = PrivateKey::from_ed25519_seed(&USER_SEED);
        std::fs::write(
            dir.join("authorized_keys"),
            format!("{}\n", user_key.public().to_openssh("test")),
        )
        .unwrap();
        let cfg = dir.join("cfg");
        std::fs::write(
            &cfg,
            format!(
                "HostKey {}\nListenAddress 127.0.0.1\nAuthorizedKeysFile {}/authorized_keys\nPasswordAuthentication no\n{extra}",
                key.display(),
                dir.display()
            ),
        )
        .unwrap();
        let port = free_port();
        let mut child = rsshd()
            .args(["-D", "-e", "-f"])
            .arg(&cfg)
            .args(["-p", &port.to_string()])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let running = Running(child);
        // The log, collected by a thread; connect only once rsshd listens
        // (no early attempts, which could even connect a socket to itself).
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        {
            let log = log.clone();
            std::thread::spawn(move || {
                use std::io::BufRead as _;
                for line in std::io::BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if line.contains("Server listening on") {
                        let _ = ready_tx.send(());
                    }
                    let mut l = log.lock().unwrap();
                    l.push_str(&line);
                    l.push('\n');
                }
            });
        }
        let server = Self {
            running,
            log,
            port,
            host_public,
        };
        assert!(
            ready_rx.recv_timeout(Duration::from_secs(20)).is_ok(),
            "rsshd did not listen: {}",
            server.log()
        );
        server
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Whether the log comes to hold `text` within 5 s (it is read by a
    /// thread of its own, a moment after rsshd writes it).
    pub fn wait_log(&self, text: &str) -> bool {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !self.log().contains(text) {
            if std::time::Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// Logs in as the current user by publickey and runs `f` with the
    /// connection, which ends after it.
    pub fn session<T>(&self, f: impl AsyncFnOnce(&Client) -> T) -> T {
        let me = User::current().unwrap().name;
        let host_public = self.host_public.clone();
        let user_key = PrivateKey::from_ed25519_seed(&USER_SEED);
        runtime::block_on(async {
            let stream = runtime::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .unwrap();
            let mut handler = SimpleHandler {
                host_key_check: Box::new(move |k| *k == host_public),
                keys: vec![user_key],
                password: None,
            };
            let options = ClientOptions::new(&me, handler.methods());
            let client = Client::connect(stream, options, &mut handler)
                .await
                .unwrap();
            let t = f(&client).await;
            client.disconnect().await.unwrap();
            t
        })
    }

    /// Logs in as the current user by publickey and runs subsystem
    /// `name` with `stdin` (sent whole, then EOF): its standard output.
    pub fn subsystem(&self, name: &str, stdin: &[u8]) -> Vec<u8> {
        use futures::io::{AsyncReadExt as _, AsyncWriteExt as _};
        self.session(async |client| {
            let ch = client.open_session().await.unwrap();
            ch.subsystem(name).await.unwrap();
            let mut w = ch.writer();
            w.write_all(stdin).await.unwrap();
            w.close().await.unwrap();
            let mut out = Vec::new();
            ch.reader().read_to_end(&mut out).await.unwrap();
            out
        })
    }

    /// Logs in as the current user by publickey and runs `command` with
    /// `stdin`.
    pub fn exec(
        &self,
        command: &str,
        stdin: &[u8],
    ) -> Result<ssh_async::ExecOutput, ssh_async::Error> {
        let me = User::current().unwrap().name;
        let host_public = self.host_public.clone();
        let user_key = PrivateKey::from_ed25519_seed(&USER_SEED);
        runtime::block_on(async {
            let stream = runtime::net::TcpStream::connect(("127.0.0.1", self.port)).await?;
            let mut handler = SimpleHandler {
                host_key_check: Box::new(move |k| *k == host_public),
                keys: vec![user_key],
                password: None,
            };
            let options = ClientOptions::new(&me, handler.methods());
            let client = Client::connect(stream, options, &mut handler).await?;
            let out = client.exec_with_stdin(command, stdin).await?;
            client.disconnect().await?;
            Ok(out)
        })
    }
}
