//! Writer and reader together: the fuzzer picks writes, flushes, padding, one corruption
//! (a flipped bit, a cut, an inserted byte, or none) and how the bytes are split. An
//! untouched stream must read back exactly; a corrupted one must never end cleanly, and
//! may only have released a prefix of what was written.
#![no_main]

mod common;

use core::num::NonZeroU16;

use arbitrary::Arbitrary;
use bramble_proto::stream::{Padding, StreamReader, StreamTag, StreamWriter, TAG_LEN};
use chacha20::ChaCha20Rng;
use chacha20::rand_core::SeedableRng;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Op {
    Write { len: u16, byte: u8 },
    Flush,
    Pad(u16),
}

#[derive(Arbitrary, Debug)]
enum Corruption {
    None,
    Flip { at: u32, bit: u8 },
    Cut { at: u32 },
    Insert { at: u32, byte: u8 },
}

#[derive(Arbitrary, Debug)]
struct Input {
    seed: u64,
    ops: Vec<Op>,
    corruption: Corruption,
    pieces: Vec<u16>,
}

fuzz_target!(|input: Input| {
    let (mut alice, mut bob) = common::pair();
    let stream = alice
        .outgoing_mut()
        .next_stream()
        .expect("stream numbers left");
    let mut rng = ChaCha20Rng::seed_from_u64(input.seed);
    let mut wire = Vec::new();
    let mut writer = StreamWriter::new(stream, &mut rng, &mut wire).expect("header seals");
    let mut written = Vec::new();
    for op in input.ops.iter().take(64) {
        match *op {
            Op::Write { len, byte } => {
                let data = vec![byte; usize::from(len)];
                writer.write(&data, &mut wire).expect("write");
                written.extend_from_slice(&data);
            }
            Op::Flush => writer.flush(&mut wire).expect("flush"),
            Op::Pad(m) => {
                writer.set_padding(NonZeroU16::new(m).map_or(Padding::None, Padding::ToMultipleOf))
            }
        }
    }
    writer.finish(&mut wire).expect("finish");

    let corrupted = match input.corruption {
        Corruption::None => false,
        Corruption::Flip { at, bit } => {
            let i = at as usize % wire.len();
            wire[i] ^= 1 << (bit % 8);
            true
        }
        Corruption::Cut { at } => {
            wire.truncate(at as usize % wire.len());
            true
        }
        Corruption::Insert { at, byte } => {
            wire.insert(at as usize % (wire.len() + 1), byte);
            true
        }
    };

    if wire.len() < TAG_LEN {
        assert!(corrupted);
        return;
    }
    let tag = StreamTag(wire[..TAG_LEN].try_into().expect("16 bytes"));
    let Some(incoming) = bob.incoming_mut().recognise(&tag) else {
        assert!(corrupted, "an untouched stream is recognised");
        return;
    };
    let mut reader = StreamReader::new(incoming);
    let mut plain = Vec::new();
    let mut rest = &wire[TAG_LEN..];
    let mut pieces = input.pieces.iter().map(|&p| usize::from(p).max(1)).cycle();
    let mut result = Ok(());
    while !rest.is_empty() && result.is_ok() {
        let n = pieces.next().unwrap_or(rest.len()).min(rest.len());
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        result = reader.handle_bytes(chunk, &mut plain);
    }
    let result = result.and_then(|()| reader.finish());
    if corrupted {
        assert!(result.is_err(), "a corrupted stream ended cleanly");
        assert!(
            written.starts_with(&plain),
            "released bytes were not written"
        );
    } else {
        assert_eq!(result, Ok(()));
        assert_eq!(plain, written);
    }
});
