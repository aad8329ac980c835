//! `rssh` forwarding against the in-process server: `-N -L` moving data,
//! `-R` with port 0 printing the allocated port, refusals with and
//! without `ExitOnForwardFailure`, `-f` returning once authenticated
//! while its forward keeps working.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::*;

/// `data` through `port` and back.
fn echo_through(port: u16, data: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut w = s.try_clone().unwrap();
    let data = data.to_vec();
    let writer = std::thread::spawn(move || {
        w.write_all(&data).unwrap();
        w.shutdown(std::net::Shutdown::Write).unwrap();
    });
    let mut back = Vec::new();
    s.read_to_end(&mut back).unwrap();
    writer.join().unwrap();
    back
}

/// Waits until `f` is true (or panics after 30 s).
fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// rssh running in the background of the test, stderr to a file.
struct Running {
    child: Child,
    stderr: PathBuf,
}

impl Running {
    fn start(args: &[String], env: &[(&str, &Path)], dir: &Path) -> Running {
        let stderr = dir.join(format!("stderr-{}", unused_port()));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rssh"));
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .env_remove("SSH_AUTH_SOCK")
            .env_remove("DISPLAY");
        for (k, v) in env {
            cmd.env(k, v);
        }
        Running {
            child: cmd.spawn().unwrap(),
            stderr,
        }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// SIGTERM, then the exit status.
    fn stop(mut self) -> i32 {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        self.wait()
    }

    fn wait(&mut self) -> i32 {
        let start = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code().unwrap_or(-1);
            }
            if start.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                panic!("rssh did not end: {}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

fn setup(name: &str) -> (TestServer, PathBuf, PathBuf) {
    let srv = server(&["password"], Vec::new());
    let dir = scratch(name);
    std::fs::write(dir.join("known_hosts"), known_line(srv.addr.port())).unwrap();
    let ask = askpass(&dir, PASSWORD);
    (srv, dir, ask)
}

#[test]
fn local_forward_with_no_command_moves_data() {
    let (srv, dir, ask) = setup("fwd-local");
    let echo = echo_server();
    let lport = unused_port();
    let spec = format!("{lport}:127.0.0.1:{echo}");
    let run = Running::start(
        &with(
            base_args(&srv, &dir, "yes"),
            &["-N", "-L", &spec, "127.0.0.1"],
        ),
        &password_env(&ask),
        &dir,
    );
    wait_for("the local listener", || {
        TcpStream::connect(("127.0.0.1", lport)).is_ok()
    });
    let data: Vec<u8> = (0..500_000u32).map(|i| (i * 31 % 256) as u8).collect();
    assert!(echo_through(lport, &data) == data, "echo differs");
    // Several at once on the one connection.
    let threads: Vec<_> = (0..8u8)
        .map(|i| {
            std::thread::spawn(move || {
                let d = vec![i; 10_000 + usize::from(i)];
                assert_eq!(echo_through(lport, &d), d);
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    // The server saw direct-tcpip to the target from the client's side.
    let seen = srv.seen.lock().unwrap().direct.clone();
    assert!(
        seen.iter()
            .all(|(h, p, o, _)| h == "127.0.0.1" && *p == u32::from(echo) && o == "127.0.0.1"),
        "{seen:?}"
    );
    // The probe that saw the listener up, one, then eight at once.
    assert_eq!(seen.len(), 10);
    // -N: no session (no-more-sessions is taken by the connection
    // layer, not seen here).
    assert!(srv.seen.lock().unwrap().requests.is_empty());
    assert_eq!(run.stop(), 255);
}

#[test]
fn remote_forward_port_zero_prints_the_allocated_port() {
    let (srv, dir, ask) = setup("fwd-remote");
    let echo = echo_server();
    let spec = format!("0:127.0.0.1:{echo}");
    let run = Running::start(
        &with(
            base_args(&srv, &dir, "yes"),
            &["-N", "-R", &spec, "127.0.0.1"],
        ),
        &password_env(&ask),
        &dir,
    );
    let prefix = "Allocated port ";
    wait_for("the allocated port", || run.stderr().contains(prefix));
    let text = run.stderr();
    let line = text.lines().find(|l| l.starts_with(prefix)).unwrap();
    let port: u16 = line[prefix.len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        line,
        format!("Allocated port {port} for remote forward to 127.0.0.1:{echo}")
    );
    assert!(
        srv.seen
            .lock()
            .unwrap()
            .globals
            .contains(&("tcpip-forward".to_owned(), u32::from(port)))
    );
    // The server's listener leads to our echo server.
    let data = b"remote forwarded".repeat(1000);
    assert_eq!(echo_through(port, &data), data);
    assert_eq!(run.stop(), 255);
}

#[test]
fn forward_failures_warn_or_end_with_exit_on_forward_failure() {
    let (srv, dir, ask) = setup("fwd-fail");
    // A port the server cannot bind: the request is refused.
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = held.local_addr().unwrap().port();
    let rspec = format!("{busy}:127.0.0.1:1");
    let r = rssh(
        &with(
            base_args(&srv, &dir, "yes"),
            &["-R", &rspec, "127.0.0.1", "exit", "5"],
        ),
        &password_env(&ask),
        b"",
    );
    assert_eq!(r.code, 5, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "Warning: remote port forwarding failed for listen port {busy}"
        )),
        "{}",
        r.stderr
    );
    let r = rssh(
        &with(
            base_args(&srv, &dir, "yes"),
            &[
                "-o",
                "ExitOnForwardFailure=yes",
                "-R",
                &rspec,
                "127.0.0.1",
                "exit",
                "5",
            ],
        ),
        &password_env(&ask),
        b"",
    );
    assert_eq!(r.code, 255, "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "Error: remote port forwarding failed for listen port {busy}"
        )),
        "{}",
        r.stderr
    );
    // A local port in use: the session goes on, or ends it with
    // ExitOnForwardFailure.
    let lspec = format!("127.0.0.1:{busy}:127.0.0.1:1");
    let r = rssh(
        &with(
            base_args(&srv, &dir, "yes"),
            &["-L", &lspec, "127.0.0.1", "exit", "6"],
        ),
        &password_env(&ask),
        b"",
    );
    assert_eq!(r.code, 6, "{}", r.stderr);
    assert!(
        r.stderr
            .contains(&format!("bind [127.0.0.1]:{busy}: Address already in use")),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("Could not request local forwarding."),
        "{}",
        r.stderr
    );
    let r = rssh(
        &with(
            base_args(&srv, &dir, "yes"),
            &[
                "-o",
                "ExitOnForwardFailure=yes",
                "-L",
                &lspec,
                "127.0.0.1",
                "exit",
                "6",
            ],
        ),
        &password_env(&ask),
        b"",
    );
    assert_eq!(r.code, 255, "{}", r.stderr);
    assert!(
        r.stderr.contains("Could not request local forwarding."),
        "{}",
        r.stderr
    );
    drop(held);
    // ClearAllForwardings drops them all: nothing to fail.
    let r = rssh(
        &with(
            base_args(&srv, &dir, "yes"),
            &[
                "-o",
                "ClearAllForwardings=yes",
                "-o",
                "ExitOnForwardFailure=yes",
                "-L",
                "1:127.0.0.1:1",
                "127.0.0.1",
                "exit",
                "7",
            ],
        ),
        &password_env(&ask),
        b"",
    );
    assert_eq!(r.code, 7, "{}", r.stderr);
}

#[test]
fn background_after_authentication_keeps_the_forward() {
    let (srv, dir, ask) = setup("fwd-bg");
    let echo = echo_server();
    let lport = unused_port();
    let spec = format!("{lport}:127.0.0.1:{echo}");
    let start = Instant::now();
    let mut run = Running::start(
        &with(
            base_args(&srv, &dir, "yes"),
            &["-f", "-N", "-L", &spec, "127.0.0.1"],
        ),
        &password_env(&ask),
        &dir,
    );
    // The foreground process returns 0 once the copy is authenticated.
    assert_eq!(run.wait(), 0, "{}", run.stderr());
    assert!(start.elapsed() < Duration::from_secs(20));
    assert_eq!(prompts(&dir), vec!["alice@127.0.0.1's password: "]);
    wait_for("the local listener", || {
        TcpStream::connect(("127.0.0.1", lport)).is_ok()
    });
    let data = b"in the background".repeat(3000);
    assert_eq!(echo_through(lport, &data), data);
    // The server ends the connection: the background copy goes, and its
    // listener with it.
    let conns = srv.seen.lock().unwrap().conns.clone();
    for c in conns {
        c.disconnect();
    }
    wait_for("the background copy to end", || {
        TcpStream::connect(("127.0.0.1", lport)).is_err()
    });
    // A failure before authentication is the foreground's exit status.
    let r = rssh(
        &with(
            base_args(&srv, &dir, "yes"),
            &["-f", "-p", "1", "127.0.0.1", "true"],
        ),
        &[],
        b"",
    );
    assert_eq!(r.code, 255, "{}", r.stderr);
    assert!(r.stderr.contains("Connection refused"), "{}", r.stderr);
}

#[test]
fn background_with_a_command_returns_before_it_runs() {
    let (srv, dir, ask) = setup("bg-cmd");
    let mut run = Running::start(
        &with(
            base_args(&srv, &dir, "yes"),
            &["-f", "127.0.0.1", "stderr", "from the background"],
        ),
        &password_env(&ask),
        &dir,
    );
    assert_eq!(run.wait(), 0, "{}", run.stderr());
    wait_for("the command's output", || {
        run.stderr().contains("from the background")
    });
    // stdin was /dev/null (-f implies -n): `cat` ends at once.
    let r = rssh(
        &with(base_args(&srv, &dir, "yes"), &["-f", "127.0.0.1", "cat"]),
        &password_env(&ask),
        b"not read",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.is_empty());
}

#[test]
fn agent_and_x11_requests_precede_the_command() {
    let (srv, dir, ask) = setup("x11-agent");
    // An xauth entry for a display nobody serves is enough for x11-req.
    let xauthority = dir.join("Xauthority");
    let st = Command::new("xauth")
        .env("XAUTHORITY", &xauthority)
        .args(["add", ":73", "MIT-MAGIC-COOKIE-1"])
        .arg("00112233445566778899aabbccddeeff")
        .status()
        .unwrap();
    assert!(st.success());
    let agent = dir.join("agent.sock");
    let mut env = password_env(&ask);
    env.push(("DISPLAY", Path::new(":73")));
    env.push(("XAUTHORITY", &xauthority));
    env.push(("SSH_AUTH_SOCK", &agent));
    let r = rssh(
        &with(
            base_args(&srv, &dir, "yes"),
            &["-Y", "-A", "127.0.0.1", "exit", "2"],
        ),
        &env,
        b"",
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    // The test server refuses x11-req: the session goes on.
    assert!(
        r.stderr
            .contains("X11 forwarding request failed on channel 0"),
        "{}",
        r.stderr
    );
    // Our server advertises `agent-forward`: RFC 9987's `agent-req`.
    assert_eq!(
        srv.seen.lock().unwrap().requests,
        vec!["x11-req", "agent-req", "exec"]
    );
    // -X (untrusted): `xauth generate` fails without an X server, so ssh's
    // warning and no x11-req (no fall back to the display's own cookie).
    srv.seen.lock().unwrap().requests.clear();
    let r = rssh(
        &with(base_args(&srv, &dir, "yes"), &["-X", "127.0.0.1", "true"]),
        &env,
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            "Warning: untrusted X11 forwarding setup failed: xauth key data not generated"
        ),
        "{}",
        r.stderr
    );
    assert_eq!(srv.seen.lock().unwrap().requests, vec!["exec"]);
    // -x and -a win over the configuration; without DISPLAY no x11-req.
    srv.seen.lock().unwrap().requests.clear();
    let r = rssh(
        &with(
            base_args(&srv, &dir, "yes"),
            &[
                "-x",
                "-a",
                "-o",
                "ForwardX11=yes",
                "-o",
                "ForwardAgent=yes",
                "127.0.0.1",
                "true",
            ],
        ),
        &env,
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(srv.seen.lock().unwrap().requests, vec!["exec"]);
    srv.seen.lock().unwrap().requests.clear();
    let r = rssh(
        &with(base_args(&srv, &dir, "yes"), &["-X", "127.0.0.1", "true"]),
        &password_env(&ask),
        b"",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(srv.seen.lock().unwrap().requests, vec!["exec"]);
}

#[test]
fn dynamic_forward_speaks_socks5_and_local_forward_listens_on_a_socket() {
    let (srv, dir, ask) = setup("fwd-dynamic");
    let echo = echo_server();
    let dport = unused_port();
    let sock = dir.join("fwd.sock");
    let lspec = format!("{}:127.0.0.1:{echo}", sock.display());
    let run = Running::start(
        &with(
            base_args(&srv, &dir, "yes"),
            &["-N", "-D", &dport.to_string(), "-L", &lspec, "127.0.0.1"],
        ),
        &password_env(&ask),
        &dir,
    );
    wait_for("the SOCKS listener", || {
        TcpStream::connect(("127.0.0.1", dport)).is_ok()
    });
    let mut s = TcpStream::connect(("127.0.0.1", dport)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(&[5, 1, 0]).unwrap();
    let mut hello = [0u8; 2];
    s.read_exact(&mut hello).unwrap();
    assert_eq!(hello, [5, 0]);
    let host = b"localhost";
    let mut req = vec![5, 1, 0, 3, host.len() as u8];
    req.extend_from_slice(host);
    req.extend_from_slice(&echo.to_be_bytes());
    s.write_all(&req).unwrap();
    let mut reply = [0u8; 10];
    s.read_exact(&mut reply).unwrap();
    assert_eq!(reply[..2], [5, 0], "{reply:?}");
    s.write_all(b"through socks").unwrap();
    let mut back = [0u8; 13];
    s.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"through socks");
    // The name went to the server unresolved.
    assert!(
        srv.seen
            .lock()
            .unwrap()
            .direct
            .iter()
            .any(|(h, p, _, _)| h == "localhost" && *p == u32::from(echo))
    );
    // The Unix socket listener.
    wait_for("the socket listener", || sock.exists());
    let mut u = std::os::unix::net::UnixStream::connect(&sock).unwrap();
    u.write_all(b"over a socket").unwrap();
    u.shutdown(std::net::Shutdown::Write).unwrap();
    let mut back = Vec::new();
    u.read_to_end(&mut back).unwrap();
    assert_eq!(back, b"over a socket");
    assert_eq!(run.stop(), 255);
}

#[test]
fn escape_command_line_adds_and_cancels_forwards() {
    let (srv, dir, ask) = setup("fwd-escape");
    let echo = echo_server();
    let lport = unused_port();
    let stderr = dir.join("stderr");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rssh"));
    cmd.args(with(
        base_args(&srv, &dir, "yes"),
        &["-tt", "127.0.0.1", "wait"],
    ))
    .stdin(Stdio::piped())
    .stdout(Stdio::null())
    .stderr(std::fs::File::create(&stderr).unwrap())
    .env_remove("SSH_AUTH_SOCK")
    .env_remove("DISPLAY");
    for (k, v) in password_env(&ask) {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    let err = || std::fs::read_to_string(&stderr).unwrap_or_default();
    // A bad line, then a local forward.
    write!(input, "~Cbogus\r~C-L{lport}:127.0.0.1:{echo}\r").unwrap();
    wait_for("the forward", || err().contains("Forwarding port."));
    assert!(err().contains("ssh> "), "{}", err());
    assert!(err().contains("Invalid command."), "{}", err());
    assert_eq!(echo_through(lport, b"added with ~C"), b"added with ~C");
    // A remote one with port 0.
    write!(input, "~C-R0:127.0.0.1:{echo}\r").unwrap();
    wait_for("the allocated port", || err().contains("Allocated port "));
    // Cancel the local one; an unknown one.
    write!(input, "~C-KL{lport}\r").unwrap();
    wait_for("the cancel", || err().contains("Canceled forwarding."));
    wait_for("the listener to close", || {
        TcpStream::connect(("127.0.0.1", lport)).is_err()
    });
    write!(input, "~C-KL{lport}\r").unwrap();
    wait_for("the second cancel", || {
        err().contains("Unknown port forwarding.")
    });
    write!(input, "\r~.").unwrap();
    drop(input);
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            assert_eq!(st.code(), Some(255), "{}", err());
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{}", err());
        std::thread::sleep(Duration::from_millis(25));
    }
}
