//! The request log of `sftp-server -l LEVEL`: at INFO, what changes the
//! file system and every file closed with its byte counts; at VERBOSE
//! also directories opened and closed. The lines read as OpenSSH's
//! (`open "/p" flags WRITE,CREATE,TRUNCATE mode 0644`, `close "/p" bytes
//! read 0 written 5`), so log watchers written for sshd keep working.
//! The server only collects lines; its caller sends them (syslog, stderr).

use std::collections::{HashMap, VecDeque};

use crate::attrs::Attrs;
use crate::extensions::ExtendedRequest;
use crate::message::{Request, Response};
use crate::numbers::{OpenFlags, StatusCode};

/// sftp-server's `-l` levels, least to most verbose (DEBUG1-3 are DEBUG).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum LogLevel {
    /// Nothing.
    Quiet,
    /// Fatal errors.
    Fatal,
    /// Errors (sftp-server's default): no request is logged.
    #[default]
    Error,
    /// Changes to the file system and files closed.
    Info,
    /// Also directories opened and closed.
    Verbose,
    /// As VERBOSE (the server has no debug lines of its own).
    Debug,
}

impl LogLevel {
    /// A level by its `-l` name (`INFO`, `debug2`, ...).
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_uppercase().as_str() {
            "QUIET" => Self::Quiet,
            "FATAL" => Self::Fatal,
            "ERROR" => Self::Error,
            "INFO" => Self::Info,
            "VERBOSE" => Self::Verbose,
            "DEBUG" | "DEBUG1" | "DEBUG2" | "DEBUG3" => Self::Debug,
            _ => return None,
        })
    }
}

/// Lines kept for the caller at most; more are counted, not kept.
pub const MAX_LOG_LINES: usize = 1024;

/// A handle the log follows.
#[derive(Debug)]
struct Tracked {
    path: Vec<u8>,
    dir: bool,
    read: u64,
    written: u64,
}

/// What one request means for the log, worked out before it runs.
#[derive(Debug)]
pub(super) enum Note {
    Nothing,
    Line(LogLevel, String),
    /// An OPEN or OPENDIR: its line, and the handle it returns followed.
    Open {
        path: Vec<u8>,
        dir: bool,
        level: LogLevel,
        line: String,
    },
    Read(u64),
    Write(u64, u64),
    Close(u64),
}

/// The log of one session.
#[derive(Debug, Default)]
pub(super) struct RequestLog {
    level: LogLevel,
    lines: VecDeque<String>,
    dropped: u64,
    handles: HashMap<u64, Tracked>,
}

impl RequestLog {
    pub(super) fn new(level: LogLevel) -> Self {
        Self {
            level,
            ..Self::default()
        }
    }

    /// Whether requests are logged at all.
    pub(super) fn on(&self) -> bool {
        self.level >= LogLevel::Info
    }

    fn push(&mut self, level: LogLevel, line: String) {
        if level > self.level {
            return;
        }
        if self.lines.len() >= MAX_LOG_LINES {
            self.dropped = self.dropped.saturating_add(1);
            return;
        }
        self.lines.push_back(line);
    }

    /// The next line for the caller.
    pub(super) fn pop(&mut self) -> Option<String> {
        if let Some(line) = self.lines.pop_front() {
            return Some(line);
        }
        (self.dropped > 0).then(|| {
            let n = core::mem::take(&mut self.dropped);
            format!("{n} log lines dropped (more than {MAX_LOG_LINES} waiting)")
        })
    }

    /// A refused request.
    pub(super) fn refused(&mut self, name: &str) {
        self.push(
            LogLevel::Info,
            format!("Refusing denied {name} request (read-only or request lists)"),
        );
    }

    /// What `request` (paths already made absolute by `path`) will do.
    pub(super) fn note(request: &Request, path: impl Fn(&[u8]) -> Vec<u8>) -> Note {
        let q = |p: &[u8]| quoted(&path(p));
        let info = |s: String| Note::Line(LogLevel::Info, s);
        match request {
            Request::Open {
                filename,
                flags,
                attrs,
            } => {
                let p = path(filename);
                let line = format!(
                    "open {} flags {} mode 0{:o}",
                    quoted(&p),
                    flag_names(*flags),
                    attrs.permissions.unwrap_or(0o666) & 0o7777,
                );
                Note::Open {
                    path: p,
                    dir: false,
                    level: LogLevel::Info,
                    line,
                }
            }
            Request::Opendir { path: p } => {
                let p = path(p);
                let line = format!("opendir {}", quoted(&p));
                Note::Open {
                    path: p,
                    dir: true,
                    level: LogLevel::Verbose,
                    line,
                }
            }
            Request::Read { handle, .. } => key(&handle.0).map_or(Note::Nothing, Note::Read),
            Request::Write { handle, data, .. } => {
                key(&handle.0).map_or(Note::Nothing, |k| Note::Write(k, data.len() as u64))
            }
            Request::Close { handle } => key(&handle.0).map_or(Note::Nothing, Note::Close),
            Request::Remove { filename } => info(format!("remove name {}", q(filename))),
            Request::Rename { old_path, new_path } => {
                info(format!("rename old {} new {}", q(old_path), q(new_path)))
            }
            Request::Mkdir { path: p, attrs } => info(format!(
                "mkdir name {} mode 0{:o}",
                q(p),
                attrs.permissions.unwrap_or(0o777) & 0o7777
            )),
            Request::Rmdir { path: p } => info(format!("rmdir name {}", q(p))),
            Request::Setstat { path: p, attrs } => set_line(&q(p), attrs),
            Request::Symlink { target, link_path } => info(format!(
                "symlink old {} new {}",
                quoted(target),
                q(link_path)
            )),
            Request::Extended(ExtendedRequest::PosixRename { old_path, new_path }) => info(
                format!("posix-rename old {} new {}", q(old_path), q(new_path)),
            ),
            Request::Extended(ExtendedRequest::Hardlink { old_path, new_path }) => {
                info(format!("hardlink old {} new {}", q(old_path), q(new_path)))
            }
            Request::Extended(ExtendedRequest::Lsetstat { path: p, attrs }) => {
                set_line(&q(p), attrs)
            }
            _ => Note::Nothing,
        }
    }

    /// Records `note` once the request was answered with `response`.
    pub(super) fn done(&mut self, note: Note, response: &Response) {
        let ok = matches!(
            response,
            Response::Status {
                code: StatusCode::OK,
                ..
            }
        );
        match note {
            Note::Nothing => {}
            Note::Line(level, line) => self.push(level, line),
            Note::Open {
                path,
                dir,
                level,
                line,
            } => {
                self.push(level, line);
                if let Response::Handle(h) = response
                    && let Some(k) = key(&h.0)
                {
                    self.track(k, path, dir);
                }
            }
            Note::Read(k) => {
                if let (Some(t), Response::Data(d)) = (self.handles.get_mut(&k), response) {
                    t.read = t.read.saturating_add(d.len() as u64);
                }
            }
            Note::Write(k, n) => {
                if let Some(t) = self.handles.get_mut(&k).filter(|_| ok) {
                    t.written = t.written.saturating_add(n);
                }
            }
            Note::Close(k) => {
                if let Some(t) = self.handles.remove(&k) {
                    if t.dir {
                        self.push(LogLevel::Verbose, format!("closedir {}", quoted(&t.path)));
                    } else {
                        self.push(
                            LogLevel::Info,
                            format!(
                                "close {} bytes read {} written {}",
                                quoted(&t.path),
                                t.read,
                                t.written
                            ),
                        );
                    }
                }
            }
        }
    }

    /// Follows a handle the server issued (at most as many as it has open).
    fn track(&mut self, key: u64, path: Vec<u8>, dir: bool) {
        self.handles.insert(
            key,
            Tracked {
                path,
                dir,
                read: 0,
                written: 0,
            },
        );
    }
}

/// The key of a handle the server issued (its 8 bytes).
fn key(handle: &[u8]) -> Option<u64> {
    let bytes: [u8; 8] = handle.try_into().ok()?;
    Some(u64::from_be_bytes(bytes))
}

/// A path in double quotes, with control characters escaped, so a name
/// with a line break cannot forge a log line.
fn quoted(p: &[u8]) -> String {
    let mut s = String::from("\"");
    for c in String::from_utf8_lossy(p).chars() {
        if c.is_control() || c == '"' || c == '\\' {
            s.extend(c.escape_default());
        } else {
            s.push(c);
        }
    }
    s.push('"');
    s
}

/// OpenSSH's `string_from_portable`: the open flags by name.
fn flag_names(flags: OpenFlags) -> String {
    let names = [
        (OpenFlags::READ, "READ"),
        (OpenFlags::WRITE, "WRITE"),
        (OpenFlags::APPEND, "APPEND"),
        (OpenFlags::CREAT, "CREATE"),
        (OpenFlags::TRUNC, "TRUNCATE"),
        (OpenFlags::EXCL, "EXCL"),
    ];
    let set: Vec<&str> = names
        .iter()
        .filter(|(f, _)| flags.0 & f.0 != 0)
        .map(|(_, n)| *n)
        .collect();
    set.join(",")
}

/// SETSTAT's lines, one per attribute set, as OpenSSH logs them (the
/// first only: one line per request here).
fn set_line(path: &str, a: &Attrs) -> Note {
    let mut parts = Vec::new();
    if let Some(size) = a.size {
        parts.push(format!("size {size}"));
    }
    if let Some(mode) = a.permissions {
        parts.push(format!("mode 0{:o}", mode & 0o7777));
    }
    if let Some((_, mtime)) = a.atime_mtime {
        parts.push(format!("modtime {mtime}"));
    }
    if let Some((uid, gid)) = a.uid_gid {
        parts.push(format!("owner {uid} group {gid}"));
    }
    if parts.is_empty() {
        return Note::Nothing;
    }
    Note::Line(LogLevel::Info, format!("set {path} {}", parts.join(" ")))
}
