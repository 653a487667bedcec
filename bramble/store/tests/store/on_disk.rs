//! What reaches the disk: nothing readable.

use bramble_proto::ids::GroupId;
use bramble_proto::transport::TransportId;
use bramble_store::{StatusInit, Store};

use super::data::{add_contact, keys, message};
use super::{PASSWORD, account, contains, snapshot};

#[test]
fn no_plaintext_or_key_bytes_in_any_file() {
    let (_tmp, dir, mut store) = account();
    let text = b"MEET AT THE NORTH GATE AT NINE".repeat(4);
    let tor = keys(42, TransportId::TOR);
    let state = tor.to_state();
    let secrets: Vec<[u8; 32]> = std::iter::once(*state.outgoing.secret.expose_secret())
        .chain(state.incoming.iter().map(|p| *p.secret.expose_secret()))
        .collect();
    let id = add_contact(&mut store, 42, &[tor]);
    let identity = store.identity().unwrap();
    let group = GroupId([1; 32]);
    store
        .add_group(group, "org.thicket.messaging", 0, b"")
        .unwrap();
    let status = [StatusInit {
        contact: id,
        ack: false,
        seen: false,
    }];
    store
        .add_messages(&[(message(1, group, &text), &status[..])])
        .unwrap();

    let check = |stage: &str| {
        let files = snapshot(&dir);
        assert!(files.contains_key("thicket.db") && files.contains_key("thicket.key"));
        for (name, bytes) in &files {
            assert!(
                !contains(bytes, &text[..30]),
                "{stage}: message text in {name}"
            );
            assert!(!contains(bytes, b"grace"), "{stage}: nickname in {name}");
            assert!(
                !contains(bytes, PASSWORD.as_bytes()),
                "{stage}: password in {name}"
            );
            assert!(
                !contains(bytes, b"SQLite format"),
                "{stage}: plaintext header in {name}"
            );
            for s in &secrets {
                assert!(!contains(bytes, s), "{stage}: a stream key in {name}");
            }
            assert!(
                !contains(bytes, identity.signing_key.expose_secret()),
                "{stage}: identity key in {name}"
            );
            assert!(
                !contains(bytes, identity.handshake_key.expose_secret()),
                "{stage}: link key in {name}"
            );
        }
    };
    // With the transactions still in the write-ahead log...
    assert!(dir.join("thicket.db-wal").exists());
    check("in the log");
    // ...and after they moved into the database.
    store.checkpoint().unwrap();
    check("checkpointed");
    drop(store);
    check("closed");
    drop(Store::open(&dir, PASSWORD).unwrap());
}
