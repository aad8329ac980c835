//! The client configuration, `ssh_config(5)`: parsing ([`ClientConfig`]),
//! resolution for one destination ([`resolve`]) into [`ClientSettings`].
//!
//! A parsed file is a sequence of directives, each with the Host/Match
//! blocks that enclose it (an Include inside a block is expanded when the
//! file is parsed, its lines carrying the block's condition as well as
//! their own). Resolution walks the files in order (the `-o` options
//! first, then the user's file, then the system's), evaluating each block
//! where it starts, so that `Match host` sees a `HostName` set above it.

mod directive;
mod permit;
mod resolve;
mod settings;

use std::path::{Path, PathBuf};

use crate::lex::lex;
use crate::{ConfigError, Loader, include};
pub(crate) use directive::Directive;
use directive::Parsed;
pub use permit::RemoteOpenPermits;
pub use resolve::{ClientEnv, ClientQuery, resolve, resolve_with_env};
pub use settings::{
    AddressFamily, ClientSettings, ForwardAgent, RequestTty, StrictHostKeyChecking,
};

/// One criterion of a `Match` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Criterion {
    /// `all` (also `canonical` and `final`, always true here).
    Always,
    /// `host`: the current host name (after HostName).
    Host(String),
    /// `originalhost`: the destination as typed.
    OriginalHost(String),
    /// `user`: the remote user.
    User(String),
    /// `localuser`.
    LocalUser(String),
    /// `tagged`: the `Tag` option (or `-P`).
    Tagged(String),
}

/// A block's condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Condition {
    /// `Host pattern ...`.
    Host(Vec<String>),
    /// `Match [!]criterion [arg] ...`.
    Match(Vec<(bool, Criterion)>),
}

/// One element of a parsed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    /// A Host or Match line: evaluated where it appears.
    Block(usize),
    /// An option line, active when every listed block matched.
    Directive {
        conds: Vec<usize>,
        dir: Directive,
        file: PathBuf,
        line: usize,
    },
}

/// How relative and `~` Include paths resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientParseOptions {
    /// Where relative Include paths start: `~/.ssh` for the user's file,
    /// `/etc/ssh` for the system's.
    pub include_base: PathBuf,
    /// The home directory for `~` in Include (`None`: `~` is an error).
    pub home: Option<PathBuf>,
}

impl ClientParseOptions {
    /// The guess [`ClientConfig::parse`] makes from the file name: a file
    /// under `/etc/` is the system's (relative to `/etc/ssh`), any other
    /// is the user's, relative to its own directory, and when that
    /// directory is called `.ssh` its parent is the home directory.
    pub fn infer(origin: &Path) -> Self {
        if origin.starts_with("/etc") {
            return Self {
                include_base: PathBuf::from("/etc/ssh"),
                home: None,
            };
        }
        let dir = origin.parent().unwrap_or(Path::new("")).to_path_buf();
        let home = (dir.file_name().is_some_and(|n| n == ".ssh"))
            .then(|| dir.parent().map(Path::to_path_buf))
            .flatten();
        Self {
            include_base: dir,
            home,
        }
    }
}

/// One parsed client configuration file (with its Includes).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ClientConfig {
    pub(crate) items: Vec<Item>,
    pub(crate) blocks: Vec<Condition>,
    warnings: Vec<String>,
}

/// Parse state shared across Includes.
struct Parser<'a> {
    cfg: ClientConfig,
    opts: &'a ClientParseOptions,
    loader: &'a mut dyn Loader,
    ignore_unknown: Option<String>,
}

impl ClientConfig {
    /// Parses the file `origin` whose contents are `text`; Include goes
    /// through `loader`, relative paths as [`ClientParseOptions::infer`]
    /// guesses from `origin`.
    pub fn parse(text: &str, origin: &Path, loader: &mut dyn Loader) -> Result<Self, ConfigError> {
        Self::parse_with(text, origin, loader, &ClientParseOptions::infer(origin))
    }

    /// [`parse`](Self::parse) with explicit Include locations.
    pub fn parse_with(
        text: &str,
        origin: &Path,
        loader: &mut dyn Loader,
        opts: &ClientParseOptions,
    ) -> Result<Self, ConfigError> {
        let mut p = Parser {
            cfg: ClientConfig::default(),
            opts,
            loader,
            ignore_unknown: None,
        };
        p.text(text, origin, 0, &[])?;
        Ok(p.cfg)
    }

    /// Options known to OpenSSH that this implementation ignores, one
    /// message each (`file line n: ...`).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Parses `-o` options: each line is one option, active for every
    /// destination (Host, Match and Include are refused).
    pub(crate) fn parse_overrides(lines: &[String]) -> Result<Self, ConfigError> {
        let mut cfg = ClientConfig::default();
        for (i, text) in lines.iter().enumerate() {
            let err = |m: String| ConfigError::new("command-line", i + 1, m);
            let Some(l) = lex(text).map_err(err)? else {
                continue;
            };
            let kw = l.keyword.to_ascii_lowercase();
            if matches!(kw.as_str(), "host" | "match" | "include") {
                return Err(err(format!("{} is not allowed in -o", l.keyword)));
            }
            match directive::parse(&kw, &l).map_err(|m| err(format!("{}: {m}", l.keyword)))? {
                Parsed::Directive(dir) => cfg.items.push(Item::Directive {
                    conds: Vec::new(),
                    dir,
                    file: PathBuf::from("command-line"),
                    line: i + 1,
                }),
                Parsed::Unsupported => cfg.warnings.push(format!(
                    "command-line line {}: unsupported option \"{kw}\" ignored",
                    i + 1
                )),
                Parsed::Unknown => {
                    return Err(err(format!("Bad configuration option: {}", l.keyword)));
                }
            }
        }
        Ok(cfg)
    }
}

/// `Match` arguments into criteria.
fn parse_match(args: &[String]) -> Result<Vec<(bool, Criterion)>, String> {
    if args.is_empty() {
        return Err("Match: missing criteria".into());
    }
    let mut out = Vec::new();
    let mut it = args.iter();
    let mut saw_all = false;
    while let Some(word) = it.next() {
        let (negated, name) = match word.strip_prefix('!') {
            Some(n) => (true, n),
            None => (false, word.as_str()),
        };
        let lower = name.to_ascii_lowercase();
        let crit = match lower.as_str() {
            "all" => {
                saw_all = true;
                Criterion::Always
            }
            "canonical" | "final" => Criterion::Always,
            "exec" | "localnetwork" | "command" | "version" | "sessiontype" => {
                return Err(format!("Match {name} is not supported"));
            }
            "host" | "originalhost" | "user" | "localuser" | "tagged" => {
                let arg = it
                    .next()
                    .filter(|a| !a.is_empty())
                    .ok_or_else(|| format!("Match: missing argument for {name}"))?
                    .clone();
                match lower.as_str() {
                    "host" => Criterion::Host(arg),
                    "originalhost" => Criterion::OriginalHost(arg),
                    "user" => Criterion::User(arg),
                    "localuser" => Criterion::LocalUser(arg),
                    _ => Criterion::Tagged(arg),
                }
            }
            _ => return Err(format!("Unsupported Match attribute {name}")),
        };
        out.push((negated, crit));
    }
    let others = out
        .iter()
        .filter(|(_, c)| !matches!(c, Criterion::Always))
        .count();
    if saw_all && others > 0 {
        return Err("Match: 'all' cannot be combined with other Match attributes".into());
    }
    Ok(out)
}

impl Parser<'_> {
    fn text(
        &mut self,
        text: &str,
        file: &Path,
        depth: usize,
        enclosing: &[usize],
    ) -> Result<(), ConfigError> {
        let mut current: Vec<usize> = enclosing.to_vec();
        for (i, raw) in text.lines().enumerate() {
            let n = i + 1;
            let err = |m: String| ConfigError::new(file, n, m);
            let Some(l) = lex(raw).map_err(err)? else {
                continue;
            };
            let kw = l.keyword.to_ascii_lowercase();
            match kw.as_str() {
                "host" | "match" => {
                    let cond = if kw == "host" {
                        if l.args.is_empty() {
                            return Err(err("Host: missing argument".into()));
                        }
                        Condition::Host(l.args.clone())
                    } else {
                        Condition::Match(parse_match(&l.args).map_err(err)?)
                    };
                    let id = self.cfg.blocks.len();
                    self.cfg.blocks.push(cond);
                    self.cfg.items.push(Item::Block(id));
                    current = enclosing.to_vec();
                    current.push(id);
                }
                "include" => {
                    if l.args.is_empty() {
                        return Err(err("Include: missing argument".into()));
                    }
                    if depth + 1 > include::MAX_DEPTH {
                        return Err(err("Include: nesting too deep".into()));
                    }
                    for arg in &l.args {
                        let files = include::files(
                            arg,
                            &self.opts.include_base,
                            self.opts.home.as_deref(),
                            self.loader,
                        )
                        .map_err(err)?;
                        for (path, contents) in files {
                            self.text(&contents, &path, depth + 1, &current)?;
                        }
                    }
                }
                "ignoreunknown" => {
                    let list = crate::values::one(&l.args)
                        .map_err(|m| err(format!("{}: {m}", l.keyword)))?;
                    if self.ignore_unknown.is_none() {
                        self.ignore_unknown = Some(list.to_string());
                    }
                }
                _ => match directive::parse(&kw, &l)
                    .map_err(|m| err(format!("{}: {m}", l.keyword)))?
                {
                    Parsed::Directive(dir) => self.cfg.items.push(Item::Directive {
                        conds: current.clone(),
                        dir,
                        file: file.to_path_buf(),
                        line: n,
                    }),
                    Parsed::Unsupported => self.cfg.warnings.push(format!(
                        "{} line {n}: unsupported option \"{kw}\" ignored",
                        file.display()
                    )),
                    Parsed::Unknown => {
                        let ignored = self.ignore_unknown.as_deref().is_some_and(|list| {
                            ssh_auth::pattern::match_list(&kw, list)
                                == ssh_auth::pattern::ListMatch::Positive
                        });
                        if !ignored {
                            return Err(err(format!("Bad configuration option: {}", l.keyword)));
                        }
                        self.cfg.warnings.push(format!(
                            "{} line {n}: unknown option \"{}\" ignored (IgnoreUnknown)",
                            file.display(),
                            l.keyword
                        ));
                    }
                },
            }
        }
        Ok(())
    }
}
