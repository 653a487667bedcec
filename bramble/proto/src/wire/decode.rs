use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use super::tag;
use super::value::Value;

/// Bounds a decoder enforces (`spec/encoding.md#limits`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The deepest nesting of lists and dictionaries accepted; a top-level list has
    /// depth 1. Values above [`Limits::HARD_MAX_DEPTH`] are treated as that.
    pub max_depth: usize,
    /// The longest string or byte string accepted, in bytes.
    pub max_len: usize,
}

impl Limits {
    /// Depth 8, strings and byte strings up to 64 KiB.
    pub const DEFAULT: Limits = Limits {
        max_depth: 8,
        max_len: 65_536,
    };

    /// No decoder or encoder goes deeper than this, whatever it is asked, so that
    /// recursion stays far from the stack limit.
    pub const HARD_MAX_DEPTH: usize = 64;
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// What was wrong with an encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input ended inside a value.
    UnexpectedEnd,
    /// A byte that is not a type byte where a value should start.
    UnknownType,
    /// An end marker where a value should start, or at the top level.
    UnexpectedEndMarker,
    /// An integer not in its shortest form.
    NonCanonicalInteger,
    /// A length not in its shortest form.
    NonCanonicalLength,
    /// A string that is not valid UTF-8.
    InvalidUtf8,
    /// A string or byte string longer than [`Limits::max_len`].
    TooLong,
    /// Lists and dictionaries nested deeper than [`Limits::max_depth`].
    TooDeep,
    /// A dictionary key that is not a string.
    NonStringKey,
    /// A dictionary key not strictly greater than the previous one (out of order or
    /// repeated).
    UnorderedKey,
    /// Bytes after the end of the top-level value.
    TrailingBytes,
}

/// A rejected encoding: what was wrong and the offset of the offending byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid encoding at byte {offset}: {kind:?}")]
pub struct DecodeError {
    /// What was wrong.
    pub kind: DecodeErrorKind,
    /// Offset into the input where the offending value or byte starts.
    pub offset: usize,
}

/// Decodes exactly one value that fills all of `input`.
///
/// # Errors
/// [`DecodeError`] for anything but the canonical encoding of one value within `limits`.
pub fn decode(input: &[u8], limits: &Limits) -> Result<Value, DecodeError> {
    let mut d = Decoder {
        input,
        pos: 0,
        max_depth: limits.max_depth.min(Limits::HARD_MAX_DEPTH),
        max_len: limits.max_len,
    };
    let value = d.value(0)?;
    if d.pos != input.len() {
        return Err(d.error_at(d.pos, DecodeErrorKind::TrailingBytes));
    }
    Ok(value)
}

struct Decoder<'a> {
    input: &'a [u8],
    pos: usize,
    max_depth: usize,
    max_len: usize,
}

impl<'a> Decoder<'a> {
    fn error_at(&self, offset: usize, kind: DecodeErrorKind) -> DecodeError {
        DecodeError { kind, offset }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.input.len())
            .ok_or(DecodeError {
                kind: DecodeErrorKind::UnexpectedEnd,
                offset: self.input.len(),
            })?;
        let bytes = self.input.get(self.pos..end).ok_or(DecodeError {
            kind: DecodeErrorKind::UnexpectedEnd,
            offset: self.input.len(),
        })?;
        self.pos = end;
        Ok(bytes)
    }

    fn take_array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn peek(&self) -> Result<u8, DecodeError> {
        self.input
            .get(self.pos)
            .copied()
            .ok_or(self.error_at(self.input.len(), DecodeErrorKind::UnexpectedEnd))
    }

    fn value(&mut self, depth: usize) -> Result<Value, DecodeError> {
        let start = self.pos;
        let [t] = self.take_array::<1>()?;
        let non_canonical = |d: &Self| Err(d.error_at(start, DecodeErrorKind::NonCanonicalInteger));
        Ok(match t {
            tag::NULL => Value::Null,
            tag::FALSE => Value::Bool(false),
            tag::TRUE => Value::Bool(true),
            tag::INT8 => Value::Int(i8::from_be_bytes(self.take_array()?).into()),
            tag::INT16 => {
                let v = i16::from_be_bytes(self.take_array()?);
                if i8::try_from(v).is_ok() {
                    return non_canonical(self);
                }
                Value::Int(v.into())
            }
            tag::INT32 => {
                let v = i32::from_be_bytes(self.take_array()?);
                if i16::try_from(v).is_ok() {
                    return non_canonical(self);
                }
                Value::Int(v.into())
            }
            tag::INT64 => {
                let v = i64::from_be_bytes(self.take_array()?);
                if i32::try_from(v).is_ok() {
                    return non_canonical(self);
                }
                Value::Int(v)
            }
            tag::STR8 | tag::STR16 | tag::STR32 => Value::Str(self.string(start, t)?),
            tag::RAW8 | tag::RAW16 | tag::RAW32 => Value::Raw(self.bytes(start, t)?.to_vec()),
            tag::LIST => {
                let depth = self.enter(start, depth)?;
                let mut items = Vec::new();
                while self.peek()? != tag::END {
                    items.push(self.value(depth)?);
                }
                self.pos += 1;
                Value::List(items)
            }
            tag::DICT => {
                let depth = self.enter(start, depth)?;
                let mut entries = BTreeMap::new();
                let mut last: Option<String> = None;
                loop {
                    let key_start = self.pos;
                    let kt = self.peek()?;
                    if kt == tag::END {
                        self.pos += 1;
                        break;
                    }
                    if !matches!(kt, tag::STR8 | tag::STR16 | tag::STR32) {
                        return Err(self.error_at(key_start, DecodeErrorKind::NonStringKey));
                    }
                    self.pos += 1;
                    let key = self.string(key_start, kt)?;
                    if last
                        .as_ref()
                        .is_some_and(|l| l.as_bytes() >= key.as_bytes())
                    {
                        return Err(self.error_at(key_start, DecodeErrorKind::UnorderedKey));
                    }
                    let item = self.value(depth)?;
                    last = Some(key.clone());
                    entries.insert(key, item);
                }
                Value::Dict(entries)
            }
            tag::END => return Err(self.error_at(start, DecodeErrorKind::UnexpectedEndMarker)),
            _ => return Err(self.error_at(start, DecodeErrorKind::UnknownType)),
        })
    }

    fn enter(&self, start: usize, depth: usize) -> Result<usize, DecodeError> {
        if depth >= self.max_depth {
            Err(self.error_at(start, DecodeErrorKind::TooDeep))
        } else {
            Ok(depth + 1)
        }
    }

    /// The body of a string or byte string whose type byte `t` (at `start`) was read.
    fn bytes(&mut self, start: usize, t: u8) -> Result<&'a [u8], DecodeError> {
        let (len, min) = match t & 0x0f {
            1 => (usize::from(self.take_array::<1>()?[0]), 0),
            2 => (usize::from(u16::from_be_bytes(self.take_array()?)), 0x100),
            _ => {
                let l = u32::from_be_bytes(self.take_array()?);
                // A length that does not fit usize is longer than any input.
                (usize::try_from(l).unwrap_or(usize::MAX), 0x1_0000)
            }
        };
        if len < min {
            return Err(self.error_at(start, DecodeErrorKind::NonCanonicalLength));
        }
        if len > self.max_len {
            return Err(self.error_at(start, DecodeErrorKind::TooLong));
        }
        self.take(len)
    }

    fn string(&mut self, start: usize, t: u8) -> Result<String, DecodeError> {
        let bytes = self.bytes(start, t)?;
        core::str::from_utf8(bytes)
            .map(String::from)
            .map_err(|_| self.error_at(start, DecodeErrorKind::InvalidUtf8))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::encode;

    fn err(bytes: &[u8]) -> DecodeErrorKind {
        decode(bytes, &Limits::DEFAULT).unwrap_err().kind
    }

    #[test]
    fn scalars_round_trip() {
        for v in [
            Value::Null,
            Value::Bool(true),
            Value::Int(0),
            Value::Int(-129),
            Value::Int(i64::MIN),
            Value::Str("héllo".into()),
            Value::Raw(vec![0; 300]),
        ] {
            let bytes = encode(&v).unwrap();
            assert_eq!(decode(&bytes, &Limits::DEFAULT).unwrap(), v);
        }
    }

    #[test]
    fn rejects_non_canonical() {
        assert_eq!(
            err(&[0x22, 0x00, 0x05]),
            DecodeErrorKind::NonCanonicalInteger
        );
        assert_eq!(
            err(&[0x24, 0xff, 0xff, 0xff, 0x80]),
            DecodeErrorKind::NonCanonicalInteger
        );
        assert_eq!(
            err(&[0x42, 0x00, 0x01, b'a']),
            DecodeErrorKind::NonCanonicalLength
        );
        assert_eq!(
            err(&[0x70, 0x41, 1, b'b', 0x00, 0x41, 1, b'a', 0x00, 0x80]),
            DecodeErrorKind::UnorderedKey
        );
        assert_eq!(
            err(&[0x70, 0x41, 1, b'a', 0x00, 0x41, 1, b'a', 0x00, 0x80]),
            DecodeErrorKind::UnorderedKey
        );
        assert_eq!(
            err(&[0x70, 0x21, 1, 0x00, 0x80]),
            DecodeErrorKind::NonStringKey
        );
        assert_eq!(err(&[0x00, 0x00]), DecodeErrorKind::TrailingBytes);
        assert_eq!(err(&[0x41, 2, 0xc3, 0x28]), DecodeErrorKind::InvalidUtf8);
        assert_eq!(err(&[0x80]), DecodeErrorKind::UnexpectedEndMarker);
        assert_eq!(err(&[0x12]), DecodeErrorKind::UnknownType);
        assert_eq!(err(&[]), DecodeErrorKind::UnexpectedEnd);
    }

    #[test]
    fn huge_lengths_fail_without_allocating() {
        assert_eq!(
            err(&[0x54, 0xff, 0xff, 0xff, 0xff]),
            DecodeErrorKind::TooLong
        );
        let limits = Limits {
            max_depth: 8,
            max_len: usize::MAX,
        };
        let e = decode(&[0x54, 0xff, 0xff, 0xff, 0xff, 0], &limits).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::UnexpectedEnd);
    }

    #[test]
    fn depth_is_bounded() {
        let deep = |n: usize| {
            let mut v = vec![0x60; n];
            v.extend(core::iter::repeat_n(0x80, n));
            v
        };
        assert!(decode(&deep(8), &Limits::DEFAULT).is_ok());
        assert_eq!(err(&deep(9)), DecodeErrorKind::TooDeep);
        let no_limit = Limits {
            max_depth: usize::MAX,
            max_len: 16,
        };
        let e = decode(&deep(100_000), &no_limit).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::TooDeep);
        assert_eq!(e.offset, Limits::HARD_MAX_DEPTH);
    }
}
