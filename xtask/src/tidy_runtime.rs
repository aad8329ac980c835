//! Tidy checks of the async library's invariants ("runtime injected, no
//! PAM, no system libraries"), and of what reaches `rssh`:
//!
//! - `crates/ssh-async/src` names no `async_std`, `tokio` or `smol` path
//!   outside `src/runtime/` (comments and strings do not count; test
//!   modules do), and its manifest depends on those runtimes only as
//!   optional dependencies, which only its features turn on;
//! - ssh-async's manifest has no direct `libc` dependency, and its normal
//!   dependency tree (default features) has no `pam*` crate and no `nix`;
//! - `rssh`'s normal dependency tree has no `pam*` crate: the client builds
//!   without libpam (only rsshd's `pam` feature of ssh-os links it).
//!
//! The trees come from `cargo tree` (the cargo running the tests), which
//! reads `Cargo.lock` and builds nothing.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::bail;
use crate::rust_code::{code_only, words};
use crate::tidy::{Finding, is_forbidden_dep};
use crate::util::{self, Context, Result};

/// The runtimes' crate names as they appear in paths.
pub const RUNTIME_PATHS: [&str; 5] = ["async_std", "tokio", "smol", "async_io", "async_executor"];

/// The cargo running this task or these tests.
pub fn cargo(root: &Path) -> Command {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root);
    cmd
}

/// `cargo metadata --no-deps` of the workspace at `root`.
pub fn metadata(root: &Path) -> Result<Value> {
    let mut cmd = cargo(root);
    cmd.args(["metadata", "--format-version", "1", "--no-deps"]);
    let out = util::checked_output(&mut cmd)?;
    serde_json::from_slice(&out.stdout).context("cargo metadata's output")
}

/// The package `name` of a `cargo metadata` answer.
pub fn package<'a>(meta: &'a Value, name: &str) -> Option<&'a Value> {
    meta.get("packages")
        .and_then(Value::as_array)?
        .iter()
        .find(|p| p.get("name").and_then(Value::as_str) == Some(name))
}

/// `cargo tree -p <package> -e normal --prefix none` (default features,
/// this machine's target): its standard output.
pub fn cargo_tree(root: &Path, package: &str) -> Result<String> {
    let mut cmd = cargo(root);
    cmd.args(["tree", "-p", package, "-e", "normal", "--prefix", "none"]);
    let out = util::checked_output(&mut cmd)?;
    String::from_utf8(out.stdout).context("cargo tree's output")
}

/// The crate names of a `cargo tree --prefix none` listing, sorted, each
/// once.
pub fn tree_crates(tree: &str) -> Vec<String> {
    let mut names: Vec<String> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Whether `name` is a PAM crate (`pam`, `pam-sys`, `pam-client2`, ...).
pub fn is_pam(name: &str) -> bool {
    name.starts_with("pam")
}

/// The crates of `tree` that `forbidden` matches.
pub fn forbidden_in_tree(tree: &str, forbidden: impl Fn(&str) -> bool) -> Vec<String> {
    tree_crates(tree)
        .into_iter()
        .filter(|n| forbidden(n))
        .collect()
}

/// Checks Rust source of ssh-async outside its runtime module: any
/// `async_std`, `tokio` or `smol` word in code (a path, a `use`, an
/// `extern crate`), comments and strings (`feature = "tokio"`) aside.
pub fn check_runtime_paths(text: &str) -> Vec<Finding> {
    let code = code_only(text);
    let mut found = Vec::new();
    for (i, (line, raw)) in code.lines().zip(text.lines()).enumerate() {
        for (_, word) in words(line) {
            if RUNTIME_PATHS.contains(&word) {
                found.push((
                    i + 1,
                    format!("`{word}` outside src/runtime/: {}", raw.trim()),
                ));
            }
        }
    }
    found
}

/// Checks ssh-async's package (from `cargo metadata`): a runtime is an
/// optional normal dependency (so only a feature turns it on), never a
/// plain, dev or build dependency; and no direct `libc`.
pub fn check_async_manifest(pkg: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let empty = Vec::new();
    for dep in pkg
        .get("dependencies")
        .and_then(Value::as_array)
        .unwrap_or(&empty)
    {
        let name = dep.get("name").and_then(Value::as_str).unwrap_or("");
        let kind = dep.get("kind").and_then(Value::as_str).unwrap_or("normal");
        let optional = dep
            .get("optional")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if is_forbidden_dep(name) {
            if kind != "normal" {
                found.push(format!("{name} is a {kind}-dependency"));
            } else if !optional {
                found.push(format!(
                    "{name} is not optional (a feature must turn it on)"
                ));
            }
        }
        if name == "libc" {
            found.push(format!("libc is a direct {kind} dependency"));
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

/// Runtime paths in `crates/ssh-async/src` outside `src/runtime/` of the
/// workspace at `root`, as `path:line: message`.
pub fn runtime_path_violations(root: &Path) -> Vec<String> {
    let src = root.join("crates/ssh-async/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut out = Vec::new();
    for file in files {
        if file.starts_with(src.join("runtime")) {
            continue;
        }
        let text = fs::read_to_string(&file).unwrap_or_default();
        let rel = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .display()
            .to_string();
        for (line, msg) in check_runtime_paths(&text) {
            out.push(format!("{rel}:{line}: {msg}"));
        }
    }
    out
}

/// Every violation of this module's invariants in the workspace at `root`
/// (runs `cargo metadata` and `cargo tree`).
pub fn violations(root: &Path) -> Result<Vec<String>> {
    let mut out = runtime_path_violations(root);
    let meta = metadata(root)?;
    let Some(pkg) = package(&meta, "ssh-async") else {
        bail!("cargo metadata lists no ssh-async package");
    };
    out.extend(
        check_async_manifest(pkg)
            .into_iter()
            .map(|m| format!("crates/ssh-async/Cargo.toml: {m}")),
    );
    let tree = cargo_tree(root, "ssh-async")?;
    for name in forbidden_in_tree(&tree, |n| is_pam(n) || n == "nix") {
        out.push(format!("ssh-async's dependency tree has {name}"));
    }
    let tree = cargo_tree(root, "rssh")?;
    for name in forbidden_in_tree(&tree, is_pam) {
        out.push(format!(
            "rssh's dependency tree has {name} (rssh must build without libpam)"
        ));
    }
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::panic)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        util::workspace_root()
    }

    #[test]
    fn ssh_async_names_no_runtime_outside_its_runtime_module() {
        let root = root();
        assert!(
            root.join("crates/ssh-async/src/runtime").is_dir(),
            "no crates/ssh-async/src/runtime/ under {}",
            root.display()
        );
        let found = runtime_path_violations(&root);
        assert!(
            found.is_empty(),
            "ssh-async names a runtime outside src/runtime/ (see ARCHITECTURE.md):\n{}",
            found.join("\n")
        );
    }

    #[test]
    fn ssh_async_depends_on_runtimes_only_through_features_and_not_on_libc() {
        // libc still reaches ssh-async, but only through getrandom (the
        // RNG of the crypto crates) and the runtime the features choose
        // (async-io, tokio): the library itself calls no C.
        let meta = metadata(&root()).unwrap_or_else(|e| panic!("{e}"));
        let pkg = package(&meta, "ssh-async").unwrap_or_else(|| panic!("no ssh-async"));
        let found = check_async_manifest(pkg);
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn ssh_async_tree_has_no_pam_and_no_nix() {
        let tree = cargo_tree(&root(), "ssh-async").unwrap_or_else(|e| panic!("{e}"));
        assert!(
            tree_crates(&tree).iter().any(|n| n == "ssh-session"),
            "{tree}"
        );
        let found = forbidden_in_tree(&tree, |n| is_pam(n) || n == "nix");
        assert!(found.is_empty(), "ssh-async depends on {found:?}");
    }

    #[test]
    fn rssh_tree_has_no_pam() {
        let tree = cargo_tree(&root(), "rssh").unwrap_or_else(|e| panic!("{e}"));
        assert!(tree_crates(&tree).iter().any(|n| n == "ssh-os"), "{tree}");
        let found = forbidden_in_tree(&tree, is_pam);
        assert!(
            found.is_empty(),
            "rssh must build without libpam: {found:?}"
        );
    }

    #[test]
    fn runtime_path_checker_finds_code_not_comments_or_strings() {
        let src = "\
use tokio::net::TcpStream;
// tokio is only mentioned here
#[cfg(feature = \"smol\")]
fn f() { ::async_std::task::block_on(g()) }
let s = \"smol::spawn\"; let t = smol::Timer::after(d);
use crate::runtime::tokio_rt; // another name
#[cfg(test)]
mod tests { use tokio::test; }
";
        let found = check_runtime_paths(src);
        let lines: Vec<usize> = found.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [1, 4, 5, 8], "{found:?}");
        assert!(found.iter().any(|(_, m)| m.contains("`async_std`")));
    }

    #[test]
    fn runtime_module_is_exempt() {
        let dir = std::env::temp_dir().join(format!("xtask-tidy-rt-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let src = dir.join("crates/ssh-async/src");
        fs::create_dir_all(src.join("runtime")).unwrap_or_default();
        fs::write(src.join("runtime/tokio_rt.rs"), "use tokio::time;\n").unwrap_or_default();
        fs::write(src.join("lib.rs"), "mod runtime;\nuse smol::Timer;\n").unwrap_or_default();
        let found = runtime_path_violations(&dir);
        let _ = fs::remove_dir_all(&dir);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found
                .iter()
                .all(|f| f.starts_with("crates/ssh-async/src/lib.rs:2:"))
        );
    }

    #[test]
    fn async_manifest_checker_finds_ungated_runtimes_and_libc() {
        let dep = |name: &str, kind: Option<&str>, optional: bool| serde_json::json!({"name": name, "kind": kind, "optional": optional, "rename": null});
        let pkg = serde_json::json!({"name": "ssh-async", "dependencies": [
            dep("tokio", None, true),
            dep("futures", None, false),
            dep("async-std", None, false),
            dep("smol", Some("dev"), false),
            dep("tokio-util", Some("build"), false),
            dep("libc", None, false),
        ]});
        let found = check_async_manifest(&pkg);
        assert_eq!(
            found,
            [
                "async-std is not optional (a feature must turn it on)",
                "smol is a dev-dependency",
                "tokio-util is a build-dependency",
                "libc is a direct normal dependency",
            ]
        );
        let good = serde_json::json!({"dependencies": [dep("tokio", None, true)]});
        assert!(check_async_manifest(&good).is_empty());
    }

    #[test]
    fn tree_checker_finds_pam_and_nix() {
        let tree = "\
ssh-os v0.1.0 (/w/crates/ssh-os)
nix v0.31.3
pam-client2 v0.5.5
pam-sys2 v1.0.2
libc v0.2.191 (*)
ssh-os v0.1.0 (/w/crates/ssh-os) (*)
spam-filter v1.0.0
";
        assert_eq!(forbidden_in_tree(tree, is_pam), ["pam-client2", "pam-sys2"]);
        assert_eq!(
            forbidden_in_tree(tree, |n| is_pam(n) || n == "nix"),
            ["nix", "pam-client2", "pam-sys2"]
        );
        assert_eq!(tree_crates(tree).len(), 6);
    }
}
