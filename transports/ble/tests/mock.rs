//! The BLE transport's fast tier: a private D-Bus bus with BlueZ mocked by python-dbusmock's
//! `bluez5` template plus GATT objects of ours (`bluez_mock.py`), driving the central path
//! with btleplug end to end: discovery, recognition of a contact's rotating advertisement,
//! connect, writes, notifications, disconnect, and the error paths; and the peripheral
//! path with bluer: the role tried again until BlueZ can serve GATT, the application and
//! the advertisement as BlueZ would read them, and a central's OPEN.
//!
//! Each test re-runs itself with `DBUS_SYSTEM_BUS_ADDRESS` pointing at a bus of its own
//! (the variable is read when btleplug and bluer connect, and a process has one
//! environment). Needs `dbus-daemon`, Debian's `python3-dbus`, and python-dbusmock 0.38.1
//! unpacked where `THICKET_DBUSMOCK` says (`.ci/install-deps` puts it there).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bramble_proto::transport::Beacon;
use thicket_ble::advert::advertised_uuid;
use thicket_ble::{BleConfig, BleTransport, Roles};
use thicket_transport::{Peer, Status, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

const INSIDE: &str = "THICKET_TEST_BLUEZ_BUS";
const DEFAULT_DBUSMOCK: &str = "/usr/local/share/thicket-test/python-dbusmock-0.38.1";

fn dbusmock_dir() -> PathBuf {
    let dir = std::env::var_os("THICKET_DBUSMOCK")
        .map_or_else(|| PathBuf::from(DEFAULT_DBUSMOCK), PathBuf::from);
    assert!(
        dir.join("dbusmock").is_dir(),
        "python-dbusmock 0.38.1 is not at {} (run .ci/install-deps, or set THICKET_DBUSMOCK)",
        dir.display()
    );
    dir
}

/// A private bus, with or without the mocked BlueZ on it; killed on drop.
struct Bus {
    _dir: tempfile::TempDir,
    address: String,
    children: Vec<Child>,
}

impl Drop for Bus {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(
            start.elapsed() < limit,
            "{what} did not happen in {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Bus {
    fn start(with_bluez: bool) -> Bus {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("bus");
        let address = format!("unix:path={}", socket.display());
        // The session configuration lets anyone own any name, org.bluez included.
        let daemon = Command::new("dbus-daemon")
            .args(["--session", "--nofork", "--nopidfile"])
            .arg(format!("--address={address}"))
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon (Debian's dbus-daemon) is needed");
        let mut bus = Bus {
            _dir: dir,
            address,
            children: vec![daemon],
        };
        wait_for("the bus socket", Duration::from_secs(10), || {
            socket.exists()
        });
        if with_bluez {
            let mock = Command::new("/usr/bin/python3")
                .args(["-m", "dbusmock", "--system", "--template", "bluez5"])
                .env("PYTHONPATH", dbusmock_dir())
                .env("DBUS_SYSTEM_BUS_ADDRESS", &bus.address)
                .stdout(Stdio::null())
                .spawn()
                .expect("python3 with python3-dbus is needed");
            bus.children.push(mock);
            let address = bus.address.clone();
            wait_for("the mocked BlueZ", Duration::from_secs(20), || {
                Command::new("/usr/bin/python3")
                    .args([
                        "-c",
                        "import dbus; dbus.SystemBus().get_object('org.bluez', '/')\
                         .Introspect(dbus_interface='org.freedesktop.DBus.Introspectable')",
                    ])
                    .env("DBUS_SYSTEM_BUS_ADDRESS", &address)
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            });
        }
        bus
    }
}

/// Runs `test` again on a bus of its own; `true` when already there (run the test).
fn on_private_bus(test: &str, with_bluez: bool) -> bool {
    if std::env::var_os(INSIDE).is_some() {
        return true;
    }
    let bus = Bus::start(with_bluez);
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(INSIDE, "1")
        .env("DBUS_SYSTEM_BUS_ADDRESS", &bus.address)
        .env("PYTHONPATH", dbusmock_dir())
        .status()
        .unwrap();
    drop(bus);
    assert!(status.success(), "{test} failed on its private bus");
    false
}

fn script() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/bluez_mock.py"))
}

/// Runs a `bluez_mock.py` command; returns what it printed.
fn control(args: &[&str]) -> String {
    let out = Command::new("/usr/bin/python3")
        .arg(script())
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "bluez_mock.py {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn advert(beacon: &Beacon, salt: u8) -> String {
    uuid::Uuid::from_bytes(advertised_uuid(beacon, [salt; 8])).to_string()
}

async fn started(
    config: BleConfig,
) -> (
    BleTransport,
    mpsc::Receiver<thicket_transport::BoxConnection>,
) {
    let t = BleTransport::new(config);
    let (tx, rx) = mpsc::channel(8);
    t.start(tx).await.unwrap();
    (t, rx)
}

async fn status_becomes(
    t: &BleTransport,
    limit: Duration,
    want: impl Fn(&Status) -> bool,
) -> Status {
    let mut status = t.status();
    let found = tokio::time::timeout(limit, status.wait_for(|s| want(s)))
        .await
        .map(|r| r.map(|s| s.clone()));
    match found {
        Ok(Ok(s)) => s,
        _ => panic!("status stayed {:?}", *t.status().borrow()),
    }
}

async fn sighted_within(t: &BleTransport, beacons: &[Beacon], limit: Duration) -> Instant {
    let start = Instant::now();
    loop {
        if let Some(at) = t.sighted(beacons) {
            return at;
        }
        assert!(start.elapsed() < limit, "not sighted in {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An adapter `hci0`, and a transport on it playing the central only, up.
async fn central_on_hci0() -> (
    BleTransport,
    mpsc::Receiver<thicket_transport::BoxConnection>,
) {
    control(&["adapter", "hci0"]);
    let config = BleConfig::new()
        .with_adapter("hci0")
        .with_roles(Roles::CentralOnly);
    let (t, incoming) = started(config).await;
    let s = status_becomes(&t, Duration::from_secs(10), |s| {
        !matches!(s, Status::Stopped | Status::Starting { .. })
    })
    .await;
    assert_eq!(s, Status::Up);
    (t, incoming)
}

const PEER: &str = "C0:11:22:33:44:01";
const STRANGER: &str = "C0:11:22:33:44:02";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_advertising_nearby_is_recognised_dialed_and_carries_a_pipe() {
    if !on_private_bus(
        "a_contact_advertising_nearby_is_recognised_dialed_and_carries_a_pipe",
        true,
    ) {
        return;
    }
    let (t, _incoming) = central_on_hci0().await;
    let contact = Beacon([0x42; 16]);
    let other = Beacon([0x43; 16]);
    control(&["device", "hci0", PEER, &advert(&contact, 1), "peer"]);
    // A stranger: a random version-4 UUID that announces nothing of ours.
    control(&[
        "device",
        "hci0",
        STRANGER,
        "5f0c3a1e-8d2b-4c6f-9e7a-1b2c3d4e5f60",
        "peer",
    ]);
    let first = sighted_within(&t, &[Beacon([1; 16]), contact], Duration::from_secs(10)).await;
    assert_eq!(
        t.sighted(&[other]),
        None,
        "nothing announces another beacon"
    );

    // The contact rotates to a fresh UUID (a new salt), and to the next period's beacon:
    // both are recognised, the newer sighting the later.
    let next = Beacon([0x44; 16]);
    control(&["advertise", "hci0", PEER, &advert(&next, 2)]);
    let later = sighted_within(&t, &[next], Duration::from_secs(10)).await;
    assert!(later >= first);

    let peer = Peer {
        properties: Default::default(),
        beacons: vec![contact],
    };
    let mut conn = t.dial(&peer).await.unwrap();
    assert_eq!(t.links(), (1, 0));
    let sent: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 251) as u8).collect();
    conn.write_all(&sent).await.unwrap();
    conn.shutdown().await.unwrap();
    let mut back = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), conn.read_to_end(&mut back))
        .await
        .unwrap()
        .unwrap();
    assert!(
        back == sent,
        "the peer's echo came back whole ({} of {} bytes)",
        back.len(),
        sent.len()
    );

    let log = control(&["log", "hci0", PEER]);
    let written: Vec<&str> = log.lines().collect();
    assert!(
        written[0].starts_with("0001") && written[0].len() == 12,
        "OPEN first: {written:?}"
    );
    assert!(
        written.iter().all(|w| w.len() / 2 <= 509),
        "no write above 509 bytes at MTU 517"
    );
    let close = written
        .iter()
        .position(|w| w.starts_with("03"))
        .expect("a CLOSE");
    assert!(
        written[close..].iter().skip(1).all(|w| w.starts_with("02")),
        "only ACKs after CLOSE: {:?}",
        &written[close..]
    );
    assert_eq!(
        control(&["log", "hci0", STRANGER]),
        "",
        "the stranger was never written to"
    );
    drop(conn);
    // The link goes once the pipe is over.
    let start = Instant::now();
    while t.links() != (0, 0) {
        assert!(start.elapsed() < Duration::from_secs(10), "the link stayed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_that_cannot_carry_a_pipe_fail_the_dial_and_nothing_else() {
    if !on_private_bus(
        "devices_that_cannot_carry_a_pipe_fail_the_dial_and_nothing_else",
        true,
    ) {
        return;
    }
    let (t, _incoming) = central_on_hci0().await;
    let (stuck, nogatt, gone) = (Beacon([1; 16]), Beacon([2; 16]), Beacon([3; 16]));
    control(&[
        "device",
        "hci0",
        "C0:11:22:33:44:11",
        &advert(&stuck, 1),
        "stuck",
    ]);
    control(&[
        "device",
        "hci0",
        "C0:11:22:33:44:12",
        &advert(&nogatt, 1),
        "nogatt",
    ]);
    control(&[
        "device",
        "hci0",
        "C0:11:22:33:44:13",
        &advert(&gone, 1),
        "peer",
    ]);
    sighted_within(&t, &[stuck], Duration::from_secs(10)).await;
    sighted_within(&t, &[nogatt], Duration::from_secs(10)).await;
    sighted_within(&t, &[gone], Duration::from_secs(10)).await;

    let dial = |b: Beacon| {
        let t = t.clone();
        async move {
            t.dial(&Peer {
                properties: Default::default(),
                beacons: vec![b],
            })
            .await
        }
    };
    let e = dial(nogatt)
        .await
        .err()
        .expect("a device without our characteristic");
    assert!(e.to_string().contains("does not serve Thicket"), "{e}");
    let started_at = Instant::now();
    let e = dial(stuck)
        .await
        .err()
        .expect("a device that never finishes connecting");
    assert!(
        started_at.elapsed() < Duration::from_secs(25),
        "the dial gave up in time"
    );
    assert!(!e.to_string().is_empty());
    let e = dial(Beacon([9; 16]))
        .await
        .err()
        .expect("nobody announces this beacon");
    assert_eq!(e.kind(), std::io::ErrorKind::NotFound);

    // A link whose device disconnects fails its reads; the transport carries on.
    let mut conn = dial(gone).await.unwrap();
    conn.write_all(b"hello").await.unwrap();
    let mut buf = [0u8; 5];
    conn.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"hello");
    control(&["drop", "hci0", "C0:11:22:33:44:13"]);
    let mut rest = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(10), conn.read_to_end(&mut rest))
        .await
        .unwrap();
    assert!(
        r.is_err(),
        "a dropped link is an error, not a clean end: {r:?}"
    );
    assert_eq!(t.status().borrow().clone(), Status::Up);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_says_why_bluetooth_cannot_be_used() {
    if !on_private_bus("the_status_says_why_bluetooth_cannot_be_used", true) {
        return;
    }
    // No adapter at all.
    let (t, _in) = started(BleConfig::new().with_roles(Roles::CentralOnly)).await;
    let s = status_becomes(&t, Duration::from_secs(10), |s| {
        matches!(s, Status::Down(_))
    })
    .await;
    assert_eq!(
        s,
        Status::Down(String::from("there is no Bluetooth adapter"))
    );
    drop(t);
    // An adapter that is switched off, then on, then off while running.
    control(&["adapter", "hci0"]);
    control(&["power", "hci0", "off"]);
    let (t, _in) = started(
        BleConfig::new()
            .with_adapter("hci0")
            .with_roles(Roles::CentralOnly),
    )
    .await;
    let s = status_becomes(&t, Duration::from_secs(10), |s| {
        matches!(s, Status::Down(_))
    })
    .await;
    assert_eq!(s, Status::Down(String::from("Bluetooth is switched off")));
    control(&["power", "hci0", "on"]);
    status_becomes(&t, Duration::from_secs(25), |s| *s == Status::Up).await;
    control(&["power", "hci0", "off"]);
    let s = status_becomes(&t, Duration::from_secs(10), |s| {
        matches!(s, Status::Down(_))
    })
    .await;
    assert!(
        matches!(&s, Status::Down(why) if why.contains("switched off")),
        "{s:?}"
    );
    drop(t);
    // Both roles against a BlueZ that cannot serve GATT: found by nobody, but finding.
    control(&["power", "hci0", "on"]);
    let (t, _in) = started(BleConfig::new().with_adapter("hci0")).await;
    let s = status_becomes(&t, Duration::from_secs(10), |s| {
        matches!(s, Status::Limited(_) | Status::Up)
    })
    .await;
    assert!(
        matches!(&s, Status::Limited(why) if why.starts_with("nearby devices cannot find this one")),
        "{s:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_bluez_the_transport_says_so_and_keeps_trying() {
    if !on_private_bus(
        "without_bluez_the_transport_says_so_and_keeps_trying",
        false,
    ) {
        return;
    }
    let (t, _in) = started(BleConfig::new()).await;
    let s = status_becomes(&t, Duration::from_secs(10), |s| {
        matches!(s, Status::Down(_))
    })
    .await;
    assert!(
        matches!(&s, Status::Down(why) if why.contains("is BlueZ (bluetoothd) running?")),
        "{s:?}"
    );
    let e = t
        .dial(&Peer {
            properties: Default::default(),
            beacons: vec![Beacon([1; 16])],
        })
        .await
        .err()
        .unwrap();
    assert_eq!(e.kind(), std::io::ErrorKind::NotConnected);
}

const CENTRAL: &str = "C0:11:22:33:44:03";

/// Polls a `bluez_mock.py` listing until `ok` accepts it.
async fn listed(args: &[&str], limit: Duration, ok: impl Fn(&str) -> bool) -> String {
    let start = Instant::now();
    loop {
        let out = control(args);
        if ok(&out) {
            return out;
        }
        assert!(
            start.elapsed() < limit,
            "bluez_mock.py {args:?} stayed {out:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_peripheral_role_is_tried_again_then_serves_advertises_and_accepts() {
    if !on_private_bus(
        "the_peripheral_role_is_tried_again_then_serves_advertises_and_accepts",
        true,
    ) {
        return;
    }
    control(&["adapter", "hci0"]);
    // BlueZ's settings, without private addresses for now.
    let settings = tempfile::tempdir().unwrap();
    let main_conf = settings.path().join("main.conf");
    std::fs::write(&main_conf, "[General]\n#Privacy = device\n").unwrap();
    let config = BleConfig::new()
        .with_adapter("hci0")
        .with_bluez_conf(&main_conf);
    let (t, mut incoming) = started(config).await;
    let contact = Beacon([0x42; 16]);
    t.announce(vec![contact]);
    // The template has no GATT manager: only the central runs.
    let s = status_becomes(&t, Duration::from_secs(10), |s| {
        matches!(s, Status::Limited(_) | Status::Up)
    })
    .await;
    assert!(
        matches!(&s, Status::Limited(why) if why.starts_with("nearby devices cannot find this one")),
        "{s:?}"
    );
    // Once BlueZ can serve GATT, the peripheral opens within a retry, the central kept;
    // but the controller's fixed address would give the device away: said so.
    control(&["gatt", "hci0"]);
    let s = status_becomes(
        &t,
        Duration::from_secs(25),
        |s| matches!(s, Status::Limited(why) if why.contains("fixed Bluetooth address")),
    )
    .await;
    assert!(
        matches!(&s, Status::Limited(why) if why.contains("Privacy = device")),
        "{s:?}"
    );
    // The user turns private addresses on and Bluetooth off and on: up.
    std::fs::write(&main_conf, "[General]\nPrivacy = device\n").unwrap();
    control(&["power", "hci0", "off"]);
    status_becomes(&t, Duration::from_secs(10), |s| {
        matches!(s, Status::Down(_))
    })
    .await;
    control(&["power", "hci0", "on"]);
    status_becomes(&t, Duration::from_secs(25), |s| *s == Status::Up).await;

    // One characteristic with the four ways in, on Thicket's service.
    let app = control(&["app", "hci0"]);
    assert_eq!(
        app.lines().collect::<Vec<_>>(),
        [
            "service 06bd5384-5094-4341-8919-b1ca25e7506b",
            "characteristic f31734a9-6a84-46e9-83d1-83a73212f1ce \
             notify,read,write,write-without-response",
        ],
        "{app}"
    );
    // One advertisement: one rotating UUID that announces the contact, nothing else
    // that could identify the device. (While it rotates, the old one may still be
    // registered for a moment: bluer unregisters it from a task of its own.)
    let adverts = listed(&["adverts", "hci0"], Duration::from_secs(30), |o| {
        o.lines().count() == 1
    })
    .await;
    let lines: Vec<&str> = adverts.lines().collect();
    let props: std::collections::BTreeMap<&str, &str> = lines[0]
        .split('\t')
        .map(|kv| kv.split_once('=').unwrap())
        .collect();
    assert_eq!(props.get("Type"), Some(&"peripheral"), "{props:?}");
    let uuid = uuid::Uuid::parse_str(props["ServiceUUIDs"]).unwrap();
    assert!(thicket_ble::advert::announces(uuid.as_bytes(), &contact));
    for key in [
        "LocalName",
        "ManufacturerData",
        "ServiceData",
        "Appearance",
        "Includes",
    ] {
        assert!(
            props.get(key).is_none_or(|v| v.is_empty()),
            "{key} is advertised: {props:?}"
        );
    }
    // Nothing to announce: no advertisement.
    t.announce(Vec::new());
    listed(&["adverts", "hci0"], Duration::from_secs(30), str::is_empty).await;

    // A central writes OPEN: a link, handed to the engine as a connection.
    control(&[
        "device",
        "hci0",
        CENTRAL,
        "5f0c3a1e-8d2b-4c6f-9e7a-1b2c3d4e5f60",
        "nogatt",
    ]);
    control(&["write", "hci0", CENTRAL, "0001a1b2c3d4"]);
    let conn = tokio::time::timeout(Duration::from_secs(10), incoming.recv())
        .await
        .expect("a connection from the central's OPEN")
        .unwrap();
    assert_eq!(t.links(), (0, 1));
    // That central is not connected (the mock never connected it): the link goes.
    let start = Instant::now();
    while t.links() != (0, 0) {
        assert!(start.elapsed() < Duration::from_secs(15), "the link stayed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(conn);
}
