//! The sftp rows of `cargo xtask bench`: OpenSSH's `sftp` and our
//! `rsftp` in batch mode, `get FILE /dev/null` and `put FILE /dev/null`,
//! against `sshd` running OpenSSH's `sftp-server` and `rsshd` running
//! its `internal-sftp`. FILE is one sparse file of the transfer size in
//! the run's scratch directory (its holes read as zeros from memory, so
//! no disk is timed); both ends write to `/dev/null`.

use std::fs;
use std::path::Path;

use crate::bench_report::CipherRow;
use crate::util::{Context, Result};

/// `sshd`'s sftp subsystem: OpenSSH's server program.
pub(crate) const SSHD_SUBSYSTEM: &str = "Subsystem sftp /usr/lib/openssh/sftp-server";
/// `rsshd`'s: its own, in process.
pub(crate) const RSSHD_SUBSYSTEM: &str = "Subsystem sftp internal-sftp";

/// The batch files of the two sftp rows, as seen inside the image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SftpFiles {
    /// `get SOURCE /dev/null`.
    pub(crate) get_batch: String,
    /// `put SOURCE /dev/null`.
    pub(crate) put_batch: String,
}

/// Writes the sparse source file of `size` bytes and the batch files to
/// the scratch directory (`host` here, `peer` inside the image).
pub(crate) fn prepare(host: &Path, peer: &str, size: u64) -> Result<SftpFiles> {
    let source = host.join("sftp-source");
    let file = fs::File::create(&source).context(format_args!("creating {}", source.display()))?;
    file.set_len(size)
        .context(format_args!("sizing {}", source.display()))?;
    let peer_source = format!("{peer}/sftp-source");
    let mut batches = Vec::new();
    for (name, command) in [("sftp-get", "get"), ("sftp-put", "put")] {
        let path = host.join(name);
        fs::write(&path, format!("{command} {peer_source} /dev/null\n"))
            .context(format_args!("writing {}", path.display()))?;
        batches.push(format!("{peer}/{name}"));
    }
    let mut batches = batches.into_iter();
    Ok(SftpFiles {
        get_batch: batches.next().unwrap_or_default(),
        put_batch: batches.next().unwrap_or_default(),
    })
}

/// The command line of `program` (`sftp` or `rsftp`) running `batch`
/// with the bench's `ssh_config`, against `127.0.0.1:port`, with the
/// row's cipher (and MAC) as `-o` options, which both understand.
pub(crate) fn sftp_command(
    program: &str,
    config: &str,
    port: u16,
    cipher: CipherRow,
    batch: &str,
) -> String {
    let mut cmd = format!(
        "{program} -q -F {config} -P {port} -o Ciphers={}",
        cipher.cipher
    );
    if let Some(mac) = cipher.mac {
        cmd.push_str(" -o MACs=");
        cmd.push_str(mac);
    }
    cmd.push_str(" -b ");
    cmd.push_str(batch);
    cmd.push_str(" 127.0.0.1");
    cmd
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::bench_report::CIPHERS;

    #[test]
    fn batches_get_and_put_a_sparse_file_of_the_size() {
        let dir = std::env::temp_dir().join(format!("xtask-bench-sftp-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let files = prepare(&dir, "/var/tmp/x", 3 << 30).unwrap();
        let len = fs::metadata(dir.join("sftp-source")).unwrap().len();
        let get = fs::read_to_string(dir.join("sftp-get")).unwrap();
        let put = fs::read_to_string(dir.join("sftp-put")).unwrap();
        let blocks = {
            use std::os::unix::fs::MetadataExt as _;
            fs::metadata(dir.join("sftp-source")).unwrap().blocks()
        };
        let _ = fs::remove_dir_all(&dir);
        assert_eq!(len, 3 << 30);
        assert!(blocks < 1024, "not sparse: {blocks} blocks");
        assert_eq!(get, "get /var/tmp/x/sftp-source /dev/null\n");
        assert_eq!(put, "put /var/tmp/x/sftp-source /dev/null\n");
        assert_eq!(files.get_batch, "/var/tmp/x/sftp-get");
        assert_eq!(files.put_batch, "/var/tmp/x/sftp-put");
    }

    #[test]
    fn the_command_picks_the_cipher_and_mac_with_options() {
        let c = sftp_command("sftp", "/d/ssh_config", 2022, CIPHERS[1], "/d/sftp-get");
        assert_eq!(
            c,
            "sftp -q -F /d/ssh_config -P 2022 -o Ciphers=aes128-gcm@openssh.com \
             -b /d/sftp-get 127.0.0.1"
        );
        let c = sftp_command("rsftp", "/c", 1, CIPHERS[3], "/b");
        assert!(
            c.contains("-o Ciphers=aes128-ctr -o MACs=hmac-sha2-256-etm@openssh.com -b /b"),
            "{c}"
        );
    }
}
