//! The macro that turns a struct's `body_len` / `encode_body` /
//! `decode_body` into [`Message`](super::Message), [`Encode`](crate::Encode)
//! and [`Decode`](crate::Decode) over the whole payload.

/// `impl_message!(Type, NUMBER, "NAME")`, or `impl_message!(Type<'a>, ...)`
/// for a type that borrows from the payload.
macro_rules! impl_message {
    ($ty:ident, $num:expr, $name:literal) => {
        impl $crate::messages::Message for $ty {
            const NUMBER: u8 = $num;
            const NAME: &'static str = $name;
        }

        impl $crate::codec::Encode for $ty {
            fn encoded_len(&self) -> usize {
                1 + self.body_len()
            }
            fn encode(&self, out: &mut Vec<u8>) {
                out.push($num);
                self.encode_body(out);
            }
        }

        impl $crate::codec::Decode<'_> for $ty {
            fn decode(
                r: &mut $crate::codec::Reader<'_>,
            ) -> Result<Self, $crate::error::DecodeError> {
                $crate::messages::expect_number(r, $num, $name)?;
                Self::decode_body(r)
            }
        }
    };
    ($ty:ident<'a>, $num:expr, $name:literal) => {
        impl $crate::messages::Message for $ty<'_> {
            const NUMBER: u8 = $num;
            const NAME: &'static str = $name;
        }

        impl $crate::codec::Encode for $ty<'_> {
            fn encoded_len(&self) -> usize {
                1 + self.body_len()
            }
            fn encode(&self, out: &mut Vec<u8>) {
                out.push($num);
                self.encode_body(out);
            }
        }

        impl<'a> $crate::codec::Decode<'a> for $ty<'a> {
            fn decode(
                r: &mut $crate::codec::Reader<'a>,
            ) -> Result<Self, $crate::error::DecodeError> {
                $crate::messages::expect_number(r, $num, $name)?;
                Self::decode_body(r)
            }
        }
    };
}

/// A message with no fields after its number: a unit struct.
macro_rules! unit_message {
    ($(#[$doc:meta])* $ty:ident, $num:expr, $name:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "arbitrary", derive(proptest_derive::Arbitrary))]
        pub struct $ty;

        impl $ty {
            const fn body_len(&self) -> usize {
                0
            }
            fn encode_body(&self, _out: &mut Vec<u8>) {}
            fn decode_body(
                _r: &mut $crate::codec::Reader<'_>,
            ) -> Result<Self, $crate::error::DecodeError> {
                Ok(Self)
            }
        }

        $crate::messages::macros::impl_message!($ty, $num, $name);
    };
}

/// Generates the body of a layer enum's `Encode` impl: every variant holds
/// one value that is itself `Encode`.
macro_rules! delegate_encode {
    ($ty:ty, $($variant:ident),* $(,)?) => {
        impl $crate::codec::Encode for $ty {
            fn encoded_len(&self) -> usize {
                match self {
                    $( Self::$variant(m) => $crate::codec::Encode::encoded_len(m), )*
                }
            }
            fn encode(&self, out: &mut Vec<u8>) {
                match self {
                    $( Self::$variant(m) => $crate::codec::Encode::encode(m, out), )*
                }
            }
        }
    };
}

pub(crate) use delegate_encode;
pub(crate) use impl_message;
pub(crate) use unit_message;
