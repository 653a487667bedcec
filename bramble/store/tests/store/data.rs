//! Contacts, stream keys, properties, groups, messages and settings round-trip.

use std::collections::BTreeMap;
use std::time::Duration;

use bramble_proto::crypto::{AgreementSecretKey, SecretKey, SigningKey};
use bramble_proto::ids::{GroupId, MessageId};
use bramble_proto::stream::{Role, RootKey, TransportKeys};
use bramble_proto::time::{Period, PeriodLength, Timestamp};
use bramble_proto::transport::TransportId;
use bramble_store::{
    ContactId, MessageState, NewContact, NewMessage, StatusInit, Store, StoreError, Visibility,
};

use super::{PASSWORD, account, now, rng};

pub(crate) fn keys(seed: u8, transport: TransportId) -> TransportKeys {
    let root = RootKey::new(SecretKey::from_bytes([seed; 32]));
    let len = PeriodLength::for_max_latency(Duration::from_secs(30)).unwrap();
    TransportKeys::derive(&root, Role::Alice, transport, len, Period(20_000)).unwrap()
}

pub(crate) fn add_contact(store: &mut Store, seed: u64, transports: &[TransportKeys]) -> ContactId {
    let signing = SigningKey::generate(&mut rng(seed));
    let handshake = AgreementSecretKey::generate(&mut rng(seed + 1000));
    let states: Vec<_> = transports.iter().map(TransportKeys::to_state).collect();
    store
        .add_contact(
            &NewContact {
                nickname: "grace",
                alias: Some("G"),
                signing_public: signing.verifying_key(),
                handshake_public: handshake.public_key(),
                role: Role::Alice,
                verified: false,
                added_at: now(),
            },
            &states,
        )
        .unwrap()
}

#[test]
fn contacts_round_trip() {
    let (_tmp, dir, mut store) = account();
    let id = add_contact(&mut store, 7, &[]);
    let c = store.contact(id).unwrap().unwrap();
    assert_eq!(
        (c.nickname.as_str(), c.alias.as_deref(), c.verified),
        ("grace", Some("G"), false)
    );
    store.set_contact_verified(id, true).unwrap();
    store.set_contact_alias(id, None).unwrap();
    drop(store);
    let store = Store::open(&dir, PASSWORD).unwrap();
    let c = store.contacts().unwrap();
    assert_eq!(c.len(), 1);
    assert!(c[0].verified && c[0].alias.is_none());
    assert_eq!(c[0].role, Role::Alice);
}

#[test]
fn the_same_identity_cannot_be_added_twice() {
    let (_tmp, _dir, mut store) = account();
    add_contact(&mut store, 7, &[]);
    let signing = SigningKey::generate(&mut rng(7));
    let err = store
        .add_contact(
            &NewContact {
                nickname: "again",
                alias: None,
                signing_public: signing.verifying_key(),
                handshake_public: AgreementSecretKey::generate(&mut rng(9)).public_key(),
                role: Role::Bob,
                verified: false,
                added_at: now(),
            },
            &[],
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput(_)));
    assert_eq!(store.contacts().unwrap().len(), 1);
}

#[test]
fn stream_keys_round_trip_and_rotate_in_place() {
    let (_tmp, dir, mut store) = account();
    let tor = keys(1, TransportId::TOR);
    let lan = keys(2, TransportId::LAN);
    let id = add_contact(&mut store, 1, &[tor, lan]);
    let loaded = store
        .transport_keys(id, &TransportId::TOR)
        .unwrap()
        .unwrap();
    let mut tor = TransportKeys::from_state(loaded).unwrap();
    assert_eq!(tor.period(), Period(20_000));

    // Take a stream number and persist the counter before use.
    let s = tor.outgoing_mut().next_stream().unwrap();
    store
        .save_outgoing_counter(
            id,
            &TransportId::TOR,
            s.period,
            tor.outgoing().next_stream_number(),
        )
        .unwrap();
    // A counter may never go back.
    assert!(
        store
            .save_outgoing_counter(id, &TransportId::TOR, s.period, 0)
            .is_err()
    );

    let tor = tor.rotate_to(Period(20_003)).unwrap();
    store.save_transport_keys(&[(id, &tor.to_state())]).unwrap();
    assert!(
        store
            .save_outgoing_counter(id, &TransportId::TOR, Period(20_000), 9)
            .is_err()
    );
    drop(store);

    let store = Store::open(&dir, PASSWORD).unwrap();
    let back = TransportKeys::from_state(
        store
            .transport_keys(id, &TransportId::TOR)
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(back.period(), Period(20_003));
    assert_eq!(back.outgoing().next_stream_number(), 0);
    let (a, b) = (back.to_state(), tor.to_state());
    assert_eq!(a.outgoing.secret, b.outgoing.secret);
    for i in 0..3 {
        assert_eq!(a.incoming[i].period, b.incoming[i].period);
        assert_eq!(a.incoming[i].secret, b.incoming[i].secret);
    }
    assert_eq!(store.all_transport_keys().unwrap().len(), 2);
    assert!(
        store
            .transport_keys(id, &TransportId::BLE)
            .unwrap()
            .is_none()
    );
}

#[test]
fn windows_persist() {
    let (_tmp, dir, mut store) = account();
    let alice = keys(3, TransportId::LAN);
    let id = add_contact(&mut store, 3, &[alice]);
    let root = RootKey::new(SecretKey::from_bytes([3; 32]));
    let len = PeriodLength::for_max_latency(Duration::from_secs(30)).unwrap();
    let mut bob =
        TransportKeys::derive(&root, Role::Bob, TransportId::LAN, len, Period(20_000)).unwrap();
    let mut stored = TransportKeys::from_state(
        store
            .transport_keys(id, &TransportId::LAN)
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    let tag = bob.outgoing_mut().next_stream().unwrap().tag;
    let incoming = stored.incoming_mut().recognise(&tag).unwrap();
    let state = stored.to_state();
    let slot = state
        .incoming
        .iter()
        .find(|p| p.period == incoming.period)
        .unwrap();
    store
        .save_incoming_window(
            id,
            &TransportId::LAN,
            incoming.period,
            slot.window_base,
            slot.window_seen,
        )
        .unwrap();
    drop(store);
    let store = Store::open(&dir, PASSWORD).unwrap();
    let mut again = TransportKeys::from_state(
        store
            .transport_keys(id, &TransportId::LAN)
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert!(
        again.incoming_mut().recognise(&tag).is_none(),
        "a replay after restart is refused"
    );
}

#[test]
fn properties_and_settings() {
    let (_tmp, dir, mut store) = account();
    let id = add_contact(&mut store, 4, &[]);
    let props: BTreeMap<String, String> = [("onion".to_owned(), "abc".to_owned())].into();
    store
        .set_local_properties(&TransportId::TOR, &props)
        .unwrap();
    store
        .set_contact_properties(id, &TransportId::TOR, &props)
        .unwrap();
    store.set_setting("ui", "bell", b"1").unwrap();
    store.set_setting("ui", "bell", b"0").unwrap();
    drop(store);
    let mut store = Store::open(&dir, PASSWORD).unwrap();
    assert_eq!(store.local_properties(&TransportId::TOR).unwrap(), props);
    assert_eq!(
        store.contact_properties(id, &TransportId::TOR).unwrap(),
        props
    );
    assert!(
        store
            .contact_properties(id, &TransportId::LAN)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.setting("ui", "bell").unwrap().as_deref(),
        Some(&b"0"[..])
    );
    store.remove_setting("ui", "bell").unwrap();
    assert_eq!(store.setting("ui", "bell").unwrap(), None);
}

pub(crate) fn message(n: u8, group: GroupId, raw: &[u8]) -> NewMessage<'_> {
    NewMessage {
        id: MessageId([n; 32]),
        group,
        timestamp: Timestamp::from_millis(1_763_769_600_000 + u64::from(n)).unwrap(),
        raw,
        local: false,
        state: MessageState::Delivered,
        shared: false,
        received_at: now(),
        metadata: &[("kind", b"text")],
        dependencies: &[],
    }
}

#[test]
fn messages_with_their_states() {
    let (_tmp, dir, mut store) = account();
    let id = add_contact(&mut store, 5, &[]);
    let group = GroupId([9; 32]);
    store
        .add_group(group, "org.thicket.messaging", 0, b"descriptor")
        .unwrap();
    store
        .set_group_visibility(id, group, Visibility::Shared)
        .unwrap();
    let status = [StatusInit {
        contact: id,
        ack: true,
        seen: true,
    }];
    let batch = [
        (message(1, group, b"first"), &status[..]),
        (message(2, group, b"second"), &status[..]),
    ];
    assert_eq!(store.add_messages(&batch).unwrap(), 2);
    assert_eq!(
        store.add_messages(&batch).unwrap(),
        0,
        "duplicates are skipped"
    );
    store
        .record_transmission(MessageId([1; 32]), id, 30_000, 99_000)
        .unwrap();
    drop(store);

    let mut store = Store::open(&dir, PASSWORD).unwrap();
    assert_eq!(
        store.group_visibility(id, group).unwrap(),
        Visibility::Shared
    );
    assert_eq!(
        store.message_raw(MessageId([1; 32])).unwrap().as_deref(),
        Some(&b"first"[..])
    );
    let s = store
        .message_status(MessageId([1; 32]), id)
        .unwrap()
        .unwrap();
    assert_eq!(
        (s.ack, s.seen, s.tx_count, s.expiry, s.max_latency),
        (true, true, 1, 99_000, Some(30_000))
    );
    assert_eq!(
        store.message_metadata(MessageId([2; 32])).unwrap()["kind"],
        b"text"
    );

    store.delete_message(MessageId([1; 32])).unwrap();
    assert_eq!(store.message_raw(MessageId([1; 32])).unwrap(), None);
    assert!(
        store.has_message(MessageId([1; 32])).unwrap(),
        "a tombstone stays"
    );
    assert!(
        store
            .message_metadata(MessageId([1; 32]))
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.add_messages(&batch[..1]).unwrap(),
        0,
        "a deleted message is not taken back"
    );

    store.remove_contact(id).unwrap();
    assert!(store.contacts().unwrap().is_empty());
    assert_eq!(store.message_status(MessageId([2; 32]), id).unwrap(), None);
}

#[test]
fn stream_keys_never_move_backwards() {
    let (_tmp, _dir, mut store) = account();
    let alice = keys(6, TransportId::TOR);
    let id = add_contact(&mut store, 6, &[alice]);
    fn store_keys(store: &Store, id: ContactId) -> bramble_proto::stream::TransportKeysState {
        store
            .transport_keys(id, &TransportId::TOR)
            .unwrap()
            .unwrap()
    }
    let stored = |store: &Store| TransportKeys::from_state(store_keys(store, id)).unwrap();
    // Take two streams, save, then try to save the state from before them.
    let before = stored(&store);
    let mut after = stored(&store);
    after.outgoing_mut().next_stream().unwrap();
    after.outgoing_mut().next_stream().unwrap();
    store
        .save_transport_keys(&[(id, &after.to_state())])
        .unwrap();
    let err = store
        .save_transport_keys(&[(id, &before.to_state())])
        .unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidInput(_)),
        "counter went back: {err}"
    );
    assert_eq!(store_keys(&store, id).outgoing.next_stream, 2);

    // Rotate, save, then try to save the unrotated state: erased keys would come back.
    let rotated = stored(&store).rotate_to(Period(20_002)).unwrap();
    store
        .save_transport_keys(&[(id, &rotated.to_state())])
        .unwrap();
    let err = store
        .save_transport_keys(&[(id, &after.to_state())])
        .unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidInput(_)),
        "period went back: {err}"
    );
    assert_eq!(store_keys(&store, id).outgoing.period, Period(20_002));

    // A window that forgets a stream it has seen is refused.
    let root = RootKey::new(SecretKey::from_bytes([6; 32]));
    let len = PeriodLength::for_max_latency(Duration::from_secs(30)).unwrap();
    let mut bob = TransportKeys::derive(&root, Role::Bob, TransportId::TOR, len, Period(20_000))
        .unwrap()
        .rotate_to(Period(20_002))
        .unwrap();
    let tag = bob.outgoing_mut().next_stream().unwrap().tag;
    let mut seen = stored(&store);
    let incoming = seen.incoming_mut().recognise(&tag).unwrap();
    let state = seen.to_state();
    let w = state
        .incoming
        .iter()
        .find(|p| p.period == incoming.period)
        .unwrap();
    store
        .save_incoming_window(
            id,
            &TransportId::TOR,
            incoming.period,
            w.window_base,
            w.window_seen,
        )
        .unwrap();
    let err = store
        .save_incoming_window(id, &TransportId::TOR, incoming.period, 0, 0)
        .unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidInput(_)),
        "window forgot: {err}"
    );
    let err = store
        .save_transport_keys(&[(id, &rotated.to_state())])
        .unwrap_err();
    assert!(
        matches!(err, StoreError::InvalidInput(_)),
        "whole state with the old window: {err}"
    );
    let mut again = stored(&store);
    assert!(
        again.incoming_mut().recognise(&tag).is_none(),
        "the stream stays seen"
    );
}

#[test]
fn names_from_contacts_are_checked() {
    let (_tmp, _dir, mut store) = account();
    let signing = SigningKey::generate(&mut rng(50));
    for (nickname, alias) in [
        ("evil\u{1b}[2J", None),
        ("ok", Some("\u{202e}fdp.exe")),
        ("", None),
    ] {
        let err = store
            .add_contact(
                &NewContact {
                    nickname,
                    alias,
                    signing_public: signing.verifying_key(),
                    handshake_public: AgreementSecretKey::generate(&mut rng(51)).public_key(),
                    role: Role::Bob,
                    verified: false,
                    added_at: now(),
                },
                &[],
            )
            .unwrap_err();
        assert!(
            matches!(err, StoreError::InvalidInput(_)),
            "{nickname:?} {alias:?}"
        );
    }
    assert!(store.contacts().unwrap().is_empty());
    let id = add_contact(&mut store, 52, &[]);
    assert!(store.set_contact_alias(id, Some("a\u{7}")).is_err());
    let link = AgreementSecretKey::generate(&mut rng(53)).public_key();
    assert!(
        store
            .add_pending_contact(&link, "\u{2066}x", now())
            .is_err()
    );
}

#[test]
fn a_pending_contacts_failure_lasts_until_its_handshake_moves_on() {
    let (_tmp, dir, mut store) = account();
    let link = AgreementSecretKey::generate(&mut rng(60)).public_key();
    let id = store.add_pending_contact(&link, "kim", now()).unwrap();
    assert_eq!(store.pending_contacts().unwrap()[0].failure, None);
    for bad in ["", "two\nlines", &"x".repeat(513)] {
        assert!(matches!(
            store.set_pending_failure(id, Some(bad)),
            Err(StoreError::InvalidInput(_))
        ));
    }
    store.set_pending_failure(id, Some("refused")).unwrap();
    // The same stage with a new state (stream counters) keeps it, across a reopen.
    store.update_pending_contact(id, 0, Some(&[1, 2])).unwrap();
    drop(store);
    let mut store = Store::open(&dir, PASSWORD).unwrap();
    let p = store.pending_contacts().unwrap().remove(0);
    assert_eq!(
        (
            p.failure.as_deref(),
            p.handshake_state.as_deref().map(Vec::as_slice)
        ),
        (Some("refused"), Some(&[1u8, 2][..]))
    );
    // The next stage clears it.
    store.update_pending_contact(id, 1, Some(&[3])).unwrap();
    assert_eq!(store.pending_contacts().unwrap()[0].failure, None);
    store.set_pending_failure(id, Some("again")).unwrap();
    store.set_pending_failure(id, None).unwrap();
    assert_eq!(store.pending_contacts().unwrap()[0].failure, None);
}
