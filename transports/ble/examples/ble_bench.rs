//! Goodput of the BLE pipe against the raw characteristic write rate, measured in the same
//! run on the same two adapters (the real tier runs it in its QEMU guest: `vm/run.sh`).
//!
//! ```text
//! ble_bench CENTRAL_ADAPTER PERIPHERAL_ADAPTER BYTES
//! ```
//!
//! The peripheral adapter runs the transport and advertises one beacon. The central side
//! first finds it, connects with btleplug directly, and writes BYTES in values as large as
//! the MTU allows, with response (as the pipe writes) and then without (the peripheral
//! drops values that belong to no pipe), each for 20 s at most: the raw rates.
//! Then a second transport on the central adapter dials the beacon and sends BYTES through
//! a pipe, timed until the peripheral has read the last one: the goodput.
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

use std::time::{Duration, Instant};

use bramble_proto::transport::Beacon;
use btleplug::api::{Central as _, Manager as _, Peripheral as _, ScanFilter, WriteType};
use btleplug::platform::Manager;
use thicket_ble::advert::{CHARACTERISTIC_UUID, announces};
use thicket_ble::pipe::MAX_FRAME;
use thicket_ble::{BleConfig, BleTransport, Roles};
use thicket_transport::{Peer, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// How long each raw write rate is measured for at most.
const RAW_FOR: Duration = Duration::from_secs(20);

/// The raw write rates, with response (as the pipe writes) and without.
async fn raw_rates(adapter: &str, beacon: Beacon, bytes: usize) -> (f64, f64) {
    let manager = Manager::new().await.unwrap();
    let mut central = None;
    for a in manager.adapters().await.unwrap() {
        if a.adapter_info().await.unwrap().starts_with(adapter) {
            central = Some(a);
        }
    }
    let central = central.expect("the central adapter");
    central.start_scan(ScanFilter::default()).await.unwrap();
    let peripheral = within("finding the peripheral", 60, async {
        loop {
            let mut found = None;
            for p in central.peripherals().await.unwrap() {
                if let Ok(Some(props)) = p.properties().await
                    && props
                        .services
                        .iter()
                        .any(|u| announces(u.as_bytes(), &beacon))
                {
                    found = Some(p);
                }
            }
            if let Some(p) = found {
                break p;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    within("connecting", 30, peripheral.connect())
        .await
        .unwrap();
    within("discovering", 30, peripheral.discover_services())
        .await
        .unwrap();
    let ch = peripheral
        .characteristics()
        .into_iter()
        .find(|c| c.uuid == uuid::Uuid::from_u128(CHARACTERISTIC_UUID))
        .expect("our characteristic");
    let size = usize::from(peripheral.mtu().saturating_sub(3)).min(MAX_FRAME);
    // A value that is no frame of ours: 0xff is no kind.
    let value = vec![0xff; size];
    let mut rates = [0.0; 2];
    for (rate, kind) in rates
        .iter_mut()
        .zip([WriteType::WithResponse, WriteType::WithoutResponse])
    {
        let start = Instant::now();
        let mut sent = 0;
        // BYTES, or what RAW_FOR allows: writes with response are slow on emulated radios.
        while sent < bytes && start.elapsed() < RAW_FOR {
            let write =
                tokio::time::timeout(Duration::from_secs(5), peripheral.write(&ch, &value, kind));
            if !matches!(write.await, Ok(Ok(()))) {
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
            sent += size;
        }
        // A read waits for the writes before it to be through.
        let _ = within("reading", 10, peripheral.read(&ch)).await;
        *rate = sent as f64 / start.elapsed().as_secs_f64();
        println!(
            "raw {kind:?}: {sent} bytes in {:?} ({size}-byte writes, MTU {})",
            start.elapsed(),
            peripheral.mtu()
        );
    }
    peripheral.disconnect().await.unwrap();
    central.stop_scan().await.unwrap();
    (rates[0], rates[1])
}

/// `step`, or a panic that says which step took longer than `secs`.
async fn within<T>(step: &str, secs: u64, f: impl Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs(secs), f).await {
        Ok(t) => t,
        Err(_) => panic!("{step} took over {secs} s"),
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (central, peripheral) = (args[1].clone(), args[2].clone());
    let bytes: usize = args[3].parse().unwrap();
    let beacon = Beacon([0x5a; 16]);

    let (tx, mut incoming) = mpsc::channel(4);
    let p = BleTransport::new(BleConfig::new().with_adapter(&peripheral));
    p.start(tx).await.unwrap();
    p.announce(vec![beacon]);

    let (raw, raw_unanswered) = raw_rates(&central, beacon, bytes).await;

    let (tx, _incoming_c) = mpsc::channel(4);
    let c = BleTransport::new(
        BleConfig::new()
            .with_adapter(&central)
            .with_roles(Roles::CentralOnly),
    );
    c.start(tx).await.unwrap();
    let started = Instant::now();
    within("sighting the beacon", 60, async {
        while c.sighted(&[beacon]).is_none() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    println!("sighted after {:?}", started.elapsed());
    let target = Peer {
        properties: Default::default(),
        beacons: vec![beacon],
    };
    let mut conn = within("dialing", 60, c.dial(&target)).await.unwrap();
    println!("connected after {:?}", started.elapsed());
    let reader = tokio::spawn(async move {
        let mut conn = incoming.recv().await.unwrap();
        let mut got = Vec::new();
        conn.read_to_end(&mut got).await.unwrap();
        (got.len(), Instant::now())
    });
    let start = Instant::now();
    let data = vec![0x33u8; bytes];
    let (got, end) = within("sending through the pipe", 120, async {
        conn.write_all(&data).await.unwrap();
        conn.shutdown().await.unwrap();
        reader.await.unwrap()
    })
    .await;
    assert_eq!(got, bytes, "every byte through the pipe");
    let goodput = bytes as f64 / end.duration_since(start).as_secs_f64();
    println!(
        "BENCH pipe goodput {:.1} KiB/s; raw writes with response {:.1} KiB/s (ratio {:.2}), \
         without response {:.1} KiB/s (ratio {:.2})",
        goodput / 1024.0,
        raw / 1024.0,
        goodput / raw,
        raw_unanswered / 1024.0,
        goodput / raw_unanswered
    );
}
