//! End to end: the real `thicket` interface in tmux, driven by keys and read off the
//! screen, against a second `thicket` process over the LAN, in network namespaces the
//! test makes (`h1` and `h2` on a bridge; nothing reaches the host's network).
//!
//! Needs root (for the namespaces) and tmux; skipped with a message otherwise.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr
)]

#[path = "support/process.rs"]
mod process;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use process::Account;
use thicket_tests::netns::{Lan, in_private_netns};

/// A tmux server of our own (its own socket), with one window running one command.
struct Tmux {
    socket: PathBuf,
}

impl Tmux {
    fn start(socket: &Path, command: &str, width: u16, height: u16) -> Tmux {
        let tmux = Tmux {
            socket: socket.to_owned(),
        };
        let status = tmux
            .cmd()
            .args(["new-session", "-d", "-s", "t", "-x"])
            .arg(width.to_string())
            .arg("-y")
            .arg(height.to_string())
            .arg(command)
            .env("TERM", "xterm-256color")
            .status()
            .expect("tmux is needed");
        assert!(status.success(), "tmux new-session failed");
        // Everything the program writes, so that a failure can show what was drawn
        // between two captures (a notice that came and went).
        let log = format!("cat >> '{}.log'", socket.display());
        let piped = tmux
            .cmd()
            .args(["pipe-pane", "-t", "t", "-o", &log])
            .status()
            .unwrap();
        assert!(piped.success(), "tmux pipe-pane failed");
        tmux
    }

    /// The text of the last `n` bytes the program wrote, escape sequences left out.
    fn drawn_lately(&self, n: usize) -> String {
        let bytes = std::fs::read(format!("{}.log", self.socket.display())).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes[bytes.len().saturating_sub(n)..]).into_owned();
        let mut out = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                // CSI: parameters up to a final letter; other escapes: one character.
                if chars.next_if_eq(&'[').is_some() {
                    while chars.next().is_some_and(|c| !c.is_ascii_alphabetic()) {}
                    out.push(' ');
                } else {
                    chars.next();
                }
            } else if !c.is_control() {
                out.push(c);
            }
        }
        out.split_whitespace().collect::<Vec<_>>().join(" ")
    }

    fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-S").arg(&self.socket).args(["-f", "/dev/null"]);
        c
    }

    /// Sends tmux key names (`Enter`, `Escape`, `M-Enter`).
    fn keys(&self, keys: &[&str]) {
        let ok = self
            .cmd()
            .args(["send-keys", "-t", "t"])
            .args(keys)
            .status()
            .unwrap();
        assert!(ok.success());
    }

    /// Types text literally.
    fn type_text(&self, text: &str) {
        let ok = self
            .cmd()
            .args(["send-keys", "-t", "t", "-l", "--", text])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    fn screen(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "t"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Waits for the window's command to end.
    fn wait_gone(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.alive() {
            assert!(
                Instant::now() < deadline,
                "it did not quit:\n{}",
                self.screen()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn alive(&self) -> bool {
        self.cmd()
            .args(["has-session", "-t", "t"])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Whether the screen shows all of `texts` within `timeout`.
    fn shows_within(&self, texts: &[&str], timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline && self.alive() {
            let screen = self.screen();
            if texts.iter().all(|t| screen.contains(t)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// Waits until the screen shows all of `texts`.
    fn wait_for(&self, texts: &[&str], timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let screen = self.screen();
            if texts.iter().all(|t| screen.contains(t)) {
                return screen;
            }
            assert!(
                Instant::now() < deadline && self.alive(),
                "waited {timeout:?} for {texts:?}; the screen:\n{screen}\n\
                 drawn lately: {}",
                self.drawn_lately(6000)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

fn quoted(p: &Path) -> String {
    format!("'{}'", p.display().to_string().replace('\'', r"'\''"))
}

#[test]
fn the_interface_chats_with_a_second_process_over_the_lan() {
    if !in_private_netns("the_interface_chats_with_a_second_process_over_the_lan") {
        return;
    }
    let _lan = Lan::new(2, false);
    let root = tempfile::tempdir().unwrap();
    // Bob is made on the command line; Alice's account is created in the interface.
    let (mut a, mut b) = (
        Account::new(root.path(), "alice"),
        Account::new(root.path(), "bob"),
    );
    a.netns = Some("h1".into());
    b.netns = Some("h2".into());
    b.ok(&["init", "--name", "bob"]);
    let link_b = b.ok(&["link"]).trim().to_owned();
    let password = std::fs::read_to_string(&a.password).unwrap();
    let password = password.trim_end();

    // Alice in the interface, 100×30, in h1, with no password file: it asks.
    let command = format!(
        "ip netns exec h1 env HOME={} {} --data-dir {} ui --lan --no-tor 2>>{}",
        quoted(root.path()),
        quoted(Path::new(env!("CARGO_BIN_EXE_thicket"))),
        quoted(&a.dir),
        quoted(&root.path().join("alice.stderr")),
    );
    let tmux = Tmux::start(&root.path().join("tmux.sock"), &command, 100, 30);
    let minute = Duration::from_secs(60);
    // A pause after Escape, or the terminal reads Escape and the next key as one Alt key.
    let pause = || std::thread::sleep(Duration::from_millis(300));

    // The first run creates the account: an empty nickname, a weak password and a
    // mistyped second one are each refused where they are.
    tmux.wait_for(&["create your account", "Your nickname"], minute);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["choose a nickname"], minute);
    tmux.type_text("alice");
    tmux.keys(&["Enter"]);
    tmux.type_text("alice2024");
    tmux.wait_for(&["Strength:", "weak"], minute);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["too easy to guess"], minute);
    tmux.keys(&["C-u"]);
    tmux.type_text(password);
    tmux.wait_for(&["strong"], minute);
    tmux.keys(&["Enter"]);
    tmux.type_text("alice has a short password");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["the two passwords differ"], minute);
    tmux.keys(&["C-u"]);
    tmux.type_text(password);
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for(&["Welcome, alice", "LAN: up", "No contacts yet."], minute);
    eprintln!("{screen}");
    assert!(!screen.contains(password), "{screen}");

    // Alice adds Bob's link in the interface: her own link is shown to copy; a
    // mistyped link is refused on its field and cleared; then the real one and a name.
    tmux.keys(&["a"]);
    let screen = tmux.wait_for(
        &["Add a contact", "thicket://", "No links waiting."],
        minute,
    );
    let at = screen.find("thicket://").unwrap();
    let link_a: String = screen[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == ':' || *c == '/')
        .collect();
    assert_eq!(link_a.len(), "thicket://".len() + 56, "{screen}");
    tmux.type_text("thicket://nope");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["not a Thicket link"], minute);
    tmux.keys(&["C-u"]);
    tmux.type_text(&link_b);
    tmux.keys(&["Enter"]);
    tmux.type_text("bob");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for(&["bob added", "waiting for them", "left"], minute);
    eprintln!("{screen}");
    assert!(!screen.contains("not a Thicket link"), "{screen}");
    // The link as a QR code, and back.
    tmux.keys(&["F2"]);
    tmux.wait_for(&["Your link as a QR code", "████████"], minute);
    tmux.keys(&["x"]);
    tmux.wait_for(&["Add a contact"], minute);
    tmux.keys(&["Escape"]);
    pause();
    tmux.wait_for(&["No contacts yet."], minute);

    // Bob on the command line in h2 adds Alice's link; they meet over the LAN.
    let started = Instant::now();
    let mut rb = b.start(&["--lan".as_ref(), "--no-tor".as_ref()]);
    rb.say(&format!("add {} alice", link_a));
    rb.expect("Added alice.", minute);
    tmux.wait_for(&["  bob"], minute);
    eprintln!("contact shown {:?} after bob started", started.elapsed());

    // Open the conversation, type, send; it is delivered.
    tmux.keys(&["Enter"]);
    if !tmux.shows_within(&["Message to bob"], minute) {
        // Whether keys still reach it at all.
        tmux.keys(&["?"]);
        std::thread::sleep(Duration::from_secs(3));
        panic!(
            "Enter did not open the conversation; after `?`:\n{}\ndrawn lately: {}",
            tmux.screen(),
            tmux.drawn_lately(6000)
        );
    }
    let hello = "hello bob, typed in the interface";
    tmux.type_text(hello);
    tmux.keys(&["Enter"]);
    rb.expect(&format!("New message from alice: {hello}"), minute);
    let screen = tmux.wait_for(
        &[
            hello,
            "[delivered]",
            "connected over LAN",
            "LAN: up, 1 near, 1 connected",
        ],
        minute,
    );
    eprintln!("{screen}");

    // A reply appears in the open conversation.
    let reply = "bob answers from the command line";
    rb.say(&format!("send alice {reply}"));
    rb.expect("A message to alice was delivered.", minute);
    let screen = tmux.wait_for(&[reply], minute);
    eprintln!(
        "delivered both ways {:?} after bob started",
        started.elapsed()
    );
    eprintln!("{screen}");

    // A draft left on the line is not sent.
    tmux.type_text(&"x".repeat(40));
    tmux.keys(&["Escape"]);
    pause();

    // Verifying: Alice's interface shows the safety number Bob's Thicket shows, and
    // marking it puts ✓ on the contact.
    rb.quit();
    let bob_says = b.ok(&["verify", "alice"]);
    let groups: Vec<&str> = bob_says
        .lines()
        .nth(1)
        .unwrap_or_default()
        .split(' ')
        .collect();
    assert_eq!(groups.len(), 12, "{bob_says}");
    tmux.keys(&["v"]);
    let rows = [
        groups[..4].join(" "),
        groups[4..8].join(" "),
        groups[8..].join(" "),
    ];
    let screen = tmux.wait_for(&["Verify bob", &rows[0], &rows[1], &rows[2]], minute);
    eprintln!("{screen}");
    tmux.keys(&["m"]);
    tmux.wait_for(&["✓ bob is verified"], minute);
    tmux.keys(&["Escape"]);
    pause();
    tmux.wait_for(&["✓ bob", "Message to bob"], minute);

    // The help opens and closes; q quits.
    tmux.keys(&["?"]);
    tmux.wait_for(&["Keys"], minute);
    tmux.keys(&["Escape"]);
    pause();
    tmux.keys(&["q"]);
    tmux.wait_gone(minute);
    drop(tmux);

    // The next run unlocks: a wrong password is refused and wiped, and nothing is lost.
    // It also has a folder to carry messages as files: there already, so synced at once.
    let stick = root.path().join("stick");
    std::fs::create_dir(&stick).unwrap();
    let command = command.replace(
        " ui --lan --no-tor ",
        &format!(" ui --lan --no-tor --files {} ", quoted(&stick)),
    );
    let tmux = Tmux::start(&root.path().join("tmux.sock"), &command, 100, 30);
    tmux.wait_for(&["unlock your account", "Password:"], minute);
    tmux.type_text("alice has a wrong password");
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["Wrong password. Nothing was changed or deleted"], minute);
    tmux.type_text(password);
    tmux.keys(&["Enter"]);
    tmux.wait_for(&["✓ bob", "LAN: up"], minute);
    tmux.wait_for(
        &["folder synced: 0 messages read", "· files", ": synced "],
        minute,
    );
    // Bob has nothing unacknowledged: the one file is the new key period's first stream,
    // which proves to him that we hold his details. Asked again, nothing more is written.
    let files = || std::fs::read_dir(&stick).unwrap().count();
    assert_eq!(files(), 1);
    tmux.keys(&["f"]);
    tmux.wait_for(&["0 files written"], minute);
    assert_eq!(files(), 1);
    tmux.keys(&["C-c"]);
    tmux.wait_gone(minute);

    // Both messages are in Alice's store, once each; the draft was not sent.
    let history = a.ok(&["read", "bob"]);
    assert_eq!(history.matches(hello).count(), 1, "{history}");
    assert_eq!(history.matches(reply).count(), 1, "{history}");
    assert!(!history.contains("xxxxxxxx"), "{history}");
    assert!(history.contains("[delivered]"), "{history}");
    let contacts = a.ok(&["contacts"]);
    assert!(
        contacts.contains("verified") && !contacts.contains("not verified"),
        "{contacts}"
    );

    // The password reached no file: not the account's (encrypted) ones, not Thicket's
    // diagnostics.
    let needle = password.as_bytes();
    for entry in walk(root.path()) {
        if entry.extension().is_some_and(|e| e == "password") {
            continue;
        }
        let bytes = std::fs::read(&entry).unwrap_or_default();
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle),
            "the password is in {}",
            entry.display()
        );
    }
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => todo.push(path),
                Ok(t) if t.is_file() => out.push(path),
                _ => {}
            }
        }
    }
    out
}
