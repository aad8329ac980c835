//! The `rsshd` binary: `-t` on good and bad files, and a real session
//! with our client library (publickey from an `authorized_keys` file,
//! exec with stdout, stderr and the exit status, the sshd-style log).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use common::host_key;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ssh_async::ssh_keys::PrivateKey;
use ssh_async::{Client, ClientOptions, SimpleHandler, runtime};
use ssh_os::user::User;

fn rsshd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rsshd"))
}

fn temp_dir(name: &str) -> PathBuf {
    common::temp_dir("rsshd-test", name)
}

#[test]
fn dash_t_accepts_a_good_file_and_names_the_line_of_a_bad_one() {
    let dir = temp_dir("t");
    let (key, _) = host_key(&dir);
    let good = dir.join("good");
    std::fs::write(&good, format!("HostKey {}\nPort 2200\n", key.display())).unwrap();
    let out = rsshd().arg("-t").arg("-f").arg(&good).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bad = dir.join("bad");
    std::fs::write(
        &bad,
        format!(
            "HostKey {}\n\nPasswordAuthentication maybe\n",
            key.display()
        ),
    )
    .unwrap();
    let out = rsshd().arg("-t").arg("-f").arg(&bad).output().unwrap();
    assert_eq!(out.status.code(), Some(255));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains(&bad.display().to_string()), "{err}");
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_session_with_our_client() {
    let dir = temp_dir("session");
    let (key, host_public) = host_key(&dir);
    let user_key = PrivateKey::from_ed25519_seed(&[4; 32]);
    std::fs::write(
        dir.join("authorized_keys"),
        format!("{}\n", user_key.public().to_openssh("test")),
    )
    .unwrap();
    let cfg = dir.join("cfg");
    std::fs::write(
        &cfg,
        format!(
            "HostKey {}\nListenAddress 127.0.0.1\nAuthorizedKeysFile {}/authorized_keys\nPasswordAuthentication no\n",
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
    let server = Running(child);
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
    let log_text = || log.lock().unwrap().clone();
    assert!(
        ready_rx.recv_timeout(Duration::from_secs(20)).is_ok(),
        "rsshd did not listen: {}",
        log_text()
    );
    let me = User::current().unwrap().name;
    let result = runtime::block_on(async {
        let stream = runtime::net::TcpStream::connect(("127.0.0.1", port)).await?;
        let mut handler = SimpleHandler {
            host_key_check: Box::new(move |k| *k == host_public),
            keys: vec![user_key],
            password: None,
        };
        let options = ClientOptions::new(&me, handler.methods());
        let client = Client::connect(stream, options, &mut handler).await?;
        let out = client
            .exec_with_stdin("cat; echo oops >&2; exit 7", b"some input")
            .await?;
        client.disconnect().await?;
        Ok::<_, ssh_async::Error>(out)
    });
    let out = match result {
        Ok(out) => out,
        Err(e) => {
            std::thread::sleep(Duration::from_millis(200));
            panic!("{e}; rsshd's log:\n{}", log_text());
        }
    };
    assert_eq!(out.stdout, b"some input");
    assert_eq!(out.stderr, b"oops\n");
    assert_eq!(out.exit_status, Some(7));
    std::thread::sleep(Duration::from_millis(200));
    drop(server);
    let log = log_text();
    assert!(
        log.contains(&format!("Accepted publickey for {me} from 127.0.0.1 port")),
        "{log}"
    );
    assert!(log.contains("ssh2: ED25519 SHA256:"), "{log}");
}
