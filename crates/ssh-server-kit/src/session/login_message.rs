//! What sshd tells a login shell once per connection (its `loginmsg`):
//! with `PrintLastLog`, "Last login: ... from ...". The first program of
//! the connection takes it, as sshd clears it when it starts one; only a
//! shell on a terminal shows it, and not to a user with `~/.hushlogin`
//! (sshd's `check_quietlogin`).

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

/// At a program's start: the message goes to a login shell on a terminal
/// (`shell_on_tty`) unless `home` has `.hushlogin`; any program takes it.
pub(super) async fn show(
    message: &LoginMessage,
    shell_on_tty: bool,
    home: &Path,
    ch: &Channel,
) -> Result<(), Error> {
    let Some(text) = message.take() else {
        return Ok(());
    };
    if !shell_on_tty || home.join(".hushlogin").exists() {
        return Ok(());
    }
    let mut out = ch.writer();
    out.write_all(text.as_bytes()).await?;
    out.flush().await?;
    Ok(())
}
