//! The as-user sockets helper of a root server, with the `rsshd` binary
//! as the helper program: what it makes belongs to the user, it runs with
//! the user's ids only, it cannot reach what only root may, and it ends
//! with its `Sockets`. Needs root (skipped otherwise).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::time::Duration;

use futures::io::{AsyncReadExt, AsyncWriteExt};
use ssh_async::runtime;
use ssh_os::sockets::Sockets;
use ssh_os::user::{self, User};

/// Our children that are sockets helpers for `name` and still run (not
/// zombies): their pids and `Uid:`/`Gid:`/`Groups:` lines.
fn helpers(name: &str) -> Vec<(u32, String)> {
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(status) = std::fs::read_to_string(e.path().join("status")) else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let field = |k: &str| {
            status
                .lines()
                .find(|l| l.starts_with(k))
                .map(|l| l[k.len()..].trim().to_owned())
                .unwrap_or_default()
        };
        if field("PPid:") == me
            && !field("State:").starts_with('Z')
            && cmdline.starts_with(format!("sockets helper: {name}").as_bytes())
        {
            let ids = format!(
                "Uid: {} Gid: {} Groups: {}",
                field("Uid:"),
                field("Gid:"),
                field("Groups:")
            );
            out.push((pid, ids));
        }
    }
    out
}

#[test]
fn helper_makes_sockets_as_the_user() {
    if !user::is_root() {
        println!("skipped: needs root to start a helper as another user");
        return;
    }
    let nobody = User::by_name("nobody").unwrap().expect("user nobody");
    assert_ne!(nobody.uid, 0);
    runtime::block_on(async {
        runtime::timeout(Duration::from_secs(60), run(nobody))
            .await
            .expect("timed out")
    });
}

async fn run(nobody: User) {
    let s = Sockets::for_user_via(&nobody, PathBuf::from(env!("CARGO_BIN_EXE_rsshd"))).unwrap();
    assert!(s.uses_helper());
    // Started lazily: nothing runs before the first request.
    assert!(helpers(&nobody.name).is_empty());

    // A private directory and a socket in it, both the user's.
    let dir = s.create_private_dir("rsshd-helper-test-").await.unwrap();
    let md = std::fs::metadata(&dir).unwrap();
    assert_eq!(md.uid(), nobody.uid);
    assert_eq!(md.gid(), nobody.gid);
    assert_eq!(md.permissions().mode() & 0o7777, 0o700);
    let path = dir.join("agent.sock");
    let listener = s.listen_unix(&path).await.unwrap();
    let md = std::fs::symlink_metadata(&path).unwrap();
    assert_eq!(md.uid(), nobody.uid);
    assert_eq!(md.permissions().mode() & 0o777, 0o600);

    // One helper, with exactly the user's ids (all four uids: real,
    // effective, saved, filesystem) and groups.
    let running = helpers(&nobody.name);
    assert_eq!(running.len(), 1, "{running:?}");
    let u = nobody.uid;
    let g = nobody.gid;
    let groups: Vec<String> = nobody
        .group_ids()
        .unwrap()
        .iter()
        .map(u32::to_string)
        .collect();
    let mut got_groups: Vec<&str> = running[0]
        .1
        .split("Groups:")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .collect();
    got_groups.sort_unstable();
    let mut want_groups: Vec<&str> = groups.iter().map(String::as_str).collect();
    want_groups.sort_unstable();
    assert!(
        running[0]
            .1
            .starts_with(&format!("Uid: {u}\t{u}\t{u}\t{u} Gid: {g}\t{g}\t{g}\t{g} ")),
        "{}",
        running[0].1
    );
    assert_eq!(got_groups, want_groups);

    // The listener (made by the helper) works here; a connection made by
    // the helper reaches it.
    let mut c = s.connect_unix(&path).await.unwrap();
    let (mut a, _) = listener.accept().await.unwrap();
    c.write_all(b"hello").await.unwrap();
    let mut buf = [0u8; 5];
    a.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"hello");

    // A socket in a root-only directory: root reaches it, the user not.
    let root_dir = std::env::temp_dir().join(format!("rsshd-root-only-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root_dir);
    std::fs::create_dir(&root_dir).unwrap();
    std::fs::set_permissions(&root_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let root_sock = root_dir.join("s");
    let _root_listener = std::os::unix::net::UnixListener::bind(&root_sock).unwrap();
    Sockets::direct().connect_unix(&root_sock).await.unwrap();
    let err = s.connect_unix(&root_sock).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "{err}");
    // Nor can it make a socket or remove anything there.
    let err = s.listen_unix(&root_dir.join("t")).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "{err}");
    let err = s.remove_path(&root_sock).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "{err}");
    std::fs::remove_dir_all(&root_dir).unwrap();

    // TCP: a listener on loopback port 0 and a connection to it by name
    // (resolved in the helper).
    let ls = s.listen_tcp(Some("localhost"), 0).await.unwrap();
    let port = ls[0].local_addr().unwrap().port();
    assert!(ls.iter().all(|l| l.local_addr().unwrap().port() == port));
    let v4 = ls
        .iter()
        .find(|l| l.local_addr().unwrap().is_ipv4())
        .unwrap();
    let mut c = s.connect_tcp("localhost", port).await.unwrap();
    // "localhost" may be tried as ::1 first: accept on whichever got it.
    let (mut a, _) = if c.peer_addr().unwrap().is_ipv4() {
        v4.accept().await.unwrap()
    } else {
        ls.iter()
            .find(|l| l.local_addr().unwrap().is_ipv6())
            .unwrap()
            .accept()
            .await
            .unwrap()
    };
    a.write_all(b"tcp").await.unwrap();
    let mut buf = [0u8; 3];
    c.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"tcp");
    let err = s.connect_tcp("no-such-host.invalid", 80).await.unwrap_err();
    assert!(!err.to_string().is_empty());
    // Privileged ports are root's (unless this kernel lowered the limit).
    let unprivileged_start =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .unwrap_or(1024);
    if unprivileged_start >= 1024 {
        let err = s.listen_tcp(Some("127.0.0.1"), 1023).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied, "{err}");
    }

    // Cleaning up as the user.
    s.remove_path(&path).await.unwrap();
    s.remove_path(&dir).await.unwrap();
    assert!(!dir.exists());

    // Clones share the helper; it ends when the last one is dropped.
    let s2 = s.clone();
    drop(s);
    s2.create_private_dir("rsshd-helper-test-")
        .await
        .map(|d| std::fs::remove_dir(d).unwrap())
        .unwrap();
    assert_eq!(helpers(&nobody.name).len(), 1);
    drop(s2);
    let mut gone = false;
    for _ in 0..100 {
        if helpers(&nobody.name).is_empty() {
            gone = true;
            break;
        }
        runtime::sleep(Duration::from_millis(50)).await;
    }
    assert!(gone, "the helper outlived its Sockets");
}
