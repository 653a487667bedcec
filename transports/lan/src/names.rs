//! What the LAN transport puts on the wire, as pure functions (`spec/lan.md`): instance
//! names from beacons, the listening port of a period, the padded set of names to
//! announce, and random host names.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddrV4};

use bramble_proto::crypto::{SecretKey, kdf, label, mac};
use bramble_proto::time::Period;
use bramble_proto::transport::{BEACON_LEN, Beacon};

/// Published property: our IPv4 addresses when the property was made, comma-separated.
pub const PROPERTY_ADDRESSES: &str = "addresses";
/// Published property: the key our ports are derived from, in hex.
pub const PROPERTY_PORT_KEY: &str = "port-key";
/// The most published addresses read.
const MAX_PUBLISHED: usize = 8;

/// RFC 4648 base32, lowercase (DNS names are case-insensitive).
const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// The length of an instance name: 128 bits in base32 characters.
pub const INSTANCE_LEN: usize = 26;

/// Announced names come in multiples of this many, padded with random ones, so that
/// the number of contacts shows only roughly.
pub const PAD_TO: usize = 8;

/// The first port of the dynamic range (RFC 6335), where listening ports are drawn.
const PORT_BASE: u16 = 49152;
/// The number of ports in that range.
const PORT_SPAN: u16 = 16384;

/// The instance name that announces `beacon`: its 16 bytes in lowercase base32,
/// without padding (26 characters).
pub fn instance_name(beacon: &Beacon) -> String {
    let mut out = String::with_capacity(INSTANCE_LEN);
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for &b in &beacon.0 {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((acc >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The beacon an instance name announces, if it is one of ours in canonical form
/// (any letter case; the unused low bits of the last character zero).
pub fn parse_instance(name: &str) -> Option<Beacon> {
    if name.len() != INSTANCE_LEN {
        return None;
    }
    let mut out = [0u8; BEACON_LEN];
    let (mut acc, mut bits, mut at) = (0u32, 0u32, 0usize);
    for c in name.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c.to_ascii_lowercase())?;
        acc = (acc << 5) | u32::try_from(v).ok()?;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            *out.get_mut(at)? = u8::try_from((acc >> bits) & 0xff).ok()?;
            at += 1;
        }
    }
    // 26 × 5 = 130 bits: two left over, which must be zero.
    (at == BEACON_LEN && acc & ((1 << bits) - 1) == 0).then_some(Beacon(out))
}

/// The beacon a full instance name (`<instance>._thicket._tcp.local.`) announces. mDNS
/// conflict resolution may have appended ` (N)` to the instance; the beacon is the same.
pub fn parse_fullname(fullname: &str) -> Option<Beacon> {
    let instance = fullname
        .strip_suffix(crate::SERVICE_TYPE)?
        .strip_suffix('.')?;
    let instance = match instance.strip_suffix(')').and_then(|i| i.rsplit_once(" (")) {
        Some((base, n))
            if !n.is_empty() && n.len() <= 4 && n.bytes().all(|c| c.is_ascii_digit()) =>
        {
            base
        }
        _ => instance,
    };
    parse_instance(instance)
}

/// Where a contact's published properties say it listens in the periods around
/// `period` (ours): each published address on the ports of periods `period − 1`,
/// `period` and `period + 1`. Nothing if the port key is missing or malformed;
/// malformed addresses are skipped, and at most eight are read.
pub fn published_addresses(
    properties: &BTreeMap<String, String>,
    period: Period,
) -> Vec<SocketAddrV4> {
    let Some(key) = properties
        .get(PROPERTY_PORT_KEY)
        .and_then(|k| <[u8; 32]>::try_from(hex::decode(k).ok()?).ok())
    else {
        return Vec::new();
    };
    let key = SecretKey::from_bytes(key);
    let ports: Vec<u16> = [period.prev(), Some(period), period.next()]
        .into_iter()
        .flatten()
        .map(|p| port(&key, p))
        .collect();
    let ips = properties
        .get(PROPERTY_ADDRESSES)
        .map(|a| {
            a.split(',')
                .filter_map(|ip| ip.trim().parse::<Ipv4Addr>().ok())
                .take(MAX_PUBLISHED)
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    ips.iter()
        .flat_map(|&ip| ports.iter().map(move |&p| SocketAddrV4::new(ip, p)))
        .collect()
}

/// The key contacts derive our listening ports from, published to them.
pub fn port_key(secret: &SecretKey) -> SecretKey {
    kdf(label::LAN_PORT_KEY, secret, &[])
}

/// Our listening port in `period`: in 49152–65535, from the port key.
pub fn port(port_key: &SecretKey, period: Period) -> u16 {
    let m = mac(label::LAN_PORT, port_key, &[&period.0.to_be_bytes()]);
    PORT_BASE + u16::from_be_bytes([m.0[0], m.0[1]]) % PORT_SPAN
}

/// The names to announce: every wanted beacon, then as many of the previous `pads` as
/// fill the set up to a multiple of [`PAD_TO`] (at least one full set), then fresh ones
/// from `fresh`. Returns the wanted and the pad beacons; pads stay the same while the
/// count allows, so the set does not change more than the wanted beacons do.
pub fn padded(
    wanted: &BTreeSet<Beacon>,
    pads: &[Beacon],
    mut fresh: impl FnMut() -> Beacon,
) -> (BTreeSet<Beacon>, Vec<Beacon>) {
    let target = wanted.len().div_ceil(PAD_TO).max(1) * PAD_TO;
    let mut all = wanted.clone();
    let mut kept = Vec::with_capacity(target - wanted.len());
    for p in pads {
        if all.len() == target {
            break;
        }
        if all.insert(*p) {
            kept.push(*p);
        }
    }
    while all.len() < target {
        let p = fresh();
        if all.insert(p) {
            kept.push(p);
        }
    }
    (all, kept)
}

/// A random host name for one period: `r` and 16 hex digits, in `.local.`.
pub fn host_name(random: [u8; 8]) -> String {
    format!("r{}.local.", hex::encode(random))
}

/// What changes between two announced sets: names to withdraw and names to add.
pub fn diff<'a>(
    now: &'a BTreeMap<Beacon, String>,
    wanted: &'a BTreeSet<Beacon>,
) -> (Vec<Beacon>, Vec<Beacon>) {
    let gone = now
        .keys()
        .filter(|b| !wanted.contains(b))
        .copied()
        .collect();
    let new = wanted
        .iter()
        .filter(|b| !now.contains_key(b))
        .copied()
        .collect();
    (gone, new)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn instance_names_round_trip_and_refuse_anything_else() {
        for seed in 0u8..=255 {
            let b = Beacon([seed.wrapping_mul(37); BEACON_LEN].map(|x| x ^ seed));
            let name = instance_name(&b);
            assert_eq!(name.len(), INSTANCE_LEN);
            assert!(name.bytes().all(|c| ALPHABET.contains(&c)), "{name}");
            assert_eq!(parse_instance(&name), Some(b));
            assert_eq!(parse_instance(&name.to_uppercase()), Some(b));
        }
        // RFC 4648 test vector, extended: "foobar" → MZXW6YTBOI.
        let mut b = [0u8; BEACON_LEN];
        b[..6].copy_from_slice(b"foobar");
        assert!(instance_name(&Beacon(b)).starts_with("mzxw6ytboi"));
        let good = instance_name(&Beacon([0xff; BEACON_LEN]));
        assert_eq!(good, "77777777777777777777777774");
        for bad in [
            "",
            "7777777777777777777777777",   // short
            "777777777777777777777777777", // long
            "77777777777777777777777777",  // low bits set
            "7777777777777777777777777!",
            "alice-laptop",
            "7777777777777777777777777\u{e9}",
        ] {
            assert_eq!(parse_instance(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ports_change_per_period_and_stay_in_the_dynamic_range() {
        let key = port_key(&SecretKey::from_bytes([3; 32]));
        let ports: Vec<u16> = (0..200).map(|p| port(&key, Period(p))).collect();
        assert!(ports.iter().all(|&p| p >= PORT_BASE));
        let distinct: BTreeSet<_> = ports.iter().collect();
        assert!(distinct.len() > 190, "{} distinct of 200", distinct.len());
        assert_eq!(port(&key, Period(7)), ports[7], "deterministic");
        let other = port_key(&SecretKey::from_bytes([4; 32]));
        assert_ne!(
            (0..8).map(|p| port(&other, Period(p))).collect::<Vec<_>>(),
            ports[..8]
        );
    }

    #[test]
    fn padding_fills_to_a_multiple_and_keeps_pads_while_it_can() {
        let mut n = 0u8;
        let mut fresh = || {
            n += 1;
            Beacon([n; BEACON_LEN])
        };
        let none = BTreeSet::new();
        let (all, pads) = padded(&none, &[], &mut fresh);
        assert_eq!((all.len(), pads.len()), (8, 8));

        let wanted: BTreeSet<_> = (100..103).map(|i| Beacon([i; BEACON_LEN])).collect();
        let (all2, pads2) = padded(&wanted, &pads, &mut fresh);
        assert_eq!((all2.len(), pads2.len()), (8, 5));
        assert!(pads2.iter().all(|p| pads.contains(p)), "old pads kept");
        assert!(wanted.iter().all(|w| all2.contains(w)));

        let many: BTreeSet<_> = (100..109).map(|i| Beacon([i; BEACON_LEN])).collect();
        let (all3, pads3) = padded(&many, &pads2, &mut fresh);
        assert_eq!((all3.len(), pads3.len()), (16, 7));
        assert_eq!(n, 10, "two fresh pads for the second set of eight");
    }

    #[test]
    fn published_addresses_need_a_port_key_and_skip_bad_addresses() {
        let key = port_key(&SecretKey::from_bytes([5; 32]));
        let p = Period(100);
        let mut props = BTreeMap::from([(
            String::from(PROPERTY_ADDRESSES),
            String::from("10.0.0.2, bogus,300.1.1.1,10.0.0.3"),
        )]);
        assert!(published_addresses(&props, p).is_empty(), "no port key");
        props.insert(PROPERTY_PORT_KEY.into(), "zz".into());
        assert!(published_addresses(&props, p).is_empty(), "bad port key");
        props.insert(PROPERTY_PORT_KEY.into(), hex::encode(key.expose_secret()));
        let got = published_addresses(&props, p);
        let ports = [
            port(&key, Period(99)),
            port(&key, p),
            port(&key, Period(101)),
        ];
        let want: Vec<SocketAddrV4> = ["10.0.0.2", "10.0.0.3"]
            .iter()
            .flat_map(|ip| ports.map(|pt| SocketAddrV4::new(ip.parse().unwrap(), pt)))
            .collect();
        assert_eq!(got, want);
        assert_eq!(
            parse_fullname("77777777777777777777777774._thicket._tcp.local."),
            Some(Beacon([0xff; BEACON_LEN]))
        );
        assert_eq!(
            parse_fullname("77777777777777777777777774._other._tcp.local."),
            None
        );
        assert_eq!(parse_fullname("._thicket._tcp.local."), None);
        assert_eq!(
            parse_fullname("77777777777777777777777774 (2)._thicket._tcp.local."),
            Some(Beacon([0xff; BEACON_LEN])),
            "renamed by conflict resolution"
        );
        for bad in [" ()", " (x)", " (12345)", "(2)", " (2"] {
            let name = format!("77777777777777777777777774{bad}._thicket._tcp.local.");
            assert_eq!(parse_fullname(&name), None, "{name}");
        }
    }

    #[test]
    fn host_names_are_random_and_local() {
        assert_eq!(host_name([0xab; 8]), "rabababababababab.local.");
        let (a, b) = (host_name([1; 8]), host_name([2; 8]));
        assert_ne!(a, b);
    }
}
