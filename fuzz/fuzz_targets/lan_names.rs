//! What the LAN transport reads from the network and from contacts: mDNS instance names
//! (never panic; whatever parses prints back to the same name, in lowercase) and
//! published properties (never panic; at most 8 addresses × 3 ports).
#![no_main]

use std::collections::BTreeMap;

use bramble_proto::time::Period;
use libfuzzer_sys::fuzz_target;
use thicket_lan::names;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Some(b) = names::parse_instance(&text) {
        assert_eq!(names::instance_name(&b), text.to_ascii_lowercase());
    }
    let _ = names::parse_fullname(&text);
    let (key, addresses) = text.split_once('|').unwrap_or((&text, ""));
    let props = BTreeMap::from([
        (String::from(names::PROPERTY_PORT_KEY), key.to_owned()),
        (
            String::from(names::PROPERTY_ADDRESSES),
            addresses.to_owned(),
        ),
    ]);
    let period = Period(u64::from(data.first().copied().unwrap_or(0)));
    assert!(names::published_addresses(&props, period).len() <= 24);
});
