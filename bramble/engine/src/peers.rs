//! The connection manager's book: which connections are open, which dials, handshakes and
//! rendezvous are under way, the backoff between attempts, and the rule that keeps one
//! connection per contact and transport. Plain data kept under the engine's lock; the
//! tasks that accept and dial (`conn`) ask it before they act and tell it when they end.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use bramble_proto::transport::TransportId;
use bramble_store::{ContactId, PendingContactId};
use tokio::sync::watch;

/// The first wait after a failure.
const MIN_BACKOFF: Duration = Duration::from_secs(1);
/// The longest wait between dials of a contact that failed.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// The longest wait between dials of a contact that a broadcast transport (LAN, BLE) sees
/// nearby: it is in range, so a failure is likely to pass soon (a radio busy tearing down a
/// link, a peer still starting).
pub(crate) const IN_SIGHT_MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The longest wait between rendezvous attempts that met nobody (Briar polls every 60 s).
pub(crate) const RENDEZVOUS_MAX_BACKOFF: Duration = Duration::from_secs(60);

/// How long to wait before dialing a contact again after a failure: doubling from one
/// second to five minutes.
#[derive(Clone, Copy, Debug)]
struct Backoff {
    next: tokio::time::Instant,
    delay: Duration,
    /// When the failure happened.
    failed: Instant,
}

impl Backoff {
    /// The wait after another failure: `MIN_BACKOFF`, then double the last, up to `max`.
    fn after(last: Option<&Backoff>, max: Duration) -> Backoff {
        let delay = last.map_or(MIN_BACKOFF, |b| (b.delay * 2).min(max));
        Backoff {
            next: tokio::time::Instant::now() + delay,
            delay,
            failed: Instant::now(),
        }
    }

    /// Whether the next attempt must still wait.
    fn waiting(&self) -> bool {
        self.next > tokio::time::Instant::now()
    }

    /// Whether the next attempt must still wait, unless a broadcast transport newly saw
    /// the peer after the failure (it came into range: try at once).
    fn waiting_unless(&self, sighted: Option<Instant>) -> bool {
        self.waiting() && sighted.is_none_or(|seen| seen <= self.failed)
    }
}

/// An open sync connection.
struct ConnEntry {
    id: u64,
    alice_dialed: bool,
    /// Ends the connection.
    close: watch::Sender<bool>,
}

/// The book itself.
#[derive(Default)]
pub(crate) struct Peers {
    connections: HashMap<(ContactId, TransportId), ConnEntry>,
    dialing: HashSet<(ContactId, TransportId)>,
    handshaking: HashSet<PendingContactId>,
    rendezvousing: HashSet<(PendingContactId, TransportId)>,
    rendezvous_backoff: HashMap<(PendingContactId, TransportId), Backoff>,
    /// Rendezvous we may have set up on a transport (by point id), to end when their
    /// pending contact goes.
    rendezvous_up: HashSet<(u64, TransportId)>,
    backoff: HashMap<(ContactId, TransportId), Backoff>,
    /// The last nearby figures published per transport (seen, connected).
    nearby: HashMap<TransportId, (usize, usize)>,
    next_conn: u64,
}

impl Peers {
    /// Records a new sync connection to `contact` over `t`, which `close` ends: its id,
    /// or `None` if it loses to the one already open. One connection per contact and
    /// transport; of two, both sides keep the one Alice dialed, else the newer (whose
    /// arrival closes the other). Decided and recorded at once, so that two new
    /// connections cannot both win.
    pub(crate) fn connected(
        &mut self,
        contact: ContactId,
        t: &TransportId,
        alice_dialed: bool,
        close: watch::Sender<bool>,
    ) -> Option<u64> {
        let key = (contact, t.clone());
        if let Some(existing) = self.connections.get(&key) {
            if existing.alice_dialed && !alice_dialed {
                return None;
            }
            existing.close.send_replace(true);
        }
        self.next_conn += 1;
        let id = self.next_conn;
        self.connections.insert(
            key.clone(),
            ConnEntry {
                id,
                alice_dialed,
                close,
            },
        );
        self.backoff.remove(&key);
        Some(id)
    }

    /// Connection `id` to `contact` over `t` ended.
    pub(crate) fn disconnected(&mut self, contact: ContactId, t: &TransportId, id: u64) {
        let key = (contact, t.clone());
        if self.connections.get(&key).is_some_and(|e| e.id == id) {
            self.connections.remove(&key);
        }
    }

    /// The contacts connected now, and over which transports.
    pub(crate) fn connections(&self) -> Vec<(ContactId, TransportId)> {
        self.connections.keys().cloned().collect()
    }

    /// Ends every connection to `contact` and forgets its backoff (it was removed).
    pub(crate) fn forget(&mut self, contact: ContactId) {
        for ((c, _), entry) in &self.connections {
            if *c == contact {
                entry.close.send_replace(true);
            }
        }
        self.backoff.retain(|(c, _), _| *c != contact);
    }

    /// What ends each open connection.
    pub(crate) fn closers(&self) -> Vec<watch::Sender<bool>> {
        self.connections.values().map(|c| c.close.clone()).collect()
    }

    /// Whether to dial `contact` over `t` now (`sighted`: when a broadcast transport last
    /// saw it): not if connected, being dialed, or waiting after a failure. If so, the
    /// dial is recorded as under way until [`Peers::dial_ended`].
    pub(crate) fn start_dial(
        &mut self,
        contact: ContactId,
        t: &TransportId,
        sighted: Option<Instant>,
    ) -> bool {
        let key = (contact, t.clone());
        if self.connections.contains_key(&key)
            || self.dialing.contains(&key)
            || self
                .backoff
                .get(&key)
                .is_some_and(|b| b.waiting_unless(sighted))
        {
            return false;
        }
        self.dialing.insert(key)
    }

    /// A dial (and the session it led to) ended; a failure backs off the next one, less
    /// far for a contact that was `in_sight` on a broadcast transport.
    pub(crate) fn dial_ended(
        &mut self,
        contact: ContactId,
        t: &TransportId,
        failed: bool,
        in_sight: bool,
    ) {
        let key = (contact, t.clone());
        self.dialing.remove(&key);
        if failed {
            let max = if in_sight {
                IN_SIGHT_MAX_BACKOFF
            } else {
                MAX_BACKOFF
            };
            let next = Backoff::after(self.backoff.get(&key), max);
            self.backoff.insert(key, next);
        }
    }

    /// Records that a broadcast transport sees `seen` contacts: how many are connected
    /// over it, if either figure changed since last time.
    pub(crate) fn nearby_changed(&mut self, t: &TransportId, seen: usize) -> Option<usize> {
        let connected = self.connections.keys().filter(|(_, tr)| tr == t).count();
        let last = self.nearby.insert(t.clone(), (seen, connected));
        (last != Some((seen, connected))).then_some(connected)
    }

    /// For each broadcast transport that has looked: contacts seen and connected.
    pub(crate) fn nearby(&self) -> Vec<(TransportId, usize, usize)> {
        self.nearby
            .iter()
            .map(|(t, (seen, connected))| (t.clone(), *seen, *connected))
            .collect()
    }

    /// Whether a handshake with `pending` may start (none is running); if so it is
    /// recorded as running until [`Peers::handshake_ended`].
    pub(crate) fn start_handshake(&mut self, pending: PendingContactId) -> bool {
        self.handshaking.insert(pending)
    }

    /// The handshake with `pending` ended.
    pub(crate) fn handshake_ended(&mut self, pending: PendingContactId) {
        self.handshaking.remove(&pending);
    }

    /// Given the rendezvous `current` on `t` (pending contact, point id), forgets those
    /// of pending contacts that went (confirmed, expired, removed): the point ids whose
    /// rendezvous the transport should end.
    pub(crate) fn sweep_rendezvous(
        &mut self,
        t: &TransportId,
        current: &[(PendingContactId, u64)],
    ) -> Vec<u64> {
        let points: HashSet<u64> = current.iter().map(|(_, id)| *id).collect();
        let gone: Vec<u64> = self
            .rendezvous_up
            .iter()
            .filter(|(id, tr)| tr == t && !points.contains(id))
            .map(|(id, _)| *id)
            .collect();
        for id in &gone {
            self.rendezvous_up.remove(&(*id, t.clone()));
        }
        let live: HashSet<PendingContactId> = current.iter().map(|(p, _)| *p).collect();
        self.rendezvous_backoff
            .retain(|(p, tr), _| tr != t || live.contains(p));
        gone
    }

    /// Whether to try `pending`'s rendezvous point `point` on `t` now: one attempt per
    /// pending contact and transport at a time, none while a handshake with it runs, and
    /// backoff between attempts that met nobody unless `sighted` saw it since. If so,
    /// the attempt is recorded until [`Peers::rendezvous_ended`].
    pub(crate) fn start_rendezvous(
        &mut self,
        pending: PendingContactId,
        t: &TransportId,
        point: u64,
        sighted: Option<Instant>,
    ) -> bool {
        let key = (pending, t.clone());
        if self.handshaking.contains(&pending)
            || self
                .rendezvous_backoff
                .get(&key)
                .is_some_and(|b| b.waiting_unless(sighted))
            || !self.rendezvousing.insert(key)
        {
            return false;
        }
        self.rendezvous_up.insert((point, t.clone()));
        true
    }

    /// A rendezvous attempt ended, having met the peer or not. Returns whether to run
    /// the handshake on what it met (recorded as running if so), and whether the pending
    /// contact went meanwhile, so that the attempt must end the rendezvous it set up (the
    /// sweep has passed already).
    pub(crate) fn rendezvous_ended(
        &mut self,
        pending: PendingContactId,
        t: &TransportId,
        point: u64,
        met: bool,
    ) -> (bool, bool) {
        let ended = !self.rendezvous_up.contains(&(point, t.clone()));
        let key = (pending, t.clone());
        self.rendezvousing.remove(&key);
        if met {
            self.rendezvous_backoff.remove(&key);
        } else {
            let next = Backoff::after(self.rendezvous_backoff.get(&key), RENDEZVOUS_MAX_BACKOFF);
            self.rendezvous_backoff.insert(key, next);
        }
        (!ended && met && self.handshaking.insert(pending), ended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn of_two_connections_both_sides_keep_the_one_alice_dialed() {
        let mut peers = Peers::default();
        let (contact, tor) = (ContactId(1), TransportId::TOR);
        let (alice_close, alice_closed) = watch::channel(false);
        let alice = peers.connected(contact, &tor, true, alice_close);
        assert!(alice.is_some());
        // Bob's dial arrives second and loses; Alice's stays open.
        assert_eq!(
            peers.connected(contact, &tor, false, watch::channel(false).0),
            None
        );
        assert!(!*alice_closed.borrow());
        // A newer connection Alice dialed replaces hers and closes it.
        let newer = peers.connected(contact, &tor, true, watch::channel(false).0);
        assert!(newer.is_some() && newer != alice);
        assert!(*alice_closed.borrow());
        // The replaced connection's end does not drop the newer one.
        peers.disconnected(contact, &tor, alice.unwrap_or_default());
        assert_eq!(peers.connections(), vec![(contact, tor.clone())]);
        peers.disconnected(contact, &tor, newer.unwrap_or_default());
        assert!(peers.connections().is_empty());
    }

    #[test]
    fn a_failed_dial_waits_unless_the_peer_is_sighted_afterwards() {
        let mut peers = Peers::default();
        let (contact, lan) = (ContactId(7), TransportId::LAN);
        assert!(peers.start_dial(contact, &lan, None));
        // One dial at a time.
        assert!(!peers.start_dial(contact, &lan, None));
        let before = Instant::now();
        peers.dial_ended(contact, &lan, true, true);
        assert!(!peers.start_dial(contact, &lan, None));
        assert!(!peers.start_dial(contact, &lan, Some(before)));
        assert!(peers.start_dial(contact, &lan, Some(Instant::now())));
        // A success clears the backoff.
        peers.dial_ended(contact, &lan, false, true);
        assert!(
            peers
                .connected(contact, &lan, true, watch::channel(false).0)
                .is_some()
        );
        assert!(!peers.start_dial(contact, &lan, None));
    }

    #[test]
    fn a_contact_in_sight_is_dialed_again_within_half_a_minute() {
        let mut peers = Peers::default();
        let (near, far, ble) = (ContactId(9), ContactId(10), TransportId::BLE);
        for _ in 0..12 {
            peers.dial_ended(near, &ble, true, true);
            peers.dial_ended(far, &ble, true, false);
        }
        assert_eq!(
            peers.backoff[&(near, ble.clone())].delay,
            IN_SIGHT_MAX_BACKOFF
        );
        assert_eq!(peers.backoff[&(far, ble)].delay, MAX_BACKOFF);
    }

    #[test]
    fn a_rendezvous_of_a_pending_contact_that_went_is_ended() {
        let mut peers = Peers::default();
        let (pending, tor) = (PendingContactId(3), TransportId::TOR);
        assert!(peers.start_rendezvous(pending, &tor, 42, None));
        assert!(!peers.start_rendezvous(pending, &tor, 42, None));
        // The pending contact completes while the attempt runs: the sweep ends nothing
        // the attempt holds, and the attempt, once back, ends its own.
        assert_eq!(peers.sweep_rendezvous(&tor, &[]), vec![42]);
        assert_eq!(
            peers.rendezvous_ended(pending, &tor, 42, true),
            (false, true)
        );
        // Another that meets its peer runs the handshake, once.
        let other = PendingContactId(4);
        assert!(peers.start_rendezvous(other, &tor, 43, None));
        assert_eq!(peers.rendezvous_ended(other, &tor, 43, true), (true, false));
        assert!(!peers.start_handshake(other));
        assert!(!peers.start_rendezvous(other, &tor, 43, None));
        peers.handshake_ended(other);
        assert!(peers.start_rendezvous(other, &tor, 43, None));
        // Meeting nobody backs off.
        assert_eq!(
            peers.rendezvous_ended(other, &tor, 43, false),
            (false, false)
        );
        assert!(!peers.start_rendezvous(other, &tor, 43, None));
    }
}
