//! Network namespaces for tests: a private one with only loopback, in which a test
//! re-runs itself, and inside it a local network of namespaces joined by a bridge.
//! Nothing a test starts there can reach the machine's own network, and everything is
//! gone when the test's processes end.

use std::net::Ipv4Addr;
use std::process::Command;
use std::time::Duration;

/// Set in the environment of a test re-run inside its namespace.
pub const INSIDE: &str = "THICKET_TEST_NETNS";

/// Runs the test named `test` (this test binary's) again in a fresh network and mount
/// namespace with only loopback up, and a private `/run/netns`. Returns `true` when
/// already inside (run the test), `false` after the inner run passed (nothing left to
/// do); panics if it failed.
///
/// # Panics
/// The inner run failed, or `unshare`/`ip` are missing.
pub fn in_private_netns(test: &str) -> bool {
    if std::env::var_os(INSIDE).is_some() {
        return true;
    }
    let Ok(exe) = std::env::current_exe() else {
        panic!("no test executable");
    };
    let mut cmd = Command::new("unshare");
    // Root creates the namespaces directly; anyone else maps themselves to root in a new
    // user namespace first.
    if !is_root() {
        cmd.arg("--map-root-user");
    }
    let status = cmd
        .args([
            "--net",
            "--mount",
            "--",
            "sh",
            "-c",
            "ip link set lo up && mkdir -p /run/netns && \
             mount -t tmpfs thicket-test-netns /run/netns && exec \"$0\" \"$@\"",
        ])
        .arg(exe)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(INSIDE, "1")
        .status();
    match status {
        Ok(s) if s.success() => false,
        Ok(s) => panic!("{test} failed in its network namespace ({s})"),
        Err(e) => panic!("unshare (util-linux) and ip (iproute2) are needed: {e}"),
    }
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// The names of this namespace's interfaces.
pub fn interfaces() -> Vec<String> {
    let dev = std::fs::read_to_string("/proc/net/dev").unwrap_or_default();
    dev.lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|s| s.trim().to_owned())
        .collect()
}

/// Panics unless the namespace has loopback and nothing else, and an address outside
/// it is unreachable.
///
/// # Panics
/// As said.
pub fn check_isolated() {
    assert_eq!(interfaces(), ["lo"], "only loopback in the namespace");
    let outside = std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([192, 0, 2, 1], 80)),
        Duration::from_secs(2),
    );
    assert!(
        outside.is_err(),
        "an address outside loopback is unreachable"
    );
}

/// A local network: namespaces `h1`…`hN`, each with `eth0` at `10.77.0.i/24`, joined by
/// the bridge `br0` of the enclosing (private) namespace. Call only inside
/// [`in_private_netns`].
#[derive(Debug)]
pub struct Lan {
    hosts: usize,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output();
    match out {
        Ok(o) if o.status.success() => {}
        Ok(o) => panic!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("ip (iproute2) is needed: {e}"),
    }
}

impl Lan {
    /// Makes the network. With `hub`, the bridge floods every frame to every port (as
    /// Wi-Fi does to anyone listening), so a host in promiscuous mode sees the others'
    /// traffic.
    ///
    /// # Panics
    /// `ip` failed (not inside [`in_private_netns`], or no privileges).
    pub fn new(hosts: usize, hub: bool) -> Lan {
        ip(&["link", "add", "br0", "type", "bridge"]);
        if hub {
            ip(&["link", "set", "br0", "type", "bridge", "ageing_time", "0"]);
        }
        ip(&["link", "set", "br0", "up"]);
        for i in 1..=hosts {
            let (ns, veth) = (format!("h{i}"), format!("veth{i}"));
            let addr = format!("{}/24", Lan::address(i));
            ip(&["netns", "add", &ns]);
            ip(&[
                "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &ns,
            ]);
            ip(&["link", "set", &veth, "master", "br0", "up"]);
            ip(&["-n", &ns, "addr", "add", &addr, "dev", "eth0"]);
            ip(&["-n", &ns, "link", "set", "eth0", "up"]);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
        }
        Lan { hosts }
    }

    /// The address of host `i` (from 1).
    pub fn address(i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 77, 0, u8::try_from(i).unwrap_or(u8::MAX))
    }

    /// A command that runs `program` in host `i`.
    ///
    /// # Panics
    /// No such host.
    pub fn command(&self, i: usize, program: impl AsRef<std::ffi::OsStr>) -> Command {
        assert!((1..=self.hosts).contains(&i), "no host {i}");
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &format!("h{i}")]).arg(program);
        cmd
    }
}
