//! The authentication policy of one connection: `authorized_keys`,
//! `TrustedUserCAKeys`, PAM passwords, and sshd's account rules (locked,
//! expired, shell, PAM account management).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use ssh_async::ServerHandler;
use ssh_async::ssh_auth::authorized_keys::{AuthorizedKeys, KeyOptions};
use ssh_async::ssh_auth::cert::{Certificate, CertificateExt};
use ssh_async::ssh_auth::server::{AccountVerdict, KeyboardInteractiveAnswer};
use ssh_async::ssh_keys::{PublicKey, VerifyPolicy};
use ssh_async::ssh_wire::messages::userauth::InfoPrompt;
use ssh_config::server::{ConnectionQuery, PermitRootLogin, ServerConfig, ServerSettings};
use ssh_os::user::User;

/// The PAM service name, as sshd's.
pub(crate) const PAM_SERVICE: &str = "sshd";

/// The name PAM is asked about for a user who may not log in (sshd's
/// "NOUSER"): no account has it (a name with a space), so PAM takes the
/// time of a failure and says no.
const NO_USER: &str = "NOUSER invalid";

/// Everything decided about one user on this connection.
#[derive(Clone)]
pub struct Account {
    pub user: User,
    pub settings: ServerSettings,
}

impl Account {
    /// The account of `user`, in `groups` (looked up before a chroot
    /// could hide them), authenticated elsewhere (the monitor), with its
    /// settings for this connection (`Match` blocks applied).
    pub fn authenticated(
        config: &ServerConfig,
        user: User,
        groups: Vec<String>,
        peer: SocketAddr,
        local: SocketAddr,
    ) -> Self {
        let settings = resolve(config, &user.name, groups, peer, local);
        Self { user, settings }
    }
}

/// The settings for `user` (in `groups`) on a connection from `peer` to
/// `local`.
fn resolve(
    config: &ServerConfig,
    user: &str,
    groups: Vec<String>,
    peer: SocketAddr,
    local: SocketAddr,
) -> ServerSettings {
    let query = ConnectionQuery {
        user: user.to_owned(),
        groups,
        address: peer.ip(),
        host: None,
        local_address: local.ip(),
        local_port: local.port(),
    };
    config.resolve(Some(&query))
}

pub struct Policy {
    pub config: Arc<ServerConfig>,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    /// We run as root: system accounts, PAM, switching users.
    pub root: bool,
    /// Who we are (the only account served when not root).
    pub me: User,
    account: Option<Account>,
    /// The key of the last verified signature and its options.
    pub proven_key: Option<(PublicKey, Option<Certificate>, KeyOptions)>,
    /// The key of the signed request being checked and its options: proven
    /// only once `public_key_verified` names it.
    offered_key: Option<(PublicKey, Option<Certificate>, KeyOptions)>,
    pub authenticated: Option<(String, String)>,
    /// A method was tried (for PerSourcePenalties: authfail, not noauth).
    pub attempted: bool,
    /// A user that may not log in was tried (invaliduser).
    pub invalid_user: bool,
    /// `RefuseConnection` applies: the connection ends (refuseconnection).
    pub refused: Option<String>,
    /// The user whose password has expired and must be changed at login
    /// (sshd's `force_pwchange`): PAM said so in account management, or,
    /// without PAM, the shadow entry did when the password was checked.
    pub password_change: Option<String>,
}

impl Policy {
    pub fn new(
        config: Arc<ServerConfig>,
        peer: SocketAddr,
        local: SocketAddr,
        root: bool,
        me: User,
    ) -> Self {
        Self {
            config,
            peer,
            local,
            root,
            me,
            account: None,
            proven_key: None,
            offered_key: None,
            authenticated: None,
            attempted: false,
            invalid_user: false,
            refused: None,
            password_change: None,
        }
    }

    fn from(&self) -> String {
        format!("{} port {}", self.peer.ip(), self.peer.port())
    }

    /// The account `name` may log in as here, with its settings (Match
    /// blocks applied), or `None` with the reason logged.
    pub fn account(&mut self, name: &str) -> Option<Account> {
        // Asked by every method: an attempt, for PerSourcePenalties.
        self.attempted = true;
        let found = self.lookup(name);
        self.invalid_user |= found.is_none();
        if self.refused.is_none() {
            self.check_refusal(name, found.as_ref());
        }
        found
    }

    /// sshd's `RefuseConnection`, decided once the user (and so its
    /// `Match` blocks) is known, valid or not.
    fn check_refusal(&mut self, name: &str, found: Option<&Account>) {
        let refuse = match found {
            Some(a) => a.settings.refuse_connection,
            None => {
                let query = ConnectionQuery {
                    user: name.to_owned(),
                    groups: Vec::new(),
                    address: self.peer.ip(),
                    host: None,
                    local_address: self.local.ip(),
                    local_port: self.local.port(),
                };
                self.config.resolve(Some(&query)).refuse_connection
            }
        };
        if refuse {
            let invalid = if found.is_none() { "invalid user " } else { "" };
            tracing::info!(
                "administratively prohibited connection for {invalid}{name} from {} port {}",
                self.peer.ip(),
                self.peer.port()
            );
            self.refused = Some("administratively prohibited connection".to_owned());
        }
    }

    fn lookup(&mut self, name: &str) -> Option<Account> {
        if let Some(a) = &self.account
            && a.user.name == name
        {
            return Some(a.clone());
        }
        let user = match User::by_name(name) {
            Ok(Some(u)) => u,
            _ => {
                tracing::info!("Invalid user {name} from {}", self.from());
                return None;
            }
        };
        if !self.root && user.uid != self.me.uid {
            tracing::info!(
                "User {name} from {} not allowed: this server runs as {} and serves only that account",
                self.peer.ip(),
                self.me.name
            );
            return None;
        }
        let groups = user.groups().unwrap_or_default();
        let settings = resolve(&self.config, name, groups.clone(), self.peer, self.local);
        if let Err(why) = account_usable(&user, settings.use_pam) {
            tracing::info!("{why}");
            return None;
        }
        if let Err(why) = settings.user_allowed(name, &groups, None, &self.peer.ip().to_string()) {
            tracing::info!("{why}");
            return None;
        }
        let account = Account { user, settings };
        self.account = Some(account.clone());
        Some(account)
    }

    fn root_allowed(&self, account: &Account, password: bool) -> bool {
        if account.user.uid != 0 {
            return true;
        }
        match account.settings.permit_root_login {
            PermitRootLogin::Yes => true,
            PermitRootLogin::ProhibitPassword => !password,
            _ => false,
        }
    }

    /// Does an `authorized_keys` line or a trusted CA admit `key`?
    fn key_admitted(
        &self,
        account: &Account,
        key: &PublicKey,
        cert: Option<&Certificate>,
    ) -> Option<KeyOptions> {
        let addr = self.peer.ip().to_string();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let policy = VerifyPolicy::default();
        let u = &account.user;
        if let Some(cert) = cert
            && let Some(ca_file) = &account.settings.trusted_user_ca_keys
        {
            let cas: Vec<PublicKey> = std::fs::read_to_string(ca_file)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| PublicKey::from_openssh(l.trim()).ok().map(|(k, _)| k))
                .collect();
            if cert
                .validate_user(&u.name, now, &cas, &policy, &addr)
                .is_ok()
            {
                // The certificate's force-command and permit-* extensions.
                return cert.restrict_options(&KeyOptions::default());
            }
        }
        for path in account
            .settings
            .expand_authorized_keys(&u.name, &u.home, u.uid)
        {
            let Some(keys) = read_authorized_keys(&path) else {
                continue;
            };
            let entry = match cert {
                Some(c) => keys.check_certificate(&u.name, c, now, &policy, &addr).ok(),
                None => keys.find(key),
            };
            let Some(entry) = entry else { continue };
            if !entry.options.allows_from(None, &addr) {
                tracing::info!(
                    "Authentication tried for {} with correct key but not from a permitted host (address {addr}).",
                    u.name
                );
                continue;
            }
            if let Some(exp) = &entry.options.expiry_time
                && exp.is_expired(i64::try_from(now).unwrap_or(i64::MAX), 0)
            {
                tracing::info!("{}: key options expired", path.display());
                continue;
            }
            return match cert {
                Some(c) => {
                    let merged = c.restrict_options(&entry.options);
                    if merged.is_none() {
                        tracing::info!(
                            "{}: forced command options do not match the certificate's",
                            path.display()
                        );
                    }
                    merged
                }
                None => Some(entry.options.clone()),
            };
        }
        None
    }
}

/// What sshd's `allowed_user` checks of the account itself, before any
/// method: without PAM a locked or expired account (from the shadow
/// database; PAM's account management does it otherwise), and always a
/// login shell that exists and is executable. `Err`: sshd's log line.
fn account_usable(user: &User, use_pam: bool) -> Result<(), String> {
    let name = &user.name;
    if !use_pam && let Ok(Some(shadow)) = ssh_os::shadow::ShadowEntry::by_name(name) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        if shadow.expired(now) {
            tracing::info!("Account {name} has expired");
        }
        if shadow.expired(now) || shadow.locked() {
            return Err(format!("User {name} not allowed because account is locked"));
        }
    }
    shell_usable(name, &user.shell)
}

/// Why `name`'s password has expired by the shadow database, if it has
/// (OpenSSH's `auth_shadow_pwexpired`).
fn shadow_password_expired(name: &str) -> Option<&'static str> {
    let shadow = ssh_os::shadow::ShadowEntry::by_name(name).ok()??;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    shadow.password_expired(now)
}

/// The login shell must be a regular file executable by someone (sshd).
fn shell_usable(name: &str, shell: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let shell_s = shell.display();
    match std::fs::metadata(shell) {
        Err(_) => Err(format!(
            "User {name} not allowed because shell {shell_s} does not exist"
        )),
        Ok(m) if !m.is_file() || m.permissions().mode() & 0o111 == 0 => Err(format!(
            "User {name} not allowed because shell {shell_s} is not executable"
        )),
        Ok(_) => Ok(()),
    }
}

fn read_authorized_keys(path: &Path) -> Option<AuthorizedKeys> {
    let text = std::fs::read_to_string(path).ok()?;
    Some(AuthorizedKeys::parse(&text))
}

impl ServerHandler for Policy {
    async fn public_key(
        &mut self,
        user: &str,
        key: &PublicKey,
        certificate: Option<&Certificate>,
        proof: bool,
    ) -> bool {
        let Some(account) = self.account(user) else {
            return false;
        };
        if !account.settings.pubkey_authentication || !self.root_allowed(&account, false) {
            return false;
        }
        let Some(options) = self.key_admitted(&account, key, certificate) else {
            if proof {
                tracing::info!(
                    "Failed publickey for {user} from {} ssh2: {} {}",
                    self.from(),
                    short_type(key),
                    key.fingerprint_sha256()
                );
            }
            return false;
        };
        // Not proven yet: the signature is checked after this answer.
        self.offered_key = proof.then(|| (key.clone(), certificate.cloned(), options));
        true
    }

    fn public_key_verified(&mut self, _user: &str, key: &PublicKey) {
        if let Some(offered) = self.offered_key.take()
            && offered.0 == *key
        {
            self.proven_key = Some(offered);
        }
    }

    async fn password(&mut self, user: &str, password: &str) -> bool {
        let account = self.account(user);
        let allowed = self.root
            && account.as_ref().is_some_and(|a| {
                a.settings.password_authentication
                    && self.root_allowed(a, true)
                    && (!password.is_empty() || a.settings.permit_empty_passwords)
            });
        // PAM runs for every attempt, as sshd's does: for a user who may
        // not log in, with a name that has no account, so that the time
        // taken (pam_unix's delay after a failure) and the answer are
        // those of a wrong password.
        let ok = check_password(if allowed { user } else { NO_USER }, password).await && allowed;
        // Without PAM, sshd's auth_password looks at the password's age.
        if ok
            && let Some(a) = &account
            && !a.settings.use_pam
            && let Some(why) = shadow_password_expired(&a.user.name)
        {
            tracing::info!("User {user} password has expired ({why})");
            self.password_change = Some(user.to_owned());
        }
        if !ok {
            let invalid = if account.is_none() {
                "invalid user "
            } else {
                ""
            };
            tracing::info!(
                "Failed password for {invalid}{user} from {} ssh2",
                self.from()
            );
        }
        ok
    }

    async fn keyboard_interactive(
        &mut self,
        user: &str,
        _submethods: &str,
    ) -> KeyboardInteractiveAnswer {
        // The same prompt for everyone who asks, an account or not (sshd
        // runs a PAM conversation for a fake user): whether the user
        // exists must not show.
        let enabled = match self.account(user) {
            Some(a) => a.settings.kbd_interactive_authentication,
            None => self.config.resolve(None).kbd_interactive_authentication,
        };
        if !self.root || !enabled {
            return KeyboardInteractiveAnswer::Reject;
        }
        KeyboardInteractiveAnswer::Prompts {
            name: String::new(),
            instruction: String::new(),
            prompts: vec![InfoPrompt {
                prompt: "Password: ".into(),
                echo: false,
            }],
        }
    }

    async fn info_response(
        &mut self,
        user: &str,
        responses: &[String],
    ) -> KeyboardInteractiveAnswer {
        let account = self.account(user);
        let ok = match responses {
            [password] => {
                let allowed = account.as_ref().is_some_and(|a| {
                    a.settings.kbd_interactive_authentication
                        && self.root_allowed(a, true)
                        && (!password.is_empty() || a.settings.permit_empty_passwords)
                });
                check_password(if allowed { user } else { NO_USER }, password).await && allowed
            }
            _ => false,
        };
        if ok {
            KeyboardInteractiveAnswer::Accept
        } else {
            let invalid = if account.is_none() {
                "invalid user "
            } else {
                ""
            };
            tracing::info!(
                "Failed keyboard-interactive/pam for {invalid}{user} from {} ssh2",
                self.from()
            );
            KeyboardInteractiveAnswer::Reject
        }
    }

    async fn account(&mut self, user: &str, _method: &str) -> AccountVerdict {
        let Some(account) = self.account(user) else {
            return AccountVerdict::Deny {
                message: String::new(),
            };
        };
        if !(self.root && account.settings.use_pam) {
            // Without PAM, sshd's own checks ran before any method
            // (`account_usable`); /etc/nologin waits for the session.
            return AccountVerdict::Allow;
        }
        let rhost = self.peer.ip().to_string();
        match ssh_os::password::account_management(PAM_SERVICE, user, &rhost).await {
            Ok(check) if check.allowed => {
                if check.password_change {
                    self.password_change = Some(user.to_owned());
                }
                // PAM's messages go to the user, as sshd sends them.
                AccountVerdict::AllowWithBanner {
                    message: check.messages,
                }
            }
            Ok(check) => {
                tracing::error!("Access denied for user {user} by PAM account configuration");
                AccountVerdict::Deny {
                    message: check.messages,
                }
            }
            Err(e) => {
                tracing::error!("PAM: {e}");
                AccountVerdict::Deny {
                    message: String::new(),
                }
            }
        }
    }

    fn refused(&self) -> Option<String> {
        self.refused.clone()
    }

    fn authenticated(&mut self, user: &str, method: &str) {
        let detail = match (&self.proven_key, method) {
            (Some((key, cert, _)), "publickey") => match cert {
                Some(c) => format!(
                    ": {}-CERT {} ID {} (serial {}) CA {} {}",
                    short_type(key),
                    key.fingerprint_sha256(),
                    c.key_id,
                    c.serial,
                    short_type(&c.signature_key),
                    c.signature_key.fingerprint_sha256()
                ),
                None => format!(": {} {}", short_type(key), key.fingerprint_sha256()),
            },
            _ => String::new(),
        };
        tracing::info!(
            "Accepted {method} for {user} from {} ssh2{detail}",
            self.from()
        );
        self.authenticated = Some((user.to_owned(), method.to_owned()));
    }
}

async fn check_password(user: &str, password: &str) -> bool {
    match ssh_os::password::check_password(PAM_SERVICE, user, password).await {
        Ok(ok) => ok,
        Err(e) => {
            tracing::error!("PAM: {e}");
            false
        }
    }
}

/// sshd's short key type names in logs: `ED25519`, `ECDSA`, `RSA`.
pub fn short_type(key: &PublicKey) -> &'static str {
    use ssh_async::ssh_keys::KeyType;
    match key.key_type() {
        KeyType::Ed25519 => "ED25519",
        KeyType::Ecdsa(_) => "ECDSA",
        KeyType::Rsa => "RSA",
        _ => "KEY",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use ssh_async::ssh_keys::PrivateKey;

    use super::*;

    /// Go x/crypto CVE-2024-45337 in the server's policy: the options
    /// (`authorized_keys`) of the session are those of the key whose
    /// signature verified, not of the last key asked about with a
    /// signature. Here the client proves its own key, restricted, then
    /// claims the victim's unrestricted key with a signature that does not
    /// verify (`public_key` answered yes, `public_key_verified` never
    /// called), and completes with another method.
    /// A policy serving the current user with `authorized_keys` as its
    /// file, for a client at 192.0.2.1; the user's name and home.
    fn policy_with(tag: &str, authorized_keys: &str) -> (Policy, String, std::path::PathBuf) {
        let home = std::env::temp_dir().join(format!("rsshd-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        std::fs::write(home.join(".ssh/authorized_keys"), authorized_keys).unwrap();
        let mut me = User::current().unwrap();
        me.home = home.clone();
        let config = Arc::new(
            ServerConfig::parse("", Path::new("(defaults)"), &mut ssh_os::config::FsLoader)
                .unwrap(),
        );
        let addr: SocketAddr = "192.0.2.1:2222".parse().unwrap();
        let mut policy = Policy::new(config.clone(), addr, addr, false, me.clone());
        policy.account = Some(Account {
            user: me.clone(),
            settings: config.resolve(None),
        });
        (policy, me.name, home)
    }

    /// Go x/crypto CVE-2024-45337 in the server's policy: the options
    /// (`authorized_keys`) of the session are those of the key whose
    /// signature verified, not of the last key asked about with a
    /// signature. Here the client proves its own key, restricted, then
    /// claims the victim's unrestricted key with a signature that does not
    /// verify (`public_key` answered yes, `public_key_verified` never
    /// called), and completes with another method.
    #[test]
    fn cve_2024_45337_go_authenticated_key_is_verified_key() {
        let victim = PrivateKey::from_ed25519_seed(&[1; 32]);
        let own = PrivateKey::from_ed25519_seed(&[2; 32]);
        let (mut policy, name, home) = policy_with(
            "cve-2024-45337",
            &format!(
                "{}\nrestrict {}\n",
                victim.public().to_openssh("victim"),
                own.public().to_openssh("attacker")
            ),
        );
        futures::executor::block_on(async {
            assert!(policy.public_key(&name, own.public(), None, true).await);
            policy.public_key_verified(&name, own.public());
            // The victim's key, its signature forged: the policy said yes
            // before the signature was checked, and it did not verify.
            assert!(policy.public_key(&name, victim.public(), None, true).await);
        });
        policy.authenticated(&name, "password");
        let (key, _, options) = policy.proven_key.clone().expect("a key was proven");
        assert_eq!(key, *own.public());
        assert!(!options.port_forwarding && !options.pty, "{options:?}");
        let _ = std::fs::remove_dir_all(&home);
    }

    /// A user certificate's own restrictions apply, as sshd applies them:
    /// its `force-command` critical option, and only the permissions its
    /// extensions grant (none here but `permit-pty`), merged with the
    /// `authorized_keys` line's; a `command=` of the line that differs
    /// from the certificate's `force-command` refuses the key.
    #[test]
    fn certificate_force_command_and_extensions_apply() {
        use ssh_async::ssh_keys::CertificateBuilder;
        let ca = PrivateKey::from_ed25519_seed(&[0xca; 32]);
        let user = PrivateKey::from_ed25519_seed(&[3; 32]);
        let (mut policy, name, home) = policy_with(
            "cert-force-command",
            &format!("cert-authority {}\n", ca.public().to_openssh("ca")),
        );
        let cert =
            CertificateBuilder::new(user.public().clone(), ssh_async::ssh_keys::CertType::User)
                .principal(&name)
                .critical_option("force-command", b"/usr/bin/backup")
                .extension("permit-pty", b"")
                .sign(&ca, None, &mut rand::rng())
                .unwrap();
        futures::executor::block_on(async {
            assert!(
                policy
                    .public_key(&name, user.public(), Some(&cert), true)
                    .await
            );
        });
        policy.public_key_verified(&name, user.public());
        let (_, _, options) = policy.proven_key.clone().expect("proven");
        assert_eq!(options.command.as_deref(), Some("/usr/bin/backup"));
        assert!(options.pty);
        assert!(
            !options.port_forwarding && !options.agent_forwarding && !options.x11_forwarding,
            "{options:?}"
        );
        assert!(!options.user_rc);
        // A line forcing another command: refused.
        std::fs::write(
            home.join(".ssh/authorized_keys"),
            format!(
                "cert-authority,command=\"/bin/sh\" {}\n",
                ca.public().to_openssh("ca")
            ),
        )
        .unwrap();
        futures::executor::block_on(async {
            assert!(
                !policy
                    .public_key(&name, user.public(), Some(&cert), true)
                    .await
            );
        });
        let _ = std::fs::remove_dir_all(&home);
    }

    /// A user certificate whose `source-address` critical option the
    /// client is outside of (and, for comparison, one it is inside of):
    /// refused, through `cert-authority` in `authorized_keys`.
    #[test]
    fn certificate_source_address_outside() {
        use ssh_async::ssh_keys::CertificateBuilder;
        let ca = PrivateKey::from_ed25519_seed(&[0xca; 32]);
        let user = PrivateKey::from_ed25519_seed(&[3; 32]);
        let (mut policy, name, home) = policy_with(
            "cert-source-address",
            &format!("cert-authority {}\n", ca.public().to_openssh("ca")),
        );
        let cert = |source: &str| {
            CertificateBuilder::new(user.public().clone(), ssh_async::ssh_keys::CertType::User)
                .principal(&name)
                .critical_option("source-address", source.as_bytes())
                .sign(&ca, None, &mut rand::rng())
                .unwrap()
        };
        let outside = cert("10.0.0.0/8,2001:db8::/32");
        let inside = cert("10.0.0.0/8,192.0.2.0/24");
        futures::executor::block_on(async {
            assert!(
                policy
                    .public_key(&name, user.public(), Some(&inside), true)
                    .await
            );
            assert!(
                !policy
                    .public_key(&name, user.public(), Some(&outside), true)
                    .await,
                "a certificate for 10.0.0.0/8 was accepted from 192.0.2.1"
            );
        });
        let _ = std::fs::remove_dir_all(&home);
    }
}
