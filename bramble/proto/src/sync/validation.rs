//! Client validators (`spec/sync.md#validation`).
//!
//! Each client (an application protocol on top of sync) checks the messages of its
//! groups. A session hands every new message to the validator of its group's client
//! and major version; the validator says whether the message is valid, what it depends
//! on and what metadata to keep with it.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::message::{ClientId, Group, Message};
use crate::ids::MessageId;

/// The most dependencies one message may have.
pub const MAX_DEPENDENCIES: usize = 64;

/// What a validator found in a valid message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Validated {
    /// Messages that must be delivered before this one.
    pub dependencies: Vec<MessageId>,
    /// Client metadata to keep with the message.
    pub metadata: Vec<(String, Vec<u8>)>,
}

/// Why a validator refused a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid message: {0}")]
pub struct Invalid(pub &'static str);

/// Checks the messages of one client's groups.
pub trait Validator {
    /// Whether `message`, of `group`, is valid.
    ///
    /// # Errors
    /// [`Invalid`] if it is not; the message is then never delivered or acknowledged.
    fn validate(&self, group: &Group, message: &Message) -> Result<Validated, Invalid>;
}

/// The validators a session consults.
pub trait Clients {
    /// Validates `message` with the validator of `group`'s client and major version;
    /// `None` if there is none (the message is then dropped unacknowledged, so that it
    /// can be received again once the client exists).
    fn validate(&self, group: &Group, message: &Message) -> Option<Result<Validated, Invalid>>;
}

/// A set of validators, one per client and major version.
#[derive(Default)]
pub struct Validators {
    entries: Vec<(ClientId, u32, Box<dyn Validator>)>,
}

impl Validators {
    /// No validators.
    pub fn new() -> Self {
        Validators::default()
    }

    /// Adds the validator of a client's major version, replacing an earlier one.
    pub fn register(
        &mut self,
        client: ClientId,
        major_version: u32,
        validator: Box<dyn Validator>,
    ) {
        self.entries
            .retain(|(c, v, _)| !(c == &client && *v == major_version));
        self.entries.push((client, major_version, validator));
    }

    /// Adds a validator, builder style.
    #[must_use]
    pub fn with(
        mut self,
        client: ClientId,
        major_version: u32,
        validator: Box<dyn Validator>,
    ) -> Self {
        self.register(client, major_version, validator);
        self
    }
}

impl Clients for Validators {
    fn validate(&self, group: &Group, message: &Message) -> Option<Result<Validated, Invalid>> {
        self.entries
            .iter()
            .find(|(c, v, _)| c == &group.client && *v == group.major_version)
            .map(|(_, _, validator)| validator.validate(group, message))
    }
}

impl fmt::Debug for Validators {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|(c, v, _)| (c, v)))
            .finish()
    }
}
