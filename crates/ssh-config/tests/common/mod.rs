//! An in-memory [`Loader`]: a map from path to contents.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use ssh_config::Loader;

/// Files by absolute path; records every read and glob.
#[derive(Default)]
pub struct MapLoader {
    pub files: BTreeMap<PathBuf, String>,
    pub reads: Vec<PathBuf>,
    pub globs: Vec<PathBuf>,
}

impl MapLoader {
    pub fn with(files: &[(&str, &str)]) -> Self {
        Self {
            files: files
                .iter()
                .map(|(p, t)| (PathBuf::from(p), t.to_string()))
                .collect(),
            ..Self::default()
        }
    }
}

impl Loader for MapLoader {
    fn read(&mut self, path: &Path) -> io::Result<String> {
        self.reads.push(path.to_path_buf());
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }

    fn glob(&mut self, pattern: &Path) -> io::Result<Vec<PathBuf>> {
        self.globs.push(pattern.to_path_buf());
        let pat = pattern.display().to_string();
        let depth = pat.matches('/').count();
        // BTreeMap order is sorted order.
        Ok(self
            .files
            .keys()
            .filter(|p| {
                let s = p.display().to_string();
                s.matches('/').count() == depth && ssh_auth::pattern::wildcard_match(&s, &pat)
            })
            .cloned()
            .collect())
    }
}
