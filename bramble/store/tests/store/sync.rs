//! Sync sessions on the encrypted store, two accounts passing bytes by hand: durability,
//! delivery and read states, conversation order, retransmission across a restart.

use std::time::Duration;

use bramble_proto::crypto::AgreementPublicKey;
use bramble_proto::messaging::{self, DeliveryState};
use bramble_proto::stream::Role;
use bramble_proto::sync::record::{Record, RecordReader};
use bramble_proto::sync::{Mode, Session, SessionConfig};
use bramble_proto::time::Timestamp;
use bramble_store::{ContactId, NewContact, Store, StoreError};

use super::{PASSWORD, light, now, rng};

struct Account {
    _tmp: tempfile::TempDir,
    dir: std::path::PathBuf,
    store: Store,
    contact: ContactId,
}

/// Ada and Grace, contacts of each other.
fn pair() -> (Account, Account) {
    let make = |name: &str, seed| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(name);
        let store = Store::create(&dir, name, PASSWORD, light(), now(), &mut rng(seed)).unwrap();
        (tmp, dir, store)
    };
    let (ta, da, mut a) = make("ada", 1);
    let (tg, dg, mut g) = make("grace", 2);
    let add = |store: &mut Store, other: &Store, role| {
        let theirs = other.identity().unwrap().signing_key.verifying_key();
        store
            .add_contact(
                &NewContact {
                    nickname: "them",
                    alias: None,
                    signing_public: theirs,
                    handshake_public: AgreementPublicKey([role as u8 + 1; 32]),
                    role,
                    verified: false,
                    added_at: now(),
                },
                &[],
            )
            .unwrap()
    };
    let ca = add(&mut a, &g, Role::Alice);
    let cg = add(&mut g, &a, Role::Bob);
    (
        Account {
            _tmp: ta,
            dir: da,
            store: a,
            contact: ca,
        },
        Account {
            _tmp: tg,
            dir: dg,
            store: g,
            contact: cg,
        },
    )
}

fn session() -> Session {
    Session::new(SessionConfig {
        mode: Mode::Duplex,
        max_latency: Duration::from_secs(30),
        priority: None,
    })
}

fn at(ms: u64) -> Timestamp {
    Timestamp::from_millis(now().as_millis() + ms).unwrap()
}

impl Account {
    fn out(&mut self, s: &mut Session, t: Timestamp) -> Vec<u8> {
        let mut out = Vec::new();
        while s
            .poll_transmit(
                t,
                &mut self.store.sync_view(self.contact),
                &mut out,
                1 << 16,
            )
            .unwrap()
        {}
        out
    }

    fn input(&mut self, s: &mut Session, t: Timestamp, bytes: &[u8]) {
        s.handle_input(
            t,
            bytes,
            &mut self.store.sync_view(self.contact),
            &messaging::validators(),
        )
        .unwrap();
    }

    fn texts(&self) -> Vec<(bool, String)> {
        self.store
            .conversation(self.contact, None, 100)
            .unwrap()
            .into_iter()
            .map(|m| (m.ours, m.text))
            .collect()
    }
}

fn records(bytes: &[u8]) -> Vec<Record> {
    let mut r = RecordReader::new();
    let mut input = bytes;
    std::iter::from_fn(|| r.read(&mut input).unwrap()).collect()
}

#[test]
fn both_sides_share_one_conversation_group() {
    let (a, g) = pair();
    assert_eq!(
        a.store.conversation_group(a.contact).unwrap().id(),
        g.store.conversation_group(g.contact).unwrap().id()
    );
}

#[test]
fn messages_go_queued_sent_delivered_and_arrive_unread_in_order() {
    let (mut a, mut g) = pair();
    assert_eq!(a.store.last_activity(a.contact).unwrap(), None);
    let ids: Vec<_> = ["one", "two", "three"]
        .iter()
        .map(|t| a.store.send_private_message(a.contact, t, now()).unwrap())
        .collect();
    let state = |a: &Account, i: usize| a.store.delivery_state(ids[i], a.contact).unwrap();
    assert_eq!(state(&a, 0), Some(DeliveryState::Queued));
    // Same clock reading for all three: each is stamped after the one before.
    let shown = a.store.conversation(a.contact, None, 10).unwrap();
    assert!(shown.windows(2).all(|w| w[0].timestamp < w[1].timestamp));
    assert!(shown.iter().all(|m| m.ours && m.read));

    let (mut sa, mut sg) = (session(), session());
    let bytes = a.out(&mut sa, at(1));
    assert_eq!(state(&a, 2), Some(DeliveryState::Sent));
    g.input(&mut sg, at(2), &bytes);
    assert_eq!(
        g.texts(),
        [
            (false, "one".into()),
            (false, "two".into()),
            (false, "three".into())
        ]
    );
    assert_eq!(g.store.unread_count(g.contact).unwrap(), 3);
    let latest = shown.last().map(|m| m.timestamp);
    assert_eq!(a.store.last_activity(a.contact).unwrap(), latest);
    assert_eq!(g.store.last_activity(g.contact).unwrap(), latest);
    // The contact list in one call says the same for every contact, in contact order:
    // Ada's conversation, and an empty one with a contact added after her.
    let tmp = tempfile::tempdir().unwrap();
    let other = Store::create(
        &tmp.path().join("linus"),
        "linus",
        PASSWORD,
        light(),
        now(),
        &mut rng(3),
    )
    .unwrap();
    let linus = g
        .store
        .add_contact(
            &NewContact {
                nickname: "linus",
                alias: None,
                signing_public: other.identity().unwrap().signing_key.verifying_key(),
                handshake_public: AgreementPublicKey([7; 32]),
                role: Role::Bob,
                verified: false,
                added_at: now(),
            },
            &[],
        )
        .unwrap();
    let overview: Vec<_> = g
        .store
        .contact_overview()
        .unwrap()
        .into_iter()
        .map(|(c, unread, last)| (c.id, unread, last))
        .collect();
    assert_eq!(overview, [(g.contact, 3, latest), (linus, 0, None)]);
    let reply = g.out(&mut sg, at(2));
    a.input(&mut sa, at(3), &reply);
    assert!((0..3).all(|i| state(&a, i) == Some(DeliveryState::Delivered)));
    g.store.mark_conversation_read(g.contact).unwrap();
    assert_eq!(g.store.unread_count(g.contact).unwrap(), 0);
    assert_eq!(g.store.contact_overview().unwrap()[0].1, 0);
    assert!(
        g.store
            .conversation(g.contact, None, 10)
            .unwrap()
            .iter()
            .all(|m| m.read)
    );
}

#[test]
fn pages_of_a_conversation_follow_timestamp_then_identifier() {
    let (mut a, _g) = pair();
    let group = a.store.conversation_group(a.contact).unwrap().id();
    // Five messages with one timestamp (as a contact's could have), three later.
    for i in 0..8u64 {
        let t = if i < 5 { at(10) } else { at(10 + i) };
        let m = messaging::text_message(group, t, &format!("m{i}")).unwrap();
        a.store.add_local_message(&m, now()).unwrap();
    }
    let all = a.store.conversation(a.contact, None, 100).unwrap();
    assert_eq!(all.len(), 8);
    assert!(
        all.windows(2)
            .all(|w| (w[0].timestamp, w[0].id) < (w[1].timestamp, w[1].id))
    );
    // Paging backwards from the end gives the same order, page by page.
    let mut pages = Vec::new();
    let mut before = None;
    loop {
        let page = a.store.conversation(a.contact, before, 3).unwrap();
        if page.is_empty() {
            break;
        }
        before = Some((page[0].timestamp, page[0].id));
        pages.splice(0..0, page);
    }
    assert_eq!(pages, all);
}

#[test]
fn bad_texts_are_refused_and_nothing_is_stored() {
    let (mut a, _g) = pair();
    for bad in [
        "",
        "\u{1b}[31mred",
        &"x".repeat(messaging::MAX_TEXT_LEN + 1),
    ] {
        let err = a
            .store
            .send_private_message(a.contact, bad, now())
            .unwrap_err();
        assert!(matches!(err, StoreError::InvalidInput(_)), "{err}");
    }
    assert!(
        a.store
            .conversation(a.contact, None, 10)
            .unwrap()
            .is_empty()
    );
    let nobody = ContactId(999);
    assert!(a.store.send_private_message(nobody, "hi", now()).is_err());
}

#[test]
fn retransmission_state_survives_a_restart() {
    let (mut a, mut g) = pair();
    let id = a
        .store
        .send_private_message(a.contact, "lost", now())
        .unwrap();
    let mut sa = session();
    let lost = a.out(&mut sa, at(0));
    assert!(
        records(&lost)
            .iter()
            .any(|r| matches!(r, Record::Message(_)))
    );
    drop(sa);
    // A restart: the account is closed and opened again.
    let Account {
        _tmp,
        dir,
        store,
        contact,
    } = a;
    drop(store);
    let store = Store::open(&dir, PASSWORD).unwrap();
    let mut a = Account {
        _tmp,
        dir,
        store,
        contact,
    };
    assert_eq!(
        a.store.delivery_state(id, a.contact).unwrap(),
        Some(DeliveryState::Sent)
    );
    // Not due before its expiry, a minute later...
    let (mut sa, mut sg) = (session(), session());
    let early = a.out(&mut sa, at(30_000));
    assert!(
        records(&early)
            .iter()
            .all(|r| !matches!(r, Record::Message(_) | Record::Offer(_)))
    );
    assert_eq!(sa.poll_timeout(), Some(at(60_000)));
    // ...then offered, requested, sent and acknowledged.
    sa.handle_timeout(at(60_000));
    let offer = a.out(&mut sa, at(60_000));
    assert!(records(&offer).contains(&Record::Offer(vec![id])));
    g.input(&mut sg, at(60_001), &[early, offer].concat());
    for _ in 0..3 {
        let x = g.out(&mut sg, at(60_002));
        a.input(&mut sa, at(60_003), &x);
        let y = a.out(&mut sa, at(60_003));
        g.input(&mut sg, at(60_004), &y);
    }
    assert_eq!(g.texts(), [(false, "lost".to_string())]);
    assert_eq!(
        a.store.delivery_state(id, a.contact).unwrap(),
        Some(DeliveryState::Delivered)
    );
}

#[test]
fn a_batch_stream_carries_everything_unacknowledged_and_its_acks_come_back() {
    let (mut a, mut g) = pair();
    for t in ["one", "two"] {
        a.store.send_private_message(a.contact, t, now()).unwrap();
    }
    let batch = |mode| {
        Session::new(SessionConfig {
            mode,
            max_latency: Duration::from_secs(28 * 86_400),
            priority: None,
        })
    };
    let mut out = batch(Mode::SendOnly);
    let file = a.out(&mut out, at(1));
    assert!(out.is_finished());
    let mut read = batch(Mode::ReceiveOnly);
    g.input(&mut read, at(2), &file);
    read.close(&mut g.store.sync_view(g.contact)).unwrap();
    assert_eq!(g.texts().len(), 2);
    let mut back = batch(Mode::SendOnly);
    let file = g.out(&mut back, at(3));
    let mut read = batch(Mode::ReceiveOnly);
    a.input(&mut read, at(4), &file);
    let shown = a.store.conversation(a.contact, None, 10).unwrap();
    assert!(
        shown
            .iter()
            .all(|m| m.delivery == Some(DeliveryState::Delivered))
    );
}

#[test]
fn our_timestamps_follow_our_own_messages_not_a_contact_clock_ahead() {
    let (mut a, mut g) = pair();
    // Grace's clock is 20 hours ahead.
    let ahead = at(20 * 3_600_000);
    g.store
        .send_private_message(g.contact, "from the future", ahead)
        .unwrap();
    let (mut sa, mut sg) = (session(), session());
    let bytes = g.out(&mut sg, ahead);
    a.input(&mut sa, at(1), &bytes);
    assert_eq!(a.texts().len(), 1);
    a.store
        .send_private_message(a.contact, "reply", at(2))
        .unwrap();
    let shown = a.store.conversation(a.contact, None, 10).unwrap();
    let reply = shown.iter().find(|m| m.ours).unwrap();
    assert_eq!(
        reply.timestamp,
        at(2),
        "not pushed after the contact's timestamp"
    );
}

#[test]
fn a_message_stored_unvalidated_is_validated_when_it_comes_again() {
    use bramble_proto::sync::MessageState;
    use bramble_store::{NewMessage, StatusInit};
    let (mut a, mut g) = pair();
    a.store
        .send_private_message(a.contact, "again", now())
        .unwrap();
    let mut sa = session();
    let bytes = a.out(&mut sa, at(1));
    // Grace's store holds it as unknown (as an older version could have left it).
    let message = records(&bytes)
        .into_iter()
        .find_map(|r| match r {
            Record::Message(m) => Some(m),
            _ => None,
        })
        .unwrap();
    let raw = message.to_raw();
    g.store
        .add_messages(&[(
            NewMessage {
                id: message.id(),
                group: message.group,
                timestamp: message.timestamp,
                raw: &raw,
                local: false,
                state: MessageState::Unknown,
                shared: false,
                received_at: now(),
                metadata: &[],
                dependencies: &[],
            },
            &[StatusInit {
                contact: g.contact,
                ack: false,
                seen: true,
            }][..],
        )])
        .unwrap();
    assert!(g.texts().is_empty());
    let mut sg = session();
    g.input(&mut sg, at(2), &bytes);
    assert_eq!(g.texts(), [(false, "again".to_string())]);
    let reply = g.out(&mut sg, at(2));
    a.input(&mut sa, at(3), &reply);
    let shown = a.store.conversation(a.contact, None, 10).unwrap();
    assert_eq!(shown[0].delivery, Some(DeliveryState::Delivered));
}
