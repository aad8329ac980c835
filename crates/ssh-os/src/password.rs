//! Password checking with PAM (`pam_authenticate`), and PAM's account
//! management (`pam_acct_mgmt`), which a server runs after a login by any
//! method.

use std::ffi::{CStr, CString};
use std::io;

use pam_client2::{Context, ConversationHandler, ErrorCode, Flag};
use zeroize::Zeroizing;

/// Whether `password` is `user`'s, according to the PAM stack of `service`
/// (`/etc/pam.d/<service>`, falling back to `other`; `"sshd"` for a
/// server). Authentication only: whether the account may log in now is
/// [`account_management`]'s question, asked after any method (as sshd
/// does), so that an expired account is told so rather than that its
/// password is wrong.
///
/// PAM blocks (modules sleep after a failure, may ask a network service),
/// so this runs on a blocking thread. `Err` when PAM itself fails (cannot
/// start, a module is broken or cannot reach its data): never a guess.
pub async fn check_password(service: &str, user: &str, password: &str) -> io::Result<bool> {
    if service.contains('\0') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "PAM service name with a NUL byte",
        ));
    }
    if user.contains('\0') || password.contains('\0') {
        // Not representable as C strings: no account has such a name or
        // password.
        return Ok(false);
    }
    let service = service.to_owned();
    let conv = Conversation {
        user: user.to_owned(),
        password: Zeroizing::new(password.to_owned()),
        messages: String::new(),
    };
    blocking::unblock(move || authenticate(&service, conv)).await
}

fn authenticate(service: &str, conv: Conversation) -> io::Result<bool> {
    let user = conv.user.clone();
    let mut ctx = Context::new(service, Some(&user), conv)
        .map_err(|e| io::Error::other(format!("PAM unavailable (pam_start): {e}")))?;
    match ctx.authenticate(Flag::NONE) {
        Ok(()) => Ok(true),
        Err(e) if DENIALS.contains(&e.code()) => Ok(false),
        Err(e) => Err(io::Error::other(format!("PAM failed: {:?}: {e}", e.code()))),
    }
}

/// PAM's verdict on an account ([`account_management`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountCheck {
    /// The account may log in now.
    pub allowed: bool,
    /// It may, but its password has expired and must be changed first
    /// (`PAM_NEW_AUTHTOK_REQD`, as after `chage -d 0`): sshd lets the user
    /// in only to run `passwd` on a terminal.
    pub password_change: bool,
    /// What the modules said to the user (`pam_unix`: "Your account has
    /// expired; please contact your system administrator."; `pam_nologin`:
    /// the contents of `/etc/nologin`), one message a line.
    pub messages: String,
}

/// PAM account management (`pam_acct_mgmt`) for `user` logging in from
/// `rhost`, as sshd runs it after every successful authentication
/// whatever the method: expiry, `pam_nologin`, `pam_access`, ... The
/// modules' messages are kept for the user. `Err` when PAM itself fails.
pub async fn account_management(
    service: &str,
    user: &str,
    rhost: &str,
) -> io::Result<AccountCheck> {
    if service.contains('\0') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "PAM service name with a NUL byte",
        ));
    }
    if user.contains('\0') {
        return Ok(AccountCheck {
            allowed: false,
            password_change: false,
            messages: String::new(),
        });
    }
    let (service, user, rhost) = (service.to_owned(), user.to_owned(), rhost.to_owned());
    blocking::unblock(move || account(&service, &user, &rhost)).await
}

fn account(service: &str, user: &str, rhost: &str) -> io::Result<AccountCheck> {
    let conv = Conversation {
        user: user.to_owned(),
        password: Zeroizing::new(String::new()),
        messages: String::new(),
    };
    let mut ctx = Context::new(service, Some(user), conv)
        .map_err(|e| io::Error::other(format!("PAM unavailable (pam_start): {e}")))?;
    // As sshd: the remote host (pam_access) and "ssh" as the terminal.
    let _ = ctx.set_rhost(Some(rhost));
    let _ = ctx.set_tty(Some("ssh"));
    let verdict = ctx.acct_mgmt(Flag::NONE);
    let messages = core::mem::take(&mut ctx.conversation_mut().messages);
    match verdict {
        Ok(()) => Ok(AccountCheck {
            allowed: true,
            password_change: false,
            messages,
        }),
        // As sshd's do_pam_account: allowed, with the change required.
        Err(e) if e.code() == ErrorCode::NEW_AUTHTOK_REQD => Ok(AccountCheck {
            allowed: true,
            password_change: true,
            messages,
        }),
        Err(e) if DENIALS.contains(&e.code()) => Ok(AccountCheck {
            allowed: false,
            password_change: false,
            messages,
        }),
        Err(e) => Err(io::Error::other(format!("PAM failed: {:?}: {e}", e.code()))),
    }
}

/// The PAM return codes that mean "this password does not log this user
/// in", as opposed to "PAM could not decide".
const DENIALS: &[ErrorCode] = &[
    ErrorCode::PERM_DENIED,
    ErrorCode::AUTH_ERR,
    ErrorCode::CRED_INSUFFICIENT,
    ErrorCode::USER_UNKNOWN,
    ErrorCode::MAXTRIES,
    ErrorCode::NEW_AUTHTOK_REQD,
    ErrorCode::ACCT_EXPIRED,
    ErrorCode::AUTHTOK_EXPIRED,
];

/// Answers PAM's prompts: the user name to the echoed prompt, the password
/// to the hidden one; messages are kept (bounded) for the user.
struct Conversation {
    user: String,
    password: Zeroizing<String>,
    messages: String,
}

/// The most of the modules' messages kept (`/etc/nologin` can be long).
const MAX_MESSAGES: usize = 8 * 1024;

impl Conversation {
    fn keep(&mut self, msg: &CStr) {
        let msg = msg.to_string_lossy();
        if self.messages.len() + msg.len() < MAX_MESSAGES {
            self.messages.push_str(&msg);
            if !msg.ends_with('\n') {
                self.messages.push('\n');
            }
        }
    }
}

impl ConversationHandler for Conversation {
    fn prompt_echo_on(&mut self, _prompt: &CStr) -> Result<CString, ErrorCode> {
        CString::new(self.user.as_bytes()).map_err(|_| ErrorCode::CONV_ERR)
    }

    fn prompt_echo_off(&mut self, _prompt: &CStr) -> Result<CString, ErrorCode> {
        CString::new(self.password.as_bytes()).map_err(|_| ErrorCode::CONV_ERR)
    }

    fn text_info(&mut self, msg: &CStr) {
        self.keep(msg);
    }

    fn error_msg(&mut self, msg: &CStr) {
        self.keep(msg);
    }
}
