//! A writer killed with SIGKILL in the middle of writes loses no committed transaction.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use bramble_proto::ids::{GroupId, MessageId};
use bramble_store::Store;

use super::data::message;
use super::{PASSWORD, account};

const DIR_ENV: &str = "THICKET_CRASH_TEST_DIR";
const ROUND_ENV: &str = "THICKET_CRASH_TEST_ROUND";
const GROUP: GroupId = GroupId([0xc0; 32]);

fn id(round: u8, n: u32) -> MessageId {
    let mut id = [round; 32];
    id[..4].copy_from_slice(&n.to_be_bytes());
    MessageId(id)
}

fn body(round: u8, n: u32) -> Vec<u8> {
    format!("round {round} message {n} ")
        .repeat(40)
        .into_bytes()
}

/// The child: writes one message per transaction, forever, and reports each commit.
#[test]
#[ignore = "the child process of killed_writer_loses_nothing_committed"]
fn crash_child_writer() {
    let (Ok(dir), Ok(round)) = (std::env::var(DIR_ENV), std::env::var(ROUND_ENV)) else {
        return;
    };
    let round: u8 = round.parse().unwrap();
    let mut store = Store::open(dir.as_ref(), PASSWORD).unwrap();
    for n in 0u32.. {
        let raw = body(round, n);
        let mut m = message(0, GROUP, &raw);
        m.id = id(round, n);
        store.add_messages(&[(m, &[])]).unwrap();
        // Only after the commit returned.
        println!("committed {n}");
    }
}

#[test]
fn killed_writer_loses_nothing_committed() {
    let (_tmp, dir, mut store) = account();
    store.add_group(GROUP, "test", 0, b"").unwrap();
    drop(store);
    for (round, kill_after) in [(1u8, 40usize), (2, 113), (3, 7), (4, 260)] {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "crash::crash_child_writer",
                "--ignored",
                "--nocapture",
            ])
            .env(DIR_ENV, &dir)
            .env(ROUND_ENV, round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut committed = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(n) = line.strip_prefix("committed ") {
                committed.push(n.parse::<u32>().unwrap());
                if committed.len() == kill_after {
                    // SIGKILL, while the child keeps writing.
                    child.kill().unwrap();
                    break;
                }
            }
        }
        let status = child.wait().unwrap();
        assert_eq!(
            committed.len(),
            kill_after,
            "round {round}: the child stopped early: {status}"
        );

        let store = Store::open(&dir, PASSWORD).unwrap();
        store.integrity_check().unwrap();
        for &n in &committed {
            let raw = store.message_raw(id(round, n)).unwrap();
            assert_eq!(
                raw,
                Some(body(round, n)),
                "round {round}: committed message {n} lost"
            );
        }
        drop(store);
    }
}
