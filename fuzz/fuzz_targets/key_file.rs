//! The key file parser over arbitrary bytes, with and without a valid checksum: never
//! panics, never allocates what the bytes ask for before checking them.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.first().map_or(0, |&b| usize::from(b) % 8);
    let (password, body) = data
        .get(1..)
        .unwrap_or_default()
        .split_at(split.min(data.len().saturating_sub(1)));
    bramble_store::fuzzing::key_file(body, password);
});
