//! Algorithm negotiation (RFC 4253 §7.1) over two KEXINIT offers.
//!
//! "The chosen encryption algorithm to each direction MUST be the first
//! algorithm on the client's name-list that is also on the server's
//! name-list." The same rule holds for every list; the markers that ride in
//! `kex_algorithms` (`ext-info-c`, `kex-strict-*`) are not algorithms and
//! never match.

use core::fmt;

use ssh_wire::NameList;

/// OpenSSH's strict-kex marker sent by clients (`PROTOCOL`, strict key
/// exchange).
pub const KEX_STRICT_CLIENT: &str = "kex-strict-c-v00@openssh.com";
/// OpenSSH's strict-kex marker sent by servers.
pub const KEX_STRICT_SERVER: &str = "kex-strict-s-v00@openssh.com";
/// RFC 8308 §2.1: the client is willing to receive SSH_MSG_EXT_INFO.
pub const EXT_INFO_CLIENT: &str = "ext-info-c";
/// RFC 8308 §2.1: the server is willing to receive SSH_MSG_EXT_INFO.
pub const EXT_INFO_SERVER: &str = "ext-info-s";

/// True for names in `kex_algorithms` that signal a feature rather than
/// name a method.
pub fn is_kex_marker(name: &str) -> bool {
    matches!(
        name,
        KEX_STRICT_CLIENT | KEX_STRICT_SERVER | EXT_INFO_CLIENT | EXT_INFO_SERVER
    )
}

/// The ten name-lists of one side's KEXINIT, in RFC 4253 §7.1 order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Offer {
    /// `kex_algorithms`, markers included.
    pub kex: NameList,
    /// `server_host_key_algorithms`.
    pub host_key: NameList,
    /// `encryption_algorithms_client_to_server`.
    pub cipher_c2s: NameList,
    /// `encryption_algorithms_server_to_client`.
    pub cipher_s2c: NameList,
    /// `mac_algorithms_client_to_server`.
    pub mac_c2s: NameList,
    /// `mac_algorithms_server_to_client`.
    pub mac_s2c: NameList,
    /// `compression_algorithms_client_to_server`.
    pub comp_c2s: NameList,
    /// `compression_algorithms_server_to_client`.
    pub comp_s2c: NameList,
}

/// The outcome of a negotiation: one name per slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The key exchange method.
    pub kex: String,
    /// The host key (signature) algorithm.
    pub host_key: String,
    /// Cipher, client to server.
    pub cipher_c2s: String,
    /// Cipher, server to client.
    pub cipher_s2c: String,
    /// MAC, client to server; `None` with an AEAD cipher, which ignores the
    /// MAC list (as OpenSSH does).
    pub mac_c2s: Option<String>,
    /// MAC, server to client.
    pub mac_s2c: Option<String>,
    /// Compression, client to server.
    pub comp_c2s: String,
    /// Compression, server to client.
    pub comp_s2c: String,
    /// Both sides announced strict kex (only meaningful in the first kex).
    pub strict_kex: bool,
    /// The peer accepts SSH_MSG_EXT_INFO from us (its marker was present).
    pub peer_ext_info: bool,
}

/// Which list could not be agreed on; both sides' lists are kept so the
/// error says what each offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoCommonAlgorithm {
    /// The slot: "kex", "host key", "cipher client->server", ...
    pub what: &'static str,
    /// The client's list.
    pub client: NameList,
    /// The server's list.
    pub server: NameList,
}

impl fmt::Display for NoCommonAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "no matching {} algorithm: client offered [{}], server offered [{}]",
            self.what, self.client, self.server
        )
    }
}

impl std::error::Error for NoCommonAlgorithm {}

fn pick(
    what: &'static str,
    client: &NameList,
    server: &NameList,
    skip: impl Fn(&str) -> bool,
) -> Result<String, NoCommonAlgorithm> {
    client
        .iter()
        .filter(|n| !skip(n))
        .find(|n| server.contains(n))
        .map(str::to_owned)
        .ok_or_else(|| NoCommonAlgorithm {
            what,
            client: client.clone(),
            server: server.clone(),
        })
}

/// Negotiates every slot. `is_aead` tells which ciphers carry their own
/// integrity, so the MAC list is not consulted for them. Every kex method
/// here needs a signature-capable host key, and every host key algorithm
/// here is one, so the §7.1 compatibility rule needs no filter; a server
/// offers only the algorithms it holds keys for.
pub fn negotiate(
    client: &Offer,
    server: &Offer,
    is_aead: impl Fn(&str) -> bool,
    we_are_client: bool,
) -> Result<Negotiated, NoCommonAlgorithm> {
    let kex = pick("key exchange", &client.kex, &server.kex, is_kex_marker)?;
    let host_key = pick("host key", &client.host_key, &server.host_key, |_| false)?;
    let cipher_c2s = pick(
        "cipher (client to server)",
        &client.cipher_c2s,
        &server.cipher_c2s,
        |_| false,
    )?;
    let cipher_s2c = pick(
        "cipher (server to client)",
        &client.cipher_s2c,
        &server.cipher_s2c,
        |_| false,
    )?;
    let mac_c2s = if is_aead(&cipher_c2s) {
        None
    } else {
        Some(pick(
            "MAC (client to server)",
            &client.mac_c2s,
            &server.mac_c2s,
            |_| false,
        )?)
    };
    let mac_s2c = if is_aead(&cipher_s2c) {
        None
    } else {
        Some(pick(
            "MAC (server to client)",
            &client.mac_s2c,
            &server.mac_s2c,
            |_| false,
        )?)
    };
    let comp_c2s = pick(
        "compression (client to server)",
        &client.comp_c2s,
        &server.comp_c2s,
        |_| false,
    )?;
    let comp_s2c = pick(
        "compression (server to client)",
        &client.comp_s2c,
        &server.comp_s2c,
        |_| false,
    )?;
    let strict_kex =
        client.kex.contains(KEX_STRICT_CLIENT) && server.kex.contains(KEX_STRICT_SERVER);
    let peer_ext_info = if we_are_client {
        server.kex.contains(EXT_INFO_SERVER)
    } else {
        client.kex.contains(EXT_INFO_CLIENT)
    };
    Ok(Negotiated {
        kex,
        host_key,
        cipher_c2s,
        cipher_s2c,
        mac_c2s,
        mac_s2c,
        comp_c2s,
        comp_s2c,
        strict_kex,
        peer_ext_info,
    })
}

/// RFC 4253 §7: a `first_kex_packet_follows` guess is right only if both
/// sides' first kex method and first host key algorithm are the same:
/// "the guess MUST be considered wrong ... if the kex algorithm and/or the
/// host key algorithm is guessed wrong (server and client have different
/// preferred algorithm)". A wrong guess's packet is ignored.
pub fn guess_is_right(client: &Offer, server: &Offer) -> bool {
    let first_kex = |l: &NameList| l.iter().find(|n| !is_kex_marker(n)).map(str::to_owned);
    first_kex(&client.kex) == first_kex(&server.kex)
        && client.host_key.names().first() == server.host_key.names().first()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn list(s: &str) -> NameList {
        NameList::parse(s).unwrap()
    }

    fn offer(kex: &str, hk: &str, cipher: &str, mac: &str, comp: &str) -> Offer {
        Offer {
            kex: list(kex),
            host_key: list(hk),
            cipher_c2s: list(cipher),
            cipher_s2c: list(cipher),
            mac_c2s: list(mac),
            mac_s2c: list(mac),
            comp_c2s: list(comp),
            comp_s2c: list(comp),
        }
    }

    fn aead(n: &str) -> bool {
        n.contains("gcm") || n.contains("poly1305")
    }

    #[test]
    fn client_preference_wins() {
        let c = offer(
            "curve25519-sha256,ecdh-sha2-nistp256,ext-info-c,kex-strict-c-v00@openssh.com",
            "ssh-ed25519,rsa-sha2-256",
            "aes128-ctr,chacha20-poly1305@openssh.com",
            "hmac-sha2-256,hmac-sha2-512",
            "none",
        );
        let s = offer(
            "ecdh-sha2-nistp256,curve25519-sha256,ext-info-s,kex-strict-s-v00@openssh.com",
            "rsa-sha2-256,ssh-ed25519",
            "chacha20-poly1305@openssh.com,aes128-ctr",
            "hmac-sha2-512,hmac-sha2-256",
            "none,zlib@openssh.com",
        );
        let n = negotiate(&c, &s, aead, true).unwrap();
        assert_eq!(n.kex, "curve25519-sha256");
        assert_eq!(n.host_key, "ssh-ed25519");
        assert_eq!(n.cipher_c2s, "aes128-ctr");
        assert_eq!(n.mac_c2s.as_deref(), Some("hmac-sha2-256"));
        assert_eq!(n.comp_s2c, "none");
        assert!(n.strict_kex);
        assert!(n.peer_ext_info);
        // The server sees the client's ext-info-c.
        assert!(negotiate(&c, &s, aead, false).unwrap().peer_ext_info);
    }

    #[test]
    fn aead_ignores_mac_lists() {
        let c = offer("a", "k", "chacha20-poly1305@openssh.com", "x", "none");
        let s = offer("a", "k", "chacha20-poly1305@openssh.com", "y", "none");
        let n = negotiate(&c, &s, aead, true).unwrap();
        assert_eq!(n.mac_c2s, None);
        assert_eq!(n.mac_s2c, None);
    }

    #[test]
    fn markers_never_match() {
        let c = offer(
            "kex-strict-c-v00@openssh.com,ext-info-c",
            "k",
            "c",
            "m",
            "none",
        );
        let s = offer(
            "kex-strict-c-v00@openssh.com,ext-info-c",
            "k",
            "c",
            "m",
            "none",
        );
        let err = negotiate(&c, &s, aead, true).unwrap_err();
        assert_eq!(err.what, "key exchange");
        // Strict kex needs both markers.
        let c = offer("a,kex-strict-c-v00@openssh.com", "k", "c", "m", "none");
        let s = offer("a", "k", "c", "m", "none");
        assert!(!negotiate(&c, &s, aead, true).unwrap().strict_kex);
    }

    #[test]
    fn failure_names_both_lists() {
        let c = offer("a", "k", "aes128-ctr", "m", "none");
        let s = offer("a", "k", "aes256-ctr,aes192-ctr", "m", "none");
        let err = negotiate(&c, &s, aead, true).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("cipher (client to server)"), "{text}");
        assert!(text.contains("[aes128-ctr]"), "{text}");
        assert!(text.contains("[aes256-ctr,aes192-ctr]"), "{text}");
    }

    #[test]
    fn guess_rules() {
        let c = offer("ext-info-c,a,b", "k1,k2", "c", "m", "none");
        let right = offer("a,b", "k1", "c", "m", "none");
        let wrong_kex = offer("b,a", "k1", "c", "m", "none");
        let wrong_hk = offer("a,b", "k2,k1", "c", "m", "none");
        assert!(guess_is_right(&c, &right));
        assert!(!guess_is_right(&c, &wrong_kex));
        assert!(!guess_is_right(&c, &wrong_hk));
    }
}
