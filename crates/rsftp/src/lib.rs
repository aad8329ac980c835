//! `rsftp` and `rscp`: OpenSSH's `sftp` and `scp` (the SFTP-protocol
//! `scp` of OpenSSH 9.0+) over [`ssh_client_kit::sftp::SftpSession`],
//! connecting with `rssh`'s own code ([`rssh::connect`]).
//!
//! - [`scp`]: `host:path` operands, recursive copies, `-p`.
//! - [`sftp`]: the command interpreter, interactive and `-b` batch.
//! - [`transfer`]: file and tree transfers both use (and `-3`'s copies
//!   between two servers).
//! - [`glob`]: wildcards, remote and local.
//! - [`meter`]: the progress meter.

pub mod glob;
pub mod meter;
pub mod scp;
pub mod sftp;
mod shell;
pub mod transfer;

/// The `ssh` arguments for the connection options both programs share.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SshOptions {
    /// `-P`/`-p` port.
    pub port: Option<String>,
    /// `-i` files.
    pub identities: Vec<String>,
    /// `-o` options.
    pub options: Vec<String>,
    /// `-F` file.
    pub config: Option<String>,
    /// `-J` jump hosts.
    pub jump: Option<String>,
    /// `-v` count.
    pub verbose: usize,
}

impl SshOptions {
    /// The `rssh` argument list to reach `dest` (`[user@]host`).
    pub fn ssh_args(&self, dest: &str) -> Vec<std::ffi::OsString> {
        let mut a: Vec<String> = vec![
            "rssh".into(),
            "-oForwardAgent=no".into(),
            "-oForwardX11=no".into(),
            "-oClearAllForwardings=yes".into(),
        ];
        if let Some(p) = &self.port {
            a.push("-p".into());
            a.push(p.clone());
        }
        for i in &self.identities {
            a.push("-i".into());
            a.push(i.clone());
        }
        for o in &self.options {
            a.push("-o".into());
            a.push(o.clone());
        }
        if let Some(f) = &self.config {
            a.push("-F".into());
            a.push(f.clone());
        }
        if let Some(j) = &self.jump {
            a.push("-J".into());
            a.push(j.clone());
        }
        for _ in 0..self.verbose {
            a.push("-v".into());
        }
        a.push(dest.into());
        a.into_iter().map(Into::into).collect()
    }
}
