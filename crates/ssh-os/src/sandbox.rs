//! The confinement of rsshd's pre-authentication workers (privilege
//! separation): the process that parses unauthenticated peers' bytes runs
//! as a dedicated unprivileged user, in an empty root, unable to gain
//! privileges, and with a system-call allowlist; a call outside it kills
//! the process (`SIGSYS`), as OpenSSH's seccomp sandbox does.
//!
//! The allowlist is what an async driver of many connections needs and no
//! more: reading and writing sockets it already has (and accepting on a
//! listener it was given), the event loop (epoll, eventfd, timers),
//! memory, clocks, randomness, threads (`clone` only with `CLONE_THREAD`;
//! `clone3` answers `ENOSYS` so the C library falls back to `clone`),
//! signals returning, and exiting. No `open`, no `exec`, no `socket`, no
//! `connect`, no `ptrace`, no new processes.

// `c_long` and the ioctl request type are `i64`/`u64` on this target, not
// on every target: the conversions stay.
#![allow(clippy::useless_conversion)]

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// The system calls a worker may make, unconditionally.
fn allowed() -> Vec<libc::c_long> {
    let mut v = vec![
        // Sockets it holds, the listener it was given.
        libc::SYS_read,
        libc::SYS_write,
        libc::SYS_readv,
        libc::SYS_writev,
        libc::SYS_recvfrom,
        libc::SYS_sendto,
        libc::SYS_recvmsg,
        libc::SYS_sendmsg,
        libc::SYS_accept4,
        libc::SYS_shutdown,
        libc::SYS_close,
        libc::SYS_fcntl,
        libc::SYS_setsockopt,
        libc::SYS_getsockopt,
        libc::SYS_getsockname,
        libc::SYS_getpeername,
        // The event loop.
        libc::SYS_epoll_create1,
        libc::SYS_epoll_ctl,
        libc::SYS_epoll_pwait,
        libc::SYS_eventfd2,
        libc::SYS_ppoll,
        libc::SYS_timerfd_create,
        libc::SYS_timerfd_settime,
        libc::SYS_futex,
        libc::SYS_sched_yield,
        // Memory.
        libc::SYS_mmap,
        libc::SYS_munmap,
        libc::SYS_mremap,
        libc::SYS_mprotect,
        libc::SYS_madvise,
        libc::SYS_brk,
        // Time, randomness, identity.
        libc::SYS_clock_gettime,
        libc::SYS_clock_nanosleep,
        libc::SYS_nanosleep,
        libc::SYS_getrandom,
        libc::SYS_getpid,
        libc::SYS_gettid,
        // Threads and signals.
        libc::SYS_clone3,
        libc::SYS_set_robust_list,
        libc::SYS_rseq,
        libc::SYS_sigaltstack,
        libc::SYS_rt_sigaction,
        libc::SYS_rt_sigprocmask,
        libc::SYS_rt_sigreturn,
        libc::SYS_tgkill,
        libc::SYS_sched_getaffinity,
        libc::SYS_prctl,
        libc::SYS_exit,
        libc::SYS_exit_group,
    ];
    #[cfg(target_arch = "x86_64")]
    v.extend([libc::SYS_epoll_wait, libc::SYS_poll, libc::SYS_arch_prctl]);
    v
}

/// The worker's filter: the allowlist, `clone` for threads only; anything
/// else kills the process.
fn worker_filter() -> io::Result<BpfProgram> {
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(other)?;
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> = allowed()
        .into_iter()
        .map(|n| (i64::from(n), Vec::new()))
        .collect();
    let thread = u64::try_from(libc::CLONE_THREAD).map_err(other)?;
    let only_threads = SeccompRule::new(vec![
        SeccompCondition::new(
            0,
            SeccompCmpArgLen::Qword,
            SeccompCmpOp::MaskedEq(thread),
            thread,
        )
        .map_err(other)?,
    ])
    .map_err(other)?;
    rules.insert(i64::from(libc::SYS_clone), vec![only_threads]);
    // `ioctl` only to make a descriptor non-blocking or close-on-exec (a
    // terminal's ioctls, `TIOCSTI` above all, stay out of reach).
    let mut ioctls = Vec::new();
    for request in [libc::FIONBIO, libc::FIOCLEX] {
        let request = u64::try_from(request).map_err(other)?;
        ioctls.push(
            SeccompRule::new(vec![
                SeccompCondition::new(1, SeccompCmpArgLen::Dword, SeccompCmpOp::Eq, request)
                    .map_err(other)?,
            ])
            .map_err(other)?,
        );
    }
    rules.insert(i64::from(libc::SYS_ioctl), ioctls);
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::KillProcess,
        SeccompAction::Allow,
        arch,
    )
    .map_err(other)?;
    filter.try_into().map_err(other)
}

/// `clone3` answers `ENOSYS` (its arguments are behind a pointer, out of
/// a filter's reach): the C library then creates threads with `clone`,
/// whose flags the worker filter checks.
fn clone3_filter() -> io::Result<BpfProgram> {
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(other)?;
    let rules = BTreeMap::from([(i64::from(libc::SYS_clone3), Vec::new())]);
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(u32::try_from(libc::ENOSYS).map_err(other)?),
        arch,
    )
    .map_err(other)?;
    filter.try_into().map_err(other)
}

fn other<E: std::fmt::Display>(e: E) -> io::Error {
    io::Error::other(e.to_string())
}

/// Confines this process (running as root) for good: the groups and ids
/// of the worker's user (`uid`, `gid`), root changed to `root` (an empty
/// directory owned by root and writable by nobody else, as sshd's
/// `/run/sshd`), no new privileges, and the system-call filter on every
/// thread. Call it before reading a byte from a peer.
pub fn enter_worker_sandbox(uid: u32, gid: u32, root: &Path) -> io::Result<()> {
    use nix::unistd::{Gid, Uid};
    check_empty_root(root)?;
    if uid == 0 {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "a worker must not run as root",
        ));
    }
    nix::unistd::setgroups(&[Gid::from_raw(gid)])?;
    nix::unistd::setgid(Gid::from_raw(gid))?;
    rustix::process::chroot(root)?;
    rustix::process::chdir("/")?;
    nix::unistd::setuid(Uid::from_raw(uid))?;
    if nix::unistd::setuid(Uid::from_raw(0)).is_ok() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "the user id could be set back to root",
        ));
    }
    rustix::thread::set_no_new_privs(true)?;
    let worker = worker_filter()?;
    let clone3 = clone3_filter()?;
    // The clone3 filter first: once the worker filter is in place,
    // `seccomp` itself is off the list.
    seccompiler::apply_filter_all_threads(&clone3).map_err(other)?;
    seccompiler::apply_filter_all_threads(&worker).map_err(other)?;
    Ok(())
}

/// The root must be a directory, owned by root, writable by nobody else,
/// and empty: nothing in it for a worker to read or run.
fn check_empty_root(root: &Path) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(root)?;
    let refuse = |why: &str| {
        Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("{}: {why}", root.display()),
        ))
    };
    if !meta.is_dir() {
        return refuse("not a directory");
    }
    if meta.uid() != 0 || meta.mode() & 0o022 != 0 {
        return refuse("not owned by root, or writable by others");
    }
    if std::fs::read_dir(root)?.next().is_some() {
        return refuse("not empty");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filters_compile_for_this_machine() {
        assert!(worker_filter().is_ok_and(|p| !p.is_empty()));
        assert!(clone3_filter().is_ok_and(|p| !p.is_empty()));
        // The calls a worker must never make are not on the list.
        let allowed = allowed();
        for forbidden in [
            libc::SYS_openat,
            libc::SYS_execve,
            libc::SYS_socket,
            libc::SYS_connect,
            libc::SYS_ptrace,
            libc::SYS_setuid,
            libc::SYS_chroot,
        ] {
            assert!(!allowed.contains(&forbidden), "{forbidden}");
        }
    }
}
