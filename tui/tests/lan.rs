//! Two `thicket` processes in network namespaces of their own, joined by a bridge, with
//! the local network as their only transport: they add each other by links (meeting by
//! mDNS at their rendezvous labels), chat both ways and see their messages delivered. A
//! third namespace holds a bystander who captures every frame on the bridge (which floods
//! them, as Wi-Fi does) and browses mDNS: it sees only random-looking names, learns no
//! nickname, text or link, and its connections, with garbage or with a stream replayed
//! from the capture, get no byte back and change nothing.
//!
//! The test re-runs itself in a fresh network namespace (`unshare --net`); the hosts'
//! namespaces live inside it and vanish with it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support/process.rs"]
mod process;

use process::Account;
use thicket_tests::netns::{Lan, in_private_netns};

const BROWSE: &str = "THICKET_TEST_BROWSE";
const PROBE: &str = "THICKET_TEST_PROBE";

/// What the bystander's mDNS browser saw: instance name → (host, port, addresses, TXT
/// entries).
type Seen = BTreeMap<String, (String, u16, Vec<String>, usize)>;

fn read_seen(path: &Path) -> Seen {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut out = Seen::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() == 5 {
            let addrs = f[3].split(',').map(str::to_owned).collect();
            out.insert(
                f[0].to_owned(),
                (
                    f[1].to_owned(),
                    f[2].parse().unwrap(),
                    addrs,
                    f[4].parse().unwrap(),
                ),
            );
        }
    }
    out
}

/// The bystander's browser, run in its namespace by the main test: writes every resolved
/// instance to the file named by `THICKET_TEST_BROWSE` until killed.
#[test]
fn bystander_browses() {
    let Some(out) = std::env::var_os(BROWSE) else {
        return;
    };
    let daemon = mdns_sd::ServiceDaemon::new().unwrap();
    let events = daemon.browse(thicket_lan::SERVICE_TYPE).unwrap();
    let mut file = std::fs::File::create(out).unwrap();
    while let Ok(e) = events.recv() {
        if let mdns_sd::ServiceEvent::ServiceResolved(info) = e {
            let instance = info
                .get_fullname()
                .strip_suffix(thicket_lan::SERVICE_TYPE)
                .unwrap_or(info.get_fullname())
                .trim_end_matches('.');
            let addrs: Vec<String> = info.get_addresses().iter().map(|a| a.to_string()).collect();
            writeln!(
                file,
                "{instance}\t{}\t{}\t{}\t{}",
                info.get_hostname(),
                info.get_port(),
                addrs.join(","),
                info.get_properties().len()
            )
            .unwrap();
            file.flush().unwrap();
        }
    }
}

/// The bystander's probes, run in its namespace: for each `address bytes-file` line of
/// the file named by `THICKET_TEST_PROBE`, connects, sends the bytes, and prints how
/// many bytes came back before the connection closed (or 5 s passed).
#[test]
fn bystander_probes() {
    let Some(list) = std::env::var_os(PROBE) else {
        return;
    };
    for line in std::fs::read_to_string(list).unwrap().lines() {
        let (addr, file) = line.split_once(' ').unwrap();
        let bytes = std::fs::read(file).unwrap();
        let addr: SocketAddrV4 = addr.parse().unwrap();
        let Ok(mut conn) = TcpStream::connect_timeout(&addr.into(), Duration::from_secs(3)) else {
            println!("PROBE {addr} refused");
            continue;
        };
        let _ = conn.write_all(&bytes);
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let (mut got, mut buf) = (0usize, [0u8; 4096]);
        let closed = loop {
            match conn.read(&mut buf) {
                Ok(0) => break true,
                Ok(n) => got += n,
                Err(_) => break false,
            }
        };
        println!(
            "PROBE {addr} sent {} got {got} closed {closed}",
            bytes.len()
        );
    }
}

/// One TCP flow's payload from a capture, client to server, in sequence order.
#[derive(Debug, Default)]
struct Flow {
    segments: BTreeMap<u32, Vec<u8>>,
    isn: Option<u32>,
}

impl Flow {
    fn bytes(&self) -> Vec<u8> {
        let Some(isn) = self.isn else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut by_offset: Vec<(u32, &Vec<u8>)> = self
            .segments
            .iter()
            .map(|(seq, d)| (seq.wrapping_sub(isn.wrapping_add(1)), d))
            .collect();
        by_offset.sort();
        for (offset, data) in by_offset {
            let offset = offset as usize;
            if offset <= out.len() && offset + data.len() > out.len() {
                out.extend_from_slice(&data[out.len() - offset..]);
            }
        }
        out
    }
}

/// Client-to-server payloads of the TCP flows in a pcap file (Ethernet, IPv4), keyed by
/// (client, server); plus the number of mDNS datagrams over IPv6 not sent from
/// `except` (a MAC address).
fn flows(pcap: &[u8], except: [u8; 6]) -> (BTreeMap<(SocketAddrV4, SocketAddrV4), Flow>, usize) {
    let mut out: BTreeMap<(SocketAddrV4, SocketAddrV4), Flow> = BTreeMap::new();
    let mut mdns_v6 = 0;
    assert!(pcap.len() >= 24, "a pcap header");
    assert_eq!(&pcap[..4], &[0xd4, 0xc3, 0xb2, 0xa1], "little-endian pcap");
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let caplen = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        let frame = &pcap[at + 16..(at + 16 + caplen).min(pcap.len())];
        at += 16 + caplen;
        if frame.len() < 14 {
            continue;
        }
        let ethertype = u16::from_be_bytes([frame[12], frame[13]]);
        let ip = &frame[14..];
        if ethertype == 0x86dd && ip.len() >= 48 && ip[6] == 17 && frame[6..12] != except {
            let port = u16::from_be_bytes([ip[42], ip[43]]);
            mdns_v6 += usize::from(port == 5353);
            continue;
        }
        if ethertype != 0x0800 || ip.len() < 20 || ip[9] != 6 {
            continue;
        }
        let ihl = usize::from(ip[0] & 15) * 4;
        let total = usize::from(u16::from_be_bytes([ip[2], ip[3]])).min(ip.len());
        let (src, dst) = (
            Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]),
            Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]),
        );
        let tcp = &ip[ihl..total];
        if tcp.len() < 20 {
            continue;
        }
        let sport = u16::from_be_bytes([tcp[0], tcp[1]]);
        let dport = u16::from_be_bytes([tcp[2], tcp[3]]);
        let seq = u32::from_be_bytes(tcp[4..8].try_into().unwrap());
        let flags = tcp[13];
        let off = usize::from(tcp[12] >> 4) * 4;
        let key = (SocketAddrV4::new(src, sport), SocketAddrV4::new(dst, dport));
        let (syn, ack) = (flags & 0x02 != 0, flags & 0x10 != 0);
        if syn && !ack {
            out.entry(key).or_default().isn = Some(seq);
        } else if let Some(flow) = out.get_mut(&key)
            && tcp.len() > off
        {
            flow.segments
                .entry(seq)
                .or_insert_with(|| tcp[off..].to_vec());
        }
    }
    (out, mdns_v6)
}

/// The MAC address of host `i`'s `eth0`.
fn mac_of(i: usize) -> [u8; 6] {
    let out = Command::new("ip")
        .args(["-n", &format!("h{i}"), "-o", "link", "show", "eth0"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mac = text
        .split_whitespace()
        .skip_while(|w| *w != "link/ether")
        .nth(1)
        .unwrap();
    let bytes: Vec<u8> = mac
        .split(':')
        .map(|h| u8::from_str_radix(h, 16).unwrap())
        .collect();
    bytes.try_into().unwrap()
}

/// Kills a helper process when the test ends, passed or not.
struct Reaper(std::process::Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn two_processes_add_each_other_and_chat_over_the_lan() {
    if std::env::var_os(BROWSE).is_some() || std::env::var_os(PROBE).is_some() {
        return;
    }
    if !in_private_netns("two_processes_add_each_other_and_chat_over_the_lan") {
        return;
    }
    let lan = Lan::new(3, true);
    let root = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();

    // The bystander, host 3: a capture of everything, and an mDNS browser.
    let pcap = root.path().join("capture.pcap");
    let mut dump = Reaper(
        lan.command(3, "tcpdump")
            .args(["-i", "eth0", "-U", "-s", "0", "-w"])
            .arg(&pcap)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tcpdump is needed"),
    );
    let seen_file = root.path().join("seen.txt");
    let browser = Reaper(
        lan.command(3, &exe)
            .args(["--exact", "bystander_browses", "--nocapture"])
            .env(BROWSE, &seen_file)
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );

    let (a, b, link_a, link_b) = Account::alice_and_bob_in_netns(root.path());
    a.ok(&["add", &link_b, "--name", "bob"]);
    b.ok(&["add", &link_a, "--name", "alice"]);

    let args = ["--lan".as_ref(), "--no-tor".as_ref()];
    let started = Instant::now();
    let mut ra = a.start(&args);
    let mut rb = b.start(&args);
    ra.expect("running over the local network", Duration::from_secs(30));
    let meet = Duration::from_secs(60);
    ra.expect("Added bob.", meet);
    rb.expect("Added alice.", meet);
    eprintln!("contacts made {:?} after both started", started.elapsed());
    ra.expect("lan: 1 contacts in sight", meet);
    rb.expect("lan: 1 contacts in sight", meet);

    let secret_a = "hello from alice over the lan";
    let secret_b = "and back again from bob";
    ra.say(&format!("send bob {secret_a}"));
    rb.expect(&format!("New message from alice: {secret_a}"), meet);
    ra.expect("A message to bob was delivered.", meet);
    rb.say(&format!("send alice {secret_b}"));
    ra.expect(&format!("New message from bob: {secret_b}"), meet);
    rb.expect("A message to alice was delivered.", meet);
    eprintln!("chat done {:?} after both started", started.elapsed());

    // Let the capture and the browser catch up, then stop them.
    std::thread::sleep(Duration::from_secs(3));
    let _ = Command::new("kill")
        .args(["-INT", &dump.0.id().to_string()])
        .status();
    let _ = dump.0.wait();
    drop(browser);

    // What the browser saw: beacon names on random hosts, no TXT, IPv4 only.
    let seen = read_seen(&seen_file);
    assert!(seen.len() >= 16, "both hosts' padded names: {seen:#?}");
    let mut hosts = BTreeSet::new();
    for (instance, (host, port, addrs, txt)) in &seen {
        let full = format!("{instance}.{}", thicket_lan::SERVICE_TYPE);
        assert!(
            thicket_lan::names::parse_fullname(&full).is_some(),
            "{instance}"
        );
        // mdns-sd may rename a host it believes in conflict (`r…-2.local.`): still ours,
        // still random.
        let base = host
            .strip_suffix(".local.")
            .unwrap_or_else(|| panic!("{host}"));
        let base = match base.rsplit_once('-') {
            Some((b, n)) if n.bytes().all(|c| c.is_ascii_digit()) => b,
            _ => base,
        };
        assert!(
            base.len() == 17
                && base.starts_with('r')
                && base[1..].bytes().all(|c| c.is_ascii_hexdigit()),
            "{host}"
        );
        assert_eq!(*txt, 0, "no TXT content: {instance}");
        assert!(*port >= 49152, "{port}");
        for addr in addrs {
            let ip: Ipv4Addr = addr.parse().unwrap_or_else(|_| panic!("IPv4 only: {addr}"));
            assert!(ip == Lan::address(1) || ip == Lan::address(2), "{ip}");
        }
        hosts.insert(base.to_owned());
    }
    assert_eq!(
        hosts.len(),
        seen.len(),
        "a random host name per instance: {hosts:?}"
    );

    // Nothing in the capture names anyone or shows a message, a link or a host name.
    let capture = std::fs::read(&pcap).unwrap();
    for needle in [
        "alice",
        "bob",
        secret_a,
        secret_b,
        link_a.as_str(),
        link_b.as_str(),
    ] {
        assert!(
            !contains(&capture.to_ascii_lowercase(), needle.as_bytes()),
            "{needle:?} is on the wire"
        );
    }
    // The bystander's own browser asks over IPv6 too; nobody answers there.
    let (flows, mdns_v6) = flows(&capture, mac_of(3));
    assert_eq!(mdns_v6, 0, "no mDNS over IPv6");
    let streams: Vec<_> = flows
        .iter()
        .map(|(k, f)| (k, f.bytes()))
        .filter(|(_, b)| b.len() >= 16)
        .collect();
    assert!(
        !streams.is_empty(),
        "the capture holds the chat's connections"
    );

    // The bystander connects: garbage to every announced port, and every captured
    // client stream replayed to its server. Nothing comes back; nothing changes.
    let probes = root.path().join("probes.txt");
    let mut list = String::new();
    let junk = root.path().join("junk");
    std::fs::write(
        &junk,
        (0..300u32)
            .map(|i| (i * 7 + 3).to_le_bytes()[0])
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let targets: BTreeSet<String> = seen
        .values()
        .flat_map(|(_, port, addrs, _)| addrs.iter().map(move |a| format!("{a}:{port}")))
        .collect();
    for t in &targets {
        list.push_str(&format!("{t} {}\n", junk.display()));
    }
    for (i, ((_, server), bytes)) in streams.iter().enumerate() {
        let f = root.path().join(format!("replay{i}"));
        std::fs::write(&f, bytes).unwrap();
        list.push_str(&format!("{server} {}\n", f.display()));
    }
    std::fs::write(&probes, list).unwrap();
    let out = lan
        .command(3, &exe)
        .args(["--exact", "bystander_probes", "--nocapture"])
        .env(PROBE, &probes)
        .output()
        .unwrap();
    assert!(out.status.success());
    let report = String::from_utf8_lossy(&out.stdout);
    let results: Vec<&str> = report.lines().filter(|l| l.starts_with("PROBE ")).collect();
    eprintln!("{results:#?}");
    assert_eq!(results.len(), targets.len() + streams.len(), "{report}");
    for r in &results {
        assert!(
            r.contains(" got 0 ") || r.ends_with(" refused"),
            "a bystander got bytes back: {r}"
        );
    }
    assert!(
        results.iter().any(|r| r.contains(" got 0 closed true")),
        "the listeners were reached, and closed: {results:#?}"
    );

    // Both still chat, and nothing new arrived from the probes.
    ra.say("send bob still here");
    rb.expect("New message from alice: still here", meet);
    ra.expect("A message to bob was delivered.", meet);
    rb.quit();
    ra.quit();
    let history_a = a.ok(&["read", "bob"]);
    assert_eq!(history_a.lines().count(), 3, "three messages: {history_a}");
    let history = b.ok(&["read", "alice"]);
    assert!(history.contains(secret_a) && history.contains("still here"));
    assert_eq!(history.matches(secret_a).count(), 1, "no replayed copy");
}
