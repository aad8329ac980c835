//! Users and groups from the system's databases (`getpwnam_r`,
//! `getgrouplist`: NSS, so LDAP or systemd users count too).

use std::ffi::CString;
use std::io;
use std::path::PathBuf;

use nix::unistd::{Gid, Group, Uid};

/// A user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Home directory.
    pub home: PathBuf,
    /// Login shell (empty in the database means `/bin/sh`, as for login).
    pub shell: PathBuf,
}

impl User {
    fn from_nix(u: nix::unistd::User) -> User {
        let shell = if u.shell.as_os_str().is_empty() {
            PathBuf::from("/bin/sh")
        } else {
            u.shell
        };
        User {
            name: u.name,
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
            home: u.dir,
            shell,
        }
    }

    /// The user called `name`; `None` when there is none. A name with a
    /// NUL byte is nobody.
    pub fn by_name(name: &str) -> io::Result<Option<User>> {
        Ok(nix::unistd::User::from_name(name)?.map(User::from_nix))
    }

    /// The user with id `uid`; `None` when there is none.
    pub fn by_uid(uid: u32) -> io::Result<Option<User>> {
        Ok(nix::unistd::User::from_uid(Uid::from_raw(uid))?.map(User::from_nix))
    }

    /// The user this process runs as (its real uid).
    pub fn current() -> io::Result<User> {
        let uid = nix::unistd::getuid();
        User::by_uid(uid.as_raw())?.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("uid {uid} is in no password database"),
            )
        })
    }

    /// The ids of the user's primary and supplementary groups, primary
    /// first (what `initgroups` would install).
    pub fn group_ids(&self) -> io::Result<Vec<u32>> {
        let name = CString::new(self.name.as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "user name with a NUL"))?;
        let gid = Gid::from_raw(self.gid);
        let mut ids: Vec<u32> = vec![self.gid];
        for g in nix::unistd::getgrouplist(&name, gid)? {
            if !ids.contains(&g.as_raw()) {
                ids.push(g.as_raw());
            }
        }
        Ok(ids)
    }

    /// The names of the user's primary and supplementary groups, primary
    /// first; a group id without a name is given as its number, as `id`
    /// does.
    pub fn groups(&self) -> io::Result<Vec<String>> {
        self.group_ids()?
            .into_iter()
            .map(|gid| {
                Ok(
                    Group::from_gid(Gid::from_raw(gid))?
                        .map_or_else(|| gid.to_string(), |g| g.name),
                )
            })
            .collect()
    }
}

/// Becomes the user: supplementary groups, group, user, as for the user's
/// sessions; a dropped root must not come back. Not root: only the
/// identity we already have is accepted.
pub fn become_ids(uid: Uid, gid: Gid, groups: &[Gid]) -> io::Result<()> {
    if nix::unistd::geteuid().is_root() {
        nix::unistd::setgroups(groups)?;
        nix::unistd::setgid(gid)?;
        nix::unistd::setuid(uid)?;
        if !uid.is_root() && nix::unistd::setuid(Uid::from_raw(0)).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "root could be regained",
            ));
        }
        return Ok(());
    }
    if nix::unistd::geteuid() == uid && nix::unistd::getuid() == uid {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::PermissionDenied,
        "not root: cannot become another user",
    ))
}

/// Becomes `user` for good, as [`become_ids`] with the user's groups
/// (looked up first: NSS needs what is given up).
pub fn become_user(user: &User) -> io::Result<()> {
    let groups: Vec<Gid> = user.group_ids()?.into_iter().map(Gid::from_raw).collect();
    become_ids(Uid::from_raw(user.uid), Gid::from_raw(user.gid), &groups)
}

/// Whether this process runs with effective uid 0.
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The id of the group called `name` (such as `tty`, for
/// [`super::pty::Pty::chown_slave`]).
pub fn group_id(name: &str) -> io::Result<Option<u32>> {
    Ok(Group::from_name(name)?.map(|g| g.gid.as_raw()))
}
