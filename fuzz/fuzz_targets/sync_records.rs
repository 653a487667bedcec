//! The record reader over arbitrary bytes, split arbitrarily: it never panics, never
//! buffers more than one record, and every record it returns re-encodes to the bytes it
//! was read from (except skipped unknown types).
#![no_main]

use arbitrary::Arbitrary;
use bramble_proto::sync::record::{MAX_RECORD_PAYLOAD, RECORD_HEADER_LEN};
use bramble_proto::sync::{Record, RecordReader};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    bytes: Vec<u8>,
    pieces: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let mut reader = RecordReader::new();
    let mut rest = &input.bytes[..];
    let mut pieces = input.pieces.iter().map(|&p| usize::from(p).max(1)).cycle();
    let mut consumed = 0usize;
    while !rest.is_empty() {
        let n = pieces.next().unwrap_or(rest.len()).min(rest.len());
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        let mut c = chunk;
        loop {
            let before = c.len();
            match reader.read(&mut c) {
                Ok(Some(record)) => {
                    consumed += before - c.len();
                    if !matches!(record, Record::Unknown(_)) {
                        let mut out = Vec::new();
                        record.encode(&mut out).expect("a record read re-encodes");
                        assert!(out.len() <= RECORD_HEADER_LEN + MAX_RECORD_PAYLOAD);
                        // The record's bytes end exactly where the reader stopped.
                        let end = consumed;
                        assert!(end >= out.len());
                        assert_eq!(&input.bytes[end - out.len()..end], &out[..]);
                    }
                }
                Ok(None) => {
                    consumed += before - c.len();
                    break;
                }
                Err(_) => return,
            }
        }
    }
    let _ = reader.finish();
});
