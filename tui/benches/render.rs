//! How long the interface takes to draw a frame at 200×60: a conversation with 100,000
//! messages loaded (the worst case: the user scrolled up through all of them; normally
//! one page of 200 is), scrolled to the newest, the middle and the oldest, paged down a
//! frame at a time, and a list of 1,000 contacts; against an empty frame drawn the same
//! way in the same run. Target: ≤ 5 ms a frame. Also the cost of one frame that jumps far,
//! and the resident memory the loaded conversation adds.
//!
//! Then the interface over a real store, each in a process of its own so that its memory
//! is its own: an account with 1,000 contacts and 100,000 messages with one of them, opened
//! as `thicket` opens it (engine, contact list, the newest page), then scrolled back page
//! by page to the very first message; against the same steps on an account with one
//! contact and 200 messages, in the same run. It prints the resident memory at start and
//! with everything loaded, and the time of each engine call the interface waits for.
//!
//! `cargo bench -p thicket --bench render`
// The shared modules bring their unit tests along, unused here.
#![allow(
    dead_code,
    unused_imports,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::panic,
    clippy::print_stdout
)]

#[path = "../src/strength.rs"]
mod strength;
#[path = "../src/time.rs"]
mod time;

#[path = "../src/ui"]
mod ui {
    pub(crate) mod app;
    pub(crate) mod gate;
    pub(crate) mod qr;
    pub(crate) mod view;
}

use std::path::Path;
use std::time::{Duration, Instant};

use bramble_engine::{Engine, Mode};

use bramble_proto::crypto::{AgreementSecretKey, SigningKey};
use bramble_proto::ids::MessageId;
use bramble_proto::messaging;
use bramble_proto::messaging::DeliveryState;
use bramble_proto::stream::Role;
use bramble_proto::time::Timestamp;
use bramble_proto::transport::TransportId;
use bramble_store::{
    ContactId, ConversationMessage, KdfParams, MessageState, NewContact, NewMessage, StatusInit,
    Store,
};
use chacha20::ChaCha20Rng;
use chacha20::rand_core::SeedableRng;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ui::app::{App, ContactRow, PAGE, Request, Update};

const T0: u64 = 1_764_581_400_000;
const FRAMES: u32 = 200;

fn rss_kib() -> u64 {
    status_kib("VmRSS:")
}

/// A `/proc/self/status` figure in KiB (`VmRSS:` now, `VmHWM:` the peak).
fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn contacts(n: u32) -> Vec<ContactRow> {
    (0..n)
        .map(|i| ContactRow {
            id: ContactId(i64::from(i) + 1),
            name: format!("Contact number {i}"),
            verified: i % 3 == 0,
            unread: u64::from(i % 7),
            last: Some(Timestamp::from_millis(T0 - u64::from(i) * 60_000).unwrap()),
        })
        .collect()
}

fn messages(n: u32) -> Vec<ConversationMessage> {
    (0..n)
        .map(|i| {
            let mut id = [0u8; 32];
            id[..4].copy_from_slice(&i.to_be_bytes());
            let ours = i % 2 == 0;
            ConversationMessage {
                id: MessageId(id),
                // A message every 5 minutes: a day separator every 288.
                timestamp: Timestamp::from_millis(T0 + u64::from(i) * 300_000).unwrap(),
                ours,
                text: format!(
                    "message {i}: {}",
                    "a few words that wrap on narrower screens ".repeat(1 + (i % 4) as usize)
                ),
                delivery: ours.then_some(DeliveryState::Delivered),
                read: true,
            }
        })
        .collect()
}

/// Scrolls `app` up by `rows` in one frame, as the run loop does (the frame resolves
/// the rows into a position and the app keeps it), and returns that frame's time.
fn jump(app: &mut App, terminal: &mut Terminal<TestBackend>, rows: usize) -> Duration {
    app.scroll_up(rows);
    let started = Instant::now();
    let mut drawn = ui::view::Drawn::default();
    terminal.draw(|f| drawn = ui::view::draw(app, f)).unwrap();
    let took = started.elapsed();
    let _ = app.settle(&drawn);
    took
}

/// The mean time to draw `app`, over `FRAMES` frames.
fn frame_time(app: &App, terminal: &mut Terminal<TestBackend>) -> Duration {
    // Warm up, then measure.
    for _ in 0..5 {
        terminal
            .draw(|f| {
                let _ = ui::view::draw(app, f);
            })
            .unwrap();
    }
    let started = Instant::now();
    for _ in 0..FRAMES {
        terminal
            .draw(|f| {
                let _ = ui::view::draw(app, f);
            })
            .unwrap();
    }
    started.elapsed() / FRAMES
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

const PASSWORD: &str = "benchmark password";

/// An account in `dir` with `contacts` contacts and `messages` messages with the first,
/// every other one ours and delivered, a message every five minutes.
fn build_account(dir: &Path, contacts: u32, messages: u32) {
    let mut rng = ChaCha20Rng::seed_from_u64(7);
    let params = KdfParams::new(8 * 1024, 1, 1).unwrap();
    let start = Timestamp::from_millis(T0).unwrap();
    let mut store = Store::create(dir, "Alex", PASSWORD, params, start, &mut rng).unwrap();
    let mut first = None;
    for i in 0..contacts {
        let id = store
            .add_contact(
                &NewContact {
                    nickname: &format!("Contact number {i}"),
                    alias: None,
                    signing_public: SigningKey::generate(&mut rng).verifying_key(),
                    handshake_public: AgreementSecretKey::generate(&mut rng).public_key(),
                    role: Role::Alice,
                    verified: i % 3 == 0,
                    added_at: start,
                },
                &[],
            )
            .unwrap();
        first.get_or_insert(id);
    }
    let contact = first.unwrap();
    let group = store.conversation_group(contact).unwrap().id();
    let all: Vec<_> = (0..messages)
        .map(|i| {
            let at = Timestamp::from_millis(T0 + u64::from(i) * 300_000).unwrap();
            let text = format!(
                "message {i}: {}",
                "a few words that wrap on narrower screens ".repeat(1 + (i % 4) as usize)
            );
            (
                i % 2 == 0,
                messaging::text_message(group, at, &text).unwrap(),
            )
        })
        .collect();
    let ours = [StatusInit {
        contact,
        ack: false,
        seen: true,
    }];
    let theirs = [StatusInit {
        contact,
        ack: true,
        seen: true,
    }];
    let raws: Vec<Vec<u8>> = all.iter().map(|(_, m)| m.to_raw()).collect();
    for (chunk, raw) in all.chunks(1_000).zip(raws.chunks(1_000)) {
        let batch: Vec<_> = chunk
            .iter()
            .zip(raw)
            .map(|((local, m), raw)| {
                let new = NewMessage {
                    id: m.id(),
                    group,
                    timestamp: m.timestamp,
                    raw,
                    local: *local,
                    state: MessageState::Delivered,
                    shared: true,
                    received_at: m.timestamp,
                    metadata: &[],
                    dependencies: &[],
                };
                (new, if *local { &ours[..] } else { &theirs[..] })
            })
            .collect();
        store.add_messages(&batch).unwrap();
    }
}

/// What one process measured over a real store.
#[derive(Debug, Default)]
struct Measured {
    rss_start_kib: u64,
    rss_all_kib: u64,
    peak_kib: u64,
    open_ms: f64,
    contacts_ms: f64,
    first_page_ms: f64,
    older_mean_ms: f64,
    older_max_ms: f64,
    update_max_ms: f64,
    loaded: usize,
}

/// In this process: opens `dir` as the interface does, then loads the whole scrollback.
fn measure(dir: &Path) -> Measured {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut out = Measured::default();
        let started = Instant::now();
        let engine = Engine::open_with(dir, PASSWORD, Vec::new(), Mode::Offline)
            .await
            .unwrap();
        out.open_ms = ms(started.elapsed());
        let started = Instant::now();
        let rows = ui::app::contact_rows(engine.overview().await.unwrap());
        out.contacts_ms = ms(started.elapsed());
        let now = Timestamp::from_millis(T0).unwrap();
        let mut app = App::new("Alex", &[TransportId::TOR, TransportId::LAN], now);
        app.update(Update::Contacts(rows));
        let Request::Open(contact) = app.key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE))[0]
        else {
            panic!("Enter opens the conversation");
        };
        let started = Instant::now();
        let page = engine.conversation(contact, PAGE).await.unwrap();
        engine.mark_read(contact).await.unwrap();
        out.first_page_ms = ms(started.elapsed());
        app.update(Update::Latest(contact, page));
        out.rss_start_kib = rss_kib();
        // Scrolled back to the very first message, a page at a time.
        let mut older = Vec::new();
        let mut update_max = Duration::ZERO;
        loop {
            let c = app.conversation.as_ref().unwrap();
            if c.complete {
                break;
            }
            let oldest = c.messages.first().unwrap();
            let before = (oldest.timestamp, oldest.id);
            let started = Instant::now();
            let page = engine
                .conversation_before(contact, before, PAGE)
                .await
                .unwrap();
            older.push(started.elapsed());
            let started = Instant::now();
            app.update(Update::Older(contact, page));
            update_max = update_max.max(started.elapsed());
        }
        out.loaded = app.conversation.as_ref().unwrap().messages.len();
        out.rss_all_kib = rss_kib();
        out.peak_kib = status_kib("VmHWM:");
        if !older.is_empty() {
            out.older_mean_ms = older.iter().map(|d| ms(*d)).sum::<f64>() / older.len() as f64;
            out.older_max_ms = older.iter().map(|d| ms(*d)).fold(0.0, f64::max);
        }
        out.update_max_ms = ms(update_max);
        engine.shutdown().await;
        out
    })
}

const MEASURE: &str = "--measure-store";

/// Runs [`measure`] on `dir` in a child process and reads what it printed.
fn measure_apart(dir: &Path) -> Measured {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .arg(MEASURE)
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let v: Vec<&str> = text.split_whitespace().collect();
    let int = |i: usize| -> u64 { v[i].parse().unwrap() };
    let float = |i: usize| -> f64 { v[i].parse().unwrap() };
    Measured {
        rss_start_kib: int(0),
        rss_all_kib: int(1),
        peak_kib: int(2),
        open_ms: float(3),
        contacts_ms: float(4),
        first_page_ms: float(5),
        older_mean_ms: float(6),
        older_max_ms: float(7),
        update_max_ms: float(8),
        loaded: usize::try_from(int(9)).unwrap(),
    }
}

fn real_store() {
    let tmp = tempfile::tempdir().unwrap();
    let (small, big) = (tmp.path().join("small"), tmp.path().join("big"));
    let started = Instant::now();
    build_account(&small, 1, 200);
    build_account(&big, 1_000, 100_000);
    println!(
        "real store: built 1,000 contacts and 100,000 messages in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let base = measure_apart(&small);
    let full = measure_apart(&big);
    assert_eq!((base.loaded, full.loaded), (200, 100_000));
    let mib = |k: u64| k as f64 / 1024.0;
    println!("the interface over a real store (1 contact, 200 messages = baseline):");
    println!(
        "  resident at start (list + newest page): {:6.1} MiB  (baseline {:.1} MiB, {:.2}x)",
        mib(full.rss_start_kib),
        mib(base.rss_start_kib),
        full.rss_start_kib as f64 / base.rss_start_kib as f64
    );
    println!(
        "  resident with all 100,000 loaded:       {:6.1} MiB  (peak {:.1} MiB; baseline {:.1} MiB)",
        mib(full.rss_all_kib),
        mib(full.peak_kib),
        mib(base.rss_all_kib)
    );
    for (what, f, b) in [
        ("unlock and open the engine", full.open_ms, base.open_ms),
        ("contact list (1,000)", full.contacts_ms, base.contacts_ms),
        (
            "newest page + mark read",
            full.first_page_ms,
            base.first_page_ms,
        ),
        ("older page, mean", full.older_mean_ms, base.older_mean_ms),
        ("older page, slowest", full.older_max_ms, base.older_max_ms),
        (
            "merging a page, slowest",
            full.update_max_ms,
            base.update_max_ms,
        ),
    ] {
        println!(
            "  {what:<39}{f:8.3} ms  (baseline {b:.3} ms, {:.2}x)",
            f / b.max(1e-3)
        );
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() == Some(MEASURE) {
        let dir = args.next().unwrap();
        let m = measure(Path::new(&dir));
        println!(
            "{} {} {} {} {} {} {} {} {} {}",
            m.rss_start_kib,
            m.rss_all_kib,
            m.peak_kib,
            m.open_ms,
            m.contacts_ms,
            m.first_page_ms,
            m.older_mean_ms,
            m.older_max_ms,
            m.update_max_ms,
            m.loaded
        );
        return;
    }
    frames();
    real_store();
}

fn frames() {
    let now = Timestamp::from_millis(T0).unwrap();
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).unwrap();

    let empty = App::new("Alex", &[TransportId::TOR, TransportId::LAN], now);
    let baseline = frame_time(&empty, &mut terminal);

    let mut app = App::new("Alex", &[TransportId::TOR, TransportId::LAN], now);
    app.update(Update::Contacts(contacts(1_000)));
    app.key(KeyEvent::new(KeyCode::End, KeyModifiers::NONE));
    let list = frame_time(&app, &mut terminal);

    let before = rss_kib();
    let all = messages(100_000);
    app.key(KeyEvent::new(KeyCode::Home, KeyModifiers::NONE));
    app.key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    app.update(Update::Latest(ContactId(1), all));
    let after = rss_kib();
    let newest = frame_time(&app, &mut terminal);
    let rows = 100_000 * 2;
    let jump_middle = jump(&mut app, &mut terminal, rows / 2);
    let middle = frame_time(&app, &mut terminal);
    let jump_top = jump(&mut app, &mut terminal, rows * 2);
    let oldest = frame_time(&app, &mut terminal);
    // Paging up from the top of what is loaded: one PgUp per frame, as a user would.
    let paging = {
        let started = Instant::now();
        for _ in 0..FRAMES {
            app.scroll_down(10);
            let mut drawn = ui::view::Drawn::default();
            terminal.draw(|f| drawn = ui::view::draw(&app, f)).unwrap();
            app.settle(&drawn);
        }
        started.elapsed() / FRAMES
    };

    println!("frame at 200x60, mean of {FRAMES}:");
    println!(
        "  empty screen (baseline):              {:7.3} ms",
        ms(baseline)
    );
    for (what, d) in [
        ("1,000 contacts, last selected", list),
        ("100,000 messages, newest", newest),
        ("100,000 messages, scrolled halfway", middle),
        ("100,000 messages, scrolled to the top", oldest),
        ("100,000 messages, PgDn every frame", paging),
    ] {
        println!(
            "  {what:<38}{:7.3} ms  ({:.1}x baseline; {:.2} of the 5 ms target)",
            ms(d),
            d.as_secs_f64() / baseline.as_secs_f64(),
            ms(d) / 5.0
        );
    }
    println!(
        "  one frame jumping 100,000 rows up:     {:7.3} ms; to the top from there: {:.3} ms",
        ms(jump_middle),
        ms(jump_top)
    );
    println!(
        "resident memory: {} MiB with 1,000 contacts; {} MiB more with 100,000 messages loaded",
        before / 1024,
        after.saturating_sub(before) / 1024
    );
}
