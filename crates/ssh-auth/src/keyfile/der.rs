//! A minimal DER reader for the three PEM private key structures:
//! PKCS#1 `RSAPrivateKey` (RFC 8017 A.1.2), SEC1 `ECPrivateKey`
//! (RFC 5915 §3) and PKCS#8 `PrivateKeyInfo` (RFC 5208 §5, RFC 8410 §7).
//! Only definite lengths, as DER requires; every length is checked
//! against the bytes present.

use ssh_keys::EcdsaCurve;
use zeroize::Zeroizing;

use super::{KeyFileError, Material, left_pad, strip_zeros};

const TAG_INTEGER: u8 = 0x02;
const TAG_BIT_STRING: u8 = 0x03;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30;
const TAG_CONTEXT_0: u8 = 0xa0;
const TAG_CONTEXT_1: u8 = 0xa1;

const OID_RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_P521: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];
const OID_ED25519: &[u8] = &[0x2b, 0x65, 0x70];

const BAD: KeyFileError = KeyFileError::Corrupt("malformed DER");

struct Der<'a> {
    buf: &'a [u8],
}

impl<'a> Der<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn peek_tag(&self) -> Option<u8> {
        self.buf.first().copied()
    }

    /// Reads one tag-length-value and returns the tag and the value.
    fn any(&mut self) -> Result<(u8, &'a [u8]), KeyFileError> {
        let (&tag, rest) = self.buf.split_first().ok_or(BAD)?;
        let (&first, mut rest) = rest.split_first().ok_or(BAD)?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 3 {
                return Err(BAD);
            }
            let (bytes, tail) = rest.split_at_checked(n).ok_or(BAD)?;
            rest = tail;
            bytes
                .iter()
                .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
        };
        let (value, tail) = rest.split_at_checked(len).ok_or(BAD)?;
        self.buf = tail;
        Ok((tag, value))
    }

    fn expect(&mut self, tag: u8) -> Result<&'a [u8], KeyFileError> {
        let (t, v) = self.any()?;
        if t != tag {
            return Err(BAD);
        }
        Ok(v)
    }

    /// A non-negative INTEGER as a big-endian magnitude without leading
    /// zeros.
    fn uint(&mut self) -> Result<&'a [u8], KeyFileError> {
        let v = self.expect(TAG_INTEGER)?;
        if v.first().is_some_and(|&b| b & 0x80 != 0) {
            return Err(KeyFileError::Corrupt("negative DER integer"));
        }
        Ok(strip_zeros(v))
    }

    fn small_uint(&mut self) -> Result<u32, KeyFileError> {
        let v = self.uint()?;
        if v.len() > 4 {
            return Err(BAD);
        }
        Ok(v.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b)))
    }

    fn finish(&self) -> Result<(), KeyFileError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(KeyFileError::Corrupt("trailing bytes after DER structure"))
        }
    }
}

fn curve_from_oid(oid: &[u8]) -> Result<EcdsaCurve, KeyFileError> {
    match oid {
        OID_P256 => Ok(EcdsaCurve::NistP256),
        OID_P384 => Ok(EcdsaCurve::NistP384),
        OID_P521 => Ok(EcdsaCurve::NistP521),
        _ => Err(KeyFileError::UnsupportedKeyType(
            "EC curve other than P-256/384/521".into(),
        )),
    }
}

/// PKCS#1 `RSAPrivateKey`: version, n, e, d, p, q, dp, dq, qinv.
pub(super) fn pkcs1(data: &[u8]) -> Result<Material, KeyFileError> {
    let mut outer = Der::new(data);
    let mut seq = Der::new(outer.expect(TAG_SEQUENCE)?);
    outer.finish()?;
    if seq.small_uint()? != 0 {
        return Err(KeyFileError::UnsupportedFormat("multi-prime RSA key"));
    }
    let n = seq.uint()?.to_vec();
    let e = seq.uint()?.to_vec();
    let d = Zeroizing::new(seq.uint()?.to_vec());
    let p = Zeroizing::new(seq.uint()?.to_vec());
    let q = Zeroizing::new(seq.uint()?.to_vec());
    let _dp = seq.uint()?;
    let _dq = seq.uint()?;
    let iqmp = Zeroizing::new(seq.uint()?.to_vec());
    seq.finish()?;
    Ok(Material::Rsa {
        n,
        e,
        d,
        iqmp,
        p,
        q,
    })
}

/// SEC1 `ECPrivateKey`; the curve comes from its parameters or, inside
/// PKCS#8, from the algorithm identifier (`outer_curve`).
pub(super) fn sec1(data: &[u8], outer_curve: Option<EcdsaCurve>) -> Result<Material, KeyFileError> {
    let mut outer = Der::new(data);
    let mut seq = Der::new(outer.expect(TAG_SEQUENCE)?);
    outer.finish()?;
    if seq.small_uint()? != 1 {
        return Err(KeyFileError::Corrupt("ECPrivateKey version is not 1"));
    }
    let d = seq.expect(TAG_OCTET_STRING)?;
    let mut curve = outer_curve;
    let mut point = None;
    if seq.peek_tag() == Some(TAG_CONTEXT_0) {
        let mut params = Der::new(seq.expect(TAG_CONTEXT_0)?);
        let inner = curve_from_oid(params.expect(TAG_OID)?)?;
        params.finish()?;
        if curve.is_some_and(|c| c != inner) {
            return Err(KeyFileError::Corrupt("EC curve parameters disagree"));
        }
        curve = Some(inner);
    }
    if seq.peek_tag() == Some(TAG_CONTEXT_1) {
        let mut pk = Der::new(seq.expect(TAG_CONTEXT_1)?);
        let bits = pk.expect(TAG_BIT_STRING)?;
        pk.finish()?;
        match bits.split_first() {
            Some((0, q)) => point = Some(q.to_vec()),
            _ => return Err(BAD),
        }
    }
    seq.finish()?;
    let curve = curve.ok_or(KeyFileError::Corrupt("EC private key without a curve"))?;
    let d = left_pad(d, curve.field_len())?;
    let q = match point {
        Some(q) => q,
        None => {
            let key = ssh_keys::PrivateKey::from_ecdsa_scalar(curve, &d)?;
            super::ecdsa_point(key.public())?
        }
    };
    Ok(Material::Ecdsa { curve, d, q })
}

/// PKCS#8 `PrivateKeyInfo` (v1 or v2) holding an RSA, EC or Ed25519 key.
pub(super) fn pkcs8(data: &[u8]) -> Result<Material, KeyFileError> {
    let mut outer = Der::new(data);
    let mut seq = Der::new(outer.expect(TAG_SEQUENCE)?);
    outer.finish()?;
    if seq.small_uint()? > 1 {
        return Err(KeyFileError::Corrupt("unknown PKCS#8 version"));
    }
    let mut alg = Der::new(seq.expect(TAG_SEQUENCE)?);
    let oid = alg.expect(TAG_OID)?;
    let private = seq.expect(TAG_OCTET_STRING)?;
    // Optional attributes [0] and public key [1] are ignored.
    while !seq.is_empty() {
        seq.any()?;
    }
    match oid {
        OID_RSA_ENCRYPTION => pkcs1(private),
        OID_EC_PUBLIC_KEY => {
            let curve = curve_from_oid(alg.expect(TAG_OID)?)?;
            alg.finish()?;
            sec1(private, Some(curve))
        }
        OID_ED25519 => {
            alg.finish()?;
            let mut inner = Der::new(private);
            let seed = inner.expect(TAG_OCTET_STRING)?;
            inner.finish()?;
            let seed: [u8; 32] = seed
                .try_into()
                .map_err(|_| KeyFileError::Corrupt("Ed25519 seed is not 32 bytes"))?;
            let seed = Zeroizing::new(seed);
            let public = super::ed25519_public(&seed);
            Ok(Material::Ed25519 { seed, public })
        }
        _ => Err(KeyFileError::UnsupportedKeyType("PKCS#8 algorithm".into())),
    }
}
