//! Server configuration: Debian's default file, Include, Match, first
//! value wins, -o, errors, user_allowed, AuthorizedKeysFile, `sshd -T`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::MapLoader;
use ssh_config::ConfigError;
use ssh_config::server::{
    ConnectionQuery, Forwarding, GatewayPorts, MaxStartups, PermitRootLogin, ServerConfig,
    ServerSettings,
};

const ORIGIN: &str = "/etc/ssh/sshd_config";

/// Debian 12's /etc/ssh/sshd_config, non-comment lines and a few comments.
const DEBIAN_SSHD_CONFIG: &str = "\
# This is the sshd server system-wide configuration file.  See
# sshd_config(5) for more information.

Include /etc/ssh/sshd_config.d/*.conf

#Port 22
#AddressFamily any
#ListenAddress 0.0.0.0

#PermitRootLogin prohibit-password
#StrictModes yes

# Change to yes to enable challenge-response passwords (beware issues with
# some PAM modules and threads)
KbdInteractiveAuthentication no

UsePAM yes

#AllowAgentForwarding yes
#AllowTcpForwarding yes
#GatewayPorts no
X11Forwarding yes
PrintMotd no
PrintLastLog no

# Allow client to pass locale environment variables
AcceptEnv LANG LC_*

# override default of no subsystems
Subsystem\tsftp\t/usr/lib/openssh/sftp-server

# Example of overriding settings on a per-user basis
#Match User anoncvs
#\tX11Forwarding no
#\tAllowTcpForwarding no
#\tPermitTTY no
#\tForceCommand cvs server
";

fn parse(text: &str) -> Result<ServerConfig, ConfigError> {
    ServerConfig::parse(text, Path::new(ORIGIN), &mut MapLoader::default())
}

fn conn(user: &str, groups: &[&str], addr: &str) -> ConnectionQuery {
    ConnectionQuery {
        user: user.into(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        address: addr.parse().unwrap(),
        host: None,
        local_address: "192.0.2.1".parse::<IpAddr>().unwrap(),
        local_port: 22,
    }
}

#[test]
fn debian_default_parses() {
    let mut loader = MapLoader::with(&[(
        "/etc/ssh/sshd_config.d/local.conf",
        "PasswordAuthentication no\n",
    )]);
    let cfg = ServerConfig::parse(DEBIAN_SSHD_CONFIG, Path::new(ORIGIN), &mut loader).unwrap();
    assert_eq!(
        loader.globs,
        [PathBuf::from("/etc/ssh/sshd_config.d/*.conf")]
    );
    assert!(cfg.warnings().is_empty(), "{:?}", cfg.warnings());
    let s = cfg.resolve(None);
    assert!(!s.kbd_interactive_authentication);
    assert!(s.use_pam);
    assert!(s.x11_forwarding);
    assert!(!s.print_motd);
    assert!(!s.print_last_log);
    assert!(ServerSettings::default().print_last_log);
    assert!(!s.password_authentication, "from the included file");
    assert_eq!(s.accept_env, ["LANG", "LC_*"]);
    assert_eq!(
        s.subsystems,
        [(
            "sftp".to_string(),
            "/usr/lib/openssh/sftp-server".to_string()
        )]
    );
    assert_eq!(s.permit_root_login, PermitRootLogin::ProhibitPassword);
}

#[test]
fn defaults_are_sshd_ones() {
    let s = parse("").unwrap().resolve(None);
    assert_eq!(s.effective_ports(), [22]);
    assert_eq!(s.max_auth_tries, 6);
    assert_eq!(s.login_grace_time, Some(Duration::from_secs(120)));
    assert_eq!(
        s.max_startups,
        MaxStartups {
            start: 10,
            rate: 30,
            full: 100
        }
    );
    assert_eq!(s.max_sessions, 10);
    assert_eq!(s.client_alive_count_max, 3);
    assert_eq!(s.x11_display_offset, 10);
    assert_eq!(
        s.authorized_keys_files,
        [".ssh/authorized_keys", ".ssh/authorized_keys2"]
    );
    assert_eq!(
        s.host_keys,
        [
            PathBuf::from("/etc/ssh/ssh_host_rsa_key"),
            PathBuf::from("/etc/ssh/ssh_host_ecdsa_key"),
            PathBuf::from("/etc/ssh/ssh_host_ed25519_key")
        ]
    );
    assert!(
        s.pubkey_authentication && s.password_authentication && s.kbd_interactive_authentication
    );
    assert!(!s.permit_empty_passwords && !s.use_pam && !s.x11_forwarding);
    assert!(s.strict_modes && s.x11_use_localhost && s.permit_tty && s.allow_agent_forwarding);
    assert_eq!(s.allow_tcp_forwarding, Forwarding::Yes);
    assert_eq!(s.gateway_ports, GatewayPorts::No);
    assert!(s.authentication_methods.is_empty());
    assert_eq!(s, ServerSettings::default().clone_with_default_keys());
}

/// `ServerSettings::default()` has no host keys; resolution adds sshd's.
trait WithKeys {
    fn clone_with_default_keys(self) -> Self;
}

impl WithKeys for ServerSettings {
    fn clone_with_default_keys(mut self) -> Self {
        self.host_keys = ["rsa", "ecdsa", "ed25519"]
            .iter()
            .map(|k| PathBuf::from(format!("/etc/ssh/ssh_host_{k}_key")))
            .collect();
        self
    }
}

#[test]
fn first_value_wins_and_lists_accumulate() {
    let s = parse(
        "\
PasswordAuthentication no
PasswordAuthentication yes
Port 22
Port 2222
HostKey /k1
HostKey /k2
AllowUsers alice
AllowUsers bob@10.0.0.0/8
MaxAuthTries 3
MaxAuthTries 9
LoginGraceTime 0
ListenAddress 127.0.0.1
ListenAddress [::1]:2200
ListenAddress 10.0.0.1:23
",
    )
    .unwrap()
    .resolve(None);
    assert!(!s.password_authentication);
    assert_eq!(s.ports, [22, 2222]);
    assert_eq!(s.host_keys, [PathBuf::from("/k1"), PathBuf::from("/k2")]);
    assert_eq!(s.allow_users, ["alice", "bob@10.0.0.0/8"]);
    assert_eq!(s.max_auth_tries, 3);
    assert_eq!(s.login_grace_time, None);
    assert_eq!(
        s.listen_addresses,
        [
            ("127.0.0.1".to_string(), None),
            ("::1".to_string(), Some(2200)),
            ("10.0.0.1".to_string(), Some(23))
        ]
    );
    assert_eq!(
        s.effective_listen(),
        [
            ("127.0.0.1".to_string(), 22),
            ("127.0.0.1".to_string(), 2222),
            ("::1".to_string(), 2200),
            ("10.0.0.1".to_string(), 23)
        ]
    );
}

const WITH_MATCH: &str = "\
PasswordAuthentication no
X11Forwarding no
AllowTcpForwarding yes
AuthorizedKeysFile .ssh/authorized_keys

Match User anoncvs,guest*
    X11Forwarding no
    AllowTcpForwarding no
    PermitTTY no
    ForceCommand cvs server
Match Group admins !User mallory
    PasswordAuthentication yes
    PermitRootLogin yes
Match Address 10.0.0.0/8,!10.0.0.66
    PasswordAuthentication no
    X11Forwarding yes
    MaxAuthTries 2
Match LocalPort 2222 LocalAddress 192.0.2.0/24
    Banner /etc/banner.2222
Match All
    MaxAuthTries 4
    AuthorizedKeysFile none
";

#[test]
fn match_user_group_address_and_all() {
    let cfg = parse(WITH_MATCH).unwrap();
    // Global view: only Match All applies.
    let g = cfg.resolve(None);
    assert!(!g.password_authentication);
    assert_eq!(g.max_auth_tries, 4);
    assert!(g.permit_tty);
    assert_eq!(g.force_command, None);
    assert!(g.authorized_keys_files == ["none"]);

    let s = cfg.resolve(Some(&conn("guest7", &["users"], "192.0.2.9")));
    assert_eq!(s.allow_tcp_forwarding, Forwarding::No);
    assert!(!s.permit_tty);
    assert_eq!(s.force_command.as_deref(), Some("cvs server"));

    // Group admins: Match values override the global ones.
    let s = cfg.resolve(Some(&conn("ann", &["users", "admins"], "192.0.2.9")));
    assert!(s.password_authentication);
    assert_eq!(s.permit_root_login, PermitRootLogin::Yes);
    assert_eq!(s.max_auth_tries, 4);
    // ... but not for mallory (negated criterion).
    let s = cfg.resolve(Some(&conn("mallory", &["admins"], "192.0.2.9")));
    assert!(!s.password_authentication);

    // The first matching block to set an option wins over later ones.
    let s = cfg.resolve(Some(&conn("ann", &["admins"], "10.1.2.3")));
    assert!(s.password_authentication);
    assert!(s.x11_forwarding);
    assert_eq!(s.max_auth_tries, 2);
    // Address with a negated entry.
    let s = cfg.resolve(Some(&conn("bob", &["users"], "10.0.0.66")));
    assert!(!s.x11_forwarding);
    let s = cfg.resolve(Some(&conn("bob", &["users"], "10.0.0.65")));
    assert!(s.x11_forwarding);
    let s = cfg.resolve(Some(&conn("bob", &["users"], "2001:db8::1")));
    assert!(!s.x11_forwarding);

    // LocalPort and LocalAddress.
    let mut q = conn("bob", &[], "198.51.100.1");
    assert_eq!(cfg.resolve(Some(&q)).banner, None);
    q.local_port = 2222;
    assert_eq!(
        cfg.resolve(Some(&q)).banner,
        Some(PathBuf::from("/etc/banner.2222"))
    );
    q.local_address = "203.0.113.1".parse().unwrap();
    assert_eq!(cfg.resolve(Some(&q)).banner, None);
}

#[test]
fn match_host_and_lists_replace_global() {
    let cfg = parse(
        "\
AllowUsers alice bob
AcceptEnv LANG
Match Host *.trusted.example
    AllowUsers carol
    AcceptEnv LC_*
    AcceptEnv TZ
",
    )
    .unwrap();
    let mut q = conn("carol", &[], "192.0.2.5");
    q.host = Some("ws1.Trusted.example".into());
    let s = cfg.resolve(Some(&q));
    assert_eq!(s.allow_users, ["carol"]);
    assert_eq!(s.accept_env, ["LC_*", "TZ"]);
    q.host = None;
    let s = cfg.resolve(Some(&q));
    assert_eq!(s.allow_users, ["alice", "bob"]);
}

#[test]
fn match_rejects_global_only_keywords_and_bad_criteria() {
    let e = parse("Port 22\nMatch User x\n  UsePAM yes\n").unwrap_err();
    assert_eq!(e.line, 3);
    assert!(
        e.message.contains("UsePAM") && e.message.contains("Match"),
        "{e}"
    );
    for bad in [
        "Match\n",
        "Match User\n",
        "Match All User x\n",
        "Match Address 10.0.0.1/8\n",
        "Match LocalPort http\n",
        "Match Frob x\n",
        "Match Address 10.0.0.0/8\n Port 2\n",
        "Match All\n HostKey /k\n",
    ] {
        assert!(parse(bad).is_err(), "accepted {bad:?}");
    }
    // Allowed in Match.
    parse("Match User x\n  AuthenticationMethods publickey,password publickey,keyboard-interactive:pam\n  PermitOpen host:22 *:80\n  ChrootDirectory none\n").unwrap();
}

#[test]
fn errors_like_sshd_t() {
    let e = parse("Port 22\nPermitRootLogin yes\nPasswordAuthentication maybe\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "/etc/ssh/sshd_config line 3: PasswordAuthentication: Bad yes/no argument: maybe"
    );
    let e = parse("\nUseDNS no\nBogusOption 1\n").unwrap_err();
    assert_eq!(
        e.to_string(),
        "/etc/ssh/sshd_config line 3: Bad configuration option: BogusOption"
    );
    let e = parse("Subsystem sftp a\nSubsystem sftp b\n").unwrap_err();
    assert_eq!(e.line, 2);
    // Unsupported options that would loosen security are refused.
    let e = parse("ChrootDirectory /srv/%U\n").unwrap_err();
    assert!(e.message.contains("ChrootDirectory"), "{e}");
    assert!(parse("RevokedKeys /etc/ssh/revoked\n").is_err());
    parse("RevokedKeys none\n").unwrap();
    for bad in [
        "PermitRootLogin sometimes\n",
        "MaxStartups 10:0:100\n",
        "MaxStartups 50:30:10\n",
        "AuthenticationMethods publickey,telepathy\n",
        "AuthenticationMethods any publickey\n",
        "AuthorizedKeysFile .ssh/%x\n",
        "LoginGraceTime forever\n",
        "AllowTcpForwarding sometimes\n",
        "Port 0\n",
        "PermitOpen nohost\n",
        "SyslogFacility KERN\n",
        "AcceptEnv A=B\n",
        "Compression maybe\n",
    ] {
        assert!(parse(bad).is_err(), "accepted {bad:?}");
    }
    // Known but unsupported: a warning naming the line.
    let cfg = parse("\n\nKerberosAuthentication no\nGSSAPIAuthentication no\n").unwrap();
    assert_eq!(cfg.warnings().len(), 2);
    assert!(cfg.warnings()[0].contains("line 3"));
}

#[test]
fn include_relative_to_etc_ssh_and_inside_match() {
    let mut loader = MapLoader::with(&[
        ("/etc/ssh/conf.d/10-a.conf", "MaxSessions 4\n"),
        (
            "/etc/ssh/conf.d/20-b.conf",
            "MaxSessions 5\nMaxAuthTries 5\n",
        ),
        ("/etc/ssh/match.conf", "PermitTTY no\n"),
        ("/etc/ssh/bad-in-match.conf", "UsePAM yes\n"),
        ("/etc/ssh/with-match.conf", "Match User t\n  PermitTTY no\n"),
    ]);
    // A Match block in an included file ends with that file.
    let cfg = ServerConfig::parse(
        "Include with-match.conf
MaxSessions 3
Port 2
",
        Path::new(ORIGIN),
        &mut loader,
    )
    .unwrap();
    let s = cfg.resolve(Some(&conn("u", &[], "192.0.2.2")));
    assert_eq!((s.max_sessions, s.ports.as_slice()), (3, &[2][..]));
    assert!(!cfg.resolve(Some(&conn("t", &[], "192.0.2.2"))).permit_tty);
    let cfg = ServerConfig::parse(
        "Include conf.d/*.conf\nMatch User t\n  Include match.conf\nMatch all\n",
        Path::new(ORIGIN),
        &mut loader,
    )
    .unwrap();
    let s = cfg.resolve(None);
    assert_eq!((s.max_sessions, s.max_auth_tries), (4, 5));
    assert!(s.permit_tty);
    assert!(!cfg.resolve(Some(&conn("t", &[], "192.0.2.2"))).permit_tty);
    let e = ServerConfig::parse(
        "Match User t\n  Include bad-in-match.conf\n",
        Path::new(ORIGIN),
        &mut loader,
    )
    .unwrap_err();
    assert_eq!(
        (e.file.as_path(), e.line),
        (Path::new("/etc/ssh/bad-in-match.conf"), 1)
    );
}

#[test]
fn overrides_come_first() {
    let mut cfg = parse("PasswordAuthentication no\nPort 2222\n").unwrap();
    cfg.apply_overrides(&[
        "PasswordAuthentication=yes".into(),
        "LogLevel DEBUG3".into(),
    ])
    .unwrap();
    let s = cfg.resolve(None);
    assert!(s.password_authentication);
    assert_eq!(s.log_level, ssh_config::LogLevel::Debug3);
    assert_eq!(s.ports, [2222]);
    let e = cfg.apply_overrides(&["Nope=1".into()]).unwrap_err();
    assert_eq!(e.file, PathBuf::from("command-line"));
    assert!(cfg.apply_overrides(&["Match all".into()]).is_err());
}

#[test]
fn user_allowed_follows_sshd() {
    let s = parse(
        "AllowUsers alice bob@192.0.2.0/24 carol@*.example.com dave@!10.0.0.1,10.0.0.0/8\nDenyUsers root eve*\n",
    )
    .unwrap()
    .resolve(None);
    let addr = "192.0.2.7";
    assert!(s.user_allowed("alice", &[], None, addr).is_ok());
    assert!(s.user_allowed("bob", &[], None, addr).is_ok());
    assert_eq!(
        s.user_allowed("bob", &[], Some("h.example.org"), "198.51.100.1"),
        Err("User bob from h.example.org not allowed because not listed in AllowUsers".into())
    );
    assert!(
        s.user_allowed("carol", &[], Some("ws.example.com"), "198.51.100.1")
            .is_ok()
    );
    assert!(s.user_allowed("carol", &[], None, "198.51.100.1").is_err());
    assert!(s.user_allowed("dave", &[], None, "10.2.3.4").is_ok());
    assert!(s.user_allowed("dave", &[], None, "10.0.0.1").is_err());
    assert_eq!(
        s.user_allowed("root", &[], None, addr),
        Err("User root from 192.0.2.7 not allowed because listed in DenyUsers".into())
    );
    assert!(
        s.user_allowed("eve2", &[], None, addr)
            .unwrap_err()
            .contains("DenyUsers")
    );
    assert!(
        s.user_allowed("Alice", &[], None, addr).is_err(),
        "user names are case-sensitive"
    );

    let s = parse("AllowGroups staff dev*\nDenyGroups banned\n")
        .unwrap()
        .resolve(None);
    let g = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(
        s.user_allowed("x", &g(&["users", "developers"]), None, addr)
            .is_ok()
    );
    assert_eq!(
        s.user_allowed("x", &g(&["users"]), None, addr),
        Err("User x from 192.0.2.7 not allowed because none of user's groups are listed in AllowGroups".into())
    );
    assert!(
        s.user_allowed("x", &g(&["staff", "banned"]), None, addr)
            .unwrap_err()
            .contains("DenyGroups")
    );
    assert!(
        s.user_allowed("x", &[], None, addr)
            .unwrap_err()
            .contains("not in any group")
    );
    // No lists: everyone.
    assert!(
        parse("")
            .unwrap()
            .resolve(None)
            .user_allowed("anyone", &[], None, addr)
            .is_ok()
    );
}

#[test]
fn authorized_keys_expansion() {
    let s = parse("AuthorizedKeysFile .ssh/authorized_keys /etc/keys/%u %h/k_%U %%x ~/t\n")
        .unwrap()
        .resolve(None);
    assert_eq!(
        s.expand_authorized_keys("ann", Path::new("/home/ann"), 1001),
        [
            PathBuf::from("/home/ann/.ssh/authorized_keys"),
            PathBuf::from("/etc/keys/ann"),
            PathBuf::from("/home/ann/k_1001"),
            PathBuf::from("/home/ann/%x"),
            PathBuf::from("/home/ann/t"),
        ]
    );
    let s = parse("AuthorizedKeysFile none\n").unwrap().resolve(None);
    assert!(
        s.expand_authorized_keys("ann", Path::new("/home/ann"), 1)
            .is_empty()
    );
}

#[test]
fn disable_forwarding_turns_everything_off() {
    let s = parse("X11Forwarding yes\nDisableForwarding yes\n")
        .unwrap()
        .resolve(None);
    assert_eq!(s.allow_tcp_forwarding, Forwarding::No);
    assert_eq!(s.allow_stream_local_forwarding, Forwarding::No);
    assert!(!s.allow_agent_forwarding && !s.x11_forwarding);
}

#[test]
fn dump_is_sshd_t_shaped() {
    let s = parse(&format!(
        "{}Port 2222\nListenAddress 127.0.0.1\nListenAddress ::1\nRekeyLimit 1G 1h\nCiphers aes128-ctr\nAllowUsers a b\nAuthenticationMethods publickey,password\n",
        "Subsystem sftp internal-sftp -l INFO\n"
    ))
    .unwrap()
    .resolve(None);
    let out = s.dump(&|_, spec| spec.as_str().to_string());
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "port 2222");
    for want in [
        "listenaddress 127.0.0.1:2222",
        "listenaddress [::1]:2222",
        "permitrootlogin prohibit-password",
        "logingracetime 120",
        "maxstartups 10:30:100",
        "rekeylimit 1073741824 3600",
        "ciphers aes128-ctr",
        "allowusers a",
        "allowusers b",
        "authenticationmethods publickey,password",
        "subsystem sftp internal-sftp -l INFO",
        "authorizedkeysfile .ssh/authorized_keys .ssh/authorized_keys2",
        "hostkey /etc/ssh/ssh_host_ed25519_key",
        "usepam no",
        "pidfile /run/sshd.pid",
        "banner none",
    ] {
        assert!(lines.contains(&want), "missing {want:?} in\n{out}");
    }
    assert!(!lines.iter().any(|l| l.starts_with("macs")));
    let g = parse("").unwrap().resolve(None).dump(&|_, _| String::new());
    assert!(
        g.contains("listenaddress [::]:22\nlistenaddress 0.0.0.0:22\n"),
        "{g}"
    );
    assert!(g.contains("authenticationmethods any\n"));
}

#[test]
fn max_startups_drops_early_at_random_as_sshd() {
    use ssh_config::server::MaxStartups;
    let m = MaxStartups {
        start: 10,
        rate: 30,
        full: 100,
    };
    // Below start: never; from full on: always.
    assert!((0..100).all(|r| !m.should_drop(9, r)));
    assert!((0..100).all(|r| m.should_drop(100, r)));
    assert!((0..100).all(|r| m.should_drop(500, r)));
    // At start: `rate` percent of the rolls; halfway: 30 + 70/2 = 65.
    let dropped = |n| (0..100).filter(|r| m.should_drop(n, *r)).count();
    assert_eq!(dropped(10), 30);
    assert_eq!(dropped(55), 65);
    assert_eq!(dropped(99), 99);
    // A single number: a cliff at it.
    let cliff = MaxStartups {
        start: 3,
        rate: 100,
        full: 3,
    };
    assert!((0..100).all(|r| !cliff.should_drop(2, r) && cliff.should_drop(3, r)));
}

#[test]
fn per_source_penalties_parse_over_sshd_defaults() {
    use ssh_config::server::{PerSourcePenalties, penalty_exempt};
    let d = parse("Port 22\n").unwrap().resolve(None);
    assert_eq!(d.per_source_penalties, PerSourcePenalties::default());
    assert!(d.per_source_penalties.enabled);
    assert_eq!(d.per_source_penalties.min, Duration::from_secs(15));
    assert_eq!(d.per_source_net_block_size, (32, 128));
    let s = parse(
        "PerSourcePenalties authfail:1m noauth:2 max:1h min:3s overflow:deny-all\n\
         PerSourceNetBlockSize 24:64\n\
         PerSourcePenaltyExemptList 10.0.0.0/8,192.0.2.7\n",
    )
    .unwrap()
    .resolve(None);
    let p = &s.per_source_penalties;
    assert_eq!(p.authfail, Duration::from_secs(60));
    assert_eq!(p.noauth, Duration::from_secs(2));
    assert_eq!(p.max, Duration::from_secs(3600));
    assert_eq!(p.min, Duration::from_secs(3));
    assert_eq!(p.crash, Duration::from_secs(90));
    assert!(p.overflow_deny_all && p.overflow6_deny_all);
    assert_eq!(s.per_source_net_block_size, (24, 64));
    let exempt = &s.per_source_penalty_exempt_list;
    assert!(penalty_exempt(exempt, &"10.1.2.3".parse().unwrap()));
    assert!(penalty_exempt(exempt, &"192.0.2.7".parse().unwrap()));
    assert!(!penalty_exempt(exempt, &"192.0.2.8".parse().unwrap()));
    let off = parse("PerSourcePenalties no\n").unwrap().resolve(None);
    assert!(!off.per_source_penalties.enabled);
    for bad in [
        "PerSourcePenalties bogus:1\n",
        "PerSourcePenalties noauth\n",
        "PerSourcePenalties overflow:sometimes\n",
        "PerSourceNetBlockSize 33\n",
        "Match User x\n  PerSourcePenalties no\n",
    ] {
        assert!(parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn xauth_location_is_read() {
    let d = parse("Port 22\n").unwrap().resolve(None);
    assert_eq!(d.xauth_location, PathBuf::from("/usr/bin/xauth"));
    let s = parse("XAuthLocation /opt/X11/bin/xauth\n")
        .unwrap()
        .resolve(None);
    assert_eq!(s.xauth_location, PathBuf::from("/opt/X11/bin/xauth"));
    assert!(
        s.dump(&|_, a| a.as_str().to_owned())
            .contains("xauthlocation /opt/X11/bin/xauth")
    );
}

#[test]
fn refuse_connection_globally_and_in_match() {
    assert!(!parse("Port 22\n").unwrap().resolve(None).refuse_connection);
    let c = parse("Match User mallory\n  RefuseConnection yes\n").unwrap();
    assert!(
        c.resolve(Some(&conn("mallory", &[], "192.0.2.1")))
            .refuse_connection
    );
    assert!(
        !c.resolve(Some(&conn("alice", &[], "192.0.2.1")))
            .refuse_connection
    );
    assert!(parse("RefuseConnection maybe\n").is_err());
}

#[test]
fn chroot_directory_with_tokens_and_in_match() {
    let cfg = parse(
        "ChrootDirectory /srv/%u/%%\nMatch User ann\n  ChrootDirectory %h/jail\n\
         Match User bob\n  ChrootDirectory none\n",
    )
    .unwrap();
    let home = std::path::Path::new("/home/x");
    let s = cfg.resolve(Some(&conn("zed", &[], "192.0.2.9")));
    assert_eq!(
        s.expand_chroot_directory("zed", home),
        Some("/srv/zed/%".into())
    );
    let s = cfg.resolve(Some(&conn("ann", &[], "192.0.2.9")));
    assert_eq!(
        s.expand_chroot_directory("ann", home),
        Some("/home/x/jail".into())
    );
    let s = cfg.resolve(Some(&conn("bob", &[], "192.0.2.9")));
    assert_eq!(s.expand_chroot_directory("bob", home), None);
}

#[test]
fn stream_local_bind_unlink_is_read_and_dumped() {
    let cfg =
        parse("StreamLocalBindUnlink no\nMatch User u\n  StreamLocalBindUnlink yes\n").unwrap();
    assert!(cfg.warnings().is_empty(), "{:?}", cfg.warnings());
    let g = cfg.resolve(None);
    assert!(!g.stream_local_bind_unlink);
    assert!(
        g.dump(&|_, _| String::new())
            .contains("streamlocalbindunlink no\n")
    );
    let s = cfg.resolve(Some(&conn("u", &[], "192.0.2.9")));
    assert!(s.stream_local_bind_unlink);
    assert!(
        s.dump(&|_, _| String::new())
            .contains("streamlocalbindunlink yes\n")
    );
    assert!(
        !parse("").unwrap().resolve(None).stream_local_bind_unlink,
        "no by default"
    );
}
