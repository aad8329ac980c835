//! Tidy checks of the architecture invariant "protocol crates do no I/O":
//! every crate under `crates/` except the async crate and the binaries
//! must not depend on an async runtime, and its `src/` must not name
//! sockets, files, threads or the clock. `tests/` and `benches/` may.
//!
//! The source check is textual: it reads `src/` line by line, ignoring `//`
//! comments. Unit-test modules are exempt (they need a clock to make an
//! `Instant` to pass in): a file named `tests.rs`, and the rest of a file
//! from a `#[cfg(test)]` line that opens a `mod` (the project's convention
//! puts the test module last).
//!
//! The other tidy checks are beside this one: [`crate::tidy_runtime`] (the
//! async library's runtime and dependencies, PAM kept out of rssh) and
//! [`crate::tidy_unsafe`] (unsafe code only in ssh-os).

use std::fs;
use std::path::{Path, PathBuf};

/// Crates under `crates/` that may do I/O.
pub const IO_CRATES: [&str; 7] = [
    "ssh-async",
    "ssh-os",
    "ssh-server-kit",
    "ssh-client-kit",
    "rssh",
    "rsshd",
    "rsftp",
];

/// Async runtimes a protocol crate must not depend on.
pub const FORBIDDEN_DEPS: [&str; 5] = ["async-std", "tokio", "smol", "async-io", "async-executor"];

/// Paths a protocol crate's `src/` must not mention.
pub const FORBIDDEN_PATHS: [&str; 10] = [
    "std::net",
    "std::fs",
    "std::thread",
    "Instant::now",
    "SystemTime::now",
    "tokio::",
    "async_std::",
    "smol::",
    "async_io::",
    "async_executor::",
];

/// One finding: 1-based line number and what is wrong.
pub type Finding = (usize, String);

/// Whether `name` is an async runtime crate (or one of its companions,
/// as `tokio-util`).
pub fn is_forbidden_dep(name: &str) -> bool {
    FORBIDDEN_DEPS
        .iter()
        .any(|f| name == *f || name.starts_with(&format!("{f}-")))
}

/// Checks a `Cargo.toml`: any dependency section naming a forbidden
/// runtime (directly, as `[dependencies.x]`, or through `package = "x"`).
pub fn check_manifest(text: &str) -> Vec<Finding> {
    let mut found = Vec::new();
    let mut in_deps = false;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.starts_with('[') {
            let header = line.trim_matches(|c| c == '[' || c == ']').trim();
            in_deps = header.ends_with("dependencies");
            if let Some((_, name)) = header.rsplit_once("dependencies.")
                && is_forbidden_dep(name.trim_matches('"'))
            {
                found.push((i + 1, format!("depends on {name}")));
            }
            continue;
        }
        if !in_deps || line.is_empty() {
            continue;
        }
        let key = line
            .split(['=', '.'])
            .next()
            .unwrap_or("")
            .trim()
            .trim_matches('"');
        if is_forbidden_dep(key) {
            found.push((i + 1, format!("depends on {key}")));
        }
        if let Some((_, rest)) = line.split_once("package")
            && let Some(name) = rest.split('"').nth(1)
            && is_forbidden_dep(name)
        {
            found.push((i + 1, format!("depends on {name} (renamed)")));
        }
    }
    found
}

/// Checks Rust source: any line (outside `//` comments) naming a forbidden
/// path, or importing `net`, `fs` or `thread` from `std::{...}`.
pub fn check_source(text: &str) -> Vec<Finding> {
    let mut found = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (i, raw) in lines.iter().enumerate() {
        if raw.trim() == "#[cfg(test)]" {
            let next = lines
                .iter()
                .skip(i + 1)
                .map(|l| l.trim())
                .find(|l| !l.is_empty() && !l.starts_with("#["));
            if next.is_some_and(|l| l.starts_with("mod ")) {
                break;
            }
        }
        let code = raw.split("//").next().unwrap_or("");
        for pat in FORBIDDEN_PATHS {
            if code.contains(pat) {
                found.push((i + 1, format!("`{pat}`: {}", raw.trim())));
            }
        }
        if let Some((_, group)) = code.split_once("std::{") {
            let group = group.split('}').next().unwrap_or("");
            for item in group.split(',') {
                let head = item.trim().split("::").next().unwrap_or("").trim();
                if ["net", "fs", "thread"].contains(&head) {
                    found.push((i + 1, format!("`std::{head}`: {}", raw.trim())));
                }
            }
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The protocol crates of the workspace at `root`.
pub fn protocol_crates(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(root.join("crates")) else {
        return Vec::new();
    };
    let mut crates: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("Cargo.toml").is_file())
        .filter(|p| {
            p.file_name()
                .is_none_or(|n| !IO_CRATES.iter().any(|c| n == *c))
        })
        .collect();
    crates.sort();
    crates
}

/// A unit-test module file, by its path relative to `src/`: `tests.rs`,
/// or any file under a `tests/` directory (a test module split in files).
fn is_unit_test_file(file: &Path) -> bool {
    file.file_name().is_some_and(|n| n == "tests.rs")
        || file
            .parent()
            .is_some_and(|d| d.components().any(|c| c.as_os_str() == "tests"))
}

/// Every violation in the workspace at `root`, as `path:line: message`.
pub fn violations(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let rel = |p: &Path| p.strip_prefix(root).unwrap_or(p).display().to_string();
    for krate in protocol_crates(root) {
        let manifest = krate.join("Cargo.toml");
        let text = fs::read_to_string(&manifest).unwrap_or_default();
        for (line, msg) in check_manifest(&text) {
            out.push(format!("{}:{line}: {msg}", rel(&manifest)));
        }
        let mut files = Vec::new();
        rust_files(&krate.join("src"), &mut files);
        let src = krate.join("src");
        for file in files {
            if is_unit_test_file(file.strip_prefix(&src).unwrap_or(&file)) {
                continue;
            }
            let text = fs::read_to_string(&file).unwrap_or_default();
            for (line, msg) in check_source(&text) {
                out.push(format!("{}:{line}: {msg}", rel(&file)));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_crates_do_no_io() {
        let root = crate::util::workspace_root();
        let crates = protocol_crates(&root);
        assert!(
            crates.iter().any(|c| c.ends_with("ssh-wire")),
            "the scan found no protocol crate under {}",
            root.display()
        );
        let found = violations(&root);
        assert!(
            found.is_empty(),
            "protocol crates must do no I/O (see ARCHITECTURE.md):\n{}",
            found.join("\n")
        );
    }

    #[test]
    fn source_checker_finds_io_and_clock_outside_comments() {
        let src = "\
use std::net::TcpStream;
// std::fs is only mentioned in this comment
let t = std::time::Instant::now(); // the clock
use std::{io, fs::File};
let x = 1; /// Instant is fine as a type: Instant
std::thread::spawn(|| ());
";
        let found = check_source(src);
        let lines: Vec<usize> = found.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [1, 3, 4, 6], "{found:?}");
        assert!(found.iter().any(|(_, m)| m.contains("`std::fs`")));
        assert!(check_source("fn f(now: Instant) {}\nuse std::time::Duration;\n").is_empty());
        // The test module at the end of a file is exempt; a cfg(test) item
        // that is not a module is not.
        let with_tests =
            "fn f() {}\n#[cfg(test)]\n#[allow(x)]\nmod tests {\n let t = Instant::now();\n}\n";
        assert!(check_source(with_tests).is_empty());
        let item = "#[cfg(test)]\nfn g() { Instant::now(); }\n";
        assert_eq!(check_source(item).len(), 1);
    }

    #[test]
    fn manifest_checker_finds_runtimes_in_any_dependency_table() {
        let toml = "\
[package]
name = \"tokio\"

[dependencies]
ssh-wire.workspace = true
tokio = { version = \"1\" }

[dev-dependencies]
rt = { package = \"async-std\", version = \"1\" }

[target.'cfg(unix)'.dependencies]
smol.workspace = true

[dependencies.tokio-util]
version = \"0.7\"
";
        let found = check_manifest(toml);
        let lines: Vec<usize> = found.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [6, 9, 12, 14], "{found:?}");
        assert!(check_manifest("[dependencies]\nfutures.workspace = true\n").is_empty());
    }

    #[test]
    fn unit_test_files_are_exempt_and_nothing_else() {
        assert!(is_unit_test_file(Path::new("transport/tests.rs")));
        assert!(is_unit_test_file(Path::new("transport/tests/mod.rs")));
        assert!(is_unit_test_file(Path::new("transport/tests/lending.rs")));
        assert!(!is_unit_test_file(Path::new("transport/input.rs")));
        assert!(!is_unit_test_file(Path::new("testsuite.rs")));
    }

    #[test]
    fn io_crates_are_exempt() {
        let dir = std::env::temp_dir().join(format!("xtask-tidy-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        for name in ["ssh-async", "ssh-proto"] {
            let src = dir.join("crates").join(name).join("src");
            fs::create_dir_all(&src).unwrap_or_default();
            fs::write(
                dir.join("crates").join(name).join("Cargo.toml"),
                "[package]\n",
            )
            .unwrap_or_default();
            fs::write(src.join("lib.rs"), "use std::net::TcpStream;\n").unwrap_or_default();
        }
        let found = violations(&dir);
        let _ = fs::remove_dir_all(&dir);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found
                .iter()
                .all(|f| f.starts_with("crates/ssh-proto/src/lib.rs:1:"))
        );
    }
}
