//! What the BLE transport advertises and how it recognises contacts
//! (`spec/ble.md#advertisements`), with no I/O: the advertised UUID of a beacon, the
//! rotation through the values to advertise, and the table of UUIDs seen.
//!
//! Every advertisement is one random-looking version-4 UUID with a fresh salt, so that no
//! two advertisements of a device are the same and only a contact (or a pending contact)
//! holding the beacon can tell what one announces.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bramble_proto::crypto::{hash, label};
use bramble_proto::transport::Beacon;
use rand_core::CryptoRng;
use subtle::ConstantTimeEq;

/// The GATT service every Thicket device serves.
pub const SERVICE_UUID: u128 = 0x06bd_5384_5094_4341_8919_b1ca_25e7_506b;
/// The one characteristic of [`SERVICE_UUID`] that carries pipes.
pub const CHARACTERISTIC_UUID: u128 = 0xf317_34a9_6a84_46e9_83d1_83a7_3212_f1ce;
/// How long each value is advertised before the next.
pub const ROTATION: Duration = Duration::from_secs(2);
/// How long a sighting counts.
pub const SIGHTING_LIFETIME: Duration = Duration::from_secs(60);
/// The most sightings kept: a flood of UUIDs pushes out the oldest.
pub const MAX_SIGHTINGS: usize = 1024;

/// The advertised UUID that announces `value` (a beacon or a rendezvous label) with
/// `salt`, as 16 bytes in the UUID's written order. The salt's version nibble and the
/// tag's variant bits are forced, so every UUID is a version-4 UUID.
pub fn advertised_uuid(value: &Beacon, salt: [u8; 8]) -> [u8; 16] {
    let mut salt = salt;
    salt[6] = (salt[6] & 0x0f) | 0x40;
    let tag = tag(value, &salt);
    let mut uuid = [0u8; 16];
    uuid[..8].copy_from_slice(&salt);
    uuid[8..].copy_from_slice(&tag);
    uuid
}

fn tag(value: &Beacon, salt: &[u8]) -> [u8; 8] {
    let digest = hash(label::BLE_ADVERT, &[&value.0, salt]);
    let mut tag = [0u8; 8];
    tag.copy_from_slice(&digest.0[..8]);
    tag[0] = (tag[0] & 0x3f) | 0x80;
    tag
}

/// Whether `uuid` has the shape of an advertised UUID (version 4, variant `10`).
pub fn is_candidate(uuid: &[u8; 16]) -> bool {
    uuid[6] >> 4 == 4 && uuid[8] >> 6 == 0b10
}

/// Whether `uuid` announces `value`; the tag is compared in constant time.
pub fn announces(uuid: &[u8; 16], value: &Beacon) -> bool {
    is_candidate(uuid) && bool::from(tag(value, &uuid[..8]).ct_eq(&uuid[8..]))
}

/// The values a device advertises, in turn, one every [`ROTATION`].
#[derive(Default)]
pub struct Rotation {
    values: Vec<Beacon>,
    next: usize,
    /// When the current advertisement started, and its UUID.
    current: Option<(Instant, [u8; 16])>,
}

impl std::fmt::Debug for Rotation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rotation")
            .field("values", &self.values.len())
            .field("advertising", &self.current.is_some())
            .finish_non_exhaustive()
    }
}

/// What the advertiser should do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// Replace the advertisement (if any) with one of this UUID.
    Advertise([u8; 16]),
    /// Stop advertising: nothing to announce.
    Stop,
}

impl Rotation {
    /// An empty rotation: nothing advertised.
    pub fn new() -> Rotation {
        Rotation::default()
    }

    /// Replaces the values (every contact's beacon and the labels of rendezvous where we
    /// are Alice). The turn carries on where it was; a new set takes effect at the next
    /// change, except that an empty set stops advertising at once.
    pub fn set(&mut self, values: Vec<Beacon>) {
        if values != self.values {
            self.values = values;
            if self.next >= self.values.len() {
                self.next = 0;
            }
        }
    }

    /// The values advertised in turn.
    pub fn values(&self) -> &[Beacon] {
        &self.values
    }

    /// What to change now, if anything; call at least every [`ROTATION`] (see
    /// [`Rotation::next_change`]).
    pub fn poll(&mut self, now: Instant, rng: &mut impl CryptoRng) -> Option<Change> {
        if self.values.is_empty() {
            return self.current.take().map(|_| Change::Stop);
        }
        if let Some((since, _)) = self.current
            && now.saturating_duration_since(since) < ROTATION
        {
            return None;
        }
        let value = &self.values[self.next % self.values.len()];
        self.next = (self.next + 1) % self.values.len();
        let mut salt = [0u8; 8];
        rng.fill_bytes(&mut salt);
        let uuid = advertised_uuid(value, salt);
        self.current = Some((now, uuid));
        Some(Change::Advertise(uuid))
    }

    /// When [`Rotation::poll`] next has a change (now, if it has one at once).
    pub fn next_change(&self, now: Instant) -> Instant {
        match self.current {
            Some((since, _)) if !self.values.is_empty() => since + ROTATION,
            None if self.values.is_empty() => now + ROTATION,
            _ => now,
        }
    }
}

/// One UUID seen advertised by one device.
#[derive(Clone, Debug)]
struct Sighting<D> {
    device: D,
    uuid: [u8; 16],
    /// When the device came into sight: a new UUID of a device whose earlier ones are
    /// still in sight keeps their time.
    first: Instant,
    last: Instant,
}

/// The UUIDs seen advertised recently, by device (`D`: the device's address or handle).
#[derive(Clone, Debug)]
pub struct Sightings<D> {
    entries: VecDeque<Sighting<D>>,
}

impl<D> Default for Sightings<D> {
    fn default() -> Self {
        Sightings {
            entries: VecDeque::new(),
        }
    }
}

impl<D: Clone + PartialEq> Sightings<D> {
    /// An empty table.
    pub fn new() -> Sightings<D> {
        Sightings::default()
    }

    /// Records that `device` advertised `uuid` at `now`. UUIDs that cannot be ours are
    /// not kept; a full table drops its oldest sighting.
    pub fn record(&mut self, device: D, uuid: [u8; 16], now: Instant) {
        if !is_candidate(&uuid) {
            return;
        }
        self.expire(now);
        if let Some(s) = self
            .entries
            .iter_mut()
            .find(|s| s.uuid == uuid && s.device == device)
        {
            s.last = now;
            return;
        }
        // A device re-salts its advertisement every `ROTATION`, so each is a new UUID; one
        // that stays in sight is not newly seen with each (a new sighting overrides the
        // engine's backoff between dials: that would be a dial every few seconds).
        let first = self
            .entries
            .iter()
            .filter(|s| s.device == device)
            .map(|s| s.first)
            .min()
            .unwrap_or(now);
        if self.entries.len() >= MAX_SIGHTINGS {
            self.entries.pop_front();
        }
        self.entries.push_back(Sighting {
            device,
            uuid,
            first,
            last: now,
        });
    }

    /// Drops sightings older than [`SIGHTING_LIFETIME`].
    pub fn expire(&mut self, now: Instant) {
        self.entries
            .retain(|s| now.saturating_duration_since(s.last) < SIGHTING_LIFETIME);
    }

    /// Forgets a device (it went away, or it is not one of ours after all).
    pub fn forget(&mut self, device: &D) {
        self.entries.retain(|s| s.device != *device);
    }

    /// The device that most recently came into sight among those that announced one of
    /// `values` in the last [`SIGHTING_LIFETIME`], and when it came into sight (its first
    /// UUID of an unbroken run, each seen within [`SIGHTING_LIFETIME`] of the one before).
    pub fn find(&self, values: &[Beacon], now: Instant) -> Option<(&D, Instant)> {
        self.entries
            .iter()
            .filter(|s| now.saturating_duration_since(s.last) < SIGHTING_LIFETIME)
            .filter(|s| values.iter().any(|v| announces(&s.uuid, v)))
            .max_by_key(|s| s.first)
            .map(|s| (&s.device, s.first))
    }

    /// How many sightings are kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether none are.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use chacha20::ChaCha20Rng;
    use rand_core::SeedableRng;

    use super::*;

    fn beacon(n: u8) -> Beacon {
        Beacon([n; 16])
    }

    #[test]
    fn an_advertised_uuid_announces_its_value_only() {
        let uuid = advertised_uuid(&beacon(1), [0xff; 8]);
        assert!(is_candidate(&uuid));
        assert_eq!(uuid[6] >> 4, 4);
        assert_eq!(uuid[8] >> 6, 2);
        assert!(announces(&uuid, &beacon(1)));
        assert!(!announces(&uuid, &beacon(2)));
        // Any change to the salt or the tag breaks it.
        for i in 0..16 {
            for bit in 0..8 {
                let mut bent = uuid;
                bent[i] ^= 1 << bit;
                assert!(!announces(&bent, &beacon(1)), "byte {i} bit {bit}");
            }
        }
    }

    #[test]
    fn the_rotation_shows_each_value_in_turn_with_a_fresh_salt() {
        let mut rng = ChaCha20Rng::from_seed([7; 32]);
        let mut r = Rotation::new();
        let t0 = Instant::now();
        assert_eq!(r.poll(t0, &mut rng), None, "nothing to advertise");
        r.set(vec![beacon(1), beacon(2), beacon(3)]);
        let mut seen = Vec::new();
        let mut t = t0;
        for _ in 0..6 {
            assert_eq!(r.next_change(t), t);
            let Some(Change::Advertise(uuid)) = r.poll(t, &mut rng) else {
                panic!("a change is due");
            };
            assert_eq!(r.poll(t + ROTATION / 2, &mut rng), None);
            assert_eq!(r.next_change(t), t + ROTATION);
            seen.push(uuid);
            t += ROTATION;
        }
        for (i, uuid) in seen.iter().enumerate() {
            let n = u8::try_from(i % 3).unwrap() + 1;
            assert!(announces(uuid, &beacon(n)), "turn {i}");
        }
        let distinct: std::collections::BTreeSet<_> = seen.iter().collect();
        assert_eq!(distinct.len(), seen.len(), "no UUID repeats");
        // An emptied set stops at once.
        r.set(Vec::new());
        assert_eq!(r.poll(t, &mut rng), Some(Change::Stop));
        assert_eq!(r.poll(t, &mut rng), None);
    }

    #[test]
    fn sightings_find_the_newest_device_announcing_a_value_and_age_out() {
        let t0 = Instant::now();
        let mut s = Sightings::new();
        let a1 = advertised_uuid(&beacon(1), [1; 8]);
        let a2 = advertised_uuid(&beacon(1), [2; 8]);
        let b = advertised_uuid(&beacon(2), [3; 8]);
        s.record("x", a1, t0);
        s.record("y", b, t0);
        s.record("z", a2, t0 + Duration::from_secs(5));
        s.record("junk", [0; 16], t0);
        assert_eq!(s.len(), 3, "a UUID that cannot be ours is not kept");
        assert_eq!(
            s.find(&[beacon(1)], t0 + Duration::from_secs(6)),
            Some((&"z", t0 + Duration::from_secs(5)))
        );
        assert_eq!(s.find(&[beacon(3), beacon(2)], t0).map(|f| *f.0), Some("y"));
        assert_eq!(s.find(&[beacon(9)], t0), None);
        // Seeing a UUID again keeps it alive but does not make it new, nor does a fresh
        // salt of a device in sight all along.
        s.record("x", a1, t0 + Duration::from_secs(50));
        let a3 = advertised_uuid(&beacon(1), [4; 8]);
        s.record("x", a3, t0 + Duration::from_secs(52));
        assert_eq!(
            s.find(&[beacon(1)], t0 + Duration::from_secs(52)),
            Some((&"z", t0 + Duration::from_secs(5)))
        );
        let later = t0 + SIGHTING_LIFETIME + Duration::from_secs(10);
        assert_eq!(s.find(&[beacon(1)], later), Some((&"x", t0)));
        assert_eq!(s.find(&[beacon(2)], later), None, "aged out");
        s.forget(&"x");
        assert_eq!(s.find(&[beacon(1)], later), None);
        // A device back after longer than the lifetime out of sight is newly seen.
        let back = later + SIGHTING_LIFETIME;
        s.record("x", advertised_uuid(&beacon(1), [5; 8]), back);
        assert_eq!(s.find(&[beacon(1)], back), Some((&"x", back)));
    }

    #[test]
    fn a_device_in_sight_all_along_is_not_newly_seen_with_each_fresh_salt() {
        let t0 = Instant::now();
        let mut s = Sightings::new();
        for i in 0..100u8 {
            let at = t0 + ROTATION * u32::from(i);
            s.record("x", advertised_uuid(&beacon(1), [i; 8]), at);
            assert_eq!(
                s.find(&[beacon(1)], at),
                Some((&"x", t0)),
                "after {i} rotations"
            );
        }
    }

    #[test]
    fn a_flood_of_uuids_keeps_the_table_bounded() {
        let t0 = Instant::now();
        let mut s = Sightings::new();
        let ours = advertised_uuid(&beacon(1), [9; 8]);
        s.record(0usize, ours, t0);
        for i in 0..MAX_SIGHTINGS {
            let mut salt = [0u8; 8];
            salt[..8].copy_from_slice(&(i as u64).to_be_bytes());
            s.record(i + 1, advertised_uuid(&beacon(2), salt), t0);
        }
        assert_eq!(s.len(), MAX_SIGHTINGS);
        assert_eq!(s.find(&[beacon(1)], t0), None, "the oldest went first");
    }
}
