//! Small shared pieces: the error type, paths of the workspace, running
//! commands.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// An error of a task: a message for the person running it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

/// The result type of every task.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<String> for Error {
    fn from(text: String) -> Self {
        Self(text)
    }
}

impl From<&str> for Error {
    fn from(text: &str) -> Self {
        Self(text.to_owned())
    }
}

/// Adds what was being done to an error.
pub trait Context<T> {
    /// Prefixes the error with `what`.
    fn context(self, what: impl fmt::Display) -> Result<T>;
}

impl<T, E: fmt::Display> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl fmt::Display) -> Result<T> {
        self.map_err(|e| Error(format!("{what}: {e}")))
    }
}

/// Returns early with an error built like `format!`.
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err($crate::util::Error(format!($($arg)*)))
    };
}

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// `target/` of the workspace: where images and captures are cached. It is
/// the workspace's own `target/`, not `CARGO_TARGET_DIR`, so that every
/// build directory shares one set of images.
pub fn workspace_target() -> PathBuf {
    workspace_root().join("target")
}

/// Runs a command to completion, capturing its output; an error if it could
/// not be started.
pub fn output(cmd: &mut Command) -> Result<Output> {
    cmd.output()
        .context(format_args!("cannot run {}", describe(cmd)))
}

/// Runs a command, capturing its output; an error if it failed.
pub fn checked_output(cmd: &mut Command) -> Result<Output> {
    let out = output(cmd)?;
    if !out.status.success() {
        bail!(
            "{} failed ({}):\n{}",
            describe(cmd),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(out)
}

/// The command line of `cmd`, for messages.
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        s.push(' ');
        let arg = arg.to_string_lossy();
        if arg.contains(' ') || arg.is_empty() {
            s.push('\'');
            s.push_str(&arg);
            s.push('\'');
        } else {
            s.push_str(&arg);
        }
    }
    s
}

/// Whether an executable named `program` is on `PATH` (or is a path that
/// exists).
pub fn have_program(program: &str) -> bool {
    if program.contains('/') {
        return Path::new(program).is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}

/// Whether this process runs as root (effective uid 0), asked of `id -u`
/// because the standard library has no getuid and unsafe code is forbidden.
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.status.success() && o.stdout.trim_ascii() == b"0")
}

/// Formats a duration in seconds with one decimal.
pub fn secs(d: std::time::Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_quotes_arguments_with_spaces() {
        let mut cmd = Command::new("mmdebstrap");
        cmd.args(["--aptopt=Acquire::Check-Valid-Until \"false\"", "sid", ""]);
        assert_eq!(
            describe(&cmd),
            "mmdebstrap '--aptopt=Acquire::Check-Valid-Until \"false\"' sid ''"
        );
    }

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        let root = workspace_root();
        assert!(root.join("Cargo.toml").is_file());
        assert!(root.join("xtask").is_dir());
    }

    #[test]
    fn context_prefixes_errors() {
        let r: std::result::Result<(), &str> = Err("boom");
        assert_eq!(r.context("doing x"), Err(Error("doing x: boom".to_owned())));
    }
}
