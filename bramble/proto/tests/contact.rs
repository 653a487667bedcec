//! The handshake over files, as a deterministic simulation: two accounts write
//! handshake streams under real stream keys, and read each other's files in any order,
//! any number of times, with every state saved and restored between steps
//! (`spec/contacts.md#handshake`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use bramble_proto::contact::{Completed, Handshake, HandshakeReader, Profile, Properties, Sent};
use bramble_proto::crypto::{AgreementSecretKey, SigningKey};
use bramble_proto::stream::{StreamReader, StreamTag, StreamWriter, TAG_LEN};
use bramble_proto::time::{PeriodLength, Timestamp};
use bramble_proto::transport::TransportId;
use chacha20::ChaCha20Rng;
use chacha20::rand_core::SeedableRng;
use proptest::prelude::*;

struct Side {
    link: AgreementSecretKey,
    identity: SigningKey,
    name: &'static str,
    properties: Properties,
    /// The saved handshake state, as the store keeps it.
    state: Vec<u8>,
    /// Files this side wrote.
    written: Vec<Vec<u8>>,
    /// Indices of the peer's files this side read successfully.
    read: Vec<usize>,
    completed: Option<Completed>,
}

const T0: u64 = 1_760_000_000_000;

fn len() -> PeriodLength {
    PeriodLength::for_max_latency(Duration::from_secs(28 * 86_400)).unwrap()
}

impl Side {
    fn new(
        n: u8,
        name: &'static str,
        peer_link: &AgreementSecretKey,
        rng: &mut ChaCha20Rng,
    ) -> Self {
        let link = AgreementSecretKey::from_bytes([n; 32]);
        let h = Handshake::start(&link, &peer_link.public_key(), rng).unwrap();
        Side {
            state: h.to_state().to_vec(),
            link,
            identity: SigningKey::from_seed([n; 32]),
            name,
            properties: Properties::new(),
            written: Vec::new(),
            read: Vec::new(),
            completed: None,
        }
    }

    fn load(&self, peer: &AgreementSecretKey) -> Handshake {
        Handshake::restore(&self.link, &peer.public_key(), &self.state).unwrap()
    }

    fn export(&mut self, peer: &AgreementSecretKey, rng: &mut ChaCha20Rng) {
        let mut h = self.load(peer);
        let mut keys = h.stream_keys(&TransportId::FILE, len()).unwrap();
        let stream = keys.outgoing_mut().next_stream().unwrap();
        h.save_stream_keys(&keys);
        self.state = h.to_state().to_vec();
        let mut file = Vec::new();
        let mut writer = StreamWriter::new(stream, rng, &mut file).unwrap();
        let mut records = Vec::new();
        h.write_records(&mut Sent::default(), &mut records);
        writer.write(&records, &mut file).unwrap();
        writer.finish(&mut file).unwrap();
        self.written.push(file);
    }

    /// Reads the peer's file `index`; returns whether its tag was recognised.
    fn import(
        &mut self,
        peer: &AgreementSecretKey,
        file: &[u8],
        index: usize,
        day: u64,
        rng: &mut ChaCha20Rng,
    ) -> bool {
        let mut h = self.load(peer);
        let mut keys = h.stream_keys(&TransportId::FILE, len()).unwrap();
        let tag = StreamTag(file[..TAG_LEN].try_into().unwrap());
        let Some(incoming) = keys.incoming_mut().recognise(&tag) else {
            return false;
        };
        h.save_stream_keys(&keys);
        let mut reader = StreamReader::new(incoming);
        let mut plain = Vec::new();
        reader.handle_bytes(&file[TAG_LEN..], &mut plain).unwrap();
        reader.finish().unwrap();
        let records = HandshakeReader::new().read(&plain).unwrap();
        let profile = Profile {
            link_key: &self.link,
            identity: &self.identity,
            nickname: self.name,
            properties: &self.properties,
        };
        let now = Timestamp::from_millis(T0 + day * 86_400_000).unwrap();
        for r in records {
            // Info sealed for an earlier key of ours cannot happen here (nobody starts
            // over), so every record is accepted.
            if let Some(c) = h.handle(r, &profile, now, rng).unwrap() {
                assert!(self.completed.is_none(), "{} completed twice", self.name);
                self.completed = Some(c);
            }
        }
        self.state = h.to_state().to_vec();
        self.read.push(index);
        true
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// A side writes a handshake file.
    Export(bool),
    /// A side reads one of the peer's files (an index into what exists), perhaps again.
    Import(bool, usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        any::<bool>().prop_map(Op::Export),
        (any::<bool>(), any::<usize>()).prop_map(|(a, i)| Op::Import(a, i)),
    ]
}

fn check_pair(a: &Side, b: &Side) {
    let (ca, cb) = (a.completed.as_ref().unwrap(), b.completed.as_ref().unwrap());
    assert_eq!(ca.info.identity, b.identity.verifying_key());
    assert_eq!(cb.info.identity, a.identity.verifying_key());
    assert_eq!(ca.agreed, cb.agreed);
    let l = PeriodLength::for_max_latency(Duration::from_secs(30)).unwrap();
    let mut ka = ca.transport_keys(TransportId::TOR, l).unwrap();
    let mut kb = cb.transport_keys(TransportId::TOR, l).unwrap();
    let s = ka.outgoing_mut().next_stream().unwrap();
    assert!(kb.incoming_mut().recognise(&s.tag).is_some());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    // At most 30 steps: a side that writes more than 32 files its peer never reads has
    // gone past the peer's reordering window (`spec/stream.md#reordering-window`).
    fn files_in_any_order_complete_both_sides(ops in prop::collection::vec(op(), 0..30), seed in any::<u64>()) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let (la, lb) = (AgreementSecretKey::from_bytes([21; 32]), AgreementSecretKey::from_bytes([22; 32]));
        let mut a = Side::new(21, "Alice", &lb, &mut rng);
        let mut b = Side::new(22, "Bob", &la, &mut rng);
        for (day, op) in ops.iter().enumerate() {
            let day = day as u64;
            match *op {
                Op::Export(true) => a.export(&lb, &mut rng),
                Op::Export(false) => b.export(&la, &mut rng),
                Op::Import(to_a, i) => {
                    let (me, peer, peer_link) = if to_a { (&mut a, &b, &lb) } else { (&mut b, &a, &la) };
                    if peer.written.is_empty() {
                        continue;
                    }
                    let i = i % peer.written.len();
                    let file = peer.written[i].clone();
                    let seen = me.read.contains(&i);
                    let accepted = me.import(peer_link, &file, i, day, &mut rng);
                    // A file read before is refused as a replay.
                    prop_assert!(!(seen && accepted), "a file was read twice");
                }
            }
        }
        // Then a fair relay: each side reads the other's latest file, three trips.
        for trip in 0..3u64 {
            let (from_a, day) = (trip % 2 == 0, 100 + trip);
            if from_a {
                a.export(&lb, &mut rng);
                let i = a.written.len() - 1;
                let file = a.written[i].clone();
                prop_assert!(b.import(&la, &file, i, day, &mut rng));
            } else {
                b.export(&la, &mut rng);
                let i = b.written.len() - 1;
                let file = b.written[i].clone();
                prop_assert!(a.import(&lb, &file, i, day, &mut rng));
            }
        }
        check_pair(&a, &b);
        prop_assert!(a.load(&lb).is_complete() && b.load(&la).is_complete());
    }
}
