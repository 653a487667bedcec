//! The stream reader over arbitrary bytes, delivered in arbitrary pieces.
//!
//! The first input byte picks what the fuzzer controls: everything after the tag (so the
//! stream header almost never opens), or everything after a valid tag and stream header
//! (so frame headers, lengths, truncation and authentication failures are reached). The
//! reader must never panic, never release more than it was given, and report a clean end
//! only after a final frame.
#![no_main]

mod common;

use bramble_proto::stream::{STREAM_PREFIX_LEN, StreamReader, StreamWriter, TAG_LEN};
use chacha20::ChaCha20Rng;
use chacha20::rand_core::SeedableRng;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let Some((&piece, body)) = rest.split_first() else {
        return;
    };
    let (mut alice, mut bob) = common::pair();
    let stream = alice
        .outgoing_mut()
        .next_stream()
        .expect("stream numbers left");
    let mut prefix = Vec::new();
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    drop(StreamWriter::new(stream, &mut rng, &mut prefix).expect("header seals"));
    let tag = bramble_proto::stream::StreamTag(prefix[..TAG_LEN].try_into().expect("16 bytes"));
    let incoming = bob
        .incoming_mut()
        .recognise(&tag)
        .expect("own tag recognised");
    let mut reader = StreamReader::new(incoming);

    let input: Vec<u8> = if mode & 1 == 0 {
        body.to_vec()
    } else {
        [&prefix[TAG_LEN..STREAM_PREFIX_LEN], body].concat()
    };
    let piece = usize::from(piece).max(1);
    let mut plain = Vec::new();
    let mut failed = false;
    for chunk in input.chunks(piece) {
        if reader.handle_bytes(chunk, &mut plain).is_err() {
            failed = true;
            // A failed reader stays failed.
            assert!(reader.handle_bytes(b"x", &mut plain).is_err());
            break;
        }
    }
    assert!(plain.len() <= input.len());
    match reader.finish() {
        Ok(()) => assert!(!failed && reader.is_ended()),
        Err(_) => assert!(!reader.is_ended() || failed),
    }
});
