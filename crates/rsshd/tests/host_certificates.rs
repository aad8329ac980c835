//! `HostCertificate` and `-c`: each certificate goes to the host key it
//! certifies and is presented in the key exchange; a certificate without
//! its key, or a file that is no certificate, stops the server at start-up.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::host_key;
use ssh_async::ssh_keys::{
    CertType, Certificate, CertificateBuilder, PrivateKey, PublicKey, SignatureAlgorithm,
};
use ssh_async::{Client, ClientHandler, ClientOptions, Error, runtime};

fn rsshd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rsshd"))
}

fn ca() -> PrivateKey {
    PrivateKey::from_ed25519_seed(&[0xca; 32])
}

/// Writes a host certificate of `key` signed by [`ca`] to `dir/name`.
fn write_cert(dir: &Path, name: &str, key: &PublicKey) -> (PathBuf, Certificate) {
    let mut rng: rand::rngs::StdRng = rand::make_rng();
    let cert = CertificateBuilder::new(key.clone(), CertType::Host)
        .key_id("rsshd test")
        .principal("127.0.0.1")
        .sign(&ca(), None, &mut rng)
        .unwrap();
    let path = dir.join(name);
    std::fs::write(&path, format!("{}\n", cert.to_openssh("test"))).unwrap();
    (path, cert)
}

fn config(dir: &Path, key: &Path, extra: &str) -> PathBuf {
    let cfg = dir.join("cfg");
    std::fs::write(
        &cfg,
        format!(
            "HostKey {}\nListenAddress 127.0.0.1\nPasswordAuthentication no\n{extra}",
            key.display()
        ),
    )
    .unwrap();
    cfg
}

fn dash_t(cfg: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = rsshd()
        .arg("-t")
        .arg("-f")
        .arg(cfg)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_certificate_of_a_loaded_key_is_accepted() {
    let dir = common::temp_dir("rsshd-cert", "good");
    let (key, public) = host_key(&dir);
    let (cert, _) = write_cert(&dir, "host-cert.pub", &public);
    let cfg = config(&dir, &key, &format!("HostCertificate {}\n", cert.display()));
    assert_eq!(dash_t(&cfg, &[]), (Some(0), String::new()));
    let cfg = config(&dir, &key, "");
    assert_eq!(
        dash_t(&cfg, &["-c", &cert.display().to_string()]),
        (Some(0), String::new())
    );
}

#[test]
fn a_certificate_without_its_key_stops_the_server() {
    let dir = common::temp_dir("rsshd-cert", "nokey");
    let (key, _) = host_key(&dir);
    let other = PrivateKey::from_ed25519_seed(&[3; 32]);
    let (cert, _) = write_cert(&dir, "other-cert.pub", other.public());
    let cfg = config(&dir, &key, &format!("HostCertificate {}\n", cert.display()));
    let (code, err) = dash_t(&cfg, &[]);
    assert_eq!(code, Some(255));
    assert!(
        err.contains(&format!(
            "No matching private key for certificate: {}",
            cert.display()
        )),
        "{err}"
    );
    // The same through -c.
    let cfg = config(&dir, &key, "");
    let (code, err) = dash_t(&cfg, &["-c", &cert.display().to_string()]);
    assert_eq!(code, Some(255));
    assert!(
        err.contains("No matching private key for certificate"),
        "{err}"
    );
}

#[test]
fn a_file_that_is_no_certificate_stops_the_server() {
    let dir = common::temp_dir("rsshd-cert", "garbage");
    let (key, public) = host_key(&dir);
    let bad = dir.join("plain.pub");
    // A plain public key is not a certificate.
    std::fs::write(&bad, format!("{}\n", public.to_openssh("x"))).unwrap();
    let cfg = config(&dir, &key, &format!("HostCertificate {}\n", bad.display()));
    let (code, err) = dash_t(&cfg, &[]);
    assert_eq!(code, Some(255));
    assert!(
        err.contains(&format!(
            "Could not load host certificate \"{}\"",
            bad.display()
        )),
        "{err}"
    );
    let missing = dir.join("missing-cert.pub");
    let (code, err) = dash_t(&cfg, &["-c", &missing.display().to_string()]);
    assert_eq!(code, Some(255));
    assert!(err.contains("Could not load host certificate"), "{err}");
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Records the certificate, then refuses (no account is needed).
struct Recorder(Arc<Mutex<Option<Certificate>>>);

impl ClientHandler for Recorder {
    async fn check_host_key(&mut self, _: &PublicKey) -> bool {
        false
    }

    async fn check_host_certificate(&mut self, _: &PublicKey, c: &Certificate) -> bool {
        *self.0.lock().unwrap() = Some(c.clone());
        false
    }

    async fn sign(&mut self, _: &PublicKey, _: SignatureAlgorithm, _: &[u8]) -> Option<Vec<u8>> {
        None
    }
}

#[test]
fn the_server_presents_the_certificate() {
    let dir = common::temp_dir("rsshd-cert", "serve");
    let (key, public) = host_key(&dir);
    let (cert_path, cert) = write_cert(&dir, "host-cert.pub", &public);
    let cfg = config(&dir, &key, "");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = rsshd()
        .args(["-D", "-e", "-f"])
        .arg(&cfg)
        .arg("-c")
        .arg(&cert_path)
        .args(["-p", &port.to_string()])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let _running = Running(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            let _ = tx.send(line);
        }
    });
    let mut log = Vec::new();
    while !log
        .iter()
        .any(|l: &String| l.contains("Server listening on"))
    {
        log.push(
            rx.recv_timeout(Duration::from_secs(20))
                .expect("rsshd did not listen"),
        );
    }
    assert!(
        log.iter()
            .any(|l| l.starts_with("Server host certificate: ssh-ed25519-cert-v01@openssh.com")),
        "{log:?}"
    );
    let seen = Arc::new(Mutex::new(None));
    let r = runtime::block_on(async {
        let stream = runtime::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let options = ClientOptions::new("nobody", Vec::new());
        Client::connect(stream, options, &mut Recorder(seen.clone())).await
    });
    assert!(matches!(r, Err(Error::HostKeyRejected)), "{r:?}");
    assert_eq!(seen.lock().unwrap().as_ref(), Some(&cert));
}
