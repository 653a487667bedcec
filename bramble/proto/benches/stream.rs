//! Stream layer throughput and wire overhead against raw ChaCha20-Poly1305.
//!
//! Run with `cargo bench -p bramble-proto --bench stream`. Everything is measured in one
//! run on the same bytes, so the ratios hold whatever the machine's speed:
//!
//! - **bulk**: one 1 MiB plaintext. Raw: one ChaCha20-Poly1305 seal and open of the whole
//!   buffer. Stream: take a stream number, write the buffer and finish, recognise the tag
//!   and read it back.
//! - **messages**: 5,000 messages of 200 bytes. Raw: seal and open each message. Stream:
//!   write and flush each message into one stream, and read each flushed frame as it
//!   comes.
//! - **overhead**: bytes on the wire per payload byte for several traffic shapes.
//!
//! Targets (`spec/stream.md#overhead`): bulk ratio ≥ 0.80; wire overhead ≤ 4 % for 1 KiB
//! messages. The process exits non-zero if a target is missed.
#![allow(
    missing_docs,
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used
)]

use std::hint::black_box;
use std::time::Duration;

use bramble_proto::crypto::SecretKey;
use bramble_proto::stream::{
    Role, RootKey, StreamReader, StreamTag, StreamWriter, TAG_LEN, TransportKeys,
};
use bramble_proto::time::{Period, PeriodLength};
use bramble_proto::transport::TransportId;
use chacha20::ChaCha20Rng;
use chacha20::rand_core::{Rng, SeedableRng};
use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::aead::inout::InOutBuf;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce};

const BULK: usize = 1 << 20;
const MSG: usize = 200;
const MSGS: usize = 5_000;
const ROUNDS: usize = 15;

/// Wall time of `f`. The one place this crate reads a clock: benchmarks measure time.
#[allow(clippy::disallowed_methods)]
fn timed(f: impl FnOnce()) -> Duration {
    let start = std::time::Instant::now();
    f();
    start.elapsed()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

struct Peers {
    alice: TransportKeys,
    bob: TransportKeys,
    rng: ChaCha20Rng,
}

impl Peers {
    fn new() -> Self {
        let root = || RootKey::new(SecretKey::from_bytes([3; 32]));
        let len = PeriodLength::for_max_latency(Duration::from_secs(30)).unwrap();
        let derive =
            |role| TransportKeys::derive(&root(), role, TransportId::TOR, len, Period(20_000));
        Peers {
            alice: derive(Role::Alice).unwrap(),
            bob: derive(Role::Bob).unwrap(),
            rng: ChaCha20Rng::seed_from_u64(1),
        }
    }

    fn writer(&mut self, out: &mut Vec<u8>) -> StreamWriter {
        let stream = self.alice.outgoing_mut().next_stream().unwrap();
        StreamWriter::new(stream, &mut self.rng, out).unwrap()
    }

    fn reader(&mut self, bytes: &[u8]) -> StreamReader {
        let tag = StreamTag(bytes[..TAG_LEN].try_into().unwrap());
        StreamReader::new(self.bob.incoming_mut().recognise(&tag).expect("recognised"))
    }
}

struct Raw {
    aead: ChaCha20Poly1305,
}

impl Raw {
    fn new() -> Self {
        Raw {
            aead: ChaCha20Poly1305::new(&[9u8; 32].into()),
        }
    }

    /// Seals `plain` into `ct`, then opens `ct` into `back`.
    fn round_trip(&self, n: u64, plain: &[u8], ct: &mut [u8], back: &mut [u8]) {
        let mut nonce = [0u8; 12];
        nonce[4..].copy_from_slice(&n.to_be_bytes());
        let nonce = Nonce::from(nonce);
        let tag = self
            .aead
            .encrypt_inout_detached(&nonce, &[], InOutBuf::new(plain, ct).unwrap())
            .unwrap();
        self.aead
            .decrypt_inout_detached(&nonce, &[], InOutBuf::new(ct, back).unwrap(), &tag)
            .unwrap();
    }
}

fn bulk(peers: &mut Peers, raw: &Raw, data: &[u8]) -> (f64, f64) {
    let mut ct = vec![0u8; data.len()];
    let mut back = vec![0u8; data.len()];
    let mut wire = Vec::with_capacity(data.len() + 4096);
    let mut plain = Vec::with_capacity(data.len());
    let (mut raw_rates, mut stream_rates) = (Vec::new(), Vec::new());
    let mb = data.len() as f64 / 1e6;
    for round in 0..ROUNDS {
        let t = timed(|| raw.round_trip(round as u64, data, &mut ct, &mut back));
        black_box(&back);
        raw_rates.push(mb / t.as_secs_f64());
        let t = timed(|| {
            wire.clear();
            plain.clear();
            let mut w = peers.writer(&mut wire);
            w.write(data, &mut wire).unwrap();
            w.finish(&mut wire).unwrap();
            let mut r = peers.reader(&wire);
            r.handle_bytes(&wire[TAG_LEN..], &mut plain).unwrap();
            r.finish().unwrap();
        });
        assert_eq!(plain, data);
        stream_rates.push(mb / t.as_secs_f64());
    }
    (median(raw_rates), median(stream_rates))
}

fn messages(peers: &mut Peers, raw: &Raw, data: &[u8]) -> (f64, f64) {
    let mut ct = [0u8; MSG];
    let mut back = [0u8; MSG];
    let mut wire = Vec::with_capacity(MSGS * (MSG + 64));
    let mut plain = Vec::with_capacity(MSGS * MSG);
    let (mut raw_rates, mut stream_rates) = (Vec::new(), Vec::new());
    let mb = (MSGS * MSG) as f64 / 1e6;
    let msgs: Vec<&[u8]> = data.chunks_exact(MSG).take(MSGS).collect();
    for _ in 0..ROUNDS {
        let t = timed(|| {
            for (i, m) in msgs.iter().enumerate() {
                raw.round_trip(i as u64, m, &mut ct, &mut back);
                black_box(&back);
            }
        });
        raw_rates.push(mb / t.as_secs_f64());
        let t = timed(|| {
            wire.clear();
            plain.clear();
            let mut w = peers.writer(&mut wire);
            let mut r = peers.reader(&wire);
            let mut read_to = TAG_LEN;
            for m in &msgs {
                w.write(m, &mut wire).unwrap();
                w.flush(&mut wire).unwrap();
                r.handle_bytes(&wire[read_to..], &mut plain).unwrap();
                read_to = wire.len();
            }
            w.finish(&mut wire).unwrap();
            r.handle_bytes(&wire[read_to..], &mut plain).unwrap();
            r.finish().unwrap();
        });
        assert_eq!(plain.len(), MSGS * MSG);
        stream_rates.push(mb / t.as_secs_f64());
    }
    (median(raw_rates), median(stream_rates))
}

/// Wire bytes per payload byte for `count` messages of `size` bytes, each flushed, in
/// one stream.
fn overhead(peers: &mut Peers, size: usize, count: usize) -> f64 {
    let mut wire = Vec::new();
    let mut w = peers.writer(&mut wire);
    let msg = vec![0x5a; size];
    for _ in 0..count {
        w.write(&msg, &mut wire).unwrap();
        w.flush(&mut wire).unwrap();
    }
    w.finish(&mut wire).unwrap();
    wire.len() as f64 / (size * count) as f64
}

fn main() {
    let mut peers = Peers::new();
    let raw = Raw::new();
    let mut data = vec![0u8; BULK];
    ChaCha20Rng::seed_from_u64(7).fill_bytes(&mut data);

    println!("stream layer vs raw ChaCha20-Poly1305 (seal + open), median of {ROUNDS} rounds");
    let (raw_bulk, stream_bulk) = bulk(&mut peers, &raw, &data);
    let bulk_ratio = stream_bulk / raw_bulk;
    println!(
        "  bulk 1 MiB          raw {raw_bulk:8.1} MB/s   stream {stream_bulk:8.1} MB/s   ratio {bulk_ratio:.3}  (target >= 0.80)"
    );
    let (raw_msg, stream_msg) = messages(&mut peers, &raw, &data);
    let msg_ratio = stream_msg / raw_msg;
    println!(
        "  {MSGS} x {MSG} B msgs    raw {raw_msg:8.1} MB/s   stream {stream_msg:8.1} MB/s   ratio {msg_ratio:.3}"
    );

    println!("wire bytes per payload byte");
    let bulk_overhead = overhead(&mut peers, BULK, 1);
    let kib = overhead(&mut peers, 1024, 1000);
    let kib_alone = overhead(&mut peers, 1024, 1);
    let small = overhead(&mut peers, MSG, 1000);
    println!("  bulk 1 MiB, one stream              {bulk_overhead:.4}");
    println!("  1 KiB messages, 1000 per stream     {kib:.4}  (target <= 1.04)");
    println!("  1 KiB message alone in a stream     {kib_alone:.4}");
    println!("  200 B messages, 1000 per stream     {small:.4}");

    let mut missed = false;
    if bulk_ratio < 0.80 {
        println!("TARGET MISSED: bulk ratio {bulk_ratio:.3} < 0.80");
        missed = true;
    }
    if kib > 1.04 {
        println!("TARGET MISSED: 1 KiB overhead {kib:.4} > 1.04");
        missed = true;
    }
    if missed {
        std::process::exit(1);
    }
    println!("all targets met");
}
