//! What a session may do: the environment and limits of the user's
//! sessions, from sshd_config and the key's `authorized_keys` options.

use std::net::SocketAddr;

use ssh_server_kit::session::{InternalSftp, RemoteHost, SessionPolicy};

use crate::auth;

/// The policy of every session of `account`'s connection.
pub(crate) fn session_policy(
    account: &auth::Account,
    key_options: Option<ssh_async::ssh_auth::authorized_keys::KeyOptions>,
    peer: SocketAddr,
    local: SocketAddr,
) -> SessionPolicy {
    let u = &account.user;
    let s = &account.settings;
    let path = if u.uid == 0 {
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    } else {
        "/usr/local/bin:/usr/bin:/bin:/usr/games"
    };
    let mut env = vec![
        ("USER".to_owned(), u.name.clone()),
        ("LOGNAME".to_owned(), u.name.clone()),
        ("HOME".to_owned(), u.home.display().to_string()),
        ("SHELL".to_owned(), u.shell.display().to_string()),
        ("PATH".to_owned(), path.to_owned()),
        ("MAIL".to_owned(), format!("/var/mail/{}", u.name)),
        (
            "SSH_CLIENT".to_owned(),
            format!("{} {} {}", peer.ip(), peer.port(), local.port()),
        ),
        (
            "SSH_CONNECTION".to_owned(),
            format!(
                "{} {} {} {}",
                peer.ip(),
                peer.port(),
                local.ip(),
                local.port()
            ),
        ),
    ];
    let mut permit_tty = s.permit_tty;
    let mut force_command = s.force_command.clone();
    // DisableForwarding overrides both (ssh-config already turns them off
    // with it; kept here so that this function alone is right).
    let mut x11_forwarding = s.x11_forwarding && !s.disable_forwarding;
    let mut agent_forwarding = s.allow_agent_forwarding && !s.disable_forwarding;
    if let Some(o) = key_options {
        permit_tty &= o.pty;
        // `no-x11-forwarding`, `no-agent-forwarding`, `restrict` (and
        // `x11-forwarding` / `agent-forwarding` after it).
        x11_forwarding &= o.x11_forwarding;
        agent_forwarding &= o.agent_forwarding;
        if force_command.is_none() {
            force_command = o.command.clone();
        }
        if !matches!(
            s.permit_user_environment,
            ssh_config::server::PermitUserEnvironment::No
        ) {
            env.extend(o.environment.iter().cloned());
        }
    }
    SessionPolicy {
        user: u.clone(),
        switch_user: ssh_os::user::is_root(),
        env,
        accept_env: s.accept_env.clone(),
        permit_tty,
        subsystems: s.subsystems.clone(),
        force_command,
        // Set by the caller for a session process that serves it itself.
        internal_sftp: internal_sftp_program().map_or(InternalSftp::Shell, InternalSftp::Program),
        chroot: s.expand_chroot_directory(&u.name, &u.home),
        x11_forwarding,
        x11_display_offset: s.x11_display_offset,
        x11_use_localhost: s.x11_use_localhost,
        xauth_location: s.xauth_location.clone(),
        agent_forwarding,
        // Set by the caller from what authentication found.
        password_change: false,
        // Set by the caller: read from lastlog before this login's record.
        login_message: Default::default(),
        motd: s.print_motd.then(|| "/etc/motd".into()),
        // With PAM, pam_nologin does it at login (the account check).
        nologin: (!s.use_pam && u.uid != 0).then(|| "/etc/nologin".into()),
        // The connection's, set by the caller.
        sockets: None,
        // utmp, wtmp and lastlog are root's to write (sshd logs the
        // address: UseDNS is off).
        login_records: ssh_os::user::is_root().then(|| RemoteHost {
            name: peer.ip().to_string(),
            addr: peer.ip(),
        }),
        login_recorder: None,
    }
}

/// rsshd's own binary, resolved once at start-up (so that a binary
/// replaced on disk later does not change what sessions run).
pub(crate) fn internal_sftp_program() -> Option<std::path::PathBuf> {
    static EXE: std::sync::OnceLock<Option<std::path::PathBuf>> = std::sync::OnceLock::new();
    EXE.get_or_init(|| std::env::current_exe().ok()).clone()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use ssh_async::ssh_auth::authorized_keys::KeyOptions;
    use ssh_config::server::ServerSettings;

    /// (x11_forwarding, agent_forwarding) of the policy.
    fn forwarding(settings: ServerSettings, options: Option<&str>) -> (bool, bool) {
        let account = auth::Account {
            user: ssh_os::user::User::current().unwrap(),
            settings,
        };
        let options = options.map(|o| KeyOptions::parse(o).unwrap());
        let addr: SocketAddr = "127.0.0.1:22".parse().unwrap();
        let p = session_policy(&account, options, addr, addr);
        (p.x11_forwarding, p.agent_forwarding)
    }

    #[test]
    fn forwarding_follows_sshd_config_and_key_options() {
        let mut on = ServerSettings::default();
        on.x11_forwarding = true;
        on.x11_display_offset = 20;
        on.x11_use_localhost = false;
        // sshd's defaults: X11Forwarding no, AllowAgentForwarding yes.
        assert_eq!(forwarding(ServerSettings::default(), None), (false, true));
        assert_eq!(forwarding(on.clone(), None), (true, true));
        assert_eq!(
            forwarding(on.clone(), Some("no-agent-forwarding")),
            (true, false)
        );
        assert_eq!(
            forwarding(on.clone(), Some("no-x11-forwarding")),
            (false, true)
        );
        assert_eq!(forwarding(on.clone(), Some("restrict")), (false, false));
        assert_eq!(
            forwarding(on.clone(), Some("restrict,agent-forwarding")),
            (false, true)
        );
        assert_eq!(
            forwarding(on.clone(), Some("restrict,x11-forwarding")),
            (true, false)
        );
        // A key option cannot grant what sshd_config denies.
        assert_eq!(
            forwarding(ServerSettings::default(), Some("x11-forwarding")),
            (false, true)
        );
        let mut off = on.clone();
        off.allow_agent_forwarding = false;
        assert_eq!(forwarding(off, None), (true, false));
        let mut disabled = on.clone();
        disabled.disable_forwarding = true;
        assert_eq!(forwarding(disabled, None), (false, false));

        let account = auth::Account {
            user: ssh_os::user::User::current().unwrap(),
            settings: on,
        };
        let addr: SocketAddr = "127.0.0.1:22".parse().unwrap();
        let p = session_policy(&account, None, addr, addr);
        assert_eq!(p.x11_display_offset, 20);
        assert!(!p.x11_use_localhost);
    }
}
