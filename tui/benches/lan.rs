//! LAN throughput: 10,000 queued 1 KiB messages delivered once two peers meet, over the
//! LAN transport on loopback, against the same run over the in-memory transport and
//! against a raw TCP copy of the same bytes; and the time from both peers starting to the
//! first delivered message. Runs in a private network namespace (only loopback).
//!
//! `cargo bench -p thicket --bench lan` (`LAN_BENCH_MESSAGES` to change the count).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stdout,
    clippy::print_stderr
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bramble_engine::{Engine, Event, Mode, create_account};
use bramble_proto::messaging::DeliveryState;
use thicket_lan::{Interfaces, LanConfig, LanSetup};
use thicket_tests::netns::in_private_netns;
use thicket_transport::memory::MemoryNetwork;
use thicket_transport::{Ready, Transport, TransportSetup};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PASSWORD: &str = "a benchmark password";
const SIZE: usize = 1024;

fn count() -> usize {
    std::env::var("LAN_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

async fn account(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    let (d, n) = (dir.clone(), name.to_owned());
    tokio::task::spawn_blocking(move || create_account(&d, &n, PASSWORD))
        .await
        .unwrap()
        .unwrap();
    dir
}

/// Alice and Bob made contacts over the memory transport (which also gives them LAN
/// keys), then closed.
async fn pair(root: &Path) -> (PathBuf, PathBuf) {
    let (a, b) = (account(root, "alice").await, account(root, "bob").await);
    let net = MemoryNetwork::new();
    let ta: Arc<dyn Transport> = Arc::new(net.transport("a"));
    let tb: Arc<dyn Transport> = Arc::new(net.transport("b"));
    let ea = Engine::open(&a, PASSWORD, vec![ta]).await.unwrap();
    let eb = Engine::open(&b, PASSWORD, vec![tb]).await.unwrap();
    let mut events = ea.events();
    ea.add_link(&eb.link().await.unwrap().to_string(), "bob")
        .await
        .unwrap();
    eb.add_link(&ea.link().await.unwrap().to_string(), "alice")
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let e = tokio::time::timeout(Duration::from_secs(60), events.recv())
            .await
            .unwrap()
            .unwrap();
        if matches!(e, Event::ContactAdded { .. }) {
            break;
        }
        assert!(Instant::now() < deadline, "no contact");
    }
    // Both sides confirmed: let the first streams cross.
    tokio::time::sleep(Duration::from_secs(2)).await;
    ea.shutdown().await;
    eb.shutdown().await;
    (a, b)
}

/// Queues `n` messages from Alice to Bob with no transport running.
async fn queue(a: &Path, n: usize) {
    let e = Engine::open_with(a, PASSWORD, Vec::new(), Mode::Offline)
        .await
        .unwrap();
    let bob = e.find_contact("bob").await.unwrap();
    let text: String = "x".repeat(SIZE);
    let started = Instant::now();
    for _ in 0..n {
        e.send(bob, &text).await.unwrap();
    }
    eprintln!("queued {n} in {:.2} s", started.elapsed().as_secs_f64());
    e.shutdown().await;
}

/// Opens both with `setups`, and times the first and the last delivery.
async fn deliver(
    a: &Path,
    b: &Path,
    n: usize,
    setups: [Vec<Box<dyn TransportSetup>>; 2],
) -> (Duration, Duration) {
    let [sa, sb] = setups;
    let started = Instant::now();
    let ea = Engine::open_with(a, PASSWORD, sa, Mode::Online)
        .await
        .unwrap();
    let mut events = ea.events();
    let eb = Engine::open_with(b, PASSWORD, sb, Mode::Online)
        .await
        .unwrap();
    let bob = ea.find_contact("bob").await.unwrap();
    // Delivery events are counted; a burst larger than the event channel (one RECEIVED
    // can acknowledge 4,096 messages) makes it lag, and then the count is read from the
    // store at once. The end is confirmed from the store.
    let count = || async {
        ea.conversation(bob, n)
            .await
            .unwrap()
            .iter()
            .filter(|m| m.ours && m.delivery == Some(DeliveryState::Delivered))
            .count()
    };
    let mut first = None;
    let mut delivered = 0usize;
    loop {
        match tokio::time::timeout(Duration::from_millis(500), events.recv()).await {
            Ok(Ok(Event::DeliveryChanged {
                state: DeliveryState::Delivered,
                ..
            })) => {
                first.get_or_insert_with(|| started.elapsed());
                delivered += 1;
            }
            Ok(Ok(Event::DeliveryChanged { .. })) => {}
            Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) | Err(_) => {
                delivered = count().await;
                if delivered > 0 {
                    first.get_or_insert_with(|| started.elapsed());
                }
            }
            Ok(Ok(e)) => {
                if std::env::var_os("LAN_BENCH_DEBUG").is_some() {
                    eprintln!("{:.2} s: {e:?}", started.elapsed().as_secs_f64());
                }
            }
            Ok(Err(e)) => panic!("{e}"),
        }
        if delivered >= n {
            delivered = count().await;
            if delivered >= n {
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "only {delivered} of {n} delivered in 600 s"
        );
    }
    let all = started.elapsed();
    ea.shutdown().await;
    eb.shutdown().await;
    (first.unwrap_or(all), all)
}

/// A raw TCP copy of `bytes` over loopback.
async fn raw_copy(bytes: usize) -> Duration {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let reader = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let mut got = 0;
        while got < bytes {
            let n = s.read(&mut buf).await.unwrap();
            assert!(n > 0);
            got += n;
        }
        s.write_all(b"k").await.unwrap();
    });
    let started = Instant::now();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    let chunk = vec![0x5au8; SIZE];
    for _ in 0..bytes / SIZE {
        s.write_all(&chunk).await.unwrap();
    }
    let mut k = [0u8; 1];
    s.read_exact(&mut k).await.unwrap();
    reader.await.unwrap();
    started.elapsed()
}

fn memory(net: &MemoryNetwork) -> [Vec<Box<dyn TransportSetup>>; 2] {
    ["a", "b"].map(|name| {
        let t: Arc<dyn Transport> = Arc::new(net.transport(name));
        vec![Box::new(Ready(t)) as Box<dyn TransportSetup>]
    })
}

fn lan() -> [Vec<Box<dyn TransportSetup>>; 2] {
    [(), ()].map(|()| {
        let config = LanConfig::new().with_interfaces(Interfaces::Only(vec!["lo".into()]));
        vec![Box::new(LanSetup::new(config)) as Box<dyn TransportSetup>]
    })
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

async fn bench() {
    let n = count();
    let root = tempfile::tempdir().unwrap();
    let (a, b) = pair(root.path()).await;
    println!("{n} queued messages of {SIZE} bytes, Alice to Bob, on loopback");

    // Memory, LAN, memory, LAN: each transport gets an early and a late run (the store
    // grows by n messages a round), and the best of each pair of delivery phases
    // (first to last delivery) is compared. The memory transport meets at once; its
    // "all" includes no discovery.
    let mut mem = Vec::new();
    let mut lan_runs = Vec::new();
    for round in 0..4 {
        queue(&a, n).await;
        if round % 2 == 1 {
            lan_runs.push(deliver(&a, &b, n, lan()).await);
        } else {
            mem.push(deliver(&a, &b, n, memory(&MemoryNetwork::new())).await);
        }
    }
    let raw = raw_copy(n * SIZE).await;
    let best = |runs: &[(Duration, Duration)]| {
        runs.iter()
            .copied()
            .min_by_key(|(first, all)| *all - *first)
            .unwrap()
    };
    let (lan_first, lan_all) = best(&lan_runs);
    let mem_best = best(&mem);
    let lan_rate = rate(n, lan_all - lan_first);
    let mem_rate = rate(n, mem_best.1 - mem_best.0);
    let raw_rate = rate(n, raw);
    let phases = |runs: &[(Duration, Duration)]| {
        runs.iter()
            .map(|(first, all)| format!("{:.2} s", (*all - *first).as_secs_f64()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "memory: first delivered {:.0} ms after start, all {:.2} s: {:.0} msg/s (delivery phases: {})",
        mem_best.0.as_secs_f64() * 1e3,
        mem_best.1.as_secs_f64(),
        mem_rate,
        phases(&mem)
    );
    println!(
        "lan:    first delivered {:.0} ms after both started, all {:.2} s: {:.0} msg/s (delivery phases: {})",
        lan_first.as_secs_f64() * 1e3,
        lan_all.as_secs_f64(),
        lan_rate,
        phases(&lan_runs)
    );
    println!(
        "raw TCP copy of {} MiB: {:.3} s: {:.0} KiB-messages/s",
        n * SIZE / (1024 * 1024),
        raw.as_secs_f64(),
        raw_rate
    );
    println!(
        "ratio lan/memory (delivery phase) {:.2} (target >= 0.8); lan/raw {:.3}",
        lan_rate / mem_rate,
        lan_rate / raw_rate
    );
}

fn main() {
    if !in_private_netns("lan") {
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(bench());
}
