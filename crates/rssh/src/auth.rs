//! Who we are to the server: agent keys, identity files (decrypted when
//! the server accepts them), certificates, passwords and
//! keyboard-interactive answers; and the [`ClientHandler`] that answers
//! the handshake's questions.

use std::path::{Path, PathBuf};

use rand::rngs::StdRng;
use ssh_async::ClientHandler;
use ssh_async::agent::AgentConnection;
use ssh_auth::cert::Certificate;
use ssh_auth::client::ClientMethod;
use ssh_auth::keyfile::{self, KeyFileError, KeyPair};
use ssh_config::client::ClientSettings;
use ssh_keys::{PrivateKey, PublicKey, SignatureAlgorithm};
use ssh_wire::messages::agent::SessionBind;
use ssh_wire::messages::userauth::InfoPrompt;

use crate::config::io_message;
use crate::hostkeys::HostKeyPolicy;
use crate::prompt::Prompter;

/// One key we can sign with.
#[derive(Debug)]
pub struct KeyEntry {
    /// The public key.
    pub public: PublicKey,
    /// The file it comes from, if any.
    pub path: Option<PathBuf>,
    /// The agent holds it (signing goes there).
    pub in_agent: bool,
    /// Certificates for it.
    pub certificates: Vec<Certificate>,
    /// The private key, once read.
    loaded: Option<PrivateKey>,
    /// Reading it failed for good (wrong passphrases, no answer).
    given_up: bool,
}

/// The agent socket the settings name, if any.
pub fn agent_path(s: &ClientSettings) -> Option<PathBuf> {
    let from_env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    match s.identity_agent.as_deref() {
        None | Some("SSH_AUTH_SOCK") => from_env("SSH_AUTH_SOCK"),
        Some("none") => None,
        Some(v) => match v.strip_prefix('$') {
            Some(var) => from_env(var),
            None => Some(PathBuf::from(v)),
        },
    }
}

/// The public half of the key file at `path`: from `path.pub`, else from
/// the file itself (an `openssh-key-v1` file shows it without the
/// passphrase; other formats must be unencrypted). Unreadable files are
/// reported as OpenSSH does when they were asked for explicitly.
fn read_identity(path: &Path, explicit: bool) -> Option<(PublicKey, Option<PrivateKey>)> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            if explicit {
                tracing::info!(
                    "Warning: Identity file {} not accessible: {}.",
                    path.display(),
                    io_message(&e)
                );
            }
            return None;
        }
    };
    let mut pub_path = path.as_os_str().to_owned();
    pub_path.push(".pub");
    if let Ok(p) = std::fs::read_to_string(&pub_path)
        && let Ok((key, _)) = keyfile::parse_public_key_file(&p)
    {
        return Some((key, None));
    }
    if let Ok((key, _encrypted)) = keyfile::openssh_public_key(&text) {
        return Some((key, None));
    }
    match KeyPair::from_file_text(&text, None) {
        Ok(kp) => Some((kp.public_key().clone(), Some(kp.into_private_key()))),
        Err(e) => {
            tracing::debug!("{}: {e}", path.display());
            None
        }
    }
}

/// A certificate file's certificate.
fn read_certificate(path: &Path) -> Option<Certificate> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| !l.trim().is_empty())?;
    match Certificate::from_openssh(line) {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::debug!("{}: {e}", path.display());
            None
        }
    }
}

/// The keys to offer, in OpenSSH's order: the agent's (only those also
/// named by an identity file when `IdentitiesOnly`), then the files'.
pub async fn prepare_keys(
    s: &ClientSettings,
    agent: &mut Option<AgentConnection>,
) -> Vec<KeyEntry> {
    let mut files: Vec<KeyEntry> = Vec::new();
    for path in &s.identity_files {
        if let Some((public, loaded)) = read_identity(path, !s.identity_files_are_default) {
            tracing::debug!(
                "identity file {} type {}",
                path.display(),
                public.key_type().name()
            );
            let mut certificates = Vec::new();
            let mut cert_path = path.as_os_str().to_owned();
            cert_path.push("-cert.pub");
            if let Some(c) = read_certificate(Path::new(&cert_path))
                && c.key == public
            {
                certificates.push(c);
            }
            files.push(KeyEntry {
                public,
                path: Some(path.clone()),
                in_agent: false,
                certificates,
                loaded,
                given_up: false,
            });
        }
    }
    let mut out = Vec::new();
    if let Some(a) = agent {
        match a.identities().await {
            Ok(ids) => {
                for id in ids {
                    let Some(key) = id.key else { continue };
                    if let Some(f) = files.iter_mut().find(|f| f.public == key) {
                        f.in_agent = true;
                        continue;
                    }
                    if s.identities_only {
                        continue;
                    }
                    tracing::debug!("agent key {} {}", key.fingerprint_sha256(), id.comment);
                    out.push(KeyEntry {
                        public: key,
                        path: None,
                        in_agent: true,
                        certificates: Vec::new(),
                        loaded: None,
                        given_up: false,
                    });
                }
            }
            Err(e) => tracing::debug!("agent: {e}"),
        }
    }
    out.extend(files);
    for path in &s.certificate_files {
        let Some(c) = read_certificate(path) else {
            continue;
        };
        match out.iter_mut().find(|k| k.public == c.key) {
            Some(k) => k.certificates.push(c),
            None => tracing::debug!("no key for certificate {}", path.display()),
        }
    }
    out
}

/// `PubkeyAcceptedAlgorithms` as names; `None` when not set or not
/// understood (certificate names are not in our list: the option is then
/// ignored, with a debug line).
pub fn accepted_algorithms(s: &ClientSettings) -> Option<Vec<String>> {
    if s.pubkey_accepted_algorithms.is_default() {
        return None;
    }
    match crate::config::algorithms(
        ssh_config::AlgoKind::PubkeyAccepted,
        &s.pubkey_accepted_algorithms,
    ) {
        Ok(list) => Some(list),
        Err(e) => {
            tracing::debug!("{e}: ignored");
            None
        }
    }
}

/// Whether `key` can sign with one of `accepted`.
fn key_accepted(key: &PublicKey, accepted: Option<&[String]>) -> bool {
    accepted.is_none_or(|list| {
        key.key_type()
            .signature_algorithms()
            .iter()
            .any(|a| list.iter().any(|n| n == a.name()))
    })
}

/// The methods to try, in `PreferredAuthentications` order. Keys of a
/// type `PubkeyAcceptedAlgorithms` excludes are left out.
pub fn methods(s: &ClientSettings, keys: &[KeyEntry]) -> Vec<ClientMethod> {
    let accepted = accepted_algorithms(s);
    let mut m = Vec::new();
    let tries = s.number_of_password_prompts.max(1);
    for name in &s.preferred_authentications {
        match name.as_str() {
            "publickey" if s.pubkey_authentication => {
                for k in keys {
                    if !key_accepted(&k.public, accepted.as_deref()) {
                        tracing::debug!(
                            "Skipping {} key {}: not in PubkeyAcceptedAlgorithms",
                            k.public.key_type().name(),
                            k.public.fingerprint_sha256()
                        );
                        continue;
                    }
                    for c in &k.certificates {
                        m.push(ClientMethod::Certificate(Box::new(c.clone())));
                    }
                    m.push(ClientMethod::PublicKey(k.public.clone()));
                }
            }
            "keyboard-interactive" if s.kbd_interactive_authentication && !s.batch_mode => {
                for _ in 0..tries {
                    m.push(ClientMethod::KeyboardInteractive {
                        submethods: String::new(),
                    });
                }
            }
            "password" if s.password_authentication && !s.batch_mode => {
                for _ in 0..tries {
                    m.push(ClientMethod::Password);
                }
            }
            _ => {}
        }
    }
    m
}

/// Control characters out of server text, newlines and tabs kept.
pub fn sanitize(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect()
}

/// Answers the handshake.
pub struct Handler {
    /// The host key decision.
    pub policy: HostKeyPolicy,
    /// How to ask.
    pub prompter: Prompter,
    /// Keys.
    pub keys: Vec<KeyEntry>,
    /// The agent.
    pub agent: Option<AgentConnection>,
    /// Remote user, for prompts.
    pub user: String,
    /// Host name, for prompts.
    pub host: String,
    /// `NumberOfPasswordPrompts`.
    pub passphrase_tries: u32,
    /// Show banners.
    pub show_banner: bool,
    /// The last method answered (for "Authenticated ... using").
    pub last_method: &'static str,
    /// The methods the server listed last.
    pub last_failure: Vec<String>,
    password_attempts: u32,
}

impl core::fmt::Debug for Handler {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Handler")
            .field("keys", &self.keys.len())
            .finish_non_exhaustive()
    }
}

impl Handler {
    /// A handler.
    pub fn new(policy: HostKeyPolicy, prompter: Prompter, user: &str, host: &str) -> Self {
        Self {
            policy,
            prompter,
            keys: Vec::new(),
            agent: None,
            user: user.to_owned(),
            host: host.to_owned(),
            passphrase_tries: 3,
            show_banner: true,
            last_method: "none",
            last_failure: Vec::new(),
            password_attempts: 0,
        }
    }

    /// Reads the private key of entry `i`, asking for the passphrase if
    /// needed; true when it is there.
    fn load(&mut self, i: usize) -> bool {
        let prompter = self.prompter;
        let tries = self.passphrase_tries.max(1);
        let Some(entry) = self.keys.get_mut(i) else {
            return false;
        };
        if entry.loaded.is_some() {
            return true;
        }
        if entry.given_up {
            return false;
        }
        let Some(path) = entry.path.clone() else {
            return false;
        };
        let Ok(text) = std::fs::read_to_string(&path) else {
            return false;
        };
        let mut result = KeyPair::from_file_text(&text, None);
        let mut n = 0;
        while matches!(
            result,
            Err(KeyFileError::PassphraseRequired | KeyFileError::WrongPassphrase)
        ) && n < tries
        {
            n += 1;
            if n > 1 {
                tracing::debug!("bad passphrase given, try again...");
            }
            let prompt = format!("Enter passphrase for key '{}': ", path.display());
            let Some(p) = prompter.ask(&prompt, false) else {
                break;
            };
            if p.is_empty() {
                tracing::debug!("no passphrase given, try next key");
                break;
            }
            result = KeyPair::from_file_text(&text, Some(p.as_bytes()));
        }
        match result {
            Ok(kp) => {
                let k = kp.into_private_key();
                if k.public() != &entry.public {
                    tracing::info!("Warning: {} does not match its public key", path.display());
                    entry.given_up = true;
                    return false;
                }
                entry.loaded = Some(k);
                true
            }
            Err(e) => {
                tracing::debug!("Load key \"{}\": {e}", path.display());
                entry.given_up = true;
                false
            }
        }
    }
}

impl ClientHandler for Handler {
    async fn check_host_key(&mut self, key: &PublicKey) -> bool {
        self.policy.check(key)
    }

    async fn check_host_certificate(&mut self, key: &PublicKey, certificate: &Certificate) -> bool {
        self.policy.check_certificate(key, certificate)
    }

    fn banner(&mut self, message: &str) {
        if self.show_banner {
            let text = sanitize(message);
            tracing::info!("{}", text.trim_end_matches('\n'));
        }
    }

    async fn password(&mut self) -> Option<String> {
        self.last_method = "password";
        if self.password_attempts > 0 {
            tracing::error!("Permission denied, please try again.");
        }
        self.password_attempts += 1;
        tracing::debug!("Next authentication method: password");
        let prompt = format!("{}@{}'s password: ", self.user, self.host);
        self.prompter.ask(&prompt, false)
    }

    async fn keyboard_interactive(
        &mut self,
        name: &str,
        instruction: &str,
        prompts: &[InfoPrompt],
    ) -> Option<Vec<String>> {
        if self.last_method != "keyboard-interactive" {
            tracing::debug!("Next authentication method: keyboard-interactive");
        }
        self.last_method = "keyboard-interactive";
        for text in [name, instruction] {
            if !text.is_empty() {
                tracing::info!("{}", sanitize(text).trim_end_matches('\n'));
            }
        }
        let mut answers = Vec::with_capacity(prompts.len());
        for p in prompts {
            answers.push(self.prompter.ask(&sanitize(&p.prompt), p.echo)?);
        }
        Some(answers)
    }

    async fn sign(
        &mut self,
        key: &PublicKey,
        algorithm: SignatureAlgorithm,
        data: &[u8],
    ) -> Option<Vec<u8>> {
        self.last_method = "publickey";
        let i = self.keys.iter().position(|k| &k.public == key)?;
        let entry = self.keys.get(i)?;
        crate::log::verbose(&format!(
            "Server accepts key: {} {}",
            key.key_type().name(),
            key.fingerprint_sha256()
        ));
        if entry.in_agent
            && let Some(agent) = &mut self.agent
        {
            match agent.sign(&key.to_blob(), algorithm, data).await {
                Ok(Some(sig)) => return Some(sig),
                Ok(None) => tracing::debug!("agent refused to sign"),
                Err(e) => tracing::debug!("agent: {e}"),
            }
        }
        if !self.load(i) {
            return None;
        }
        let private = self.keys.get(i)?.loaded.as_ref()?;
        let mut rng: StdRng = rand::make_rng();
        private.sign(algorithm, data, &mut rng).ok()
    }

    async fn session_established(&mut self, bind: &SessionBind) {
        // As ssh before it uses the agent: keys added with destination
        // constraints sign only on a connection bound to the session.
        if let Some(agent) = &mut self.agent {
            match agent.session_bind(bind).await {
                Ok(true) => tracing::debug!("bound agent to hostkey"),
                Ok(false) => tracing::debug!("ssh_agent_bind_hostkey: agent refused operation"),
                Err(e) => tracing::debug!("ssh_agent_bind_hostkey: {e}"),
            }
        }
    }

    fn auth_failure(&mut self, methods: &[String], partial_success: bool) {
        if partial_success {
            tracing::debug!(
                "Authenticated using \"{}\" with partial success.",
                self.last_method
            );
        }
        tracing::debug!("Authentications that can continue: {}", methods.join(","));
        self.last_failure = methods.to_vec();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn accepted_algorithms_filter_key_types() {
        let ed = PrivateKey::from_ed25519_seed(&[1; 32]).public().clone();
        assert!(key_accepted(&ed, None));
        assert!(key_accepted(&ed, Some(&["ssh-ed25519".to_owned()])));
        assert!(!key_accepted(&ed, Some(&["rsa-sha2-256".to_owned()])));
    }

    /// Reads one agent frame's body from a blocking socket (`None` when
    /// nothing came within its read timeout).
    fn read_frame(s: &mut std::os::unix::net::UnixStream) -> Option<Vec<u8>> {
        use std::io::Read;
        let mut len = [0u8; 4];
        s.read_exact(&mut len).ok()?;
        let mut body = vec![0u8; u32::from_be_bytes(len) as usize];
        s.read_exact(&mut body).ok()?;
        Some(body)
    }

    #[test]
    fn the_agent_is_bound_to_the_session_before_use() {
        use std::io::Write;
        let (ours, mut agent) = std::os::unix::net::UnixStream::pair().unwrap();
        // The fake agent: answers the first request with SUCCESS and hands
        // it over.
        agent
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let fake = std::thread::spawn(move || {
            let body = read_frame(&mut agent)?;
            agent.write_all(&[0, 0, 0, 1, 6]).unwrap();
            Some(body)
        });
        let prompter = Prompter { batch: true };
        let policy = HostKeyPolicy {
            host: "h".into(),
            port: 22,
            address: "192.0.2.1".into(),
            user_files: Vec::new(),
            global_files: Vec::new(),
            mode: ssh_config::client::StrictHostKeyChecking::Yes,
            hash: false,
            prompter,
            alias: false,
            ca_algorithms: Vec::new(),
        };
        let mut handler = Handler::new(policy, prompter, "u", "h");
        let stream = ssh_async::runtime::net::UnixStream::from(ours);
        handler.agent = Some(AgentConnection::from_stream(stream));
        let bind = SessionBind {
            host_key: vec![1, 2, 3],
            session_id: vec![4; 32],
            signature: vec![5, 6],
            is_forwarding: false,
        };
        ssh_async::runtime::block_on(handler.session_established(&bind));
        let got = fake.join().unwrap().expect("a request to the agent");
        assert_eq!(got, bind.to_agent_request());
        assert_eq!(got.last(), Some(&0), "is_forwarding false");
    }

    /// Terminal escape sequences in a server's text (banner, keyboard-
    /// interactive name, instruction and prompts, disconnect message):
    /// ESC, the 8-bit CSI, BEL ending an OSC, carriage returns that
    /// would overwrite a line, all removed; the text stays readable.
    #[test]
    fn terminal_escapes_in_server_banner_are_sanitized() {
        assert_eq!(sanitize("hi\x1b[2J\tthere\r\n"), "hi[2J\tthere\n");
        let hostile = "Welcome\x1b]0;pwned\x07\u{9b}31m\rroot# \x1bP+q\x1b\\\x08\x7f!\n";
        let shown = sanitize(hostile);
        assert!(
            !shown
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t'),
            "{shown:?}"
        );
        assert_eq!(shown, "Welcome]0;pwned31mroot# P+q\\!\n");
    }
}
