//! Behaviour of the stream layer through its public API (`spec/stream.md`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use core::num::NonZeroU16;
use core::time::Duration;

use bramble_proto::crypto::SecretKey;
use bramble_proto::stream::{
    FRAME_OVERHEAD, MAX_FRAME_BODY, Padding, Role, RootKey, STREAM_PREFIX_LEN, StreamError,
    StreamReader, StreamTag, StreamWriter, TAG_LEN, TransportKeys,
};
use bramble_proto::time::{Period, PeriodLength};
use bramble_proto::transport::TransportId;
use chacha20::ChaCha20Rng;
use chacha20::rand_core::SeedableRng;
use proptest::prelude::*;

fn pair(start: u64) -> (TransportKeys, TransportKeys) {
    let root = || RootKey::new(SecretKey::from_bytes([7; 32]));
    let len = PeriodLength::for_max_latency(Duration::from_secs(30)).unwrap();
    let derive = |role| TransportKeys::derive(&root(), role, TransportId::LAN, len, Period(start));
    (derive(Role::Alice).unwrap(), derive(Role::Bob).unwrap())
}

#[derive(Clone, Debug)]
enum Op {
    Write(Vec<u8>),
    Flush,
}

/// Writes one stream from Alice; returns the bytes and the plaintext written.
fn write_stream(
    alice: &mut TransportKeys,
    ops: &[Op],
    padding: Padding,
    seed: u64,
) -> (Vec<u8>, Vec<u8>) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut out = Vec::new();
    let mut plain = Vec::new();
    let stream = alice.outgoing_mut().next_stream().unwrap();
    let mut w = StreamWriter::new(stream, &mut rng, &mut out).unwrap();
    w.set_padding(padding);
    for op in ops {
        match op {
            Op::Write(data) => {
                w.write(data, &mut out).unwrap();
                plain.extend_from_slice(data);
            }
            Op::Flush => w.flush(&mut out).unwrap(),
        }
    }
    w.finish(&mut out).unwrap();
    (out, plain)
}

/// What a receiver makes of `bytes`, delivered in pieces of the given sizes (cycled).
#[derive(Debug, PartialEq)]
enum Outcome {
    /// The tag was not recognised.
    Unrecognised,
    /// The whole stream was read and ended cleanly.
    Clean(Vec<u8>),
    /// Reading failed; plaintext released before the failure.
    Failed(StreamError, Vec<u8>),
}

fn read_stream(bob: &mut TransportKeys, bytes: &[u8], splits: &[usize]) -> Outcome {
    if bytes.len() < TAG_LEN {
        return Outcome::Unrecognised;
    }
    let (tag, rest) = bytes.split_at(TAG_LEN);
    let tag = StreamTag(tag.try_into().unwrap());
    let Some(incoming) = bob.incoming_mut().recognise(&tag) else {
        return Outcome::Unrecognised;
    };
    let mut reader = StreamReader::new(incoming);
    let mut plain = Vec::new();
    let mut rest = rest;
    let mut sizes = splits.iter().copied().filter(|&s| s > 0).cycle();
    while !rest.is_empty() {
        let n = sizes.next().unwrap_or(rest.len()).min(rest.len());
        let (piece, tail) = rest.split_at(n);
        rest = tail;
        if let Err(e) = reader.handle_bytes(piece, &mut plain) {
            return Outcome::Failed(e, plain);
        }
    }
    match reader.finish() {
        Ok(()) => Outcome::Clean(plain),
        Err(e) => Outcome::Failed(e, plain),
    }
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => prop::collection::vec(any::<u8>(), 0..600).prop_map(Op::Write),
        1 => prop::collection::vec(any::<u8>(), MAX_FRAME_BODY - 10..MAX_FRAME_BODY + 2000)
            .prop_map(Op::Write),
        3 => Just(Op::Flush),
    ]
}

fn padding_strategy() -> impl Strategy<Value = Padding> {
    prop_oneof![
        Just(Padding::None),
        (1u16..2000).prop_map(|m| Padding::ToMultipleOf(NonZeroU16::new(m).unwrap())),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_split_and_flush_pattern_yields_the_plaintext(
        ops in prop::collection::vec(op_strategy(), 0..12),
        padding in padding_strategy(),
        splits in prop::collection::vec(1usize..5000, 1..8),
        seed in any::<u64>(),
    ) {
        let (mut alice, mut bob) = pair(1000);
        let (bytes, plain) = write_stream(&mut alice, &ops, padding, seed);
        prop_assert_eq!(read_stream(&mut bob, &bytes, &splits), Outcome::Clean(plain));
    }

    #[test]
    fn one_byte_at_a_time_equals_all_at_once(
        ops in prop::collection::vec(op_strategy(), 0..4),
        seed in any::<u64>(),
    ) {
        let (mut alice, _) = pair(1000);
        let (bytes, plain) = write_stream(&mut alice, &ops, Padding::None, seed);
        let (_, mut bob1) = pair(1000);
        let (_, mut bob2) = pair(1000);
        prop_assert_eq!(read_stream(&mut bob1, &bytes, &[1]), Outcome::Clean(plain.clone()));
        prop_assert_eq!(read_stream(&mut bob2, &bytes, &[bytes.len()]), Outcome::Clean(plain));
    }

    #[test]
    fn a_flipped_bit_is_always_an_error(
        ops in prop::collection::vec(op_strategy(), 0..6),
        padding in padding_strategy(),
        bit in any::<prop::sample::Index>(),
        splits in prop::collection::vec(1usize..3000, 1..4),
        seed in any::<u64>(),
    ) {
        let (mut alice, mut bob) = pair(1000);
        let (mut bytes, _) = write_stream(&mut alice, &ops, padding, seed);
        let i = bit.index(bytes.len() * 8);
        bytes[i / 8] ^= 1 << (i % 8);
        let outcome = read_stream(&mut bob, &bytes, &splits);
        prop_assert!(!matches!(outcome, Outcome::Clean(_)), "bit {} accepted", i);
    }

    #[test]
    fn truncation_is_not_a_clean_end(
        ops in prop::collection::vec(op_strategy(), 0..6),
        cut in any::<prop::sample::Index>(),
        seed in any::<u64>(),
    ) {
        let (mut alice, mut bob) = pair(1000);
        let (bytes, plain) = write_stream(&mut alice, &ops, Padding::None, seed);
        let cut = TAG_LEN + cut.index(bytes.len() - TAG_LEN);
        match read_stream(&mut bob, &bytes[..cut], &[7]) {
            Outcome::Failed(StreamError::Truncated, released) => {
                // Whatever was released is a prefix of what was written.
                prop_assert!(plain.starts_with(&released));
            }
            other => prop_assert!(false, "cut at {} gave {:?}", cut, other),
        }
    }
}

#[test]
fn every_bit_of_a_small_stream_matters() {
    let ops = [
        Op::Write(b"hello".to_vec()),
        Op::Flush,
        Op::Flush,
        Op::Write(vec![9; 300]),
    ];
    let padding = Padding::ToMultipleOf(NonZeroU16::new(64).unwrap());
    let (mut alice, _) = pair(1000);
    let (bytes, plain) = write_stream(&mut alice, &ops, padding, 1);
    let (_, mut bob) = pair(1000);
    assert_eq!(
        read_stream(&mut bob, &bytes, &[bytes.len()]),
        Outcome::Clean(plain)
    );
    for i in 0..bytes.len() * 8 {
        let mut bad = bytes.clone();
        bad[i / 8] ^= 1 << (i % 8);
        let (_, mut bob) = pair(1000);
        let outcome = read_stream(&mut bob, &bad, &[bad.len()]);
        match i / 8 {
            b if b < TAG_LEN => assert_eq!(outcome, Outcome::Unrecognised, "bit {i}"),
            b if b < STREAM_PREFIX_LEN => assert_eq!(
                outcome,
                Outcome::Failed(StreamError::HeaderAuthentication, vec![]),
                "bit {i}"
            ),
            _ => assert!(
                matches!(outcome, Outcome::Failed(..)),
                "bit {i}: {outcome:?}"
            ),
        }
    }
}

#[test]
fn clean_end_truncation_and_trailing_data_are_told_apart() {
    let (mut alice, _) = pair(1000);
    let (bytes, plain) = write_stream(&mut alice, &[Op::Write(b"abc".to_vec())], Padding::None, 3);
    assert_eq!(bytes.len(), STREAM_PREFIX_LEN + FRAME_OVERHEAD + 3);
    let (_, mut bob) = pair(1000);
    assert_eq!(read_stream(&mut bob, &bytes, &[5]), Outcome::Clean(plain));
    let (_, mut bob) = pair(1000);
    assert_eq!(
        read_stream(&mut bob, &bytes[..bytes.len() - 1], &[5]),
        Outcome::Failed(StreamError::Truncated, vec![])
    );
    let (_, mut bob) = pair(1000);
    let mut longer = bytes.clone();
    longer.push(0);
    assert_eq!(
        read_stream(&mut bob, &longer, &[longer.len()]),
        Outcome::Failed(StreamError::TrailingData, b"abc".to_vec())
    );
}

#[test]
fn a_stream_without_final_frame_is_truncated() {
    let (mut alice, mut bob) = pair(1000);
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let mut out = Vec::new();
    let stream = alice.outgoing_mut().next_stream().unwrap();
    let mut w = StreamWriter::new(stream, &mut rng, &mut out).unwrap();
    w.write(b"partial", &mut out).unwrap();
    w.flush(&mut out).unwrap();
    drop(w);
    assert_eq!(
        read_stream(&mut bob, &out, &[out.len()]),
        Outcome::Failed(StreamError::Truncated, b"partial".to_vec())
    );
}

#[test]
fn a_replayed_stream_is_not_recognised() {
    let (mut alice, mut bob) = pair(1000);
    let (bytes, plain) = write_stream(&mut alice, &[Op::Write(b"once".to_vec())], Padding::None, 4);
    assert_eq!(read_stream(&mut bob, &bytes, &[9]), Outcome::Clean(plain));
    assert_eq!(read_stream(&mut bob, &bytes, &[9]), Outcome::Unrecognised);
}

#[test]
#[allow(clippy::needless_range_loop)] // indices are stream numbers
fn streams_out_of_order_within_the_window_are_recognised() {
    let (mut alice, mut bob) = pair(1000);
    let streams: Vec<_> = (0..40)
        .map(|i| {
            write_stream(
                &mut alice,
                &[Op::Write(vec![i; 3])],
                Padding::None,
                u64::from(i),
            )
        })
        .collect();
    // Deliver 20 first, then 5..20 backwards; 0..4 have fallen out of the window.
    assert!(matches!(
        read_stream(&mut bob, &streams[20].0, &[100]),
        Outcome::Clean(_)
    ));
    for i in (5..20).rev() {
        assert!(
            matches!(
                read_stream(&mut bob, &streams[i].0, &[100]),
                Outcome::Clean(_)
            ),
            "{i}"
        );
    }
    for i in 0..5 {
        assert_eq!(
            read_stream(&mut bob, &streams[i].0, &[100]),
            Outcome::Unrecognised,
            "{i}"
        );
    }
    for i in 21..37 {
        assert!(
            matches!(
                read_stream(&mut bob, &streams[i].0, &[100]),
                Outcome::Clean(_)
            ),
            "{i}"
        );
    }
}

#[test]
fn a_stream_from_two_periods_back_is_not_recognised() {
    let (alice, bob) = pair(1000);
    let mut old_alice = alice;
    let (old, _) = write_stream(
        &mut old_alice,
        &[Op::Write(b"x".to_vec())],
        Padding::None,
        1,
    );
    let mut alice = old_alice.rotate_to(Period(1001)).unwrap();
    let (previous, _) = write_stream(&mut alice, &[Op::Write(b"y".to_vec())], Padding::None, 2);
    let mut bob = bob.rotate_to(Period(1002)).unwrap();
    // Period 1000 is p−2 for Bob now; 1001 is p−1 and still accepted.
    assert_eq!(read_stream(&mut bob, &old, &[50]), Outcome::Unrecognised);
    assert_eq!(
        read_stream(&mut bob, &previous, &[50]),
        Outcome::Clean(b"y".to_vec())
    );
}

#[test]
fn a_stream_for_another_contact_is_not_recognised() {
    let len = PeriodLength::for_max_latency(Duration::from_secs(30)).unwrap();
    let mut alice = TransportKeys::derive(
        &RootKey::new(SecretKey::from_bytes([1; 32])),
        Role::Alice,
        TransportId::LAN,
        len,
        Period(1000),
    )
    .unwrap();
    let (_, mut bob) = pair(1000);
    let (bytes, _) = write_stream(&mut alice, &[Op::Write(b"z".to_vec())], Padding::None, 1);
    assert_eq!(read_stream(&mut bob, &bytes, &[50]), Outcome::Unrecognised);
}

#[test]
fn wire_overhead_is_small() {
    // 1 KiB messages, each flushed: 20 bytes of frame overhead each.
    let (mut alice, _) = pair(1000);
    let ops: Vec<Op> = (0..100)
        .flat_map(|_| [Op::Write(vec![1; 1024]), Op::Flush])
        .collect();
    let (bytes, plain) = write_stream(&mut alice, &ops, Padding::None, 1);
    let overhead = bytes.len() - plain.len();
    assert_eq!(overhead, STREAM_PREFIX_LEN + 101 * FRAME_OVERHEAD);
    assert!((overhead as f64) / (plain.len() as f64) < 0.04);
}
