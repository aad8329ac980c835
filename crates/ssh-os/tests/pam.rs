//! Password checks through PAM against the real system (feature `pam`).

#![cfg(all(unix, feature = "pam"))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::time::Duration;

use ssh_os::password::check_password;

const LIMIT: Duration = Duration::from_secs(30);

fn run<T>(f: impl Future<Output = T>) -> T {
    async_std::task::block_on(async_std::future::timeout(LIMIT, f)).expect("timed out")
}

#[test]
fn pam_rejects_an_unknown_user() {
    // A nonexistent user is a "no"; where PAM is not configured at all, an
    // error: never a "yes", never a panic.
    let answer = run(check_password(
        "rsshd-test",
        "no-such-user-rssh-test",
        "secret",
    ));
    if std::path::Path::new("/etc/pam.d/other").exists() {
        assert!(!answer.unwrap());
    } else {
        assert!(answer.is_err() || !answer.unwrap());
    }
    // Not representable for PAM: a "no" without asking it.
    assert!(!run(check_password("rsshd-test", "root\0x", "secret")).unwrap());
    assert!(!run(check_password("rsshd-test", "root", "a\0b")).unwrap());
    // A NUL in the service is a usage error.
    assert!(run(check_password("bad\0service", "root", "secret")).is_err());
}

/// The "yes" path needs an account with a known password, which a test
/// must not create: run by hand with `RSSH_PAM_USER` and
/// `RSSH_PAM_PASSWORD` set (`cargo test -p ssh-os --features pam --test pam -- --ignored`).
#[test]
#[ignore = "needs RSSH_PAM_USER and RSSH_PAM_PASSWORD of a real account"]
fn pam_accepts_the_right_password() {
    let user = std::env::var("RSSH_PAM_USER").expect("RSSH_PAM_USER");
    let password = std::env::var("RSSH_PAM_PASSWORD").expect("RSSH_PAM_PASSWORD");
    assert!(run(check_password("rsshd-test", &user, &password)).unwrap());
    let wrong = format!("{password}x");
    assert!(!run(check_password("rsshd-test", &user, &wrong)).unwrap());
}

#[test]
fn pam_account_management_refuses_an_unknown_user() {
    use ssh_os::password::account_management;
    if !std::path::Path::new("/etc/pam.d/other").exists() {
        return;
    }
    let c = run(account_management(
        "rsshd-test",
        "no-such-user-rssh-test",
        "192.0.2.1",
    ))
    .unwrap();
    assert!(!c.allowed, "{c:?}");
    assert!(
        !run(account_management("rsshd-test", "root\0x", "192.0.2.1"))
            .unwrap()
            .allowed
    );
    assert!(run(account_management("bad\0service", "root", "192.0.2.1")).is_err());
    // Root here has a shadow entry that neither expires nor is locked.
    if ssh_os::user::is_root()
        && ssh_os::shadow::ShadowEntry::by_name("root")
            .unwrap()
            .is_some_and(|e| !e.locked() && e.expire_day.is_none())
    {
        let c = run(account_management("rsshd-test", "root", "192.0.2.1")).unwrap();
        assert!(c.allowed, "{c:?}");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_pam_session_is_refused_once_threads_run() {
    // The keeper is forked: only a process with one thread may do that
    // (the test harness runs this on a thread of its own). The opening
    // itself is checked end to end by `ssh>rsshd:admin-pam-session`.
    let e = ssh_os::pam_session::open_for_process("rsshd-test", "root", "127.0.0.1").unwrap_err();
    assert!(e.to_string().contains("before any thread"), "{e}");
}
