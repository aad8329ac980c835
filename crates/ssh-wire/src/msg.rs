//! The table of message numbers, each with the layer it belongs to
//! (RFC 4250 §4.1, RFC 4251 §7, RFC 8308, OpenSSH `PROTOCOL`).
//!
//! Numbers 30-49 mean different things per key-exchange method and 60-79 per
//! authentication method; those are listed here once per meaning and decoded
//! only with an explicit context (see `messages`).

/// Which layer a message number belongs to (RFC 4251 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    /// 1-19: transport layer generic (disconnect, ignore, debug, ...).
    TransportGeneric,
    /// 20-29: algorithm negotiation (KEXINIT, NEWKEYS).
    AlgorithmNegotiation,
    /// 30-49: specific to the negotiated key-exchange method.
    KeyExchange,
    /// 50-59: user authentication generic.
    UserauthGeneric,
    /// 60-79: specific to the user authentication method in progress.
    UserauthMethod,
    /// 80-89: connection protocol generic (global requests).
    ConnectionGeneric,
    /// 90-127: channel related.
    Channel,
    /// 128-191: reserved for client protocols.
    Reserved,
    /// 192-255: local extensions (OpenSSH's ping/pong live here).
    LocalExtension,
    /// 0: not a valid message number.
    Invalid,
}

impl Layer {
    /// The layer of message number `n`.
    pub const fn of(n: u8) -> Self {
        match n {
            0 => Self::Invalid,
            1..=19 => Self::TransportGeneric,
            20..=29 => Self::AlgorithmNegotiation,
            30..=49 => Self::KeyExchange,
            50..=59 => Self::UserauthGeneric,
            60..=79 => Self::UserauthMethod,
            80..=89 => Self::ConnectionGeneric,
            90..=127 => Self::Channel,
            128..=191 => Self::Reserved,
            192..=255 => Self::LocalExtension,
        }
    }

    /// True for the transport layer's own numbers (1-49).
    pub const fn is_transport(self) -> bool {
        matches!(
            self,
            Self::TransportGeneric | Self::AlgorithmNegotiation | Self::KeyExchange
        )
    }

    /// True for the authentication protocol's numbers (50-79).
    pub const fn is_userauth(self) -> bool {
        matches!(self, Self::UserauthGeneric | Self::UserauthMethod)
    }

    /// True for the connection protocol's numbers (80-127).
    pub const fn is_connection(self) -> bool {
        matches!(self, Self::ConnectionGeneric | Self::Channel)
    }
}

macro_rules! numbers {
    ($( $(#[$doc:meta])* $name:ident = $value:literal; )*) => {
        $( $(#[$doc])* pub const $name: u8 = $value; )*

        /// The name of a message number as the RFCs spell it, for logs.
        /// Context-dependent numbers give the generic name of their range.
        pub const fn name(n: u8) -> &'static str {
            match n {
                $( $value if !matches!($value, 30..=49 | 60..=79) => stringify!($name), )*
                30..=49 => "SSH_MSG_KEX_*",
                60..=79 => "SSH_MSG_USERAUTH_*",
                _ => "unknown",
            }
        }
    };
}

numbers! {
    /// RFC 4253 §11.1.
    SSH_MSG_DISCONNECT = 1;
    /// RFC 4253 §11.2.
    SSH_MSG_IGNORE = 2;
    /// RFC 4253 §11.4.
    SSH_MSG_UNIMPLEMENTED = 3;
    /// RFC 4253 §11.3.
    SSH_MSG_DEBUG = 4;
    /// RFC 4253 §10.
    SSH_MSG_SERVICE_REQUEST = 5;
    /// RFC 4253 §10.
    SSH_MSG_SERVICE_ACCEPT = 6;
    /// RFC 8308 §2.3.
    SSH_MSG_EXT_INFO = 7;
    /// RFC 8308 §3.2.
    SSH_MSG_NEWCOMPRESS = 8;
    /// RFC 4253 §7.1.
    SSH_MSG_KEXINIT = 20;
    /// RFC 4253 §7.3.
    SSH_MSG_NEWKEYS = 21;
    /// RFC 4253 §8 (fixed-group DH), 30 in the key-exchange range.
    SSH_MSG_KEXDH_INIT = 30;
    /// RFC 4253 §8.
    SSH_MSG_KEXDH_REPLY = 31;
    /// RFC 5656 §7.1 (ECDH, curve25519 of RFC 8731, and the hybrid
    /// post-quantum methods, which reuse these numbers).
    SSH_MSG_KEX_ECDH_INIT = 30;
    /// RFC 5656 §7.1.
    SSH_MSG_KEX_ECDH_REPLY = 31;
    /// RFC 4419 §5: the old request without min and max.
    SSH_MSG_KEX_DH_GEX_REQUEST_OLD = 30;
    /// RFC 4419 §5.
    SSH_MSG_KEX_DH_GEX_GROUP = 31;
    /// RFC 4419 §5.
    SSH_MSG_KEX_DH_GEX_INIT = 32;
    /// RFC 4419 §5.
    SSH_MSG_KEX_DH_GEX_REPLY = 33;
    /// RFC 4419 §5.
    SSH_MSG_KEX_DH_GEX_REQUEST = 34;
    /// RFC 4252 §5.
    SSH_MSG_USERAUTH_REQUEST = 50;
    /// RFC 4252 §5.1.
    SSH_MSG_USERAUTH_FAILURE = 51;
    /// RFC 4252 §5.1.
    SSH_MSG_USERAUTH_SUCCESS = 52;
    /// RFC 4252 §5.4.
    SSH_MSG_USERAUTH_BANNER = 53;
    /// RFC 4252 §7, during publickey authentication.
    SSH_MSG_USERAUTH_PK_OK = 60;
    /// RFC 4252 §8, during password authentication.
    SSH_MSG_USERAUTH_PASSWD_CHANGEREQ = 60;
    /// RFC 4256 §3.2, during keyboard-interactive authentication.
    SSH_MSG_USERAUTH_INFO_REQUEST = 60;
    /// RFC 4256 §3.4.
    SSH_MSG_USERAUTH_INFO_RESPONSE = 61;
    /// RFC 4254 §4.
    SSH_MSG_GLOBAL_REQUEST = 80;
    /// RFC 4254 §4.
    SSH_MSG_REQUEST_SUCCESS = 81;
    /// RFC 4254 §4.
    SSH_MSG_REQUEST_FAILURE = 82;
    /// RFC 4254 §5.1.
    SSH_MSG_CHANNEL_OPEN = 90;
    /// RFC 4254 §5.1.
    SSH_MSG_CHANNEL_OPEN_CONFIRMATION = 91;
    /// RFC 4254 §5.1.
    SSH_MSG_CHANNEL_OPEN_FAILURE = 92;
    /// RFC 4254 §5.2.
    SSH_MSG_CHANNEL_WINDOW_ADJUST = 93;
    /// RFC 4254 §5.2.
    SSH_MSG_CHANNEL_DATA = 94;
    /// RFC 4254 §5.2.
    SSH_MSG_CHANNEL_EXTENDED_DATA = 95;
    /// RFC 4254 §5.3.
    SSH_MSG_CHANNEL_EOF = 96;
    /// RFC 4254 §5.3.
    SSH_MSG_CHANNEL_CLOSE = 97;
    /// RFC 4254 §5.4.
    SSH_MSG_CHANNEL_REQUEST = 98;
    /// RFC 4254 §5.4.
    SSH_MSG_CHANNEL_SUCCESS = 99;
    /// RFC 4254 §5.4.
    SSH_MSG_CHANNEL_FAILURE = 100;
    /// OpenSSH `PROTOCOL` §1.8 (transport-level ping).
    SSH_MSG_PING = 192;
    /// OpenSSH `PROTOCOL` §1.8.
    SSH_MSG_PONG = 193;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_follow_rfc4251_section7() {
        assert_eq!(Layer::of(SSH_MSG_DISCONNECT), Layer::TransportGeneric);
        assert_eq!(Layer::of(SSH_MSG_KEXINIT), Layer::AlgorithmNegotiation);
        assert_eq!(Layer::of(SSH_MSG_KEX_DH_GEX_REQUEST), Layer::KeyExchange);
        assert_eq!(Layer::of(SSH_MSG_USERAUTH_SUCCESS), Layer::UserauthGeneric);
        assert_eq!(
            Layer::of(SSH_MSG_USERAUTH_INFO_RESPONSE),
            Layer::UserauthMethod
        );
        assert_eq!(Layer::of(SSH_MSG_REQUEST_FAILURE), Layer::ConnectionGeneric);
        assert_eq!(Layer::of(SSH_MSG_CHANNEL_FAILURE), Layer::Channel);
        assert_eq!(Layer::of(SSH_MSG_PING), Layer::LocalExtension);
        assert_eq!(Layer::of(0), Layer::Invalid);
        assert!(Layer::of(49).is_transport() && !Layer::of(50).is_transport());
        assert!(Layer::of(79).is_userauth() && !Layer::of(80).is_userauth());
        assert!(Layer::of(127).is_connection() && !Layer::of(128).is_connection());
    }

    #[test]
    fn names_are_unambiguous_outside_context_ranges() {
        assert_eq!(name(SSH_MSG_KEXINIT), "SSH_MSG_KEXINIT");
        assert_eq!(name(SSH_MSG_CHANNEL_DATA), "SSH_MSG_CHANNEL_DATA");
        assert_eq!(name(31), "SSH_MSG_KEX_*");
        assert_eq!(name(61), "SSH_MSG_USERAUTH_*");
        assert_eq!(name(200), "unknown");
    }
}
