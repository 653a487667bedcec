use alloc::vec::Vec;

use super::decode::Limits;
use super::tag;
use super::value::Value;

/// Why a value could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A string or byte string is longer than 2^32 − 1 bytes.
    #[error("string too long to encode")]
    TooLong,
    /// Containers are nested deeper than [`Limits::HARD_MAX_DEPTH`].
    #[error("value nested too deeply to encode")]
    TooDeep,
}

/// The canonical encoding of `value`.
///
/// # Errors
/// [`EncodeError`] for values no decoder could accept whatever its limits.
pub fn encode(value: &Value) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    encode_into(value, &mut out)?;
    Ok(out)
}

/// Appends the canonical encoding of `value` to `out`. On error, `out` is left as it was.
///
/// # Errors
/// [`EncodeError`] for values no decoder could accept whatever its limits.
pub fn encode_into(value: &Value, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let start = out.len();
    let result = put(value, out, 0);
    if result.is_err() {
        out.truncate(start);
    }
    result
}

fn put(value: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), EncodeError> {
    match value {
        Value::Null => out.push(tag::NULL),
        Value::Bool(false) => out.push(tag::FALSE),
        Value::Bool(true) => out.push(tag::TRUE),
        Value::Int(i) => put_int(*i, out),
        Value::Str(s) => put_bytes([tag::STR8, tag::STR16, tag::STR32], s.as_bytes(), out)?,
        Value::Raw(r) => put_bytes([tag::RAW8, tag::RAW16, tag::RAW32], r, out)?,
        Value::List(items) => {
            let depth = enter(depth)?;
            out.push(tag::LIST);
            for item in items {
                put(item, out, depth)?;
            }
            out.push(tag::END);
        }
        Value::Dict(entries) => {
            let depth = enter(depth)?;
            out.push(tag::DICT);
            // BTreeMap<String, _> iterates in ascending byte order of the keys, which is
            // the canonical order; keys are unique by construction.
            for (key, item) in entries {
                put_bytes([tag::STR8, tag::STR16, tag::STR32], key.as_bytes(), out)?;
                put(item, out, depth)?;
            }
            out.push(tag::END);
        }
    }
    Ok(())
}

fn enter(depth: usize) -> Result<usize, EncodeError> {
    if depth >= Limits::HARD_MAX_DEPTH {
        Err(EncodeError::TooDeep)
    } else {
        Ok(depth + 1)
    }
}

fn put_int(i: i64, out: &mut Vec<u8>) {
    if let Ok(v) = i8::try_from(i) {
        out.push(tag::INT8);
        out.extend_from_slice(&v.to_be_bytes());
    } else if let Ok(v) = i16::try_from(i) {
        out.push(tag::INT16);
        out.extend_from_slice(&v.to_be_bytes());
    } else if let Ok(v) = i32::try_from(i) {
        out.push(tag::INT32);
        out.extend_from_slice(&v.to_be_bytes());
    } else {
        out.push(tag::INT64);
        out.extend_from_slice(&i.to_be_bytes());
    }
}

fn put_bytes(tags: [u8; 3], bytes: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let len = bytes.len();
    if let Ok(l) = u8::try_from(len) {
        out.push(tags[0]);
        out.push(l);
    } else if let Ok(l) = u16::try_from(len) {
        out.push(tags[1]);
        out.extend_from_slice(&l.to_be_bytes());
    } else if let Ok(l) = u32::try_from(len) {
        out.push(tags[2]);
        out.extend_from_slice(&l.to_be_bytes());
    } else {
        return Err(EncodeError::TooLong);
    }
    out.extend_from_slice(bytes);
    Ok(())
}
