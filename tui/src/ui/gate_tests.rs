//! The first screen: snapshots at 80×24 and 200×60, and what keys and answers do.

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::gate::{Gate, GateAnswer, GateField, GateKind, GateRequest, MAX_PASSWORD};
use super::view;

const PLACE: &str = "/home/alex/.local/share/thicket";
const STRONG: &str = "tangerine kite under seven bridges";

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn ctrl(c: char) -> KeyEvent {
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)
}

fn typed(gate: &mut Gate, text: &str) {
    for c in text.chars() {
        assert!(gate.key(key(KeyCode::Char(c))).is_none());
    }
}

fn enter(gate: &mut Gate) -> Option<GateRequest> {
    gate.key(key(KeyCode::Enter))
}

fn render(gate: &Gate, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view::draw_gate(gate, f)).unwrap();
    t.backend().to_string()
}

fn snapshots(name: &str, gate: &Gate) {
    for (w, h) in [(80, 24), (200, 60)] {
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), render(gate, w, h));
    }
}

fn creating() -> Gate {
    Gate::new(GateKind::Create, PLACE)
}

/// A gate with the nickname typed and the cursor on the password.
fn named(name: &str) -> Gate {
    let mut gate = creating();
    typed(&mut gate, name);
    assert!(enter(&mut gate).is_none());
    assert_eq!(gate.field, GateField::Password);
    gate
}

#[test]
fn screen_create_account() {
    snapshots("gate_create", &creating());
}

#[test]
fn screen_create_account_with_a_weak_password() {
    let mut gate = named("Alex");
    typed(&mut gate, "alex2024");
    assert!(
        enter(&mut gate).is_none(),
        "a weak password goes no further"
    );
    assert_eq!(gate.field, GateField::Password);
    let screen = render(&gate, 80, 24);
    assert!(screen.contains("too easy to guess"), "{screen}");
    assert!(!screen.contains("alex2024"), "the password is never shown");
    snapshots("gate_create_weak", &gate);
}

#[test]
fn screen_create_account_mistyped_again() {
    let mut gate = named("Alex");
    typed(&mut gate, STRONG);
    assert!(enter(&mut gate).is_none());
    assert_eq!(gate.field, GateField::Again);
    typed(&mut gate, "tangerine kite under six bridges");
    assert!(enter(&mut gate).is_none());
    let screen = render(&gate, 80, 24);
    assert!(screen.contains("the two passwords differ"), "{screen}");
    assert!(!screen.contains("tangerine"), "{screen}");
    snapshots("gate_create_mistyped", &gate);
}

#[test]
fn screen_unlock_and_a_wrong_password() {
    let mut gate = Gate::new(GateKind::Unlock, PLACE);
    snapshots("gate_unlock", &gate);
    typed(&mut gate, "not it");
    let Some(GateRequest::Unlock(password)) = enter(&mut gate) else {
        panic!("Enter unlocks");
    };
    assert_eq!(*password, "not it");
    assert!(gate.busy);
    assert!(render(&gate, 80, 24).contains("Unlocking…"));
    gate.answer(GateAnswer::WrongPassword);
    assert!(!gate.busy);
    assert_eq!(gate.password.text(), "", "a wrong password is wiped");
    snapshots("gate_unlock_wrong", &gate);
    typed(&mut gate, "still not it");
    assert!(enter(&mut gate).is_some());
    gate.answer(GateAnswer::WrongPassword);
    let screen = render(&gate, 80, 24);
    assert!(
        screen.contains("Wrong password (2 wrong tries)"),
        "{screen}"
    );
    assert!(
        screen.contains("Nothing was changed or deleted"),
        "{screen}"
    );
}

#[test]
fn without_colour_every_word_is_still_there() {
    let mut gate = named("Alex");
    typed(&mut gate, "alex2024");
    enter(&mut gate);
    gate.color = false;
    let mut t = Terminal::new(TestBackend::new(80, 24)).unwrap();
    t.draw(|f| view::draw_gate(&gate, f)).unwrap();
    let buffer = t.backend().buffer();
    assert!(
        buffer
            .content()
            .iter()
            .all(|c| c.fg == ratatui::style::Color::Reset && c.bg == ratatui::style::Color::Reset)
    );
    assert_eq!(render(&gate, 80, 24), {
        gate.color = true;
        render(&gate, 80, 24)
    });
}

#[test]
fn enter_walks_the_form_and_creates_only_when_everything_reads() {
    let mut gate = creating();
    // An empty nickname.
    assert!(enter(&mut gate).is_none());
    assert_eq!(gate.field, GateField::Name);
    assert!(
        gate.name
            .error
            .as_deref()
            .unwrap()
            .contains("choose a nickname")
    );
    // A nickname with a control character cannot be typed, but it can be pasted: the
    // paste keeps the rest.
    gate.paste("Al\u{7}ex\n");
    assert_eq!(gate.name.text, "Alex");
    assert!(enter(&mut gate).is_none());
    assert_eq!(gate.field, GateField::Password);
    // An empty password.
    assert!(enter(&mut gate).is_none());
    assert!(gate.password.error().unwrap().contains("choose a password"));
    typed(&mut gate, STRONG);
    assert!(gate.strength.as_ref().unwrap().enough());
    assert!(gate.password.error().is_none(), "typing clears the error");
    assert!(enter(&mut gate).is_none());
    assert_eq!(gate.field, GateField::Again);
    // Going back to the nickname and emptying it: Enter at the end sends the cursor
    // there, and creates nothing.
    assert!(gate.key(key(KeyCode::BackTab)).is_none());
    assert!(gate.key(key(KeyCode::BackTab)).is_none());
    assert_eq!(gate.field, GateField::Name);
    assert!(gate.key(ctrl('u')).is_none());
    assert!(gate.key(key(KeyCode::Up)).is_none());
    assert_eq!(gate.field, GateField::Again);
    typed(&mut gate, STRONG);
    assert!(enter(&mut gate).is_none());
    assert_eq!(gate.field, GateField::Name);
    assert_eq!(gate.again.text(), STRONG, "nothing typed is lost");
    typed(&mut gate, "  Alex ");
    gate.field = GateField::Again;
    match enter(&mut gate) {
        Some(GateRequest::Create { name, password }) => {
            assert_eq!(name, "Alex");
            assert_eq!(*password, STRONG);
        }
        other => panic!("{other:?}"),
    }
    assert!(gate.busy);
    assert!(render(&gate, 80, 24).contains("Creating your account…"));
    // While busy, typing does nothing, and Ctrl+C waits for the account to be done.
    assert!(gate.key(key(KeyCode::Char('x'))).is_none());
    assert_eq!(gate.again.text(), STRONG);
    assert!(gate.key(ctrl('c')).is_none());
    assert!(gate.quitting);
    assert!(render(&gate, 80, 24).contains("Stopping…"));
}

#[test]
fn a_failure_keeps_the_form_and_a_created_account_is_unlocked_next() {
    let mut gate = named("Alex");
    typed(&mut gate, STRONG);
    enter(&mut gate);
    typed(&mut gate, STRONG);
    assert!(enter(&mut gate).is_some());
    gate.answer(GateAnswer::Failed(String::from("the disk is full")));
    assert!(!gate.busy);
    assert_eq!(gate.name.text, "Alex");
    assert_eq!(gate.password.text(), STRONG);
    assert_eq!(gate.again.text(), STRONG);
    assert!(render(&gate, 80, 24).contains("the disk is full"));
    assert!(enter(&mut gate).is_some(), "Enter tries again");
    gate.answer(GateAnswer::Created(String::from("the disk is full")));
    assert_eq!(gate.kind, GateKind::Unlock);
    assert_eq!(gate.field, GateField::Password);
    assert_eq!(gate.password.text(), "");
    let screen = render(&gate, 80, 24);
    assert!(screen.contains("unlock your account"), "{screen}");
    assert!(
        screen.contains("was created but could not be opened"),
        "{screen}"
    );
}

#[test]
fn quitting_before_anything_is_asked() {
    let mut gate = creating();
    assert!(matches!(gate.key(ctrl('c')), Some(GateRequest::Quit)));
    // q is a letter of a nickname, not quit.
    assert!(gate.key(key(KeyCode::Char('q'))).is_none());
    assert_eq!(gate.name.text, "q");
}

#[test]
fn a_password_field_never_grows_past_its_buffer() {
    let mut gate = named("Alex");
    let long = "é".repeat(MAX_PASSWORD);
    gate.paste(&long);
    assert_eq!(gate.password.text().len(), MAX_PASSWORD);
    assert!(gate.password.error().unwrap().contains("at most"));
    typed(&mut gate, "x");
    assert_eq!(gate.password.text().len(), MAX_PASSWORD);
    assert!(gate.key(key(KeyCode::Backspace)).is_none());
    assert_eq!(gate.password.text().len(), MAX_PASSWORD - 2);
    typed(&mut gate, "x");
    assert_eq!(gate.password.text().len(), MAX_PASSWORD - 1);
    // Pasted line endings are left out: a password copied with its newline still works.
    let mut gate = named("Alex");
    gate.paste("tangerine kite\r\n");
    assert_eq!(gate.password.text(), "tangerine kite");
    // Every frame size is drawn without panicking, however long the fields.
    for (w, h) in [(1, 1), (10, 3), (80, 24), (20, 60)] {
        render(&gate, w, h);
    }
}
