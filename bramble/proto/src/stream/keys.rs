//! Key state per contact and transport (`spec/stream.md#keys`).

use core::fmt;

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::window::{ReorderingWindow, WINDOW_SIZE};
use super::{MAX_STREAM_NUMBER, PROTOCOL_VERSION, StreamError, StreamTag, TAG_LEN};
use crate::crypto::{SecretKey, kdf, label, mac};
use crate::time::{Period, PeriodLength, Timestamp};
use crate::transport::{BEACON_LEN, Beacon, TransportId};

/// The most periods one rotation may move forward. No period of a valid [`Timestamp`]
/// needs more (the shortest period is a day, and year 9999 is under 3 million days away);
/// a larger jump is refused rather than looped through.
pub const MAX_ROTATION: u64 = 4_000_000;

/// Which side of a contact relationship we are. Both sides agree on the roles when the
/// contact is added (`spec/stream.md#roles`); Alice's outgoing keys are Bob's incoming
/// keys and the other way round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The side whose key material sorts first.
    Alice,
    /// The other side.
    Bob,
}

impl Role {
    /// The other side's role.
    pub fn peer(self) -> Role {
        match self {
            Role::Alice => Role::Bob,
            Role::Bob => Role::Alice,
        }
    }

    fn initial_chain_label(self) -> &'static str {
        match self {
            Role::Alice => label::STREAM_INITIAL_CHAIN_ALICE,
            Role::Bob => label::STREAM_INITIAL_CHAIN_BOB,
        }
    }
}

/// The shared root key a contact handshake produces. Transport keys for every transport
/// are derived from it, then it is dropped (and zeroized): it is never stored.
#[derive(Debug, Zeroize, ZeroizeOnDrop)]
pub struct RootKey(SecretKey);

impl RootKey {
    /// Wraps the root key from a handshake.
    pub fn new(key: SecretKey) -> Self {
        RootKey(key)
    }
}

/// The keys of one period of one direction: the period secret (from which the next
/// period's secret is derived) and the tag and header keys derived from it.
#[derive(Clone)]
struct PeriodKeys {
    period: Period,
    secret: SecretKey,
    tag_key: SecretKey,
    header_key: SecretKey,
    beacon: Beacon,
}

impl PeriodKeys {
    fn from_secret(period: Period, secret: SecretKey) -> Self {
        let tag_key = kdf(label::STREAM_TAG_KEY, &secret, &[]);
        let header_key = kdf(label::STREAM_HEADER_KEY, &secret, &[]);
        let full = mac(label::STREAM_BEACON, &secret, &[]);
        let mut beacon = [0u8; BEACON_LEN];
        beacon.copy_from_slice(&full.0[..BEACON_LEN]);
        PeriodKeys {
            period,
            secret,
            tag_key,
            header_key,
            beacon: Beacon(beacon),
        }
    }

    fn initial(root: &RootKey, role: Role, transport: &TransportId, period: Period) -> Self {
        let secret = kdf(
            role.initial_chain_label(),
            &root.0,
            &[transport.as_str().as_bytes(), &period.0.to_be_bytes()],
        );
        Self::from_secret(period, secret)
    }

    /// The keys of the following period. A one-way step: nothing derives the keys of an
    /// earlier period from a later one.
    fn next(&self) -> Result<PeriodKeys, StreamError> {
        let period = self.period.next().ok_or(StreamError::InvalidPeriod)?;
        let secret = kdf(
            label::STREAM_NEXT_CHAIN,
            &self.secret,
            &[&period.0.to_be_bytes()],
        );
        Ok(Self::from_secret(period, secret))
    }

    fn tag(&self, stream_number: u64) -> StreamTag {
        let full = mac(
            label::STREAM_TAG,
            &self.tag_key,
            &[
                &PROTOCOL_VERSION.to_be_bytes(),
                &stream_number.to_be_bytes(),
            ],
        );
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&full.0[..TAG_LEN]);
        StreamTag(tag)
    }
}

/// Everything a [`StreamWriter`](super::StreamWriter) needs to open one outgoing stream.
#[derive(Debug)]
pub struct OutgoingStream {
    /// The period whose keys the stream uses.
    pub period: Period,
    /// The stream number, unique within the period and direction.
    pub stream_number: u64,
    /// The tag that opens the stream.
    pub tag: StreamTag,
    pub(crate) header_key: SecretKey,
}

/// Everything a [`StreamReader`](super::StreamReader) needs to read one recognised
/// incoming stream.
#[derive(Debug)]
pub struct IncomingStream {
    /// The period whose keys the stream uses.
    pub period: Period,
    /// The stream number the tag matched.
    pub stream_number: u64,
    /// The tag that opened the stream.
    pub tag: StreamTag,
    pub(crate) header_key: SecretKey,
}

/// Outgoing keys of the current period and the next unused stream number.
pub struct OutgoingKeys {
    keys: PeriodKeys,
    next_stream: u64,
}

impl OutgoingKeys {
    /// The period of these keys.
    pub fn period(&self) -> Period {
        self.keys.period
    }

    /// The beacon a broadcast transport announces for this contact in this period
    /// (`spec/stream.md#beacons`).
    pub fn beacon(&self) -> Beacon {
        self.keys.beacon
    }

    /// The stream number [`OutgoingKeys::next_stream`] will hand out next. Persist it
    /// after each call, before the stream's first byte is sent.
    pub fn next_stream_number(&self) -> u64 {
        self.next_stream
    }

    /// Takes the next stream number and returns what a writer needs for it.
    ///
    /// # Errors
    /// [`StreamError::StreamNumbersExhausted`] once all [`MAX_STREAM_NUMBER`] + 1
    /// numbers of the period are used.
    pub fn next_stream(&mut self) -> Result<OutgoingStream, StreamError> {
        let n = self.next_stream;
        if n > MAX_STREAM_NUMBER {
            return Err(StreamError::StreamNumbersExhausted);
        }
        self.next_stream = n + 1;
        Ok(OutgoingStream {
            period: self.keys.period,
            stream_number: n,
            tag: self.keys.tag(n),
            header_key: self.keys.header_key.clone(),
        })
    }

    fn rotate_to(self, period: Period) -> Result<OutgoingKeys, StreamError> {
        if period <= self.keys.period {
            return Ok(self);
        }
        let mut keys = self.keys;
        while keys.period < period {
            keys = keys.next()?;
        }
        Ok(OutgoingKeys {
            keys,
            next_stream: 0,
        })
    }
}

impl fmt::Debug for OutgoingKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutgoingKeys")
            .field("period", &self.keys.period)
            .field("next_stream", &self.next_stream)
            .finish_non_exhaustive()
    }
}

/// One incoming period: its keys, its window and the tags of the window's slots.
#[derive(Clone)]
struct IncomingPeriod {
    keys: PeriodKeys,
    window: ReorderingWindow,
    tags: [StreamTag; WINDOW_SIZE],
}

impl IncomingPeriod {
    fn new(keys: PeriodKeys, window: ReorderingWindow) -> Self {
        let mut p = IncomingPeriod {
            keys,
            window,
            tags: [StreamTag([0; TAG_LEN]); WINDOW_SIZE],
        };
        p.compute_tags(0);
        p
    }

    /// Recomputes the tags of slots `from..`.
    fn compute_tags(&mut self, from: usize) {
        for slot in from..WINDOW_SIZE {
            if self.window.number(slot) <= MAX_STREAM_NUMBER {
                self.tags[slot] = self.keys.tag(self.window.number(slot));
            }
        }
    }

    fn slide_tags(&mut self, slide: u64) {
        let slide = usize::try_from(slide)
            .unwrap_or(WINDOW_SIZE)
            .min(WINDOW_SIZE);
        self.tags.copy_within(slide.., 0);
        self.compute_tags(WINDOW_SIZE - slide);
    }
}

/// Incoming keys of the previous, current and next period, each with a reordering
/// window of expected stream numbers.
pub struct IncomingKeys {
    periods: [IncomingPeriod; 3],
}

impl IncomingKeys {
    /// Matches a received tag against every expected stream number.
    ///
    /// On a match the stream number is marked seen at once (a replay of the same tag
    /// is never recognised again) and the window slides; persist the window before
    /// acting on the stream. `None` means the tag is not one we expect: drop the
    /// connection without a reply.
    pub fn recognise(&mut self, tag: &StreamTag) -> Option<IncomingStream> {
        for p in &mut self.periods {
            for slot in 0..WINDOW_SIZE {
                if p.window.is_expected(slot) && bool::from(p.tags[slot].0.ct_eq(&tag.0)) {
                    let stream_number = p.window.number(slot);
                    let slide = p.window.mark_seen(slot);
                    if slide > 0 {
                        p.slide_tags(slide);
                    }
                    return Some(IncomingStream {
                        period: p.keys.period,
                        stream_number,
                        tag: *tag,
                        header_key: p.keys.header_key.clone(),
                    });
                }
            }
        }
        None
    }

    /// Every tag currently expected, for an index over many contacts.
    pub fn expected_tags(&self) -> impl Iterator<Item = StreamTag> + '_ {
        self.periods.iter().flat_map(|p| {
            (0..WINDOW_SIZE)
                .filter(|&slot| p.window.is_expected(slot))
                .map(|slot| p.tags[slot])
        })
    }

    /// The beacons of the three periods held, oldest first: what a broadcast transport
    /// looks for to find this contact (`spec/stream.md#beacons`).
    pub fn beacons(&self) -> [Beacon; 3] {
        [
            self.periods[0].keys.beacon,
            self.periods[1].keys.beacon,
            self.periods[2].keys.beacon,
        ]
    }

    /// The three periods held, oldest first.
    pub fn periods(&self) -> [Period; 3] {
        [
            self.periods[0].keys.period,
            self.periods[1].keys.period,
            self.periods[2].keys.period,
        ]
    }

    /// Moves the window of periods so that `current` is in the middle.
    fn rotate_to(self, current: Period) -> Result<IncomingKeys, StreamError> {
        if current <= self.periods[1].keys.period {
            return Ok(self);
        }
        let fresh = |keys: PeriodKeys| IncomingPeriod::new(keys, ReorderingWindow::default());
        let [_, middle, newest] = self.periods;
        let shift = current.0 - middle.keys.period.0;
        let periods = match shift {
            1 => {
                let next = newest.keys.next()?;
                [middle, newest, fresh(next)]
            }
            2 => {
                drop(middle);
                let next = newest.keys.next()?;
                let after = next.next()?;
                [newest, fresh(next), fresh(after)]
            }
            _ => {
                drop(middle);
                // Walk the chain from the newest period held to current − 1.
                let mut head = newest.keys.next()?;
                drop(newest);
                while head.period.0 + 1 < current.0 {
                    head = head.next()?;
                }
                let next = head.next()?;
                let after = next.next()?;
                [fresh(head), fresh(next), fresh(after)]
            }
        };
        Ok(IncomingKeys { periods })
    }
}

impl fmt::Debug for IncomingKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IncomingKeys")
            .field("periods", &self.periods())
            .finish_non_exhaustive()
    }
}

/// One contact's stream keys for one transport.
///
/// Created once from the [`RootKey`] when the contact is added, then only moved
/// forward with [`TransportKeys::rotate_to`], which consumes the old state: keys of
/// earlier periods are dropped (and zeroized) and cannot be derived again.
#[derive(Debug)]
pub struct TransportKeys {
    transport: TransportId,
    period_length: PeriodLength,
    outgoing: OutgoingKeys,
    incoming: IncomingKeys,
}

impl TransportKeys {
    /// Derives the keys for `transport` from the contact's root key, for a contact
    /// added in period `start` (`spec/stream.md#keys`).
    ///
    /// # Errors
    /// [`StreamError::InvalidPeriod`] if `start` is period 0 or the last period.
    pub fn derive(
        root: &RootKey,
        role: Role,
        transport: TransportId,
        period_length: PeriodLength,
        start: Period,
    ) -> Result<Self, StreamError> {
        let before = start.prev().ok_or(StreamError::InvalidPeriod)?;
        let outgoing = PeriodKeys::initial(root, role, &transport, before).next()?;
        let incoming0 = PeriodKeys::initial(root, role.peer(), &transport, before);
        let incoming1 = incoming0.next()?;
        let incoming2 = incoming1.next()?;
        Ok(TransportKeys {
            transport,
            period_length,
            outgoing: OutgoingKeys {
                keys: outgoing,
                next_stream: 0,
            },
            incoming: IncomingKeys {
                periods: [
                    IncomingPeriod::new(incoming0, ReorderingWindow::default()),
                    IncomingPeriod::new(incoming1, ReorderingWindow::default()),
                    IncomingPeriod::new(incoming2, ReorderingWindow::default()),
                ],
            },
        })
    }

    /// Moves the keys forward so that `current` is the current period: outgoing keys
    /// of `current` with stream counter 0, incoming keys of `current − 1`, `current` and
    /// `current + 1`. Everything older is erased. A period at or before the current one
    /// changes nothing: keys never move back.
    ///
    /// # Errors
    /// [`StreamError::InvalidPeriod`] on period overflow (not reachable with
    /// [`Timestamp`]s).
    pub fn rotate_to(self, current: Period) -> Result<Self, StreamError> {
        if current.0.saturating_sub(self.period().0) > MAX_ROTATION {
            return Err(StreamError::InvalidPeriod);
        }
        Ok(TransportKeys {
            outgoing: self.outgoing.rotate_to(current)?,
            incoming: self.incoming.rotate_to(current)?,
            transport: self.transport,
            period_length: self.period_length,
        })
    }

    /// [`TransportKeys::rotate_to`] the period that contains `now`.
    ///
    /// # Errors
    /// As [`TransportKeys::rotate_to`].
    pub fn rotate_to_time(self, now: Timestamp) -> Result<Self, StreamError> {
        let period = self.period_length.period_of(now);
        self.rotate_to(period)
    }

    /// The current period.
    pub fn period(&self) -> Period {
        self.outgoing.period()
    }

    /// The transport these keys are for.
    pub fn transport(&self) -> &TransportId {
        &self.transport
    }

    /// The period length of the transport.
    pub fn period_length(&self) -> PeriodLength {
        self.period_length
    }

    /// The outgoing keys.
    pub fn outgoing_mut(&mut self) -> &mut OutgoingKeys {
        &mut self.outgoing
    }

    /// The outgoing keys.
    pub fn outgoing(&self) -> &OutgoingKeys {
        &self.outgoing
    }

    /// The incoming keys.
    pub fn incoming_mut(&mut self) -> &mut IncomingKeys {
        &mut self.incoming
    }

    /// The incoming keys.
    pub fn incoming(&self) -> &IncomingKeys {
        &self.incoming
    }

    /// The state to persist. Contains secrets: store it only in the encrypted store.
    pub fn to_state(&self) -> TransportKeysState {
        let incoming = |p: &IncomingPeriod| IncomingPeriodState {
            period: p.keys.period,
            secret: p.keys.secret.clone(),
            window_base: p.window.base(),
            window_seen: p.window.seen(),
        };
        TransportKeysState {
            transport: self.transport.clone(),
            period_length: self.period_length,
            outgoing: OutgoingState {
                period: self.outgoing.keys.period,
                secret: self.outgoing.keys.secret.clone(),
                next_stream: self.outgoing.next_stream,
            },
            incoming: [
                incoming(&self.incoming.periods[0]),
                incoming(&self.incoming.periods[1]),
                incoming(&self.incoming.periods[2]),
            ],
        }
    }

    /// Restores persisted state.
    ///
    /// # Errors
    /// [`StreamError::InvalidState`] if the incoming periods are not consecutive, the
    /// outgoing period is not the middle one, or a counter is out of range.
    pub fn from_state(state: TransportKeysState) -> Result<Self, StreamError> {
        let TransportKeysState {
            transport,
            period_length,
            outgoing,
            incoming,
        } = state;
        let [p0, p1, p2] = incoming.each_ref().map(|s| s.period);
        let consecutive = p0.next() == Some(p1) && p1.next() == Some(p2);
        let counters_ok = outgoing.next_stream <= MAX_STREAM_NUMBER + 1
            && incoming
                .iter()
                .all(|s| s.window_base <= MAX_STREAM_NUMBER + WINDOW_SIZE as u64);
        if !consecutive || outgoing.period != p1 || !counters_ok {
            return Err(StreamError::InvalidState);
        }
        let restore = |s: &IncomingPeriodState| {
            IncomingPeriod::new(
                PeriodKeys::from_secret(s.period, s.secret.clone()),
                ReorderingWindow::new(s.window_base, s.window_seen),
            )
        };
        let periods = [
            restore(&incoming[0]),
            restore(&incoming[1]),
            restore(&incoming[2]),
        ];
        Ok(TransportKeys {
            transport,
            period_length,
            outgoing: OutgoingKeys {
                keys: PeriodKeys::from_secret(outgoing.period, outgoing.secret.clone()),
                next_stream: outgoing.next_stream,
            },
            incoming: IncomingKeys { periods },
        })
    }
}

/// Persisted state of [`TransportKeys`]. Holds secrets; zeroized on drop.
#[derive(Debug, Clone)]
pub struct TransportKeysState {
    /// The transport.
    pub transport: TransportId,
    /// The transport's period length.
    pub period_length: PeriodLength,
    /// Outgoing keys.
    pub outgoing: OutgoingState,
    /// Incoming keys, oldest period first.
    pub incoming: [IncomingPeriodState; 3],
}

/// Persisted state of [`OutgoingKeys`].
#[derive(Debug, Clone)]
pub struct OutgoingState {
    /// The current period.
    pub period: Period,
    /// The period secret.
    pub secret: SecretKey,
    /// The next unused stream number.
    pub next_stream: u64,
}

/// Persisted state of one incoming period.
#[derive(Debug, Clone)]
pub struct IncomingPeriodState {
    /// The period.
    pub period: Period,
    /// The period secret.
    pub secret: SecretKey,
    /// The lowest stream number of the reordering window.
    pub window_base: u64,
    /// Bit `i` set: stream number `window_base + i` has been seen.
    pub window_seen: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    fn pair(start: u64) -> (TransportKeys, TransportKeys) {
        let root = || RootKey::new(SecretKey::from_bytes([42; 32]));
        let len = PeriodLength::for_max_latency(Duration::from_secs(30)).unwrap();
        let a = TransportKeys::derive(&root(), Role::Alice, TransportId::TOR, len, Period(start));
        let b = TransportKeys::derive(&root(), Role::Bob, TransportId::TOR, len, Period(start));
        (a.unwrap(), b.unwrap())
    }

    #[test]
    fn beacons_change_every_period_and_only_the_contact_finds_them() {
        let (a, b) = pair(100);
        let len = PeriodLength::for_max_latency(Duration::from_secs(30)).unwrap();
        // Bob looks for exactly Alice's beacons of the three periods around his.
        let mut alice_beacons = Vec::new();
        for p in 99..=101 {
            let a = pair(100).0.rotate_to(Period(p.max(100))).unwrap();
            alice_beacons.push(a.outgoing().beacon());
        }
        assert_eq!(b.incoming().beacons()[1], a.outgoing().beacon());
        assert_eq!(b.incoming().beacons()[1..], alice_beacons[1..]);
        // Every period's beacon is new; the two directions never share one.
        let mut seen = std::collections::BTreeSet::new();
        let (mut a2, mut b2) = (a, b);
        for p in 100..140 {
            a2 = a2.rotate_to(Period(p)).unwrap();
            b2 = b2.rotate_to(Period(p)).unwrap();
            assert!(seen.insert(a2.outgoing().beacon()), "period {p}");
            assert!(seen.insert(b2.outgoing().beacon()), "period {p}");
        }
        // Another pair's keys (another root key) find none of them.
        let other = RootKey::new(SecretKey::from_bytes([43; 32]));
        let mut c =
            TransportKeys::derive(&other, Role::Bob, TransportId::TOR, len, Period(100)).unwrap();
        for p in 100..140 {
            c = c.rotate_to(Period(p)).unwrap();
            assert!(c.incoming().beacons().iter().all(|x| !seen.contains(x)));
        }
        // A beacon is not a tag of the same period.
        let (mut a3, _) = pair(100);
        let beacon = a3.outgoing().beacon();
        let tag = a3.outgoing_mut().next_stream().unwrap().tag;
        assert_ne!(&tag.0[..], &beacon.0[..]);
    }

    #[test]
    fn alice_out_is_bob_in() {
        let (mut a, mut b) = pair(100);
        let s = a.outgoing_mut().next_stream().unwrap();
        let r = b.incoming_mut().recognise(&s.tag).unwrap();
        assert_eq!((r.period, r.stream_number), (Period(100), 0));
        assert_eq!(r.header_key, s.header_key);
        // Replay: not recognised again.
        assert!(b.incoming_mut().recognise(&s.tag).is_none());
        // Alice does not recognise her own streams.
        let s2 = a.outgoing_mut().next_stream().unwrap();
        assert!(a.incoming_mut().recognise(&s2.tag).is_none());
    }

    #[test]
    fn transports_are_independent() {
        let root = RootKey::new(SecretKey::from_bytes([42; 32]));
        let len = PeriodLength::for_max_latency(Duration::from_secs(30)).unwrap();
        let mut tor = TransportKeys::derive(&root, Role::Alice, TransportId::TOR, len, Period(9));
        let mut lan = TransportKeys::derive(&root, Role::Bob, TransportId::LAN, len, Period(9));
        let s = tor.as_mut().unwrap().outgoing_mut().next_stream().unwrap();
        assert!(
            lan.as_mut()
                .unwrap()
                .incoming_mut()
                .recognise(&s.tag)
                .is_none()
        );
    }

    #[test]
    fn rotation_derives_next_from_current_and_never_goes_back() {
        let (a, b) = pair(100);
        let a = a.rotate_to(Period(101)).unwrap();
        assert_eq!(a.period(), Period(101));
        let a = a.rotate_to(Period(50)).unwrap();
        assert_eq!(a.period(), Period(101));
        // A stream from Alice in 101 is in Bob's window (99, 100, 101) already.
        let mut a = a;
        let s = a.outgoing_mut().next_stream().unwrap();
        let mut b = b;
        assert_eq!(
            b.incoming().periods(),
            [Period(99), Period(100), Period(101)]
        );
        assert_eq!(
            b.incoming_mut().recognise(&s.tag).unwrap().period,
            Period(101)
        );
    }

    #[test]
    fn periods_two_back_are_forgotten() {
        let (mut a, b) = pair(100);
        let old = a.outgoing_mut().next_stream().unwrap();
        let mut b = b.rotate_to(Period(102)).unwrap();
        assert_eq!(
            b.incoming().periods(),
            [Period(101), Period(102), Period(103)]
        );
        assert!(b.incoming_mut().recognise(&old.tag).is_none());
    }

    #[test]
    fn rotation_keeps_windows_of_kept_periods() {
        let (a, mut b) = pair(100);
        let mut a = a.rotate_to(Period(101)).unwrap();
        let s0 = a.outgoing_mut().next_stream().unwrap();
        assert!(b.incoming_mut().recognise(&s0.tag).is_some());
        let mut b = b.rotate_to(Period(101)).unwrap();
        assert!(b.incoming_mut().recognise(&s0.tag).is_none());
        let s1 = a.outgoing_mut().next_stream().unwrap();
        assert_eq!(
            b.incoming_mut().recognise(&s1.tag).unwrap().stream_number,
            1
        );
    }

    #[test]
    fn long_jumps_equal_single_steps() {
        let (a, _) = pair(100);
        let mut stepped = a;
        for p in 101..=110 {
            stepped = stepped.rotate_to(Period(p)).unwrap();
        }
        let (a, _) = pair(100);
        let jumped = a.rotate_to(Period(110)).unwrap();
        let (s, j) = (stepped.to_state(), jumped.to_state());
        assert_eq!(s.outgoing.secret, j.outgoing.secret);
        for i in 0..3 {
            assert_eq!(s.incoming[i].period, j.incoming[i].period);
            assert_eq!(s.incoming[i].secret, j.incoming[i].secret);
        }
    }

    #[test]
    fn state_round_trips() {
        let (mut a, mut b) = pair(100);
        for _ in 0..5 {
            let s = a.outgoing_mut().next_stream().unwrap();
            b.incoming_mut().recognise(&s.tag).unwrap();
        }
        let mut b2 = TransportKeys::from_state(b.to_state()).unwrap();
        let a2 = TransportKeys::from_state(a.to_state()).unwrap();
        assert_eq!(a2.outgoing().next_stream_number(), 5);
        let expected: Vec<_> = b.incoming().expected_tags().collect();
        assert_eq!(b2.incoming().expected_tags().collect::<Vec<_>>(), expected);
        let s = a.outgoing_mut().next_stream().unwrap();
        assert_eq!(
            b2.incoming_mut().recognise(&s.tag).unwrap().stream_number,
            5
        );
    }

    #[test]
    fn bad_state_is_refused() {
        let (a, _) = pair(100);
        let mut st = a.to_state();
        st.incoming[2].period = Period(200);
        assert_eq!(
            TransportKeys::from_state(st).unwrap_err(),
            StreamError::InvalidState
        );
        let mut st = a.to_state();
        st.outgoing.period = Period(99);
        assert_eq!(
            TransportKeys::from_state(st).unwrap_err(),
            StreamError::InvalidState
        );
        let mut st = a.to_state();
        st.outgoing.next_stream = MAX_STREAM_NUMBER + 2;
        assert_eq!(
            TransportKeys::from_state(st).unwrap_err(),
            StreamError::InvalidState
        );
    }

    #[test]
    fn stream_numbers_run_out() {
        let (a, _) = pair(100);
        let mut st = a.to_state();
        st.outgoing.next_stream = MAX_STREAM_NUMBER;
        let mut a = TransportKeys::from_state(st).unwrap();
        assert!(a.outgoing_mut().next_stream().is_ok());
        assert_eq!(
            a.outgoing_mut().next_stream().unwrap_err(),
            StreamError::StreamNumbersExhausted
        );
        let mut a = a.rotate_to(Period(101)).unwrap();
        assert_eq!(a.outgoing_mut().next_stream().unwrap().stream_number, 0);
    }

    #[test]
    fn absurd_jumps_are_refused_not_looped() {
        let (a, _) = pair(100);
        assert_eq!(
            a.rotate_to(Period(u64::MAX)).unwrap_err(),
            StreamError::InvalidPeriod
        );
        let (a, _) = pair(100);
        assert_eq!(
            a.rotate_to(Period(101 + MAX_ROTATION)).unwrap_err(),
            StreamError::InvalidPeriod
        );
        // Forty years of daily periods in one jump.
        let (a, _) = pair(100);
        let a = a.rotate_to(Period(100 + 15_000)).unwrap();
        assert_eq!(a.incoming().periods()[1], Period(15_100));
    }

    #[test]
    fn period_zero_is_refused() {
        let root = RootKey::new(SecretKey::from_bytes([1; 32]));
        let len = PeriodLength::for_max_latency(Duration::ZERO).unwrap();
        let r = TransportKeys::derive(&root, Role::Alice, TransportId::TOR, len, Period(0));
        assert_eq!(r.unwrap_err(), StreamError::InvalidPeriod);
    }
}
