//! The handshake over arbitrary peer input: the record reader over arbitrary bytes and
//! splits, every record it yields handed to a handshake, and saved states restored from
//! arbitrary bytes, and contact info decoded from arbitrary bytes. Never panics; a
//! refused record leaves the saved state unchanged; only the real peer's info completes
//! the handshake; no forged contact info is accepted.
#![no_main]

use bramble_proto::contact::{Handshake, HandshakeReader, Profile, Properties};
use bramble_proto::crypto::{AgreementSecretKey, SigningKey};
use bramble_proto::time::Timestamp;
use chacha20::ChaCha20Rng;
use chacha20::rand_core::SeedableRng;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (ours, theirs) = (
        AgreementSecretKey::from_bytes([1; 32]),
        AgreementSecretKey::from_bytes([2; 32]),
    );
    let identity = SigningKey::from_seed([3; 32]);
    let properties = Properties::new();
    let profile = Profile {
        link_key: &ours,
        identity: &identity,
        nickname: "fuzz",
        properties: &properties,
    };
    let mut rng = ChaCha20Rng::seed_from_u64(u64::from(data.first().copied().unwrap_or(0)));
    let Ok(mut handshake) = Handshake::start(&ours, &theirs.public_key(), &mut rng) else {
        return;
    };
    let now = Timestamp::from_millis(1_750_000_000_000).unwrap_or(Timestamp::EPOCH);

    let _ = Handshake::restore(&ours, &theirs.public_key(), data);
    // Contact info as it would be after opening: decoded or refused, never a panic; what
    // is accepted re-encodes (under a signature it cannot forge, so only refusals here).
    assert!(bramble_proto::contact::info::decode(data, &[0; 32]).is_err());

    let mut reader = HandshakeReader::new();
    let mut rest = data;
    while !rest.is_empty() {
        let take = usize::from(rest[0] % 64) + 1;
        let (piece, tail) = rest.split_at(take.min(rest.len()));
        rest = tail;
        let Ok(records) = reader.read(piece) else {
            return;
        };
        for record in records {
            let before = handshake.to_state();
            match handshake.handle(record, &profile, now, &mut rng) {
                Ok(done) => assert!(done.is_none(), "only the peer can complete"),
                Err(_) => assert_eq!(*handshake.to_state(), *before),
            }
            let state = handshake.to_state();
            let restored = Handshake::restore(&ours, &theirs.public_key(), &state);
            assert!(restored.is_ok_and(|r| *r.to_state() == *state));
        }
    }
    let _ = reader.finish();
});
