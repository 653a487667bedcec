//! Two LAN transports in one network namespace with only loopback: they find each
//! other by beacons alone, meet at a rendezvous, dial published addresses, and keep
//! strangers within the connection limits. What they announce carries nothing but
//! the beacons. The test re-runs itself in a fresh namespace, so no mDNS packet
//! leaves it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bramble_proto::crypto::SecretKey;
use bramble_proto::stream::Role;
use bramble_proto::transport::Beacon;
use mdns_sd::{ServiceDaemon, ServiceEvent};
use thicket_lan::{
    Interfaces, LanConfig, LanTransport, MAX_PER_PEER, PROPERTY_ADDRESSES, PROPERTY_PORT_KEY,
    SERVICE_TYPE, names,
};
use thicket_tests::netns::{check_isolated, in_private_netns};
use thicket_transport::{BoxConnection, Peer, RendezvousPoint, Status, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

async fn started(seed: u8) -> (LanTransport, mpsc::Receiver<BoxConnection>) {
    let config = LanConfig::new().with_interfaces(Interfaces::Only(vec!["lo".into()]));
    let t = LanTransport::new(config, &SecretKey::from_bytes([seed; 32])).unwrap();
    let (tx, rx) = mpsc::channel(64);
    t.start(tx).await.unwrap();
    (t, rx)
}

async fn eventually<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(x) = f() {
            return x;
        }
        assert!(Instant::now() < deadline, "{what}: not within {secs} s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn pipe(mut a: BoxConnection, mut b: BoxConnection) {
    a.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    b.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");
    b.write_all(b"pong").await.unwrap();
    a.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"pong");
}

async fn next(rx: &mut mpsc::Receiver<BoxConnection>) -> BoxConnection {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("an incoming connection")
        .unwrap()
}

#[test]
fn lan_transports_on_loopback() {
    if !in_private_netns("lan_transports_on_loopback") {
        return;
    }
    check_isolated();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(scenario());
}

async fn scenario() {
    let (a, mut a_in) = started(1).await;
    let (b, _b_in) = started(2).await;
    // Only loopback: up, but nobody else can be on this network.
    let mut status = a.status();
    let s = eventually("a status", 10, || {
        let s = status.borrow_and_update().clone();
        (!matches!(s, Status::Starting { .. } | Status::Stopped)).then_some(s)
    })
    .await;
    assert!(matches!(s, Status::Limited(_)), "{s:?}");

    // A announces one contact's beacon; B, that contact, sees it and dials it.
    let x = Beacon([0x11; 16]);
    a.announce(vec![x]);
    a.announce(vec![x]);
    let announced = a.announced();
    assert_eq!(announced.len(), 8, "padded to eight names");
    assert!(announced.contains(&names::instance_name(&x)));
    let b_before = b.sighted(&[x]);
    assert!(b_before.is_none());
    eventually("B sees A's beacon", 20, || b.sighted(&[Beacon([9; 16]), x])).await;
    let conn = b
        .dial(&Peer {
            properties: BTreeMap::new(),
            beacons: vec![Beacon([9; 16]), x],
        })
        .await
        .unwrap();
    pipe(conn, next(&mut a_in).await).await;
    // A beacon nobody announces is not dialled.
    let e = b
        .dial(&Peer {
            properties: BTreeMap::new(),
            beacons: vec![Beacon([0x22; 16])],
        })
        .await
        .err()
        .unwrap();
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
    // A never reports its own names as sighted.
    assert!(a.sighted(&[x]).is_none());

    // What a bystander's browser sees: beacon names, a random host, no TXT, IPv4 only.
    let browser = ServiceDaemon::new().unwrap();
    let events = browser.browse(SERVICE_TYPE).unwrap();
    let mut seen = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(15);
    while seen.len() < 16 && Instant::now() < deadline {
        let Ok(Ok(ServiceEvent::ServiceResolved(info))) =
            tokio::time::timeout(Duration::from_secs(1), events.recv_async()).await
        else {
            continue;
        };
        let instance = info
            .get_fullname()
            .strip_suffix(SERVICE_TYPE)
            .unwrap()
            .trim_end_matches('.')
            .to_owned();
        assert!(names::parse_instance(&instance).is_some(), "{instance}");
        let host = info.get_hostname();
        assert!(
            host.len() == "r0123456789abcdef.local.".len()
                && host.starts_with('r')
                && host.ends_with(".local.")
                && host[1..17].bytes().all(|c| c.is_ascii_hexdigit()),
            "{host}"
        );
        assert!(info.get_properties().is_empty(), "no TXT content");
        assert!(
            info.get_addresses().iter().all(|ip| ip.is_ipv4()),
            "no IPv6: {:?}",
            info.get_addresses()
        );
        seen.insert(instance, info.get_port());
    }
    let _ = browser.shutdown();
    assert_eq!(seen.len(), 16, "both transports' eight names: {seen:?}");
    for name in a.announced() {
        assert_eq!(seen[&name], a.port());
    }

    // Rendezvous: A is Alice and announces the label; B, Bob, finds and dials it.
    let label = Beacon([0x33; 16]);
    let point = |role| RendezvousPoint {
        id: 7,
        role,
        label,
        sought: [Beacon([0x32; 16]), label, Beacon([0x34; 16])],
        our_onion_seed: SecretKey::from_bytes([0; 32]),
        their_onion_seed: SecretKey::from_bytes([0; 32]),
    };
    assert!(b.rendezvous(&point(Role::Bob)).await.unwrap().is_none());
    assert!(a.rendezvous(&point(Role::Alice)).await.unwrap().is_none());
    assert_eq!(a.announced().len(), 8, "a pad made room for the label");
    eventually("B sees the rendezvous label", 20, || {
        b.sighted(&point(Role::Bob).sought)
    })
    .await;
    let conn = b.rendezvous(&point(Role::Bob)).await.unwrap().unwrap();
    pipe(conn, next(&mut a_in).await).await;
    // Once A ends it, the label goes (a goodbye), and B finds nobody there.
    a.end_rendezvous(7);
    assert!(!a.announced().contains(&names::instance_name(&label)));
    eventually("the label is withdrawn", 20, || {
        b.sighted(&point(Role::Bob).sought).is_none().then_some(())
    })
    .await;
    assert!(b.rendezvous(&point(Role::Bob)).await.unwrap().is_none());

    // Last-known addresses with the port key reach A without mDNS.
    let props = a.local_properties();
    assert_eq!(props[PROPERTY_PORT_KEY].len(), 64);
    assert!(
        !props.contains_key(PROPERTY_ADDRESSES),
        "loopback is never published"
    );
    let mut published = props.clone();
    published.insert(PROPERTY_ADDRESSES.into(), "127.0.0.1".into());
    let conn = b.dial(&Peer::at(published)).await.unwrap();
    pipe(conn, next(&mut a_in).await).await;

    // A stranger holds MAX_PER_PEER connections; more are closed at once, without a byte.
    let to = std::net::SocketAddr::from(([127, 0, 0, 1], a.port()));
    let mut held = Vec::new();
    for _ in 0..MAX_PER_PEER {
        let client = tokio::net::TcpStream::connect(to).await.unwrap();
        held.push((client, next(&mut a_in).await));
    }
    let mut extra = tokio::net::TcpStream::connect(to).await.unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), extra.read(&mut buf))
        .await
        .expect("closed at once")
        .unwrap_or(0);
    assert_eq!(n, 0, "no byte, closed");
    assert!(
        tokio::time::timeout(Duration::from_millis(500), a_in.recv())
            .await
            .is_err(),
        "the extra connection never reached the engine"
    );
    drop(held);
}
