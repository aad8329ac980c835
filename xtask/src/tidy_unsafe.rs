//! Tidy checks of "unsafe code only in the OS crate":
//!
//! - no `unsafe` in code (comments and strings aside) in any workspace
//!   member but `crates/ssh-os` (its `src/`, `tests/`, `benches/`,
//!   `examples/`, build script: every `.rs` file of the package);
//! - every other member's manifest takes the workspace's lints (`[lints]
//!   workspace = true`, where `unsafe_code` is `forbid`, also checked) or
//!   sets `unsafe_code = "forbid"` itself, so the compiler keeps it so;
//! - every `unsafe` block in ssh-os has a `// SAFETY:` comment just above
//!   it (attributes may sit between; a blank line may not).
//!
//! `fuzz/` is outside the workspace and not checked.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::rust_code::{code_only, words};
use crate::tidy::Finding;
use crate::tidy_runtime::metadata;
use crate::util::Result;

/// The one crate allowed unsafe code.
pub const UNSAFE_CRATE: &str = "ssh-os";

/// Every line with `unsafe` as code.
pub fn check_unsafe_code(text: &str) -> Vec<Finding> {
    let code = code_only(text);
    code.lines()
        .zip(text.lines())
        .enumerate()
        .filter(|(_, (line, _))| words(line).iter().any(|(_, w)| *w == "unsafe"))
        .map(|(i, (_, raw))| (i + 1, format!("unsafe code: {}", raw.trim())))
        .collect()
}

/// Every `unsafe` block without a `// SAFETY:` comment just above the line
/// it starts on.
pub fn check_safety_comments(text: &str) -> Vec<Finding> {
    let code = code_only(text);
    let code_lines: Vec<&str> = code.lines().collect();
    let raw_lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (i, line) in code_lines.iter().enumerate() {
        for (col, word) in words(line) {
            if word != "unsafe" {
                continue;
            }
            // The next character of code after the keyword: `{` for a
            // block (`unsafe fn`, `unsafe impl`, `unsafe extern` are not).
            let after = line
                .chars()
                .skip(col + "unsafe".len())
                .chain(code_lines.iter().skip(i + 1).flat_map(|l| l.chars()))
                .find(|c| !c.is_whitespace());
            if after == Some('{') && !safety_comment_above(&raw_lines, i) {
                let raw = raw_lines.get(i).copied().unwrap_or("");
                found.push((
                    i + 1,
                    format!("unsafe block without `// SAFETY:` above: {}", raw.trim()),
                ));
            }
        }
    }
    found
}

/// Whether the lines right above line `i` (0-based), attributes skipped,
/// are `//` comments one of which says `SAFETY:`.
fn safety_comment_above(lines: &[&str], i: usize) -> bool {
    let above = lines
        .iter()
        .take(i)
        .rev()
        .map(|l| l.trim())
        .skip_while(|l| l.starts_with("#["));
    above.take_while(|l| l.starts_with("//")).any(|l| {
        l.trim_start_matches('/')
            .trim_start()
            .starts_with("SAFETY:")
    })
}

/// Whether a manifest forbids unsafe code: `[lints] workspace = true`
/// (also `lints.workspace = true`), or `unsafe_code = "forbid"` in
/// `[lints.rust]` (also `{ level = "forbid", .. }`).
pub fn manifest_forbids_unsafe(text: &str) -> bool {
    let mut table = String::new();
    for raw in text.lines() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.starts_with('[') {
            table = line
                .trim_matches(|c| c == '[' || c == ']')
                .replace([' ', '"'], "");
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.replace([' ', '"'], "");
        let full = if table.is_empty() {
            key
        } else {
            format!("{table}.{key}")
        };
        let value = value.replace(' ', "");
        match full.as_str() {
            "lints.workspace" if value == "true" => return true,
            "lints.rust.unsafe_code" if value.contains("\"forbid\"") => return true,
            _ => {}
        }
    }
    false
}

/// Whether the workspace manifest's `[workspace.lints.rust]` forbids
/// unsafe code.
pub fn workspace_forbids_unsafe(text: &str) -> bool {
    let mut in_rust = false;
    for raw in text.lines() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.starts_with('[') {
            in_rust = line.replace(' ', "") == "[workspace.lints.rust]";
            continue;
        }
        if in_rust
            && let Some((key, value)) = line.split_once('=')
            && key.trim() == "unsafe_code"
            && value.contains("\"forbid\"")
        {
            return true;
        }
    }
    false
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        let hidden_or_target = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.') || n == "target");
        if path.is_dir() && !hidden_or_target {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The workspace members: (name, package directory).
pub fn members(root: &Path) -> Result<Vec<(String, PathBuf)>> {
    let meta = metadata(root)?;
    let empty = Vec::new();
    let mut out: Vec<(String, PathBuf)> = meta
        .get("packages")
        .and_then(Value::as_array)
        .unwrap_or(&empty)
        .iter()
        .filter_map(|p| {
            let name = p.get("name").and_then(Value::as_str)?.to_owned();
            let dir = Path::new(p.get("manifest_path").and_then(Value::as_str)?)
                .parent()?
                .to_path_buf();
            Some((name, dir))
        })
        .collect();
    out.sort();
    Ok(out)
}

/// Every violation in the workspace at `root`, as `path:line: message`.
pub fn violations(root: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let rel = |p: &Path| p.strip_prefix(root).unwrap_or(p).display().to_string();
    let workspace = fs::read_to_string(root.join("Cargo.toml")).unwrap_or_default();
    if !workspace_forbids_unsafe(&workspace) {
        out.push("Cargo.toml: [workspace.lints.rust] must set unsafe_code = \"forbid\"".to_owned());
    }
    for (name, dir) in members(root)? {
        let mut files = Vec::new();
        rust_files(&dir, &mut files);
        if name == UNSAFE_CRATE {
            for file in files {
                let text = fs::read_to_string(&file).unwrap_or_default();
                for (line, msg) in check_safety_comments(&text) {
                    out.push(format!("{}:{line}: {msg}", rel(&file)));
                }
            }
            continue;
        }
        let manifest = dir.join("Cargo.toml");
        if !manifest_forbids_unsafe(&fs::read_to_string(&manifest).unwrap_or_default()) {
            out.push(format!(
                "{}: neither `[lints] workspace = true` nor `unsafe_code = \"forbid\"` \
                 (only {UNSAFE_CRATE} may have unsafe code)",
                rel(&manifest)
            ));
        }
        for file in files {
            let text = fs::read_to_string(&file).unwrap_or_default();
            for (line, msg) in check_unsafe_code(&text) {
                out.push(format!(
                    "{}:{line}: {msg} (only {UNSAFE_CRATE} may have unsafe code)",
                    rel(&file)
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_code_only_in_ssh_os_with_safety_comments() {
        let root = crate::util::workspace_root();
        let members = members(&root).unwrap_or_else(|e| panic!("{e}"));
        for krate in [UNSAFE_CRATE, "ssh-async", "xtask", "tokio-client"] {
            assert!(members.iter().any(|(n, _)| n == krate), "{members:?}");
        }
        let found = violations(&root).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            found.is_empty(),
            "unsafe code only in {UNSAFE_CRATE}, with SAFETY comments (see ARCHITECTURE.md):\n{}",
            found.join("\n")
        );
    }

    #[test]
    fn unsafe_checker_finds_code_not_comments_or_strings() {
        let src = "\
// unsafe in a comment; /// and //! too
/// Calling this is not unsafe.
let s = \"unsafe { }\";
#![forbid(unsafe_code)]
let x = unsafe { f() };
#[unsafe(no_mangle)]
unsafe impl Send for X {}
/* unsafe */ fn g() {}
";
        let found = check_unsafe_code(src);
        let lines: Vec<usize> = found.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [5, 6, 7], "{found:?}");
    }

    #[test]
    fn safety_checker_finds_blocks_without_a_comment_just_above() {
        let src = "\
fn a() {
    // SAFETY: fine.
    unsafe { f() }
}
fn b() {
    // Not a safety argument.
    unsafe { f() }
}
fn c() {
    // SAFETY: too far away.

    let x = unsafe {
        f()
    };
}
// SAFETY: the caller's job (not a block: not checked).
unsafe fn d() {
    // SAFETY: one line
    // of several.
    #[allow(unused_unsafe)]
    unsafe
    {
        f()
    }
    let s = \"unsafe {\";
    g(unsafe { f() });
}
";
        let found = check_safety_comments(src);
        let lines: Vec<usize> = found.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [7, 12, 26], "{found:?}");
    }

    #[test]
    fn manifest_checker_wants_the_workspace_lints_or_forbid() {
        assert!(manifest_forbids_unsafe(
            "[package]\nname = \"a\"\n\n[lints]\nworkspace = true\n"
        ));
        assert!(manifest_forbids_unsafe(
            "[lints.rust]\nunsafe_code = \"forbid\"\n"
        ));
        assert!(manifest_forbids_unsafe(
            "[lints.rust]\nunsafe_code = { level = \"forbid\", priority = 1 }\n"
        ));
        assert!(manifest_forbids_unsafe(
            "lints.workspace = true\n[package]\n"
        ));
        // ssh-os's own table (deny is not forbid), no lints at all, a
        // commented-out line, workspace = false.
        assert!(!manifest_forbids_unsafe(
            "[lints.rust]\nunsafe_code = \"deny\"\nmissing_docs = \"warn\"\n"
        ));
        assert!(!manifest_forbids_unsafe("[package]\nname = \"a\"\n"));
        assert!(!manifest_forbids_unsafe("[lints]\n# workspace = true\n"));
        assert!(!manifest_forbids_unsafe("[lints]\nworkspace = false\n"));
        assert!(!manifest_forbids_unsafe(
            "[package]\nworkspace = true\n[lints.clippy]\nunsafe_code = \"forbid\"\n"
        ));
        assert!(workspace_forbids_unsafe(
            "[workspace.lints.rust]\nunsafe_code = \"forbid\"\n"
        ));
        assert!(!workspace_forbids_unsafe(
            "[workspace.lints.rust]\nunsafe_code = \"warn\"\n[x]\nunsafe_code = \"forbid\"\n"
        ));
    }
}
