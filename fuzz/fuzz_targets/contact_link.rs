//! The link parser over arbitrary text: never panics, and whatever it accepts prints
//! back as the canonical link of the same key.
#![no_main]

use bramble_proto::contact::Link;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(link) = Link::parse(&text) {
        let printed = link.to_string();
        assert_eq!(Link::parse(&printed), Ok(link));
        assert!(
            text.trim()
                .to_ascii_lowercase()
                .ends_with(&printed["thicket://".len()..])
        );
    }
});
