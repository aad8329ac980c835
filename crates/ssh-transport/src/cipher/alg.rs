//! The cipher and MAC algorithms as data: wire names, key sizes, block sizes.

/// A packet cipher negotiated in KEXINIT (RFC 4253 §6.3, RFC 4344, RFC 5647,
/// OpenSSH `PROTOCOL.chacha20poly1305`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CipherAlg {
    /// No encryption: the initial packets before the first NEWKEYS.
    None,
    /// `chacha20-poly1305@openssh.com`: AEAD, encrypted length.
    ChaCha20Poly1305,
    /// `aes128-gcm@openssh.com`: AEAD, length in clear as associated data.
    Aes128Gcm,
    /// `aes256-gcm@openssh.com`: AEAD, length in clear as associated data.
    Aes256Gcm,
    /// `aes128-ctr` (RFC 4344), needs a MAC.
    Aes128Ctr,
    /// `aes192-ctr` (RFC 4344), needs a MAC.
    Aes192Ctr,
    /// `aes256-ctr` (RFC 4344), needs a MAC.
    Aes256Ctr,
}

impl CipherAlg {
    /// Wire name of [`CipherAlg::None`].
    pub const NONE: &'static str = "none";
    /// Wire name of [`CipherAlg::ChaCha20Poly1305`].
    pub const CHACHA20_POLY1305: &'static str = "chacha20-poly1305@openssh.com";
    /// Wire name of [`CipherAlg::Aes128Gcm`].
    pub const AES128_GCM: &'static str = "aes128-gcm@openssh.com";
    /// Wire name of [`CipherAlg::Aes256Gcm`].
    pub const AES256_GCM: &'static str = "aes256-gcm@openssh.com";
    /// Wire name of [`CipherAlg::Aes128Ctr`].
    pub const AES128_CTR: &'static str = "aes128-ctr";
    /// Wire name of [`CipherAlg::Aes192Ctr`].
    pub const AES192_CTR: &'static str = "aes192-ctr";
    /// Wire name of [`CipherAlg::Aes256Ctr`].
    pub const AES256_CTR: &'static str = "aes256-ctr";

    /// Every supported cipher except `none`, in OpenSSH 10's default
    /// preference order (AES-GCM before AES-CTR since 9.9).
    pub const DEFAULT: &'static [CipherAlg] = &[
        CipherAlg::ChaCha20Poly1305,
        CipherAlg::Aes128Gcm,
        CipherAlg::Aes256Gcm,
        CipherAlg::Aes128Ctr,
        CipherAlg::Aes192Ctr,
        CipherAlg::Aes256Ctr,
    ];

    /// Every variant, `none` included (for tests and tables).
    pub const ALL: &'static [CipherAlg] = &[
        CipherAlg::None,
        CipherAlg::ChaCha20Poly1305,
        CipherAlg::Aes128Gcm,
        CipherAlg::Aes256Gcm,
        CipherAlg::Aes128Ctr,
        CipherAlg::Aes192Ctr,
        CipherAlg::Aes256Ctr,
    ];

    /// The name as spelled on the wire.
    pub const fn name(self) -> &'static str {
        match self {
            CipherAlg::None => Self::NONE,
            CipherAlg::ChaCha20Poly1305 => Self::CHACHA20_POLY1305,
            CipherAlg::Aes128Gcm => Self::AES128_GCM,
            CipherAlg::Aes256Gcm => Self::AES256_GCM,
            CipherAlg::Aes128Ctr => Self::AES128_CTR,
            CipherAlg::Aes192Ctr => Self::AES192_CTR,
            CipherAlg::Aes256Ctr => Self::AES256_CTR,
        }
    }

    /// The algorithm with this wire name, if supported.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|alg| alg.name() == name)
    }

    /// Bytes of encryption key to derive (RFC 4253 §7.2 key "C"/"D").
    ///
    /// chacha20-poly1305 takes 64: the payload key then the length key.
    pub const fn key_len(self) -> usize {
        match self {
            CipherAlg::None => 0,
            CipherAlg::ChaCha20Poly1305 => 64,
            CipherAlg::Aes128Gcm | CipherAlg::Aes128Ctr => 16,
            CipherAlg::Aes192Ctr => 24,
            CipherAlg::Aes256Gcm | CipherAlg::Aes256Ctr => 32,
        }
    }

    /// Bytes of initial IV to derive (RFC 4253 §7.2 key "A"/"B").
    pub const fn iv_len(self) -> usize {
        match self {
            CipherAlg::None | CipherAlg::ChaCha20Poly1305 => 0,
            CipherAlg::Aes128Gcm | CipherAlg::Aes256Gcm => 12,
            CipherAlg::Aes128Ctr | CipherAlg::Aes192Ctr | CipherAlg::Aes256Ctr => 16,
        }
    }

    /// The block size the padding aligns to (RFC 4253 §6: at least 8).
    pub const fn block_size(self) -> usize {
        match self {
            CipherAlg::None | CipherAlg::ChaCha20Poly1305 => 8,
            CipherAlg::Aes128Gcm
            | CipherAlg::Aes256Gcm
            | CipherAlg::Aes128Ctr
            | CipherAlg::Aes192Ctr
            | CipherAlg::Aes256Ctr => 16,
        }
    }

    /// Length of the authentication tag an AEAD cipher appends (0 otherwise).
    pub const fn tag_len(self) -> usize {
        if self.is_aead() { 16 } else { 0 }
    }

    /// Whether the cipher authenticates by itself (then no MAC is used).
    pub const fn is_aead(self) -> bool {
        matches!(
            self,
            CipherAlg::ChaCha20Poly1305 | CipherAlg::Aes128Gcm | CipherAlg::Aes256Gcm
        )
    }

    /// Blocks that may be processed under one key before a re-key is forced,
    /// as OpenSSH computes it (`ssh_set_newkeys`): 2^(2 * block size) blocks
    /// for 16-byte blocks (RFC 4344 §3.2), 1 GiB worth for smaller blocks.
    /// A configured `RekeyLimit` (bytes / block size) lowers it.
    pub const fn rekey_blocks(self) -> u64 {
        let bs = self.block_size();
        if bs >= 16 {
            // 1 << 32 for 16-byte blocks; block sizes above 16 do not exist here.
            1u64 << 32
        } else {
            (1u64 << 30) / bs as u64
        }
    }
}

/// A message authentication code negotiated in KEXINIT (RFC 4253 §6.4,
/// RFC 6668, OpenSSH `PROTOCOL` §1.5 for the `-etm` variants).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MacAlg {
    /// No MAC: initial packets, or an AEAD cipher (which ignores the MAC).
    None,
    /// `hmac-sha2-256-etm@openssh.com`.
    HmacSha256Etm,
    /// `hmac-sha2-512-etm@openssh.com`.
    HmacSha512Etm,
    /// `hmac-sha2-256` (RFC 6668).
    HmacSha256,
    /// `hmac-sha2-512` (RFC 6668).
    HmacSha512,
    /// `hmac-sha1-etm@openssh.com` (not in the defaults).
    HmacSha1Etm,
    /// `hmac-sha1` (RFC 4253; not in the defaults).
    HmacSha1,
}

impl MacAlg {
    /// Wire name of [`MacAlg::None`].
    pub const NONE: &'static str = "none";
    /// Wire name of [`MacAlg::HmacSha256Etm`].
    pub const HMAC_SHA2_256_ETM: &'static str = "hmac-sha2-256-etm@openssh.com";
    /// Wire name of [`MacAlg::HmacSha512Etm`].
    pub const HMAC_SHA2_512_ETM: &'static str = "hmac-sha2-512-etm@openssh.com";
    /// Wire name of [`MacAlg::HmacSha256`].
    pub const HMAC_SHA2_256: &'static str = "hmac-sha2-256";
    /// Wire name of [`MacAlg::HmacSha512`].
    pub const HMAC_SHA2_512: &'static str = "hmac-sha2-512";
    /// Wire name of [`MacAlg::HmacSha1Etm`].
    pub const HMAC_SHA1_ETM: &'static str = "hmac-sha1-etm@openssh.com";
    /// Wire name of [`MacAlg::HmacSha1`].
    pub const HMAC_SHA1: &'static str = "hmac-sha1";

    /// The default preference list: encrypt-then-MAC first, SHA-1 left out.
    pub const DEFAULT: &'static [MacAlg] = &[
        MacAlg::HmacSha256Etm,
        MacAlg::HmacSha512Etm,
        MacAlg::HmacSha256,
        MacAlg::HmacSha512,
    ];

    /// Every variant, `none` included (for tests and tables).
    pub const ALL: &'static [MacAlg] = &[
        MacAlg::None,
        MacAlg::HmacSha256Etm,
        MacAlg::HmacSha512Etm,
        MacAlg::HmacSha256,
        MacAlg::HmacSha512,
        MacAlg::HmacSha1Etm,
        MacAlg::HmacSha1,
    ];

    /// The name as spelled on the wire.
    pub const fn name(self) -> &'static str {
        match self {
            MacAlg::None => Self::NONE,
            MacAlg::HmacSha256Etm => Self::HMAC_SHA2_256_ETM,
            MacAlg::HmacSha512Etm => Self::HMAC_SHA2_512_ETM,
            MacAlg::HmacSha256 => Self::HMAC_SHA2_256,
            MacAlg::HmacSha512 => Self::HMAC_SHA2_512,
            MacAlg::HmacSha1Etm => Self::HMAC_SHA1_ETM,
            MacAlg::HmacSha1 => Self::HMAC_SHA1,
        }
    }

    /// The algorithm with this wire name, if supported.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|alg| alg.name() == name)
    }

    /// Bytes of MAC key to derive (RFC 4253 §7.2 key "E"/"F"): the digest size.
    pub const fn key_len(self) -> usize {
        self.mac_len()
    }

    /// Bytes of MAC appended to each packet.
    pub const fn mac_len(self) -> usize {
        match self {
            MacAlg::None => 0,
            MacAlg::HmacSha1 | MacAlg::HmacSha1Etm => 20,
            MacAlg::HmacSha256 | MacAlg::HmacSha256Etm => 32,
            MacAlg::HmacSha512 | MacAlg::HmacSha512Etm => 64,
        }
    }

    /// Encrypt-then-MAC: length in clear, MAC over the ciphertext.
    pub const fn is_etm(self) -> bool {
        matches!(
            self,
            MacAlg::HmacSha256Etm | MacAlg::HmacSha512Etm | MacAlg::HmacSha1Etm
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for alg in CipherAlg::ALL {
            assert_eq!(CipherAlg::from_name(alg.name()), Some(*alg));
        }
        for alg in MacAlg::ALL {
            assert_eq!(MacAlg::from_name(alg.name()), Some(*alg));
        }
        assert_eq!(CipherAlg::from_name("aes128-cbc"), None);
        assert_eq!(MacAlg::from_name("hmac-md5"), None);
        assert_eq!(
            CipherAlg::from_name("chacha20-poly1305@openssh.com"),
            Some(CipherAlg::ChaCha20Poly1305)
        );
    }

    #[test]
    fn rekey_volume_as_openssh() {
        // 2^32 blocks of 16 bytes; 1 GiB for 8-byte blocks.
        assert_eq!(CipherAlg::Aes128Ctr.rekey_blocks(), 1 << 32);
        assert_eq!(CipherAlg::Aes256Gcm.rekey_blocks(), 1 << 32);
        assert_eq!(CipherAlg::ChaCha20Poly1305.rekey_blocks() * 8, 1 << 30);
    }
}
