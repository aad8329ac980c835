//! User-authentication messages (RFC 4252, RFC 4256) and the
//! [`UserauthMessage`] enum.

use crate::codec::{Decode, Encode, Reader, put_bool, put_string, put_u32};
use crate::error::DecodeError;
use crate::messages::macros::{delegate_encode, impl_message, unit_message};
use crate::messages::{Message, peek_number, read_count, slen};
use crate::msg;
use crate::namelist::NameList;

#[cfg(feature = "arbitrary")]
use proptest_derive::Arbitrary;

/// Method name of RFC 4252 §5.2.
pub const METHOD_NONE: &str = "none";
/// Method name of RFC 4252 §7.
pub const METHOD_PUBLICKEY: &str = "publickey";
/// OpenSSH `PROTOCOL` §3.1: `publickey` plus the server's host key, so the
/// signature binds the destination.
pub const METHOD_PUBLICKEY_HOSTBOUND: &str = "publickey-hostbound-v00@openssh.com";
/// Method name of RFC 4252 §8.
pub const METHOD_PASSWORD: &str = "password";
/// Method name of RFC 4252 §9.
pub const METHOD_HOSTBASED: &str = "hostbased";
/// Method name of RFC 4256 §3.1.
pub const METHOD_KEYBOARD_INTERACTIVE: &str = "keyboard-interactive";

/// The most prompts accepted in one `SSH_MSG_USERAUTH_INFO_REQUEST` and
/// responses in one `SSH_MSG_USERAUTH_INFO_RESPONSE`, checked before
/// anything is allocated. RFC 4256 sets no limit; OpenSSH's is 100.
pub const MAX_PROMPTS: usize = 64;

/// Which method's messages numbers 60-79 belong to: the method of the last
/// `SSH_MSG_USERAUTH_REQUEST`, never a guess from the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub enum AuthContext {
    /// No method with messages of its own (`none`, `hostbased`, or no
    /// request yet): 60-79 are errors.
    None,
    /// `publickey`: 60 is `SSH_MSG_USERAUTH_PK_OK`.
    PublicKey,
    /// `password`: 60 is `SSH_MSG_USERAUTH_PASSWD_CHANGEREQ`.
    Password,
    /// `keyboard-interactive`: 60 is INFO_REQUEST, 61 INFO_RESPONSE.
    KeyboardInteractive,
}

/// The method-specific part of `SSH_MSG_USERAUTH_REQUEST`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
#[non_exhaustive]
pub enum AuthMethod {
    /// `none` (RFC 4252 §5.2): no fields.
    None,
    /// `publickey` (RFC 4252 §7). Without a signature it is a query ("is
    /// this key acceptable?"); with one it is an authentication attempt.
    PublicKey {
        /// "public key algorithm name".
        #[cfg_attr(
            feature = "arbitrary",
            proptest(strategy = "crate::messages::arb::name()")
        )]
        algorithm: String,
        /// "public key blob".
        public_key: Vec<u8>,
        /// The signature, present exactly when the boolean is TRUE.
        signature: Option<Vec<u8>>,
    },
    /// `publickey-hostbound-v00@openssh.com` (OpenSSH `PROTOCOL` §3.1):
    /// "identical to the original method but for the name and one
    /// additional field", the server host key after the public key.
    PublicKeyHostBound {
        /// "pkalg".
        #[cfg_attr(
            feature = "arbitrary",
            proptest(strategy = "crate::messages::arb::name()")
        )]
        algorithm: String,
        /// "public key".
        public_key: Vec<u8>,
        /// "server host key".
        host_key: Vec<u8>,
        /// The signature, present exactly when "has_signature" is TRUE.
        signature: Option<Vec<u8>>,
    },
    /// `password` (RFC 4252 §8), optionally changing it.
    Password {
        /// "plaintext password in ISO-10646 UTF-8 encoding".
        password: String,
        /// The new password, present exactly when the boolean is TRUE.
        new_password: Option<String>,
    },
    /// `hostbased` (RFC 4252 §9).
    HostBased {
        /// "public key algorithm for host key".
        #[cfg_attr(
            feature = "arbitrary",
            proptest(strategy = "crate::messages::arb::name()")
        )]
        algorithm: String,
        /// "public host key and certificates for client host".
        host_key: Vec<u8>,
        /// "client host name expressed as the FQDN in US-ASCII".
        #[cfg_attr(
            feature = "arbitrary",
            proptest(strategy = "crate::messages::arb::name()")
        )]
        client_host: String,
        /// "user name on the client host in ISO-10646 UTF-8 encoding".
        client_user: String,
        /// The signature.
        signature: Vec<u8>,
    },
    /// `keyboard-interactive` (RFC 4256 §3.1).
    KeyboardInteractive {
        /// "language tag"; "This field is deprecated" but still sent.
        language: String,
        /// "submethods (ISO-10646 UTF-8)".
        submethods: String,
    },
    /// Any other method: its name and the raw bytes after the name.
    Unknown {
        /// The method name.
        #[cfg_attr(
            feature = "arbitrary",
            proptest(strategy = "crate::messages::arb::unknown_name()")
        )]
        name: String,
        /// The method-specific fields, unparsed.
        rest: Vec<u8>,
    },
}

impl AuthMethod {
    /// The method name as on the wire.
    pub fn name(&self) -> &str {
        match self {
            Self::None => METHOD_NONE,
            Self::PublicKey { .. } => METHOD_PUBLICKEY,
            Self::PublicKeyHostBound { .. } => METHOD_PUBLICKEY_HOSTBOUND,
            Self::Password { .. } => METHOD_PASSWORD,
            Self::HostBased { .. } => METHOD_HOSTBASED,
            Self::KeyboardInteractive { .. } => METHOD_KEYBOARD_INTERACTIVE,
            Self::Unknown { name, .. } => name,
        }
    }

    /// The context for the replies to a request with this method.
    pub const fn context(&self) -> AuthContext {
        match self {
            Self::PublicKey { .. } | Self::PublicKeyHostBound { .. } => AuthContext::PublicKey,
            Self::Password { .. } => AuthContext::Password,
            Self::KeyboardInteractive { .. } => AuthContext::KeyboardInteractive,
            Self::None | Self::HostBased { .. } | Self::Unknown { .. } => AuthContext::None,
        }
    }

    fn fields_len(&self) -> usize {
        match self {
            Self::None => 0,
            Self::PublicKey {
                algorithm,
                public_key,
                signature,
            } => {
                1 + slen(algorithm.as_bytes())
                    + slen(public_key)
                    + signature.as_ref().map_or(0, |s| slen(s))
            }
            Self::PublicKeyHostBound {
                algorithm,
                public_key,
                host_key,
                signature,
            } => {
                1 + slen(algorithm.as_bytes())
                    + slen(public_key)
                    + slen(host_key)
                    + signature.as_ref().map_or(0, |s| slen(s))
            }
            Self::Password {
                password,
                new_password,
            } => {
                1 + slen(password.as_bytes())
                    + new_password.as_ref().map_or(0, |p| slen(p.as_bytes()))
            }
            Self::HostBased {
                algorithm,
                host_key,
                client_host,
                client_user,
                signature,
            } => {
                slen(algorithm.as_bytes())
                    + slen(host_key)
                    + slen(client_host.as_bytes())
                    + slen(client_user.as_bytes())
                    + slen(signature)
            }
            Self::KeyboardInteractive {
                language,
                submethods,
            } => slen(language.as_bytes()) + slen(submethods.as_bytes()),
            Self::Unknown { rest, .. } => rest.len(),
        }
    }

    fn encode_fields(&self, out: &mut Vec<u8>) {
        match self {
            Self::None => {}
            Self::PublicKey {
                algorithm,
                public_key,
                signature,
            } => {
                put_bool(out, signature.is_some());
                put_string(out, algorithm.as_bytes());
                put_string(out, public_key);
                if let Some(sig) = signature {
                    put_string(out, sig);
                }
            }
            Self::PublicKeyHostBound {
                algorithm,
                public_key,
                host_key,
                signature,
            } => {
                put_bool(out, signature.is_some());
                put_string(out, algorithm.as_bytes());
                put_string(out, public_key);
                put_string(out, host_key);
                if let Some(sig) = signature {
                    put_string(out, sig);
                }
            }
            Self::Password {
                password,
                new_password,
            } => {
                put_bool(out, new_password.is_some());
                put_string(out, password.as_bytes());
                if let Some(new) = new_password {
                    put_string(out, new.as_bytes());
                }
            }
            Self::HostBased {
                algorithm,
                host_key,
                client_host,
                client_user,
                signature,
            } => {
                put_string(out, algorithm.as_bytes());
                put_string(out, host_key);
                put_string(out, client_host.as_bytes());
                put_string(out, client_user.as_bytes());
                put_string(out, signature);
            }
            Self::KeyboardInteractive {
                language,
                submethods,
            } => {
                put_string(out, language.as_bytes());
                put_string(out, submethods.as_bytes());
            }
            Self::Unknown { rest, .. } => out.extend_from_slice(rest),
        }
    }

    fn decode_fields(name: &str, r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(match name {
            METHOD_NONE => Self::None,
            // RFC 4252 §7: "If the boolean is FALSE" the message carries no
            // signature; with TRUE, the signature follows the key.
            METHOD_PUBLICKEY => {
                let has_signature = r.bool("publickey boolean")?;
                let algorithm = r.ascii("public key algorithm name")?.to_owned();
                let public_key = r.string("public key blob")?.to_vec();
                let signature = if has_signature {
                    Some(r.string("signature")?.to_vec())
                } else {
                    None
                };
                Self::PublicKey {
                    algorithm,
                    public_key,
                    signature,
                }
            }
            METHOD_PUBLICKEY_HOSTBOUND => {
                let has_signature = r.bool("has_signature")?;
                let algorithm = r.ascii("pkalg")?.to_owned();
                let public_key = r.string("public key")?.to_vec();
                let host_key = r.string("server host key")?.to_vec();
                let signature = if has_signature {
                    Some(r.string("signature")?.to_vec())
                } else {
                    None
                };
                Self::PublicKeyHostBound {
                    algorithm,
                    public_key,
                    host_key,
                    signature,
                }
            }
            // RFC 4252 §8: with FALSE, only the password; with TRUE, the
            // old password then the new one.
            METHOD_PASSWORD => {
                let change = r.bool("password boolean")?;
                let password = r.utf8("password")?.to_owned();
                let new_password = if change {
                    Some(r.utf8("new password")?.to_owned())
                } else {
                    None
                };
                Self::Password {
                    password,
                    new_password,
                }
            }
            METHOD_HOSTBASED => Self::HostBased {
                algorithm: r.ascii("host key algorithm")?.to_owned(),
                host_key: r.string("client host key")?.to_vec(),
                client_host: r.ascii("client host name")?.to_owned(),
                client_user: r.utf8("client user name")?.to_owned(),
                signature: r.string("signature")?.to_vec(),
            },
            METHOD_KEYBOARD_INTERACTIVE => Self::KeyboardInteractive {
                language: r.utf8("language tag")?.to_owned(),
                submethods: r.utf8("submethods")?.to_owned(),
            },
            other => Self::Unknown {
                name: other.to_owned(),
                rest: r.take_rest().to_vec(),
            },
        })
    }
}

/// `SSH_MSG_USERAUTH_REQUEST` (RFC 4252 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct UserauthRequest {
    /// "user name in ISO-10646 UTF-8 encoding".
    pub user: String,
    /// "service name in US-ASCII", normally `ssh-connection`.
    #[cfg_attr(
        feature = "arbitrary",
        proptest(strategy = "crate::messages::arb::name()")
    )]
    pub service: String,
    /// The method and its fields.
    pub method: AuthMethod,
}

impl UserauthRequest {
    /// The data a `publickey` (or `publickey-hostbound-v00@openssh.com`)
    /// signature covers (RFC 4252 §7): "string session identifier, byte
    /// SSH_MSG_USERAUTH_REQUEST, string user name, string service name,
    /// string "publickey", boolean TRUE, string public key algorithm name,
    /// string public key to be used for authentication" (for the host-bound
    /// method, its name and then the server host key as well). `None` for
    /// other methods.
    pub fn publickey_signed_data(&self, session_id: &[u8]) -> Option<Vec<u8>> {
        let (algorithm, public_key, host_key) = match &self.method {
            AuthMethod::PublicKey {
                algorithm,
                public_key,
                ..
            } => (algorithm, public_key, None),
            AuthMethod::PublicKeyHostBound {
                algorithm,
                public_key,
                host_key,
                ..
            } => (algorithm, public_key, Some(host_key)),
            _ => return None,
        };
        let method = self.method.name();
        let mut out = Vec::with_capacity(
            slen(session_id)
                + 1
                + slen(self.user.as_bytes())
                + slen(self.service.as_bytes())
                + slen(method.as_bytes())
                + 1
                + slen(algorithm.as_bytes())
                + slen(public_key)
                + host_key.map_or(0, |h| slen(h)),
        );
        put_string(&mut out, session_id);
        out.push(msg::SSH_MSG_USERAUTH_REQUEST);
        put_string(&mut out, self.user.as_bytes());
        put_string(&mut out, self.service.as_bytes());
        put_string(&mut out, method.as_bytes());
        put_bool(&mut out, true);
        put_string(&mut out, algorithm.as_bytes());
        put_string(&mut out, public_key);
        if let Some(h) = host_key {
            put_string(&mut out, h);
        }
        Some(out)
    }

    fn body_len(&self) -> usize {
        slen(self.user.as_bytes())
            + slen(self.service.as_bytes())
            + slen(self.method.name().as_bytes())
            + self.method.fields_len()
    }
    fn encode_body(&self, out: &mut Vec<u8>) {
        put_string(out, self.user.as_bytes());
        put_string(out, self.service.as_bytes());
        put_string(out, self.method.name().as_bytes());
        self.method.encode_fields(out);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let user = r.utf8("user name")?.to_owned();
        let service = r.ascii("service name")?.to_owned();
        let name = r.ascii("method name")?;
        let method = AuthMethod::decode_fields(name, r)?;
        Ok(Self {
            user,
            service,
            method,
        })
    }
}
impl_message!(
    UserauthRequest,
    msg::SSH_MSG_USERAUTH_REQUEST,
    "SSH_MSG_USERAUTH_REQUEST"
);

/// `SSH_MSG_USERAUTH_FAILURE` (RFC 4252 §5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct UserauthFailure {
    /// "authentications that can continue".
    pub methods: NameList,
    /// "partial success": the request succeeded but more is needed.
    pub partial_success: bool,
}

impl UserauthFailure {
    fn body_len(&self) -> usize {
        self.methods.encoded_len() + 1
    }
    fn encode_body(&self, out: &mut Vec<u8>) {
        self.methods.encode(out);
        put_bool(out, self.partial_success);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            // As OpenSSH's client (`authmethod_get`, `match_list`): an
            // empty name ends the list (`NameList::parse_lenient`).
            methods: NameList::decode_lenient(r)?,
            partial_success: r.bool("partial success")?,
        })
    }
}
impl_message!(
    UserauthFailure,
    msg::SSH_MSG_USERAUTH_FAILURE,
    "SSH_MSG_USERAUTH_FAILURE"
);

unit_message!(
    /// `SSH_MSG_USERAUTH_SUCCESS` (RFC 4252 §5.1).
    UserauthSuccess,
    msg::SSH_MSG_USERAUTH_SUCCESS,
    "SSH_MSG_USERAUTH_SUCCESS"
);

/// A UTF-8 text and a language tag: the body of BANNER and
/// PASSWD_CHANGEREQ.
macro_rules! text_message {
    ($(#[$doc:meta])* $ty:ident, $field:ident, $what:literal, $num:expr, $name:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
        pub struct $ty {
            /// The text (ISO-10646 UTF-8).
            pub $field: String,
            /// RFC 3066 language tag.
            pub language: String,
        }

        impl $ty {
            fn body_len(&self) -> usize {
                slen(self.$field.as_bytes()) + slen(self.language.as_bytes())
            }
            fn encode_body(&self, out: &mut Vec<u8>) {
                put_string(out, self.$field.as_bytes());
                put_string(out, self.language.as_bytes());
            }
            fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok(Self {
                    $field: r.utf8($what)?.to_owned(),
                    language: r.utf8("language tag")?.to_owned(),
                })
            }
        }
        impl_message!($ty, $num, $name);
    };
}

text_message!(
    /// `SSH_MSG_USERAUTH_BANNER` (RFC 4252 §5.4).
    UserauthBanner,
    message,
    "banner message",
    msg::SSH_MSG_USERAUTH_BANNER,
    "SSH_MSG_USERAUTH_BANNER"
);

text_message!(
    /// `SSH_MSG_USERAUTH_PASSWD_CHANGEREQ` (RFC 4252 §8), in the
    /// [`AuthContext::Password`] context.
    UserauthPasswdChangereq,
    prompt,
    "password prompt",
    msg::SSH_MSG_USERAUTH_PASSWD_CHANGEREQ,
    "SSH_MSG_USERAUTH_PASSWD_CHANGEREQ"
);

/// `SSH_MSG_USERAUTH_PK_OK` (RFC 4252 §7), in the
/// [`AuthContext::PublicKey`] context.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct UserauthPkOk {
    /// "public key algorithm name from the request".
    #[cfg_attr(
        feature = "arbitrary",
        proptest(strategy = "crate::messages::arb::name()")
    )]
    pub algorithm: String,
    /// "public key blob from the request".
    pub public_key: Vec<u8>,
}

impl UserauthPkOk {
    fn body_len(&self) -> usize {
        slen(self.algorithm.as_bytes()) + slen(&self.public_key)
    }
    fn encode_body(&self, out: &mut Vec<u8>) {
        put_string(out, self.algorithm.as_bytes());
        put_string(out, &self.public_key);
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            algorithm: r.ascii("public key algorithm name")?.to_owned(),
            public_key: r.string("public key blob")?.to_vec(),
        })
    }
}
impl_message!(
    UserauthPkOk,
    msg::SSH_MSG_USERAUTH_PK_OK,
    "SSH_MSG_USERAUTH_PK_OK"
);

/// One prompt of an INFO_REQUEST.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct InfoPrompt {
    /// "prompt\[1\] (ISO-10646 UTF-8)".
    pub prompt: String,
    /// "echo\[1\] (boolean)": whether the answer may be shown as typed.
    pub echo: bool,
}

/// `SSH_MSG_USERAUTH_INFO_REQUEST` (RFC 4256 §3.2), in the
/// [`AuthContext::KeyboardInteractive`] context.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct UserauthInfoRequest {
    /// "name (ISO-10646 UTF-8)".
    pub name: String,
    /// "instruction (ISO-10646 UTF-8)".
    pub instruction: String,
    /// "language tag"; deprecated.
    pub language: String,
    /// At most [`MAX_PROMPTS`].
    #[cfg_attr(
        feature = "arbitrary",
        proptest(
            strategy = "proptest::collection::vec(proptest::arbitrary::any::<InfoPrompt>(), 0..5)"
        )
    )]
    pub prompts: Vec<InfoPrompt>,
}

impl UserauthInfoRequest {
    fn body_len(&self) -> usize {
        slen(self.name.as_bytes())
            + slen(self.instruction.as_bytes())
            + slen(self.language.as_bytes())
            + 4
            + self
                .prompts
                .iter()
                .map(|p| slen(p.prompt.as_bytes()) + 1)
                .sum::<usize>()
    }
    fn encode_body(&self, out: &mut Vec<u8>) {
        put_string(out, self.name.as_bytes());
        put_string(out, self.instruction.as_bytes());
        put_string(out, self.language.as_bytes());
        put_u32(out, u32::try_from(self.prompts.len()).unwrap_or(u32::MAX));
        for p in &self.prompts {
            put_string(out, p.prompt.as_bytes());
            put_bool(out, p.echo);
        }
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let name = r.utf8("info request name")?.to_owned();
        let instruction = r.utf8("instruction")?.to_owned();
        let language = r.utf8("language tag")?.to_owned();
        // A prompt is a string and a boolean: at least 5 bytes.
        let n = read_count(r, MAX_PROMPTS, 5, "num-prompts")?;
        let mut prompts = Vec::with_capacity(n);
        for _ in 0..n {
            prompts.push(InfoPrompt {
                prompt: r.utf8("prompt")?.to_owned(),
                echo: r.bool("echo")?,
            });
        }
        Ok(Self {
            name,
            instruction,
            language,
            prompts,
        })
    }
}
impl_message!(
    UserauthInfoRequest,
    msg::SSH_MSG_USERAUTH_INFO_REQUEST,
    "SSH_MSG_USERAUTH_INFO_REQUEST"
);

/// `SSH_MSG_USERAUTH_INFO_RESPONSE` (RFC 4256 §3.4): "The number of
/// responses MUST match the num-prompts field from the request"; the
/// caller checks that, this type only bounds the count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
pub struct UserauthInfoResponse {
    /// "response\[1\] (ISO-10646 UTF-8)", ...; at most [`MAX_PROMPTS`].
    #[cfg_attr(
        feature = "arbitrary",
        proptest(
            strategy = "proptest::collection::vec(proptest::arbitrary::any::<String>(), 0..5)"
        )
    )]
    pub responses: Vec<String>,
}

impl UserauthInfoResponse {
    fn body_len(&self) -> usize {
        4 + self
            .responses
            .iter()
            .map(|s| slen(s.as_bytes()))
            .sum::<usize>()
    }
    fn encode_body(&self, out: &mut Vec<u8>) {
        put_u32(out, u32::try_from(self.responses.len()).unwrap_or(u32::MAX));
        for s in &self.responses {
            put_string(out, s.as_bytes());
        }
    }
    fn decode_body(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let n = read_count(r, MAX_PROMPTS, 4, "num-responses")?;
        let mut responses = Vec::with_capacity(n);
        for _ in 0..n {
            responses.push(r.utf8("response")?.to_owned());
        }
        Ok(Self { responses })
    }
}
impl_message!(
    UserauthInfoResponse,
    msg::SSH_MSG_USERAUTH_INFO_RESPONSE,
    "SSH_MSG_USERAUTH_INFO_RESPONSE"
);

/// Any user-authentication message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(Arbitrary))]
#[non_exhaustive]
pub enum UserauthMessage {
    /// 50.
    Request(UserauthRequest),
    /// 51.
    Failure(UserauthFailure),
    /// 52.
    Success(UserauthSuccess),
    /// 53.
    Banner(UserauthBanner),
    /// 60 in [`AuthContext::PublicKey`].
    PkOk(UserauthPkOk),
    /// 60 in [`AuthContext::Password`].
    PasswdChangereq(UserauthPasswdChangereq),
    /// 60 in [`AuthContext::KeyboardInteractive`].
    InfoRequest(UserauthInfoRequest),
    /// 61 in [`AuthContext::KeyboardInteractive`].
    InfoResponse(UserauthInfoResponse),
}

impl UserauthMessage {
    /// Reads a whole payload. Numbers 60-79 are read in context `ctx`; a
    /// number that is not an authentication message of this context is
    /// [`DecodeError::UnexpectedMessage`] (the caller answers it with
    /// `SSH_MSG_UNIMPLEMENTED`).
    pub fn decode(payload: &[u8], ctx: AuthContext) -> Result<Self, DecodeError> {
        let number = peek_number(payload)?;
        let mut r = Reader::new(payload);
        let m = match (number, ctx) {
            (msg::SSH_MSG_USERAUTH_REQUEST, _) => Self::Request(UserauthRequest::decode(&mut r)?),
            (msg::SSH_MSG_USERAUTH_FAILURE, _) => Self::Failure(UserauthFailure::decode(&mut r)?),
            (msg::SSH_MSG_USERAUTH_SUCCESS, _) => Self::Success(UserauthSuccess::decode(&mut r)?),
            (msg::SSH_MSG_USERAUTH_BANNER, _) => Self::Banner(UserauthBanner::decode(&mut r)?),
            (60, AuthContext::PublicKey) => Self::PkOk(UserauthPkOk::decode(&mut r)?),
            (60, AuthContext::Password) => {
                Self::PasswdChangereq(UserauthPasswdChangereq::decode(&mut r)?)
            }
            (60, AuthContext::KeyboardInteractive) => {
                Self::InfoRequest(UserauthInfoRequest::decode(&mut r)?)
            }
            (61, AuthContext::KeyboardInteractive) => {
                Self::InfoResponse(UserauthInfoResponse::decode(&mut r)?)
            }
            _ => {
                return Err(DecodeError::UnexpectedMessage {
                    got: number,
                    expected: "a user-authentication message of the method in progress",
                });
            }
        };
        r.finish(msg::name(number))?;
        Ok(m)
    }

    /// The message number.
    pub const fn number(&self) -> u8 {
        match self {
            Self::Request(_) => UserauthRequest::NUMBER,
            Self::Failure(_) => UserauthFailure::NUMBER,
            Self::Success(_) => UserauthSuccess::NUMBER,
            Self::Banner(_) => UserauthBanner::NUMBER,
            Self::PkOk(_) => UserauthPkOk::NUMBER,
            Self::PasswdChangereq(_) => UserauthPasswdChangereq::NUMBER,
            Self::InfoRequest(_) => UserauthInfoRequest::NUMBER,
            Self::InfoResponse(_) => UserauthInfoResponse::NUMBER,
        }
    }

    /// The context in which this message decodes (for 60-79); `None` for
    /// the generic ones, which decode in any context.
    pub const fn context(&self) -> Option<AuthContext> {
        match self {
            Self::PkOk(_) => Some(AuthContext::PublicKey),
            Self::PasswdChangereq(_) => Some(AuthContext::Password),
            Self::InfoRequest(_) | Self::InfoResponse(_) => Some(AuthContext::KeyboardInteractive),
            _ => None,
        }
    }
}

delegate_encode!(
    UserauthMessage,
    Request,
    Failure,
    Success,
    Banner,
    PkOk,
    PasswdChangereq,
    InfoRequest,
    InfoResponse,
);
