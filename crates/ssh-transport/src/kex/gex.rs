//! Diffie-Hellman group exchange (RFC 4419): the client's request, the
//! server's choice of group from an OpenSSH moduli file, and the client's
//! check of the group it receives.

use rand_core::CryptoRng;

use super::KexError;
use super::dh::{DH_MAX_BITS, DhGroup};

/// The smallest group a server hands out, in bits (OpenSSH's
/// `DH_GRP_MIN`).
pub const GEX_MIN_BITS: u32 = 2048;
/// The largest group a server hands out, in bits (`DH_GRP_MAX`).
pub const GEX_MAX_BITS: u32 = DH_MAX_BITS;

/// A KEX_DH_GEX_REQUEST: the group sizes the client accepts (`min`,
/// `max`) and prefers (`n`), in bits. All three go into the exchange hash
/// as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GexRequest {
    /// The smallest acceptable modulus.
    pub min: u32,
    /// The preferred modulus size.
    pub n: u32,
    /// The largest acceptable modulus.
    pub max: u32,
}

impl GexRequest {
    /// What OpenSSH's client asks for: 2048 / 3072 / 8192 bits (`n` is
    /// OpenSSH's choice for 128-bit ciphers).
    pub const DEFAULT: Self = Self {
        min: 2048,
        n: 3072,
        max: 8192,
    };

    /// Client side: checks the group the server sent (`p`, `g` as big-endian
    /// magnitudes) against this request and builds it.
    pub fn check_group(&self, p: &[u8], g: &[u8]) -> Result<DhGroup, KexError> {
        let group = DhGroup::new(p, g)?;
        if group.bits() < self.min || group.bits() > self.max {
            return Err(KexError::GroupOutOfRange {
                bits: group.bits(),
                min: self.min,
                max: self.max,
            });
        }
        Ok(group)
    }
}

/// One usable group of a moduli file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuliGroup {
    /// The modulus size in bits.
    pub bits: u32,
    /// The generator, big-endian.
    pub g: Vec<u8>,
    /// The modulus (a safe prime), big-endian.
    pub p: Vec<u8>,
}

/// The groups of an OpenSSH `moduli` file (moduli(5)), parsed from text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Moduli {
    groups: Vec<ModuliGroup>,
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn parse_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    if s.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(s.len().div_ceil(2));
    // An odd number of digits has an implicit leading zero.
    let (head, rest) = s.split_at(s.len() % 2);
    if let [c] = head {
        out.push(hex_value(*c)?);
    }
    for pair in rest.chunks_exact(2) {
        if let [hi, lo] = pair {
            out.push(hex_value(*hi)? << 4 | hex_value(*lo)?);
        }
    }
    Some(out)
}

/// `moduli(5)` type 2: a safe prime.
const MODULI_TYPE_SAFE: u32 = 2;
/// `moduli(5)` tests bit 0x01: the number is composite.
const MODULI_TESTS_COMPOSITE: u32 = 0x01;

fn parse_line(line: &str) -> Result<Option<ModuliGroup>, &'static str> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let fields: Vec<&str> = line.split_ascii_whitespace().collect();
    let [_time, kind, tests, tries, size, generator, modulus] = fields.as_slice() else {
        return Err("expected 7 fields");
    };
    let number = |s: &str| s.parse::<u32>().map_err(|_| "not a number");
    if number(kind)? != MODULI_TYPE_SAFE {
        return Err("not a safe prime (type 2)");
    }
    let tests = number(tests)?;
    if tests & MODULI_TESTS_COMPOSITE != 0 || tests & !MODULI_TESTS_COMPOSITE == 0 {
        return Err("invalid tests flag");
    }
    if number(tries)? == 0 {
        return Err("no primality trials");
    }
    // The size field is one less than the modulus size.
    let bits = number(size)?.checked_add(1).ok_or("size too large")?;
    let g = parse_hex(generator).ok_or("generator is not hex")?;
    let p = parse_hex(modulus).ok_or("modulus is not hex")?;
    let group = DhGroup::new(&p, &g).map_err(|_| "unusable group")?;
    if group.bits() != bits {
        return Err("modulus size differs from the size field");
    }
    Ok(Some(ModuliGroup {
        bits,
        g: group.g().to_vec(),
        p: group.p().to_vec(),
    }))
}

impl Moduli {
    /// Parses a moduli file strictly: every line that is not blank or a
    /// comment must be a valid safe-prime group of 1024..=8192 bits.
    pub fn parse(text: &str) -> Result<Self, KexError> {
        let mut groups = Vec::new();
        for (i, line) in text.lines().enumerate() {
            match parse_line(line) {
                Ok(Some(g)) => groups.push(g),
                Ok(None) => {}
                Err(why) => return Err(KexError::InvalidModuli { line: i + 1, why }),
            }
        }
        Ok(Self { groups })
    }

    /// Parses a moduli file as sshd does: bad lines are skipped and
    /// reported, the rest is used.
    pub fn parse_lenient(text: &str) -> (Self, Vec<KexError>) {
        let mut groups = Vec::new();
        let mut errors = Vec::new();
        for (i, line) in text.lines().enumerate() {
            match parse_line(line) {
                Ok(Some(g)) => groups.push(g),
                Ok(None) => {}
                Err(why) => errors.push(KexError::InvalidModuli { line: i + 1, why }),
            }
        }
        (Self { groups }, errors)
    }

    /// The usable groups, in file order.
    pub fn groups(&self) -> &[ModuliGroup] {
        &self.groups
    }
}

/// Server side: answers a KEX_DH_GEX_REQUEST with a group.
///
/// The request is rejected unless `min <= n <= max` and `max >= 2048`.
/// The bounds are then clamped to 2048..=8192, and among the groups of
/// `moduli` within them the size closest to `n` is chosen (the smallest
/// size at least `n`, else the largest below), one group of that size at
/// random. Without a suitable group, the largest RFC 3526 group not above
/// `max` is used (14, 16 or 18): OpenSSH's fallback, except that it never
/// exceeds the client's `max`.
pub fn choose_group<R: CryptoRng + ?Sized>(
    request: &GexRequest,
    moduli: Option<&Moduli>,
    rng: &mut R,
) -> Result<DhGroup, KexError> {
    let GexRequest { min, n, max } = *request;
    if max < min || n < min || max < n {
        return Err(KexError::InvalidRequest("min <= n <= max violated"));
    }
    if max < GEX_MIN_BITS {
        return Err(KexError::InvalidRequest("max below 2048 bits"));
    }
    let min = min.max(GEX_MIN_BITS);
    let max = max.min(GEX_MAX_BITS);
    let want = n.clamp(GEX_MIN_BITS, GEX_MAX_BITS);

    let candidates: Vec<&ModuliGroup> = moduli
        .map(|m| {
            m.groups
                .iter()
                .filter(|g| (min..=max).contains(&g.bits))
                .collect()
        })
        .unwrap_or_default();
    let best = candidates
        .iter()
        .map(|g| g.bits)
        .filter(|&b| b >= want)
        .min()
        .or_else(|| candidates.iter().map(|g| g.bits).max());
    if let Some(best) = best {
        let same: Vec<&&ModuliGroup> = candidates.iter().filter(|g| g.bits == best).collect();
        let count = u64::try_from(same.len()).unwrap_or(1).max(1);
        let pick = usize::try_from(rng.next_u64() % count).unwrap_or(0);
        if let Some(g) = same.get(pick) {
            return DhGroup::new(&g.p, &g.g);
        }
    }
    let fallback = if max < 4096 {
        DhGroup::group14()
    } else if max < 8192 {
        DhGroup::group16()
    } else {
        DhGroup::group18()
    };
    if fallback.bits() < min {
        return Err(KexError::InvalidRequest(
            "no group within the requested sizes",
        ));
    }
    Ok(fallback)
}
