//! Engine steps on a real store, with time as an argument.

use std::time::Duration;

use bramble_proto::contact::PENDING_EXPIRY;
use bramble_proto::stream::StreamTag;
use bramble_proto::time::Timestamp;
use bramble_proto::transport::TransportId;
use bramble_store::{KdfParams, Store};
use chacha20::ChaCha20Rng;
use rand_core::SeedableRng;

use crate::ops;

fn store(dir: &std::path::Path, name: &str, rng: &mut ChaCha20Rng) -> Store {
    let params = KdfParams::new(256, 1, 1).unwrap();
    Store::create(&dir.join(name), name, "pw", params, t(0), rng).unwrap()
}

fn t(days: u64) -> Timestamp {
    Timestamp::from_millis(1_780_000_000_000 + days * 86_400_000).unwrap()
}

#[test]
fn pending_contacts_expire() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut a = store(dir.path(), "a", &mut rng);
    let b = store(dir.path(), "b", &mut rng);
    let link_b =
        bramble_proto::contact::Link::new(b.identity().unwrap().handshake_key.public_key());
    let id = ops::add_link(&mut a, &link_b.to_string(), "Bob", t(0), &mut rng).unwrap();
    let days = PENDING_EXPIRY.as_secs() / 86_400;
    assert!(ops::expire_pending(&mut a, t(days - 1)).unwrap().is_empty());
    assert_eq!(a.pending_contacts().unwrap().len(), 1);
    let just_before = t(days).checked_sub(Duration::from_millis(1)).unwrap();
    assert!(ops::expire_pending(&mut a, just_before).unwrap().is_empty());
    assert_eq!(ops::expire_pending(&mut a, t(days)).unwrap(), [id]);
    assert!(
        a.pending_contacts().unwrap().is_empty(),
        "removed with its secrets"
    );
    // The link may be added again.
    ops::add_link(&mut a, &link_b.to_string(), "Bob", t(days), &mut rng).unwrap();
}

#[test]
fn strangers_streams_are_not_recognised() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(2);
    let mut a = store(dir.path(), "a", &mut rng);
    let b = store(dir.path(), "b", &mut rng);
    let link_b =
        bramble_proto::contact::Link::new(b.identity().unwrap().handshake_key.public_key());
    ops::add_link(&mut a, &link_b.to_string(), "Bob", t(0), &mut rng).unwrap();
    let ctx = ops::Ctx::new([]);
    for tag in [[0u8; 16], [0xa5; 16]] {
        let r = ops::recognise(&mut a, &ctx, &TransportId::FILE, &StreamTag(tag), t(0)).unwrap();
        assert!(r.is_none());
    }
    // Files: the same, without a reply of any kind.
    let imported = ops::import_stream(&mut a, &ctx, &[0x42; 300], t(0), &mut rng).unwrap();
    assert!(matches!(imported, ops::Imported::Unrecognised));
}

#[test]
fn completing_again_after_a_crash_finds_the_same_contact() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let (mut a, mut b) = (
        store(dir.path(), "a", &mut rng),
        store(dir.path(), "b", &mut rng),
    );
    let link = |s: &Store| {
        bramble_proto::contact::Link::new(s.identity().unwrap().handshake_key.public_key())
            .to_string()
    };
    let pa = ops::add_link(&mut a, &link(&b), "Bob", t(0), &mut rng).unwrap();
    let pb = ops::add_link(&mut b, &link(&a), "Alice", t(0), &mut rng).unwrap();
    let ctx = ops::Ctx::new([]);
    let (to_b, _) = ops::export_streams(
        &mut a,
        &ctx,
        ops::Target::Pending(pa),
        t(0),
        false,
        &mut rng,
    )
    .unwrap();
    ops::import_stream(&mut b, &ctx, &to_b[0], t(0), &mut rng).unwrap();
    let (to_a, _) = ops::export_streams(
        &mut b,
        &ctx,
        ops::Target::Pending(pb),
        t(0),
        false,
        &mut rng,
    )
    .unwrap();
    let before = a.pending_contacts().unwrap().remove(0);
    let done = ops::import_stream(&mut a, &ctx, &to_a[0], t(0), &mut rng).unwrap();
    assert!(matches!(
        done,
        ops::Imported::Handshake {
            created: Some(_),
            damage: None,
            ..
        }
    ));
    // A crash after the contact was stored but before the handshake state was: the old
    // state comes back, and Bob's next file completes the handshake again.
    a.update_pending_contact(
        pa,
        before.state,
        before.handshake_state.as_deref().map(|s| &s[..]),
    )
    .unwrap();
    let (to_a, _) = ops::export_streams(
        &mut b,
        &ctx,
        ops::Target::Pending(pb),
        t(1),
        false,
        &mut rng,
    )
    .unwrap();
    let again = ops::import_stream(&mut a, &ctx, &to_a[0], t(1), &mut rng).unwrap();
    assert!(
        matches!(
            again,
            ops::Imported::Handshake {
                created: None,
                damage: None,
                ..
            }
        ),
        "{again:?}"
    );
    assert_eq!(a.contacts().unwrap().len(), 1);
    assert_eq!(a.pending_contacts().unwrap()[0].state, ops::STAGE_COMPLETE);
}

#[test]
fn a_transport_secret_is_made_once_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let mut a = store(dir.path(), "a", &mut rng);
    let tor = ops::transport_secret(&mut a, &TransportId::TOR, &mut rng).unwrap();
    assert_eq!(
        ops::transport_secret(&mut a, &TransportId::TOR, &mut rng).unwrap(),
        tor
    );
    let lan = ops::transport_secret(&mut a, &TransportId::LAN, &mut rng).unwrap();
    assert_ne!(lan, tor, "one secret per transport");
    drop(a);
    let mut a = Store::open(&dir.path().join("a"), "pw").unwrap();
    assert_eq!(
        ops::transport_secret(&mut a, &TransportId::TOR, &mut rng).unwrap(),
        tor,
        "kept across unlocks"
    );
    // A damaged value is refused, not replaced (that would change the onion address).
    a.set_setting(ops::TRANSPORT_SECRET, "tor", &[1, 2, 3])
        .unwrap();
    assert!(ops::transport_secret(&mut a, &TransportId::TOR, &mut rng).is_err());
    assert_eq!(
        a.setting(ops::TRANSPORT_SECRET, "tor").unwrap().unwrap(),
        [1, 2, 3]
    );
}

/// What `b` writes to `a` when it answers `a`'s first records, claiming `identity`.
fn forged_answer(
    a: &mut Store,
    pa: bramble_store::PendingContactId,
    b_link: &bramble_proto::crypto::AgreementSecretKey,
    identity: &bramble_proto::crypto::SigningKey,
    now: Timestamp,
    rng: &mut ChaCha20Rng,
) -> Vec<bramble_proto::contact::HandshakeRecord> {
    use bramble_proto::contact::{Handshake, HandshakeReader, Profile, Properties, Sent};
    let ctx = ops::Ctx::new([]);
    let first = ops::handshake_step(a, &ctx, pa, Vec::new(), Sent::default(), now, rng).unwrap();
    let from_a = HandshakeReader::new().read(&first.out).unwrap();
    let a_link = a.identity().unwrap().handshake_key.public_key();
    let mut b = Handshake::start(b_link, &a_link, rng).unwrap();
    let properties = Properties::new();
    let profile = Profile {
        link_key: b_link,
        identity,
        nickname: "Bob",
        properties: &properties,
    };
    // Only `a`'s ephemeral key: any info of `a`'s is sealed for an earlier answer.
    for r in from_a {
        if matches!(r, bramble_proto::contact::HandshakeRecord::Ephemeral(_)) {
            b.handle(r, &profile, now, rng).unwrap();
        }
    }
    let mut out = Vec::new();
    b.write_records(&mut Sent::default(), &mut out);
    HandshakeReader::new().read(&out).unwrap()
}

#[test]
fn a_refused_handshake_is_a_failure_until_the_peer_gets_it_right() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(4);
    let (mut a, b) = (
        store(dir.path(), "a", &mut rng),
        store(dir.path(), "b", &mut rng),
    );
    let b_id = b.identity().unwrap();
    let link_b = bramble_proto::contact::Link::new(b_id.handshake_key.public_key());
    let pa = ops::add_link(&mut a, &link_b.to_string(), "Bob", t(0), &mut rng).unwrap();
    let ctx = ops::Ctx::new([]);
    let a_identity = a.identity().unwrap().signing_key;

    // Bob's contact info names Alice's own identity: refused, and shown as why.
    let forged = forged_answer(&mut a, pa, &b_id.handshake_key, &a_identity, t(0), &mut rng);
    let step = ops::handshake_step(
        &mut a,
        &ctx,
        pa,
        forged,
        bramble_proto::contact::Sent::default(),
        t(0),
        &mut rng,
    )
    .unwrap();
    let why = "the contact info names our own identity";
    assert_eq!(step.refused.as_deref(), Some(why));
    assert!(step.created.is_none() && a.contacts().unwrap().is_empty());
    let shown = ops::pending_infos(&a).unwrap();
    assert_eq!(
        shown[0].state,
        crate::event::PendingState::Failed(why.into())
    );

    // It keeps its state and still completes when Bob's software answers properly.
    let honest = forged_answer(
        &mut a,
        pa,
        &b_id.handshake_key,
        &b_id.signing_key,
        t(1),
        &mut rng,
    );
    let step = ops::handshake_step(
        &mut a,
        &ctx,
        pa,
        honest,
        bramble_proto::contact::Sent::default(),
        t(1),
        &mut rng,
    )
    .unwrap();
    let contact = step.created.expect("completed");
    assert_eq!(
        ops::pending_infos(&a).unwrap()[0].state,
        crate::event::PendingState::Completed(contact)
    );
    assert_eq!(a.pending_contacts().unwrap()[0].failure, None);
}

#[test]
fn someone_already_a_contact_under_another_link_fails_without_a_second_contact() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let (mut a, b) = (
        store(dir.path(), "a", &mut rng),
        store(dir.path(), "b", &mut rng),
    );
    let b_id = b.identity().unwrap();
    let ctx = ops::Ctx::new([]);
    let sent = bramble_proto::contact::Sent::default;
    let link_b = bramble_proto::contact::Link::new(b_id.handshake_key.public_key());
    let pa = ops::add_link(&mut a, &link_b.to_string(), "Bob", t(0), &mut rng).unwrap();
    let honest = forged_answer(
        &mut a,
        pa,
        &b_id.handshake_key,
        &b_id.signing_key,
        t(0),
        &mut rng,
    );
    let bob = ops::handshake_step(&mut a, &ctx, pa, honest, sent(), t(0), &mut rng)
        .unwrap()
        .created
        .unwrap();

    // Another link that carries Bob's identity.
    let other = bramble_proto::crypto::AgreementSecretKey::generate(&mut rng);
    let link = bramble_proto::contact::Link::new(other.public_key());
    let p2 = ops::add_link(&mut a, &link.to_string(), "Bob again", t(1), &mut rng).unwrap();
    let before = a.pending_contacts().unwrap()[1].clone();
    let records = forged_answer(&mut a, p2, &other, &b_id.signing_key, t(1), &mut rng);
    let before_step = a.pending_contacts().unwrap()[1].clone();
    let step = ops::handshake_step(&mut a, &ctx, p2, records, sent(), t(1), &mut rng).unwrap();
    let why = "they are already your contact Bob, under another link";
    assert_eq!(step.refused.as_deref(), Some(why));
    assert!(step.out.is_empty() && step.created.is_none());
    assert_eq!(a.contacts().unwrap().len(), 1);
    assert_eq!(a.contacts().unwrap()[0].id, bob);
    let after = a.pending_contacts().unwrap()[1].clone();
    assert_eq!(after.failure.as_deref(), Some(why));
    // Its handshake state is as it was before the refused step.
    assert_eq!(after.handshake_state, before_step.handshake_state);
    assert_eq!(before.state, after.state);
    assert_eq!(
        ops::pending_infos(&a).unwrap()[1].state,
        crate::event::PendingState::Failed(why.into())
    );
}
