//! File and tree transfers over an [`SftpSession`], shared by `rscp` and
//! `rsftp`: recursion, `-p` (modes and times), resume, the meter.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use ssh_client_kit::sftp::{SftpError, SftpSession};
use ssh_sftp::Attrs;

use crate::meter::Meter;

/// How to copy.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// `-r`.
    pub recursive: bool,
    /// `-p`: modes and times.
    pub preserve: bool,
    /// `-a`/`reget`/`reput`: continue from the size already there.
    pub resume: bool,
    /// Draw the meter.
    pub progress: bool,
    /// Recursive copies follow symlinks (scp); otherwise they are
    /// skipped, as sftp's `-r` does.
    pub follow_links: bool,
    /// `-l`: at most this many Kbit/s.
    pub limit_kbps: Option<u64>,
}

/// `-l`: sleeps when the bytes moved run ahead of the rate.
struct Limiter {
    kbps: Option<u64>,
    start: std::time::Instant,
    first: u64,
}

impl Limiter {
    fn new(kbps: Option<u64>, first: u64) -> Self {
        Limiter {
            kbps,
            start: std::time::Instant::now(),
            first,
        }
    }

    fn pace(&self, done: u64) {
        if let Some(d) = self
            .kbps
            .and_then(|k| behind(done.saturating_sub(self.first), k, self.start.elapsed()))
        {
            std::thread::sleep(d);
        }
    }
}

/// How long to wait so that `bytes` in `elapsed` stay under `kbps`.
fn behind(bytes: u64, kbps: u64, elapsed: Duration) -> Option<Duration> {
    if kbps == 0 {
        return None;
    }
    let due = Duration::from_secs_f64(bytes as f64 * 8.0 / (kbps as f64 * 1000.0));
    due.checked_sub(elapsed).filter(|d| !d.is_zero())
}

/// An error, as the programs print it.
pub type Failure = String;

/// `a/b` joined as remote paths (`b` absolute stays).
pub fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    if name.first() == Some(&b'/') || dir.is_empty() {
        return name.to_vec();
    }
    let mut p = dir.to_vec();
    if p.last() != Some(&b'/') {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

/// The last component of a path (`a/b/` is `b`).
pub fn basename(path: &[u8]) -> &[u8] {
    let trimmed = match path.iter().rposition(|&c| c != b'/') {
        Some(end) => path.get(..=end).unwrap_or(path),
        None => return path,
    };
    match trimmed.iter().rposition(|&c| c == b'/') {
        Some(i) => trimmed.get(i + 1..).unwrap_or(trimmed),
        None => trimmed,
    }
}

fn show(p: &[u8]) -> String {
    String::from_utf8_lossy(p).into_owned()
}

fn remote_err(path: &[u8], e: &SftpError) -> Failure {
    format!("{}: {e}", show(path))
}

fn local_err(path: &Path, e: &std::io::Error) -> Failure {
    format!("{}: {e}", path.display())
}

/// Downloads `remote` (a file, or with `-r` a tree) to `local`.
pub async fn download(
    s: &mut SftpSession,
    remote: &[u8],
    local: &Path,
    o: Options,
) -> Result<(), Failure> {
    let attrs = s.stat(remote).await.map_err(|e| remote_err(remote, &e))?;
    if attrs.is_dir() {
        if !o.recursive {
            return Err(format!("{}: not a regular file", show(remote)));
        }
        return Box::pin(download_dir(s, remote, local, &attrs, o)).await;
    }
    download_file(s, remote, local, &attrs, o).await
}

async fn download_dir(
    s: &mut SftpSession,
    remote: &[u8],
    local: &Path,
    attrs: &Attrs,
    o: Options,
) -> Result<(), Failure> {
    match fs::create_dir(local) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && local.is_dir() => {}
        Err(e) => return Err(local_err(local, &e)),
    }
    let entries = s.list(remote).await.map_err(|e| remote_err(remote, &e))?;
    let mut failed = None;
    for entry in entries {
        if entry.filename == b"." || entry.filename == b".." {
            continue;
        }
        let r = join(remote, &entry.filename);
        if entry.attrs.is_symlink() && !o.follow_links {
            eprintln!("{}: not a regular file", show(&r));
            continue;
        }
        let l = local.join(OsStr::from_bytes(&entry.filename));
        if let Err(e) = Box::pin(download(s, &r, &l, o)).await {
            eprintln!("{e}");
            failed = Some(e);
        }
    }
    if o.preserve {
        set_local_attrs(local, attrs).map_err(|e| local_err(local, &e))?;
    }
    failed.map_or(Ok(()), Err)
}

async fn download_file(
    s: &mut SftpSession,
    remote: &[u8],
    local: &Path,
    attrs: &Attrs,
    o: Options,
) -> Result<(), Failure> {
    let mode = attrs.permissions.unwrap_or(0o644) & 0o7777;
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(!o.resume)
        .mode(mode & 0o777)
        .open(local)
        .map_err(|e| local_err(local, &e))?;
    let offset = if o.resume {
        file.metadata().map_err(|e| local_err(local, &e))?.len()
    } else {
        0
    };
    let total = attrs.size.unwrap_or(0);
    if o.resume && offset > total {
        return Err(format!(
            "Unable to resume download of \"{}\": local file is larger than remote",
            show(remote)
        ));
    }
    let mut meter = Meter::new(&show(basename(remote)), total, offset, o.progress);
    let mut done = offset;
    let limiter = Limiter::new(o.limit_kbps, offset);
    let r = s
        .get(remote, &mut file, offset, &mut |n| {
            done = n;
            meter.update(n);
            limiter.pace(n);
        })
        .await;
    meter.finish(done);
    r.map_err(|e| remote_err(remote, &e))?;
    drop(file);
    if o.preserve {
        set_local_attrs(local, attrs).map_err(|e| local_err(local, &e))?;
    }
    Ok(())
}

fn set_local_attrs(local: &Path, attrs: &Attrs) -> std::io::Result<()> {
    if let Some(mode) = attrs.permissions {
        fs::set_permissions(local, fs::Permissions::from_mode(mode & 0o7777))?;
    }
    if let Some((atime, mtime)) = attrs.atime_mtime {
        let t = |s: u32| SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(s));
        let times = fs::FileTimes::new()
            .set_accessed(t(atime))
            .set_modified(t(mtime));
        // A directory opens read-only; set_times needs no write access.
        File::open(local)?.set_times(times)?;
    }
    Ok(())
}

/// Uploads `local` (a file, or with `-r` a tree) to `remote`.
pub async fn upload(
    s: &mut SftpSession,
    local: &Path,
    remote: &[u8],
    o: Options,
) -> Result<(), Failure> {
    let meta = fs::metadata(local).map_err(|e| local_err(local, &e))?;
    if meta.is_dir() {
        if !o.recursive {
            return Err(format!("{}: not a regular file", local.display()));
        }
        return Box::pin(upload_dir(s, local, remote, &meta, o)).await;
    }
    if !meta.is_file() {
        return Err(format!("{}: not a regular file", local.display()));
    }
    upload_file(s, local, remote, &meta, o).await
}

fn attrs_of(meta: &fs::Metadata) -> Attrs {
    let mut a = Attrs::new();
    a.permissions = Some(meta.mode() & 0o7777);
    let clamp = |t: i64| u32::try_from(t.max(0)).unwrap_or(u32::MAX);
    a.atime_mtime = Some((clamp(meta.atime()), clamp(meta.mtime())));
    a
}

async fn upload_dir(
    s: &mut SftpSession,
    local: &Path,
    remote: &[u8],
    meta: &fs::Metadata,
    o: Options,
) -> Result<(), Failure> {
    let mut mk = Attrs::new();
    mk.permissions = Some(meta.mode() & 0o777 | 0o700);
    if let Err(e) = s.mkdir(remote, mk).await {
        // It may be there already.
        match s.stat(remote).await {
            Ok(a) if a.is_dir() => {}
            _ => return Err(remote_err(remote, &e)),
        }
    }
    let mut names: Vec<PathBuf> = fs::read_dir(local)
        .map_err(|e| local_err(local, &e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    names.sort();
    let mut failed = None;
    for path in names {
        let Some(name) = path.file_name() else {
            continue;
        };
        if !o.follow_links
            && path
                .symlink_metadata()
                .is_ok_and(|m| m.file_type().is_symlink())
        {
            eprintln!("{}: not a regular file", path.display());
            continue;
        }
        let r = join(remote, name.as_bytes());
        if let Err(e) = Box::pin(upload(s, &path, &r, o)).await {
            eprintln!("{e}");
            failed = Some(e);
        }
    }
    if o.preserve {
        s.setstat(remote, attrs_of(meta))
            .await
            .map_err(|e| remote_err(remote, &e))?;
    }
    failed.map_or(Ok(()), Err)
}

async fn upload_file(
    s: &mut SftpSession,
    local: &Path,
    remote: &[u8],
    meta: &fs::Metadata,
    o: Options,
) -> Result<(), Failure> {
    let mut file = File::open(local).map_err(|e| local_err(local, &e))?;
    let offset = if o.resume {
        match s.stat(remote).await {
            Ok(a) => a.size.unwrap_or(0),
            Err(_) => 0,
        }
    } else {
        0
    };
    if offset > meta.len() {
        return Err(format!(
            "Unable to resume upload of \"{}\": remote file is larger than local",
            local.display()
        ));
    }
    let name = local.file_name().map_or_else(
        || local.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut meter = Meter::new(&name, meta.len(), offset, o.progress);
    let mut done = offset;
    let limiter = Limiter::new(o.limit_kbps, offset);
    let r = s
        .put(
            &mut file,
            remote,
            offset,
            Some(meta.mode() & 0o777),
            &mut |n| {
                done = n;
                meter.update(n);
                limiter.pace(n);
            },
        )
        .await;
    meter.finish(done);
    r.map_err(|e| remote_err(remote, &e))?;
    if o.preserve {
        s.setstat(remote, attrs_of(meta))
            .await
            .map_err(|e| remote_err(remote, &e))?;
    }
    Ok(())
}

/// Copies `src` on `from` (a file, or with `-r` a tree) to `dst` on
/// `to`, through this host (`scp -3`).
pub async fn crossload(
    from: &mut SftpSession,
    src: &[u8],
    to: &mut SftpSession,
    dst: &[u8],
    o: Options,
) -> Result<(), Failure> {
    let attrs = from.stat(src).await.map_err(|e| remote_err(src, &e))?;
    if attrs.is_dir() {
        if !o.recursive {
            return Err(format!("{}: not a regular file", show(src)));
        }
        return Box::pin(crossload_dir(from, src, to, dst, &attrs, o)).await;
    }
    let mode = attrs.permissions.unwrap_or(0o644) & 0o777;
    let mut meter = Meter::new(&show(basename(src)), attrs.size.unwrap_or(0), 0, o.progress);
    let mut done = 0;
    let limiter = Limiter::new(o.limit_kbps, 0);
    let r = ssh_client_kit::sftp::copy(from, src, to, dst, Some(mode), &mut |n| {
        done = n;
        meter.update(n);
        limiter.pace(n);
    })
    .await;
    meter.finish(done);
    r.map_err(|e| format!("{} -> {}: {e}", show(src), show(dst)))?;
    if o.preserve {
        to.setstat(dst, preserved(&attrs))
            .await
            .map_err(|e| remote_err(dst, &e))?;
    }
    Ok(())
}

async fn crossload_dir(
    from: &mut SftpSession,
    src: &[u8],
    to: &mut SftpSession,
    dst: &[u8],
    attrs: &Attrs,
    o: Options,
) -> Result<(), Failure> {
    let mut mk = Attrs::new();
    mk.permissions = Some(attrs.permissions.unwrap_or(0o755) & 0o777 | 0o700);
    if let Err(e) = to.mkdir(dst, mk).await {
        // It may be there already.
        match to.stat(dst).await {
            Ok(a) if a.is_dir() => {}
            _ => return Err(remote_err(dst, &e)),
        }
    }
    let mut entries = from.list(src).await.map_err(|e| remote_err(src, &e))?;
    entries.sort_by(|a, b| a.filename.cmp(&b.filename));
    let mut failed = None;
    for entry in entries {
        if entry.filename == b"." || entry.filename == b".." {
            continue;
        }
        let r = join(src, &entry.filename);
        if entry.attrs.is_symlink() && !o.follow_links {
            eprintln!("{}: not a regular file", show(&r));
            continue;
        }
        let d = join(dst, &entry.filename);
        if let Err(e) = Box::pin(crossload(from, &r, to, &d, o)).await {
            eprintln!("{e}");
            failed = Some(e);
        }
    }
    if o.preserve {
        to.setstat(dst, preserved(attrs))
            .await
            .map_err(|e| remote_err(dst, &e))?;
    }
    failed.map_or(Ok(()), Err)
}

/// What `-p` carries over from a remote file's attributes: the mode and
/// the times.
fn preserved(attrs: &Attrs) -> Attrs {
    let mut a = Attrs::new();
    a.permissions = attrs.permissions.map(|m| m & 0o7777);
    a.atime_mtime = attrs.atime_mtime;
    a
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(join(b"/a", b"b"), b"/a/b");
        assert_eq!(join(b"/a/", b"b"), b"/a/b");
        assert_eq!(join(b"/a", b"/b"), b"/b");
        assert_eq!(basename(b"a/b/"), b"b");
        assert_eq!(basename(b"b"), b"b");
        assert_eq!(basename(b"/"), b"/");
    }

    #[test]
    fn limit() {
        // 1000 Kbit/s is 125000 bytes a second.
        assert_eq!(
            behind(125_000, 1000, Duration::ZERO),
            Some(Duration::from_secs(1))
        );
        assert_eq!(behind(125_000, 1000, Duration::from_secs(2)), None);
        assert_eq!(behind(125_000, 0, Duration::ZERO), None);
    }
}
