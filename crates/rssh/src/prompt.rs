//! Asking the user: on `/dev/tty`, or through `SSH_ASKPASS` as OpenSSH's
//! `read_passphrase` decides (`SSH_ASKPASS_REQUIRE` force/prefer/never,
//! `DISPLAY`, no terminal).

use std::process::{Command, Stdio};

use ssh_os::terminal;

/// The askpass program when `SSH_ASKPASS` is not set.
const DEFAULT_ASKPASS: &str = "/usr/lib/ssh/ssh-askpass";

/// How prompts are answered.
#[derive(Debug, Clone, Copy)]
pub struct Prompter {
    /// `BatchMode yes`: never ask.
    pub batch: bool,
}

fn env_set(name: &str) -> bool {
    std::env::var_os(name).is_some_and(|v| !v.is_empty())
}

/// Whether the askpass program is to be used, as OpenSSH's
/// `read_passphrase`: `force` always; `prefer` when a display is set;
/// otherwise when `/dev/tty` cannot be opened and a display is set;
/// `never` never.
fn use_askpass(tty_available: bool) -> bool {
    let mut allow = env_set("DISPLAY") || env_set("WAYLAND_DISPLAY");
    let mut want = false;
    if let Ok(req) = std::env::var("SSH_ASKPASS_REQUIRE") {
        match req.to_ascii_lowercase().as_str() {
            "force" => {
                want = true;
                allow = true;
            }
            "prefer" => want = allow,
            "never" => allow = false,
            _ => {}
        }
    }
    if !want && !tty_available {
        want = true;
    }
    want && allow
}

/// Runs the askpass program with `prompt`; its first output line.
fn askpass(prompt: &str) -> Option<String> {
    let program = std::env::var_os("SSH_ASKPASS")
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| DEFAULT_ASKPASS.into());
    let out = Command::new(&program)
        .arg(prompt)
        // An rssh run by the askpass program must not take itself for
        // our background copy.
        .env_remove(crate::background::NOTIFY_ENV)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let s = String::from_utf8_lossy(&o.stdout);
            let line = s.split(['\r', '\n']).next().unwrap_or_default();
            Some(line.to_owned())
        }
        Ok(_) => None,
        Err(e) => {
            tracing::debug!("cannot run {}: {e}", program.to_string_lossy());
            None
        }
    }
}

impl Prompter {
    /// Asks `prompt`; `echo` shows what is typed (answers, not secrets).
    /// `None` when asking is impossible or the user gave up.
    pub fn ask(&self, prompt: &str, echo: bool) -> Option<String> {
        if self.batch {
            return None;
        }
        let tty = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
            .is_ok();
        if use_askpass(tty) {
            return askpass(prompt);
        }
        if !tty {
            return None;
        }
        let r = if echo {
            terminal::read_line(prompt)
        } else {
            terminal::read_secret(prompt)
        };
        match r {
            Ok(answer) => Some(answer),
            // ^C at a prompt ends rssh, as it ends ssh (the terminal's
            // modes are already restored).
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => std::process::exit(130),
            Err(_) => None,
        }
    }
}
