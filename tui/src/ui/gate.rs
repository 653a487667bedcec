//! The first screen: creating the account on the first run, unlocking it on later ones.
//!
//! Like [`super::app`], this is data and keys only: Enter on a complete form returns a
//! [`GateRequest`], the caller creates or opens the account off the interface's task and
//! answers with a [`GateAnswer`] if that failed. Passwords live in [`Secret`] fields,
//! which never reallocate and are wiped when dropped or cleared.

use bramble_proto::contact::{NameError, check_name};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use zeroize::{Zeroize, Zeroizing};

use super::app::Compose;
use crate::strength::{self, Strength};

/// The most bytes a password field holds. Its buffer is this big from the start, so
/// typing never moves the password to a new allocation and leaves a copy behind.
pub(crate) const MAX_PASSWORD: usize = 1024;

/// A password field: a [`Compose`] whose buffer never grows and is wiped on drop.
#[derive(Debug)]
pub(crate) struct Secret {
    field: Compose,
}

impl Default for Secret {
    fn default() -> Self {
        Secret {
            field: Compose {
                text: String::with_capacity(MAX_PASSWORD),
                cursor: 0,
                error: None,
            },
        }
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        // Zeroizing a String wipes its whole capacity, not only its length.
        self.field.text.zeroize();
    }
}

impl Secret {
    /// What was typed.
    pub(crate) fn text(&self) -> &str {
        &self.field.text
    }

    /// The field's error, if any.
    pub(crate) fn error(&self) -> Option<&str> {
        self.field.error.as_deref()
    }

    fn set_error(&mut self, why: impl Into<String>) {
        self.field.error = Some(why.into());
    }

    /// Characters typed, and characters before the cursor: all the screen may show.
    pub(crate) fn shape(&self) -> (usize, usize) {
        let text = self.text();
        (
            text.chars().count(),
            text[..self.field.cursor].chars().count(),
        )
    }

    fn too_long(&mut self) {
        self.set_error(format!(
            "at most {MAX_PASSWORD} bytes; the rest was not taken"
        ));
    }

    fn edit(&mut self, key: KeyEvent) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if let KeyCode::Char(c) = key.code
            && !ctrl
            && self.field.text.len() + c.len_utf8() > MAX_PASSWORD
        {
            self.too_long();
            return;
        }
        self.field.edit(key);
    }

    fn paste(&mut self, text: &str) {
        self.field.error = None;
        for c in text.chars().filter(|c| !c.is_control()) {
            if self.field.text.len() + c.len_utf8() > MAX_PASSWORD {
                self.too_long();
                return;
            }
            let mut b = [0u8; 4];
            self.field.insert(c.encode_utf8(&mut b));
        }
    }

    /// Wipes what was typed.
    fn clear(&mut self) {
        self.field.text.zeroize();
        self.field.cursor = 0;
    }

    fn copy(&self) -> Zeroizing<String> {
        Zeroizing::new(self.field.text.clone())
    }
}

/// Which form the gate shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GateKind {
    /// No account yet: nickname and a new password, twice.
    Create,
    /// An account exists: its password.
    Unlock,
}

/// A field of the gate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GateField {
    /// Our nickname (creating only).
    Name,
    /// The password.
    Password,
    /// The new password again (creating only).
    Again,
}

/// What the caller should do.
#[derive(Debug)]
pub(crate) enum GateRequest {
    /// Create the account, then open it.
    Create {
        /// Our nickname, checked.
        name: String,
        /// The new password, strong enough and typed the same twice.
        password: Zeroizing<String>,
    },
    /// Open the account.
    Unlock(Zeroizing<String>),
    /// Stop.
    Quit,
}

/// Why creating or opening failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum GateAnswer {
    /// The password does not open the account.
    WrongPassword,
    /// The account was created but could not be opened: unlocking is what is left.
    Created(String),
    /// Anything else, in words: the form stays as typed, to try again.
    Failed(String),
}

/// The first screen's state.
#[derive(Debug)]
pub(crate) struct Gate {
    /// Creating or unlocking.
    pub(crate) kind: GateKind,
    /// Where the cursor is.
    pub(crate) field: GateField,
    /// Our nickname.
    pub(crate) name: Compose,
    /// The password.
    pub(crate) password: Secret,
    /// The new password again.
    pub(crate) again: Secret,
    /// The new password's strength, as of its last change.
    pub(crate) strength: Option<Strength>,
    /// Creating or opening is under way.
    pub(crate) busy: bool,
    /// Quit was asked for while busy: stop once that is done.
    pub(crate) quitting: bool,
    /// Wrong passwords so far.
    pub(crate) wrong: u32,
    /// Something that is no field's fault.
    pub(crate) error: Option<String>,
    /// The account's folder, as shown.
    pub(crate) place: String,
    /// Colours are allowed.
    pub(crate) color: bool,
}

impl Gate {
    /// The gate for the account in `place`: `kind` says whether there is one.
    pub(crate) fn new(kind: GateKind, place: &str) -> Self {
        Gate {
            kind,
            field: match kind {
                GateKind::Create => GateField::Name,
                GateKind::Unlock => GateField::Password,
            },
            name: Compose::default(),
            password: Secret::default(),
            again: Secret::default(),
            strength: None,
            busy: false,
            quitting: false,
            wrong: 0,
            error: None,
            place: place.to_owned(),
            color: true,
        }
    }

    /// Handles a key.
    pub(crate) fn key(&mut self, key: KeyEvent) -> Option<GateRequest> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && key.code == KeyCode::Char('c') {
            if self.busy {
                self.quitting = true;
                return None;
            }
            return Some(GateRequest::Quit);
        }
        if self.busy {
            return None;
        }
        match key.code {
            KeyCode::Tab | KeyCode::Down => self.field = self.next(true),
            KeyCode::BackTab | KeyCode::Up => self.field = self.next(false),
            KeyCode::Enter => return self.enter(),
            _ => {
                self.error = None;
                match self.field {
                    GateField::Name => self.name.edit(key),
                    GateField::Password => self.password.edit(key),
                    GateField::Again => self.again.edit(key),
                }
                // The nickname counts in the rating too.
                self.rate();
            }
        }
        None
    }

    /// Handles pasted text: into the field with the cursor, on one line.
    pub(crate) fn paste(&mut self, text: &str) {
        if self.busy {
            return;
        }
        match self.field {
            GateField::Name => {
                let kept: String = text.chars().filter(|c| !c.is_control()).collect();
                self.name.insert(kept.trim());
                self.name.error = None;
            }
            GateField::Password => self.password.paste(text),
            GateField::Again => self.again.paste(text),
        }
        self.rate();
    }

    /// Takes the answer to a failed request.
    pub(crate) fn answer(&mut self, answer: GateAnswer) {
        self.busy = false;
        match answer {
            GateAnswer::WrongPassword => {
                self.wrong += 1;
                self.password.clear();
                self.field = GateField::Password;
                let tries = if self.wrong > 1 {
                    format!(" ({} wrong tries)", self.wrong)
                } else {
                    String::new()
                };
                self.password.set_error(format!(
                    "Wrong password{tries}. Nothing was changed or deleted: try again."
                ));
            }
            GateAnswer::Created(why) => {
                self.kind = GateKind::Unlock;
                self.field = GateField::Password;
                self.again.clear();
                self.password.clear();
                self.strength = None;
                self.error = Some(format!(
                    "The account was created but could not be opened ({why}): unlock it."
                ));
            }
            GateAnswer::Failed(why) => self.error = Some(why),
        }
    }

    fn fields(&self) -> &'static [GateField] {
        match self.kind {
            GateKind::Create => &[GateField::Name, GateField::Password, GateField::Again],
            GateKind::Unlock => &[GateField::Password],
        }
    }

    fn next(&self, forward: bool) -> GateField {
        let fields = self.fields();
        let at = fields.iter().position(|f| *f == self.field).unwrap_or(0);
        let n = fields.len();
        fields[if forward {
            (at + 1) % n
        } else {
            (at + n - 1) % n
        }]
    }

    fn rate(&mut self) {
        if self.kind == GateKind::Create {
            self.strength = (!self.password.text().is_empty())
                .then(|| strength::strength(self.password.text(), self.name.text.trim()));
        }
    }

    /// Enter: on to the next field once this one reads, or the request once all do.
    fn enter(&mut self) -> Option<GateRequest> {
        if self.kind == GateKind::Unlock {
            if self.password.text().is_empty() {
                self.password.set_error("type the account's password");
                return None;
            }
            self.busy = true;
            self.error = None;
            return Some(GateRequest::Unlock(self.password.copy()));
        }
        match self.field {
            GateField::Name => {
                if self.check_name() {
                    self.field = GateField::Password;
                }
                None
            }
            GateField::Password => {
                if self.check_password() {
                    self.field = GateField::Again;
                }
                None
            }
            GateField::Again => {
                // Everything again: the first field in error takes the cursor.
                let bad = if !self.check_name() {
                    Some(GateField::Name)
                } else if !self.check_password() {
                    Some(GateField::Password)
                } else if !self.check_again() {
                    Some(GateField::Again)
                } else {
                    None
                };
                if let Some(bad) = bad {
                    self.field = bad;
                    return None;
                }
                self.busy = true;
                self.error = None;
                Some(GateRequest::Create {
                    name: self.name.text.trim().to_owned(),
                    password: self.password.copy(),
                })
            }
        }
    }

    fn check_name(&mut self) -> bool {
        let why = match check_name(self.name.text.trim()) {
            Ok(()) => return true,
            Err(NameError::Empty) => String::from(
                "choose a nickname: contacts see it when they add you, and can rename you",
            ),
            Err(e) => e.to_string(),
        };
        self.name.error = Some(why);
        false
    }

    fn check_password(&mut self) -> bool {
        if self.password.text().is_empty() {
            self.password
                .set_error("choose a password: it encrypts everything Thicket keeps");
            return false;
        }
        let name = self.name.text.trim().to_owned();
        match strength::check_new(self.password.text(), &name) {
            Ok(()) => {
                self.password.field.error = None;
                true
            }
            Err(_) => {
                // The strength line above says why and what to do.
                self.password
                    .set_error("too easy to guess: change it until it is rated good or strong");
                false
            }
        }
    }

    fn check_again(&mut self) -> bool {
        if self.again.text() == self.password.text() {
            self.again.field.error = None;
            return true;
        }
        self.again.set_error(if self.again.text().is_empty() {
            "type the password again, to be sure of it"
        } else {
            "the two passwords differ: type it again"
        });
        false
    }
}
