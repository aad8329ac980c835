//! The operating-system layer against the real system: users, processes
//! on pipes and PTYs, privilege drop (when run as root, as CI is), exit
//! statuses, terminal modes, prompts, signals (PAM: `pam.rs`).

#![cfg(unix)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::fs::OpenOptions;
use std::future::Future;
use std::io;
use std::time::Duration;

use futures::StreamExt;
use futures::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use ssh_os::process::{self, ExitStatus, SpawnOptions};
use ssh_os::pty::{Pty, PtyReader, WinSize};
use ssh_os::signal::{self, Signal};
use ssh_os::terminal::{self, RawMode, Tty};
use ssh_os::user::{self, User};
use ssh_wire::messages::channel_request::opcode;

const LIMIT: Duration = Duration::from_secs(30);

fn run<T>(f: impl Future<Output = T>) -> T {
    async_std::task::block_on(async_std::future::timeout(LIMIT, f)).expect("timed out")
}

fn sh(script: &str) -> SpawnOptions {
    let mut o = SpawnOptions::new("/bin/sh");
    o.args = vec!["-c".into(), script.into()];
    o.env = vec![("PATH".into(), "/usr/bin:/bin".into())];
    o
}

async fn read_all(mut r: impl AsyncRead + Unpin) -> Vec<u8> {
    let mut out = Vec::new();
    r.read_to_end(&mut out).await.unwrap();
    out
}

/// Runs `opts` on pipes with no input; (stdout, stderr, status).
async fn output(opts: SpawnOptions) -> (String, String, ExitStatus) {
    let mut child = process::spawn(opts).unwrap();
    drop(child.stdin.take());
    let out = read_all(child.stdout.take().unwrap());
    let err = read_all(child.stderr.take().unwrap());
    let (out, err) = futures::join!(out, err);
    let status = child.wait().await.unwrap();
    (
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
        status,
    )
}

/// Runs `opts` on a fresh PTY of `size`/`modes`; everything the terminal
/// showed until the child and its slave were gone, and the status.
async fn on_pty(
    mut opts: SpawnOptions,
    size: WinSize,
    modes: &[(u8, u32)],
) -> (String, ExitStatus) {
    let mut pty = Pty::open(size, modes).unwrap();
    let name = pty.slave_name().to_owned();
    opts.pty = Some(pty.take_slave().unwrap());
    let mut child = process::spawn(opts).unwrap();
    assert!(child.stdin.is_none() && child.stdout.is_none() && child.stderr.is_none());
    let (r, _w) = pty.into_master();
    // Ends only if the parent kept no slave descriptor.
    let shown = read_all(r).await;
    let status = child.wait().await.unwrap();
    let shown = String::from_utf8(shown).unwrap();
    assert!(name.starts_with("/dev/pts/"), "{name:?}");
    (shown, status)
}

const SIZE: WinSize = WinSize {
    cols: 101,
    rows: 37,
    width_px: 640,
    height_px: 480,
};

#[test]
fn users_from_the_database() {
    let root = User::by_name("root").unwrap().unwrap();
    assert_eq!((root.uid, root.gid), (0, 0));
    assert_eq!(root.home, std::path::Path::new("/root"));
    assert_eq!(User::by_uid(0).unwrap().unwrap(), root);
    assert!(root.groups().unwrap().contains(&"root".to_owned()));

    let nobody = User::by_name("nobody").unwrap().unwrap();
    assert_eq!(nobody.uid, 65534);
    let groups = nobody.groups().unwrap();
    assert_eq!(groups[0], "nogroup", "primary group first: {groups:?}");

    assert_eq!(User::by_name("no-such-user-rssh-test").unwrap(), None);
    assert_eq!(User::by_name("bad\0name").unwrap(), None);
    assert_eq!(user::group_id("root").unwrap(), Some(0));

    // `current` and `is_root` agree with id(1).
    let (out, _, status) = run(output(sh("id -u; id -un")));
    assert_eq!(status, ExitStatus::Code(0));
    let me = User::current().unwrap();
    assert_eq!(out, format!("{}\n{}\n", me.uid, me.name));
    assert_eq!(user::is_root(), me.uid == 0);
}

#[test]
fn exit_codes_and_signals() {
    let (_, _, status) = run(output(sh("exit 3")));
    assert_eq!(status, ExitStatus::Code(3));
    let (_, _, status) = run(output(sh("exit 0")));
    assert_eq!(status, ExitStatus::Code(0));
    let (_, _, status) = run(output(sh("kill -TERM $$")));
    assert_eq!(
        status,
        ExitStatus::Signal {
            name: "TERM",
            core_dumped: false
        }
    );
    // A signal RFC 4254 does not name is reported as OpenSSH does.
    let (_, _, status) = run(output(sh("kill -WINCH $$; kill -URG $$; kill -BUS $$")));
    assert!(matches!(
        status,
        ExitStatus::Signal {
            name: "SIG@openssh.com",
            ..
        }
    ));
    // A missing program is an error of spawn, not a status.
    let err = process::spawn(SpawnOptions::new("/nonexistent/program")).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
}

#[test]
fn signal_a_running_child() {
    run(async {
        let mut child = process::spawn(sh("exec sleep 30")).unwrap();
        // The wait future borrows nothing: signal while it is pending.
        let wait = child.wait();
        child.signal(Signal::USR1).unwrap();
        assert_eq!(
            wait.await.unwrap(),
            ExitStatus::Signal {
                name: "USR1",
                core_dumped: false
            }
        );
        // Reaped: the signal has nobody to go to (and never a stranger).
        assert!(child.signal(Signal::TERM).is_err());
    });
}

#[test]
fn pipes_carry_a_mebibyte_through_cat() {
    run(async {
        let mut child = process::spawn(sh("cat")).unwrap();
        let data: Vec<u8> = (0..1024 * 1024u32)
            .map(|i| (i * 7 + i / 251) as u8)
            .collect();
        let mut stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let write = async {
            stdin.write_all(&data).await.unwrap();
            stdin.close().await.unwrap();
            drop(stdin);
        };
        let (_, out, err) = futures::join!(write, read_all(stdout), read_all(stderr));
        assert_eq!(out.len(), data.len());
        assert!(out == data, "the bytes differ");
        assert!(err.is_empty());
        assert_eq!(child.wait().await.unwrap(), ExitStatus::Code(0));
    });
}

#[test]
fn environment_arguments_and_directory() {
    // Exactly the environment given.
    let mut o = SpawnOptions::new("/usr/bin/env");
    o.env = vec![
        ("FOO".into(), "bar baz".into()),
        ("LANG".into(), "C".into()),
    ];
    let (out, _, _) = run(output(o));
    assert_eq!(out, "FOO=bar baz\nLANG=C\n");

    // argv[0] as given, as for a login shell's "-bash".
    let mut o = SpawnOptions::new("/bin/cat");
    o.arg0 = Some("-login".into());
    o.args = vec!["/proc/self/cmdline".into()];
    let (out, _, _) = run(output(o));
    assert_eq!(out, "-login\0/proc/self/cmdline\0");

    // The working directory, or "/" when it cannot be entered.
    let mut o = sh("pwd");
    o.cwd = "/usr/bin".into();
    assert_eq!(run(output(o)).0, "/usr/bin\n");
    let mut o = sh("pwd");
    o.cwd = "/nonexistent/home".into();
    assert_eq!(run(output(o)).0, "/\n");

    // Only stdin, stdout and stderr reach the program.
    let (out, _, _) = run(output(sh("ls /proc/self/fd")));
    let fds: Vec<&str> = out.lines().collect();
    // ls itself has the directory open as one more descriptor.
    assert!(fds.len() <= 4 && fds[..3] == ["0", "1", "2"], "{fds:?}");
}

#[test]
fn session_leader_without_a_terminal() {
    // Fields 6 and 7 of /proc/PID/stat: session id and tty number.
    let (out, _, _) = run(output(sh(
        "read pid comm state ppid pgrp sid tty rest < /proc/$$/stat; echo $pid $sid $tty",
    )));
    let f: Vec<&str> = out.split_whitespace().collect();
    assert_eq!(f[0], f[1], "a new session led by the child: {out}");
    assert_eq!(f[2], "0", "no controlling terminal: {out}");
}

#[test]
fn runs_as_another_user() {
    let nobody = User::by_name("nobody").unwrap().unwrap();
    let mut o = sh("id -u; id -g; id -G; pwd; echo $HOME");
    o.env.push(("HOME".into(), nobody.home.clone().into()));
    o.cwd = nobody.home.clone(); // /nonexistent: falls back to "/"
    o.user = Some(nobody.clone());
    if !user::is_root() {
        // Without root: running as somebody else is refused, running as
        // ourselves is fine.
        o.user = User::by_name("root").unwrap();
        let err = process::spawn(o).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::PermissionDenied);
        let me = User::current().unwrap();
        let mut o = sh("id -u");
        o.user = Some(me.clone());
        assert_eq!(run(output(o)).0, format!("{}\n", me.uid));
        return;
    }
    let (out, err, status) = run(output(o));
    assert_eq!(status, ExitStatus::Code(0), "{err}");
    let ids = nobody
        .group_ids()
        .unwrap()
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(
        out,
        format!(
            "{}\n{}\n{ids}\n/\n{}\n",
            nobody.uid,
            nobody.gid,
            nobody.home.display()
        ),
        "root's groups must be gone, nobody's in place"
    );

    // A user with supplementary groups gets all of them (initgroups).
    let with_groups = ["daemon", "bin", "sys", "man", "mail", "www-data", "backup"]
        .iter()
        .filter_map(|n| User::by_name(n).unwrap())
        .find(|u| u.group_ids().unwrap().len() > 1);
    if let Some(u) = with_groups {
        let mut o = sh("id -G");
        o.user = Some(u.clone());
        let (out, _, _) = run(output(o));
        let mut got: Vec<u32> = out.split_whitespace().map(|s| s.parse().unwrap()).collect();
        let mut want = u.group_ids().unwrap();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want, "{}", u.name);
    }
}

#[test]
fn pty_child_has_a_controlling_terminal_of_the_given_size() {
    let script = "tty; stty size; read pid comm state ppid pgrp sid ttynr rest < /proc/$$/stat; \
                  echo \"sid=$sid pid=$pid tty=$ttynr\"; stat -L -c '%t %T' /proc/self/fd/0";
    let (shown, status) = run(on_pty(sh(script), SIZE, &[]));
    assert_eq!(status, ExitStatus::Code(0), "{shown}");
    let lines: Vec<&str> = shown.lines().map(|l| l.trim_end_matches('\r')).collect();
    assert!(lines[0].starts_with("/dev/pts/"), "tty(1) works: {shown:?}");
    assert_eq!(lines[1], "37 101", "{shown:?}");
    let kv: Vec<&str> = lines[2].split(' ').collect();
    assert_eq!(
        kv[0].trim_start_matches("sid="),
        kv[1].trim_start_matches("pid="),
        "session leader: {shown:?}"
    );
    assert_ne!(kv[2], "tty=0", "controlling terminal: {shown:?}");
    // tty_nr (kernel dev_t encoding) is the device of stdin, the PTY.
    let tty_nr: u32 = kv[2].trim_start_matches("tty=").parse().unwrap();
    let major = (tty_nr >> 8) & 0xfff;
    let minor = (tty_nr & 0xff) | ((tty_nr >> 12) & 0xfff00);
    assert_eq!(
        lines[3],
        format!("{major:x} {minor:x}"),
        "the controlling terminal is the PTY: {shown:?}"
    );
    assert!((136..=143).contains(&major), "a Unix98 PTY: {shown:?}");
}

#[test]
fn pty_resize_reaches_the_child() {
    run(async {
        let mut pty = Pty::open(SIZE, &[]).unwrap();
        let mut o = sh("stty size; read line; stty size");
        o.pty = Some(pty.take_slave().unwrap());
        let mut child = process::spawn(o).unwrap();
        let control = pty.control();
        let (mut r, mut w) = pty.into_master();
        let first = read_until(&mut r, "\n").await;
        assert_eq!(first.trim(), "37 101");
        let new = WinSize {
            cols: 132,
            rows: 50,
            width_px: 0,
            height_px: 0,
        };
        control.resize(new).unwrap();
        assert_eq!(control.size().unwrap(), new);
        w.write_all(b"go\n").await.unwrap();
        let rest = String::from_utf8(read_all(r).await).unwrap();
        assert!(rest.contains("50 132"), "{rest:?}");
        assert_eq!(child.wait().await.unwrap(), ExitStatus::Code(0));
    });
}

/// Reads from `r` until the text read so far contains `needle`.
async fn read_until(r: &mut PtyReader, needle: &str) -> String {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&seen).contains(needle) {
        let n = r.read(&mut buf).await.unwrap();
        assert!(
            n > 0,
            "ended before {needle:?}: {:?}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(seen).unwrap()
}

/// Modes a client could send, all different from the kernel's defaults.
fn sample_modes() -> Vec<(u8, u32)> {
    vec![
        (opcode::TTY_OP_ISPEED, 9600),
        (opcode::TTY_OP_OSPEED, 9600),
        (opcode::VINTR, 0x18),  // ^X
        (opcode::VERASE, 0x08), // ^H
        (opcode::VEOL, 255),    // disabled
        (opcode::VDSUSP, 0x19), // Linux has none: ignored
        (opcode::ECHO, 0),
        (opcode::ICRNL, 0),
        (opcode::IUTF8, 1),
        (opcode::IXANY, 1),
        (opcode::ONLCR, 0),
        (opcode::TOSTOP, 1),
        // Linux PTYs force CS8 and no parity (drivers/tty/pty.c): CS7
        // and PARENB are tested in memory by the `modes` unit tests.
        (opcode::CS7, 0),
        (opcode::CS8, 1),
        (opcode::PARODD, 1),
        (150, 7), // unassigned: ignored
    ]
}

#[test]
fn terminal_modes_round_trip() {
    let modes = sample_modes();
    let pty = Pty::open(SIZE, &modes).unwrap();
    let encoded = pty.modes().unwrap();
    for (op, value) in &modes {
        let got = encoded.iter().find(|(o, _)| o == op).map(|(_, v)| *v);
        match *op {
            opcode::VDSUSP | 150 => assert_eq!(got, None, "opcode {op}"),
            _ => assert_eq!(got, Some(*value), "opcode {op}"),
        }
    }
    // Every opcode once, speeds first.
    assert_eq!(encoded[0], (opcode::TTY_OP_ISPEED, 9600));
    let mut ops: Vec<u8> = encoded.iter().map(|(o, _)| *o).collect();
    ops.sort_unstable();
    ops.dedup();
    assert_eq!(ops.len(), encoded.len());
    // Applying the encoding to a fresh PTY gives the same encoding.
    let again = Pty::open(SIZE, &encoded).unwrap();
    assert_eq!(again.modes().unwrap(), encoded);
    // The defaults (no modes) differ: the test can tell.
    assert_ne!(Pty::open(SIZE, &[]).unwrap().modes().unwrap(), encoded);
}

#[test]
fn terminal_modes_seen_by_stty() {
    let (shown, _) = run(on_pty(sh("stty -a"), SIZE, &sample_modes()));
    for want in [
        "speed 9600 baud",
        "intr = ^X",
        "erase = ^H",
        "eol = <undef>",
        "-echo ",
        "-icrnl",
        "iutf8",
        "cs8",
        " parodd",
        "-onlcr",
        " tostop",
    ] {
        assert!(shown.contains(want), "{want:?} not in {shown}");
    }
}

#[test]
fn raw_mode_and_restore() {
    let mut pty = Pty::open(SIZE, &[]).unwrap();
    let slave = pty.take_slave().unwrap();
    let before = terminal::modes_of(&slave).unwrap();
    let flag = |modes: &[(u8, u32)], op: u8| modes.iter().find(|(o, _)| *o == op).unwrap().1;
    assert_eq!(flag(&before, opcode::ICANON), 1);
    {
        let _raw = RawMode::enter_on(&slave).unwrap();
        let raw = terminal::modes_of(&slave).unwrap();
        for op in [
            opcode::ICANON,
            opcode::ECHO,
            opcode::ISIG,
            opcode::OPOST,
            opcode::ICRNL,
            opcode::IXON,
        ] {
            assert_eq!(flag(&raw, op), 0, "opcode {op} in raw mode");
        }
    }
    assert_eq!(
        terminal::modes_of(&slave).unwrap(),
        before,
        "restored on drop"
    );
    let raw = RawMode::enter_on(&slave).unwrap();
    assert_ne!(terminal::modes_of(&slave).unwrap(), before);
    raw.restore().unwrap();
    assert_eq!(terminal::modes_of(&slave).unwrap(), before, "restored");
    assert_eq!(terminal::size_of(&slave).unwrap(), SIZE);
    assert!(terminal::is_tty(&slave));
    assert!(!terminal::is_tty(std::fs::File::open("/dev/null").unwrap()));
}

/// Runs `ask` on a PTY slave in a thread, types `keys` once the prompt is
/// shown; the answer, what the terminal showed, and whether the modes were
/// restored.
fn prompt_on_pty(
    ask: fn(&mut Tty) -> io::Result<String>,
    keys: &'static [u8],
) -> (io::Result<String>, String, bool) {
    let mut pty = Pty::open(SIZE, &[]).unwrap();
    let slave = pty.take_slave().unwrap();
    let before = terminal::modes_of(&slave).unwrap();
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(pty.slave_name())
        .unwrap();
    let asker = std::thread::spawn(move || {
        let mut tty = Tty::from_file(file);
        ask(&mut tty)
    });
    let (mut r, mut w) = pty.into_master();
    run(async {
        let mut shown = read_until(&mut r, "Secret: ").await;
        w.write_all(keys).await.unwrap();
        let answer = asker.join().unwrap();
        let restored = terminal::modes_of(&slave).unwrap() == before;
        drop(slave);
        shown.push_str(&String::from_utf8(read_all(r).await).unwrap());
        (answer, shown, restored)
    })
}

#[test]
fn read_secret_without_echo() {
    let (answer, shown, restored) = prompt_on_pty(|t| t.read_secret("Secret: "), b"hunX\x7fter2\r");
    assert_eq!(answer.unwrap(), "hunter2");
    assert!(!shown.contains("hun"), "echoed: {shown:?}");
    assert!(shown.ends_with("Secret: \r\n"), "newline after: {shown:?}");
    assert!(restored);

    // ^U kills the line, ^W a word; multi-byte characters erase whole.
    let (answer, _, _) = prompt_on_pty(
        |t| t.read_secret("Secret: "),
        "x y\x15a bc\x17é€\x7fd\n".as_bytes(),
    );
    assert_eq!(answer.unwrap(), "a éd");

    // ^C: an error, and the modes are back all the same.
    let (answer, shown, restored) = prompt_on_pty(|t| t.read_secret("Secret: "), b"abc\x03");
    assert_eq!(answer.unwrap_err().kind(), io::ErrorKind::Interrupted);
    assert!(restored);
    assert!(shown.ends_with("\r\n"), "{shown:?}");

    // ^D on an empty line: end of file.
    let (answer, _, restored) = prompt_on_pty(|t| t.read_secret("Secret: "), b"\x04");
    assert_eq!(answer.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    assert!(restored);
}

#[test]
fn read_line_with_echo() {
    let (answer, shown, restored) = prompt_on_pty(|t| t.read_line("Secret: "), b"yes\n");
    assert_eq!(answer.unwrap(), "yes");
    assert!(shown.contains("Secret: yes"), "echoed: {shown:?}");
    assert!(restored);
}

#[test]
fn signal_names() {
    for s in Signal::ALL {
        assert_eq!(Signal::from_ssh_name(s.ssh_name()), Some(s));
        assert_eq!(Signal::from_raw(s.as_raw()), Some(s));
    }
    assert_eq!(Signal::TERM.ssh_name(), "TERM");
    assert_eq!(Signal::TERM.as_raw(), 15);
    assert_eq!(Signal::KILL.as_raw(), 9);
    assert_eq!(Signal::from_ssh_name("SIGTERM"), None);
    assert_eq!(Signal::from_ssh_name("term"), None);
    assert_eq!(signal::ssh_name_of_raw(7), "SIG@openssh.com"); // SIGBUS on Linux x86
    assert_eq!(signal::ssh_name_of_raw(2), "INT");
}

#[test]
fn signal_streams() {
    run(async {
        let mut winch = signal::winch_stream().unwrap();
        let mut term = signal::termination_stream().unwrap();
        let me = nix::unistd::getpid();
        nix::sys::signal::kill(me, nix::sys::signal::Signal::SIGWINCH).unwrap();
        winch.next().await.unwrap();
        nix::sys::signal::kill(me, nix::sys::signal::Signal::SIGTERM).unwrap();
        assert_eq!(term.next().await, Some(Signal::TERM));
        nix::sys::signal::kill(me, nix::sys::signal::Signal::SIGINT).unwrap();
        assert_eq!(term.next().await, Some(Signal::INT));
    });
}
