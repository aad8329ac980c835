//! Signals: the RFC 4254 §6.9/§6.10 names, and async streams of the
//! signals the binaries react to (SIGWINCH for the client, SIGTERM and
//! SIGINT for the server).

use std::io;

use futures::{Stream, StreamExt};

/// The signals RFC 4254 §6.10 names ("signal name" without the `SIG`
/// prefix); the ones a `signal` request may carry and an `exit-signal`
/// reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(clippy::upper_case_acronyms)]
pub enum Signal {
    /// `SIGABRT`
    ABRT,
    /// `SIGALRM`
    ALRM,
    /// `SIGFPE`
    FPE,
    /// `SIGHUP`
    HUP,
    /// `SIGILL`
    ILL,
    /// `SIGINT`
    INT,
    /// `SIGKILL`
    KILL,
    /// `SIGPIPE`
    PIPE,
    /// `SIGQUIT`
    QUIT,
    /// `SIGSEGV`
    SEGV,
    /// `SIGTERM`
    TERM,
    /// `SIGUSR1`
    USR1,
    /// `SIGUSR2`
    USR2,
}

use nix::sys::signal::Signal as Nix;

const TABLE: &[(Signal, &str, Nix)] = &[
    (Signal::ABRT, "ABRT", Nix::SIGABRT),
    (Signal::ALRM, "ALRM", Nix::SIGALRM),
    (Signal::FPE, "FPE", Nix::SIGFPE),
    (Signal::HUP, "HUP", Nix::SIGHUP),
    (Signal::ILL, "ILL", Nix::SIGILL),
    (Signal::INT, "INT", Nix::SIGINT),
    (Signal::KILL, "KILL", Nix::SIGKILL),
    (Signal::PIPE, "PIPE", Nix::SIGPIPE),
    (Signal::QUIT, "QUIT", Nix::SIGQUIT),
    (Signal::SEGV, "SEGV", Nix::SIGSEGV),
    (Signal::TERM, "TERM", Nix::SIGTERM),
    (Signal::USR1, "USR1", Nix::SIGUSR1),
    (Signal::USR2, "USR2", Nix::SIGUSR2),
];

/// The name OpenSSH reports for a signal RFC 4254 does not name
/// ("Additional 'signal name' values MAY be sent in the format
/// 'sig-name@xyz'").
pub const OTHER_SIGNAL_NAME: &str = "SIG@openssh.com";

impl Signal {
    /// Every signal RFC 4254 names.
    pub const ALL: [Signal; 13] = [
        Signal::ABRT,
        Signal::ALRM,
        Signal::FPE,
        Signal::HUP,
        Signal::ILL,
        Signal::INT,
        Signal::KILL,
        Signal::PIPE,
        Signal::QUIT,
        Signal::SEGV,
        Signal::TERM,
        Signal::USR1,
        Signal::USR2,
    ];

    fn entry(self) -> Option<&'static (Signal, &'static str, Nix)> {
        TABLE.iter().find(|(s, _, _)| *s == self)
    }

    /// The signal an RFC 4254 name (`"TERM"`, no `SIG` prefix, case
    /// sensitive) stands for.
    pub fn from_ssh_name(name: &str) -> Option<Signal> {
        TABLE
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|(s, _, _)| *s)
    }

    /// The RFC 4254 name: `"TERM"`, `"KILL"`, ...
    pub fn ssh_name(self) -> &'static str {
        self.entry().map_or(OTHER_SIGNAL_NAME, |(_, n, _)| n)
    }

    /// The signal of a number of this system, if RFC 4254 names it.
    pub fn from_raw(number: i32) -> Option<Signal> {
        TABLE
            .iter()
            .find(|(_, _, n)| *n as i32 == number)
            .map(|(s, _, _)| *s)
    }

    /// This system's number of the signal.
    pub fn as_raw(self) -> i32 {
        self.to_nix() as i32
    }

    pub(crate) fn to_nix(self) -> Nix {
        self.entry().map_or(Nix::SIGTERM, |(_, _, n)| *n)
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.ssh_name())
    }
}

/// The RFC 4254 name of a signal number, or [`OTHER_SIGNAL_NAME`] for one
/// RFC 4254 does not name (SIGBUS, SIGSYS, ...), as OpenSSH reports it.
pub fn ssh_name_of_raw(number: i32) -> &'static str {
    Signal::from_raw(number).map_or(OTHER_SIGNAL_NAME, Signal::ssh_name)
}

/// Every SIGWINCH this process receives from now on, for the client to send
/// `window-change`. Bursts may be merged into one item.
///
/// While the stream lives the signal is caught; after it is dropped
/// SIGWINCH stays caught and does nothing (its default is to do nothing).
pub fn winch_stream() -> io::Result<impl Stream<Item = ()> + Send + Unpin + 'static> {
    let signals = async_signal::Signals::new([async_signal::Signal::Winch])?;
    Ok(signals.map(|_| ()))
}

/// Every SIGTERM and SIGINT this process receives from now on, for the
/// server to stop accepting and shut down.
///
/// While the stream lives these signals no longer kill the process; after
/// it is dropped they are still caught and ignored, so keep it for the
/// life of the program.
pub fn termination_stream() -> io::Result<impl Stream<Item = Signal> + Send + Unpin + 'static> {
    let signals =
        async_signal::Signals::new([async_signal::Signal::Term, async_signal::Signal::Int])?;
    Ok(signals.filter_map(|s| {
        futures::future::ready(match s {
            Ok(async_signal::Signal::Int) => Some(Signal::INT),
            Ok(async_signal::Signal::Term) => Some(Signal::TERM),
            _ => None,
        })
    }))
}
