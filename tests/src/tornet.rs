//! A private Tor network on 127.0.0.1, built from Debian's C `tor`, for tests that must
//! run over real Tor without touching the real network.
//!
//! [`TorNet::start`] makes keys for `authorities` directory authorities and `relays`
//! relays (`tor-gencert`, `tor --list-fingerprint`), writes a torrc for each with the
//! testing-network settings, starts them all (authorities first), and writes the arti
//! configuration overlay that points a client at this network ([`TorNet::arti_config`]).
//! Every port is a free loopback port below the ephemeral range, picked at start and
//! never handed out twice by one process, so networks of concurrent tests never collide.
//!
//! The processes always go: dropping the [`TorNet`] (also while a test panics) kills and
//! reaps them, and each tor is started with `__OwningControllerProcess` naming this
//! process, so that tor exits by itself (within 15 s) if this process is killed before it
//! could drop anything.

use std::fmt::Write as _;
use std::fs;
use std::hash::{BuildHasher, Hasher, RandomState};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A running private Tor network.
#[derive(Debug)]
pub struct TorNet {
    dir: PathBuf,
    children: Vec<Child>,
    nodes: Vec<Node>,
    arti_config: PathBuf,
}

#[derive(Debug, Clone)]
struct Node {
    nick: String,
    dir: PathBuf,
    or_port: u16,
    dir_port: u16,
    authority: bool,
}

/// A program of Debian's `tor` package: from `PATH`, else where Debian puts it (`tor`
/// is in `/usr/sbin`, which a user's `PATH` often lacks).
fn program(name: &str) -> PathBuf {
    let dirs = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default();
    dirs.into_iter()
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| PathBuf::from(name))
}

/// A loopback port for a node to listen on, never handed out twice in this process.
///
/// Ports come from below the kernel's ephemeral range (`ip_local_port_range`), so the
/// outgoing connections the running tors make (which take ephemeral ports) can never
/// occupy a port a node is still to bind. (Ports picked inside that range are the likely
/// reason a relay that started last once exited in CI.)
fn free_port() -> io::Result<u16> {
    static TAKEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let (low, _) = ephemeral_range();
    let floor = 10_000u16;
    let span = u32::from(low.saturating_sub(floor).max(1));
    let mut taken = TAKEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let seed = RandomState::new().build_hasher().finish();
    for i in 0..span {
        // A random start, then every port in turn.
        let offset =
            u32::try_from((seed.wrapping_add(u64::from(i))) % u64::from(span)).unwrap_or(0);
        let Ok(port) = u16::try_from(u32::from(floor) + offset) else {
            continue;
        };
        if taken.contains(&port) {
            continue;
        }
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            taken.push(port);
            return Ok(port);
        }
    }
    Err(io::Error::other(format!(
        "no free loopback port between {floor} and {low}"
    )))
}

/// The kernel's ephemeral port range; Linux's default when it cannot be read.
fn ephemeral_range() -> (u16, u16) {
    fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| {
            let mut it = s.split_whitespace().map(|f| f.parse::<u16>().ok());
            Some((it.next()??, it.next()??))
        })
        .unwrap_or((32768, 60999))
}

/// The last lines a node logged, for an error message: its `notice.log`, or what it
/// printed before it opened that log (a torrc it rejected).
fn node_log_tail(dir: &Path) -> String {
    ["notice.log", "stdout.log"]
        .iter()
        .map(|f| fs::read_to_string(dir.join(f)).unwrap_or_default())
        .find(|t| !t.trim().is_empty())
        .map(|t| {
            let all: Vec<&str> = t.lines().collect();
            all[all.len().saturating_sub(8)..].join("\n")
        })
        .unwrap_or_else(|| "(nothing logged)".to_owned())
}

fn run(cmd: &mut Command, what: &str) -> io::Result<()> {
    let out = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("{what}: {e} (is Debian's `tor` installed? `bash .ci/install-deps`)"),
            )
        })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

/// The second whitespace-separated field of the first line of `path` that starts with
/// `prefix` (or of the first line, for an empty prefix).
fn field(path: &Path, prefix: &str) -> io::Result<String> {
    let text = fs::read_to_string(path)?;
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.split_whitespace().nth(1))
        .map(str::to_owned)
        .ok_or_else(|| io::Error::other(format!("no {prefix:?} field in {}", path.display())))
}

impl TorNet {
    /// Builds and starts a network in `dir` (created; anything in it is replaced).
    ///
    /// # Errors
    /// `tor` or `tor-gencert` missing or failing; I/O errors. Nothing is left running.
    pub fn start(dir: &Path, authorities: usize, relays: usize) -> io::Result<TorNet> {
        if dir.exists() {
            fs::remove_dir_all(dir)?;
        }
        let mut nodes = Vec::new();
        for i in 0..authorities + relays {
            let authority = i < authorities;
            let nick = format!("test{i:03}{}", if authority { 'a' } else { 'r' });
            let node_dir = dir.join("nodes").join(&nick);
            fs::create_dir_all(node_dir.join("keys"))?;
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                fs::set_permissions(&node_dir, fs::Permissions::from_mode(0o700))?;
            }
            nodes.push(Node {
                nick,
                dir: node_dir,
                or_port: free_port()?,
                dir_port: free_port()?,
                authority,
            });
        }
        // Keys: authority certificates, then every node's relay identity.
        for n in &nodes {
            if n.authority {
                let mut gencert = Command::new(program("tor-gencert"));
                gencert
                    .current_dir(n.dir.join("keys"))
                    .args(["--create-identity-key", "--passphrase-fd", "0"])
                    .args([
                        "-i",
                        "authority_identity_key",
                        "-s",
                        "authority_signing_key",
                    ])
                    .args(["-c", "authority_certificate", "-m", "12"])
                    .arg("-a")
                    .arg(format!("127.0.0.1:{}", n.dir_port))
                    .stdin(Stdio::piped());
                let mut child = gencert
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .map_err(|e| {
                        io::Error::new(
                            e.kind(),
                            format!("tor-gencert: {e} (is Debian's `tor` installed?)"),
                        )
                    })?;
                if let Some(mut stdin) = child.stdin.take() {
                    writeln!(stdin, "{}", n.nick)?;
                }
                if !child.wait()?.success() {
                    return Err(io::Error::other("tor-gencert failed"));
                }
            }
            run(
                Command::new(program("tor"))
                    .args([
                        "--ignore-missing-torrc",
                        "-f",
                        "/dev/null",
                        "--DataDirectory",
                    ])
                    .arg(&n.dir)
                    .args(["--ORPort", "1", "--Nickname", &n.nick, "--list-fingerprint"]),
                "tor --list-fingerprint",
            )?;
        }
        // Directory authority lines for every torrc, and arti's view of the network.
        let mut dir_authorities = String::new();
        let (mut v3idents, mut addresses, mut fallbacks) = (Vec::new(), Vec::new(), String::new());
        for n in nodes.iter().filter(|n| n.authority) {
            let fingerprint = field(&n.dir.join("fingerprint"), "")?;
            let ed = field(&n.dir.join("fingerprint-ed25519"), "")?;
            let v3 = field(&n.dir.join("keys/authority_certificate"), "fingerprint ")?;
            let _ = writeln!(
                dir_authorities,
                "DirAuthority {} orport={} no-v2 v3ident={v3} 127.0.0.1:{} {fingerprint}",
                n.nick, n.or_port, n.dir_port
            );
            v3idents.push(format!("\"{v3}\""));
            addresses.push(format!("[\"127.0.0.1:{}\"]", n.dir_port));
            let _ = write!(
                fallbacks,
                "\n[[tor_network.fallback_caches]]\nrsa_identity = \"{fingerprint}\"\ned_identity = \"{ed}\"\norports = [\"127.0.0.1:{}\"]\n",
                n.or_port
            );
        }
        let arti_config = dir.join("arti-net.toml");
        fs::write(
            &arti_config,
            format!(
                "# A private Tor network on 127.0.0.1 (written by thicket-tests).\n\
                 [path_rules]\n\
                 # Everything is on one address: turn the same-subnet rule off.\n\
                 ipv4_subnet_family_prefix = 33\n\
                 ipv6_subnet_family_prefix = 129\n\n\
                 [address_filter]\n\
                 allow_local_addrs = true\n\n\
                 [tor_network.authorities]\n\
                 v3idents = [{}]\n\
                 uploads = [{}]\n\
                 downloads = [{}]\n\
                 votes = [{}]\n{fallbacks}",
                v3idents.join(", "),
                addresses.join(", "),
                addresses.join(", "),
                addresses.join(", "),
            ),
        )?;
        let owner = std::process::id();
        for n in &nodes {
            let d = n.dir.display();
            let mut torrc = format!(
                "TestingTorNetwork 1\n\
                 PathsNeededToBuildCircuits 0.67\n\
                 TestingDirAuthVoteHSDir *\n\
                 TestingDirAuthVoteGuard *\n\
                 TestingMinExitFlagThreshold 0\n\
                 V3AuthNIntervalsValid 2\n\
                 DataDirectory {d}\n\
                 RunAsDaemon 0\n\
                 Nickname {nick}\n\
                 ContactInfo {nick}@test.invalid\n\
                 Log notice file {d}/notice.log\n\
                 SafeLogging 0\n\
                 Sandbox 0\n\
                 ShutdownWaitLength 0\n\
                 SocksPort 0\n\
                 Address 127.0.0.1\n\
                 ORPort 127.0.0.1:{or}\n\
                 DirPort 127.0.0.1:{dirport}\n\
                 AssumeReachable 1\n\
                 __OwningControllerProcess {owner}\n\
                 ExitRelay 0\n\
                 ExitPolicy reject *:*\n\
                 {dir_authorities}",
                nick = n.nick,
                or = n.or_port,
                dirport = n.dir_port,
            );
            if n.authority {
                torrc.push_str(
                    "AuthoritativeDirectory 1\n\
                     V3AuthoritativeDirectory 1\n\
                     TestingV3AuthInitialVotingInterval 20\n\
                     TestingV3AuthInitialVoteDelay 4\n\
                     TestingV3AuthInitialDistDelay 4\n\
                     V3AuthVotingInterval 20\n\
                     V3AuthVoteDelay 4\n\
                     V3AuthDistDelay 4\n",
                );
            }
            fs::write(n.dir.join("torrc"), torrc)?;
        }
        let mut net = TorNet {
            dir: dir.to_owned(),
            children: Vec::new(),
            nodes: nodes.clone(),
            arti_config,
        };
        // Authorities first. On any failure `net` drops and kills what started.
        for n in &nodes {
            let log = fs::File::create(n.dir.join("stdout.log"))?;
            let child = Command::new(program("tor"))
                .arg("-f")
                .arg(n.dir.join("torrc"))
                .stdin(Stdio::null())
                .stdout(log.try_clone()?)
                .stderr(log)
                .spawn()?;
            net.children.push(child);
        }
        Ok(net)
    }

    /// The arti TOML overlay that points a client at this network.
    pub fn arti_config(&self) -> &Path {
        &self.arti_config
    }

    /// The network's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The process ids of the network's tor processes.
    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }

    /// Waits until the first authority serves a consensus that lists every node.
    ///
    /// # Errors
    /// [`io::ErrorKind::TimedOut`] with the last count seen; a tor process that exited.
    pub fn wait_for_consensus(&mut self, timeout: Duration) -> io::Result<Duration> {
        let start = Instant::now();
        let want = self.nodes.len();
        let port = self
            .nodes
            .iter()
            .find(|n| n.authority)
            .map(|n| n.dir_port)
            .ok_or_else(|| io::Error::other("a network without authorities"))?;
        let mut seen = 0;
        while start.elapsed() < timeout {
            for (child, n) in self.children.iter_mut().zip(&self.nodes) {
                if let Some(status) = child.try_wait()? {
                    return Err(io::Error::other(format!(
                        "{} exited ({status}); the end of its log in {}:\n{}",
                        n.nick,
                        n.dir.display(),
                        node_log_tail(&n.dir)
                    )));
                }
            }
            seen = consensus_size(port).unwrap_or(0);
            if seen >= want {
                return Ok(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(500));
        }
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("the consensus lists {seen} of {want} nodes after {timeout:?}"),
        ))
    }
}

/// How many relays the consensus served at `127.0.0.1:port` lists.
fn consensus_size(port: u16) -> io::Result<usize> {
    let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(b"GET /tor/status-vote/current/consensus-microdesc HTTP/1.0\r\n\r\n")?;
    let mut body = Vec::new();
    s.read_to_end(&mut body)?;
    let text = String::from_utf8_lossy(&body);
    if !text.starts_with("HTTP/1.0 200") {
        return Ok(0);
    }
    Ok(text.lines().filter(|l| l.starts_with("r ")).count())
}

impl Drop for TorNet {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
        }
        for child in &mut self.children {
            let _ = child.wait();
        }
    }
}
