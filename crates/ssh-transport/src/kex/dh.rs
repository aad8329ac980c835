//! Finite-field Diffie-Hellman (RFC 4253 §8, RFC 8268, RFC 4419) in
//! constant time for the secret exponent (`crypto-bigint` Montgomery form).

use crypto_bigint::modular::{BoxedMontyForm, BoxedMontyParams};
use crypto_bigint::{BoxedUint, Odd};
use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::groups::{GROUP1_P, GROUP14_P, GROUP16_P, GROUP18_P};
use super::{HashAlg, KexError, SecretEncoding, SharedSecret};

/// The smallest modulus accepted at all (`diffie-hellman-group1-sha1`).
pub(crate) const DH_MIN_BITS: u32 = 1024;
/// The largest modulus accepted (RFC 4419 §3 recommends at most 8192).
pub(crate) const DH_MAX_BITS: u32 = 8192;

fn strip(be: &[u8]) -> &[u8] {
    let start = be.iter().position(|&b| b != 0).unwrap_or(be.len());
    be.get(start..).unwrap_or_default()
}

fn bit_len(mag: &[u8]) -> u32 {
    let mag = strip(mag);
    let top = mag.first().copied().unwrap_or(0);
    let whole = u32::try_from(mag.len().saturating_sub(1)).unwrap_or(u32::MAX / 16);
    whole
        .saturating_mul(8)
        .saturating_add(8 - top.leading_zeros())
}

/// A DH group: an odd modulus `p` of 1024..=8192 bits and a generator `g`
/// with `1 < g < p-1`.
#[derive(Clone)]
pub struct DhGroup {
    p: Vec<u8>,
    g: Vec<u8>,
    bits: u32,
    params: BoxedMontyParams,
}

impl core::fmt::Debug for DhGroup {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "DhGroup({} bits, g = {:02x?})", self.bits, self.g)
    }
}

impl PartialEq for DhGroup {
    fn eq(&self, other: &Self) -> bool {
        self.p == other.p && self.g == other.g
    }
}

impl Eq for DhGroup {}

impl DhGroup {
    /// Checks and builds a group from big-endian magnitudes. Primality is
    /// not tested (it is costly and the peer chose the group: RFC 4419 §6
    /// leaves the choice of group to the server).
    pub fn new(p: &[u8], g: &[u8]) -> Result<Self, KexError> {
        let (p, g) = (strip(p), strip(g));
        let bits = bit_len(p);
        if !(DH_MIN_BITS..=DH_MAX_BITS).contains(&bits) {
            return Err(KexError::InvalidGroup(
                "modulus size outside 1024..=8192 bits",
            ));
        }
        let precision = bits.div_ceil(64) * 64;
        let p_int = BoxedUint::from_be_slice(p, precision)
            .map_err(|_| KexError::InvalidGroup("modulus does not fit"))?;
        let odd = Odd::new(p_int.clone())
            .into_option()
            .ok_or(KexError::InvalidGroup("even modulus"))?;
        let g_int = BoxedUint::from_be_slice(g, precision)
            .map_err(|_| KexError::InvalidGroup("generator larger than the modulus"))?;
        let p_minus_1 = p_int.wrapping_sub(BoxedUint::one_with_precision(precision));
        if g_int <= BoxedUint::one_with_precision(precision) || g_int >= p_minus_1 {
            return Err(KexError::InvalidGroup("generator outside 1 < g < p-1"));
        }
        Ok(Self {
            p: p.to_vec(),
            g: g.to_vec(),
            bits,
            params: BoxedMontyParams::new_vartime(odd),
        })
    }

    #[allow(
        clippy::expect_used,
        reason = "constant groups, checked by the `fixed_groups_are_valid` test"
    )]
    fn fixed(p: &[u8]) -> Self {
        Self::new(p, &[2]).expect("fixed MODP groups are valid")
    }

    /// The 1024-bit Second Oakley Group (RFC 2409 §6.2), generator 2.
    pub fn group1() -> Self {
        Self::fixed(&GROUP1_P)
    }

    /// The 2048-bit MODP group 14 (RFC 3526 §3), generator 2.
    pub fn group14() -> Self {
        Self::fixed(&GROUP14_P)
    }

    /// The 4096-bit MODP group 16 (RFC 3526 §5), generator 2.
    pub fn group16() -> Self {
        Self::fixed(&GROUP16_P)
    }

    /// The 8192-bit MODP group 18 (RFC 3526 §7), generator 2.
    pub fn group18() -> Self {
        Self::fixed(&GROUP18_P)
    }

    /// The modulus, big-endian without leading zeros.
    pub fn p(&self) -> &[u8] {
        &self.p
    }

    /// The generator, big-endian without leading zeros.
    pub fn g(&self) -> &[u8] {
        &self.g
    }

    /// The size of the modulus in bits.
    pub fn bits(&self) -> u32 {
        self.bits
    }

    fn precision(&self) -> u32 {
        self.params.bits_precision()
    }

    #[cfg(not(fuzzing))]
    fn pow(&self, base: &BoxedUint, exp: &BoxedUint, exp_bits: u32) -> BoxedUint {
        BoxedMontyForm::new(base.clone(), &self.params)
            .pow_bounded_exp(exp, exp_bits)
            .retrieve()
    }

    /// Fuzzing: the base itself, as if the exponent were 1 (a modular
    /// exponentiation of up to 8,192 bits per execution would be most of
    /// a target's time; see `crate::fuzzing`).
    #[cfg(fuzzing)]
    fn pow(&self, base: &BoxedUint, _exp: &BoxedUint, _exp_bits: u32) -> BoxedUint {
        let _ = BoxedMontyForm::new;
        base.clone()
    }

    /// Reads a peer's public value (a canonical non-negative mpint body)
    /// and checks `1 < y < p-1` (RFC 4253 §8: "Values of 'e' or 'f' that
    /// are not in the range [1, p-1] MUST NOT be sent or accepted"; 1 and
    /// p-1 are excluded as well, as OpenSSH does, since they confine the
    /// secret to a subgroup of order at most 2).
    fn parse_public(&self, body: &[u8]) -> Result<BoxedUint, KexError> {
        match body {
            [] => return Err(KexError::InvalidPublicValue("DH value is zero")),
            [first, ..] if first & 0x80 != 0 => {
                return Err(KexError::InvalidPublicValue("DH value is negative"));
            }
            [0, second, ..] if second & 0x80 == 0 => {
                return Err(KexError::InvalidPublicValue(
                    "DH value is not a canonical mpint",
                ));
            }
            [0] => {
                return Err(KexError::InvalidPublicValue(
                    "DH value is not a canonical mpint",
                ));
            }
            _ => {}
        }
        let mag = strip(body);
        if mag.len() > self.p.len() {
            return Err(KexError::InvalidPublicValue(
                "DH value larger than the modulus",
            ));
        }
        let y = BoxedUint::from_be_slice(mag, self.precision())
            .map_err(|_| KexError::InvalidPublicValue("DH value larger than the modulus"))?;
        let one = BoxedUint::one_with_precision(self.precision());
        let p = BoxedUint::from_be_slice(&self.p, self.precision())
            .map_err(|_| KexError::InvalidGroup("modulus does not fit"))?;
        let p_minus_1 = p.wrapping_sub(&one);
        if y <= one || y >= p_minus_1 {
            return Err(KexError::InvalidPublicValue("DH value outside 1 < y < p-1"));
        }
        Ok(y)
    }
}

/// The canonical mpint body of a non-negative big-endian magnitude.
pub(crate) fn mpint_body(mag: &[u8]) -> Vec<u8> {
    ssh_wire::Mpint::from_positive_be(mag).as_bytes().to_vec()
}

/// The size of the secret exponent: twice the security level, taken as the
/// larger of 256 bits and the hash output, and below the modulus size
/// (OpenSSH's `dh_gen_key`: 512 bits for SHA-1/SHA-256 methods, 1024 for
/// SHA-512).
pub(crate) fn exponent_bits(hash: HashAlg, group_bits: u32) -> u32 {
    let hash_bits = u32::try_from(hash.output_len() * 8).unwrap_or(512);
    (2 * hash_bits.max(256)).min(group_bits - 1)
}

/// One side's ephemeral DH key pair.
pub(crate) struct DhKeyPair {
    group: DhGroup,
    x: Zeroizing<BoxedUint>,
    /// The size of `x` in bits: public, and the bound of the (otherwise
    /// constant-time) exponentiation.
    x_bits: u32,
    public: Vec<u8>,
}

impl DhKeyPair {
    /// A random exponent `x` of exactly [`exponent_bits`] bits (top bit
    /// set) and `e = g^x mod p` as an mpint body.
    pub(crate) fn generate<R: CryptoRng + ?Sized>(
        group: DhGroup,
        hash: HashAlg,
        rng: &mut R,
    ) -> Result<Self, KexError> {
        let bits = exponent_bits(hash, group.bits());
        let len = usize::try_from(bits.div_ceil(8)).unwrap_or(128);
        let mut bytes = Zeroizing::new(vec![0u8; len]);
        rng.fill_bytes(&mut bytes);
        let extra = u32::try_from(len * 8).unwrap_or(bits) - bits;
        if let Some(first) = bytes.first_mut() {
            *first &= 0xff >> extra;
            *first |= 0x80 >> extra;
        }
        Self::from_exponent(group, &bytes, bits)
    }

    /// The key pair with exponent `x` (big-endian) of at most `bits` bits.
    pub(crate) fn from_exponent(group: DhGroup, x: &[u8], bits: u32) -> Result<Self, KexError> {
        if bit_len(x) > bits || bits >= group.bits() {
            return Err(KexError::Misuse("DH exponent larger than its bound"));
        }
        let x = Zeroizing::new(
            BoxedUint::from_be_slice(x, group.precision())
                .map_err(|_| KexError::Misuse("DH exponent larger than the modulus"))?,
        );
        let g = BoxedUint::from_be_slice(&group.g, group.precision())
            .map_err(|_| KexError::InvalidGroup("generator does not fit"))?;
        let e = group.pow(&g, &x, bits);
        let public = mpint_body(&e.to_be_bytes());
        Ok(Self {
            group,
            x,
            x_bits: bits,
            public,
        })
    }

    pub(crate) fn group(&self) -> &DhGroup {
        &self.group
    }

    /// The public value as an mpint body.
    pub(crate) fn public(&self) -> &[u8] {
        &self.public
    }

    /// `K = y^x mod p` with the peer's value `y`, validated first.
    pub(crate) fn agree(&self, peer: &[u8]) -> Result<SharedSecret, KexError> {
        let y = self.group.parse_public(peer)?;
        let k = Zeroizing::new(self.group.pow(&y, &self.x, self.x_bits));
        let bytes = Zeroizing::new(k.to_be_bytes());
        Ok(SharedSecret::new(SecretEncoding::Mpint, strip(&bytes)))
    }
}
