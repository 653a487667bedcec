//! The canonical encoding of structured bodies (`spec/encoding.md`).
//!
//! A self-describing binary format in the spirit of Briar's BDF: every value starts with
//! a type byte; integers and lengths are big-endian and use the shortest form;
//! dictionaries have string keys in strictly ascending byte order. Every value has
//! exactly one encoding, so encoded bytes can be hashed and signed, and the decoder
//! refuses anything else.
//!
//! The decoder is strict and bounded: it enforces a nesting-depth limit and a
//! per-string/raw length limit ([`Limits`]), checks every declared length against the
//! bytes actually present before allocating, and never panics.

mod decode;
mod encode;
mod value;

pub use decode::{DecodeError, DecodeErrorKind, Limits, decode};
pub use encode::{EncodeError, encode, encode_into};
pub use value::Value;

/// Type bytes (`spec/encoding.md#types`).
pub(crate) mod tag {
    pub(crate) const NULL: u8 = 0x00;
    pub(crate) const FALSE: u8 = 0x10;
    pub(crate) const TRUE: u8 = 0x11;
    pub(crate) const INT8: u8 = 0x21;
    pub(crate) const INT16: u8 = 0x22;
    pub(crate) const INT32: u8 = 0x24;
    pub(crate) const INT64: u8 = 0x28;
    pub(crate) const STR8: u8 = 0x41;
    pub(crate) const STR16: u8 = 0x42;
    pub(crate) const STR32: u8 = 0x44;
    pub(crate) const RAW8: u8 = 0x51;
    pub(crate) const RAW16: u8 = 0x52;
    pub(crate) const RAW32: u8 = 0x54;
    pub(crate) const LIST: u8 = 0x60;
    pub(crate) const DICT: u8 = 0x70;
    pub(crate) const END: u8 = 0x80;
}
