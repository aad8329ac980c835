//! The operating system: users, PTYs, processes, signals, terminals.
//!
//! What the `rsshd` server and the `rssh` client need from the machine,
//! and the only place of the workspace that touches processes, terminals
//! and the user database (the OS crate: the only one with unsafe code).
//! Unix (Linux) only.
//!
//! - [`user`]: the password database and group lists.
//! - [`password`]: checking a password with PAM (`pam_authenticate` and
//!   `pam_acct_mgmt`, through `pam-client2`), on a blocking thread; only
//!   with the `pam` feature, so that a client builds without libpam.
//! - [`pam_session`]: a PAM session for the life of a process, closed by
//!   a forked keeper when it ends (`pam` feature, Linux).
//! - [`pty`]: pseudo-terminals for sessions, their master side as async
//!   streams, RFC 4254 §8 terminal modes applied.
//! - [`process`]: spawning a session's program in a new session, on a PTY
//!   or on pipes, as another user; its exit status as RFC 4254 §6.10 has it.
//! - [`signal`]: RFC 4254 signal names and async streams of SIGWINCH and
//!   SIGTERM/SIGINT.
//! - [`terminal`]: the client's own terminal: size, modes, raw mode,
//!   prompts with and without echo.
//! - [`sockets`]: sockets made as another user (a helper process when
//!   the server is root).
//! - [`service`], [`syslog`]: running as a daemon (detaching, systemd
//!   readiness) and logging to the system log.
//! - [`config`]: configuration files read from disk, algorithm lists
//!   turned into a transport configuration.
//! - `loginrec`: utmp, wtmp, lastlog and wtmpdb (through libwtmpdb,
//!   loaded at run time where it is installed) for terminal sessions.
//! - [`memory`]: freed memory back to the system (`malloc_trim`).
//!
//! Unsafe code is limited to [`process`]'s `pre_exec` hook (code run in the
//! child between fork and exec), `shadow`'s `getspnam_r`, `loginrec`'s
//! utmpx calls and libwtmpdb (`dlopen`, its functions, `free` of its
//! error strings), [`memory`]'s `malloc_trim` and [`syslog`]'s
//! `openlog`/`syslog` (which neither `nix` nor `rustix` wraps with every
//! facility sshd offers); everything else goes through `nix` and `rustix`.

pub mod chroot;
pub mod config;
#[cfg(unix)]
pub mod fdpass;
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub mod loginrec;
pub mod memory;
#[cfg(unix)]
mod modes;
#[cfg(all(target_os = "linux", feature = "pam"))]
pub mod pam_session;
#[cfg(all(unix, feature = "pam"))]
pub mod password;
#[cfg(unix)]
pub mod process;
#[cfg(unix)]
pub mod pty;
#[cfg(target_os = "linux")]
pub mod sandbox;
#[cfg(unix)]
pub mod service;
#[cfg(target_os = "linux")]
pub mod shadow;
#[cfg(unix)]
pub mod signal;
#[cfg(unix)]
pub mod sockets;
#[cfg(unix)]
pub mod stdio;
#[cfg(unix)]
pub mod syslog;
#[cfg(unix)]
pub mod terminal;
#[cfg(unix)]
pub mod user;
