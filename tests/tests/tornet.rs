//! The private Tor network harness: it comes up on loopback, every node is in the
//! consensus, and everything it started is gone when it is dropped.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use thicket_tests::tornet::TorNet;

fn alive(pid: u32) -> bool {
    // A zombie is reaped by the drop; /proc shows a live process only.
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
}

#[test]
fn a_private_network_comes_up_and_goes_away() {
    let root = tempfile::tempdir().unwrap();
    let mut net = TorNet::start(&root.path().join("net"), 3, 4).unwrap();
    let took = net.wait_for_consensus(Duration::from_secs(180)).unwrap();
    eprintln!("consensus of 7 nodes after {took:?}");
    let config = std::fs::read_to_string(net.arti_config()).unwrap();
    assert_eq!(config.matches("[[tor_network.fallback_caches]]").count(), 3);
    assert!(config.contains("v3idents = [\""));
    assert!(!config.contains("0.0.0.0"), "loopback only");
    let pids = net.pids();
    assert_eq!(pids.len(), 7);
    assert!(pids.iter().all(|&p| alive(p)));
    drop(net);
    assert!(pids.iter().all(|&p| !alive(p)), "every tor process is gone");
}

#[test]
fn a_node_that_dies_is_reported_and_the_rest_still_go() {
    let root = tempfile::tempdir().unwrap();
    let mut net = TorNet::start(&root.path().join("net"), 3, 1).unwrap();
    let pids = net.pids();
    let status = std::process::Command::new("kill")
        .args(["-9", &pids[3].to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let err = net.wait_for_consensus(Duration::from_secs(60)).unwrap_err();
    assert!(err.to_string().contains("test003r exited"), "{err}");
    drop(net);
    assert!(pids.iter().all(|&p| !alive(p)), "every tor process is gone");
}
