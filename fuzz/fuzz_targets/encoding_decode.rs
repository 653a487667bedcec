//! The canonical decoder over arbitrary bytes: never panics, and whatever it accepts
//! re-encodes to exactly the input (the encoding is canonical).
#![no_main]

use bramble_proto::wire::{Limits, decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = decode(data, &Limits::DEFAULT) {
        assert_eq!(encode(&value).expect("decoded values encode"), data);
    }
    let tight = Limits {
        max_depth: 2,
        max_len: 16,
    };
    if let Ok(value) = decode(data, &tight) {
        assert_eq!(decode(data, &Limits::DEFAULT).ok(), Some(value));
    }
});
