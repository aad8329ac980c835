//! rscp and rsftp end to end: an in-process `ssh_async::Server` whose
//! `sftp` subsystem runs OpenSSH's `sftp-server` (skipped when it is not
//! installed), a tree with a large file, an empty file, names with spaces
//! and a line break, and a symlink, compared by hash; `-p` keeps modes and
//! mtimes; `reget` resumes a cut transfer; remote-to-remote copies go
//! through the client; wildcards expand on the right side.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use futures::io::AsyncWriteExt;
use sha2::Digest;
use ssh_async::runtime::net::TcpListener as AsyncListener;
use ssh_async::ssh_keys::{PrivateKey, PublicKey};
use ssh_async::{Server, ServerHandler, ServerOptions, runtime};
use ssh_wire::messages::{ChannelRequestKind, ChannelType, OpenFailureReason};

const SFTP_SERVER: &str = "/usr/lib/openssh/sftp-server";

#[derive(Clone)]
struct Policy {
    key: PublicKey,
}

impl ServerHandler for Policy {
    async fn public_key(
        &mut self,
        _user: &str,
        key: &PublicKey,
        _cert: Option<&ssh_auth::cert::Certificate>,
        _proof: bool,
    ) -> bool {
        *key == self.key
    }
}

async fn serve_sftp(ch: ssh_async::Channel) {
    while let Some(req) = ch.next_request().await {
        let ChannelRequestKind::Subsystem { name } = &req.kind else {
            let _ = ch.reply(&req, false);
            continue;
        };
        if name != "sftp" {
            let _ = ch.reply(&req, false);
            continue;
        }
        let _ = ch.reply(&req, true);
        let mut child = async_process::Command::new(SFTP_SERVER)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = child.stdout.take().unwrap();
        let mut cw = ch.writer();
        let mut cr = ch.reader();
        let up = async {
            let _ = futures::io::copy(&mut stdout, &mut cw).await;
        };
        let down = async {
            let _ = futures::io::copy(&mut cr, &mut stdin).await;
            let _ = stdin.close().await;
        };
        futures::join!(up, down);
        let status = child
            .status()
            .await
            .ok()
            .and_then(|s| s.code())
            .unwrap_or(1);
        let _ = ch.exit_status(u32::try_from(status).unwrap_or(1)).await;
        let _ = ch.send_eof();
        let _ = ch.close();
        return;
    }
}

fn server(key: PublicKey) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        runtime::block_on(async move {
            let listener = AsyncListener::from(listener);
            while let Ok((stream, _)) = listener.accept().await {
                let mut policy = Policy { key: key.clone() };
                drop(runtime::spawn(async move {
                    let mut o =
                        ServerOptions::new(vec![Box::new(PrivateKey::from_ed25519_seed(&[7; 32]))]);
                    o.auth.methods = vec!["publickey".into()];
                    let Ok(conn) = Server::accept(stream, o, &mut policy).await else {
                        return;
                    };
                    while let Some(incoming) = conn.next_channel().await {
                        if incoming.channel_type == ChannelType::Session {
                            let Ok(ch) = incoming.accept() else { break };
                            drop(runtime::spawn(serve_sftp(ch)));
                        } else {
                            let _ = incoming.reject(OpenFailureReason::UNKNOWN_CHANNEL_TYPE, "no");
                        }
                    }
                }));
            }
        });
    });
    port
}

struct Setup {
    dir: PathBuf,
    args: Vec<String>,
}

fn setup(name: &str) -> Option<Setup> {
    if !Path::new(SFTP_SERVER).exists() {
        eprintln!("skipped: no {SFTP_SERVER}");
        return None;
    }
    let dir = std::env::temp_dir().join(format!("rsftp-e2e-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("id");
    let st = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "t", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(st.success());
    let line = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let (public, _) = PublicKey::from_openssh(line.trim()).unwrap();
    let port = server(public);
    let args = [
        "-F",
        "none",
        "-P",
        &port.to_string(),
        "-i",
        key.to_str().unwrap(),
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        &format!("UserKnownHostsFile={}", dir.join("known_hosts").display()),
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        "IdentitiesOnly=yes",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    Some(Setup { dir, args })
}

fn run(bin: &str, args: &[String], stdin: &[u8]) -> (i32, String, String) {
    let mut child = Command::new(bin)
        .args(args)
        .env_remove("SSH_AUTH_SOCK")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn make_tree(root: &Path) {
    std::fs::create_dir_all(root.join("sub dir/deeper")).unwrap();
    let mut big = Vec::with_capacity(5 << 20);
    let mut x: u32 = 1;
    while big.len() < (5 << 20) + 12345 {
        x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        big.extend_from_slice(&x.to_le_bytes());
    }
    std::fs::write(root.join("big"), &big).unwrap();
    std::fs::write(root.join("empty"), b"").unwrap();
    std::fs::write(root.join("sub dir/a file with spaces"), b"hello\n").unwrap();
    std::fs::write(root.join("sub dir/deeper/x"), b"x").unwrap();
    std::fs::write(root.join("new\nline"), b"two\nlines\n").unwrap();
    std::os::unix::fs::symlink("big", root.join("link")).unwrap();
    std::fs::set_permissions(root.join("empty"), std::fs::Permissions::from_mode(0o640)).unwrap();
    let t = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    std::fs::File::options()
        .write(true)
        .open(root.join("big"))
        .unwrap()
        .set_times(std::fs::FileTimes::new().set_modified(t).set_accessed(t))
        .unwrap();
}

/// Relative path -> (sha256 of the content, mode, mtime), symlinks followed.
fn digest(root: &Path) -> Vec<(String, String, u32, i64)> {
    fn walk(root: &Path, p: &Path, out: &mut Vec<(String, String, u32, i64)>) {
        for e in std::fs::read_dir(p).unwrap() {
            let path = e.unwrap().path();
            let m = std::fs::metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().display().to_string();
            if m.is_dir() {
                out.push((rel, "dir".into(), m.mode() & 0o7777, 0));
                walk(root, &path, out);
            } else {
                let h = hex::encode(sha2::Sha256::digest(std::fs::read(&path).unwrap()));
                out.push((rel, h, m.mode() & 0o7777, m.mtime()));
            }
        }
    }
    let mut v = Vec::new();
    walk(root, root, &mut v);
    v.sort();
    v
}

#[test]
fn rscp_tree_round_trip_with_p() {
    let Some(s) = setup("scp") else { return };
    let src = s.dir.join("src");
    make_tree(&src);
    let remote = s.dir.join("remote");
    let back = s.dir.join("back");
    let mut up = s.args.clone();
    up.extend(["-r", "-p", "-q"].map(String::from));
    up.push(src.display().to_string());
    up.push(format!("127.0.0.1:{}", remote.display()));
    let (code, _, err) = run(env!("CARGO_BIN_EXE_rscp"), &up, b"");
    assert_eq!(code, 0, "{err}");
    let mut down = s.args.clone();
    down.extend(["-r", "-p"].map(String::from));
    down.push(format!("127.0.0.1:{}", remote.display()));
    down.push(back.display().to_string());
    let (code, _, err) = run(env!("CARGO_BIN_EXE_rscp"), &down, b"");
    assert_eq!(code, 0, "{err}");
    let want = digest(&src);
    assert_eq!(digest(&remote), want);
    // Directories' mtimes change as files are made in them: compare files.
    let got = digest(&back);
    assert_eq!(got, want);
    assert!(
        want.iter()
            .any(|(p, _, m, t)| p == "big" && *t == 1_000_000_000 && *m != 0)
    );
    assert!(want.iter().any(|(p, _, m, _)| p == "empty" && *m == 0o640));
}

#[test]
fn rsftp_batch_and_reget() {
    let Some(s) = setup("sftp") else { return };
    let src = s.dir.join("src");
    make_tree(&src);
    let remote = s.dir.join("remote");
    std::fs::create_dir(&remote).unwrap();
    let local = s.dir.join("local");
    std::fs::create_dir(&local).unwrap();
    let batch = s.dir.join("batch");
    std::fs::write(
        &batch,
        format!(
            "cd {r}\nput -r {src} tree\nls -l tree\nmkdir made\nrename made renamed\nrmdir renamed\n\
             -rm does-not-exist\nln -s big tree/lnk\nchmod 600 tree/empty\nlcd {l}\nget -r tree\n\
             df -h\npwd\nbye\n",
            r = remote.display(),
            src = src.display(),
            l = local.display()
        ),
    )
    .unwrap();
    let mut a = s.args.clone();
    a.extend([
        "-b".to_owned(),
        batch.display().to_string(),
        "127.0.0.1".to_owned(),
    ]);
    let (code, out, err) = run(env!("CARGO_BIN_EXE_rsftp"), &a, b"");
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("sftp> ls -l tree"), "{out}");
    let got = std::fs::read(local.join("tree/big")).unwrap();
    assert_eq!(got, std::fs::read(src.join("big")).unwrap());
    assert!(local.join("tree/sub dir/a file with spaces").exists());
    assert_eq!(
        std::fs::read_link(remote.join("tree/lnk")).unwrap(),
        Path::new("big")
    );
    assert_eq!(
        std::fs::metadata(remote.join("tree/empty")).unwrap().mode() & 0o777,
        0o600
    );

    // A failing command ends batch mode.
    std::fs::write(&batch, "rm does-not-exist\npwd\n").unwrap();
    let (code, out, _) = run(env!("CARGO_BIN_EXE_rsftp"), &a, b"");
    assert_ne!(code, 0);
    assert!(!out.contains("Remote working directory"), "{out}");

    // reget continues a cut download.
    let whole = std::fs::read(src.join("big")).unwrap();
    let cut = local.join("cut");
    std::fs::write(&cut, &whole[..1_000_000]).unwrap();
    std::fs::write(
        &batch,
        format!("reget {}/tree/big {}\n", remote.display(), cut.display()),
    )
    .unwrap();
    let (code, out, err) = run(env!("CARGO_BIN_EXE_rsftp"), &a, b"");
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(std::fs::read(&cut).unwrap(), whole);
    // reput continues a cut upload.
    let rcut = remote.join("rcut");
    std::fs::write(&rcut, &whole[..777_777]).unwrap();
    std::fs::write(
        &batch,
        format!("reput {} {}\n", src.join("big").display(), rcut.display()),
    )
    .unwrap();
    let (code, out, err) = run(env!("CARGO_BIN_EXE_rsftp"), &a, b"");
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(std::fs::read(&rcut).unwrap(), whole);
}

#[test]
fn rscp_limit_paces() {
    let Some(s) = setup("limit") else { return };
    let f = s.dir.join("f");
    std::fs::write(&f, vec![7u8; 1 << 20]).unwrap();
    let mut a = s.args.clone();
    // 4000 Kbit/s is 500 kB/s: 1 MiB takes about two seconds.
    a.extend(["-l", "4000"].map(String::from));
    a.push(f.display().to_string());
    a.push(format!("127.0.0.1:{}", s.dir.join("g").display()));
    let start = std::time::Instant::now();
    let (code, _, err) = run(env!("CARGO_BIN_EXE_rscp"), &a, b"");
    assert_eq!(code, 0, "{err}");
    assert!(
        start.elapsed() >= std::time::Duration::from_millis(1500),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(std::fs::read(s.dir.join("g")).unwrap().len(), 1 << 20);
}

/// Runs `rscp` with the setup's options and `extra`.
fn rscp(s: &Setup, extra: &[String]) -> (i32, String, String) {
    let mut a = s.args.clone();
    a.extend_from_slice(extra);
    run(env!("CARGO_BIN_EXE_rscp"), &a, b"")
}

#[test]
fn rscp_between_two_remotes_goes_through_here() {
    let Some(s) = setup("three") else { return };
    let src = s.dir.join("src");
    make_tree(&src);
    let far = s.dir.join("far");
    // Default (as scp since OpenSSH 8.7) and -3: both through this host.
    for (flags, dst) in [(&["-r", "-p"][..], "a"), (&["-3", "-r", "-p"][..], "b")] {
        let mut a = s.args.clone();
        a.extend(flags.iter().map(|f| f.to_string()));
        a.push(format!("127.0.0.1:{}", src.display()));
        a.push(format!("127.0.0.1:{}", far.join(dst).display()));
        if dst == "a" {
            std::fs::create_dir(&far).unwrap();
        }
        let (code, _, err) = run(env!("CARGO_BIN_EXE_rscp"), &a, b"");
        assert_eq!(code, 0, "{err}");
        assert_eq!(digest(&far.join(dst)), digest(&src), "{flags:?}");
    }
    // A missing source fails and makes nothing.
    let (code, _, err) = rscp(
        &s,
        &[
            format!("127.0.0.1:{}", s.dir.join("missing").display()),
            format!("127.0.0.1:{}", far.join("c").display()),
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("No such file"), "{err}");
    assert!(!far.join("c").exists());
    // -R (run scp on the first host) is refused, not ignored.
    let (code, _, err) = rscp(
        &s,
        &[
            "-R".to_string(),
            format!("127.0.0.1:{}", src.join("big").display()),
            format!("127.0.0.1:{}", far.join("d").display()),
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("-R is not supported"), "{err}");
}

/// Files for the wildcard tests: three that `*.txt` matches (one with a
/// space), a hidden one it must not, and others.
fn glob_dir(dir: &Path) {
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    for f in [
        "a.txt",
        "b.txt",
        "c d.txt",
        ".hidden.txt",
        "e.bin",
        "*.txt",
        "sub/f.txt",
    ] {
        std::fs::write(dir.join(f), f.as_bytes()).unwrap();
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn rscp_expands_remote_wildcards() {
    let Some(s) = setup("rglob") else { return };
    let remote = s.dir.join("remote");
    glob_dir(&remote);
    let local = s.dir.join("local");
    std::fs::create_dir(&local).unwrap();
    let (code, _, err) = rscp(
        &s,
        &[
            format!("127.0.0.1:{}/*.txt", remote.display()),
            local.display().to_string(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(names(&local), ["*.txt", "a.txt", "b.txt", "c d.txt"]);
    assert_eq!(std::fs::read(local.join("c d.txt")).unwrap(), b"c d.txt");
    // A backslash quotes: only the file named `*.txt`.
    let only = s.dir.join("only");
    std::fs::create_dir(&only).unwrap();
    let (code, _, err) = rscp(
        &s,
        &[
            format!("127.0.0.1:{}/\\*.txt", remote.display()),
            only.display().to_string(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(names(&only), ["*.txt"]);
    // Wildcards in a middle component.
    let mid = s.dir.join("mid");
    std::fs::create_dir(&mid).unwrap();
    let (code, _, err) = rscp(
        &s,
        &[
            format!("127.0.0.1:{}/s*/*.txt", remote.display()),
            mid.display().to_string(),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(names(&mid), ["f.txt"]);
    // Several matches into a file that is not a directory: refused.
    let (code, _, err) = rscp(
        &s,
        &[
            format!("127.0.0.1:{}/*.txt", remote.display()),
            s.dir.join("one-file").display().to_string(),
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("Not a directory"), "{err}");
    // No match: an error naming the pattern.
    let (code, _, err) = rscp(
        &s,
        &[
            format!("127.0.0.1:{}/*.none", remote.display()),
            local.display().to_string(),
        ],
    );
    assert_ne!(code, 0);
    assert!(err.contains("*.none: No such file or directory"), "{err}");
}

#[test]
fn rsftp_expands_wildcards() {
    let Some(s) = setup("sglob") else { return };
    let remote = s.dir.join("remote");
    glob_dir(&remote);
    let local = s.dir.join("local");
    glob_dir(&local);
    let got = s.dir.join("got");
    std::fs::create_dir(&got).unwrap();
    let up = remote.join("up");
    std::fs::create_dir(&up).unwrap();
    let batch = s.dir.join("batch");
    std::fs::write(
        &batch,
        format!(
            "cd {r}\nls *.txt\nget *.txt {g}\nput {l}/*.bin up\nput {l}/[ab].txt up\n\
             chmod 600 *.bin\nrm '*.txt'\nrm e.*\n",
            r = remote.display(),
            g = got.display(),
            l = local.display(),
        ),
    )
    .unwrap();
    let mut a = s.args.clone();
    a.extend([
        "-b".to_owned(),
        batch.display().to_string(),
        "127.0.0.1".to_owned(),
    ]);
    let (code, out, err) = run(env!("CARGO_BIN_EXE_rsftp"), &a, b"");
    assert_eq!(code, 0, "{out}\n{err}");
    // ls shows the matches by their names, not the hidden one.
    let listed: Vec<&str> = out
        .split("sftp> ls *.txt\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| !l.starts_with("sftp>"))
        .collect();
    assert_eq!(listed, ["*.txt", "a.txt", "b.txt", "c d.txt"], "{out}");
    assert_eq!(names(&got), ["*.txt", "a.txt", "b.txt", "c d.txt"]);
    assert_eq!(names(&up), ["a.txt", "b.txt", "e.bin"]);
    // The quoted pattern removed only the file named `*.txt`; `e.*`
    // removed e.bin (after its chmod).
    assert_eq!(
        names(&remote),
        [".hidden.txt", "a.txt", "b.txt", "c d.txt", "sub", "up"]
    );
    assert!(out.contains("Changing mode on"), "{out}");
    // A pattern that matches nothing is an error naming it.
    std::fs::write(&batch, "get /nonexistent/*.x\n").unwrap();
    let (code, _, err) = run(env!("CARGO_BIN_EXE_rsftp"), &a, b"");
    assert_ne!(code, 0);
    assert!(
        err.contains("File \"/nonexistent/*.x\" not found."),
        "{err}"
    );
}

/// `-O` asks for the legacy SCP protocol, which rscp does not speak: an
/// error with status 1 before any connection, not a copy over SFTP.
#[test]
fn rscp_refuses_legacy_protocol() {
    let Some(s) = setup("legacy") else { return };
    let f = s.dir.join("f");
    std::fs::write(&f, b"data").unwrap();
    let to = s.dir.join("to");
    for flags in ["-O", "-pO"] {
        let (code, _, err) = rscp(
            &s,
            &[
                flags.into(),
                f.display().to_string(),
                format!("127.0.0.1:{}", to.display()),
            ],
        );
        assert_eq!(code, 1, "{err}");
        assert!(
            err.contains("rscp: -O (the legacy SCP protocol) is not supported; rscp speaks SFTP"),
            "{err}"
        );
        assert!(!to.exists());
    }
}

/// `-4`, `-C` and `-B` become options rssh takes (BatchMode: the key
/// authenticates, no prompt is needed).
#[test]
fn rscp_passes_ssh_flags() {
    let Some(s) = setup("flags") else { return };
    let f = s.dir.join("f");
    std::fs::write(&f, b"data").unwrap();
    let to = s.dir.join("to");
    let (code, _, err) = rscp(
        &s,
        &[
            "-4CB".into(),
            f.display().to_string(),
            format!("127.0.0.1:{}", to.display()),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(&to).unwrap(), b"data");
}
