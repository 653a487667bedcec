//! Snapshots of every screen at 80×24 and 200×60, and what keys and updates do.

use bramble_engine::{Event, PendingInfo, PendingState};
use bramble_proto::contact::Link;
use bramble_proto::ids::MessageId;
use bramble_proto::messaging::{DeliveryState, MAX_TEXT_LEN};
use bramble_proto::time::Timestamp;
use bramble_proto::transport::TransportId;
use bramble_store::{ContactId, ConversationMessage, PendingContactId};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use thicket_transport::Status;

use super::app::{AddField, App, ContactRow, Focus, PAGE, Request, Scroll, Update};
use super::view::{self, Drawn, wrap, wrap_chars};

/// 2025-12-01 09:30 UTC.
const T0: u64 = 1_764_581_400_000;
const MINUTE: u64 = 60_000;

fn ts(ms: u64) -> Timestamp {
    Timestamp::from_millis(ms).unwrap()
}

fn id(n: u32) -> MessageId {
    let mut b = [0u8; 32];
    b[..4].copy_from_slice(&n.to_be_bytes());
    MessageId(b)
}

fn message(
    n: u32,
    at: u64,
    ours: bool,
    text: &str,
    delivery: Option<DeliveryState>,
) -> ConversationMessage {
    ConversationMessage {
        id: id(n),
        timestamp: ts(at),
        ours,
        text: text.to_owned(),
        delivery: if ours { delivery } else { None },
        read: true,
    }
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        app.key(key(KeyCode::Char(c)));
    }
}

fn contacts() -> Vec<ContactRow> {
    vec![
        ContactRow {
            id: ContactId(1),
            name: String::from("Sam"),
            verified: true,
            unread: 2,
            last: Some(ts(T0 + 86_400_000)),
        },
        ContactRow {
            id: ContactId(2),
            name: String::from("Robin"),
            verified: false,
            unread: 0,
            last: Some(ts(T0)),
        },
        ContactRow {
            id: ContactId(3),
            name: String::from("A rather long name for a contact"),
            verified: false,
            unread: 0,
            last: None,
        },
    ]
}

fn conversation() -> Vec<ConversationMessage> {
    vec![
        message(1, T0, false, "Are you at the square?", None),
        message(
            2,
            T0 + MINUTE,
            true,
            "Yes, by the fountain.",
            Some(DeliveryState::Delivered),
        ),
        message(
            3,
            T0 + 86_400_000,
            false,
            "The network is down across the whole district this morning; phones show no signal at all. Use the LAN if you can.",
            None,
        ),
        message(
            4,
            T0 + 86_400_000 + 2 * MINUTE,
            true,
            "On my way\nbringing water",
            Some(DeliveryState::Sent),
        ),
        message(
            5,
            T0 + 86_400_000 + 3 * MINUTE,
            true,
            "see you there",
            Some(DeliveryState::Queued),
        ),
    ]
}

/// An app with contacts, Tor starting and the LAN up with Sam connected over it.
fn app() -> App {
    let mut app = App::new(
        "Alex",
        &[TransportId::TOR, TransportId::LAN],
        ts(T0 + 86_400_000 + 5 * MINUTE),
    );
    app.update(Update::Contacts(contacts()));
    app.update(Update::Event(Event::TransportStatus {
        transport: TransportId::TOR,
        status: Status::Starting {
            percent: 45,
            detail: String::from("loading the directory"),
        },
    }));
    app.update(Update::Event(Event::TransportStatus {
        transport: TransportId::LAN,
        status: Status::Up,
    }));
    app.update(Update::Event(Event::Nearby {
        transport: TransportId::LAN,
        seen: 1,
        connected: 1,
    }));
    app.update(Update::Connected(vec![(ContactId(1), TransportId::LAN)]));
    app
}

fn open(app: &mut App) {
    assert_eq!(
        app.key(key(KeyCode::Enter)),
        vec![Request::Open(ContactId(1))]
    );
    app.update(Update::Latest(ContactId(1), conversation()));
}

fn render(app: &App, w: u16, h: u16) -> (String, Drawn) {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    let mut drawn = Drawn::default();
    t.draw(|f| drawn = view::draw(app, f)).unwrap();
    (t.backend().to_string(), drawn)
}

/// Snapshots `app` at 80×24 and 200×60.
fn snapshots(name: &str, app: &App) {
    for (w, h) in [(80, 24), (200, 60)] {
        let (screen, _) = render(app, w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), screen);
    }
}

#[test]
fn screen_no_contacts() {
    let app = App::new("Alex", &[TransportId::TOR], ts(T0));
    snapshots("no_contacts", &app);
}

#[test]
fn screen_contact_list() {
    snapshots("contact_list", &app());
}

#[test]
fn screen_conversation() {
    let mut app = app();
    open(&mut app);
    typed(&mut app, "almost there");
    snapshots("conversation", &app);
}

#[test]
fn screen_help() {
    let mut app = app();
    app.key(key(KeyCode::Char('?')));
    assert!(app.help);
    snapshots("help", &app);
    // Any key closes it, and does nothing else.
    assert!(app.key(key(KeyCode::Char('q'))).is_empty());
    assert!(!app.help);
}

#[test]
fn screen_errors_and_offline() {
    let mut app = App::new("Alex", &[], ts(T0));
    app.update(Update::Contacts(contacts()));
    open(&mut app);
    app.key(key(KeyCode::Enter));
    app.update(Update::Error(String::from("Tor: cannot reach the network")));
    snapshots("errors_offline", &app);
}

#[test]
fn screen_without_colour_keeps_every_word() {
    let mut app = app();
    open(&mut app);
    let (coloured, _) = render(&app, 80, 24);
    app.color = false;
    let (plain, _) = render(&app, 80, 24);
    // The text is the same; only styles differ (TestBackend's text shows no styles).
    assert_eq!(coloured, plain);
    let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
    t.draw(|f| {
        view::draw(&app, f);
    })
    .unwrap();
    let buffer = t.backend().buffer();
    for cell in buffer.content() {
        assert_eq!(
            cell.fg,
            ratatui::style::Color::Reset,
            "a colour under NO_COLOR"
        );
    }
}

#[test]
fn tiny_and_resized_terminals_do_not_panic() {
    let mut app = app();
    open(&mut app);
    app.key(key(KeyCode::Char('?')));
    for (w, h) in [(1, 1), (10, 3), (20, 5), (80, 24), (41, 13), (300, 100)] {
        render(&app, w, h);
    }
}

#[test]
fn sending_clears_the_line_and_a_refusal_puts_it_back() {
    let mut app = app();
    open(&mut app);
    typed(&mut app, "hello");
    assert_eq!(
        app.key(key(KeyCode::Enter)),
        vec![Request::Send(ContactId(1), String::from("hello"))]
    );
    assert!(app.compose.text.is_empty());
    typed(&mut app, " again");
    app.update(Update::SendFailed(
        String::from("hello"),
        String::from("the engine has stopped"),
    ));
    assert_eq!(app.compose.text, "hello again");
    assert_eq!(app.compose.error.as_deref(), Some("the engine has stopped"));
}

#[test]
fn bad_messages_get_an_inline_error_and_lose_nothing() {
    let mut app = app();
    open(&mut app);
    // Empty.
    assert!(app.key(key(KeyCode::Enter)).is_empty());
    assert_eq!(app.compose.error.as_deref(), Some("nothing to send"));
    // Oversized, pasted: kept whole, counted, refused.
    let big = "x".repeat(MAX_TEXT_LEN + 5);
    app.paste(&big);
    assert!(app.key(key(KeyCode::Enter)).is_empty());
    assert_eq!(app.compose.text, big);
    let error = app.compose.error.clone().unwrap();
    assert!(
        error.contains("too long") && error.contains("32005"),
        "{error}"
    );
    let (screen, _) = render(&app, 80, 24);
    assert!(screen.contains("32005 / 32000"), "{screen}");
    assert!(screen.contains("too long"), "{screen}");
    // Shortened below the limit: it goes.
    for _ in 0..5 {
        app.key(key(KeyCode::Backspace));
    }
    assert_eq!(
        app.key(key(KeyCode::Enter)),
        vec![Request::Send(ContactId(1), "x".repeat(MAX_TEXT_LEN))]
    );
}

#[test]
fn pastes_keep_lines_and_drop_control_characters() {
    let mut app = app();
    app.paste("ignored");
    assert!(
        app.compose.text.is_empty(),
        "no conversation open: nowhere to paste"
    );
    assert!(app.notice.is_some());
    open(&mut app);
    app.paste("one\r\ntwo\u{1b}[31m\rthree");
    assert_eq!(app.compose.text, "one\ntwo[31m\nthree");
    assert!(app.notice.as_ref().unwrap().0.contains("1 control"));
}

#[test]
fn editing_moves_on_characters_not_bytes() {
    let mut app = app();
    open(&mut app);
    typed(&mut app, "zoë ça");
    app.key(key(KeyCode::Left));
    app.key(key(KeyCode::Left));
    app.key(key(KeyCode::Backspace));
    assert_eq!(app.compose.text, "zoëça");
    app.key(key(KeyCode::Home));
    app.key(key(KeyCode::Delete));
    assert_eq!(app.compose.text, "oëça");
    app.key(KeyEvent::new(KeyCode::Enter, KeyModifiers::ALT));
    assert_eq!(app.compose.text, "\noëça");
    app.key(key(KeyCode::End));
    typed(&mut app, "!");
    assert_eq!(app.compose.text, "\noëça!");
    app.key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
    assert_eq!(app.compose.text, "\n");
}

#[test]
fn delivery_states_only_move_forward() {
    let mut app = app();
    open(&mut app);
    let state = |app: &App| app.conversation.as_ref().unwrap().messages[4].delivery;
    let change = |state| {
        Update::Event(Event::DeliveryChanged {
            contact: ContactId(1),
            id: id(5),
            state,
        })
    };
    app.update(change(DeliveryState::Delivered));
    assert_eq!(state(&app), Some(DeliveryState::Delivered));
    app.update(change(DeliveryState::Sent));
    assert_eq!(state(&app), Some(DeliveryState::Delivered));
    let (screen, _) = render(&app, 80, 24);
    assert_eq!(screen.matches("[delivered]").count(), 2, "{screen}");
}

#[test]
fn a_new_message_reloads_the_open_conversation_and_the_list() {
    let mut app = app();
    app.bell = true;
    open(&mut app);
    let received = Update::Event(Event::MessageReceived {
        contact: ContactId(1),
        id: id(6),
    });
    assert_eq!(
        app.update(received),
        vec![Request::Contacts, Request::Open(ContactId(1))]
    );
    assert!(app.ring);
    let mut latest = conversation();
    latest.push(message(
        6,
        T0 + 86_400_000 + 4 * MINUTE,
        false,
        "here",
        None,
    ));
    app.update(Update::Latest(ContactId(1), latest));
    let c = app.conversation.as_ref().unwrap();
    assert_eq!(c.messages.len(), 6);
    assert_eq!(c.messages[5].text, "here");
    // A message for someone else only refreshes the list.
    let other = Update::Event(Event::MessageReceived {
        contact: ContactId(2),
        id: id(7),
    });
    assert_eq!(app.update(other), vec![Request::Contacts]);
}

#[test]
fn scrolling_up_loads_older_pages_once_and_stops_at_the_start() {
    let mut app = app();
    app.key(key(KeyCode::Enter));
    let page = |from: u32| -> Vec<ConversationMessage> {
        (from..from + u32::try_from(PAGE).unwrap())
            .map(|n| {
                message(
                    n,
                    T0 + u64::from(n) * MINUTE,
                    n % 2 == 0,
                    &format!("message {n}"),
                    Some(DeliveryState::Delivered),
                )
            })
            .collect()
    };
    app.update(Update::Latest(ContactId(1), page(1000)));
    let (_, drawn) = render(&app, 80, 24);
    assert!(!drawn.top_reached);
    assert_eq!(drawn.scroll, Some(Scroll::Newest));
    app.scroll_up(10_000);
    let (screen, drawn) = render(&app, 80, 24);
    assert!(drawn.top_reached);
    // 200 one-row messages (no day separator above them: older ones may share the
    // day), 18 rows on screen: no further up than message 1017 at the bottom.
    assert_eq!(
        drawn.scroll,
        Some(Scroll::At {
            key: (ts(T0 + 1017 * MINUTE), id(1017)),
            below: 0
        })
    );
    assert!(screen.contains("message 1000"), "{screen}");
    assert!(screen.contains("182 newer messages"), "{screen}");
    assert_eq!(
        app.settle(&drawn),
        vec![Request::Older(
            ContactId(1),
            ts(T0 + 1000 * MINUTE),
            id(1000)
        )]
    );
    // Asked once until the answer comes.
    assert!(app.reached_top().is_empty());
    app.update(Update::Older(ContactId(1), page(800)));
    // What was on screen stays on screen.
    assert_eq!(render(&app, 80, 24).0, screen);
    assert_eq!(app.conversation.as_ref().unwrap().messages.len(), 2 * PAGE);
    assert_eq!(app.reached_top().len(), 1);
    // A short page is the start: no more requests.
    app.update(Update::Older(
        ContactId(1),
        vec![message(1, T0, false, "first", None)],
    ));
    assert!(app.conversation.as_ref().unwrap().complete);
    assert!(app.reached_top().is_empty());
    assert_eq!(app.conversation.as_ref().unwrap().messages[0].text, "first");
}

#[test]
fn the_list_keeps_the_selection_and_closes_a_removed_contact() {
    let mut app = app();
    app.key(key(KeyCode::Char('j')));
    app.key(key(KeyCode::Enter));
    assert_eq!(app.conversation.as_ref().unwrap().contact, ContactId(2));
    let mut rows = contacts();
    rows.reverse();
    app.update(Update::Contacts(rows));
    assert_eq!(app.selected_contact().unwrap().id, ContactId(2));
    app.update(Update::Contacts(
        contacts()
            .into_iter()
            .filter(|c| c.id != ContactId(2))
            .collect(),
    ));
    assert!(app.conversation.is_none());
    assert_eq!(app.focus, Focus::Contacts);
    // Keys past either end stay in the list.
    for _ in 0..5 {
        app.key(key(KeyCode::Down));
    }
    assert_eq!(app.selected, 1);
    app.key(key(KeyCode::Char('g')));
    assert_eq!(app.selected, 0);
    app.key(key(KeyCode::Up));
    assert_eq!(app.selected, 0);
}

#[test]
fn notices_expire() {
    let mut app = app();
    app.update(Update::Error(String::from("lan: no network")));
    assert!(app.notice.is_some());
    app.update(Update::Tick(ts(T0 + 86_400_000 + 5 * MINUTE + 5_000)));
    assert!(app.notice.is_some());
    app.update(Update::Tick(ts(T0 + 86_400_000 + 5 * MINUTE + 6_000)));
    assert!(app.notice.is_none());
}

#[test]
fn quitting() {
    let mut app = app();
    assert_eq!(app.key(key(KeyCode::Char('q'))), vec![Request::Quit]);
    open(&mut app);
    // While typing, q is a letter.
    assert!(app.key(key(KeyCode::Char('q'))).is_empty());
    assert_eq!(
        app.key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
        vec![Request::Quit]
    );
}

#[test]
fn wrapping() {
    assert_eq!(wrap("a bc def", 4, 4), ["a bc", "def"]);
    assert_eq!(wrap("abcdefgh", 3, 3), ["abc", "def", "gh"]);
    assert_eq!(wrap("one\n\ntwo", 10, 10), ["one", "", "two"]);
    assert_eq!(wrap("", 5, 5), [""]);
    assert_eq!(wrap("日本語のテキスト", 6, 6), ["日本語", "のテキ", "スト"]);
    assert_eq!(wrap_chars("abcdef", 4), ["abcd", "ef"]);
    assert_eq!(wrap_chars("ab\n", 4), ["ab", ""]);
}

/// Messages of one to several rows at 80 columns, over two days.
fn long_conversation(n: u32) -> Vec<ConversationMessage> {
    (0..n)
        .map(|k| {
            let text = format!("message {k} ").repeat(1 + (k as usize * 7) % 19);
            let day = if k < n / 2 { 0 } else { 24 * 60 };
            message(
                k,
                T0 + (day + u64::from(k)) * MINUTE,
                k % 3 == 0,
                &text,
                None,
            )
        })
        .collect()
}

fn long_app(n: u32) -> App {
    let mut app = app();
    app.key(key(KeyCode::Enter));
    app.update(Update::Latest(ContactId(1), long_conversation(n)));
    app
}

/// The conversation's rows at 80x24, without the contact list beside them.
fn chat_rows(screen: &str) -> Vec<String> {
    screen
        .lines()
        .skip(1)
        .take(18)
        .map(|l| l.chars().skip(25).take(54).collect())
        .collect()
}

fn scroll_by(app: &mut App, rows: isize) -> (String, Drawn) {
    if rows >= 0 {
        app.scroll_up(rows.unsigned_abs());
    } else {
        app.scroll_down(rows.unsigned_abs());
    }
    let (screen, drawn) = render(app, 80, 24);
    app.settle(&drawn);
    (screen, drawn)
}

#[test]
fn scrolling_in_steps_or_at_once_lands_on_the_same_rows_and_comes_back() {
    let mut stepwise = long_app(60);
    let mut at_once = long_app(60);
    for app in [&mut stepwise, &mut at_once] {
        if let Some(c) = app.conversation.as_mut() {
            c.complete = true;
        }
    }
    let newest = render(&stepwise, 80, 24).0;
    let mut previous = newest.clone();
    let mut moved = 0;
    loop {
        let (screen, drawn) = scroll_by(&mut stepwise, 1);
        if screen == previous {
            // The top: one more row up changes nothing.
            assert!(drawn.top_reached);
            break;
        }
        moved += 1;
        // One row up: every row moved down by one.
        let (now, before) = (chat_rows(&screen), chat_rows(&previous));
        assert_eq!(now[1..], before[..17], "one row up from {moved}");
        let (jumped, _) = scroll_by(&mut at_once, moved);
        assert_eq!(chat_rows(&jumped), now, "{moved} rows at once");
        scroll_by(&mut at_once, -moved);
        previous = screen;
    }
    assert!(moved > 100, "scrolled {moved} rows");
    assert!(previous.contains("message 0 "), "{previous}");
    // All the way down again, in one go: back to following the newest.
    let (screen, drawn) = scroll_by(&mut stepwise, -10 * moved);
    assert_eq!(drawn.scroll, Some(Scroll::Newest));
    assert_eq!(screen, newest);
}

#[test]
fn a_new_message_does_not_move_what_is_being_read() {
    let mut app = long_app(40);
    let (before, _) = scroll_by(&mut app, 7);
    assert!(before.contains("newer message"), "{before}");
    let mut messages = long_conversation(40);
    messages.push(message(
        99,
        T0 + 2 * 24 * 60 * MINUTE,
        false,
        "just now",
        None,
    ));
    app.update(Update::Latest(ContactId(1), messages));
    let (after, _) = render(&app, 80, 24);
    assert_eq!(chat_rows(&after), chat_rows(&before));
    assert!(!after.contains("just now"));
    // Following the newest, it shows.
    let (bottom, drawn) = scroll_by(&mut app, -1000);
    assert_eq!(drawn.scroll, Some(Scroll::Newest));
    assert!(bottom.contains("just now"), "{bottom}");
}

const OUR_LINK: &str = "thicket://agckcmwl6dsediclld4nm4kcob27mhg5hmtl2vysc3jicj2a4f4akj2p";
const THEIR_LINK: &str = "thicket://agyvvwfk32sktynavpcyytunwoylltx57nhylczkf5smh3xqwgytycnr";

fn pending(app: &App, n: i64, alias: &str, state: PendingState, left_ms: u64) -> PendingInfo {
    let now = app.now.as_millis();
    PendingInfo {
        id: PendingContactId(n),
        alias: alias.to_owned(),
        link: Link::parse(THEIR_LINK).unwrap(),
        added_at: ts(now),
        expires_at: ts(now + left_ms),
        state,
    }
}

fn adding() -> App {
    let mut app = app();
    let asked = app.key(key(KeyCode::Char('a')));
    assert_eq!(asked, vec![Request::Pending, Request::OwnLink]);
    app.update(Update::OwnLink(OUR_LINK.to_owned()));
    app
}

fn press(app: &mut App, code: KeyCode) -> Vec<Request> {
    app.key(key(code))
}

#[test]
fn add_contact_screen() {
    let mut app = adding();
    let day = 24 * 60 * MINUTE;
    let list = vec![
        pending(
            &app,
            1,
            "Robin",
            PendingState::Waiting,
            6 * day + 180 * MINUTE,
        ),
        pending(&app, 2, "Kim", PendingState::AwaitingInfo, 307 * MINUTE),
        pending(
            &app,
            3,
            "Ash",
            PendingState::Completed(ContactId(9)),
            4 * MINUTE,
        ),
        pending(
            &app,
            4,
            "Sam",
            PendingState::Failed("the contact info is not signed by the identity it names".into()),
            13 * day,
        ),
    ];
    app.update(Update::Pending(list));
    typed(&mut app, "thicket://not-a-link");
    press(&mut app, KeyCode::Enter);
    snapshots("add_contact", &app);
}

#[test]
fn add_contact_screen_empty_with_help() {
    let mut app = adding();
    snapshots("add_contact_empty", &app);
    press(&mut app, KeyCode::F(1));
    snapshots("add_contact_help", &app);
}

#[test]
fn bad_input_on_the_add_screen_is_said_where_it_is_and_nothing_typed_is_lost() {
    let mut app = adding();
    // Nothing pasted.
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    assert!(
        app.add
            .link
            .error
            .as_deref()
            .unwrap()
            .contains("paste their link")
    );
    // Not a link: the parser's reason, the text kept, the cursor stays.
    typed(
        &mut app,
        "thicket://agyvvwfk32sktynavpcyytunwoylltx57nhylczkf5smh3xqwgytycnX",
    );
    assert!(app.add.link.error.is_none(), "typing clears the error");
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    assert!(app.add.link.error.is_some());
    assert!(!app.add.on_name);
    assert!(app.add.link.text.ends_with("cnX"));
    // Fixed by hand: Enter goes on to the name.
    press(&mut app, KeyCode::Backspace);
    typed(&mut app, "r");
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    assert!(app.add.on_name);
    // No name (blanks are none).
    typed(&mut app, "   ");
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    assert!(app.add.name.error.as_deref().unwrap().contains("name"));
    assert_eq!(app.add.name.text, "   ");
    press(&mut app, KeyCode::Home);
    typed(&mut app, "Bob");
    assert_eq!(
        press(&mut app, KeyCode::Enter),
        vec![Request::AddLink(THEIR_LINK.to_owned(), "Bob".to_owned())]
    );
    // Asked once until answered.
    assert!(press(&mut app, KeyCode::Enter).is_empty());
    // The engine refuses it: its reason on the field it is about, both texts kept.
    app.update(Update::AddFailed(
        AddField::Link,
        "this link was already added, as Bobby".to_owned(),
    ));
    assert!(!app.add.on_name);
    assert_eq!(app.add.link.text, THEIR_LINK);
    assert_eq!(app.add.name.text, "Bob   ");
    let (screen, _) = render(&app, 80, 24);
    assert!(screen.contains("already added, as Bobby"), "{screen}");
    // Esc closes, and coming back finds the fields as they were.
    press(&mut app, KeyCode::Esc);
    assert!(!app.adding);
    assert!(press(&mut app, KeyCode::Char('a')).contains(&Request::Pending));
    assert_eq!(app.add.link.text, THEIR_LINK);
    // Accepted: the fields empty, the list asked for again.
    press(&mut app, KeyCode::Tab);
    assert_eq!(press(&mut app, KeyCode::Enter).len(), 1);
    assert_eq!(
        app.update(Update::Added("Bob".to_owned())),
        vec![Request::Pending]
    );
    assert!(app.add.link.text.is_empty() && app.add.name.text.is_empty());
    assert!(app.notice.as_ref().unwrap().0.contains("Bob added"));
}

#[test]
fn a_pasted_link_is_one_line_whatever_came_with_it() {
    let mut app = adding();
    app.paste(&format!(
        "  {}\r\n{}\n",
        &THEIR_LINK[..30],
        &THEIR_LINK[30..]
    ));
    assert_eq!(app.add.link.text, THEIR_LINK);
    assert_eq!(press(&mut app, KeyCode::Enter), Vec::new());
    assert!(app.add.on_name, "{:?}", app.add.link.error);
    app.paste("Sam\n");
    assert_eq!(app.add.name.text, "Sam");
    // Nothing went to the compose line.
    assert!(app.compose.text.is_empty());
}

#[test]
fn pending_contacts_are_asked_for_again_when_they_change() {
    let mut app = adding();
    let asked = app.update(Update::Event(Event::PendingChanged {
        pending: PendingContactId(1),
        state: PendingState::AwaitingInfo,
    }));
    assert_eq!(asked, vec![Request::Pending]);
}

#[test]
fn time_left_reads_at_a_glance() {
    let now = ts(T0);
    let at = |ms: u64| view::time_left(now, ts(T0 + ms));
    assert_eq!(at(0), "expired");
    assert_eq!(at(1), "1m left");
    assert_eq!(at(59 * MINUTE), "59m left");
    assert_eq!(at(61 * MINUTE), "1h 1m left");
    assert_eq!(at(24 * 60 * MINUTE), "1d 0h left");
    assert_eq!(at(7 * 24 * 60 * MINUTE - 1), "6d 23h left");
    assert_eq!(view::time_left(ts(T0 + MINUTE), ts(T0)), "expired");
}

const NUMBER: &str = "12345 67890 13579 24680 11111 22222 33333 44444 55555 66666 77777 88888";

#[test]
fn verify_screen() {
    let mut app = app();
    // Robin, the second contact, is not verified.
    press(&mut app, KeyCode::Down);
    assert_eq!(
        press(&mut app, KeyCode::Char('v')),
        vec![Request::SafetyNumber(ContactId(2))]
    );
    snapshots("verify_waiting", &app);
    app.update(Update::SafetyNumber(ContactId(2), NUMBER.to_owned()));
    snapshots("verify", &app);
    app.update(Update::Verified(ContactId(2), true));
    snapshots("verify_done", &app);
}

#[test]
fn a_contact_is_marked_verified_only_once_the_number_is_shown() {
    let mut app = app();
    press(&mut app, KeyCode::Down);
    press(&mut app, KeyCode::Char('v'));
    // The number has not come: nothing to have compared.
    assert!(press(&mut app, KeyCode::Char('m')).is_empty());
    // A number for another contact is not this one's.
    app.update(Update::SafetyNumber(ContactId(1), NUMBER.to_owned()));
    assert!(press(&mut app, KeyCode::Char('m')).is_empty());
    app.update(Update::SafetyNumber(ContactId(2), NUMBER.to_owned()));
    assert_eq!(
        press(&mut app, KeyCode::Char('m')),
        vec![Request::SetVerified(ContactId(2), true)]
    );
    assert_eq!(
        app.update(Update::Verified(ContactId(2), true)),
        vec![Request::Contacts]
    );
    assert!(app.contacts[1].verified);
    assert!(app.notice.as_ref().unwrap().0.contains("Robin is verified"));
    // Marked everywhere: the list shows it once the screen closes.
    press(&mut app, KeyCode::Esc);
    assert!(app.verifying.is_none());
    let (screen, _) = render(&app, 80, 24);
    assert!(screen.contains("✓ Robin"), "{screen}");
    // And it can be taken back.
    press(&mut app, KeyCode::Char('v'));
    app.update(Update::SafetyNumber(ContactId(2), NUMBER.to_owned()));
    assert_eq!(
        press(&mut app, KeyCode::Char('u')),
        vec![Request::SetVerified(ContactId(2), false)]
    );
}

/// Reads a QR code drawn as half blocks (light modules as ink) with a real decoder.
fn decode_qr(rows: &[String]) -> String {
    let grid: Vec<Vec<char>> = rows.iter().map(|r| r.chars().collect()).collect();
    let (w, h) = (grid[0].len(), grid.len() * 2);
    const SCALE: usize = 4;
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w * SCALE, h * SCALE, |x, y| {
        let (mx, my) = (x / SCALE, y / SCALE);
        let c = grid[my / 2][mx];
        let ink = match (c, my % 2 == 0) {
            ('█', _) | ('▀', true) | ('▄', false) => true,
            (' ' | '▀' | '▄', _) => false,
            (other, _) => panic!("not a half block: {other:?}"),
        };
        if ink { 255 } else { 0 }
    });
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "one code");
    grids[0].decode().unwrap().1
}

#[test]
fn our_link_as_a_qr_code_reads_back_as_our_link() {
    let rows = super::qr::rows(OUR_LINK).unwrap();
    let read = decode_qr(&rows);
    assert_eq!(
        Link::parse(&read).unwrap(),
        Link::parse(OUR_LINK).unwrap(),
        "{read}"
    );
    let mut app = adding();
    assert!(press(&mut app, KeyCode::F(2)).is_empty());
    assert!(app.qr);
    // The code on screen is those rows, whole, at the smallest size too.
    for (w, h) in [(80, 24), (200, 60)] {
        let (screen, _) = render(&app, w, h);
        for row in &rows {
            assert!(screen.contains(row.as_str()), "{w}x{h}:\n{screen}");
        }
    }
    snapshots("qr_code", &app);
    // Any key goes back, and types nothing.
    assert!(press(&mut app, KeyCode::Char('x')).is_empty());
    assert!(!app.qr && app.adding);
    assert_eq!(app.add.link.text, "");
    app.key(KeyEvent::new(KeyCode::Char('o'), KeyModifiers::CONTROL));
    assert!(app.qr, "Ctrl+O shows it too");
}

#[test]
fn a_qr_code_that_does_not_fit_says_so() {
    let mut app = adding();
    press(&mut app, KeyCode::F(2));
    let (screen, _) = render(&app, 60, 20);
    assert!(screen.contains("The code needs"), "{screen}");
    assert!(!screen.contains('▀'), "no cut code: {screen}");
}

#[test]
fn a_folder_is_synced_when_it_appears_and_when_asked() {
    use super::app::{Folder, FolderState};
    use std::path::PathBuf;
    let stick = PathBuf::from("/media/alex/USB STICK/thicket");
    let sync = vec![Request::SyncFolder(stick.clone())];
    // No folder given: `f` says how to give one, and asks nothing.
    let mut none = app();
    assert!(none.key(key(KeyCode::Char('f'))).is_empty());
    assert!(none.notice.as_ref().unwrap().0.contains("--files"));
    assert!(none.update(Update::FolderPresent(true)).is_empty());

    let mut app = app();
    app.folder = Some(Folder {
        path: stick.clone(),
        state: FolderState::Unknown,
    });
    // Not there at the start: nothing to do but say so.
    assert!(app.update(Update::FolderPresent(false)).is_empty());
    assert_eq!(app.folder.as_ref().unwrap().state, FolderState::Absent);
    // Plugged in: synced at once, and only once while the sync runs.
    assert_eq!(app.update(Update::FolderPresent(true)), sync);
    assert!(app.key(key(KeyCode::Char('f'))).is_empty());
    assert!(app.key(key(KeyCode::F(5))).is_empty());
    assert_eq!(
        app.update(Update::FolderSynced(String::from(
            "2 messages read, 1 file written"
        ))),
        vec![Request::Contacts, Request::Pending]
    );
    assert_eq!(
        app.folder.as_ref().unwrap().state,
        FolderState::Synced(app.now)
    );
    assert!(app.notice.as_ref().unwrap().0.contains("2 messages read"));
    snapshots("folder_synced", &app);
    // Once the notice has gone, 80 columns still show the folder's state, in short.
    let later = ts(app.now.as_millis() + super::app::NOTICE_MS);
    app.update(Update::Tick(later));
    let (screen, _) = render(&app, 80, 24);
    let status = screen.lines().last().unwrap().to_owned();
    assert!(status.contains("· files: synced 09:35"), "{status}");
    let (screen, _) = render(&app, 200, 60);
    let status = screen.lines().last().unwrap().to_owned();
    assert!(
        status.contains("· files …/alex/USB STICK/thicket: synced 09:35"),
        "{status}"
    );
    // Still there: no sync by itself; on `f` (or F5, also while typing), again.
    assert!(app.update(Update::FolderPresent(true)).is_empty());
    assert_eq!(app.key(key(KeyCode::Char('f'))), sync);
    app.update(Update::FolderFailed(String::from(
        "the folder cannot be written (is the drive read-only?)",
    )));
    assert!(matches!(
        app.folder.as_ref().unwrap().state,
        FolderState::Failed(_)
    ));
    assert!(app.notice.as_ref().unwrap().0.contains("read-only"));
    open(&mut app);
    assert_eq!(app.focus, Focus::Compose);
    assert_eq!(app.key(key(KeyCode::F(5))), sync);
    // Pulled out, then plugged in again: synced again.
    app.update(Update::FolderFailed(String::from("gone")));
    assert!(app.update(Update::FolderPresent(false)).is_empty());
    assert_eq!(app.update(Update::FolderPresent(true)), sync);
}

fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

#[test]
fn a_contact_is_removed_only_after_a_yes_and_its_conversation_closes() {
    let mut app = app();
    open(&mut app);
    typed(&mut app, "half a thought");
    press(&mut app, KeyCode::Esc);
    // Anything but `y` keeps it, and the key does nothing else.
    assert!(press(&mut app, KeyCode::Char('x')).is_empty());
    snapshots("remove_contact", &app);
    assert!(press(&mut app, KeyCode::Char('q')).is_empty(), "not a quit");
    assert!(app.removing.is_none());
    assert_eq!(app.compose.text, "half a thought");
    assert!(press(&mut app, KeyCode::Delete).is_empty());
    let removal = vec![Request::Remove(
        bramble_engine::Target::Contact(ContactId(1)),
        String::from("Sam"),
    )];
    assert_eq!(press(&mut app, KeyCode::Char('y')), removal);
    let asked = app.update(Update::Removed(
        bramble_engine::Target::Contact(ContactId(1)),
        String::from("Sam"),
    ));
    assert_eq!(asked, vec![Request::Contacts, Request::Pending]);
    assert!(app.conversation.is_none() && app.compose.text.is_empty());
    assert_eq!(app.focus, Focus::Contacts);
    let (screen, _) = render(&app, 80, 24);
    assert!(screen.contains("Sam removed"), "{screen}");
    // With no contacts there is nothing to remove.
    app.update(Update::Contacts(Vec::new()));
    assert!(press(&mut app, KeyCode::Char('x')).is_empty());
    assert!(app.removing.is_none());
}

#[test]
fn a_waiting_link_is_chosen_and_removed_from_the_add_screen() {
    let mut app = adding();
    // Nothing to choose yet.
    assert!(app.key(ctrl('d')).is_empty());
    assert!(app.removing.is_none());
    let list = vec![
        pending(&app, 1, "Robin", PendingState::Waiting, 60 * MINUTE),
        pending(
            &app,
            2,
            "Kim",
            PendingState::Failed("the contact info names our own identity".into()),
            90 * MINUTE,
        ),
    ];
    app.update(Update::Pending(list.clone()));
    typed(&mut app, "thicket://");
    // Ctrl+D before choosing says how to choose.
    assert!(app.key(ctrl('d')).is_empty());
    assert!(app.removing.is_none());
    app.key(ctrl('n'));
    app.key(ctrl('n'));
    app.key(ctrl('n'));
    assert_eq!(
        app.add.selected,
        Some(PendingContactId(2)),
        "stops at the last"
    );
    app.key(ctrl('p'));
    assert_eq!(app.add.selected, Some(PendingContactId(1)));
    app.key(ctrl('n'));
    snapshots("add_contact_chosen", &app);
    assert!(app.key(ctrl('d')).is_empty());
    snapshots("remove_pending", &app);
    let removal = vec![Request::Remove(
        bramble_engine::Target::Pending(PendingContactId(2)),
        String::from("Kim"),
    )];
    assert_eq!(press(&mut app, KeyCode::Char('y')), removal);
    assert_eq!(app.add.link.text, "thicket://", "nothing typed is lost");
    app.update(Update::Removed(
        bramble_engine::Target::Pending(PendingContactId(2)),
        String::from("Kim"),
    ));
    // The list changes under the choice: it stays on the same link, and goes with it,
    // never moving to another one.
    let mut changed = list.clone();
    changed.insert(
        0,
        pending(&app, 3, "Ash", PendingState::Waiting, 30 * MINUTE),
    );
    app.update(Update::Pending(changed.clone()));
    assert_eq!(app.add.selected, Some(PendingContactId(2)));
    changed.retain(|p| p.id != PendingContactId(2));
    app.update(Update::Pending(changed));
    assert_eq!(app.add.selected, None);
    assert!(app.key(ctrl('d')).is_empty() && app.removing.is_none());
}

#[test]
fn overlapping_pages_merge_in_order_without_repeats() {
    let mut app = app();
    app.key(key(KeyCode::Enter));
    let page = |from: u32, to: u32, delivery: DeliveryState| -> Vec<ConversationMessage> {
        (from..to)
            .map(|n| {
                message(
                    n,
                    T0 + u64::from(n) * MINUTE,
                    true,
                    &format!("message {n}"),
                    Some(delivery),
                )
            })
            .collect()
    };
    app.update(Update::Latest(
        ContactId(1),
        page(1000, 1200, DeliveryState::Sent),
    ));
    // An older page that reaches into the window (messages written in the same
    // millisecond, or a page boundary that moved).
    app.update(Update::Older(
        ContactId(1),
        page(900, 1100, DeliveryState::Delivered),
    ));
    let ids = |app: &App| -> Vec<MessageId> {
        app.conversation
            .as_ref()
            .unwrap()
            .messages
            .iter()
            .map(|m| m.id)
            .collect()
    };
    assert_eq!(ids(&app), (900..1200).map(id).collect::<Vec<_>>());
    // The latest page again: the newest 200 delivered now, one new, and a contact's
    // message stamped between two of ours that arrived late.
    let mut latest = page(1001, 1200, DeliveryState::Delivered);
    latest.push(message(
        1200,
        T0 + 1200 * MINUTE,
        true,
        "new",
        Some(DeliveryState::Queued),
    ));
    latest.insert(
        50,
        message(5000, T0 + 1050 * MINUTE + 1, false, "late", None),
    );
    app.update(Update::Latest(ContactId(1), latest));
    let mut want: Vec<MessageId> = (900..=1200).map(id).collect();
    want.insert(151, id(5000));
    assert_eq!(ids(&app), want);
    let c = app.conversation.as_ref().unwrap();
    assert_eq!(c.messages[151].text, "late");
    assert!(
        c.messages[101..300]
            .iter()
            .filter(|m| m.ours)
            .all(|m| m.delivery == Some(DeliveryState::Delivered)),
        "the page's states replaced the window's"
    );
}
