//! The sync layer (`spec/sync.md`): messages in groups, the records that move them, and
//! the sessions that decide what to send, acknowledge, offer and request over one
//! connection or one one-way stream, whatever the transport.
//!
//! - [`message`]: groups, messages and their identifiers.
//! - [`record`]: the record format and an incremental [`record::RecordReader`].
//! - [`validation`]: client validators and message dependencies.
//! - [`store`]: the narrow [`store::SyncStore`] trait a session runs against.
//! - [`session`]: [`session::Session`], the sans-IO state machine.
//! - [`memory`]: an in-memory store for tests and simulations.

pub mod memory;
pub mod message;
pub mod record;
pub mod session;
pub mod store;
pub mod validation;

pub use message::{ClientId, Group, Message, MessageError};
pub use record::{Record, RecordError, RecordReader};
pub use session::{Mode, PeerError, Session, SessionConfig, SyncError, SyncEvent};
pub use store::{Changes, GroupEntry, MessageState, SyncStore, Visibility};
pub use validation::{Clients, Invalid, Validated, Validator, Validators};
