//! `ChrootDirectory`'s ownership rules, as sshd's `safely_chroot`.

use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

/// Checks that `path` is a safe chroot: absolute, and it and every
/// directory on the way to it owned by root and writable by neither group
/// nor others (otherwise the user could plant files such as a libc or an
/// `/etc/passwd` that a set-uid program inside would trust). The error is
/// sshd's message, for the log.
pub fn check_chroot(path: &Path) -> io::Result<()> {
    if !path.is_absolute() {
        return Err(bad(format!(
            "chroot path does not begin at root: \"{}\"",
            path.display()
        )));
    }
    let mut at = PathBuf::from("/");
    let mut components = path.components().peekable();
    while let Some(c) = components.next() {
        match c {
            Component::RootDir => {}
            Component::Normal(n) => at.push(n),
            // `.` is dropped by `components`; `..` would leave the checked
            // prefix.
            _ => {
                return Err(bad(format!(
                    "chroot path has a \"..\" component: \"{}\"",
                    path.display()
                )));
            }
        }
        let last = components.peek().is_none();
        let what = if last { "" } else { "component " };
        let meta = std::fs::metadata(&at).map_err(|e| {
            bad(format!(
                "stat(\"{}\"): {e} (chroot directory {what}\"{}\")",
                at.display(),
                path.display()
            ))
        })?;
        if meta.uid() != 0 || meta.mode() & 0o022 != 0 {
            return Err(bad(format!(
                "bad ownership or modes for chroot directory {what}\"{}\"",
                at.display()
            )));
        }
        if !meta.is_dir() {
            return Err(bad(format!(
                "chroot path {what}\"{}\" is not a directory",
                at.display()
            )));
        }
    }
    Ok(())
}

/// Confines this process, running as root, to `dir` as `user`: checks
/// [`check_chroot`], sets the user's groups and group, changes root to
/// `dir`, enters the user's home inside it (or `/`), then drops to the
/// user's id for good (checked irreversible, as sshd's
/// `permanently_set_uid`).
///
/// This is done by the program itself rather than between fork and exec:
/// a program exec'd after the chroot would need its dynamic loader and
/// libraries inside the chroot. rsshd's internal-sftp is exec'd as root
/// (its own binary, with arguments it wrote) and calls this before reading
/// a byte from the client.
pub fn enter_chroot(dir: &Path, user: &crate::user::User) -> io::Result<()> {
    use nix::unistd::{Gid, Uid};
    check_chroot(dir)?;
    let groups: Vec<Gid> = user.group_ids()?.into_iter().map(Gid::from_raw).collect();
    nix::unistd::setgroups(&groups)?;
    nix::unistd::setgid(Gid::from_raw(user.gid))?;
    rustix::process::chroot(dir)?;
    rustix::process::chdir("/")?;
    nix::unistd::setuid(Uid::from_raw(user.uid))?;
    if user.uid != 0 && nix::unistd::setuid(Uid::from_raw(0)).is_ok() {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "the user id could be set back to root",
        ));
    }
    if rustix::process::chdir(&user.home).is_err() {
        rustix::process::chdir("/")?;
    }
    Ok(())
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, msg)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn sshd_rules() {
        assert!(check_chroot(Path::new("relative")).is_err());
        assert!(check_chroot(Path::new("/usr/../tmp")).is_err());
        if !crate::user::is_root() {
            return;
        }
        check_chroot(Path::new("/")).unwrap();
        check_chroot(Path::new("/usr")).unwrap();
        // /tmp is world-writable (sticky or not).
        let e = check_chroot(Path::new("/tmp")).unwrap_err().to_string();
        assert_eq!(e, "bad ownership or modes for chroot directory \"/tmp\"");
        let dir = std::env::temp_dir().join(format!("ssh-os-chroot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let e = check_chroot(&dir).unwrap_err().to_string();
        assert!(e.contains("directory component \"/tmp\""), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
        let e = check_chroot(Path::new("/etc/passwd"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("is not a directory"), "{e}");
    }
}
