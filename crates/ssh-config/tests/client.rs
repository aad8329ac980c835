//! Client configuration: parsing, Include, Host/Match, first value wins,
//! -o overrides, defaults, tokens, `ssh -G` output.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::MapLoader;
use ssh_config::client::{
    ClientConfig, ClientEnv, ClientQuery, ClientSettings, ForwardAgent, RemoteOpenPermits,
    RequestTty, StrictHostKeyChecking, resolve, resolve_with_env,
};
use ssh_config::{AlgorithmSpec, ConfigError, Endpoint, Forward};

const USER_CFG: &str = "/home/alice/.ssh/config";
const SYSTEM_CFG: &str = "/etc/ssh/ssh_config";

/// Debian 12's /etc/ssh/ssh_config without its comments.
const DEBIAN_SSH_CONFIG: &str = "\
# This is the ssh client system-wide configuration file.
Include /etc/ssh/ssh_config.d/*.conf

Host *
#   ForwardAgent no
#   PasswordAuthentication yes
    SendEnv LANG LC_*
    HashKnownHosts yes
    GSSAPIAuthentication yes
";

fn query(host: &str) -> ClientQuery {
    ClientQuery {
        host: host.into(),
        user: None,
        port: None,
        local_user: "alice".into(),
        home: PathBuf::from("/home/alice"),
    }
}

fn parse(text: &str) -> Result<ClientConfig, ConfigError> {
    ClientConfig::parse(text, Path::new(USER_CFG), &mut MapLoader::default())
}

fn settings(text: &str, host: &str) -> ClientSettings {
    resolve(&[parse(text).unwrap()], &[], &query(host)).unwrap()
}

#[test]
fn debian_default_parses_with_a_warning_for_gssapi() {
    let mut loader = MapLoader::with(&[("/etc/ssh/ssh_config.d/x.conf", "Port 2200\n")]);
    let cfg = ClientConfig::parse(DEBIAN_SSH_CONFIG, Path::new(SYSTEM_CFG), &mut loader).unwrap();
    assert_eq!(
        loader.globs,
        [PathBuf::from("/etc/ssh/ssh_config.d/*.conf")]
    );
    assert_eq!(cfg.warnings().len(), 1, "{:?}", cfg.warnings());
    assert!(cfg.warnings()[0].contains("gssapiauthentication"));
    assert!(cfg.warnings()[0].contains("line 9"));
    let s = resolve(&[cfg], &[], &query("example.org")).unwrap();
    assert_eq!(s.send_env, ["LANG", "LC_*"]);
    assert!(s.hash_known_hosts);
    assert_eq!(s.port, 2200);
}

#[test]
fn defaults_are_openssh_ones() {
    let s = settings("Host x\n HostName Upper.%h\n", "Example.ORG");
    assert_eq!(s.host, "Example.ORG");
    assert_eq!(s.hostname, "example.org");
    assert_eq!(s.port, 22);
    assert_eq!(s.user, "alice");
    assert!(s.identity_files_are_default);
    let ids: Vec<String> = s
        .identity_files
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    assert_eq!(
        ids,
        [
            "/home/alice/.ssh/id_rsa",
            "/home/alice/.ssh/id_ecdsa",
            "/home/alice/.ssh/id_ecdsa_sk",
            "/home/alice/.ssh/id_ed25519",
            "/home/alice/.ssh/id_ed25519_sk"
        ]
    );
    assert_eq!(
        s.user_known_hosts_files,
        [
            PathBuf::from("/home/alice/.ssh/known_hosts"),
            PathBuf::from("/home/alice/.ssh/known_hosts2")
        ]
    );
    assert_eq!(
        s.global_known_hosts_files,
        [
            PathBuf::from("/etc/ssh/ssh_known_hosts"),
            PathBuf::from("/etc/ssh/ssh_known_hosts2")
        ]
    );
    assert_eq!(s.strict_host_key_checking, StrictHostKeyChecking::Ask);
    assert_eq!(
        s.preferred_authentications,
        ["publickey", "keyboard-interactive", "password"]
    );
    assert_eq!(s.number_of_password_prompts, 3);
    assert_eq!(s.server_alive_count_max, 3);
    assert_eq!(s.escape_char, Some(b'~'));
    assert_eq!(s.request_tty, RequestTty::Auto);
    assert!(s.kex_algorithms.is_default());
    assert_eq!(s.connect_timeout, None);
    assert!(s.tcp_keep_alive && s.pubkey_authentication && !s.batch_mode);
}

#[test]
fn first_obtained_value_wins_and_lists_accumulate() {
    let text = "\
Host web
    Port 2222
    User deploy
    IdentityFile ~/.ssh/web
    SendEnv A
Host *
    Port 22
    User nobody
    IdentityFile ~/.ssh/other
    SendEnv B
    LocalForward 8080 localhost:80
";
    let s = settings(text, "web");
    assert_eq!(s.port, 2222);
    assert_eq!(s.user, "deploy");
    assert!(!s.identity_files_are_default);
    assert_eq!(
        s.identity_files,
        [
            PathBuf::from("/home/alice/.ssh/web"),
            PathBuf::from("/home/alice/.ssh/other")
        ]
    );
    assert_eq!(s.send_env, ["A", "B"]);
    assert_eq!(s.local_forward.len(), 1);
    // The user file comes before the system file.
    let user = parse("Host *\n  Port 1\n").unwrap();
    let system = ClientConfig::parse(
        "Port 2\nUser sys\n",
        Path::new(SYSTEM_CFG),
        &mut MapLoader::default(),
    )
    .unwrap();
    let s = resolve(&[user, system], &[], &query("h")).unwrap();
    assert_eq!((s.port, s.user.as_str()), (1, "sys"));
}

#[test]
fn host_negation_and_wildcards() {
    let text = "\
Host *.example.com !bastion.example.com
    User inner
Host bastion.*
    User jump
";
    assert_eq!(settings(text, "db.example.com").user, "inner");
    assert_eq!(settings(text, "bastion.example.com").user, "jump");
    // Host patterns are case-sensitive (as OpenSSH 9.2); Match host is not.
    assert_eq!(settings(text, "BASTION.example.com").user, "inner");
    assert_eq!(settings("Match host WEB\n User m\n", "web").user, "m");
    assert_eq!(settings(text, "db.example.org").user, "alice");
    // A negated pattern alone never matches.
    assert_eq!(settings("Host !foo\n User x\n", "bar").user, "alice");
}

#[test]
fn match_host_sees_hostname_set_above() {
    let text = "\
Host short
    HostName long.%h.example.net
Match host long.*.example.net
    Port 2022
Match originalhost short user alice
    User bob
Match host short
    Port 1
";
    let s = settings(text, "short");
    assert_eq!(s.hostname, "long.short.example.net");
    assert_eq!(s.port, 2022);
    assert_eq!(s.user, "bob");
    let s = settings(text, "other");
    assert_eq!((s.hostname.as_str(), s.port), ("other", 22));
}

#[test]
fn match_negation_all_localuser_user_tagged() {
    let text = "\
Match !localuser root
    Compression yes
Match user root
    Port 99
Match canonical final all
    BatchMode yes
Match tagged prod
    Port 7
Tag prod
";
    let s = settings(text, "h");
    assert!(s.compression && s.batch_mode);
    assert_eq!(s.port, 22, "tagged before Tag is set does not match");
    let mut q = query("h");
    q.user = Some("root".into());
    let s = resolve(&[parse(text).unwrap()], &[], &q).unwrap();
    assert_eq!(s.port, 99);
    // Tag set first (-o), then Match tagged applies.
    let s = resolve(&[parse(text).unwrap()], &["Tag=prod".into()], &query("h")).unwrap();
    assert_eq!(s.port, 7);
}

#[test]
fn match_exec_and_bad_match_are_errors_with_line() {
    let e = parse("Port 1\nMatch exec \"true\"\n").unwrap_err();
    assert_eq!(e.line, 2);
    assert_eq!(e.file, PathBuf::from(USER_CFG));
    assert!(e.message.contains("exec"), "{e}");
    assert!(parse("Match all host x\n").is_err());
    assert!(parse("Match host\n").is_err());
    assert!(parse("Match\n").is_err());
    assert!(parse("Host\n").is_err());
}

#[test]
fn unknown_keyword_error_names_file_line_and_keyword() {
    let e = parse("Port 22\n\n  Frobnicate yes\n").unwrap_err();
    assert_eq!(e.line, 3);
    assert!(e.message.contains("Frobnicate"), "{e}");
    assert_eq!(
        e.to_string(),
        "/home/alice/.ssh/config line 3: Bad configuration option: Frobnicate"
    );
    // Errors in included files name that file.
    let mut loader = MapLoader::with(&[("/home/alice/.ssh/inc", "User x\nBogus 1\n")]);
    let e = ClientConfig::parse("Include inc\n", Path::new(USER_CFG), &mut loader).unwrap_err();
    assert_eq!(
        (e.file.as_path(), e.line),
        (Path::new("/home/alice/.ssh/inc"), 2)
    );
    // Bad values name the keyword, also in a block that will not match.
    let e = parse("Host nothing\n  BatchMode maybe\n").unwrap_err();
    assert_eq!(e.line, 2);
    assert!(
        e.message.contains("BatchMode") && e.message.contains("maybe"),
        "{e}"
    );
    // IgnoreUnknown turns the error into a warning.
    let cfg = parse("IgnoreUnknown Frob*,UseKeychain\nUseKeychain yes\n").unwrap();
    assert_eq!(cfg.warnings().len(), 1);
}

#[test]
fn syntax_forms() {
    let s = settings(
        "port=2201\nUSER = \"joe smith\"\n  IdentityFile \"~/.ssh/my key\" # comment\nhostname=H.Example\n",
        "x",
    );
    assert_eq!(s.port, 2201);
    assert_eq!(s.user, "joe smith");
    assert_eq!(s.identity_files, [PathBuf::from("/home/alice/.ssh/my key")]);
    assert_eq!(s.hostname, "h.example");
    assert!(parse("Port 22 23\n").is_err());
    assert!(parse("Port 0\n").is_err());
    assert!(parse("Port 70000\n").is_err());
    assert!(parse("User \"open\n").is_err());
}

#[test]
fn include_wildcards_relative_paths_and_conditions() {
    let mut loader = MapLoader::with(&[
        ("/home/alice/.ssh/config.d/b.conf", "Host b\n  Port 2\n"),
        (
            "/home/alice/.ssh/config.d/a.conf",
            "Host a\n  Port 1\nUser fromA\n",
        ),
        ("/home/alice/.ssh/config.d/skip.txt", "Port 9\n"),
        ("/home/alice/extra", "Compression yes\n"),
        ("/home/alice/.ssh/only-web", "User webuser\n"),
    ]);
    let text = "\
Include config.d/*.conf ~/extra missing-is-fine
Host web
    Include only-web
Host *
    User last
";
    let cfg = ClientConfig::parse(text, Path::new(USER_CFG), &mut loader).unwrap();
    assert_eq!(
        loader.globs,
        [PathBuf::from("/home/alice/.ssh/config.d/*.conf")]
    );
    let s = resolve(std::slice::from_ref(&cfg), &[], &query("a")).unwrap();
    assert_eq!(s.port, 1);
    // a.conf's trailing User belongs to its Host a block: not for b.
    assert_eq!(s.user, "fromA");
    assert!(s.compression);
    let s = resolve(std::slice::from_ref(&cfg), &[], &query("b")).unwrap();
    assert_eq!((s.port, s.user.as_str()), (2, "last"));
    // An Include inside a Host block applies only when the block matches.
    let s = resolve(std::slice::from_ref(&cfg), &[], &query("web")).unwrap();
    assert_eq!(s.user, "webuser");
    // The system file's relative Includes are under /etc/ssh.
    let mut loader = MapLoader::with(&[("/etc/ssh/sys.d/x", "Port 3\n")]);
    let cfg = ClientConfig::parse("Include sys.d/x\n", Path::new(SYSTEM_CFG), &mut loader).unwrap();
    assert_eq!(resolve(&[cfg], &[], &query("h")).unwrap().port, 3);
    // Recursion is bounded.
    let mut loader = MapLoader::with(&[("/home/alice/.ssh/loop", "Include loop\n")]);
    let e = ClientConfig::parse("Include loop\n", Path::new(USER_CFG), &mut loader).unwrap_err();
    assert!(e.message.contains("deep"), "{e}");
}

#[test]
fn overrides_win_and_are_checked() {
    let cfg = parse("Port 2\nUser u\nStrictHostKeyChecking yes\n").unwrap();
    let s = resolve(
        std::slice::from_ref(&cfg),
        &["Port=3".into(), "stricthostkeychecking off".into()],
        &query("h"),
    )
    .unwrap();
    assert_eq!(s.port, 3);
    assert_eq!(s.user, "u");
    assert_eq!(s.strict_host_key_checking, StrictHostKeyChecking::No);
    // -l and -p come before everything.
    let mut q = query("h");
    q.user = Some("cli".into());
    q.port = Some(4);
    let s = resolve(std::slice::from_ref(&cfg), &["Port=5".into()], &q).unwrap();
    assert_eq!((s.port, s.user.as_str()), (4, "cli"));
    let e = resolve(
        std::slice::from_ref(&cfg),
        &["Nonsense=1".into()],
        &query("h"),
    )
    .unwrap_err();
    assert_eq!(e.file, PathBuf::from("command-line"));
    assert!(e.message.contains("Nonsense"));
    assert!(resolve(&[cfg], &["Host=x".into()], &query("h")).is_err());
}

#[test]
fn tokens_and_tilde() {
    let text = "\
Host gw
    HostName gw.example.net
    User ops
    Port 2200
    IdentityFile ~/.ssh/%r@%h-%p
    IdentityFile %d/keys/%u_%n
    CertificateFile ~/.ssh/%h-cert.pub
    UserKnownHostsFile ~/.ssh/kh_%h /dev/null
    IdentityAgent ~/agent.%n
    ProxyCommand ssh -W %h:%p bastion %%
";
    let s = settings(text, "gw");
    assert_eq!(
        s.identity_files,
        [
            PathBuf::from("/home/alice/.ssh/ops@gw.example.net-2200"),
            PathBuf::from("/home/alice/keys/alice_gw")
        ]
    );
    assert_eq!(
        s.certificate_files,
        [PathBuf::from("/home/alice/.ssh/gw.example.net-cert.pub")]
    );
    assert_eq!(
        s.user_known_hosts_files,
        [
            PathBuf::from("/home/alice/.ssh/kh_gw.example.net"),
            PathBuf::from("/dev/null")
        ]
    );
    assert_eq!(s.identity_agent.as_deref(), Some("/home/alice/agent.gw"));
    assert_eq!(
        s.proxy_command.as_deref(),
        Some("ssh -W gw.example.net:2200 bastion %")
    );
    // %C needs the local host name: an error naming the line without it.
    let cfg = parse("Port 1\nIdentityFile ~/.ssh/%C\n").unwrap();
    let e = resolve(std::slice::from_ref(&cfg), &[], &query("h")).unwrap_err();
    assert_eq!(e.line, 2);
    let env = ClientEnv {
        local_hostname: Some("vm".into()),
        local_uid: Some(1000),
    };
    let s = resolve_with_env(&[cfg], &[], &query("h1"), &env).unwrap();
    // sha1("vm" "h1" "1" "alice"), as OpenSSH 9.2 computes %C.
    let expect = {
        use sha1::Digest;
        hex::encode(sha1::Sha1::digest(b"vmh11alice"))
    };
    assert_eq!(
        s.identity_files,
        [PathBuf::from(format!("/home/alice/.ssh/{expect}"))]
    );
    // ProxyCommand accepts only %h %n %p %r.
    let cfg = parse("ProxyCommand nc %d\n").unwrap();
    assert!(resolve(&[cfg], &[], &query("h")).is_err());
    // Special IdentityAgent values are kept as written.
    assert_eq!(
        settings("IdentityAgent SSH_AUTH_SOCK\n", "h")
            .identity_agent
            .as_deref(),
        Some("SSH_AUTH_SOCK")
    );
    assert_eq!(
        settings("IdentityAgent none\n", "h")
            .identity_agent
            .as_deref(),
        Some("none")
    );
    // IdentityFile none suppresses the defaults and loads nothing.
    let s = settings("IdentityFile none\n", "h");
    assert!(s.identity_files.is_empty() && !s.identity_files_are_default);
}

#[test]
fn typed_values() {
    let s = settings(
        "\
ConnectTimeout 1m
ServerAliveInterval 15
ServerAliveCountMax 5
RekeyLimit 1G 1h
EscapeChar ^A
RequestTTY force
ForwardAgent ~/other.sock
LogLevel debug2
SetEnv FOO=bar BAZ=\"x y\" FOO=ignored
SetEnv LATER=1
SendEnv LC_* -LC_ALL
SendEnv -LC_*
AddressFamily inet6
ProxyJump none
ProxyCommand ssh gw
Ciphers +aes128-cbc
StrictHostKeyChecking accept-new
",
        "h",
    );
    assert_eq!(s.connect_timeout, Some(Duration::from_secs(60)));
    assert_eq!(s.server_alive_interval, Duration::from_secs(15));
    assert_eq!(s.server_alive_count_max, 5);
    assert_eq!(s.rekey_limit.bytes, Some(1 << 30));
    assert_eq!(s.rekey_limit.time, Some(Duration::from_secs(3600)));
    assert_eq!(s.escape_char, Some(1));
    assert_eq!(s.request_tty, RequestTty::Force);
    assert_eq!(s.forward_agent, ForwardAgent::Path("~/other.sock".into()));
    assert_eq!(s.log_level, ssh_config::LogLevel::Debug2);
    assert_eq!(
        s.set_env,
        [
            ("FOO".to_string(), "bar".to_string()),
            ("BAZ".to_string(), "x y".to_string())
        ]
    );
    assert!(s.send_env.is_empty(), "{:?}", s.send_env);
    // ProxyJump none came first: it blocks ProxyCommand, and means no jump.
    assert_eq!(s.proxy_jump, None);
    assert_eq!(s.proxy_command, None);
    assert_eq!(s.ciphers, AlgorithmSpec::new("+aes128-cbc"));
    assert_eq!(s.strict_host_key_checking, StrictHostKeyChecking::AcceptNew);
    assert_eq!(settings("EscapeChar none\n", "h").escape_char, None);
    assert!(parse("EscapeChar ab\n").is_err());
    assert!(parse("RekeyLimit 8\n").is_err());
    assert!(parse("ConnectTimeout soon\n").is_err());
    assert!(parse("LogLevel LOUD\n").is_err());
    assert!(parse("SetEnv NOEQUALS\n").is_err());
    assert!(parse("StrictHostKeyChecking perhaps\n").is_err());
    // ProxyCommand first blocks a later ProxyJump.
    let s = settings("ProxyCommand nc %h %p\nProxyJump j\n", "h");
    assert_eq!(s.proxy_command.as_deref(), Some("nc h 22"));
    assert_eq!(s.proxy_jump, None);
}

#[test]
fn forwards_in_files_and_clear_all() {
    let text = "\
LocalForward 8080 localhost:80
LocalForward [::1]:8443 [2001:db8::1]:443
LocalForward /tmp/l.sock /run/r.sock
RemoteForward 0 localhost:22
RemoteForward 1080
DynamicForward 127.0.0.1:1081
";
    let s = settings(text, "h");
    assert_eq!(
        s.local_forward[0],
        Forward {
            listen: Endpoint::Tcp {
                bind: None,
                port: 8080
            },
            connect: Some(Endpoint::Tcp {
                bind: Some("localhost".into()),
                port: 80
            }),
        }
    );
    assert_eq!(
        s.local_forward[1],
        Forward {
            listen: Endpoint::Tcp {
                bind: Some("::1".into()),
                port: 8443
            },
            connect: Some(Endpoint::Tcp {
                bind: Some("2001:db8::1".into()),
                port: 443
            }),
        }
    );
    assert_eq!(
        s.local_forward[2],
        Forward {
            listen: Endpoint::Unix("/tmp/l.sock".into()),
            connect: Some(Endpoint::Unix("/run/r.sock".into())),
        }
    );
    assert_eq!(
        s.remote_forward[0].listen,
        Endpoint::Tcp {
            bind: None,
            port: 0
        }
    );
    assert_eq!(s.remote_forward[1].connect, None);
    assert_eq!(
        s.dynamic_forward,
        [Endpoint::Tcp {
            bind: Some("127.0.0.1".into()),
            port: 1081
        }]
    );
    assert!(parse("LocalForward 8080\n").is_err());
    assert!(parse("LocalForward 0 localhost:80\n").is_err());
    let s = settings(&format!("ClearAllForwardings yes\n{text}"), "h");
    assert!(
        s.local_forward.is_empty() && s.remote_forward.is_empty() && s.dynamic_forward.is_empty()
    );
}

#[test]
fn dump_is_ssh_g_shaped() {
    let s = settings(
        "Host h\n  User bob\n  Port 2022\n  LocalForward 8080 localhost:80\n  DynamicForward 1080\n  Ciphers aes128-ctr\n",
        "h",
    );
    let out = s.dump(&|_, spec| spec.as_str().to_string());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        &lines[..4],
        ["host h", "user bob", "hostname h", "port 2022"]
    );
    for want in [
        "stricthostkeychecking ask",
        "localforward 8080 [localhost]:80",
        "dynamicforward 1080",
        "ciphers aes128-ctr",
        "identityfile /home/alice/.ssh/id_ed25519",
        "userknownhostsfile /home/alice/.ssh/known_hosts /home/alice/.ssh/known_hosts2",
        "escapechar ~",
        "connecttimeout none",
        "rekeylimit 0 0",
        "pubkeyauthentication true",
        "preferredauthentications publickey,keyboard-interactive,password",
    ] {
        assert!(lines.contains(&want), "missing {want:?} in\n{out}");
    }
    // Empty algorithm strings omit the line.
    assert!(!lines.iter().any(|l| l.starts_with("macs")));
    assert!(lines.iter().all(|l| {
        let k = l.split(' ').next().unwrap();
        k == k.to_ascii_lowercase()
    }));
}

#[test]
fn xauth_location_and_warn_weak_crypto_are_read() {
    let d = settings("", "h");
    assert_eq!(d.xauth_location, std::path::PathBuf::from("/usr/bin/xauth"));
    assert!(d.warn_weak_crypto);
    let s = settings(
        "Host h\n  XAuthLocation /opt/X11/bin/xauth\n  WarnWeakCrypto no-pq-kex\n",
        "h",
    );
    assert_eq!(
        s.xauth_location,
        std::path::PathBuf::from("/opt/X11/bin/xauth")
    );
    assert!(!s.warn_weak_crypto);
    assert!(parse("WarnWeakCrypto maybe\n").is_err());
}

#[test]
fn refuse_connection_stops_only_where_it_applies() {
    let cfg = parse("Host forbidden\n  RefuseConnection \"not from here\"\n").unwrap();
    let q = |host: &str| ClientQuery {
        host: host.into(),
        user: None,
        port: None,
        local_user: "me".into(),
        home: "/home/me".into(),
    };
    assert!(resolve(std::slice::from_ref(&cfg), &[], &q("allowed")).is_ok());
    let e = resolve(std::slice::from_ref(&cfg), &[], &q("forbidden")).expect_err("refused");
    assert_eq!(e.line, 2);
    assert!(
        e.message.contains("RefuseConnection: not from here"),
        "{}",
        e.message
    );
}

#[test]
fn stream_local_bind_unlink_and_permit_remote_open_are_read() {
    let cfg = parse("Host h\n  StreamLocalBindUnlink yes\n  PermitRemoteOpen localhost:22 *:80\n")
        .unwrap();
    assert!(cfg.warnings().is_empty(), "{:?}", cfg.warnings());
    let s = settings(
        "Host h\n  StreamLocalBindUnlink yes\n  PermitRemoteOpen localhost:22 *:80\nPermitRemoteOpen none\n",
        "h",
    );
    assert!(s.stream_local_bind_unlink);
    assert!(
        s.dump(&|_, a| a.as_str().to_owned())
            .contains("streamlocalbindunlink yes\n")
    );
    // The first value wins.
    assert!(s.permit_remote_open.allows("localhost", 22));
    assert!(s.permit_remote_open.allows("example.org", 80));
    assert!(!s.permit_remote_open.allows("example.org", 443));
    let d = settings("", "h");
    assert!(!d.stream_local_bind_unlink);
    assert_eq!(d.permit_remote_open, RemoteOpenPermits::Any);
    let e = parse("PermitRemoteOpen localhost\n").unwrap_err();
    assert!(e.to_string().contains("PermitRemoteOpen"), "{e}");
}

#[test]
fn forward_x11_timeout_is_read_and_dumped() {
    let d = settings("", "h");
    assert_eq!(d.forward_x11_timeout, Duration::from_secs(1200));
    let s = settings("ForwardX11Timeout 5m\nForwardX11Timeout 1h\n", "h");
    assert_eq!(s.forward_x11_timeout, Duration::from_secs(300));
    assert!(
        s.dump(&|_, a| a.as_str().to_owned())
            .contains("forwardx11timeout 300\n")
    );
    assert_eq!(
        settings("ForwardX11Timeout 0\n", "h").forward_x11_timeout,
        Duration::ZERO
    );
    assert!(parse("ForwardX11Timeout soon\n").is_err());
    assert!(
        parse("ForwardX11Timeout 5m\n")
            .unwrap()
            .warnings()
            .is_empty()
    );
}
