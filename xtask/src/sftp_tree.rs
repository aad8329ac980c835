//! The tree the file-transfer rows copy up and back: a 1 GiB file (an old
//! mtime), an empty file (mode 640), names with spaces and with a line
//! break, a file of mode 750 two levels down, and a symlink. Trees are
//! compared by SHA-256 (read in pieces: 1 GiB is not held in memory),
//! mode and mtime.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use sha2::Digest;

use crate::bail;
use crate::binary_setup::{big_data, set_mode, text_data};
use crate::util::{Context, Result};

/// The old mtime `-p` must keep, on `big`.
pub(crate) const MTIME: i64 = 1_000_000_000;

/// The size of `big`.
pub(crate) const BIG_FILE: usize = 1 << 30;

/// The size of `big` for PuTTY's `pscp` and `psftp`. With 1 GiB (2 GiB
/// with the followed symlink) sid's pscp (0.85) slows down as it goes:
/// against OpenSSH's sshd it had sent 1.59 GB after 180 s. 512 MiB went up
/// and back in 10 s, but once in about ten runs trixie's pscp stalled past
/// 180 s against OpenSSH's own sshd (`pscp>sshd:tree`, the validation
/// row, with nothing of ours in it); 256 MiB. On a slower machine
/// bookworm's pscp and psftp then stalled past 180 s against sshd 9.2
/// (both twins, in one full run; pscp twice in a row): 64 MiB, and each
/// transfer gets up to three tries (see `peer_putty::run_big`).
pub(crate) const PUTTY_BIG_FILE: usize = 64 << 20;

/// The name with a line break.
pub(crate) const NEWLINE_NAME: &str = "new\nline";

/// Writes `big`: 1 MiB pieces of the shared random data, each starting
/// with its own index, so that a piece written at the wrong offset
/// changes the digest.
fn write_big(path: &Path, size: usize) -> Result<()> {
    const PIECE: usize = 1 << 20;
    let data = big_data();
    let mut f = std::io::BufWriter::with_capacity(PIECE, fs::File::create(path).context("big")?);
    let mut piece = vec![0u8; PIECE];
    for i in 0..size / PIECE {
        let start = (i * 4099) % (data.len() - PIECE);
        piece.copy_from_slice(data.get(start..start + PIECE).unwrap_or_default());
        if let Some(head) = piece.get_mut(..8) {
            head.copy_from_slice(&(i as u64).to_le_bytes());
        }
        f.write_all(&piece).context("writing big")?;
    }
    f.flush().context("writing big")
}

/// Makes the tree under `root`, `big` of `size` bytes (a multiple of
/// 1 MiB).
pub(crate) fn make_tree_of(root: &Path, size: usize) -> Result<()> {
    fs::create_dir_all(root.join("sub dir/deeper")).context("mkdir")?;
    write_big(&root.join("big"), size)?;
    fs::write(root.join("empty"), b"").context("empty")?;
    fs::write(root.join("sub dir/name with spaces"), text_data(10_000)).context("spaces")?;
    fs::write(root.join(NEWLINE_NAME), b"a name\nwith a line break\n").context("newline")?;
    fs::write(root.join("sub dir/deeper/x"), b"x").context("x")?;
    std::os::unix::fs::symlink("big", root.join("link")).context("symlink")?;
    set_mode(&root.join("empty"), 0o640)?;
    set_mode(&root.join("sub dir/deeper/x"), 0o750)?;
    let t = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(MTIME as u64);
    fs::File::options()
        .write(true)
        .open(root.join("big"))
        .and_then(|f| f.set_times(fs::FileTimes::new().set_modified(t).set_accessed(t)))
        .context("mtime")?;
    Ok(())
}

/// Makes the tree under `root` with a 1 GiB `big`.
pub(crate) fn make_tree(root: &Path) -> Result<()> {
    make_tree_of(root, BIG_FILE)
}

/// One entry of a digest: relative path, SHA-256 (or "dir"), mode, and
/// the mtime of files.
type Entry = (String, String, u32, i64);

fn file_sha256(path: &Path) -> Result<String> {
    let mut f = fs::File::open(path).context(format_args!("open {}", path.display()))?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .context(format_args!("read {}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(buf.get(..n).unwrap_or_default());
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Every entry under `root`, symlinks followed, sorted.
pub(crate) fn digest(root: &Path) -> Result<Vec<Entry>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<Entry>) -> Result<()> {
        for e in fs::read_dir(dir).context("read_dir")? {
            let path = e.context("entry")?.path();
            let m = fs::metadata(&path).context("stat")?;
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .display()
                .to_string();
            if m.is_dir() {
                out.push((rel, "dir".into(), m.mode() & 0o7777, 0));
                walk(root, &path, out)?;
            } else {
                out.push((rel, file_sha256(&path)?, m.mode() & 0o7777, m.mtime()));
            }
        }
        Ok(())
    }
    let mut v = Vec::new();
    walk(root, root, &mut v)?;
    v.sort();
    Ok(v)
}

/// `back` must equal `src`: every file's content, mode and mtime. With
/// `follow` the symlink came as a file (scp); else it was skipped (sftp's
/// `-r`, as OpenSSH's).
pub(crate) fn compare(src: &Path, back: &Path, follow: bool) -> Result<()> {
    compare_with(src, back, follow, true)
}

/// [`compare`]; without `mtimes`, mtimes are not compared (a client that
/// has no `-p`, such as PuTTY's `psftp`, which keeps modes only).
pub(crate) fn compare_with(src: &Path, back: &Path, follow: bool, mtimes: bool) -> Result<()> {
    let (mut want, mut got) = (digest(src)?, digest(back)?);
    if !follow {
        want.retain(|(p, ..)| p != "link");
    }
    if !mtimes {
        for e in want.iter_mut().chain(got.iter_mut()) {
            e.3 = 0;
        }
    }
    if want != got {
        bail!("trees differ:\n sent {want:?}\n back {got:?}");
    }
    if mtimes && !want.iter().any(|(p, _, _, t)| p == "big" && *t == MTIME) {
        bail!("big lost its mtime");
    }
    if !want.iter().any(|(p, ..)| p == NEWLINE_NAME) {
        bail!("the name with a line break is missing");
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_changed_byte_or_mode_is_a_difference() {
        let dir = std::env::temp_dir().join(format!("xtask-tree-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let (a, b) = (dir.join("a"), dir.join("b"));
        for root in [&a, &b] {
            fs::create_dir_all(root.join("d")).unwrap();
            fs::write(root.join("d/f"), b"same").unwrap();
        }
        assert_eq!(digest(&a).unwrap(), digest(&b).unwrap());
        fs::write(b.join("d/f"), b"samE").unwrap();
        assert_ne!(digest(&a).unwrap(), digest(&b).unwrap());
        fs::write(b.join("d/f"), b"same").unwrap();
        set_mode(&b.join("d/f"), 0o600).unwrap();
        set_mode(&a.join("d/f"), 0o644).unwrap();
        assert_ne!(digest(&a).unwrap(), digest(&b).unwrap());
        fs::remove_dir_all(&dir).unwrap();
    }
}
