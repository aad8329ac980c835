//! `cargo xtask interop`: runs the interop cases against every available
//! OpenSSH peer and prints a table (rows: cases, columns: peers).
//!
//! Cases are data ([`crate::cases::all`]): a name and a function taking a
//! [`Ctx`]. The context starts peers and remembers their logs, so that a
//! failing case prints what the peer said.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Output;
use std::time::Instant;

use serde::Serialize;

use crate::bail;
use crate::images::{self, Release};
use crate::peer::{Backend, Host, PeerLog, Rootfs, RunningSshd, SshdConfig};
use crate::util::{self, Context, Result};

/// One interop case.
#[derive(Clone, Copy)]
pub struct Case {
    /// Its row name in the table.
    pub name: &'static str,
    /// What it does, one line.
    pub about: &'static str,
    /// The test: `Ok` passes, `Err` says why not; an error made with
    /// [`skip`] marks the case as not applicable to this peer (`n/a`).
    pub run: fn(&mut Ctx<'_>) -> Result<()>,
    /// A parameter for cases generated from a list (an algorithm name);
    /// the case reads it as [`Ctx::param`].
    pub param: &'static str,
}

/// The prefix of an error that says a case does not apply to a peer.
const SKIP: &str = "n/a: ";

/// An error that marks a case as not applicable (e.g. an algorithm this
/// OpenSSH version lacks).
pub fn skip(why: impl std::fmt::Display) -> crate::util::Error {
    crate::util::Error(format!("{SKIP}{why}"))
}

/// What a case gets: the peer, and a record of the peer's logs.
pub struct Ctx<'a> {
    /// Where OpenSSH runs.
    pub backend: &'a dyn Backend,
    /// The case's parameter (see [`Case::param`]).
    pub param: &'static str,
    logs: Vec<(String, PeerLog)>,
}

impl<'a> Ctx<'a> {
    /// A context for one case on `backend`.
    pub fn new(backend: &'a dyn Backend) -> Self {
        Self {
            backend,
            param: "",
            logs: Vec::new(),
        }
    }

    /// Starts an `sshd`; its log is printed if the case fails.
    pub fn sshd(&mut self, cfg: &SshdConfig) -> Result<RunningSshd> {
        let sshd = self.backend.start_sshd(cfg)?;
        self.logs
            .push((format!("sshd on port {}", sshd.port()), sshd.log_handle()));
        Ok(sshd)
    }

    /// Starts `program` (a path inside the peer) like `sshd -D -e` with
    /// this configuration text; its log is printed if the case fails.
    pub fn server(&mut self, program: &str, config: &str) -> Result<RunningSshd> {
        let server = self.backend.start_server(program, config)?;
        self.logs.push((
            format!("{program} on port {}", server.port()),
            server.log_handle(),
        ));
        Ok(server)
    }

    /// Prints `server`'s log if the case fails (a server started
    /// otherwise than by [`Ctx::server`]).
    pub fn watch(&mut self, label: String, server: &RunningSshd) {
        self.logs.push((label, server.log_handle()));
    }

    /// Keeps `text` (a client's stderr, ...) to be printed if the case
    /// fails.
    pub fn record(&mut self, label: String, text: &[u8]) {
        self.logs.push((label, PeerLog::from_text(text)));
    }

    /// Runs the peer's `ssh` (add `-vvv` for a useful log); its stderr is
    /// printed if the case fails.
    pub fn ssh(&mut self, args: &[&str], stdin: &[u8]) -> Result<Output> {
        let out = self.backend.run_ssh(args, stdin)?;
        self.logs.push((
            format!("ssh {}", args.join(" ")),
            PeerLog::from_text(&out.stderr),
        ));
        Ok(out)
    }

    /// `target/interop-captures/<peer>/`: bytes captured from the peer, to
    /// become test vectors.
    pub fn capture_dir(&self) -> Result<PathBuf> {
        let dir = util::workspace_target()
            .join("interop-captures")
            .join(self.backend.name());
        std::fs::create_dir_all(&dir).context(format_args!("creating {}", dir.display()))?;
        Ok(dir)
    }

    /// Every log recorded so far, labelled.
    pub fn logs(&self) -> Vec<(String, String)> {
        self.logs
            .iter()
            .map(|(label, log)| (label.clone(), log.text()))
            .collect()
    }
}

/// The result of one case on one peer.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// The case.
    pub case: String,
    /// The peer's column name.
    pub peer: String,
    /// `None` if it passed, else why it failed.
    pub failure: Option<String>,
    /// Why the case does not apply to this peer, if it does not.
    pub skipped: Option<String>,
    /// The peer's logs, kept only for failures.
    pub logs: Vec<(String, String)>,
    /// How long it took, in milliseconds.
    pub millis: u128,
}

/// Runs every case on every backend, in sequence.
pub fn run_all(backends: &[Box<dyn Backend>], cases: &[Case]) -> Vec<Outcome> {
    let mut outcomes = Vec::new();
    for backend in backends {
        for case in cases {
            let start = Instant::now();
            let mut ctx = Ctx::new(backend.as_ref());
            ctx.param = case.param;
            let result = (case.run)(&mut ctx);
            let millis = start.elapsed().as_millis();
            let (failure, skipped, logs) = match result {
                Ok(()) => (None, None, Vec::new()),
                Err(e) => match e.0.strip_prefix(SKIP) {
                    Some(why) => (None, Some(why.to_owned()), Vec::new()),
                    None => (Some(e.0), None, ctx.logs()),
                },
            };
            outcomes.push(Outcome {
                case: case.name.to_owned(),
                peer: backend.name().to_owned(),
                failure,
                skipped,
                logs,
                millis,
            });
        }
    }
    outcomes
}

/// The table: one row per case, one column per peer, cells `pass`/`FAIL`
/// (`-` where a case did not run, `n/a` where it does not apply), then one line per failure (case,
/// peer and the first line of why), then `N passed, M failed` on its own line. The failures are
/// repeated at the end because logs are often read from their tail, which the table's rows overflow.
pub fn render_table(cases: &[&str], peers: &[&str], outcomes: &[Outcome]) -> String {
    let first = cases.iter().map(|c| c.len()).chain([4]).max().unwrap_or(4);
    let mut out = String::new();
    let _ = write!(out, "{:first$}", "case");
    for peer in peers {
        let _ = write!(out, "  {:>w$}", peer, w = peer.len().max(4));
    }
    out.push('\n');
    let (mut passed, mut failed) = (0usize, 0usize);
    for case in cases {
        let _ = write!(out, "{case:first$}");
        for peer in peers {
            let cell = match outcomes.iter().find(|o| o.case == *case && o.peer == *peer) {
                Some(o) if o.skipped.is_some() => "n/a",
                Some(o) if o.failure.is_none() => {
                    passed += 1;
                    "pass"
                }
                Some(_) => {
                    failed += 1;
                    "FAIL"
                }
                None => "-",
            };
            let _ = write!(out, "  {:>w$}", cell, w = peer.len().max(4));
        }
        out.push('\n');
    }
    for o in outcomes {
        if let Some(why) = &o.failure {
            let first = why.lines().next().unwrap_or("");
            let _ = writeln!(out, "failed: {} on {}: {first}", o.case, o.peer);
        }
    }
    let _ = writeln!(out, "{passed} passed, {failed} failed");
    out
}

/// The details of each failure: message and the peer's logs.
pub fn render_failures(outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    for o in outcomes {
        let Some(why) = &o.failure else { continue };
        let _ = writeln!(out, "=== FAIL {} on {}: {why}", o.case, o.peer);
        for (label, log) in &o.logs {
            let _ = writeln!(out, "--- {label}:");
            out.push_str(log);
            if !log.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    out
}

/// Which kind of peer to use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendKind {
    /// Cached Debian root filesystems (`cargo xtask images`).
    Rootfs,
    /// The machine's own OpenSSH.
    Host,
}

/// How to get the images, for messages.
pub const HOW_TO_GET_PEERS: &str = "build the OpenSSH peer images with `cargo xtask images` \
     (needs root and mmdebstrap: apt-get install -y mmdebstrap), \
     or use the machine's OpenSSH with `--backend host`";

/// The peers chosen, and the ones asked for but missing.
pub struct Selection {
    /// Ready peers.
    pub backends: Vec<Box<dyn Backend>>,
    /// Why each missing one is missing.
    pub missing: Vec<String>,
}

/// Chooses peers. Without `kind`: the rootfs images present among
/// `releases`; if none is present and none can be built here (not root, no
/// mmdebstrap), the host's OpenSSH.
pub fn select(kind: Option<BackendKind>, releases: &[Release]) -> Selection {
    let mut sel = Selection {
        backends: Vec::new(),
        missing: Vec::new(),
    };
    let use_host = match kind {
        Some(BackendKind::Host) => true,
        Some(BackendKind::Rootfs) => false,
        None => {
            let any_image = releases.iter().any(|r| images::load(*r).is_some());
            !any_image && images::cannot_build_reason().is_some() && Host::available()
        }
    };
    if use_host {
        if kind.is_none() {
            println!(
                "no OpenSSH images and none can be built here ({}); using the host's OpenSSH",
                images::cannot_build_reason().unwrap_or_default()
            );
        }
        match Host::open() {
            Ok(host) => sel.backends.push(Box::new(host)),
            Err(e) => sel.missing.push(format!("host: {e}")),
        }
        return sel;
    }
    for &release in releases {
        match images::load(release) {
            None => sel.missing.push(format!(
                "{release}: no image (build it with `cargo xtask images {release}`; needs root and mmdebstrap)"
            )),
            Some(image) => match Rootfs::open(&image) {
                Ok(rootfs) => sel.backends.push(Box::new(rootfs)),
                Err(e) => sel
                    .missing
                    .push(format!("{release}: image present but unusable: {e}")),
            },
        }
    }
    sel
}

/// Serialisable report of a run (`--json`).
#[derive(Serialize)]
struct Report<'a> {
    peers: Vec<(String, String)>,
    missing: &'a [String],
    outcomes: &'a [Outcome],
    passed: usize,
    failed: usize,
}

/// `cargo xtask interop`.
pub fn cmd_interop(
    releases: &[Release],
    kind: Option<BackendKind>,
    only: &[String],
    json: Option<PathBuf>,
) -> Result<()> {
    let releases = if releases.is_empty() {
        Release::ALL.to_vec()
    } else {
        releases.to_vec()
    };
    let mut cases = crate::cases::all();
    if !only.is_empty() {
        for name in only {
            if !cases.iter().any(|c| c.name == name) {
                bail!("no interop case named {name:?}");
            }
        }
        cases.retain(|c| only.iter().any(|o| o == c.name));
    }
    crate::binaries::prepare(&cases);
    let start = Instant::now();
    let sel = select(kind, &releases);
    for why in &sel.missing {
        println!("missing peer: {why}");
    }
    if sel.backends.is_empty() {
        bail!("no OpenSSH peer is available: {HOW_TO_GET_PEERS}");
    }
    for b in &sel.backends {
        println!("{}: {}", b.name(), b.openssh_version());
    }
    let outcomes = run_all(&sel.backends, &cases);
    let failures = render_failures(&outcomes);
    if !failures.is_empty() {
        println!("\n{failures}");
    }
    let names: Vec<&str> = cases.iter().map(|c| c.name).collect();
    let peers: Vec<&str> = sel.backends.iter().map(|b| b.name()).collect();
    println!();
    print!("{}", render_table(&names, &peers, &outcomes));
    let failed = outcomes.iter().filter(|o| o.failure.is_some()).count();
    if let Some(path) = json {
        let report = Report {
            peers: sel
                .backends
                .iter()
                .map(|b| (b.name().to_owned(), b.openssh_version().to_owned()))
                .collect(),
            missing: &sel.missing,
            outcomes: &outcomes,
            passed: outcomes.len() - failed,
            failed,
        };
        let text = serde_json::to_string_pretty(&report).context("encoding the report")?;
        std::fs::write(&path, text).context(format_args!("writing {}", path.display()))?;
    }
    eprintln!("interop took {}", util::secs(start.elapsed()));
    if failed > 0 {
        bail!("{failed} interop case(s) failed");
    }
    if !sel.missing.is_empty() {
        bail!(
            "{} requested peer(s) missing: {HOW_TO_GET_PEERS}",
            sel.missing.len()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(case: &str, peer: &str, ok: bool) -> Outcome {
        Outcome {
            case: case.to_owned(),
            peer: peer.to_owned(),
            failure: (!ok).then(|| "broken".to_owned()),
            skipped: None,
            logs: vec![("sshd on port 1".to_owned(), "debug1: hello\n".to_owned())],
            millis: 1,
        }
    }

    #[test]
    fn table_has_rows_per_case_columns_per_peer_and_a_count() {
        let outcomes = [
            outcome("banner", "bookworm", true),
            outcome("banner", "sid", true),
            outcome("kexinit", "bookworm", false),
        ];
        let table = render_table(&["banner", "kexinit"], &["bookworm", "sid"], &outcomes);
        let expected = "\
case     bookworm   sid
banner       pass  pass
kexinit      FAIL     -
failed: kexinit on bookworm: broken
2 passed, 1 failed
";
        assert_eq!(table, expected);
    }

    #[test]
    fn closing_line_counts_only_what_ran() {
        let table = render_table(&["a"], &["host"], &[]);
        assert_eq!(table.lines().last(), Some("0 passed, 0 failed"));
    }

    #[test]
    fn failures_show_the_peer_log() {
        let outcomes = [
            outcome("banner", "sid", true),
            outcome("kexinit", "sid", false),
        ];
        let text = render_failures(&outcomes);
        assert!(text.starts_with("=== FAIL kexinit on sid: broken\n"));
        assert!(text.contains("--- sshd on port 1:\ndebug1: hello\n"));
        assert!(!text.contains("banner"));
    }

    #[test]
    fn case_names_are_unique_and_nonempty() {
        let cases = crate::cases::all();
        assert!(!cases.is_empty());
        let mut names: Vec<&str> = cases.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), cases.len());
        assert!(names.iter().all(|n| !n.is_empty() && !n.contains(' ')));
    }
}
