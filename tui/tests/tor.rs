//! Two `thicket` processes with Tor as their only transport, on a private Tor network on
//! loopback, inside a network namespace that has nothing but loopback: they add each
//! other by links (meeting at rendezvous onion services), chat both ways, and one side
//! restarts with the same onion address and receives what was queued meanwhile. No onion
//! key reaches any file outside the encrypted databases.
//!
//! The test re-runs itself in a new network namespace (`unshare --net`), so no process
//! it starts could reach anything but 127.0.0.0/8 even if it tried.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

#[path = "support/process.rs"]
mod process;

use process::{Account, Running};
use thicket_tests::netns::{check_isolated, in_private_netns};
use thicket_tests::tornet::TorNet;

/// Every TCP socket in the namespace is on loopback (or a listener's wildcard).
fn check_sockets_loopback() {
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            for addr in [fields[1], fields[2]] {
                let ip = addr.split(':').next().unwrap();
                let ok = match ip.len() {
                    // IPv4, little-endian hex: 127.x.x.x ends in 7F.
                    8 => ip.ends_with("7F") || ip == "00000000",
                    // IPv6: ::1, ::, or ::ffff:127.x.x.x.
                    _ => {
                        ip == "00000000000000000000000001000000"
                            || ip == "00000000000000000000000000000000"
                            || (ip.starts_with("0000000000000000FFFF0000") && ip.ends_with("7F"))
                    }
                };
                assert!(ok, "a socket outside loopback: {line}");
            }
        }
    }
}

/// The account's onion address, from `run`'s first lines.
fn onion_of(run: &mut Running) -> String {
    let line = run.expect("Our onion address: ", Duration::from_secs(30));
    line.rsplit(' ').next().unwrap().to_owned()
}

/// Every file under `dir`.
fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            files(&entry.path(), out);
        } else if kind.is_file() {
            out.push(entry.path());
        }
    }
}

/// The account's onion seed, read back through its password, and the forms of the key a
/// Tor implementation could write: the seed, the expanded secret key, each half.
fn key_forms(account: &Account) -> (String, Vec<Vec<u8>>) {
    let password = std::fs::read_to_string(&account.password).unwrap();
    let store = bramble_store::Store::open(&account.dir, password.trim_end()).unwrap();
    let seed: [u8; 32] = store
        .setting("transport-secret", "tor")
        .unwrap()
        .expect("the Tor secret is in the store")
        .try_into()
        .unwrap();
    drop(store);
    let address = thicket_tor::onion_address(&bramble_proto::crypto::SecretKey::from_bytes(seed));
    let expanded = tor_llcrypto::pk::ed25519::ExpandedKeypair::from(
        &tor_llcrypto::pk::ed25519::Keypair::from(&seed),
    )
    .to_secret_key_bytes();
    (
        address,
        vec![
            seed.to_vec(),
            hex::encode(seed).into_bytes(),
            expanded.to_vec(),
            expanded[..32].to_vec(),
            expanded[32..].to_vec(),
        ],
    )
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A Tor client that is nobody's contact dials `onion` and sends it junk: the service is
/// there (the connection opens), and not one byte comes back before it closes.
fn stranger_reaches_and_gets_nothing(dir: &Path, tor_config: &Path, onion: &str) {
    use thicket_transport::Transport as _;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let config = thicket_tor::TorConfig::new(dir)
            .with_overlay_file(tor_config)
            .unwrap();
        let stranger = thicket_tor::TorTransport::new(
            config,
            &bramble_proto::crypto::SecretKey::from_bytes([0x5a; 32]),
        )
        .unwrap();
        let (tx, _rx) = tokio::sync::mpsc::channel(1);
        stranger.start(tx).await.unwrap();
        let props = std::collections::BTreeMap::from([(
            String::from(thicket_tor::PROPERTY),
            onion.to_owned(),
        )]);
        let deadline = Instant::now() + Duration::from_secs(180);
        let mut conn = loop {
            match stranger
                .dial(&thicket_transport::Peer::at(props.clone()))
                .await
            {
                Ok(c) => break c,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("stranger: {e}; again");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                Err(e) => panic!("the service is not reachable at {onion}: {e}"),
            }
        };
        conn.write_all(&[0x42; 300]).await.unwrap();
        conn.flush().await.unwrap();
        let mut buf = [0u8; 64];
        let read = tokio::time::timeout(Duration::from_secs(60), conn.read(&mut buf))
            .await
            .expect("the stranger's connection is closed");
        assert!(
            matches!(read, Ok(0) | Err(_)),
            "a stranger got bytes back: {read:?}"
        );
    });
}

#[test]
fn a_bad_tor_configuration_is_refused_before_anything_starts() {
    let root = tempfile::tempdir().unwrap();
    let a = Account::new(root.path(), "alice");
    a.ok(&["init", "--name", "alice"]);
    let bad = root.path().join("tor.toml");
    for (text, says) in [
        ("[bridges\n", "not valid TOML"),
        (
            "[bridges]\nenabledd = true\n",
            "unknown options: bridges.enabledd",
        ),
        ("[storage.keystore]\nenabled = false\n", "storage.keystore"),
    ] {
        std::fs::write(&bad, text).unwrap();
        let out = a
            .command()
            .arg("run")
            .arg("--tor-config")
            .arg(&bad)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{text:?}: {stderr}");
        assert!(stderr.contains(says), "{text:?}: {stderr}");
    }
    let out = a
        .command()
        .args(["run", "--tor-config", "/nonexistent/tor.toml"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read the Tor configuration"));
    assert!(!a.dir.join("tor").exists(), "Tor never started");
}

#[test]
fn two_processes_add_each_other_and_chat_over_tor_only() {
    if !in_private_netns("two_processes_add_each_other_and_chat_over_tor_only") {
        return;
    }
    check_isolated();
    let root = tempfile::tempdir().unwrap();
    let mut net = TorNet::start(&root.path().join("net"), 3, 4).unwrap();
    let took = net.wait_for_consensus(Duration::from_secs(180)).unwrap();
    eprintln!("consensus after {took:?}");
    let config = net.arti_config().to_owned();

    let (a, b) = (
        Account::new(root.path(), "alice"),
        Account::new(root.path(), "bob"),
    );
    a.ok(&["init", "--name", "alice"]);
    b.ok(&["init", "--name", "bob"]);
    let (link_a, link_b) = (a.ok(&["link"]), b.ok(&["link"]));
    a.ok(&["add", link_b.trim(), "--name", "bob"]);

    let started = Instant::now();
    let mut ra = a.start(&["--tor-config".as_ref(), config.as_os_str()]);
    let onion_a = onion_of(&mut ra);
    // Bob adds Alice's link while running, from his standard input.
    let mut rb = b.start(&["--tor-config".as_ref(), config.as_os_str()]);
    let onion_b = onion_of(&mut rb);
    rb.say(&format!("add {} alice", link_a.trim()));
    rb.expect(
        "Added alice; waiting to meet them.",
        Duration::from_secs(10),
    );

    let meet = Duration::from_secs(300);
    ra.expect("Added bob.", meet);
    rb.expect("Added alice.", meet);
    // Bootstrap, then reachability, as status lines.
    ra.expect("tor: up", meet);
    rb.expect("tor: up", meet);
    eprintln!("contacts made {:?} after both started", started.elapsed());

    ra.say("send bob hello over tor");
    rb.expect("New message from alice: hello over tor", meet);
    ra.expect("A message to bob was delivered.", meet);
    rb.say("send alice and back again");
    ra.expect("New message from bob: and back again", meet);
    rb.expect("A message to alice was delivered.", meet);
    check_sockets_loopback();

    // Bob goes away; Alice queues; Bob comes back at the same address and gets both.
    rb.quit();
    ra.expect("Disconnected from bob over tor.", Duration::from_secs(120));
    ra.say("send bob while you were away");
    ra.say("send bob and a second one");
    ra.expect("Queued for bob.", Duration::from_secs(10));
    ra.expect("Queued for bob.", Duration::from_secs(10));
    let restarted = Instant::now();
    let mut rb = b.start(&["--tor-config".as_ref(), config.as_os_str()]);
    assert_eq!(
        onion_of(&mut rb),
        onion_b,
        "the same address after a restart"
    );
    rb.expect("New message from alice: while you were away", meet);
    rb.expect("New message from alice: and a second one", meet);
    eprintln!(
        "queued messages arrived {:?} after the restart",
        restarted.elapsed()
    );
    ra.expect("A message to bob was delivered.", meet);
    ra.expect("A message to bob was delivered.", meet);
    // A stranger reaches Bob's service at the old address, and gets nothing for its bytes.
    stranger_reaches_and_gets_nothing(&root.path().join("stranger"), &config, &onion_b);
    check_sockets_loopback();
    ra.quit();
    rb.quit();

    // The read state and history are intact on both sides.
    let history = b.ok(&["read", "alice"]);
    assert!(history.contains("hello over tor") && history.contains("and a second one"));
    let history = a.ok(&["read", "bob"]);
    assert!(history.contains("and back again"));

    // No onion key in any file but the encrypted databases (the whole test folder:
    // accounts, arti's state and cache, the Tor network), once every process has stopped
    // writing.
    drop(net);
    let mut all = Vec::new();
    files(root.path(), &mut all);
    // Arti's on-disk keystore (which must not be used) writes OpenSSH-style text files
    // under `keystore/`: none may exist in Thicket's folders (the relays of the test
    // network have keys of their own, as relays do).
    let net_dir = root.path().join("net");
    for path in all.iter().filter(|p| !p.starts_with(&net_dir)) {
        let shown = path.display().to_string();
        assert!(
            !shown.contains("/keystore/") && !shown.contains("_private"),
            "a key file: {shown}"
        );
        let bytes = std::fs::read(path).unwrap();
        assert!(
            !contains(&bytes, b"PRIVATE KEY"),
            "a private key in {shown}"
        );
    }
    for account in [&a, &b] {
        let (address, forms) = key_forms(account);
        let expected = if account.name == "alice" {
            &onion_a
        } else {
            &onion_b
        };
        assert_eq!(&address, expected, "the store's key is the one in use");
        for path in &all {
            let bytes = std::fs::read(path).unwrap();
            for form in &forms {
                assert!(
                    !contains(&bytes, form),
                    "{}'s onion key is in {}",
                    account.name,
                    path.display()
                );
            }
        }
    }
}
