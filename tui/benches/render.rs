//! How long the interface takes to draw a frame at 200×60: a conversation with 100,000
//! messages loaded (the worst case: the user scrolled up through all of them; normally
//! one page of 200 is), scrolled to the newest, the middle and the oldest, paged down a
//! frame at a time, and a list of 1,000 contacts; against an empty frame drawn the same
//! way in the same run. Target: ≤ 5 ms a frame. Also the cost of one frame that jumps far,
//! and the resident memory the loaded conversation adds.
//!
//! `cargo bench -p thicket --bench render`
// The shared modules bring their unit tests along, unused here.
#![allow(
    dead_code,
    unused_imports,
    unreachable_pub,
    clippy::unwrap_used,
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

use std::time::{Duration, Instant};

use bramble_proto::ids::MessageId;
use bramble_proto::messaging::DeliveryState;
use bramble_proto::time::Timestamp;
use bramble_proto::transport::TransportId;
use bramble_store::{ContactId, ConversationMessage};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ui::app::{App, ContactRow, Update};

const T0: u64 = 1_764_581_400_000;
const FRAMES: u32 = 200;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
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

fn main() {
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
