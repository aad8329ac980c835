//! `Include`: which files an argument names, read through the [`Loader`].

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::Loader;

/// The deepest nesting of Include, as OpenSSH's `READCONF_MAX_DEPTH`.
pub(crate) const MAX_DEPTH: usize = 16;

/// The files one Include argument names, with their contents, in order.
/// `~` needs `home`; a relative path is relative to `base`. A pattern
/// with wildcards goes through [`Loader::glob`]; a plain path that does
/// not exist names no file (as OpenSSH, whose glob finds nothing).
pub(crate) fn files(
    arg: &str,
    base: &Path,
    home: Option<&Path>,
    loader: &mut dyn Loader,
) -> Result<Vec<(PathBuf, String)>, String> {
    let expanded = if arg.starts_with('~') {
        let home = home.ok_or_else(|| format!("Include {arg}: ~ needs a home directory"))?;
        crate::tokens::tilde(arg, home)?
    } else {
        arg.to_string()
    };
    let path = base.join(&expanded);
    let paths = if expanded.contains(['*', '?', '[']) {
        loader
            .glob(&path)
            .map_err(|e| format!("Include {}: {e}", path.display()))?
    } else {
        vec![path]
    };
    let mut out = Vec::new();
    for p in paths {
        match loader.read(&p) {
            Ok(text) => out.push((p, text)),
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(format!("Include {}: {e}", p.display())),
        }
    }
    Ok(out)
}
