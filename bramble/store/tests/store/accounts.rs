//! Creating, unlocking, re-keying and deleting accounts, and every way that can fail.

use bramble_store::{ErrorKind, Store, StoreError};

use super::{PASSWORD, account, light, now, rng, snapshot};

#[test]
fn create_then_open() {
    let (_tmp, dir, store) = account();
    let id = store.identity().unwrap();
    assert_eq!(id.nickname, "ada");
    let public = id.signing_key.verifying_key();
    drop(store);
    let store = Store::open(&dir, PASSWORD).unwrap();
    assert_eq!(
        store.identity().unwrap().signing_key.verifying_key(),
        public
    );
    assert_eq!(
        store.schema_version().unwrap(),
        bramble_store::SCHEMA_VERSION
    );
}

#[test]
fn wrong_password_changes_nothing() {
    let (_tmp, dir, store) = account();
    drop(store);
    let before = snapshot(&dir);
    for wrong in [
        "",
        "correct horse battery stapl",
        "Correct horse battery staple",
        "x",
    ] {
        let err = Store::open(&dir, wrong).unwrap_err();
        assert!(matches!(err, StoreError::WrongPassword), "{wrong:?}: {err}");
        assert_eq!(err.kind(), ErrorKind::WrongPassword);
    }
    assert_eq!(snapshot(&dir), before, "files changed");
    Store::open(&dir, PASSWORD).unwrap();
}

#[test]
fn an_account_is_opened_by_one_process_at_a_time() {
    let (_tmp, dir, store) = account();
    assert!(matches!(
        Store::open(&dir, PASSWORD),
        Err(StoreError::InUse)
    ));
    assert!(matches!(
        Store::delete_account(&dir),
        Err(StoreError::InUse)
    ));
    drop(store);
    Store::open(&dir, PASSWORD).unwrap();
}

#[test]
fn no_second_account_in_one_directory() {
    let (_tmp, dir, store) = account();
    drop(store);
    let err = Store::create(&dir, "eve", "pw", light(), now(), &mut rng(2)).unwrap_err();
    assert!(matches!(err, StoreError::AccountExists));
    assert_eq!(
        Store::open(&dir, PASSWORD)
            .unwrap()
            .identity()
            .unwrap()
            .nickname,
        "ada"
    );
}

#[test]
fn bad_inputs_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a");
    for (nick, pw) in [
        ("ada", ""),
        ("", "pw"),
        ("a\u{7}", "pw"),
        (&*"n".repeat(51), "pw"),
    ] {
        let err = Store::create(&dir, nick, pw, light(), now(), &mut rng(1)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{nick:?} {pw:?}");
    }
    assert!(!bramble_store::exists(&dir).unwrap());
    assert!(matches!(
        Store::open(&tmp.path().join("none"), "pw"),
        Err(StoreError::NoAccount)
    ));
}

#[test]
fn changing_the_password_rewraps_and_keeps_the_database() {
    let (_tmp, dir, mut store) = account();
    store.set_setting("t", "k", b"kept").unwrap();
    store.checkpoint().unwrap();
    let db_before = std::fs::read(dir.join("thicket.db")).unwrap();
    let err = store
        .change_password("not it", "new pw", light(), &mut rng(3))
        .unwrap_err();
    assert!(matches!(err, StoreError::WrongPassword));
    store
        .change_password(PASSWORD, "new pw", light(), &mut rng(3))
        .unwrap();
    assert!(matches!(
        store.change_password(PASSWORD, "", light(), &mut rng(3)),
        Err(StoreError::InvalidInput(_))
    ));
    // The database was not re-encrypted, and no backup is left behind.
    assert_eq!(std::fs::read(dir.join("thicket.db")).unwrap(), db_before);
    assert!(!dir.join("thicket.key.bak").exists());
    drop(store);
    assert!(matches!(
        Store::open(&dir, PASSWORD),
        Err(StoreError::WrongPassword)
    ));
    let store = Store::open(&dir, "new pw").unwrap();
    assert_eq!(
        store.setting("t", "k").unwrap().as_deref(),
        Some(&b"kept"[..])
    );
}

#[test]
fn delete_removes_every_file() {
    let (tmp, dir, store) = account();
    // Tor's folder, as arti leaves it.
    std::fs::create_dir_all(dir.join("tor/state/hss/thicket")).unwrap();
    std::fs::write(dir.join("tor/state/state.lock"), b"").unwrap();
    std::fs::create_dir_all(dir.join("tor/cache")).unwrap();
    store.delete().unwrap();
    assert!(
        !dir.exists(),
        "{:?}",
        std::fs::read_dir(&dir).map(|d| d.count())
    );
    assert!(tmp.path().exists());

    let (_tmp, dir, store) = account();
    drop(store);
    Store::delete_account(&dir).unwrap();
    assert!(!dir.exists());
    assert!(matches!(
        Store::delete_account(&dir),
        Err(StoreError::NoAccount)
    ));
}

#[test]
fn delete_keeps_files_that_are_not_ours() {
    let (_tmp, dir, store) = account();
    std::fs::write(dir.join("notes.txt"), b"mine").unwrap();
    store.delete().unwrap();
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
}

#[test]
fn damaged_key_files_are_reported_and_left_alone() {
    let (_tmp, dir, store) = account();
    drop(store);
    let key = dir.join("thicket.key");
    let good = std::fs::read(&key).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", good[..good.len() / 2].to_vec()),
        ("empty", Vec::new()),
        ("flipped", {
            let mut b = good.clone();
            b[70] ^= 0x40;
            b
        }),
        ("extended", [&good[..], b"x"].concat()),
        ("garbage", vec![0x55; good.len()]),
    ];
    for (name, bytes) in cases {
        std::fs::write(&key, &bytes).unwrap();
        let before = snapshot(&dir);
        let err = Store::open(&dir, PASSWORD).unwrap_err();
        assert!(matches!(err, StoreError::CorruptKeyFile), "{name}: {err}");
        assert_eq!(snapshot(&dir), before, "{name}: files changed");
    }
    std::fs::write(&key, &good).unwrap();
    Store::open(&dir, PASSWORD).unwrap();
}

#[test]
fn the_backup_key_file_rescues_an_interrupted_change() {
    let (_tmp, dir, store) = account();
    drop(store);
    let key = dir.join("thicket.key");
    let bak = dir.join("thicket.key.bak");
    let good = std::fs::read(&key).unwrap();
    // A crash after the backup was written and while the new file was half written.
    std::fs::write(&bak, &good).unwrap();
    std::fs::write(&key, &good[..40]).unwrap();
    let store = Store::open(&dir, PASSWORD).unwrap();
    drop(store);
    assert_eq!(std::fs::read(&key).unwrap(), good, "primary restored");
    assert!(!bak.exists(), "backup removed once the primary is good");
    // A crash after the new file was durable but before the backup was removed: both
    // passwords open it, and the old one restores the old file.
    let mut store = Store::open(&dir, PASSWORD).unwrap();
    store
        .change_password(PASSWORD, "new", light(), &mut rng(4))
        .unwrap();
    drop(store);
    std::fs::write(&bak, &good).unwrap();
    let store = Store::open(&dir, "new").unwrap();
    drop(store);
    assert!(!bak.exists());
    assert!(matches!(
        Store::open(&dir, PASSWORD),
        Err(StoreError::WrongPassword)
    ));
    // The same crash, and the user gives the old password: the backup opens and becomes
    // the key file again, so the change is undone as a whole.
    std::fs::write(&bak, &good).unwrap();
    let store = Store::open(&dir, PASSWORD).unwrap();
    drop(store);
    assert_eq!(std::fs::read(&key).unwrap(), good);
    assert!(!bak.exists());
    assert!(matches!(
        Store::open(&dir, "new"),
        Err(StoreError::WrongPassword)
    ));
}

#[test]
fn a_missing_primary_with_a_damaged_backup_is_corruption() {
    let (_tmp, dir, store) = account();
    drop(store);
    std::fs::rename(dir.join("thicket.key"), dir.join("thicket.key.bak")).unwrap();
    let mut b = std::fs::read(dir.join("thicket.key.bak")).unwrap();
    b[100] ^= 1;
    std::fs::write(dir.join("thicket.key.bak"), &b).unwrap();
    assert!(matches!(
        Store::open(&dir, PASSWORD),
        Err(StoreError::CorruptKeyFile)
    ));
}

#[test]
fn damaged_databases_are_reported_and_left_alone() {
    let (_tmp, dir, mut store) = account();
    for i in 0..200 {
        store
            .set_setting("fill", &i.to_string(), &[7u8; 200])
            .unwrap();
    }
    store.checkpoint().unwrap();
    drop(store);
    let db = dir.join("thicket.db");
    let good = std::fs::read(&db).unwrap();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated to 100 bytes", good[..100].to_vec()),
        ("empty", Vec::new()),
        ("first page damaged", {
            let mut b = good.clone();
            b[200] ^= 0xff;
            b
        }),
        (
            "random bytes",
            (0..good.len())
                .map(|i| u8::try_from(i * 31 % 251).unwrap())
                .collect(),
        ),
    ];
    for (name, bytes) in cases {
        std::fs::write(&db, &bytes).unwrap();
        let before = snapshot(&dir);
        let err = Store::open(&dir, PASSWORD).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Corrupt, "{name}: {err}");
        assert_eq!(snapshot(&dir), before, "{name}: files changed");
    }
    std::fs::remove_file(&db).unwrap();
    let err = Store::open(&dir, PASSWORD).unwrap_err();
    assert!(matches!(err, StoreError::CorruptDatabase), "missing: {err}");
    std::fs::write(&db, &good).unwrap();
    Store::open(&dir, PASSWORD).unwrap();
}

#[test]
fn errors_say_nothing_secret() {
    let errors = [
        StoreError::WrongPassword,
        StoreError::CorruptKeyFile,
        StoreError::Database(1),
        StoreError::InvalidInput("x"),
    ];
    for e in errors {
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains(PASSWORD) && !shown.contains('/'), "{shown}");
    }
}

#[cfg(unix)]
#[test]
fn files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("shared");
    std::fs::create_dir(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut store = Store::create(&dir, "ada", PASSWORD, light(), now(), &mut rng(1)).unwrap();
    store.set_setting("a", "b", b"c").unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{:?}", path.file_name());
    }
    assert!(dir.join("thicket.db-wal").exists());
}

#[cfg(unix)]
#[test]
fn a_dangling_key_file_link_is_not_an_empty_directory() {
    let (_tmp, dir, store) = account();
    drop(store);
    let db = std::fs::read(dir.join("thicket.db")).unwrap();
    std::fs::remove_file(dir.join("thicket.key")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/usb/thicket.key", dir.join("thicket.key")).unwrap();
    let err = Store::create(&dir, "eve", "pw", light(), now(), &mut rng(2)).unwrap_err();
    assert!(matches!(err, StoreError::AccountExists), "{err}");
    assert_eq!(
        std::fs::read(dir.join("thicket.db")).unwrap(),
        db,
        "database kept"
    );
}

#[test]
fn a_missing_lock_file_is_recreated() {
    let (_tmp, dir, store) = account();
    drop(store);
    std::fs::remove_file(dir.join("thicket.lock")).unwrap();
    let store = Store::open(&dir, PASSWORD).unwrap();
    assert!(dir.join("thicket.lock").exists());
    assert!(matches!(
        Store::open(&dir, PASSWORD),
        Err(StoreError::InUse)
    ));
    drop(store);
}
