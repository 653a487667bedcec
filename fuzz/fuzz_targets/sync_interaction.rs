//! Two sync sessions, Alice's and Bob's, driven by an arbitrary sequence of operations
//! (after libsignal's interaction fuzzer): users send messages, records are delivered,
//! dropped, duplicated or reordered, time advances, connections break and sessions
//! restart.
//!
//! Always: nothing panics, the in-memory store never fails, every message delivered is
//! one that was sent to that side with that text, and none is delivered twice. When the
//! channel is faithful (records in order, possibly cut short, as a stream delivers
//! them), a final clean connection must also deliver everything and get it all
//! acknowledged.
#![no_main]

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use arbitrary::Arbitrary;
use bramble_proto::ids::{GroupId, MessageId};
use bramble_proto::messaging;
use bramble_proto::sync::memory::MemoryStore;
use bramble_proto::sync::{
    Group, Mode, RecordReader, Session, SessionConfig, SyncError, SyncEvent, Visibility,
};
use bramble_proto::time::Timestamp;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Op {
    Send { from_bob: bool, len: u8 },
    Poll { bob: bool },
    Deliver { to_bob: bool, n: u8 },
    Drop { to_bob: bool },
    Duplicate { to_bob: bool },
    Swap { to_bob: bool },
    Advance { seconds: u16 },
    Reconnect,
    Restart { bob: bool },
}

#[derive(Arbitrary, Debug)]
struct Input {
    faithful: bool,
    ops: Vec<Op>,
}

struct Side {
    store: MemoryStore,
    contact: u64,
    session: Session,
    /// Records written by this side, not yet delivered.
    outbox: VecDeque<Vec<u8>>,
    reader: RecordReader,
    alive: bool,
}

fn session(dialer: bool) -> Session {
    Session::new(SessionConfig {
        mode: Mode::Duplex,
        max_latency: Duration::from_secs(30),
        priority: dialer.then_some([1; 16]),
    })
}

struct World {
    sides: [Side; 2],
    group: GroupId,
    now: u64,
    sent: BTreeMap<MessageId, (usize, String)>,
    delivered: BTreeMap<MessageId, usize>,
    faithful: bool,
}

impl World {
    fn time(&self) -> Timestamp {
        Timestamp::from_millis(1_767_225_600_000 + self.now).expect("in range")
    }

    fn poll(&mut self, s: usize) {
        let now = self.time();
        let side = &mut self.sides[s];
        if !side.alive {
            return;
        }
        let mut out = Vec::new();
        loop {
            match side.session.poll_transmit(
                now,
                &mut side.store.view(side.contact),
                &mut out,
                8192,
            ) {
                Ok(true) => {}
                Ok(false) => break,
                Err(SyncError::Closed) => {
                    side.alive = false;
                    break;
                }
                Err(e) => panic!("a memory store never fails: {e:?}"),
            }
        }
        // Split into records, as a channel that may lose or reorder them would.
        let mut input = &out[..];
        let mut start = 0;
        loop {
            let before = input.len();
            match side.reader.read(&mut input) {
                Ok(Some(_)) => {
                    let end = out.len() - input.len();
                    side.outbox.push_back(out[start..end].to_vec());
                    start = end;
                }
                Ok(None) => break,
                Err(e) => panic!("a session wrote an invalid record: {e:?}"),
            }
            if input.len() == before {
                break;
            }
        }
        self.events(s);
    }

    fn events(&mut self, s: usize) {
        while let Some(e) = self.sides[s].session.poll_event() {
            if let SyncEvent::Delivered { id, .. } = e {
                let (from, _) = self.sent.get(&id).expect("delivered only what was sent");
                assert_ne!(*from, s, "delivered to its own author");
                let n = self.delivered.entry(id).or_default();
                *n += 1;
                assert_eq!(*n, 1, "delivered twice");
                let text = &self.sent[&id].1;
                let shown = self.sides[s].store.conversation(&self.group);
                let (_, m, _) = shown.iter().find(|(i, _, _)| *i == id).expect("shown");
                assert_eq!(&messaging::parse_text(m.body()).expect("a text"), text);
            }
        }
    }

    fn deliver(&mut self, to: usize, n: usize) {
        let from = 1 - to;
        let now = self.time();
        for _ in 0..n {
            let Some(record) = self.sides[from].outbox.pop_front() else {
                return;
            };
            let side = &mut self.sides[to];
            if !side.alive {
                continue;
            }
            let r = side.session.handle_input(
                now,
                &record,
                &mut side.store.view(side.contact),
                &messaging::validators(),
            );
            match r {
                Ok(()) => {}
                Err(SyncError::Peer(_)) => {
                    assert!(!self.faithful, "a faithful channel carries no violation");
                    side.alive = false;
                }
                Err(SyncError::Closed) => side.alive = false,
                Err(SyncError::Store(e)) => panic!("memory store failed: {e:?}"),
                Err(e) => panic!("{e:?}"),
            }
            self.events(to);
        }
    }

    /// Both sessions end (the connection breaks); new ones start.
    fn reconnect(&mut self, crashed: Option<usize>) {
        for s in 0..2 {
            let side = &mut self.sides[s];
            if crashed != Some(s) {
                let _ = side.session.close(&mut side.store.view(side.contact));
            }
            side.session = session(s == 0);
            side.outbox.clear();
            side.reader = RecordReader::new();
            side.alive = true;
        }
    }
}

fuzz_target!(|input: Input| {
    let group = Group::new(
        messaging::CLIENT,
        messaging::MAJOR_VERSION,
        b"fuzz".to_vec(),
    )
    .expect("small descriptor");
    let make = |contact| {
        let mut store = MemoryStore::new();
        let id = store.add_group(group.clone());
        store.set_visibility(contact, id, Visibility::Shared);
        Side {
            store,
            contact,
            session: session(contact == 2),
            outbox: VecDeque::new(),
            reader: RecordReader::new(),
            alive: true,
        }
    };
    let mut w = World {
        sides: [make(2), make(1)],
        group: group.id(),
        now: 0,
        sent: BTreeMap::new(),
        delivered: BTreeMap::new(),
        faithful: input.faithful,
    };
    for op in input.ops.iter().take(200) {
        match *op {
            Op::Send { from_bob, len } => {
                let s = usize::from(from_bob);
                let text = format!("{}:{}:{}", s, w.sent.len(), "x".repeat(usize::from(len)));
                let now = w.time();
                let latest = w.sides[s]
                    .store
                    .conversation(&w.group)
                    .iter()
                    .filter(|(_, _, ours)| *ours)
                    .map(|(_, m, _)| m.timestamp)
                    .max();
                let at = messaging::next_timestamp(now, latest);
                let m = messaging::text_message(w.group, at, &text).expect("valid text");
                let id = w.sides[s].store.add_local_message(&m);
                w.sent.insert(id, (s, text));
                w.sides[s].session.notify_store_changed();
            }
            Op::Poll { bob } => w.poll(usize::from(bob)),
            Op::Deliver { to_bob, n } => w.deliver(usize::from(to_bob), usize::from(n % 8) + 1),
            Op::Drop { to_bob } | Op::Duplicate { to_bob } | Op::Swap { to_bob } if w.faithful => {
                // A stream cannot lose, repeat or reorder records: only break.
                let _ = to_bob;
                w.reconnect(None);
            }
            Op::Drop { to_bob } => {
                w.sides[1 - usize::from(to_bob)].outbox.pop_front();
            }
            Op::Duplicate { to_bob } => {
                let outbox = &mut w.sides[1 - usize::from(to_bob)].outbox;
                if let Some(r) = outbox.front().cloned() {
                    outbox.push_front(r);
                }
            }
            Op::Swap { to_bob } => {
                let outbox = &mut w.sides[1 - usize::from(to_bob)].outbox;
                if outbox.len() >= 2 {
                    outbox.swap(0, 1);
                }
            }
            Op::Advance { seconds } => {
                w.now += u64::from(seconds) * 1000;
                for s in 0..2 {
                    let now = w.time();
                    w.sides[s].session.handle_timeout(now);
                }
            }
            Op::Reconnect => w.reconnect(None),
            Op::Restart { bob } => w.reconnect(Some(usize::from(bob))),
        }
    }
    if !w.faithful {
        return;
    }
    // A final connection that lasts, long after every expiry: everything arrives.
    w.reconnect(None);
    w.now += 2 * 86_400_000;
    for _ in 0..50 {
        w.poll(0);
        w.poll(1);
        if w.sides.iter().all(|s| s.outbox.is_empty()) {
            break;
        }
        w.deliver(1, usize::MAX);
        w.deliver(0, usize::MAX);
    }
    for (id, (from, _)) in &w.sent {
        assert_eq!(w.delivered.get(id), Some(&1), "a message was not delivered");
        let side = &w.sides[*from];
        let status = side.store.status(id, side.contact).expect("tracked");
        assert!(status.seen, "a delivered message was never acknowledged");
    }
});
