//! Password checking with PAM (`pam_authenticate` then `pam_acct_mgmt`).

use std::ffi::{CStr, CString};
use std::io;

use pam_client2::{Context, ConversationHandler, ErrorCode, Flag};
use zeroize::Zeroizing;

/// Whether `password` is `user`'s, according to the PAM stack of `service`
/// (`/etc/pam.d/<service>`, falling back to `other`; `"sshd"` for a
/// server). Both authentication and account checks must pass: an expired
/// or locked account is `Ok(false)`.
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
    };
    blocking::unblock(move || authenticate(&service, conv)).await
}

fn authenticate(service: &str, conv: Conversation) -> io::Result<bool> {
    let user = conv.user.clone();
    let mut ctx = Context::new(service, Some(&user), conv)
        .map_err(|e| io::Error::other(format!("PAM unavailable (pam_start): {e}")))?;
    let verdict = ctx
        .authenticate(Flag::NONE)
        .and_then(|()| ctx.acct_mgmt(Flag::NONE));
    match verdict {
        Ok(()) => Ok(true),
        Err(e) if DENIALS.contains(&e.code()) => Ok(false),
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
/// to the hidden one; messages are dropped (they would go to the server's
/// stderr).
struct Conversation {
    user: String,
    password: Zeroizing<String>,
}

impl ConversationHandler for Conversation {
    fn prompt_echo_on(&mut self, _prompt: &CStr) -> Result<CString, ErrorCode> {
        CString::new(self.user.as_bytes()).map_err(|_| ErrorCode::CONV_ERR)
    }

    fn prompt_echo_off(&mut self, _prompt: &CStr) -> Result<CString, ErrorCode> {
        CString::new(self.password.as_bytes()).map_err(|_| ErrorCode::CONV_ERR)
    }

    fn text_info(&mut self, _msg: &CStr) {}

    fn error_msg(&mut self, _msg: &CStr) {}
}
