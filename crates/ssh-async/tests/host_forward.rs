//! Server-side forwarding: `ssh_async::os::sockets` (sockets made for a
//! user) and `ssh_async::host_forward` (direct-tcpip, direct-streamlocal,
//! tcpip-forward, streamlocal-forward under a policy), with our client
//! against our server in-process.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use ssh_async::os::sockets::Sockets;
use ssh_async::runtime;

const LIMIT: Duration = Duration::from_secs(30);

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    runtime::block_on(async { runtime::timeout(LIMIT, f).await.expect("timed out") })
}

#[test]
fn direct_sockets_listen_connect_and_files() {
    block_on(async {
        let s = Sockets::direct();
        assert!(!s.uses_helper());
        // Port 0 on "localhost": one listener per family, the same port.
        let ls = s.listen_tcp(Some("localhost"), 0).await.unwrap();
        assert!(!ls.is_empty());
        let port = ls[0].local_addr().unwrap().port();
        assert_ne!(port, 0);
        for l in &ls {
            assert!(l.local_addr().unwrap().ip().is_loopback());
            assert_eq!(l.local_addr().unwrap().port(), port);
        }
        let l4 = ls
            .iter()
            .find(|l| l.local_addr().unwrap().is_ipv4())
            .unwrap();
        let mut c = s.connect_tcp("127.0.0.1", port).await.unwrap();
        let (mut a, _) = l4.accept().await.unwrap();
        c.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        a.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
        drop(ls);
        drop(a);
        // Nobody listens there any more.
        assert!(s.connect_tcp("127.0.0.1", port).await.is_err());

        let dir = s.create_private_dir("rssh-test-").await.unwrap();
        let md = std::fs::metadata(&dir).unwrap();
        assert!(md.is_dir());
        assert_eq!(md.permissions().mode() & 0o777, 0o700);
        assert!(dir.starts_with("/tmp"));
        assert!(
            dir.file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("rssh-test-")
        );
        let path = dir.join("sock");
        let ul = s.listen_unix(&path).await.unwrap();
        let md = std::fs::symlink_metadata(&path).unwrap();
        assert_eq!(md.permissions().mode() & 0o777, 0o600);
        assert_eq!(md.uid(), rustix::process::geteuid().as_raw());
        // An existing file is an error.
        assert!(s.listen_unix(&path).await.is_err());
        let mut c = s.connect_unix(&path).await.unwrap();
        let (mut a, _) = ul.accept().await.unwrap();
        a.write_all(b"pong").await.unwrap();
        c.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pong");
        // The directory is not empty: rmdir fails.
        assert!(s.remove_path(&dir).await.is_err());
        s.remove_path(&path).await.unwrap();
        assert!(s.connect_unix(&path).await.is_err());
        s.remove_path(&dir).await.unwrap();
        assert!(!dir.exists());
        assert!(s.create_private_dir("a/b").await.is_err());
    });
}
