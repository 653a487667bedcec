//! Driving `thicket` processes from tests: accounts, and `thicket run` with its
//! output read line by line.
#![allow(dead_code, clippy::unwrap_used, clippy::panic, clippy::print_stderr)]

use std::ffi::OsStr;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// An account and the `thicket` commands run on it.
pub(crate) struct Account {
    pub(crate) name: &'static str,
    pub(crate) dir: PathBuf,
    pub(crate) password: PathBuf,
    /// Runs in this network namespace (`ip netns exec`).
    pub(crate) netns: Option<String>,
}

impl Account {
    pub(crate) fn new(root: &Path, name: &'static str) -> Self {
        let password = root.join(format!("{name}.password"));
        std::fs::write(&password, format!("{name} has a long password\n")).unwrap();
        Account {
            name,
            dir: root.join(name),
            password,
            netns: None,
        }
    }

    /// Alice in namespace `h1` and Bob in `h2`, with accounts made, and their links.
    pub(crate) fn alice_and_bob_in_netns(root: &Path) -> (Account, Account, String, String) {
        let (mut a, mut b) = (Account::new(root, "alice"), Account::new(root, "bob"));
        a.netns = Some("h1".into());
        b.netns = Some("h2".into());
        a.ok(&["init", "--name", "alice"]);
        b.ok(&["init", "--name", "bob"]);
        let (link_a, link_b) = (a.ok(&["link"]), b.ok(&["link"]));
        (a, b, link_a.trim().to_owned(), link_b.trim().to_owned())
    }

    pub(crate) fn command(&self) -> Command {
        let exe = env!("CARGO_BIN_EXE_thicket");
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, exe]);
                c
            }
            None => Command::new(exe),
        };
        cmd.arg("--data-dir")
            .arg(&self.dir)
            .arg("--password-file")
            .arg(&self.password)
            .env_remove("XDG_DATA_HOME")
            // Anything that fell back to a default folder lands inside the test's, where
            // the key scan looks.
            .env("HOME", self.dir.parent().unwrap());
        cmd
    }

    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let out = self
            .command()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "thicket {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `thicket run` with `args`, its output read line by line.
    pub(crate) fn start(&self, args: &[&OsStr]) -> Running {
        let mut child = self
            .command()
            .arg("run")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        let name = self.name;
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                eprintln!("[{name}] {line}");
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[{name} stderr] {line}");
            }
        });
        Running {
            stdin: child.stdin.take(),
            child,
            lines: rx,
            seen: Vec::new(),
            name,
        }
    }
}

/// A running `thicket run`.
pub(crate) struct Running {
    pub(crate) child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
    name: &'static str,
}

impl Running {
    pub(crate) fn say(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    /// Waits for an output line containing `text` (also among lines already seen, which
    /// are then consumed); returns it.
    pub(crate) fn expect(&mut self, text: &str, timeout: Duration) -> String {
        if let Some(i) = self.seen.iter().position(|l| l.contains(text)) {
            return self.seen.remove(i);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(text) => return line,
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "{}: no line with {text:?} within {timeout:?}; saw {:#?}",
                    self.name, self.seen
                ),
            }
        }
    }

    /// Asks the process to quit and waits for it.
    pub(crate) fn quit(mut self) {
        self.say("quit");
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "{} exited with {status}", self.name);
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("{} did not quit", self.name);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
