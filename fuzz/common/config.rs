//! A `Loader` for the config targets: every file it reads holds the same
//! text (the part of the input after its first NUL byte), and every glob
//! matches two files, so that Include, its recursion bound and its glob
//! expansion are reached.

use std::io;
use std::path::{Path, PathBuf};

pub struct OneFile(pub String);

impl ssh_config::Loader for OneFile {
    fn read(&mut self, _path: &Path) -> io::Result<String> {
        Ok(self.0.clone())
    }
    fn glob(&mut self, pattern: &Path) -> io::Result<Vec<PathBuf>> {
        let dir = pattern.parent().unwrap_or(Path::new("/"));
        Ok(vec![dir.join("a.conf"), dir.join("b.conf")])
    }
}

/// The main text and the included text, if the input is UTF-8.
pub fn split(data: &[u8]) -> Option<(&str, &str)> {
    let text = std::str::from_utf8(data).ok()?;
    Some(text.split_once('\0').unwrap_or((text, "")))
}
