//! An in-memory [`Filesystem`]: inodes with owner permission bits, hard and
//! symbolic links, for tests of this crate and of the crates above it.
//!
//! Permissions are checked against the owner bits only (the session is the
//! owner of everything). Time does not pass by itself: it is
//! [`MemFs::set_time`]'s value, as a sans-IO crate reads no clock.

use std::collections::{BTreeMap, HashMap, VecDeque};

use crate::attrs::{Attrs, file_type, longname};
use crate::extensions::{StatVfs, UsersGroups};
use crate::fs::{Filesystem, FsError, FsResult};
use crate::message::NameEntry;
use crate::numbers::OpenFlags;

const ROOT: u64 = 1;
/// Symlinks followed in one lookup before giving up (as Linux's 40), so a
/// loop ends as "no such file", OpenSSH's mapping of ELOOP.
const MAX_SYMLINKS: usize = 40;
/// The largest file this file system holds: a hostile offset must not
/// allocate gigabytes.
pub const MAX_FILE_SIZE: u64 = 256 * 1024 * 1024;
/// Entries one `readdir` call returns.
const READDIR_BATCH: usize = 64;

#[derive(Debug, Clone)]
enum Kind {
    File(Vec<u8>),
    Dir(BTreeMap<Vec<u8>, u64>),
    Symlink(Vec<u8>),
}

#[derive(Debug, Clone)]
struct Node {
    kind: Kind,
    perm: u32,
    uid: u32,
    gid: u32,
    atime: u32,
    mtime: u32,
    nlink: u32,
}

/// An open file of a [`MemFs`].
#[derive(Debug, Clone)]
pub struct MemFile {
    ino: u64,
    readable: bool,
    writable: bool,
    append: bool,
}

/// An open directory of a [`MemFs`]: its entries as they were at opendir.
#[derive(Debug, Clone)]
pub struct MemDir {
    entries: VecDeque<NameEntry>,
}

/// The in-memory file system.
#[derive(Debug, Clone)]
pub struct MemFs {
    nodes: HashMap<u64, Node>,
    next_ino: u64,
    now: u32,
    uid: u32,
    gid: u32,
    max_read: Option<u32>,
    homes: BTreeMap<Vec<u8>, Vec<u8>>,
    user: Vec<u8>,
    user_names: BTreeMap<u32, Vec<u8>>,
    group_names: BTreeMap<u32, Vec<u8>>,
}

impl Default for MemFs {
    fn default() -> Self {
        Self::new()
    }
}

impl MemFs {
    /// An empty file system: a root directory (mode 0755), the user `user`
    /// (uid and gid 1000) whose home is `/`.
    pub fn new() -> Self {
        let mut nodes = HashMap::new();
        nodes.insert(
            ROOT,
            Node {
                kind: Kind::Dir(BTreeMap::new()),
                perm: 0o755,
                uid: 1000,
                gid: 1000,
                atime: 0,
                mtime: 0,
                nlink: 2,
            },
        );
        let mut homes = BTreeMap::new();
        homes.insert(b"user".to_vec(), b"/".to_vec());
        Self {
            nodes,
            next_ino: ROOT + 1,
            now: 0,
            uid: 1000,
            gid: 1000,
            max_read: None,
            homes,
            user: b"user".to_vec(),
            user_names: BTreeMap::from([(0, b"root".to_vec()), (1000, b"user".to_vec())]),
            group_names: BTreeMap::from([(0, b"root".to_vec()), (1000, b"users".to_vec())]),
        }
    }

    /// Sets the time stamped on changes from now on.
    pub const fn set_time(&mut self, secs: u32) {
        self.now = secs;
    }

    /// Makes every read return at most `n` bytes: short reads, as a pipe or
    /// a network file system gives, for testing clients.
    pub const fn set_max_read(&mut self, n: Option<u32>) {
        self.max_read = n;
    }

    /// Records a user and home directory for `home-directory` and `~user`.
    pub fn add_user(&mut self, name: &[u8], uid: u32, home: &[u8]) {
        self.homes.insert(name.to_vec(), home.to_vec());
        self.user_names.insert(uid, name.to_vec());
    }

    /// Writes a whole file (mode 0644), creating it or replacing its data.
    pub fn put_file(&mut self, path: &[u8], data: &[u8]) -> FsResult<()> {
        let flags = OpenFlags::WRITE | OpenFlags::CREAT | OpenFlags::TRUNC;
        let attrs = Attrs {
            permissions: Some(0o644),
            ..Attrs::new()
        };
        let mut f = self.open(path, flags, &attrs)?;
        self.write(&mut f, 0, data)
    }

    /// Makes a directory and its missing parents (mode 0755).
    pub fn create_dir_all(&mut self, path: &[u8]) -> FsResult<()> {
        let mut prefix = Vec::new();
        for c in path.split(|&b| b == b'/').filter(|c| !c.is_empty()) {
            prefix.push(b'/');
            prefix.extend_from_slice(c);
            if self.walk(&prefix, true).is_err() {
                let attrs = Attrs {
                    permissions: Some(0o755),
                    ..Attrs::new()
                };
                self.mkdir(&prefix, &attrs)?;
            }
        }
        Ok(())
    }

    /// The contents of a file, following symlinks.
    pub fn contents(&self, path: &[u8]) -> Option<&[u8]> {
        let ino = self.walk(path, true).ok()?.last()?.0;
        match &self.nodes.get(&ino)?.kind {
            Kind::File(d) => Some(d),
            _ => None,
        }
    }

    fn node(&self, ino: u64) -> FsResult<&Node> {
        self.nodes.get(&ino).ok_or(FsError::NotFound)
    }

    fn node_mut(&mut self, ino: u64) -> FsResult<&mut Node> {
        self.nodes.get_mut(&ino).ok_or(FsError::NotFound)
    }

    /// Looks a path up: the chain of (inode, name) from the root to it.
    fn walk(&self, path: &[u8], follow_last: bool) -> FsResult<Vec<(u64, Vec<u8>)>> {
        let mut stack = vec![(ROOT, Vec::new())];
        let mut queue: VecDeque<Vec<u8>> = components(path).collect();
        let mut links = 0;
        while let Some(c) = queue.pop_front() {
            if c == b".." {
                if stack.len() > 1 {
                    stack.pop();
                }
                continue;
            }
            let dir = stack.last().map_or(ROOT, |(i, _)| *i);
            let Kind::Dir(entries) = &self.node(dir)?.kind else {
                return Err(FsError::NotFound);
            };
            let child = *entries.get(&c).ok_or(FsError::NotFound)?;
            if let Kind::Symlink(target) = &self.node(child)?.kind
                && (follow_last || !queue.is_empty())
            {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(FsError::NotFound);
                }
                if target.starts_with(b"/") {
                    stack.truncate(1);
                }
                for t in components(target).collect::<Vec<_>>().into_iter().rev() {
                    queue.push_front(t);
                }
                continue;
            }
            stack.push((child, c));
        }
        Ok(stack)
    }

    fn ino(&self, path: &[u8], follow: bool) -> FsResult<u64> {
        self.walk(path, follow)?
            .last()
            .map(|(i, _)| *i)
            .ok_or(FsError::NotFound)
    }

    /// The directory a new entry goes in, and the entry's name.
    fn parent_of(&self, path: &[u8]) -> FsResult<(u64, Vec<u8>)> {
        let trimmed = path.strip_suffix(b"/").unwrap_or(path);
        let (parent, name) = match trimmed.iter().rposition(|&b| b == b'/') {
            Some(i) => (
                trimmed.get(..=i).unwrap_or(b"/"),
                trimmed.get(i + 1..).unwrap_or(b""),
            ),
            None => (&b"."[..], trimmed),
        };
        if name.is_empty() || name == b"." || name == b".." {
            return Err(FsError::InvalidInput);
        }
        let dir = self.ino(parent, true)?;
        if !matches!(self.node(dir)?.kind, Kind::Dir(_)) {
            return Err(FsError::NotFound);
        }
        Ok((dir, name.to_vec()))
    }

    fn entry(&self, dir: u64, name: &[u8]) -> Option<u64> {
        match &self.nodes.get(&dir)?.kind {
            Kind::Dir(e) => e.get(name).copied(),
            _ => None,
        }
    }

    fn check_writable_dir(&self, dir: u64) -> FsResult<()> {
        if self.node(dir)?.perm & 0o200 == 0 {
            return Err(FsError::PermissionDenied);
        }
        Ok(())
    }

    fn link(&mut self, dir: u64, name: Vec<u8>, ino: u64) -> FsResult<()> {
        let now = self.now;
        let d = self.node_mut(dir)?;
        d.mtime = now;
        match &mut d.kind {
            Kind::Dir(e) => {
                e.insert(name, ino);
                Ok(())
            }
            _ => Err(FsError::NotFound),
        }
    }

    fn unlink(&mut self, dir: u64, name: &[u8]) -> FsResult<u64> {
        let now = self.now;
        let d = self.node_mut(dir)?;
        d.mtime = now;
        let Kind::Dir(e) = &mut d.kind else {
            return Err(FsError::NotFound);
        };
        let ino = e.remove(name).ok_or(FsError::NotFound)?;
        let n = self.node_mut(ino)?;
        n.nlink = n.nlink.saturating_sub(1);
        if n.nlink == 0 || matches!(n.kind, Kind::Dir(_)) {
            self.nodes.remove(&ino);
        }
        Ok(ino)
    }

    fn create(&mut self, path: &[u8], kind: Kind, perm: u32) -> FsResult<u64> {
        let (dir, name) = self.parent_of(path)?;
        if self.entry(dir, &name).is_some() {
            return Err(FsError::AlreadyExists);
        }
        self.check_writable_dir(dir)?;
        let ino = self.next_ino;
        self.next_ino += 1;
        self.nodes.insert(
            ino,
            Node {
                kind,
                perm: perm & 0o7777,
                uid: self.uid,
                gid: self.gid,
                atime: self.now,
                mtime: self.now,
                nlink: 1,
            },
        );
        self.link(dir, name, ino)?;
        Ok(ino)
    }

    fn attrs_of(&self, ino: u64) -> FsResult<Attrs> {
        let n = self.node(ino)?;
        let (ty, size) = match &n.kind {
            Kind::File(d) => (file_type::REGULAR, d.len() as u64),
            Kind::Dir(_) => (file_type::DIRECTORY, 4096),
            Kind::Symlink(t) => (file_type::SYMLINK, t.len() as u64),
        };
        Ok(Attrs {
            size: Some(size),
            uid_gid: Some((n.uid, n.gid)),
            permissions: Some(ty | n.perm),
            atime_mtime: Some((n.atime, n.mtime)),
            extended: Vec::new(),
        })
    }

    fn set_attrs(&mut self, ino: u64, a: &Attrs) -> FsResult<()> {
        let n = self.node_mut(ino)?;
        if let Some(size) = a.size {
            let Kind::File(d) = &mut n.kind else {
                return Err(FsError::InvalidInput);
            };
            if size > MAX_FILE_SIZE {
                return Err(FsError::Other("file too large".into()));
            }
            d.resize(usize::try_from(size).map_err(|_| FsError::InvalidInput)?, 0);
        }
        if let Some((uid, gid)) = a.uid_gid {
            n.uid = uid;
            n.gid = gid;
        }
        if let Some(p) = a.permissions {
            n.perm = p & 0o7777;
        }
        if let Some((at, mt)) = a.atime_mtime {
            n.atime = at;
            n.mtime = mt;
        }
        Ok(())
    }

    fn statvfs_values() -> StatVfs {
        StatVfs {
            bsize: 4096,
            frsize: 4096,
            blocks: 1 << 20,
            bfree: 1 << 19,
            bavail: 1 << 19,
            files: 1 << 16,
            ffree: 1 << 15,
            favail: 1 << 15,
            fsid: 0x6d65_6d66,
            flag: 0,
            namemax: 255,
        }
    }

    fn rename_inner(&mut self, old: &[u8], new: &[u8], replace: bool) -> FsResult<()> {
        let (odir, oname) = self.parent_of(old)?;
        let ino = self.entry(odir, &oname).ok_or(FsError::NotFound)?;
        let (ndir, nname) = self.parent_of(new)?;
        self.check_writable_dir(odir)?;
        self.check_writable_dir(ndir)?;
        // A directory cannot move under itself.
        let chain = self.walk(&parent_path(new), true)?;
        if chain.iter().any(|(i, _)| *i == ino) {
            return Err(FsError::InvalidInput);
        }
        if let Some(existing) = self.entry(ndir, &nname) {
            if existing == ino {
                return Ok(());
            }
            if !replace {
                return Err(FsError::AlreadyExists);
            }
            match (&self.node(existing)?.kind, &self.node(ino)?.kind) {
                (Kind::Dir(e), Kind::Dir(_)) if !e.is_empty() => return Err(FsError::NotEmpty),
                (Kind::Dir(_), Kind::Dir(_)) => {}
                (Kind::Dir(_), _) | (_, Kind::Dir(_)) => {
                    return Err(FsError::Other("file type mismatch".into()));
                }
                _ => {}
            }
            self.unlink(ndir, &nname)?;
        }
        if let Some(Kind::Dir(e)) = self.nodes.get_mut(&odir).map(|n| &mut n.kind) {
            e.remove(&oname);
        }
        self.link(ndir, nname, ino)
    }
}

fn components(path: &[u8]) -> impl Iterator<Item = Vec<u8>> + '_ {
    path.split(|&b| b == b'/')
        .filter(|c| !c.is_empty() && *c != b".")
        .map(<[u8]>::to_vec)
}

fn parent_path(path: &[u8]) -> Vec<u8> {
    let trimmed = path.strip_suffix(b"/").unwrap_or(path);
    match trimmed.iter().rposition(|&b| b == b'/') {
        Some(0) => b"/".to_vec(),
        Some(i) => trimmed.get(..i).unwrap_or(b"/").to_vec(),
        None => b".".to_vec(),
    }
}

impl Filesystem for MemFs {
    type File = MemFile;
    type Dir = MemDir;

    fn open(&mut self, path: &[u8], flags: OpenFlags, attrs: &Attrs) -> FsResult<MemFile> {
        let writable = flags.contains(OpenFlags::WRITE) || flags.contains(OpenFlags::APPEND);
        let readable = flags.contains(OpenFlags::READ) || !writable;
        let ino = match self.ino(path, true) {
            Ok(ino) => {
                if flags.contains(OpenFlags::CREAT) && flags.contains(OpenFlags::EXCL) {
                    return Err(FsError::AlreadyExists);
                }
                let n = self.node(ino)?;
                if !matches!(n.kind, Kind::File(_)) {
                    return Err(FsError::Other("not a regular file".into()));
                }
                if (readable && n.perm & 0o400 == 0) || (writable && n.perm & 0o200 == 0) {
                    return Err(FsError::PermissionDenied);
                }
                if flags.contains(OpenFlags::TRUNC) && writable {
                    let now = self.now;
                    let n = self.node_mut(ino)?;
                    n.kind = Kind::File(Vec::new());
                    n.mtime = now;
                }
                ino
            }
            Err(FsError::NotFound) if flags.contains(OpenFlags::CREAT) => {
                let perm = attrs.permissions.unwrap_or(0o666);
                self.create(path, Kind::File(Vec::new()), perm)?
            }
            Err(e) => return Err(e),
        };
        Ok(MemFile {
            ino,
            readable,
            writable,
            append: flags.contains(OpenFlags::APPEND),
        })
    }

    fn read(&mut self, file: &mut MemFile, offset: u64, len: u32) -> FsResult<Vec<u8>> {
        if !file.readable {
            return Err(FsError::PermissionDenied);
        }
        let len = self.max_read.map_or(len, |m| len.min(m));
        let Kind::File(d) = &self.node(file.ino)?.kind else {
            return Err(FsError::NotFound);
        };
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(d.len());
        let end = start.saturating_add(len as usize).min(d.len());
        Ok(d.get(start..end).unwrap_or_default().to_vec())
    }

    fn write(&mut self, file: &mut MemFile, offset: u64, data: &[u8]) -> FsResult<()> {
        if !file.writable {
            return Err(FsError::PermissionDenied);
        }
        let now = self.now;
        let n = self.node_mut(file.ino)?;
        let Kind::File(d) = &mut n.kind else {
            return Err(FsError::NotFound);
        };
        let offset = if file.append { d.len() as u64 } else { offset };
        let end = offset
            .checked_add(data.len() as u64)
            .ok_or(FsError::InvalidInput)?;
        if end > MAX_FILE_SIZE {
            return Err(FsError::Other("file too large".into()));
        }
        let (start, end) = (offset as usize, end as usize);
        if d.len() < end {
            d.resize(end, 0);
        }
        if let Some(slot) = d.get_mut(start..end) {
            slot.copy_from_slice(data);
        }
        n.mtime = now;
        Ok(())
    }

    fn close(&mut self, _file: MemFile) -> FsResult<()> {
        Ok(())
    }

    fn fstat(&mut self, file: &mut MemFile) -> FsResult<Attrs> {
        self.attrs_of(file.ino)
    }

    fn fsetstat(&mut self, file: &mut MemFile, attrs: &Attrs) -> FsResult<()> {
        self.set_attrs(file.ino, attrs)
    }

    fn fsync(&mut self, _file: &mut MemFile) -> FsResult<()> {
        Ok(())
    }

    fn fstatvfs(&mut self, _file: &mut MemFile) -> FsResult<StatVfs> {
        Ok(Self::statvfs_values())
    }

    fn opendir(&mut self, path: &[u8]) -> FsResult<MemDir> {
        let chain = self.walk(path, true)?;
        let (ino, parent) = match chain.as_slice() {
            [.., (p, _), (i, _)] => (*i, *p),
            [(i, _)] => (*i, *i),
            [] => return Err(FsError::NotFound),
        };
        let n = self.node(ino)?;
        let Kind::Dir(children) = &n.kind else {
            return Err(FsError::NotFound);
        };
        if n.perm & 0o400 == 0 {
            return Err(FsError::PermissionDenied);
        }
        let mut entries = VecDeque::new();
        let listed = [(b".".to_vec(), ino), (b"..".to_vec(), parent)];
        for (name, child) in listed
            .into_iter()
            .chain(children.iter().map(|(k, v)| (k.clone(), *v)))
        {
            let attrs = self.attrs_of(child)?;
            entries.push_back(NameEntry {
                longname: longname(&name, &attrs),
                filename: name,
                attrs,
            });
        }
        Ok(MemDir { entries })
    }

    fn readdir(&mut self, dir: &mut MemDir) -> FsResult<Vec<NameEntry>> {
        let n = dir.entries.len().min(READDIR_BATCH);
        Ok(dir.entries.drain(..n).collect())
    }

    fn closedir(&mut self, _dir: MemDir) -> FsResult<()> {
        Ok(())
    }

    fn stat(&mut self, path: &[u8]) -> FsResult<Attrs> {
        let ino = self.ino(path, true)?;
        self.attrs_of(ino)
    }

    fn lstat(&mut self, path: &[u8]) -> FsResult<Attrs> {
        let ino = self.ino(path, false)?;
        self.attrs_of(ino)
    }

    fn setstat(&mut self, path: &[u8], attrs: &Attrs) -> FsResult<()> {
        let ino = self.ino(path, true)?;
        self.set_attrs(ino, attrs)
    }

    fn lsetstat(&mut self, path: &[u8], attrs: &Attrs) -> FsResult<()> {
        let ino = self.ino(path, false)?;
        self.set_attrs(ino, attrs)
    }

    fn remove(&mut self, path: &[u8]) -> FsResult<()> {
        let (dir, name) = self.parent_of(path)?;
        let ino = self.entry(dir, &name).ok_or(FsError::NotFound)?;
        if matches!(self.node(ino)?.kind, Kind::Dir(_)) {
            return Err(FsError::Other("is a directory".into()));
        }
        self.check_writable_dir(dir)?;
        self.unlink(dir, &name).map(drop)
    }

    fn mkdir(&mut self, path: &[u8], attrs: &Attrs) -> FsResult<()> {
        let perm = attrs.permissions.unwrap_or(0o777);
        self.create(path, Kind::Dir(BTreeMap::new()), perm)
            .map(drop)
    }

    fn rmdir(&mut self, path: &[u8]) -> FsResult<()> {
        let (dir, name) = self.parent_of(path)?;
        let ino = self.entry(dir, &name).ok_or(FsError::NotFound)?;
        match &self.node(ino)?.kind {
            Kind::Dir(e) if !e.is_empty() => return Err(FsError::NotEmpty),
            Kind::Dir(_) => {}
            _ => return Err(FsError::NotFound),
        }
        self.check_writable_dir(dir)?;
        self.unlink(dir, &name).map(drop)
    }

    /// As OpenBSD's `realpath(3)`, which OpenSSH's server uses: the last
    /// component may be missing, the rest must exist.
    fn realpath(&mut self, path: &[u8]) -> FsResult<Vec<u8>> {
        let (chain, tail) = match self.walk(path, true) {
            Ok(chain) => (chain, None),
            Err(FsError::NotFound) => {
                let (dir, name) = self.parent_of(path)?;
                let chain = self.walk(&parent_path(path), true)?;
                if chain.last().map(|(i, _)| *i) != Some(dir) {
                    return Err(FsError::NotFound);
                }
                (chain, Some(name))
            }
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for (_, name) in chain
            .iter()
            .skip(1)
            .map(|(i, n)| (i, n.as_slice()))
            .chain(tail.as_deref().map(|n| (&0, n)))
        {
            out.push(b'/');
            out.extend_from_slice(name);
        }
        if out.is_empty() {
            out.push(b'/');
        }
        Ok(out)
    }

    fn rename(&mut self, old: &[u8], new: &[u8]) -> FsResult<()> {
        self.rename_inner(old, new, false)
    }

    fn posix_rename(&mut self, old: &[u8], new: &[u8]) -> FsResult<()> {
        self.rename_inner(old, new, true)
    }

    fn readlink(&mut self, path: &[u8]) -> FsResult<Vec<u8>> {
        let ino = self.ino(path, false)?;
        match &self.node(ino)?.kind {
            Kind::Symlink(t) => Ok(t.clone()),
            _ => Err(FsError::InvalidInput),
        }
    }

    fn symlink(&mut self, target: &[u8], link_path: &[u8]) -> FsResult<()> {
        self.create(link_path, Kind::Symlink(target.to_vec()), 0o777)
            .map(drop)
    }

    fn hardlink(&mut self, old: &[u8], new: &[u8]) -> FsResult<()> {
        let ino = self.ino(old, false)?;
        if matches!(self.node(ino)?.kind, Kind::Dir(_)) {
            return Err(FsError::PermissionDenied);
        }
        let (dir, name) = self.parent_of(new)?;
        if self.entry(dir, &name).is_some() {
            return Err(FsError::AlreadyExists);
        }
        self.check_writable_dir(dir)?;
        let n = self.node_mut(ino)?;
        n.nlink = n.nlink.saturating_add(1);
        self.link(dir, name, ino)
    }

    fn statvfs(&mut self, path: &[u8]) -> FsResult<StatVfs> {
        self.ino(path, true)?;
        Ok(Self::statvfs_values())
    }

    fn home_directory(&mut self, user: &[u8]) -> FsResult<Vec<u8>> {
        let user = if user.is_empty() {
            self.user.as_slice()
        } else {
            user
        };
        self.homes
            .get(user)
            .cloned()
            .ok_or_else(|| FsError::Other("user not found".into()))
    }

    fn users_groups_by_id(&mut self, uids: &[u32], gids: &[u32]) -> FsResult<UsersGroups> {
        let users = uids
            .iter()
            .map(|u| self.user_names.get(u).cloned().unwrap_or_default());
        let groups = gids
            .iter()
            .map(|g| self.group_names.get(g).cloned().unwrap_or_default());
        Ok(UsersGroups {
            users: users.collect(),
            groups: groups.collect(),
        })
    }
}
