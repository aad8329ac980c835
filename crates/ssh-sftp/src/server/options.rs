//! The server's options, those of OpenSSH's `sftp-server`/`internal-sftp`
//! that a sans-IO server can honour.

use crate::message::Request;

/// The default bound on open handles per session. OpenSSH allows as many as
/// its file descriptor limit less five (typically 1019); a server with many
/// sessions in one process wants a smaller, fixed number.
pub const DEFAULT_MAX_HANDLES: usize = 256;

/// How a [`crate::Server`] behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
    /// `-R`: refuse every request that could change the file system, with
    /// PERMISSION_DENIED.
    pub read_only: bool,
    /// `-p`: when set, only these requests (by OpenSSH's names, see
    /// [`Request::name`]) are answered; others get PERMISSION_DENIED.
    pub allowed_requests: Option<Vec<String>>,
    /// `-P`: these requests get PERMISSION_DENIED.
    pub denied_requests: Vec<String>,
    /// `-d`: relative paths are taken from this directory (OpenSSH changes
    /// into it); `None` passes them to the file system unchanged.
    pub start_directory: Option<Vec<u8>>,
    /// `-u`: masks the permissions of created files and directories; `None`
    /// leaves them to the file system (whose process umask applies).
    pub umask: Option<u32>,
    /// Open handles allowed at once; another OPEN or OPENDIR fails.
    pub max_handles: usize,
    /// `-l`: which requests go to the log ([`crate::Server::poll_log`]).
    pub log_level: super::LogLevel,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            read_only: false,
            allowed_requests: None,
            denied_requests: Vec::new(),
            start_directory: None,
            umask: None,
            max_handles: DEFAULT_MAX_HANDLES,
            log_level: super::LogLevel::default(),
        }
    }
}

impl ServerOptions {
    /// Splits an `-p`/`-P` argument ("open,read,close") into names.
    pub fn request_list(arg: &str) -> Vec<String> {
        arg.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// Whether the request may run, in OpenSSH's order
    /// (`request_permitted`): read-only first, then the deny list, then the
    /// allow list.
    pub fn permits(&self, request: &Request) -> bool {
        if self.read_only && request.writes() {
            return false;
        }
        let Some(name) = request.name() else {
            return true;
        };
        if self.denied_requests.iter().any(|n| n == name) {
            return false;
        }
        match &self.allowed_requests {
            Some(allowed) => allowed.iter().any(|n| n == name),
            None => true,
        }
    }
}
