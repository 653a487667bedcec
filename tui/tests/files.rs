//! Two `thicket` processes with separate accounts and no network at all: they add each
//! other's links and chat, carrying every stream as files between them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Account {
    dir: PathBuf,
    password: PathBuf,
}

impl Account {
    fn new(root: &Path, name: &str) -> Self {
        let password = root.join(format!("{name}.password"));
        std::fs::write(&password, format!("{name} has a long password\n")).unwrap();
        Account {
            dir: root.join(name),
            password,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_thicket"));
        c.arg("--data-dir")
            .arg(&self.dir)
            .arg("--password-file")
            .arg(&self.password)
            .args(args)
            .env_remove("XDG_DATA_HOME");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap()
    }

    /// Runs a command with `input` on its standard input; it must succeed. Returns its
    /// standard output.
    fn with_input(&self, args: &[&str], input: &str) -> String {
        use std::io::Write as _;
        let mut child = self
            .command(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(
            out.status.success(),
            "thicket {args:?} failed: {}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    /// Runs a command that must succeed; returns its standard output.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        let (stdout, stderr) = (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        );
        assert!(
            out.status.success(),
            "thicket {args:?} failed: {stderr}\n{stdout}"
        );
        stdout
    }

    /// Runs a command that must fail; returns its error message.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "thicket {args:?} should fail: {:?} {}",
            std::os::unix::process::ExitStatusExt::signal(&out.status),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stderr).unwrap()
    }
}

/// Alice's and Bob's accounts, created.
fn alice_and_bob(root: &Path) -> (Account, Account) {
    let (a, b) = (Account::new(root, "alice"), Account::new(root, "bob"));
    a.ok(&["init", "--name", "alice"]);
    b.ok(&["init", "--name", "bob"]);
    (a, b)
}

#[test]
fn two_processes_chat_by_files_only() {
    let root = tempfile::tempdir().unwrap();
    let (a, b) = alice_and_bob(root.path());
    assert!(
        a.fails(&["init", "--name", "alice"])
            .contains("already exists")
    );
    let (link_a, link_b) = (
        a.ok(&["link"]).trim().to_owned(),
        b.ok(&["link"]).trim().to_owned(),
    );
    assert!(link_a.starts_with("thicket://") && link_a != link_b);

    // Bad links get clear errors and change nothing.
    let mut typo = link_b.clone().into_bytes();
    typo[40] = if typo[40] == b'a' { b'b' } else { b'a' };
    let typo = String::from_utf8(typo).unwrap();
    assert!(a.fails(&["add", &typo, "--name", "Bob"]).contains("typo"));
    assert!(
        a.fails(&["add", &link_a, "--name", "Me"])
            .contains("your own link")
    );
    assert!(
        a.fails(&["add", "thicket://abc", "--name", "Bob"])
            .contains("not a Thicket link")
    );
    // A link of a later format, with a valid checksum.
    let key = [9u8; 32];
    let digest = bramble_proto::crypto::hash(
        bramble_proto::crypto::label::CONTACT_LINK_CHECKSUM,
        &[&[2], &key],
    );
    let v2 = [&[2u8][..], &key, &digest.0[..2]].concat();
    let v2 = format!("thicket://{}", bramble_proto::contact::base32_encode(&v2));
    assert!(
        a.fails(&["add", &v2, "--name", "Bob"])
            .contains("version 2")
    );
    assert!(a.ok(&["pending"]).contains("No pending contacts"));
    // A wrong password is refused.
    let wrong = Account {
        dir: a.dir.clone(),
        password: b.password.clone(),
    };
    assert!(wrong.fails(&["link"]).contains("wrong password"));

    a.ok(&["add", &link_b, "--name", "Bob"]);
    b.ok(&["add", &link_a, "--name", "Alice"]);
    assert!(
        a.fails(&["add", &link_b, "--name", "Robert"])
            .contains("already added, as Bob")
    );
    assert!(
        a.fails(&["send", "Bob", "too early"])
            .contains("still pending")
    );

    // Alice → Bob: her handshake. Bob → Alice: his, with his info; Alice completes.
    let stick = root.path().join("stick");
    let to_bob = stick.join("to-bob-1");
    a.ok(&["export", "Bob", "--to", to_bob.to_str().unwrap()]);
    let out = b.ok(&["import", to_bob.to_str().unwrap()]);
    assert!(out.contains("Read 1 handshake file"), "{out}");
    assert!(
        b.ok(&["pending"])
            .contains("waiting for their contact details")
    );
    let to_alice = stick.join("to-alice-1");
    b.ok(&["export", "Alice", "--to", to_alice.to_str().unwrap()]);
    let out = a.ok(&["import", to_alice.to_str().unwrap()]);
    assert!(out.contains("Added Bob"), "{out}");
    assert!(a.ok(&["contacts"]).contains("Bob (bob)\tnot verified"));
    assert!(
        a.fails(&["add", &link_b, "--name", "Robert"])
            .contains("Bob is already a contact")
    );

    // Alice writes; her next export completes Bob and carries the message.
    a.ok(&["send", "Bob", "hello", "Bob"]);
    assert!(a.ok(&["read", "Bob"]).contains("you: hello Bob [queued]"));
    let to_bob = stick.join("to-bob-2");
    let out = a.ok(&["export", "Bob", "--to", to_bob.to_str().unwrap()]);
    assert!(
        out.contains("Wrote 2 file(s) for Bob (1 new message(s))"),
        "{out}"
    );
    assert!(a.ok(&["read", "Bob"]).contains("you: hello Bob [sent]"));
    // Partial and foreign files beside them are skipped with a reason.
    std::fs::write(to_bob.join("holiday.jpg"), b"not ours").unwrap();
    std::fs::write(
        to_bob.join(format!(".{}.part", "ab".repeat(16))),
        b"cut short",
    )
    .unwrap();
    std::fs::write(
        to_bob.join(format!("{}.thicket", "cd".repeat(16))),
        vec![7u8; 500],
    )
    .unwrap();
    let out = b.ok(&["import", to_bob.to_str().unwrap()]);
    assert!(out.contains("Added Alice"), "{out}");
    assert!(out.contains("1 new message(s) from Alice"), "{out}");
    assert!(out.contains("holiday.jpg: not a Thicket file"), "{out}");
    assert!(out.contains("an export that did not finish"), "{out}");
    assert!(out.contains("1 file(s) were not for this account"), "{out}");
    let read = b.ok(&["read", "Alice"]);
    assert!(read.contains("Alice: hello Bob [new]"), "{read}");
    assert!(
        !b.ok(&["read", "Alice"]).contains("[new]"),
        "read marks read"
    );
    // Importing the same folder again reads nothing new.
    let out = b.ok(&["import", to_bob.to_str().unwrap()]);
    assert!(!out.contains("new message"), "{out}");
    assert!(
        out.contains("3 file(s) were not for this account or were read before"),
        "{out}"
    );
    assert!(b.ok(&["pending"]).contains("No pending contacts"));

    // Bob replies by file; Alice learns hers was delivered.
    b.ok(&["send", "Alice", "hi", "Alice"]);
    let to_alice = stick.join("to-alice-2");
    b.ok(&["export", "Alice", "--to", to_alice.to_str().unwrap()]);
    let out = a.ok(&["import", to_alice.to_str().unwrap()]);
    assert!(out.contains("1 new message(s) from Bob"), "{out}");
    let read = a.ok(&["read", "Bob"]);
    assert!(read.contains("you: hello Bob [delivered]"), "{read}");
    assert!(read.contains("Bob: hi Alice [new]"), "{read}");
    assert!(a.ok(&["pending"]).contains("No pending contacts"));
    // And Bob learns his was.
    let to_bob = stick.join("to-bob-3");
    a.ok(&["export", "Bob", "--to", to_bob.to_str().unwrap()]);
    b.ok(&["import", to_bob.to_str().unwrap()]);
    assert!(
        b.ok(&["read", "Alice"])
            .contains("you: hi Alice [delivered]")
    );

    // The safety numbers match; verifying marks the contact.
    let number = |out: String| out.lines().nth(1).unwrap().to_owned();
    let (na, nb) = (
        number(a.ok(&["verify", "Bob"])),
        number(b.ok(&["verify", "Alice"])),
    );
    assert_eq!(na, nb);
    assert_eq!(na.split(' ').count(), 12);
    a.ok(&["verify", "Bob", "--confirm"]);
    assert!(a.ok(&["contacts"]).contains("Bob (bob)\tverified"));

    // Removing a contact asks for confirmation, then takes the conversation with it.
    assert!(a.fails(&["remove", "Bob"]).contains("--yes"));
    a.ok(&["remove", "Bob", "--yes"]);
    assert!(a.ok(&["contacts"]).contains("No contacts yet"));
    assert!(a.fails(&["read", "Bob"]).contains("no contact"));
    // The link can be added again (a new handshake).
    a.ok(&["add", &link_b, "--name", "Bob"]);
    a.ok(&["remove", "Bob"]);
    assert!(a.ok(&["pending"]).contains("No pending contacts"));
    assert!(
        a.fails(&["read", "Carol"])
            .contains("no contact or pending contact is called \"Carol\"")
    );
}

#[test]
fn no_password_source_and_no_account() {
    let root = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_thicket"))
        .arg("--data-dir")
        .arg(root.path().join("nobody"))
        .arg("link")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("no account here")
    );
    // Password from a file descriptor: this test passes the file as stdin (fd 0), read
    // once even by `init`, which both creates and opens the account.
    let a = Account::new(root.path(), "carol");
    let with_fd = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_thicket"))
            .arg("--data-dir")
            .arg(&a.dir)
            .args(["--password-fd", "0"])
            .args(args)
            .stdin(std::fs::File::open(&a.password).unwrap())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    with_fd(&["init", "--name", "carol"]);
    with_fd(&["link"]);
    // No terminal and no file: a clear error, not a hang. (Only checkable where this
    // test has no controlling terminal, as under CI; elsewhere it would prompt.)
    if std::fs::File::open("/dev/tty").is_ok() {
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_thicket"))
        .arg("--data-dir")
        .arg(&a.dir)
        .arg("link")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn init_refuses_a_password_that_is_easy_to_guess() {
    let root = tempfile::tempdir().unwrap();
    let weak = Account::new(root.path(), "dana");
    std::fs::write(&weak.password, "dana1990\n").unwrap();
    let why = weak.fails(&["init", "--name", "dana"]);
    assert!(why.contains("too easy to guess"), "{why}");
    assert!(
        !why.contains("dana1990"),
        "the password is never echoed: {why}"
    );
    assert!(!weak.dir.join("thicket.key").exists());
    assert!(weak.fails(&["link"]).contains("no account here"));
}

#[test]
fn going_online_with_no_transport_at_all_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let a = Account::new(root.path(), "alice");
    a.ok(&["init", "--name", "alice"]);
    let err = a.fails(&["run", "--no-tor"]);
    assert!(
        err.contains("--no-tor needs --lan, --ble or --files"),
        "{err}"
    );
    // An adapter without Bluetooth is a usage error too.
    let out = a.run(&["run", "--ble-adapter", "hci1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--ble"));
}

#[test]
fn two_processes_chat_through_one_folder_that_goes_back_and_forth() {
    let root = tempfile::tempdir().unwrap();
    let (a, b) = alice_and_bob(root.path());
    let stick = root.path().join("stick");
    let dir = stick.to_str().unwrap();
    // No drive yet: a clear error, and nothing created.
    assert!(a.fails(&["sync", dir]).contains("is the drive plugged in?"));
    assert!(!stick.exists());
    std::fs::create_dir(&stick).unwrap();
    let (link_a, link_b) = (
        a.ok(&["link"]).trim().to_owned(),
        b.ok(&["link"]).trim().to_owned(),
    );
    a.ok(&["add", &link_b, "--name", "Bob"]);
    b.ok(&["add", &link_a, "--name", "Alice"]);
    // The one folder goes back and forth: handshakes, then contact details, then proof.
    for _ in 0..3 {
        a.ok(&["sync", dir]);
        b.ok(&["sync", dir]);
    }
    assert!(a.ok(&["pending"]).contains("No pending contacts"));
    assert!(b.ok(&["pending"]).contains("No pending contacts"));
    // Nothing to say: a sync writes nothing.
    let out = a.ok(&["sync", dir]);
    assert!(out.contains("0 messages read, 0 files written"), "{out}");

    a.ok(&["send", "Bob", "the stick is under the bench"]);
    let out = a.ok(&["sync", dir]);
    assert!(out.contains("1 file written"), "{out}");
    // Bob keeps Thicket running with the folder, no network at all: it syncs when the
    // folder is there, and on `sync`.
    let out = b.with_input(
        &["run", "--no-tor", "--files", dir],
        "sync\nread Alice\nquit\n",
    );
    assert!(out.contains("1 message read"), "{out}");
    assert!(out.contains("1 read file removed"), "{out}");
    assert!(out.contains("the stick is under the bench"), "{out}");
    let out = a.ok(&["sync", dir]);
    assert!(out.contains("0 messages read"), "{out}");
    assert!(a.ok(&["read", "Bob"]).contains("[delivered]"));
    for who in [&a, &b] {
        let out = who.ok(&["sync", dir]);
        assert!(out.contains("0 files written"), "{out}");
    }
    // Each file was read by the one it was for, and removed: the stick does not fill up.
    assert_eq!(std::fs::read_dir(&stick).unwrap().count(), 0);
}
