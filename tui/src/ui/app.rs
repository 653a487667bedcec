//! The interface as data: what is on screen, and what keys and engine answers do to it.
//!
//! Nothing here waits: a key that needs the engine returns a [`Request`], and the answer
//! comes back later as an [`Update`]. A message being sent leaves the compose line at
//! once and comes back to it if the engine refuses it, so no typed text is lost.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use bramble_engine::{Event, PendingInfo, Target};
use bramble_proto::contact::Link;
use bramble_proto::ids::MessageId;
use bramble_proto::messaging::{DeliveryState, MAX_TEXT_LEN, TextError, check_text};
use bramble_proto::time::Timestamp;
use bramble_proto::transport::TransportId;
use bramble_store::{ContactId, ConversationMessage, PendingContactId};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use thicket_transport::Status;

use super::view::Drawn;

/// How many messages one page of a conversation holds.
pub(crate) const PAGE: usize = 200;
/// How long a notice stays in the status bar, in milliseconds.
pub(crate) const NOTICE_MS: u64 = 6_000;
/// From how many bytes on the compose line shows its length.
pub(crate) const COUNTER_FROM: usize = MAX_TEXT_LEN * 9 / 10;

/// A contact as the list shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ContactRow {
    /// The contact.
    pub(crate) id: ContactId,
    /// The name shown.
    pub(crate) name: String,
    /// Whether its safety number was compared.
    pub(crate) verified: bool,
    /// Received messages not read yet.
    pub(crate) unread: u64,
    /// The time of the latest message either way.
    pub(crate) last: Option<Timestamp>,
}

/// The contact list from the engine's overview: latest activity first, then by name
/// regardless of case.
pub(crate) fn contact_rows(overview: Vec<bramble_engine::ContactOverview>) -> Vec<ContactRow> {
    let mut rows: Vec<ContactRow> = overview
        .into_iter()
        .map(|o| ContactRow {
            id: o.contact.id,
            name: o.contact.display_name().to_owned(),
            verified: o.contact.verified,
            unread: o.unread,
            last: o.last,
        })
        .collect();
    rows.sort_by(|a, b| {
        b.last
            .cmp(&a.last)
            .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
    });
    rows
}

/// What the caller should ask the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Request {
    /// The contact list (with unread counts and last activity) again.
    Contacts,
    /// The latest page of a conversation, and mark it read.
    Open(ContactId),
    /// The page before the oldest message shown.
    Older(ContactId, Timestamp, MessageId),
    /// Send a text.
    Send(ContactId, String),
    /// Our own link.
    OwnLink,
    /// The pending contacts.
    Pending,
    /// Add their link under a name.
    AddLink(String, String),
    /// The safety number of us and a contact.
    SafetyNumber(ContactId),
    /// Mark a contact verified, or not.
    SetVerified(ContactId, bool),
    /// Read and write the folder that carries messages as files.
    SyncFolder(PathBuf),
    /// Remove a contact or a pending contact, called this.
    Remove(Target, String),
    /// Stop.
    Quit,
}

/// What the engine answered, or told.
#[derive(Clone, Debug)]
pub(crate) enum Update {
    /// The contact list.
    Contacts(Vec<ContactRow>),
    /// The latest page of a conversation.
    Latest(ContactId, Vec<ConversationMessage>),
    /// An older page; an empty or short one means the start was reached.
    Older(ContactId, Vec<ConversationMessage>),
    /// A send was refused: the text goes back on the compose line.
    SendFailed(String, String),
    /// Something failed; shown briefly.
    Error(String),
    /// Who is connected over what, now.
    Connected(Vec<(ContactId, TransportId)>),
    /// An engine event.
    Event(Event),
    /// The clock moved on.
    Tick(Timestamp),
    /// Our own link, as text.
    OwnLink(String),
    /// The pending contacts.
    Pending(Vec<PendingInfo>),
    /// A link was added under this name.
    Added(String),
    /// A link was refused, because of the field named, for this reason.
    AddFailed(AddField, String),
    /// The safety number of us and a contact, as digits.
    SafetyNumber(ContactId, String),
    /// A contact was marked verified, or not.
    Verified(ContactId, bool),
    /// The folder is there (a drive plugged in), or not.
    FolderPresent(bool),
    /// The folder was synced; what that did, in words.
    FolderSynced(String),
    /// Syncing the folder failed, for this reason.
    FolderFailed(String),
    /// A contact or pending contact, called this, was removed.
    Removed(Target, String),
}

/// A removal that waits for the user's yes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Removal {
    /// What goes.
    pub(crate) target: Target,
    /// Its name, as shown.
    pub(crate) name: String,
}

/// The folder that carries messages as files (`--files DIR`), for example on a USB
/// stick: synced when it appears, and on `f` or F5.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Folder {
    /// Where it is.
    pub(crate) path: PathBuf,
    /// Where it stands.
    pub(crate) state: FolderState,
}

/// Where the folder stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FolderState {
    /// Not looked at yet.
    Unknown,
    /// Not there (a drive not plugged in, or not mounted).
    Absent,
    /// Being read and written.
    Syncing,
    /// Synced at this time.
    Synced(Timestamp),
    /// The last sync failed, for this reason.
    Failed(String),
}

/// The verify screen: a contact and, once the engine gave it, our safety number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Verify {
    /// Whom.
    pub(crate) contact: ContactId,
    /// Twelve groups of five digits.
    pub(crate) number: Option<String>,
}

/// A field of the add-contact screen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AddField {
    /// Their link.
    Link,
    /// The name we give them.
    Name,
}

/// The add-contact screen: two single-line fields, each keeping its text and error.
#[derive(Clone, Debug, Default)]
pub(crate) struct AddContact {
    /// Their link, as pasted.
    pub(crate) link: Compose,
    /// The name we give them.
    pub(crate) name: Compose,
    /// The name field has the cursor.
    pub(crate) on_name: bool,
    /// An add was asked for and has not been answered.
    pub(crate) busy: bool,
    /// The highlighted pending contact (Ctrl+N, Ctrl+P): by identifier, so that the list
    /// changing under it never moves the choice to another link.
    pub(crate) selected: Option<PendingContactId>,
}

impl AddContact {
    fn field(&mut self) -> &mut Compose {
        if self.on_name {
            &mut self.name
        } else {
            &mut self.link
        }
    }
}

/// Where keys go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Focus {
    /// The contact list: arrows and vi keys move, Enter opens.
    Contacts,
    /// The compose line: keys type.
    Compose,
}

/// The open conversation: a window of loaded messages, oldest first.
#[derive(Clone, Debug)]
pub(crate) struct Conversation {
    /// With whom.
    pub(crate) contact: ContactId,
    /// The loaded messages, oldest first.
    pub(crate) messages: Vec<ConversationMessage>,
    /// No older message exists than the first loaded.
    pub(crate) complete: bool,
    /// An older page was asked for and has not come.
    pub(crate) loading: bool,
    /// Where the view is scrolled to, as of the last frame.
    pub(crate) scroll: Scroll,
    /// Rows still to scroll since the last frame, upwards positive: only the view knows
    /// how many rows a message takes, so it resolves them into a new position.
    pub(crate) pending: isize,
}

/// Where a conversation is scrolled to. Kept as a message and a row within it, not as
/// rows from the newest, so that a frame costs what is on screen however far up it is,
/// and so that a new message or an older page does not move what is being read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Scroll {
    /// Following the newest message.
    #[default]
    Newest,
    /// The bottom row on screen is a row of the message with this key (timestamp, id):
    /// `below` of its rows are under the screen's bottom edge.
    At {
        /// The message's place in the conversation's order.
        key: (Timestamp, MessageId),
        /// Its rows below the screen.
        below: usize,
    },
}

/// The compose line: text, a cursor (a byte offset on a character boundary), and the
/// last error about it.
#[derive(Clone, Debug, Default)]
pub(crate) struct Compose {
    /// What was typed.
    pub(crate) text: String,
    /// Where the cursor is, in bytes.
    pub(crate) cursor: usize,
    /// Why the text cannot be sent, once Enter was pressed.
    pub(crate) error: Option<String>,
}

impl Compose {
    /// The editing keys every text field shares: typing, deleting, moving, and the
    /// Ctrl+A / Ctrl+E / Ctrl+U line keys.
    pub(crate) fn edit(&mut self, key: KeyEvent) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('a') if ctrl => self.cursor = self.line_start(),
            KeyCode::Char('e') if ctrl => self.cursor = self.line_end(),
            KeyCode::Char('u') if ctrl => {
                let start = self.line_start();
                self.text.replace_range(start..self.cursor, "");
                self.cursor = start;
            }
            KeyCode::Char(ch) if !ctrl => {
                let mut b = [0u8; 4];
                self.insert(ch.encode_utf8(&mut b));
                self.error = None;
            }
            KeyCode::Backspace => {
                let to = self.left();
                self.text.replace_range(to..self.cursor, "");
                self.cursor = to;
                self.error = None;
            }
            KeyCode::Delete => {
                let to = self.right();
                self.text.replace_range(self.cursor..to, "");
            }
            KeyCode::Left => self.cursor = self.left(),
            KeyCode::Right => self.cursor = self.right(),
            KeyCode::Home => self.cursor = self.line_start(),
            KeyCode::End => self.cursor = self.line_end(),
            _ => {}
        }
    }

    pub(crate) fn insert(&mut self, s: &str) {
        self.text.insert_str(self.cursor, s);
        self.cursor += s.len();
    }

    fn left(&self) -> usize {
        self.text[..self.cursor]
            .char_indices()
            .next_back()
            .map_or(0, |(i, _)| i)
    }

    fn right(&self) -> usize {
        self.text[self.cursor..]
            .chars()
            .next()
            .map_or(self.cursor, |c| self.cursor + c.len_utf8())
    }

    fn line_start(&self) -> usize {
        self.text[..self.cursor].rfind('\n').map_or(0, |i| i + 1)
    }

    fn line_end(&self) -> usize {
        self.text[self.cursor..]
            .find('\n')
            .map_or(self.text.len(), |i| self.cursor + i)
    }
}

/// Everything the interface shows.
#[derive(Debug)]
pub(crate) struct App {
    /// Contacts, in list order (latest activity first).
    pub(crate) contacts: Vec<ContactRow>,
    /// The highlighted contact.
    pub(crate) selected: usize,
    /// The open conversation.
    pub(crate) conversation: Option<Conversation>,
    /// The compose line.
    pub(crate) compose: Compose,
    /// Where keys go.
    pub(crate) focus: Focus,
    /// The help overlay is shown.
    pub(crate) help: bool,
    /// Our transports and their status.
    pub(crate) transports: BTreeMap<TransportId, Status>,
    /// Broadcast transports: contacts in sight and connected.
    pub(crate) nearby: BTreeMap<TransportId, (usize, usize)>,
    /// Which transports each contact is connected over.
    pub(crate) connected: HashMap<ContactId, BTreeSet<TransportId>>,
    /// A notice and when it goes.
    pub(crate) notice: Option<(String, u64)>,
    /// Colours are allowed (`NO_COLOR` is not set).
    pub(crate) color: bool,
    /// Ring the terminal bell on new messages.
    pub(crate) bell: bool,
    /// A bell is owed (the caller rings it and clears this).
    pub(crate) ring: bool,
    /// Our own name.
    pub(crate) nickname: String,
    /// The clock, as last ticked.
    pub(crate) now: Timestamp,
    /// The add-contact screen is shown.
    pub(crate) adding: bool,
    /// What was typed there; kept when the screen closes.
    pub(crate) add: AddContact,
    /// Our link, once the engine gave it.
    pub(crate) own_link: Option<String>,
    /// Links added that have not become contacts.
    pub(crate) pending: Vec<PendingInfo>,
    /// The verify screen, when shown.
    pub(crate) verifying: Option<Verify>,
    /// Our link is shown as a QR code (from the add screen).
    pub(crate) qr: bool,
    /// The folder that carries messages as files, if one was given.
    pub(crate) folder: Option<Folder>,
    /// A removal asked for, shown until the user says yes or no.
    pub(crate) removing: Option<Removal>,
}

impl App {
    /// An empty interface for `nickname`'s account, with `transports` starting.
    pub(crate) fn new(nickname: &str, transports: &[TransportId], now: Timestamp) -> Self {
        App {
            contacts: Vec::new(),
            selected: 0,
            conversation: None,
            compose: Compose::default(),
            focus: Focus::Contacts,
            help: false,
            transports: transports
                .iter()
                .map(|t| (t.clone(), Status::Stopped))
                .collect(),
            nearby: BTreeMap::new(),
            connected: HashMap::new(),
            notice: None,
            color: true,
            bell: false,
            ring: false,
            nickname: nickname.to_owned(),
            now,
            adding: false,
            add: AddContact::default(),
            own_link: None,
            pending: Vec::new(),
            verifying: None,
            qr: false,
            folder: None,
            removing: None,
        }
    }

    /// Syncs the folder, unless there is none or a sync is under way.
    fn sync_folder(&mut self) -> Vec<Request> {
        match &mut self.folder {
            None => {
                self.notify("no folder to sync: start Thicket with --files DIR");
                Vec::new()
            }
            Some(Folder {
                state: FolderState::Syncing,
                ..
            }) => Vec::new(),
            Some(f) => {
                f.state = FolderState::Syncing;
                vec![Request::SyncFolder(f.path.clone())]
            }
        }
    }

    /// The highlighted contact.
    pub(crate) fn selected_contact(&self) -> Option<&ContactRow> {
        self.contacts.get(self.selected)
    }

    /// The contact whose conversation is open.
    pub(crate) fn open_contact(&self) -> Option<&ContactRow> {
        let open = self.conversation.as_ref()?.contact;
        self.contacts.iter().find(|c| c.id == open)
    }

    /// Shows `text` in the status bar for a while.
    pub(crate) fn notify(&mut self, text: impl Into<String>) {
        self.notice = Some((text.into(), self.now.as_millis().saturating_add(NOTICE_MS)));
    }

    /// Handles pasted text: into the add screen's current field when it is shown, else on
    /// the compose line, whatever the focus.
    pub(crate) fn paste(&mut self, text: &str) -> Vec<Request> {
        if self.adding {
            // One line: a link copied with its line ending, or broken over lines by a
            // chat program, still reads.
            let kept: String = text.chars().filter(|c| !c.is_control()).collect();
            let field = self.add.field();
            field.insert(kept.trim());
            field.error = None;
            return Vec::new();
        }
        if self.conversation.is_none() {
            self.notify("open a conversation first (Enter on a contact)");
            return Vec::new();
        }
        self.focus = Focus::Compose;
        // Line endings from other systems become newlines; other control characters
        // cannot be sent and are left out, with a word about it.
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        let kept: String = text
            .chars()
            .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
            .collect();
        let dropped = text.chars().count() - kept.chars().count();
        if dropped > 0 {
            self.notify(format!(
                "{dropped} control character(s) left out of the paste"
            ));
        }
        self.compose.insert(&kept);
        self.compose.error = None;
        Vec::new()
    }

    /// Handles a key.
    pub(crate) fn key(&mut self, key: KeyEvent) -> Vec<Request> {
        if key.kind == KeyEventKind::Release {
            return Vec::new();
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && key.code == KeyCode::Char('c') {
            return vec![Request::Quit];
        }
        if let Some(r) = self.removing.take() {
            // Only `y` removes; any other key keeps it.
            if key.code == KeyCode::Char('y') {
                return vec![Request::Remove(r.target, r.name)];
            }
            return Vec::new();
        }
        if self.help {
            // Any key closes the help.
            self.help = false;
            return Vec::new();
        }
        if self.qr {
            // Any key goes back to the add screen.
            self.qr = false;
            return Vec::new();
        }
        if key.code == KeyCode::F(1) {
            self.help = true;
            return Vec::new();
        }
        if key.code == KeyCode::F(5) {
            return self.sync_folder();
        }
        if self.adding {
            return self.add_key(key);
        }
        if self.verifying.is_some() {
            return self.verify_key(key);
        }
        match key.code {
            KeyCode::PageUp => {
                self.scroll_up(10);
                return Vec::new();
            }
            KeyCode::PageDown => {
                self.scroll_down(10);
                return Vec::new();
            }
            _ => {}
        }
        match self.focus {
            Focus::Contacts => self.contacts_key(key),
            Focus::Compose => self.compose_key(key),
        }
    }

    fn contacts_key(&mut self, key: KeyEvent) -> Vec<Request> {
        match key.code {
            KeyCode::Char('q') => return vec![Request::Quit],
            KeyCode::Char('?') => self.help = true,
            KeyCode::Up | KeyCode::Char('k') => self.selected = self.selected.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') if self.selected + 1 < self.contacts.len() => {
                self.selected += 1;
            }
            KeyCode::Home | KeyCode::Char('g') => self.selected = 0,
            KeyCode::End | KeyCode::Char('G') => {
                self.selected = self.contacts.len().saturating_sub(1);
            }
            KeyCode::Char('u') => self.scroll_up(10),
            KeyCode::Char('d') => self.scroll_down(10),
            KeyCode::Char('f') => return self.sync_folder(),
            KeyCode::Char('x') | KeyCode::Delete => match self.selected_contact() {
                Some(c) => {
                    self.removing = Some(Removal {
                        target: Target::Contact(c.id),
                        name: c.name.clone(),
                    });
                }
                None => self.notify("no contacts yet"),
            },
            KeyCode::Char('v') => {
                let Some(c) = self.selected_contact() else {
                    self.notify("no contacts yet");
                    return Vec::new();
                };
                let contact = c.id;
                self.verifying = Some(Verify {
                    contact,
                    number: None,
                });
                return vec![Request::SafetyNumber(contact)];
            }
            KeyCode::Char('a') => {
                self.adding = true;
                let mut out = vec![Request::Pending];
                if self.own_link.is_none() {
                    out.push(Request::OwnLink);
                }
                return out;
            }
            KeyCode::Enter | KeyCode::Right | KeyCode::Char('l' | 'i') => {
                let Some(c) = self.selected_contact() else {
                    self.notify("no contacts yet");
                    return Vec::new();
                };
                let id = c.id;
                self.focus = Focus::Compose;
                if self.conversation.as_ref().map(|c| c.contact) != Some(id) {
                    self.conversation = Some(Conversation {
                        contact: id,
                        messages: Vec::new(),
                        complete: false,
                        loading: true,
                        scroll: Scroll::Newest,
                        pending: 0,
                    });
                    self.compose = Compose::default();
                }
                return vec![Request::Open(id)];
            }
            _ => {}
        }
        Vec::new()
    }

    fn compose_key(&mut self, key: KeyEvent) -> Vec<Request> {
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        match key.code {
            KeyCode::Esc => self.focus = Focus::Contacts,
            KeyCode::Enter if alt || key.modifiers.contains(KeyModifiers::SHIFT) => {
                self.compose.insert("\n");
            }
            KeyCode::Enter => return self.send(),
            KeyCode::Tab => self.compose.insert("\t"),
            KeyCode::Up => self.scroll_up(1),
            KeyCode::Down => self.scroll_down(1),
            _ => self.compose.edit(key),
        }
        Vec::new()
    }

    fn add_key(&mut self, key: KeyEvent) -> Vec<Request> {
        let add = &mut self.add;
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Esc => self.adding = false,
            KeyCode::F(2) => self.qr = true,
            KeyCode::Char('o') if ctrl => self.qr = true,
            KeyCode::Char('n' | 'p') if ctrl && !self.pending.is_empty() => {
                let at = add
                    .selected
                    .and_then(|id| self.pending.iter().position(|p| p.id == id));
                let last = self.pending.len() - 1;
                let next = match (key.code, at) {
                    (KeyCode::Char('n'), Some(i)) => (i + 1).min(last),
                    (KeyCode::Char('n'), None) => 0,
                    (_, Some(i)) => i.saturating_sub(1),
                    (_, None) => last,
                };
                add.selected = self.pending.get(next).map(|p| p.id);
            }
            KeyCode::Char('d') if ctrl => match add
                .selected
                .and_then(|id| self.pending.iter().find(|p| p.id == id))
            {
                Some(p) => {
                    self.removing = Some(Removal {
                        target: Target::Pending(p.id),
                        name: p.alias.clone(),
                    });
                }
                None if self.pending.is_empty() => self.notify("no links waiting"),
                None => self.notify("choose a waiting link with Ctrl+N first"),
            },
            KeyCode::Tab | KeyCode::BackTab | KeyCode::Up | KeyCode::Down => {
                add.on_name = !add.on_name;
            }
            // On the link field, Enter checks it and goes on to the name if it reads.
            KeyCode::Enter if !add.on_name && check_link(&mut add.link) => add.on_name = true,
            KeyCode::Enter if !add.on_name => {}
            KeyCode::Enter => return self.submit_link(),
            _ => add.field().edit(key),
        }
        Vec::new()
    }

    fn verify_key(&mut self, key: KeyEvent) -> Vec<Request> {
        let Some(v) = self.verifying.as_ref() else {
            return Vec::new();
        };
        let contact = v.contact;
        let known = v.number.is_some();
        match key.code {
            KeyCode::Esc | KeyCode::Char('q') => self.verifying = None,
            // Only once the number is on screen: marking what was never shown means nothing.
            KeyCode::Char('m') if known => return vec![Request::SetVerified(contact, true)],
            KeyCode::Char('u') if known => return vec![Request::SetVerified(contact, false)],
            _ => {}
        }
        Vec::new()
    }

    /// The contact on the verify screen.
    pub(crate) fn verify_contact(&self) -> Option<&ContactRow> {
        let id = self.verifying.as_ref()?.contact;
        self.contacts.iter().find(|c| c.id == id)
    }

    /// Checks both fields and asks the engine to add the link; a field in error keeps
    /// its text and takes the cursor.
    fn submit_link(&mut self) -> Vec<Request> {
        let add = &mut self.add;
        if add.busy {
            return Vec::new();
        }
        if !check_link(&mut add.link) {
            add.on_name = false;
            return Vec::new();
        }
        let name = add.name.text.trim();
        if name.is_empty() {
            add.name.error = Some(String::from(
                "give them a name you will recognise; only you see it",
            ));
            add.on_name = true;
            return Vec::new();
        }
        add.busy = true;
        vec![Request::AddLink(
            add.link.text.trim().to_owned(),
            name.to_owned(),
        )]
    }

    fn send(&mut self) -> Vec<Request> {
        let Some(contact) = self.conversation.as_ref().map(|c| c.contact) else {
            return Vec::new();
        };
        let text = self.compose.text.trim_end_matches('\n');
        if let Err(e) = check_text(text) {
            self.compose.error = Some(match e {
                TextError::Empty => String::from("nothing to send"),
                TextError::TooLong => format!(
                    "too long: {} bytes, the most is {MAX_TEXT_LEN}; shorten it or split it",
                    text.len()
                ),
                _ => String::from("the text holds a control character that cannot be sent"),
            });
            return Vec::new();
        }
        let text = text.to_owned();
        self.compose = Compose::default();
        if let Some(c) = self.conversation.as_mut() {
            c.follow_newest();
        }
        vec![Request::Send(contact, text)]
    }

    pub(crate) fn scroll_up(&mut self, rows: usize) {
        if let Some(c) = self.conversation.as_mut() {
            c.pending = c
                .pending
                .saturating_add(isize::try_from(rows).unwrap_or(isize::MAX));
        }
    }

    pub(crate) fn scroll_down(&mut self, rows: usize) {
        if let Some(c) = self.conversation.as_mut() {
            c.pending = c
                .pending
                .saturating_sub(isize::try_from(rows).unwrap_or(isize::MAX));
            if c.scroll == Scroll::Newest {
                c.pending = c.pending.max(0);
            }
        }
    }

    /// Takes in what a frame found: where the conversation now is, and whether the
    /// oldest loaded message came on screen (which asks for the page before it).
    pub(crate) fn settle(&mut self, drawn: &Drawn) -> Vec<Request> {
        if let (Some(position), Some(c)) = (drawn.scroll, self.conversation.as_mut()) {
            c.scroll = position;
            c.pending = 0;
        }
        if drawn.top_reached {
            return self.reached_top();
        }
        Vec::new()
    }

    /// The view found the top of the loaded messages on screen: asks for the page
    /// before, once.
    pub(crate) fn reached_top(&mut self) -> Vec<Request> {
        let Some(c) = self.conversation.as_mut() else {
            return Vec::new();
        };
        if c.complete || c.loading {
            return Vec::new();
        }
        let Some(first) = c.messages.first() else {
            return Vec::new();
        };
        c.loading = true;
        vec![Request::Older(c.contact, first.timestamp, first.id)]
    }

    /// Takes an answer or an event.
    pub(crate) fn update(&mut self, update: Update) -> Vec<Request> {
        match update {
            Update::Tick(now) => {
                self.now = now;
                if self
                    .notice
                    .as_ref()
                    .is_some_and(|(_, until)| *until <= now.as_millis())
                {
                    self.notice = None;
                }
            }
            Update::Contacts(rows) => {
                let keep = self.selected_contact().map(|c| c.id);
                self.contacts = rows;
                self.selected = keep
                    .and_then(|id| self.contacts.iter().position(|c| c.id == id))
                    .unwrap_or(0)
                    .min(self.contacts.len().saturating_sub(1));
                if let Some(open) = self.conversation.as_ref().map(|c| c.contact)
                    && !self.contacts.iter().any(|c| c.id == open)
                {
                    self.conversation = None;
                    self.focus = Focus::Contacts;
                }
            }
            Update::Latest(contact, page) => {
                if let Some(c) = self.conversation.as_mut().filter(|c| c.contact == contact) {
                    merge_latest(c, page);
                }
            }
            Update::Older(contact, page) => {
                if let Some(c) = self.conversation.as_mut().filter(|c| c.contact == contact) {
                    c.loading = false;
                    c.complete = page.len() < PAGE;
                    // The page is older than the window: only the window's first few
                    // messages (up to the page's newest) can repeat in it.
                    let newest = page.last().map(key);
                    let reach = newest.map_or(0, |n| c.messages.partition_point(|x| key(x) <= n));
                    let seen = &c.messages[..reach];
                    let mut page = page;
                    page.retain(|m| !seen.iter().any(|x| x.id == m.id));
                    page.append(&mut c.messages);
                    c.messages = page;
                }
            }
            Update::SendFailed(text, why) => {
                // Back where it was typed, ahead of anything typed since.
                self.compose.text.insert_str(0, &text);
                self.compose.cursor += text.len();
                self.compose.error = Some(why);
            }
            Update::Connected(now) => {
                self.connected.clear();
                for (contact, transport) in now {
                    self.connected.entry(contact).or_default().insert(transport);
                }
            }
            Update::Error(why) => {
                self.add.busy = false;
                self.notify(why);
            }
            Update::Event(e) => return self.event(e),
            Update::OwnLink(link) => self.own_link = Some(link),
            Update::Pending(list) => {
                // A chosen link that went (completed, expired, removed) is chosen no more.
                self.add.selected = self
                    .add
                    .selected
                    .filter(|id| list.iter().any(|p| p.id == *id));
                self.pending = list;
            }
            Update::Added(name) => {
                self.add = AddContact::default();
                self.notify(format!(
                    "{name} added: you become contacts once they add your link and you meet"
                ));
                return vec![Request::Pending];
            }
            Update::SafetyNumber(contact, number) => {
                if let Some(v) = self.verifying.as_mut().filter(|v| v.contact == contact) {
                    v.number = Some(number);
                }
            }
            Update::Verified(contact, verified) => {
                let name = self.contacts.iter_mut().find(|c| c.id == contact).map(|c| {
                    c.verified = verified;
                    c.name.clone()
                });
                let name = name.unwrap_or_else(|| String::from("the contact"));
                self.notify(if verified {
                    format!("{name} is verified")
                } else {
                    format!("{name} is no longer verified")
                });
                return vec![Request::Contacts];
            }
            Update::AddFailed(field, why) => {
                let add = &mut self.add;
                add.busy = false;
                add.on_name = field == AddField::Name;
                add.field().error = Some(why);
            }
            Update::FolderPresent(present) => {
                let Some(f) = &mut self.folder else {
                    return Vec::new();
                };
                match (&f.state, present) {
                    // A sync under way reports for itself.
                    (FolderState::Syncing, _) => {}
                    // It appeared (a drive plugged in): sync at once.
                    (FolderState::Unknown | FolderState::Absent, true) => {
                        f.state = FolderState::Syncing;
                        return vec![Request::SyncFolder(f.path.clone())];
                    }
                    (_, true) => {}
                    (_, false) => f.state = FolderState::Absent,
                }
            }
            Update::FolderSynced(what) => {
                let Some(f) = &mut self.folder else {
                    return Vec::new();
                };
                f.state = FolderState::Synced(self.now);
                self.notify(format!("folder synced: {what}"));
                return vec![Request::Contacts, Request::Pending];
            }
            Update::Removed(target, name) => {
                if let (Target::Contact(c), Some(open)) = (target, self.conversation.as_ref())
                    && open.contact == c
                {
                    self.conversation = None;
                    self.focus = Focus::Contacts;
                    self.compose = Compose::default();
                }
                self.notify(format!("{name} removed"));
                return vec![Request::Contacts, Request::Pending];
            }
            Update::FolderFailed(why) => {
                if let Some(f) = &mut self.folder {
                    f.state = FolderState::Failed(why.clone());
                }
                self.notify(format!("folder not synced: {why}"));
            }
        }
        Vec::new()
    }

    fn event(&mut self, e: Event) -> Vec<Request> {
        match e {
            Event::MessageReceived { contact, .. } => {
                if self.bell {
                    self.ring = true;
                }
                let mut out = vec![Request::Contacts];
                if self
                    .conversation
                    .as_ref()
                    .is_some_and(|c| c.contact == contact)
                {
                    out.push(Request::Open(contact));
                }
                return out;
            }
            Event::DeliveryChanged { contact, id, state } => {
                if let Some(c) = self.conversation.as_mut().filter(|c| c.contact == contact)
                    && let Some(m) = c.messages.iter_mut().find(|m| m.id == id)
                    && m.delivery.is_none_or(|d| rank(d) < rank(state))
                {
                    m.delivery = Some(state);
                }
            }
            Event::ContactAdded { .. } => return vec![Request::Contacts, Request::Pending],
            Event::PendingChanged { .. } => return vec![Request::Pending],
            Event::TransportStatus { transport, status } => {
                if let Status::Down(why) = &status {
                    self.notify(format!("{}: {why}", transport_name(&transport)));
                }
                self.transports.insert(transport, status);
            }
            Event::Nearby {
                transport,
                seen,
                connected,
            } => {
                self.nearby.insert(transport, (seen, connected));
            }
            _ => {}
        }
        Vec::new()
    }
}

/// Whether the link field holds something that reads as a link; if not, says why on it.
fn check_link(field: &mut Compose) -> bool {
    let text = field.text.trim();
    if text.is_empty() {
        field.error = Some(String::from(
            "paste their link here (they get theirs from their own add screen)",
        ));
        return false;
    }
    match Link::parse(text) {
        Ok(_) => true,
        Err(e) => {
            field.error = Some(e.to_string());
            false
        }
    }
}

/// Delivery states only move forward on screen.
fn rank(d: DeliveryState) -> u8 {
    match d {
        DeliveryState::Queued => 0,
        DeliveryState::Sent => 1,
        DeliveryState::Delivered => 2,
    }
}

/// Merges the latest page into a window: known messages take the page's state, newer
/// ones are appended. A window that does not reach the page's oldest message (a gap)
/// is replaced by the page.
fn merge_latest(c: &mut Conversation, page: Vec<ConversationMessage>) {
    let first_load = c.messages.is_empty();
    c.loading = false;
    if first_load {
        c.complete = page.len() < PAGE;
        c.messages = page;
        return;
    }
    // The window is in (timestamp, identifier) order, as pages come.
    let overlaps = page
        .first()
        .is_none_or(|p| c.messages.last().is_some_and(|m| key(m) >= key(p)));
    if !overlaps {
        c.complete = false;
        c.messages = page;
        c.follow_newest();
        return;
    }
    for m in page {
        let at = c.messages.partition_point(|x| key(x) < key(&m));
        match c.messages.get_mut(at).filter(|x| x.id == m.id) {
            Some(x) => *x = m,
            None => c.messages.insert(at, m),
        }
    }
}

/// Where a message sits in a conversation: the order pages come in.
fn key(m: &ConversationMessage) -> (Timestamp, MessageId) {
    (m.timestamp, m.id)
}

impl Conversation {
    /// Back to the newest message, dropping any scroll not yet drawn.
    pub(crate) fn follow_newest(&mut self) {
        self.scroll = Scroll::Newest;
        self.pending = 0;
    }
}

/// How a transport is called on screen.
pub(crate) fn transport_name(t: &TransportId) -> &str {
    match t.as_str() {
        "tor" => "Tor",
        "lan" => "LAN",
        "ble" => "Bluetooth",
        other => other,
    }
}
