//! What sshd tells a login shell on a terminal, unless the user has
//! `~/.hushlogin` (sshd's `check_quietlogin`): once per connection its
//! `loginmsg` (with `PrintLastLog`, "Last login: ... from ..."), which the
//! connection's first program takes as sshd clears it when it starts one;
//! then, with `PrintMotd`, `/etc/motd` (`do_motd`).

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use futures::io::AsyncWriteExt;
use ssh_async::{Channel, Error};

/// The connection's login message, shared by its sessions.
#[derive(Clone, Debug, Default)]
pub struct LoginMessage(Arc<Mutex<Option<String>>>);

impl LoginMessage {
    /// A message (with its line endings, `\r\n` on a terminal).
    pub fn new(text: String) -> Self {
        Self(Arc::new(Mutex::new(Some(text))))
    }

    /// The message, once.
    fn take(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }
}

/// The most of the motd file shown.
const MAX_MOTD: u64 = 64 * 1024;

/// At a program's start: a login shell on a terminal (`shell_on_tty`) is
/// shown the message (any program takes it) and the `motd` file, unless
/// `home` has `.hushlogin`.
pub(super) async fn show(
    message: &LoginMessage,
    motd: Option<&Path>,
    shell_on_tty: bool,
    home: &Path,
    ch: &Channel,
) -> Result<(), Error> {
    let message = message.take();
    if !shell_on_tty || home.join(".hushlogin").exists() {
        return Ok(());
    }
    let mut text = message.unwrap_or_default().into_bytes();
    if let Some(path) = motd {
        // Written straight into the channel, not through the terminal's
        // output processing: its line feeds become CR LF here.
        for &b in &read_bounded(path) {
            if b == b'\n' {
                text.push(b'\r');
            }
            text.push(b);
        }
    }
    if text.is_empty() {
        return Ok(());
    }
    let mut out = ch.writer();
    out.write_all(&text).await?;
    out.flush().await?;
    Ok(())
}

/// At most [`MAX_MOTD`] bytes of `path`; nothing when it cannot be read.
fn read_bounded(path: &Path) -> Vec<u8> {
    use std::io::Read;
    let mut text = Vec::new();
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.take(MAX_MOTD).read_to_end(&mut text);
    }
    text
}
