//! The command line, as `ssh(1)` has it, and the destination forms
//! `host`, `user@host` and `ssh://[user@]host[:port]`.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{ArgAction, Parser};

/// `rssh [options] destination [command ...]`, the options of `ssh(1)`
/// this client has (`rssh -h` lists them).
#[derive(Debug, Parser, Default)]
#[command(
    name = "rssh",
    disable_version_flag = true,
    disable_help_flag = true,
    args_override_self = true,
    override_usage = "rssh [-46AaCfGgNnqsTtVvXxY] [-b bind_address] [-c cipher_spec] \
                      [-D [bind_address:]port] [-E log_file] [-e escape_char] [-F configfile] \
                      [-i identity_file] [-J destination] [-L address] [-l login_name] \
                      [-m mac_spec] [-o option] [-p port] [-R address] [-W host:port] \
                      destination [command [argument ...]]"
)]
pub struct Cli {
    /// IPv4 only.
    #[arg(short = '4')]
    pub ipv4: bool,
    /// IPv6 only.
    #[arg(short = '6')]
    pub ipv6: bool,
    /// Compression.
    #[arg(short = 'C')]
    pub compression: bool,
    /// Quiet mode.
    #[arg(short = 'q')]
    pub quiet: bool,
    /// Force a pseudo-terminal (twice: even without a local tty).
    #[arg(short = 't', action = ArgAction::Count)]
    pub tty: u8,
    /// No pseudo-terminal.
    #[arg(short = 'T')]
    pub no_tty: bool,
    /// Verbose (up to three times).
    #[arg(short = 'v', action = ArgAction::Count)]
    pub verbose: u8,
    /// No remote command.
    #[arg(short = 'N')]
    pub no_command: bool,
    /// Stdin from /dev/null.
    #[arg(short = 'n')]
    pub null_stdin: bool,
    /// Print the configuration and exit.
    #[arg(short = 'G')]
    pub dump_config: bool,
    /// The command is a subsystem.
    #[arg(short = 's')]
    pub subsystem: bool,
    /// Print the version and exit.
    #[arg(short = 'V')]
    pub version: bool,
    /// Help.
    #[arg(short = 'h', long = "help")]
    pub help: bool,
    /// Port.
    #[arg(short = 'p', value_name = "port")]
    pub port: Option<String>,
    /// Remote user.
    #[arg(short = 'l', value_name = "login_name")]
    pub login: Option<String>,
    /// Identity files.
    #[arg(short = 'i', value_name = "identity_file")]
    pub identity: Vec<String>,
    /// Configuration file.
    #[arg(short = 'F', value_name = "configfile")]
    pub config: Option<PathBuf>,
    /// Options in configuration file syntax.
    #[arg(short = 'o', value_name = "option")]
    pub options: Vec<String>,
    /// Ciphers.
    #[arg(short = 'c', value_name = "cipher_spec")]
    pub ciphers: Option<String>,
    /// MACs.
    #[arg(short = 'm', value_name = "mac_spec")]
    pub macs: Option<String>,
    /// Log file.
    #[arg(short = 'E', value_name = "log_file")]
    pub log_file: Option<PathBuf>,
    /// The escape character (`none` to disable).
    #[arg(short = 'e', value_name = "escape_char")]
    pub escape_char: Option<String>,
    /// The local address to connect from (accepted, not used yet).
    #[arg(short = 'b', value_name = "bind_address")]
    pub bind_address: Option<String>,
    /// Disable agent forwarding.
    #[arg(short = 'a')]
    pub no_agent_forwarding: bool,
    /// Disable X11 forwarding.
    #[arg(short = 'x')]
    pub no_x11: bool,
    /// Remote hosts may connect to local forwarded ports.
    #[arg(short = 'g')]
    pub gateway_ports: bool,
    /// Local forwarding: `[bind:]port:host:hostport` and the socket forms.
    #[arg(short = 'L')]
    pub local_forward: Vec<String>,
    /// Remote forwarding: `[bind:]port:host:hostport`, `[bind:]port`
    /// (SOCKS on the server's side) and the socket forms.
    #[arg(short = 'R')]
    pub remote_forward: Vec<String>,
    /// Dynamic (SOCKS) forwarding: `[bind:]port`.
    #[arg(short = 'D')]
    pub dynamic_forward: Vec<String>,
    /// Stdio forwarding to `host:port`.
    #[arg(short = 'W')]
    pub stdio_forward: Option<String>,
    /// Jump hosts: `[user@]host[:port][,...]`.
    #[arg(short = 'J')]
    pub jump: Option<String>,
    /// Agent forwarding.
    #[arg(short = 'A')]
    pub agent_forwarding: bool,
    /// X11 forwarding.
    #[arg(short = 'X')]
    pub x11: bool,
    /// Trusted X11 forwarding.
    #[arg(short = 'Y')]
    pub x11_trusted: bool,
    /// Go to the background after authentication.
    #[arg(short = 'f')]
    pub background: bool,

    /// The destination, then the command and its arguments.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "destination"
    )]
    pub args: Vec<String>,
}

/// The options that take a value (of those `ssh` has, the ones we parse).
const TAKES_VALUE: &str = "bcDeEFiJlLmopRW";
/// The options without a value that we parse.
const FLAGS: &str = "46aACfGghNnqsTtVvXxY";

/// Rewrites `ssh`-style arguments for clap: option clusters (`-vvC`),
/// attached values (`-p22`, `-oUser=x`, `-oForwardX11 no` as sftp passes
/// it) and options after the destination (`ssh host -l user cmd`, as
/// OpenSSH re-reads them) become separate `-x value` pairs; the
/// destination and the command words follow a `--`. The command starts at
/// the first word after the destination that is not an option; `--`
/// ends the options.
pub fn normalize(args: Vec<String>) -> Result<Vec<String>, String> {
    let mut it = args.into_iter();
    let mut opts: Vec<String> = it.next().into_iter().collect();
    let mut positional: Vec<String> = Vec::new();
    let mut options_done = false;
    while let Some(arg) = it.next() {
        if options_done || !positional.is_empty() && positional.len() > 1 {
            positional.push(arg);
            continue;
        }
        if arg == "--" {
            options_done = true;
            continue;
        }
        if arg.len() < 2 || !arg.starts_with('-') {
            positional.push(arg);
            if positional.len() > 1 {
                // The command: the rest is its words.
                options_done = true;
            }
            continue;
        }
        let body: Vec<char> = arg.chars().skip(1).collect();
        let mut i = 0;
        while let Some(&c) = body.get(i) {
            i += 1;
            if !TAKES_VALUE.contains(c) && !FLAGS.contains(c) {
                return Err(format!("invalid option -- '{c}'"));
            }
            opts.push(format!("-{c}"));
            if TAKES_VALUE.contains(c) {
                let rest: String = body.get(i..).unwrap_or_default().iter().collect();
                if rest.is_empty() {
                    match it.next() {
                        Some(v) => opts.push(v),
                        None => return Err(format!("option requires an argument -- '{c}'")),
                    }
                } else {
                    opts.push(rest);
                }
                break;
            }
        }
    }
    opts.push("--".to_owned());
    opts.extend(positional);
    Ok(opts)
}

impl Cli {
    /// Parses the process arguments (the first is the program name).
    pub fn parse_args<I: IntoIterator<Item = OsString>>(args: I) -> Result<Cli, String> {
        let args: Vec<String> = args
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        Cli::try_parse_from(normalize(args)?).map_err(|e| {
            let msg = e.to_string();
            let first = msg.lines().next().unwrap_or_default();
            first.trim_start_matches("error: ").to_owned()
        })
    }

    /// The remote command as `ssh` sends it: the words joined with
    /// spaces; `None` without words.
    pub fn command(&self) -> Option<String> {
        let words = self.args.get(1..).unwrap_or_default();
        (!words.is_empty()).then(|| words.join(" "))
    }

    /// Whether a `-o` option sets `User` (it then wins over the
    /// destination's `user@`, as in `ssh`).
    pub fn user_option(&self) -> bool {
        self.options.iter().any(|o| {
            let o = o.trim_start();
            o.get(..4).is_some_and(|k| k.eq_ignore_ascii_case("user"))
                && o.get(4..).is_some_and(|r| r.starts_with([' ', '\t', '=']))
        })
    }

    /// `-o`-style lines for what the other flags set, before the `-o`
    /// options themselves; the first value obtained wins.
    pub fn override_lines(&self) -> Vec<String> {
        let mut v = Vec::new();
        if self.ipv4 && !self.ipv6 {
            v.push("AddressFamily inet".to_owned());
        } else if self.ipv6 && !self.ipv4 {
            v.push("AddressFamily inet6".to_owned());
        }
        if self.compression {
            v.push("Compression yes".to_owned());
        }
        if self.quiet {
            v.push("LogLevel QUIET".to_owned());
        } else if self.verbose > 0 {
            let level = match self.verbose {
                1 => "DEBUG1",
                2 => "DEBUG2",
                _ => "DEBUG3",
            };
            v.push(format!("LogLevel {level}"));
        }
        if self.tty >= 2 {
            v.push("RequestTTY force".to_owned());
        } else if self.tty == 1 {
            v.push("RequestTTY yes".to_owned());
        } else if self.no_tty {
            v.push("RequestTTY no".to_owned());
        }
        if let Some(j) = &self.jump {
            v.push(format!("ProxyJump {j}"));
        }
        if self.x11_trusted {
            v.push("ForwardX11 yes".to_owned());
            v.push("ForwardX11Trusted yes".to_owned());
        } else if self.x11 {
            v.push("ForwardX11 yes".to_owned());
        } else if self.no_x11 {
            v.push("ForwardX11 no".to_owned());
        }
        if self.agent_forwarding {
            v.push("ForwardAgent yes".to_owned());
        } else if self.no_agent_forwarding {
            v.push("ForwardAgent no".to_owned());
        }
        if self.gateway_ports {
            v.push("GatewayPorts yes".to_owned());
        }
        if let Some(e) = &self.escape_char {
            v.push(format!("EscapeChar {e}"));
        }
        if let Some(b) = &self.bind_address {
            v.push(format!("BindAddress {b}"));
        }
        if let Some(c) = &self.ciphers {
            v.push(format!("Ciphers {c}"));
        }
        if let Some(m) = &self.macs {
            v.push(format!("MACs {m}"));
        }
        for i in &self.identity {
            v.push(format!("IdentityFile {}", quote(i)));
        }
        v.extend(self.options.iter().cloned());
        v
    }
}

/// Quotes a value for a configuration line when it has spaces.
fn quote(s: &str) -> String {
    if s.contains(char::is_whitespace) {
        format!("\"{s}\"")
    } else {
        s.to_owned()
    }
}

/// Where to connect, as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// `user@`, if given.
    pub user: Option<String>,
    /// The host (brackets of an `ssh://[v6]` address removed).
    pub host: String,
    /// `:port` of an `ssh://` URI.
    pub port: Option<u16>,
}

/// Parses `host`, `user@host` (the last `@` separates) or
/// `ssh://[user@]host[:port]` (IPv6 addresses in brackets; no path).
pub fn parse_destination(s: &str) -> Result<Destination, String> {
    let bad = || format!("Invalid destination: {s}");
    if let Some(rest) = s.strip_prefix("ssh://") {
        if rest.contains('/') {
            return Err(bad());
        }
        let (user, hostport) = match rest.rfind('@') {
            Some(at) => (
                Some(rest.get(..at).unwrap_or_default().to_owned()),
                rest.get(at + 1..).unwrap_or_default(),
            ),
            None => (None, rest),
        };
        if user.as_deref() == Some("") {
            return Err(bad());
        }
        let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
            let end = v6.find(']').ok_or_else(bad)?;
            let host = v6.get(..end).unwrap_or_default();
            let after = v6.get(end + 1..).unwrap_or_default();
            let port = match after {
                "" => None,
                p => Some(p.strip_prefix(':').ok_or_else(bad)?),
            };
            (host, port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() || host.contains(['[', ']', ':']) && !hostport.starts_with('[') {
            return Err(bad());
        }
        let port = match port {
            None => None,
            Some(p) => Some(parse_port(p).map_err(|_| bad())?),
        };
        return Ok(Destination {
            user,
            host: host.to_owned(),
            port,
        });
    }
    let (user, host) = match s.rfind('@') {
        Some(at) => (
            Some(s.get(..at).unwrap_or_default().to_owned()),
            s.get(at + 1..).unwrap_or_default(),
        ),
        None => (None, s),
    };
    if host.is_empty() || user.as_deref() == Some("") {
        return Err(bad());
    }
    Ok(Destination {
        user,
        host: host.to_owned(),
        port: None,
    })
}

/// A port number 1-65535, as `ssh -p` accepts it.
pub fn parse_port(s: &str) -> Result<u16, String> {
    match s.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(format!("Bad port '{s}'")),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn d(user: Option<&str>, host: &str, port: Option<u16>) -> Destination {
        Destination {
            user: user.map(str::to_owned),
            host: host.to_owned(),
            port,
        }
    }

    #[test]
    fn destinations() {
        assert_eq!(
            parse_destination("example.com"),
            Ok(d(None, "example.com", None))
        );
        assert_eq!(
            parse_destination("alice@h"),
            Ok(d(Some("alice"), "h", None))
        );
        // The last @ separates: user names may contain @.
        assert_eq!(
            parse_destination("a@b.c@host"),
            Ok(d(Some("a@b.c"), "host", None))
        );
        assert_eq!(
            parse_destination("ssh://bob@127.0.0.1:2222"),
            Ok(d(Some("bob"), "127.0.0.1", Some(2222)))
        );
        assert_eq!(parse_destination("ssh://host"), Ok(d(None, "host", None)));
        assert_eq!(
            parse_destination("ssh://u@[::1]:22"),
            Ok(d(Some("u"), "::1", Some(22)))
        );
        assert_eq!(
            parse_destination("ssh://[fe80::1]"),
            Ok(d(None, "fe80::1", None))
        );
        for bad in [
            "",
            "@host",
            "user@",
            "ssh://",
            "ssh://host:0",
            "ssh://host:x",
            "ssh://host:70000",
            "ssh://host/path",
            "ssh://@host",
            "ssh://[::1",
            "ssh://[::1]x",
        ] {
            assert!(parse_destination(bad).is_err(), "{bad:?} accepted");
        }
    }

    fn norm(args: &[&str]) -> Vec<String> {
        normalize(args.iter().map(|s| s.to_string()).collect()).unwrap()
    }

    #[test]
    fn arguments_are_normalized_as_getopt_reads_them() {
        assert_eq!(
            norm(&[
                "rssh",
                "-vvC",
                "-p22",
                "-oUser=x",
                "-oForwardX11 no",
                "host",
                "ls",
                "-l"
            ]),
            [
                "rssh",
                "-v",
                "-v",
                "-C",
                "-p",
                "22",
                "-o",
                "User=x",
                "-o",
                "ForwardX11 no",
                "--",
                "host",
                "ls",
                "-l"
            ]
        );
        // Options after the destination, then the command (sftp's form).
        assert_eq!(
            norm(&["rssh", "-s", "--", "host", "sftp"]),
            ["rssh", "-s", "--", "host", "sftp"]
        );
        assert_eq!(
            norm(&["rssh", "host", "-l", "u", "-t", "cmd", "-x", "--", "y"]),
            [
                "rssh", "-l", "u", "-t", "--", "host", "cmd", "-x", "--", "y"
            ]
        );
        let cli = Cli::parse_args(
            [
                "rssh", "-oUser=x", "-eNone", "host", "-p", "7", "echo", "-n",
            ]
            .map(OsString::from),
        )
        .unwrap();
        assert_eq!(cli.options, vec!["User=x"]);
        assert_eq!(cli.port.as_deref(), Some("7"));
        assert_eq!(cli.command().as_deref(), Some("echo -n"));
        assert!(cli.override_lines().contains(&"EscapeChar None".to_owned()));
        assert_eq!(
            Cli::parse_args(["rssh", "-K", "host"].map(OsString::from)).err(),
            Some("invalid option -- 'K'".to_owned())
        );
        assert_eq!(
            Cli::parse_args(["rssh", "host", "-p"].map(OsString::from)).err(),
            Some("option requires an argument -- 'p'".to_owned())
        );
    }

    #[test]
    fn command_words_are_joined_and_options_after_the_destination_belong_to_it() {
        let cli =
            Cli::parse_args(["rssh", "-p", "22", "host", "ls", "-l", "/tmp"].map(OsString::from))
                .unwrap();
        assert_eq!(cli.port.as_deref(), Some("22"));
        assert_eq!(cli.args.first().map(String::as_str), Some("host"));
        assert_eq!(cli.command().as_deref(), Some("ls -l /tmp"));
        let cli = Cli::parse_args(["rssh", "host"].map(OsString::from)).unwrap();
        assert_eq!(cli.command(), None);
    }

    #[test]
    fn flags_become_override_lines_and_forwardings_are_kept() {
        let cli = Cli::parse_args(
            [
                "rssh",
                "-C",
                "-vv",
                "-tt",
                "-i",
                "/k 1",
                "-c",
                "aes128-ctr",
                "-o",
                "Port=7",
                "-L",
                "1:h:2",
                "h",
            ]
            .map(OsString::from),
        )
        .unwrap();
        assert_eq!(
            cli.override_lines(),
            vec![
                "Compression yes",
                "LogLevel DEBUG2",
                "RequestTTY force",
                "Ciphers aes128-ctr",
                "IdentityFile \"/k 1\"",
                "Port=7",
            ]
        );
        assert_eq!(cli.local_forward, vec!["1:h:2"]);
        assert!(!cli.user_option());
        // Repeated options: lists accumulate, single values take the last.
        let cli = Cli::parse_args(
            [
                "rssh", "-i", "a", "-i", "b", "-o", "X=1", "-o", "Y=2", "-p", "1", "-p", "2", "h",
            ]
            .map(OsString::from),
        )
        .unwrap();
        assert_eq!(cli.identity, vec!["a", "b"]);
        assert_eq!(cli.options, vec!["X=1", "Y=2"]);
        assert_eq!(cli.port.as_deref(), Some("2"));
        let cli = Cli::parse_args(["rssh", "-o", "user=x", "h"].map(OsString::from)).unwrap();
        assert!(cli.user_option());
        let cli = Cli::parse_args(["rssh", "-o", "UserKnownHostsFile=x", "h"].map(OsString::from))
            .unwrap();
        assert!(!cli.user_option());
        assert_eq!(parse_port("0"), Err("Bad port '0'".to_owned()));
    }
}
