//! Two engines in one process carrying everything by files: more exports than a
//! reordering window holds, read in one import, in the random order of their names.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bramble_engine::{Engine, Target, create_account};

const PASSWORD: &str = "a password";

async fn account(root: &std::path::Path, name: &str) -> Engine {
    let dir = root.join(name);
    let (d, n) = (dir.clone(), name.to_owned());
    tokio::task::spawn_blocking(move || create_account(&d, &n, PASSWORD))
        .await
        .unwrap()
        .unwrap();
    Engine::open(&dir, PASSWORD, Vec::new()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folder_of_many_exports_delivers_everything() {
    let root = tempfile::tempdir().unwrap();
    let (a, b) = (
        account(root.path(), "alice").await,
        account(root.path(), "bob").await,
    );
    let pa = a
        .add_link(&b.link().await.unwrap().to_string(), "Bob")
        .await
        .unwrap();
    let pb = b
        .add_link(&a.link().await.unwrap().to_string(), "Alice")
        .await
        .unwrap();
    // Crossing handshake files carry the ephemeral keys; the next file each way carries
    // the contact info, and completes both.
    let (x, y) = (root.path().join("x"), root.path().join("y"));
    a.export(Target::Pending(pa), &x).await.unwrap();
    b.export(Target::Pending(pb), &y).await.unwrap();
    b.import(&x).await.unwrap();
    a.import(&y).await.unwrap();
    let (x, y) = (root.path().join("x2"), root.path().join("y2"));
    a.export(Target::Pending(pa), &x).await.unwrap();
    b.export(Target::Pending(pb), &y).await.unwrap();
    assert_eq!(b.import(&x).await.unwrap().contacts_added.len(), 1);
    assert_eq!(a.import(&y).await.unwrap().contacts_added.len(), 1);
    let bob = a.find_contact("Bob").await.unwrap();
    let alice = b.find_contact("Alice").await.unwrap();
    // A first sync stream each way confirms the handshake to the other side.
    let (x, y) = (root.path().join("x3"), root.path().join("y3"));
    a.export(Target::Contact(bob), &x).await.unwrap();
    b.export(Target::Contact(alice), &y).await.unwrap();
    b.import(&x).await.unwrap();
    a.import(&y).await.unwrap();
    assert!(a.pending().await.unwrap().is_empty() && b.pending().await.unwrap().is_empty());

    // Alice writes and exports 40 times into one folder before Bob reads any of it: more
    // streams than the 32 of his reordering window, in a random (tag) name order.
    let stick = root.path().join("stick");
    for i in 0..40 {
        a.send(bob, &format!("message {i}")).await.unwrap();
        let report = a.export(Target::Contact(bob), &stick).await.unwrap();
        assert_eq!(report.files.len(), 1);
    }
    let report = b.import(&stick).await.unwrap();
    assert_eq!(report.messages.len(), 40, "{report:?}");
    // Files that fell below the window as it moved on are not read; what they held is in
    // the later ones (a batch carries every unacknowledged message).
    assert!(report.rejected.is_empty(), "{report:?}");
    let texts: Vec<String> = b
        .conversation(alice, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(
        texts,
        (0..40).map(|i| format!("message {i}")).collect::<Vec<_>>()
    );
    // Read again: nothing new, nothing refused.
    let again = b.import(&stick).await.unwrap();
    assert!(again.messages.is_empty());
    assert_eq!(again.unrecognised, 40);
    a.shutdown().await;
    b.shutdown().await;
}

/// Syncs `engine` with `dir`; returns how many files it wrote.
/// The files in `dir`, sorted.
fn files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

async fn sync(engine: &Engine, dir: &std::path::Path) -> usize {
    engine.sync_folder(dir).await.unwrap().written.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_shared_folder_adds_the_contact_carries_a_message_and_then_stays_quiet() {
    let root = tempfile::tempdir().unwrap();
    let (a, b) = (
        account(root.path(), "alice").await,
        account(root.path(), "bob").await,
    );
    let stick = root.path().join("stick");
    let err = a.sync_folder(&stick).await.unwrap_err();
    assert!(
        matches!(&err, bramble_engine::EngineError::Io(e) if e.kind() == std::io::ErrorKind::NotFound),
        "{err:?}"
    );
    std::fs::create_dir(&stick).unwrap();
    // Someone else's things on the stick, which no sync may touch.
    let theirs = [
        stick.join(format!("{}.thicket", "5a".repeat(16))),
        stick.join("notes.txt"),
    ];
    std::fs::write(&theirs[0], [0x5a; 400]).unwrap();
    std::fs::write(&theirs[1], b"shopping list").unwrap();
    a.add_link(&b.link().await.unwrap().to_string(), "Bob")
        .await
        .unwrap();
    b.add_link(&a.link().await.unwrap().to_string(), "Alice")
        .await
        .unwrap();
    // The stick goes back and forth until both are contacts and neither has anything
    // left to say: then a sync writes nothing, however often it runs.
    let mut rounds = 0;
    loop {
        let written = sync(&a, &stick).await + sync(&b, &stick).await;
        let done = a.pending().await.unwrap().is_empty() && b.pending().await.unwrap().is_empty();
        if done && written == 0 {
            break;
        }
        rounds += 1;
        // Handshake keys, then contact info, then proof each way.
        assert!(rounds <= 2, "still writing after {rounds} rounds");
    }
    let bob = a.find_contact("Bob").await.unwrap();
    let alice = b.find_contact("Alice").await.unwrap();
    for _ in 0..3 {
        assert_eq!(sync(&a, &stick).await, 0);
        assert_eq!(sync(&b, &stick).await, 0);
    }

    // A message goes over, its acknowledgement comes back, then quiet again.
    let id = a.send(bob, "meet at the bridge").await.unwrap();
    let report = a.sync_folder(&stick).await.unwrap();
    assert_eq!(
        (report.written.len(), report.messages),
        (1, 1),
        "{report:?}"
    );
    let alices = report.written.clone();
    let report = b.sync_folder(&stick).await.unwrap();
    assert_eq!(report.imported.messages.len(), 1, "{report:?}");
    assert_eq!(report.written.len(), 1, "the acknowledgement");
    // Alice's file was read whole and removed: what is left is Bob's, and theirs.
    assert_eq!(report.imported.removed, alices);
    let mut left = [&theirs[..], &report.written[..]].concat();
    left.sort();
    assert_eq!(files(&stick), left);
    let texts: Vec<String> = b
        .conversation(alice, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.text)
        .collect();
    assert_eq!(texts, ["meet at the bridge"]);
    sync(&a, &stick).await;
    let ours = a.conversation(bob, 10).await.unwrap();
    assert_eq!(ours[0].id, id);
    assert_eq!(
        ours[0].delivery,
        Some(bramble_proto::messaging::DeliveryState::Delivered)
    );
    for _ in 0..3 {
        assert_eq!(sync(&a, &stick).await, 0);
        assert_eq!(sync(&b, &stick).await, 0);
    }
    // Everything either wrote was read by the other and removed; nothing else was.
    assert_eq!(files(&stick), theirs);
    a.shutdown().await;
    b.shutdown().await;
}
