//! Sync sessions against the in-memory store: two peers with the bytes passed by hand.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use core::time::Duration;

use bramble_proto::ids::{GroupId, MessageId};
use bramble_proto::messaging;
use bramble_proto::sync::memory::MemoryStore;
use bramble_proto::sync::record::{self, Range, Record, RecordReader};
use bramble_proto::sync::session::{
    MAX_IN_FLIGHT, MAX_OFFERED, MAX_PENDING, MAX_QUEUED_ACKS, expiry,
};
use bramble_proto::sync::{
    ClientId, Group, Invalid, Message, Mode, PeerError, Session, SessionConfig, SyncError,
    SyncEvent, Validated, Validator, Validators, Visibility,
};
use bramble_proto::time::Timestamp;

const A: u64 = 1; // Bob's contact id for Alice
const B: u64 = 2; // Alice's contact id for Bob
const TOR: Duration = Duration::from_secs(30);

fn t(ms: u64) -> Timestamp {
    Timestamp::from_millis(1_700_000_000_000 + ms).unwrap()
}

fn duplex(priority: bool) -> Session {
    Session::new(SessionConfig {
        mode: Mode::Duplex,
        max_latency: TOR,
        priority: priority.then_some([7; 16]),
    })
}

fn batch(mode: Mode) -> Session {
    Session::new(SessionConfig {
        mode,
        max_latency: Duration::from_secs(28 * 86_400),
        priority: None,
    })
}

struct Peer {
    store: MemoryStore,
    contact: u64,
    group: GroupId,
}

/// Alice and Bob sharing one conversation group.
fn pair() -> (Peer, Peer) {
    let group = Group::new(
        messaging::CLIENT,
        messaging::MAJOR_VERSION,
        b"pair".to_vec(),
    )
    .unwrap();
    let mut a = MemoryStore::new();
    let mut b = MemoryStore::new();
    let id = a.add_group(group.clone());
    b.add_group(group);
    a.set_visibility(B, id, Visibility::Shared);
    b.set_visibility(A, id, Visibility::Shared);
    (
        Peer {
            store: a,
            contact: B,
            group: id,
        },
        Peer {
            store: b,
            contact: A,
            group: id,
        },
    )
}

impl Peer {
    fn say(&mut self, at: Timestamp, text: &str) -> MessageId {
        let m = messaging::text_message(self.group, at, text).unwrap();
        self.store.add_local_message(&m)
    }

    fn out(&mut self, s: &mut Session, now: Timestamp) -> Vec<u8> {
        let mut out = Vec::new();
        while s
            .poll_transmit(now, &mut self.store.view(self.contact), &mut out, 1 << 16)
            .unwrap()
        {}
        out
    }

    fn input(&mut self, s: &mut Session, now: Timestamp, bytes: &[u8]) {
        s.handle_input(
            now,
            bytes,
            &mut self.store.view(self.contact),
            &messaging::validators(),
        )
        .unwrap();
    }

    fn shown(&self) -> Vec<String> {
        self.store
            .conversation(&self.group)
            .into_iter()
            .filter(|(_, _, local)| !local)
            .map(|(_, m, _)| messaging::parse_text(m.body()).unwrap())
            .collect()
    }

    fn seen(&self, id: &MessageId) -> bool {
        self.store.status(id, self.contact).unwrap().seen
    }
}

fn records(bytes: &[u8]) -> Vec<Record> {
    let mut reader = RecordReader::new();
    let mut input = bytes;
    let mut out = Vec::new();
    while let Some(r) = reader.read(&mut input).unwrap() {
        out.push(r);
    }
    out
}

fn events(s: &mut Session) -> Vec<SyncEvent> {
    core::iter::from_fn(|| s.poll_event()).collect()
}

/// Runs a duplex connection until neither side has anything to say.
fn converse(a: &mut Peer, sa: &mut Session, b: &mut Peer, sb: &mut Session, now: Timestamp) {
    for _ in 0..20 {
        let x = a.out(sa, now);
        let y = b.out(sb, now);
        if x.is_empty() && y.is_empty() {
            return;
        }
        b.input(sb, now, &x);
        a.input(sa, now, &y);
    }
    panic!("the conversation did not settle");
}

#[test]
fn fresh_messages_are_sent_at_once_and_acknowledged_by_number() {
    let (mut a, mut b) = pair();
    let ids: Vec<_> = (0..3).map(|i| a.say(t(i), &format!("m{i}"))).collect();
    let (mut sa, mut sb) = (duplex(true), duplex(false));
    let first = a.out(&mut sa, t(10));
    let kinds: Vec<_> = records(&first)
        .into_iter()
        .map(|r| format!("{r:?}"))
        .collect();
    assert!(
        kinds[0].starts_with("Versions") && kinds[1].starts_with("Priority"),
        "{kinds:?}"
    );
    assert_eq!(kinds.iter().filter(|k| k.starts_with("Message")).count(), 3);
    assert!(
        !kinds.iter().any(|k| k.starts_with("Offer")),
        "fresh messages are not offered"
    );
    b.input(&mut sb, t(11), &first);
    assert_eq!(b.shown(), ["m0", "m1", "m2"]);
    let delivered: Vec<_> = events(&mut sb)
        .into_iter()
        .filter_map(|e| match e {
            SyncEvent::Delivered { id, .. } => Some(id),
            SyncEvent::PeerPriority(p) => {
                assert_eq!(p, [7; 16]);
                None
            }
            _ => None,
        })
        .collect();
    assert_eq!(delivered, ids);
    let reply = b.out(&mut sb, t(11));
    assert_eq!(
        records(&reply)[1],
        Record::Received(vec![Range { first: 0, count: 3 }])
    );
    assert!(ids.iter().all(|id| !a.seen(id)));
    a.input(&mut sa, t(12), &reply);
    assert!(ids.iter().all(|id| a.seen(id)));
    assert!(events(&mut sa).contains(&SyncEvent::Acknowledged(ids.clone())));
    // Acknowledged: nothing is ever sent again.
    assert!(a.out(&mut sa, t(10_000_000)).is_empty());
    assert_eq!(sa.poll_timeout(), None);
}

#[test]
fn a_writer_waits_for_received_once_its_window_is_full() {
    let (mut a, mut b) = pair();
    let n = MAX_IN_FLIGHT + 500;
    let ids: Vec<_> = (0..n)
        .map(|i| a.say(t(i as u64), &format!("m{i}")))
        .collect();
    let (mut sa, mut sb) = (duplex(false), duplex(false));
    // Alice writes until the window is full, then waits.
    let first = a.out(&mut sa, t(n as u64));
    let written = records(&first)
        .iter()
        .filter(|r| matches!(r, Record::Message(_)))
        .count();
    assert_eq!(written, MAX_IN_FLIGHT);
    assert!(
        a.out(&mut sa, t(n as u64)).is_empty(),
        "nothing more until RECEIVED"
    );
    // Bob's RECEIVED makes room: the rest follow, in the same connection, and every
    // message is acknowledged; none waits for a retransmission.
    b.input(&mut sb, t(n as u64), &first);
    let reply = b.out(&mut sb, t(n as u64));
    a.input(&mut sa, t(n as u64), &reply);
    converse(&mut a, &mut sa, &mut b, &mut sb, t(n as u64 + 1));
    assert_eq!(b.shown().len(), n);
    assert!(ids.iter().all(|id| a.seen(id)), "all acknowledged");
}

#[test]
fn a_lost_message_is_offered_when_it_expires_then_requested() {
    let (mut a, mut b) = pair();
    let id = a.say(t(0), "lost once");
    let mut sa = duplex(true);
    let lost = a.out(&mut sa, t(1));
    assert!(!lost.is_empty());
    assert_eq!(a.store.status(&id, B).unwrap().tx_count, 1);
    // The connection dies; a new one before the expiry offers nothing.
    let (mut sa, mut sb) = (duplex(true), duplex(false));
    let early = a.out(&mut sa, t(30_000));
    assert!(
        records(&early)
            .iter()
            .all(|r| !matches!(r, Record::Offer(_) | Record::Message(_)))
    );
    assert_eq!(sa.poll_timeout(), Some(expiry(t(1), 30_000, 0)));
    // At the expiry: offer, request, send, acknowledge.
    let due = t(1 + 60_000);
    sa.handle_timeout(due);
    let offer = a.out(&mut sa, due);
    assert!(records(&offer).contains(&Record::Offer(vec![id])));
    b.input(&mut sb, due, &early);
    b.input(&mut sb, due, &offer);
    let request = b.out(&mut sb, due);
    assert!(records(&request).contains(&Record::Request(vec![id])));
    a.input(&mut sa, due, &request);
    converse(&mut a, &mut sa, &mut b, &mut sb, due);
    assert_eq!(b.shown(), ["lost once"]);
    assert!(a.seen(&id));
    assert_eq!(a.store.status(&id, B).unwrap().tx_count, 3);
}

#[test]
fn backoff_doubles_and_a_faster_transport_resends_at_once() {
    assert_eq!(expiry(t(0), 30_000, 0), t(60_000));
    assert_eq!(expiry(t(0), 30_000, 1), t(120_000));
    assert_eq!(expiry(t(0), 30_000, 30), expiry(t(0), 30_000, 10));
    assert_eq!(expiry(t(0), 0, 0), t(10_000));
    let (mut a, mut b) = pair();
    let id = a.say(t(0), "by hand");
    // Carried on a file first (28 days of latency)...
    let mut file = batch(Mode::SendOnly);
    let bytes = a.out(&mut file, t(1));
    assert!(file.is_finished());
    assert_eq!(
        a.store.status(&id, B).unwrap().max_latency,
        Some(28 * 86_400_000)
    );
    // ...which is lost; Tor comes up: offered at once despite the expiry in 56 days.
    drop(bytes);
    let (mut sa, mut sb) = (duplex(true), duplex(false));
    let now = t(1000);
    let out = a.out(&mut sa, now);
    assert!(records(&out).contains(&Record::Offer(vec![id])));
    b.input(&mut sb, now, &out);
    converse(&mut a, &mut sa, &mut b, &mut sb, now);
    assert_eq!(b.shown(), ["by hand"]);
}

#[test]
fn batch_streams_converge_with_acks_coming_back_later() {
    let (mut a, mut b) = pair();
    let ids: Vec<_> = (0..5).map(|i| a.say(t(i), &format!("m{i}"))).collect();
    let mut out = batch(Mode::SendOnly);
    let file1 = a.out(&mut out, t(10));
    assert!(out.is_finished());
    // Eager: the next file carries everything unacknowledged again.
    let mut out = batch(Mode::SendOnly);
    let file2 = a.out(&mut out, t(20));
    assert_eq!(
        records(&file2)
            .iter()
            .filter(|r| matches!(r, Record::Message(_)))
            .count(),
        5
    );
    let mut read = batch(Mode::ReceiveOnly);
    b.input(&mut read, t(30), &file2);
    read.handle_end_of_input::<()>().unwrap();
    let mut read = batch(Mode::ReceiveOnly);
    b.input(&mut read, t(31), &file1);
    assert_eq!(b.shown(), ["m0", "m1", "m2", "m3", "m4"]);
    // Bob's reply carries the acknowledgements, and a message of his.
    b.say(t(32), "got them");
    let mut reply = batch(Mode::SendOnly);
    let back = b.out(&mut reply, t(33));
    let mut read = batch(Mode::ReceiveOnly);
    a.input(&mut read, t(40), &back);
    assert!(ids.iter().all(|id| a.seen(id)));
    assert_eq!(a.shown(), ["got them"]);
    // Nothing more goes Alice -> Bob but the acknowledgement of Bob's message.
    let mut out = batch(Mode::SendOnly);
    let file3 = a.out(&mut out, t(50));
    let r = records(&file3);
    assert_eq!(r.len(), 2, "{r:?}");
    assert!(matches!(r[1], Record::Ack(_)));
}

#[test]
fn a_receiver_that_crashes_before_acknowledging_acknowledges_on_the_retransmission() {
    let (mut a, mut b) = pair();
    let id = a.say(t(0), "once");
    let mut sa = duplex(true);
    let mut sb = duplex(false);
    let bytes = a.out(&mut sa, t(1));
    b.input(&mut sb, t(1), &bytes);
    // Bob stored it, then crashed before writing RECEIVED (no close).
    drop(sb);
    let (mut sa, mut sb) = (duplex(true), duplex(false));
    let later = t(1 + 60_000);
    converse(&mut a, &mut sa, &mut b, &mut sb, later);
    assert!(a.seen(&id));
    assert_eq!(b.shown(), ["once"]);
    let delivered = events(&mut sb)
        .into_iter()
        .filter(|e| matches!(e, SyncEvent::Delivered { .. }))
        .count();
    assert_eq!(delivered, 0, "delivered once, in the first session");
}

#[test]
fn close_keeps_acknowledgements_that_could_not_be_written() {
    let (mut a, mut b) = pair();
    let id = a.say(t(0), "closing");
    let (mut sa, mut sb) = (duplex(true), duplex(false));
    let bytes = a.out(&mut sa, t(1));
    b.input(&mut sb, t(1), &bytes);
    sb.close(&mut b.store.view(A)).unwrap();
    assert!(b.store.status(&id, A).unwrap().ack);
    let mut reply = batch(Mode::SendOnly);
    let back = b.out(&mut reply, t(2));
    assert!(records(&back).contains(&Record::Ack(vec![id])));
    assert!(!b.store.status(&id, A).unwrap().ack);
}

/// A test client whose body is `[n, dependency ids…]`: each message may depend on others.
struct Chain;
impl Validator for Chain {
    fn validate(&self, _: &Group, m: &Message) -> Result<Validated, Invalid> {
        let body = m.body();
        if body[0] == 0xff {
            return Err(Invalid("marked invalid"));
        }
        let deps = body[1..]
            .chunks(32)
            .map(|c| MessageId(c.try_into().unwrap()))
            .collect();
        Ok(Validated {
            dependencies: deps,
            metadata: Vec::new(),
        })
    }
}

fn chain_clients() -> Validators {
    Validators::new().with(ClientId::new("test.chain").unwrap(), 0, Box::new(Chain))
}

fn chain_message(group: GroupId, n: u8, deps: &[&Message]) -> Message {
    let mut body = vec![n];
    for d in deps {
        body.extend_from_slice(&d.id().0);
    }
    Message::new(group, t(u64::from(n)), body).unwrap()
}

fn feed(b: &mut MemoryStore, s: &mut Session, messages: &[&Message]) {
    let mut bytes = Vec::new();
    for m in messages {
        Record::Message((*m).clone()).encode(&mut bytes).unwrap();
    }
    s.handle_input(t(100), &bytes, &mut b.view(A), &chain_clients())
        .unwrap();
}

#[test]
fn dependencies_hold_messages_back_until_delivered_and_invalidity_spreads() {
    let group = Group::new(ClientId::new("test.chain").unwrap(), 0, Vec::new()).unwrap();
    let mut b = MemoryStore::new();
    let g = b.add_group(group);
    b.set_visibility(A, g, Visibility::Shared);
    let m1 = chain_message(g, 1, &[]);
    let m2 = chain_message(g, 2, &[&m1]);
    let m3 = chain_message(g, 3, &[&m1, &m2]);
    let bad = {
        let mut body = vec![0xff];
        body.push(9);
        Message::new(g, t(9), body).unwrap()
    };
    let m4 = chain_message(g, 4, &[&bad]);
    let m5 = chain_message(g, 5, &[&m4]);
    let mut s = duplex(false);
    let mut bytes = Vec::new();
    record::write_versions(&mut bytes, &[1]).unwrap();
    s.handle_input(t(100), &bytes, &mut b.view(A), &chain_clients())
        .unwrap();
    // Arrive in reverse order, over two steps.
    feed(&mut b, &mut s, &[&m3, &m5, &m4]);
    let state = |b: &MemoryStore, m: &Message| b.message(&m.id()).map(|x| x.state);
    use bramble_proto::sync::MessageState::*;
    assert_eq!(state(&b, &m3), Some(Pending));
    assert_eq!(state(&b, &m4), Some(Pending));
    assert!(events(&mut s).is_empty());
    feed(&mut b, &mut s, &[&m2, &bad, &m1]);
    assert_eq!(state(&b, &m1), Some(Delivered));
    assert_eq!(state(&b, &m2), Some(Delivered));
    assert_eq!(state(&b, &m3), Some(Delivered));
    assert_eq!(state(&b, &bad), Some(Invalid));
    assert_eq!(state(&b, &m4), Some(Invalid));
    assert_eq!(state(&b, &m5), Some(Invalid));
    assert!(
        b.message(&m5.id()).unwrap().raw.is_none(),
        "invalid ones keep no content"
    );
    let delivered: Vec<_> = events(&mut s)
        .into_iter()
        .filter_map(|e| match e {
            SyncEvent::Delivered { id, group } => {
                assert_eq!(group, g);
                Some(id)
            }
            _ => None,
        })
        .collect();
    assert_eq!(delivered, vec![m1.id(), m2.id(), m3.id()]);
    // Everything stored is acknowledged, pending messages too (numbers 0-2), but not
    // the invalid message itself (number 4).
    let mut out = Vec::new();
    s.poll_transmit(t(100), &mut b.view(A), &mut out, 1 << 16)
        .unwrap();
    assert!(records(&out).contains(&Record::Received(vec![
        Range { first: 0, count: 4 },
        Range { first: 5, count: 1 },
    ])));
    // Learnt invalid within the step it arrived in: not acknowledged at all.
    let bad2 = Message::new(g, t(20), vec![0xff, 1]).unwrap();
    let m6 = chain_message(g, 6, &[&bad2]);
    feed(&mut b, &mut s, &[&m6, &bad2]);
    assert_eq!(state(&b, &m6), Some(Invalid));
    let mut out = Vec::new();
    s.poll_transmit(t(100), &mut b.view(A), &mut out, 1 << 16)
        .unwrap();
    assert!(
        records(&out)
            .iter()
            .all(|r| !matches!(r, Record::Received(_))),
        "{:?}",
        records(&out)
    );
}

fn hostile_session(b: &mut Peer) -> Session {
    let mut s = duplex(false);
    let mut bytes = Vec::new();
    record::write_versions(&mut bytes, &[1, 2]).unwrap();
    b.input(&mut s, t(0), &bytes);
    s
}

#[test]
fn messages_for_hidden_groups_invalid_or_from_the_future_are_dropped_unacknowledged() {
    let (_, mut b) = pair();
    let mut s = hostile_session(&mut b);
    let hidden = b
        .store
        .add_group(Group::new(messaging::CLIENT, 1, b"other".to_vec()).unwrap());
    b.store.set_visibility(A, hidden, Visibility::Invisible);
    let unknown = GroupId([9; 32]);
    let mut bytes = Vec::new();
    let msgs = [
        messaging::text_message(hidden, t(1), "hidden").unwrap(),
        messaging::text_message(unknown, t(2), "unknown group").unwrap(),
        Message::new(b.group, t(3), b"not a text body".to_vec()).unwrap(),
        messaging::text_message(b.group, t(25 * 3_600_000), "from the future").unwrap(),
        messaging::text_message(b.group, t(4), "fine").unwrap(),
    ];
    for m in &msgs {
        Record::Message(m.clone()).encode(&mut bytes).unwrap();
    }
    b.input(&mut s, t(5), &bytes);
    assert_eq!(b.shown(), ["fine"]);
    let out = b.out(&mut s, t(5));
    assert_eq!(
        records(&out)[1],
        Record::Received(vec![Range { first: 4, count: 1 }])
    );
    assert!(b.store.message(&msgs[0].id()).is_none());
    assert!(
        b.store.message(&msgs[3].id()).is_none(),
        "deferred, not remembered"
    );
    // The invalid one is remembered so it is not requested again.
    let mut offer = Vec::new();
    record::write_offer(&mut offer, &[msgs[2].id()]).unwrap();
    b.input(&mut s, t(6), &offer);
    assert!(b.out(&mut s, t(6)).is_empty());
}

#[test]
fn offer_floods_and_unknown_records_are_bounded_and_unanswered_requests_age_out() {
    let (_, mut b) = pair();
    let mut s = hostile_session(&mut b);
    // 5 x 1536 offered identifiers: at most MAX_OFFERED are requested.
    for k in 0..5u32 {
        let ids: Vec<MessageId> = (0..1536u32)
            .map(|i| {
                let mut id = [0u8; 32];
                id[..4].copy_from_slice(&k.to_be_bytes());
                id[4..8].copy_from_slice(&i.to_be_bytes());
                MessageId(id)
            })
            .collect();
        let mut bytes = Vec::new();
        record::write_offer(&mut bytes, &ids).unwrap();
        // Unknown record types are skipped.
        bytes.extend_from_slice(&[1, 99, 0, 3, 1, 2, 3]);
        b.input(&mut s, t(1), &bytes);
    }
    let requested = |out: &[u8]| -> usize {
        records(out)
            .iter()
            .map(|r| match r {
                Record::Request(ids) => ids.len(),
                _ => 0,
            })
            .sum()
    };
    assert_eq!(requested(&b.out(&mut s, t(1))), MAX_OFFERED);
    // The contact never answers. A minute later new offers are requested again.
    let fresh: Vec<MessageId> = (0..10u8).map(|i| MessageId([i; 32])).collect();
    let mut offer = Vec::new();
    record::write_offer(&mut offer, &fresh).unwrap();
    b.input(&mut s, t(30_000), &offer);
    assert_eq!(requested(&b.out(&mut s, t(30_000))), 0, "still waiting");
    b.input(&mut s, t(61_000), &offer);
    assert_eq!(requested(&b.out(&mut s, t(61_000))), 10);
}

#[test]
fn pending_messages_from_one_contact_are_capped_and_the_excess_is_not_acknowledged() {
    let group = Group::new(ClientId::new("test.chain").unwrap(), 0, Vec::new()).unwrap();
    let mut b = MemoryStore::new();
    let g = b.add_group(group);
    b.set_visibility(A, g, Visibility::Shared);
    let mut s = duplex(false);
    let mut bytes = Vec::new();
    record::write_versions(&mut bytes, &[1]).unwrap();
    let missing = MessageId([0xee; 32]);
    for i in 0..MAX_PENDING as u64 + 10 {
        // Each waits for a message that never comes; distinct by timestamp.
        let body = [&[1u8][..], &missing.0].concat();
        let m = Message::new(g, t(i), body).unwrap();
        Record::Message(m).encode(&mut bytes).unwrap();
    }
    s.handle_input(t(100_000), &bytes, &mut b.view(A), &chain_clients())
        .unwrap();
    let stored = b.messages().count();
    assert_eq!(stored, MAX_PENDING);
    assert!(b.commits() >= 4, "large inputs are committed in steps");
    let mut out = Vec::new();
    s.poll_transmit(t(100_000), &mut b.view(A), &mut out, 1 << 16)
        .unwrap();
    assert!(records(&out).contains(&Record::Received(vec![Range {
        first: 0,
        count: u32::try_from(MAX_PENDING).unwrap()
    }])));
}

#[test]
fn acknowledgements_a_contact_does_not_read_go_to_the_store_not_memory() {
    let (mut a, mut b) = pair();
    let n = MAX_QUEUED_ACKS + 5;
    for i in 0..n {
        a.say(t(i as u64), "m");
    }
    let mut sa = duplex(true);
    // A writer stops at its in-flight window (as many as the acknowledgements Bob holds
    // in memory); one that ignores it writes five more.
    let mut bytes = a.out(&mut sa, t(1 << 20));
    let extra: Vec<Vec<u8>> = a
        .store
        .messages()
        .filter(|(id, _)| a.store.status(id, B).is_none_or(|s| s.tx_count == 0))
        .filter_map(|(_, m)| m.raw.clone())
        .collect();
    assert_eq!(extra.len(), 5, "five unsent");
    for raw in &extra {
        record::write_message(&mut bytes, raw).unwrap();
    }
    let mut sb = duplex(false);
    b.input(&mut sb, t(1 << 20), &bytes);
    let owed: usize = b
        .store
        .messages()
        .filter(|(id, _)| b.store.status(id, A).is_some_and(|s| s.ack))
        .count();
    assert_eq!(owed, 5);
    let out = b.out(&mut sb, t(1 << 20));
    let r = records(&out);
    assert!(r.contains(&Record::Received(vec![Range {
        first: 0,
        count: u32::try_from(MAX_QUEUED_ACKS).unwrap()
    }])));
    assert!(
        r.iter()
            .any(|x| matches!(x, Record::Ack(ids) if ids.len() == 5))
    );
}

#[test]
fn protocol_violations_end_the_session() {
    let (_, mut b) = pair();
    let clients = messaging::validators();
    let run = |s: &mut Session, b: &mut Peer, bytes: &[u8]| {
        s.handle_input(t(0), bytes, &mut b.store.view(A), &clients)
    };
    // Not starting with VERSIONS.
    let mut s = duplex(false);
    let mut bytes = Vec::new();
    record::write_ack(&mut bytes, &[MessageId([1; 32])]).unwrap();
    assert_eq!(
        run(&mut s, &mut b, &bytes),
        Err(SyncError::Peer(PeerError::MissingVersions))
    );
    assert_eq!(run(&mut s, &mut b, &bytes), Err(SyncError::Closed));
    // No common version.
    let mut s = duplex(false);
    let mut bytes = Vec::new();
    record::write_versions(&mut bytes, &[2, 3]).unwrap();
    assert_eq!(
        run(&mut s, &mut b, &bytes),
        Err(SyncError::Peer(PeerError::NoCommonVersion))
    );
    // Acknowledging a message number never sent.
    let mut s = hostile_session(&mut b);
    let mut bytes = Vec::new();
    record::write_received(&mut bytes, &[Range { first: 0, count: 1 }]).unwrap();
    assert_eq!(
        run(&mut s, &mut b, &bytes),
        Err(SyncError::Peer(PeerError::UnsentMessageNumber))
    );
    // An oversized record header.
    let mut s = hostile_session(&mut b);
    assert!(matches!(
        run(&mut s, &mut b, &[1, 1, 0xff, 0xff]),
        Err(SyncError::Peer(_))
    ));
    // RECEIVED in a one-way stream.
    let mut s = batch(Mode::ReceiveOnly);
    let mut bytes = Vec::new();
    record::write_versions(&mut bytes, &[1]).unwrap();
    record::write_received(&mut bytes, &[Range { first: 0, count: 1 }]).unwrap();
    assert!(matches!(
        run(&mut s, &mut b, &bytes),
        Err(SyncError::Peer(PeerError::UnexpectedRecord(6)))
    ));
    // A stream that ends inside a record, or before VERSIONS.
    let mut s = duplex(false);
    run(&mut s, &mut b, &[1, 4, 0]).unwrap();
    assert!(s.handle_end_of_input::<()>().is_err());
    let mut s = duplex(false);
    assert_eq!(
        s.handle_end_of_input::<()>(),
        Err(SyncError::Peer(PeerError::MissingVersions))
    );
}

#[test]
fn messages_read_before_a_violation_are_kept_and_a_failed_commit_acknowledges_nothing() {
    let (mut a, mut b) = pair();
    a.say(t(0), "before");
    let mut sa = duplex(true);
    let mut bytes = a.out(&mut sa, t(1));
    bytes.extend_from_slice(&[9, 9, 9, 9]);
    let mut sb = duplex(false);
    let r = sb.handle_input(t(1), &bytes, &mut b.store.view(A), &messaging::validators());
    assert!(matches!(r, Err(SyncError::Peer(_))));
    assert_eq!(b.shown(), ["before"]);

    let (mut a, mut b) = pair();
    a.say(t(0), "not stored");
    let mut sa = duplex(true);
    let bytes = a.out(&mut sa, t(1));
    let mut sb = duplex(false);
    b.store.set_failing(true);
    let r = sb.handle_input(t(1), &bytes, &mut b.store.view(A), &messaging::validators());
    assert!(matches!(r, Err(SyncError::Store(_))));
    b.store.set_failing(false);
    // Nothing left to acknowledge, now or on the next connection.
    sb.close(&mut b.store.view(A)).unwrap();
    assert_eq!(b.store.messages().count(), 0, "nothing was stored");
    let mut next = batch(Mode::SendOnly);
    let out = b.out(&mut next, t(2));
    assert!(
        records(&out).iter().all(|r| !matches!(r, Record::Ack(_))),
        "no acknowledgement of what was not stored"
    );
    assert!(b.shown().is_empty());
}
