//! Thicket over Tor against raw arti, on a private Tor network on loopback. Needs Debian's
//! `tor` (`bash .ci/install-deps`). Run with `cargo bench -p thicket --bench tor`.
//!
//! From one run:
//! - **round trip**: a message from Alice's engine until Bob's acknowledgement makes it
//!   delivered, over an established Thicket connection (encrypted streams, sync records,
//!   the message stored durably before it is acknowledged), against a raw arti
//!   onion-stream echo of the same size between the same two Tor clients, over several
//!   circuits (target ratio ≤ 1.3); one message every 100 ms both. Also a message and
//!   Bob's immediate reply, split into its legs, against the echo sent in two writes;
//! - **launch to reachable**: from creating a Tor client and launching an onion service
//!   to the first successful connection from an already running client, through
//!   Thicket's Tor transport (identity key from our store, records cleared) and through
//!   raw arti, retrying every 0.5 s both.
#![allow(
    missing_docs,
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arti_client::TorClient;
use bramble_engine::{Engine, Event, Mode, create_account};
use bramble_proto::crypto::SecretKey;
use futures::StreamExt as _;
use safelog::DisplayRedacted as _;
use thicket_tests::tornet::TorNet;
use thicket_tor::{PROPERTY, TorConfig, TorTransport};
use thicket_transport::{Transport as _, TransportSetup};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tor_cell::relaycell::msg::Connected;
use tor_proto::stream::IncomingStreamRequest;

const ROUND_TRIPS: usize = 40;
const LAUNCHES: usize = 3;
/// Circuits the raw echo is measured over.
const CIRCUITS: usize = 4;
const ECHO_PORT: u16 = 7;
const PASSWORD: &str = "benchmark password";
/// About the size of a short chat message.
const TEXT: &str = "a short message of about the size people send in a chat, to and fro";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// An arti configuration like Thicket's (in-memory keys, state in `dir`) for raw clients.
fn raw_config(dir: &Path, overlay: &Path) -> arti_client::TorClientConfig {
    TorConfig::new(dir)
        .with_overlay_file(overlay)
        .unwrap()
        .build()
        .unwrap()
}

/// Hosts an echo service on `client` with a fresh key; returns it and its address.
fn launch_echo<R: tor_rtcompat::Runtime>(
    client: &Arc<TorClient<R>>,
    nickname: &str,
) -> (Arc<tor_hsservice::RunningOnionService>, String) {
    let config = tor_hsservice::config::OnionServiceConfigBuilder::default()
        .nickname(nickname.parse().unwrap())
        .build()
        .unwrap();
    let (service, requests) = client.launch_onion_service(config).unwrap().unwrap();
    let address = service
        .onion_address()
        .unwrap()
        .display_unredacted()
        .to_string();
    tokio::spawn(async move {
        let streams = tor_hsservice::handle_rend_requests(requests);
        let mut streams = std::pin::pin!(streams);
        while let Some(request) = streams.next().await {
            tokio::spawn(async move {
                if !matches!(request.request(), IncomingStreamRequest::Begin(b) if b.port() == ECHO_PORT)
                {
                    let _ = request.shutdown_circuit();
                    return;
                }
                let Ok(mut s) = request.accept(Connected::new_empty()).await else {
                    return;
                };
                let mut buf = [0u8; 4096];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() || s.flush().await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (service, address)
}

/// Connects every 0.5 s until it works; returns the time since `since`.
async fn until_reachable<R: tor_rtcompat::Runtime>(
    client: &Arc<TorClient<R>>,
    address: &str,
    port: u16,
    since: Instant,
) -> Duration {
    loop {
        match tokio::time::timeout(Duration::from_secs(60), client.connect((address, port))).await {
            Ok(Ok(_)) => return since.elapsed(),
            Ok(Err(e)) => eprintln!("  {:?}: {e}", since.elapsed()),
            Err(_) => eprintln!("  {:?}: timed out", since.elapsed()),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(
            since.elapsed() < Duration::from_secs(300),
            "{address} never reachable"
        );
    }
}

async fn wait_for(
    events: &mut tokio::sync::broadcast::Receiver<Event>,
    want: impl Fn(&Event) -> bool,
) {
    tokio::time::timeout(Duration::from_secs(300), async {
        loop {
            match events.recv().await {
                Ok(e) if want(&e) => return,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("events ended: {e}"),
            }
        }
    })
    .await
    .expect("the event within 300 s");
}

async fn open(dir: &Path, name: &str, overlay: &Path) -> (Engine, Arc<TorTransport>) {
    let (d, n) = (dir.to_owned(), name.to_owned());
    tokio::task::spawn_blocking(move || create_account(&d, &n, PASSWORD))
        .await
        .unwrap()
        .unwrap();
    // Keep a handle on the transport the engine runs, for the raw baseline.
    struct Keep(TorConfig, Arc<std::sync::Mutex<Option<Arc<TorTransport>>>>);
    impl TransportSetup for Keep {
        fn id(&self) -> bramble_proto::transport::TransportId {
            bramble_proto::transport::TransportId::TOR
        }
        fn build(
            self: Box<Self>,
            secret: &SecretKey,
        ) -> std::io::Result<Arc<dyn thicket_transport::Transport>> {
            let t = Arc::new(TorTransport::new(self.0, secret)?);
            *self.1.lock().unwrap() = Some(t.clone());
            Ok(t)
        }
    }
    let slot = Arc::new(std::sync::Mutex::new(None));
    let config = TorConfig::new(&dir.join("tor"))
        .with_overlay_file(overlay)
        .unwrap();
    let setup = Keep(config, slot.clone());
    let engine = Engine::open_with(dir, PASSWORD, vec![Box::new(setup)], Mode::Online)
        .await
        .unwrap();
    let transport = slot.lock().unwrap().take().unwrap();
    (engine, transport)
}

async fn bench(root: &Path, overlay: &Path) {
    // Two accounts over Tor only, made contacts at the rendezvous.
    let (alice, ta) = open(&root.join("alice"), "alice", overlay).await;
    let (bob, tb) = open(&root.join("bob"), "bob", overlay).await;
    let (mut ea, mut eb) = (alice.events(), bob.events());
    alice
        .add_link(&bob.link().await.unwrap().to_string(), "bob")
        .await
        .unwrap();
    bob.add_link(&alice.link().await.unwrap().to_string(), "alice")
        .await
        .unwrap();
    let t = Instant::now();
    wait_for(&mut ea, |e| matches!(e, Event::ContactConnected { .. })).await;
    wait_for(&mut eb, |e| matches!(e, Event::ContactConnected { .. })).await;
    println!("links added to connected contacts: {}", ms(t.elapsed()));
    let to_bob = alice.find_contact("bob").await.unwrap();
    let to_alice = bob.find_contact("alice").await.unwrap();

    // Bob answers every message at once; when his engine reported it and when his
    // reply was stored are kept to split the round trip.
    let marks = Arc::new(std::sync::Mutex::new(Vec::<(Instant, Instant)>::new()));
    let replier = {
        let (bob, marks) = (bob.clone(), marks.clone());
        let mut events = bob.events();
        tokio::spawn(async move {
            while let Ok(e) = events.recv().await {
                if let Event::MessageReceived { .. } = e {
                    let got = Instant::now();
                    bob.send(to_alice, TEXT).await.unwrap();
                    marks.lock().unwrap().push((got, Instant::now()));
                }
            }
        })
    };
    let mut thicket = Vec::new();
    let (mut there, mut back, mut stores) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..=ROUND_TRIPS {
        let t = Instant::now();
        alice.send(to_bob, TEXT).await.unwrap();
        let stored = Instant::now();
        wait_for(&mut ea, |e| matches!(e, Event::MessageReceived { .. })).await;
        let end = Instant::now();
        thicket.push(end - t);
        let (got, replied) = marks.lock().unwrap()[i];
        stores.push(stored - t);
        there.push(got - stored);
        back.push(end - replied);
    }
    // The first includes settling in.
    thicket.remove(0);
    replier.abort();
    // A message's own round trip: sent until its acknowledgement makes it delivered.
    let mut delivered = Vec::new();
    for _ in 0..=ROUND_TRIPS {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let t = Instant::now();
        let id = alice.send(to_bob, TEXT).await.unwrap();
        wait_for(&mut ea, |e| {
            matches!(e, Event::DeliveryChanged { id: i, state: bramble_proto::messaging::DeliveryState::Delivered, .. } if *i == id)
        })
        .await;
        delivered.push(t.elapsed());
    }
    delivered.remove(0);
    println!(
        "  thicket round trip split (medians): store {}, alice to bob's event {}, bob's event to alice's {}",
        ms(median(stores)),
        ms(median(there)),
        ms(median(back))
    );

    // Raw: the same two arti clients, an echo service on Bob's, Alice's connecting. A
    // circuit's relays decide much of a round trip on this small network (C tor's relays
    // leave Nagle's algorithm on, so a cell that follows another within a round trip can
    // wait out a delayed acknowledgement), so the echo runs over several circuits and
    // their median is the baseline.
    let (ca, cb) = (ta.tor_client().unwrap(), tb.tor_client().unwrap());
    let (_echo, echo_address) = launch_echo(&cb, "echo");
    until_reachable(&ca, &echo_address, ECHO_PORT, Instant::now()).await;
    let mut raw = Vec::new();
    let mut raw_split = Vec::new();
    let mut per_circuit = Vec::new();
    let mut buf = vec![0u8; TEXT.len()];
    for _ in 0..CIRCUITS {
        let client = ca.isolated_client();
        let mut s = client
            .connect((echo_address.as_str(), ECHO_PORT))
            .await
            .unwrap();
        let mut this = Vec::new();
        for i in 0..=ROUND_TRIPS / CIRCUITS {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let t = Instant::now();
            s.write_all(TEXT.as_bytes()).await.unwrap();
            s.flush().await.unwrap();
            s.read_exact(&mut buf).await.unwrap();
            if i > 0 {
                this.push(t.elapsed());
            }
        }
        // The same, with each message sent as two writes at once (an acknowledgement
        // and a message leaving together, as a quick reply does).
        for _ in 0..ROUND_TRIPS / CIRCUITS {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let t = Instant::now();
            s.write_all(&TEXT.as_bytes()[..8]).await.unwrap();
            s.flush().await.unwrap();
            s.write_all(&TEXT.as_bytes()[8..]).await.unwrap();
            s.flush().await.unwrap();
            s.read_exact(&mut buf).await.unwrap();
            raw_split.push(t.elapsed());
        }
        per_circuit.push(ms(median(this.clone())));
        raw.extend(this);
    }
    let (md, mr) = (median(delivered), median(raw));
    println!(
        "message round trip (median of {ROUND_TRIPS}): thicket send to delivered {}, raw arti echo {}, ratio {:.2} (target <= 1.3)",
        ms(md),
        ms(mr),
        md.as_secs_f64() / mr.as_secs_f64()
    );
    println!("  raw echo medians per circuit: {}", per_circuit.join(", "));
    println!(
        "  a message and its immediate reply: thicket {}; raw echo in two writes {}",
        ms(median(thicket)),
        ms(median(raw_split))
    );

    // Launch to reachable, interleaved, each time a fresh client and a fresh key.
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for i in 0..LAUNCHES {
        let dir = root.join(format!("launch-thicket-{i}"));
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).unwrap();
        let t = Instant::now();
        let transport = TorTransport::new(
            TorConfig::new(&dir).with_overlay_file(overlay).unwrap(),
            &SecretKey::from_bytes(seed),
        )
        .unwrap();
        let (tx, _rx) = tokio::sync::mpsc::channel(8);
        transport.start(tx).await.unwrap();
        let address = transport.local_properties()[PROPERTY].clone();
        ours.push(until_reachable(&ca, &address, thicket_tor::PORT, t).await);
        eprintln!("launch {i}: thicket reachable after {}", ms(ours[i]));

        let dir = root.join(format!("launch-raw-{i}"));
        let t = Instant::now();
        let client = TorClient::builder()
            .config(raw_config(&dir, overlay))
            .create_unbootstrapped()
            .unwrap();
        let (_service, address) = launch_echo(&client, "echo");
        // As Thicket's transport does: bootstrap now rather than on demand.
        let booting = client.clone();
        tokio::spawn(async move { booting.bootstrap().await });
        theirs.push(until_reachable(&ca, &address, ECHO_PORT, t).await);
        eprintln!("launch {i}: raw arti reachable after {}", ms(theirs[i]));
        drop(transport);
    }
    println!(
        "launch to reachable (median of {LAUNCHES}): thicket {}, raw arti {}, ratio {:.2}; all thicket {:?}, all raw {:?}",
        ms(median(ours.clone())),
        ms(median(theirs.clone())),
        median(ours.clone()).as_secs_f64() / median(theirs.clone()).as_secs_f64(),
        ours,
        theirs
    );
    alice.shutdown().await;
    bob.shutdown().await;
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        // `cargo test --benches` asks for a list: nothing to list.
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let root = tempfile::tempdir().unwrap();
    let mut net = TorNet::start(&root.path().join("net"), 3, 4).unwrap();
    let took = net.wait_for_consensus(Duration::from_secs(180)).unwrap();
    println!(
        "private Tor network (3 authorities, 4 relays) up after {}",
        ms(took)
    );
    let overlay = net.arti_config().to_owned();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench(root.path(), &overlay));
    drop(net);
}
