//! What the engine tells user interfaces, and what it shows them of contacts.

use bramble_proto::contact::Link;
use bramble_proto::ids::MessageId;
use bramble_proto::messaging::DeliveryState;
use bramble_proto::time::Timestamp;
use bramble_proto::transport::TransportId;
use bramble_store::{Contact, ContactId, PendingContactId};
use thicket_transport::Status;

/// What the engine tells user interfaces.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A contact's message arrived and may be shown.
    MessageReceived {
        /// From whom.
        contact: ContactId,
        /// The message.
        id: MessageId,
    },
    /// One of our messages changed delivery state.
    DeliveryChanged {
        /// To whom.
        contact: ContactId,
        /// The message.
        id: MessageId,
        /// Its new state.
        state: DeliveryState,
    },
    /// A handshake completed on our side: a new contact.
    ContactAdded {
        /// The contact.
        contact: ContactId,
    },
    /// A sync connection to a contact opened.
    ContactConnected {
        /// The contact.
        contact: ContactId,
        /// Over which transport.
        transport: TransportId,
    },
    /// A sync connection to a contact closed.
    ContactDisconnected {
        /// The contact.
        contact: ContactId,
        /// Over which transport.
        transport: TransportId,
    },
    /// A pending contact moved on.
    PendingChanged {
        /// The pending contact.
        pending: PendingContactId,
        /// Its new state.
        state: PendingState,
    },
    /// How many contacts a broadcast transport (LAN, BLE) sees nearby, and how many
    /// are connected over it, when either changes.
    Nearby {
        /// The transport.
        transport: TransportId,
        /// Contacts whose beacon is in sight.
        seen: usize,
        /// Contacts with a connection over it.
        connected: usize,
    },
    /// A transport's status changed.
    TransportStatus {
        /// The transport.
        transport: TransportId,
        /// Its status.
        status: Status,
    },
}

/// A contact as a contact list shows it: [`Engine::overview`](crate::Engine::overview).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactOverview {
    /// The contact.
    pub contact: Contact,
    /// Received messages not read yet.
    pub unread: u64,
    /// When the latest message either way was written.
    pub last: Option<Timestamp>,
}

/// Where a pending contact stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PendingState {
    /// Waiting for the other side's first handshake stream.
    Waiting,
    /// The other side's key arrived; waiting for its contact info.
    AwaitingInfo,
    /// We hold the other side's info (the contact exists); waiting for proof that it
    /// holds ours.
    Completed(ContactId),
    /// The peer's last handshake records were refused, for this reason
    /// (spec/contacts.md#pending-contacts). It keeps its state and may still move on
    /// or complete; the user may remove it and add the link again.
    Failed(String),
    /// Removed: it expired before completing.
    Expired,
}

/// A pending contact as shown to the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingInfo {
    /// Its identifier.
    pub id: PendingContactId,
    /// The name the user gave the link.
    pub alias: String,
    /// The link.
    pub link: Link,
    /// When it was added.
    pub added_at: Timestamp,
    /// When it will be removed unless completed.
    pub expires_at: Timestamp,
    /// Where it stands.
    pub state: PendingState,
}
