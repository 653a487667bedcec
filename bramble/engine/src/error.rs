//! The engine's errors.

use std::io;

use bramble_proto::contact::LinkError;
use bramble_proto::stream::StreamError;
use bramble_store::StoreError;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The store refused or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Not a usable link.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// Our own link.
    #[error("this is your own link; send it to the person you want to add, and add theirs")]
    OwnLink,
    /// The link belongs to a contact already.
    #[error("{0} is already a contact")]
    AlreadyContact(String),
    /// The link was added already and waits for the other side.
    #[error("this link was already added, as {0}")]
    AlreadyPending(String),
    /// The link does not hold a usable key.
    #[error("the link does not hold a usable key")]
    BadLink,
    /// No contact or pending contact goes by that name.
    #[error("no contact or pending contact is called {0:?}")]
    UnknownName(String),
    /// More than one goes by that name.
    #[error("more than one contact is called {0:?}; give one of them another name")]
    AmbiguousName(String),
    /// The contact was removed meanwhile.
    #[error("the contact no longer exists")]
    ContactGone,
    /// The pending contact completed, expired or was removed meanwhile.
    #[error("the pending contact no longer exists")]
    PendingGone,
    /// A transport no keys exist for.
    #[error("no keys exist for that transport")]
    UnknownTransport,
    /// A handshake could not go on.
    #[error("handshake: {0}")]
    Handshake(bramble_proto::contact::HandshakeError),
    /// Stream keys could not be used.
    #[error("stream keys: {0}")]
    Stream(StreamError),
    /// A sync session failed.
    #[error("sync: {0}")]
    Sync(String),
    /// A file or network operation failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The system clock is before 1970 or past 9999.
    #[error("the system clock is not set")]
    Clock,
    /// The engine has shut down.
    #[error("the engine has stopped")]
    Stopped,
}
