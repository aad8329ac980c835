//! `name-list` (RFC 4251 §5): a comma-separated list of non-empty US-ASCII
//! names, encoded as one `string`.

use core::fmt;
use std::sync::Arc;

use crate::codec::{Decode, Encode, Reader, put_u32};
use crate::error::DecodeError;

/// The longest name-list accepted from a peer, in bytes. OpenSSH's longest
/// default lists are under 2 KiB.
pub const MAX_NAME_LIST_LEN: usize = 64 * 1024;
/// The most names accepted in one list.
pub const MAX_NAMES: usize = 1024;
/// The longest single name accepted. RFC 4251 §6 says names "MUST NOT be
/// longer than 64 characters"; some peers send longer ones, so the bound is
/// looser, but still a bound.
pub const MAX_NAME_LEN: usize = 256;

/// A parsed name-list. The names are kept in order: for algorithm
/// negotiation the order is the preference. Shared when cloned (a list
/// never changes once made): a server's configured lists cost each of its
/// connections nothing.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct NameList(Arc<[String]>);

impl NameList {
    /// The empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// A list of names, each checked.
    pub fn from_names<I, S>(names: I) -> Result<Self, DecodeError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut out = Vec::new();
        for name in names {
            let name = name.into();
            check_name(&name)?;
            if out.len() == MAX_NAMES {
                return Err(DecodeError::TooLong {
                    what: "name-list",
                    len: MAX_NAMES + 1,
                    max: MAX_NAMES,
                });
            }
            out.push(name);
        }
        Ok(Self(out.into()))
    }

    /// Parses the comma-separated text of a list (`"a,b,c"`; `""` is empty).
    pub fn parse(text: &str) -> Result<Self, DecodeError> {
        if text.len() > MAX_NAME_LIST_LEN {
            return Err(DecodeError::TooLong {
                what: "name-list",
                len: text.len(),
                max: MAX_NAME_LIST_LEN,
            });
        }
        if text.is_empty() {
            return Ok(Self::new());
        }
        Self::from_names(text.split(','))
    }

    /// Parses the text of a name-list sent by a peer, as OpenSSH reads
    /// one. RFC 4251 §5 says "A name MUST have a non-zero length", but
    /// libssh 0.10.6 sends cipher lists ending with a comma
    /// (`...,aes128-ctr,`) and OpenSSH accepts them: its `match_list`
    /// (`match.c`) takes names with `strsep` and stops at the first empty
    /// one. So here too an empty name ends the list: `"a,b,"` is `a,b`,
    /// `"a,,b"` is `a` (as OpenSSH, `b` is never matched), and a list of
    /// only commas has no names, so negotiating over it fails as OpenSSH's
    /// "no matching ..." does.
    ///
    /// Every bound of [`NameList::parse`] still holds over the whole text,
    /// the part after an empty name included: at most
    /// [`MAX_NAME_LIST_LEN`] bytes, at most [`MAX_NAMES`] entries (empty
    /// ones counted), each name at most [`MAX_NAME_LEN`] bytes of printable
    /// US-ASCII. Only what is read from peers goes through here; what we
    /// build and send stays strict ([`NameList::parse`],
    /// [`NameList::from_names`]).
    pub fn parse_lenient(text: &str) -> Result<Self, DecodeError> {
        if text.len() > MAX_NAME_LIST_LEN {
            return Err(DecodeError::TooLong {
                what: "name-list",
                len: text.len(),
                max: MAX_NAME_LIST_LEN,
            });
        }
        if text.is_empty() {
            return Ok(Self::new());
        }
        let mut out = Vec::new();
        let mut ended = false;
        for (i, name) in text.split(',').enumerate() {
            if i == MAX_NAMES {
                return Err(DecodeError::TooLong {
                    what: "name-list",
                    len: MAX_NAMES + 1,
                    max: MAX_NAMES,
                });
            }
            if name.is_empty() {
                // As OpenSSH's match_list: nothing from here on matches.
                ended = true;
                continue;
            }
            check_name(name)?;
            if !ended {
                out.push(name.to_owned());
            }
        }
        Ok(Self(out.into()))
    }

    /// Decodes a name-list `string` sent by a peer, with the rules of
    /// [`NameList::parse_lenient`]. Use it for the lists OpenSSH reads with
    /// `match_list`: the ten of KEXINIT, the methods of USERAUTH_FAILURE;
    /// the strict [`Decode`] impl is RFC 4251's.
    pub fn decode_lenient(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let raw = r.string_max(MAX_NAME_LIST_LEN, "name-list")?;
        let text = core::str::from_utf8(raw)
            .map_err(|_| DecodeError::invalid("name-list", "not ASCII"))?;
        Self::parse_lenient(text)
    }

    /// The names, in order.
    pub fn names(&self) -> &[String] {
        &self.0
    }

    /// Iterates over the names as `&str`.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// True if `name` is in the list.
    pub fn contains(&self, name: &str) -> bool {
        self.iter().any(|n| n == name)
    }

    /// True if the list has no names.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The number of names.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The first name of `self` (the client's list) that is also in
    /// `server`: the negotiation rule of RFC 4253 §7.1.
    pub fn first_match<'s>(&'s self, server: &NameList) -> Option<&'s str> {
        self.iter().find(|c| server.contains(c))
    }

    fn text_len(&self) -> usize {
        let commas = self.0.len().saturating_sub(1);
        self.0.iter().map(String::len).sum::<usize>() + commas
    }
}

fn check_name(name: &str) -> Result<(), DecodeError> {
    if name.is_empty() {
        return Err(DecodeError::invalid("name-list", "empty name"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(DecodeError::TooLong {
            what: "name in name-list",
            len: name.len(),
            max: MAX_NAME_LEN,
        });
    }
    // RFC 4251 §6: printable US-ASCII, no comma, no whitespace, no control
    // characters.
    if !name.bytes().all(|b| b.is_ascii_graphic() && b != b',') {
        return Err(DecodeError::invalid(
            "name-list",
            "name is not printable US-ASCII without commas",
        ));
    }
    Ok(())
}

impl fmt::Debug for NameList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NameList(\"{self}\")")
    }
}

impl fmt::Display for NameList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, name) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(name)?;
        }
        Ok(())
    }
}

impl Encode for NameList {
    fn encoded_len(&self) -> usize {
        4 + self.text_len()
    }

    fn encode(&self, out: &mut Vec<u8>) {
        put_u32(out, u32::try_from(self.text_len()).unwrap_or(u32::MAX));
        for (i, name) in self.0.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(name.as_bytes());
        }
    }
}

impl Decode<'_> for NameList {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let raw = r.string_max(MAX_NAME_LIST_LEN, "name-list")?;
        let text = core::str::from_utf8(raw)
            .map_err(|_| DecodeError::invalid("name-list", "not ASCII"))?;
        Self::parse(text)
    }
}

impl<'a> FromIterator<&'a str> for NameList {
    /// Collects known-good names (constants of this project). Names that are
    /// not valid are skipped, so the result is always a valid list.
    fn from_iter<T: IntoIterator<Item = &'a str>>(iter: T) -> Self {
        Self(
            iter.into_iter()
                .filter(|n| check_name(n).is_ok())
                .take(MAX_NAMES)
                .map(str::to_owned)
                .collect::<Vec<_>>()
                .into(),
        )
    }
}

#[cfg(feature = "arbitrary")]
impl proptest::arbitrary::Arbitrary for NameList {
    type Parameters = ();
    type Strategy = proptest::strategy::BoxedStrategy<Self>;

    fn arbitrary_with((): ()) -> Self::Strategy {
        use proptest::prelude::*;
        proptest::collection::vec("[a-z0-9@.+-]{1,20}", 0..6)
            .prop_map(|v| Self(v.into()))
            .boxed()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn rfc4251_examples() {
        // RFC 4251 §5 name-list examples.
        let cases: [(&str, &[u8]); 3] = [
            ("", b"\x00\x00\x00\x00"),
            ("zlib", b"\x00\x00\x00\x04zlib"),
            ("zlib,none", b"\x00\x00\x00\x09zlib,none"),
        ];
        for (text, wire) in cases {
            let list = NameList::parse(text).unwrap();
            assert_eq!(list.to_bytes(), wire, "{text}");
            assert_eq!(NameList::decode_exact(wire).unwrap(), list);
            assert_eq!(list.to_string(), text);
        }
    }

    #[test]
    fn empty_names_and_bad_characters_are_rejected() {
        for bad in [",", "a,,b", "a,", ",a", "a b", "\u{e9}", "a\n"] {
            assert!(NameList::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn lenient_lists_end_at_the_first_empty_name() {
        let cases: [(&str, &[&str]); 8] = [
            ("", &[]),
            ("a", &["a"]),
            ("a,b", &["a", "b"]),
            ("a,b,", &["a", "b"]),
            ("a,,b", &["a"]),
            (",a", &[]),
            (",", &[]),
            (",,,", &[]),
        ];
        for (text, names) in cases {
            let list = NameList::parse_lenient(text).unwrap();
            assert_eq!(list.names(), names, "{text:?}");
            let mut wire = Vec::new();
            put_u32(&mut wire, text.len() as u32);
            wire.extend_from_slice(text.as_bytes());
            let mut r = Reader::new(&wire);
            assert_eq!(NameList::decode_lenient(&mut r).unwrap(), list);
            // What comes out again is strict.
            assert_eq!(NameList::parse(&list.to_string()).unwrap(), list);
        }
    }

    #[test]
    fn lenient_lists_keep_every_bound() {
        for bad in ["a b", "a,,b c", "a,\u{e9}", "a\n,", ",\t"] {
            assert!(NameList::parse_lenient(bad).is_err(), "{bad:?}");
        }
        let long = format!(",{}", "a".repeat(MAX_NAME_LEN + 1));
        assert!(NameList::parse_lenient(&long).is_err());
        let commas = ",".repeat(MAX_NAMES);
        assert!(NameList::parse_lenient(&commas).is_err(), "entries counted");
        assert!(NameList::parse_lenient(&",".repeat(MAX_NAMES - 1)).is_ok());
        let huge = "a".repeat(MAX_NAME_LIST_LEN + 1);
        assert!(NameList::parse_lenient(&huge).is_err());
        let mut wire = Vec::new();
        put_u32(&mut wire, (MAX_NAME_LIST_LEN + 1) as u32);
        wire.resize(4 + MAX_NAME_LIST_LEN + 1, b',');
        assert!(matches!(
            NameList::decode_lenient(&mut Reader::new(&wire)),
            Err(DecodeError::TooLong { .. })
        ));
    }

    #[test]
    fn long_lists_are_bounded() {
        let mut wire = Vec::new();
        put_u32(&mut wire, (MAX_NAME_LIST_LEN + 1) as u32);
        wire.resize(4 + MAX_NAME_LIST_LEN + 1, b'a');
        assert!(matches!(
            NameList::decode_exact(&wire),
            Err(DecodeError::TooLong { .. })
        ));
        let many = vec!["a"; MAX_NAMES + 1].join(",");
        assert!(NameList::parse(&many).is_err());
    }

    #[test]
    fn first_match_follows_the_client() {
        let client = NameList::parse("a,b,c").unwrap();
        let server = NameList::parse("c,b").unwrap();
        assert_eq!(client.first_match(&server), Some("b"));
        assert_eq!(client.first_match(&NameList::new()), None);
    }
}
