//! Thicket's transport interface (`ARCHITECTURE.md#transports`), and the two transports
//! every build has: [`memory`] (in-process, for tests) and [`file`](mod@file) (streams carried as
//! files on a removable drive).
//!
//! A transport moves opaque bytes: every stream it carries starts with a tag only the
//! intended contact recognises and is encrypted end to end by the engine. A transport
//! never sees a contact's identity; it knows only addresses (its own
//! [`Transport::local_properties`], a contact's published properties to
//! [`Transport::dial`]) and rendezvous points of pending contacts.
//!
//! Duplex transports hand the engine connections (both directions at once); one-way
//! transports carry single streams, written and read whole (see [`file`](mod@file)).

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bramble_proto::crypto::SecretKey;
use bramble_proto::stream::Role;
use bramble_proto::transport::{Beacon, TransportId};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};

pub mod file;
pub mod memory;

/// A boxed future, for the object-safe [`Transport`] trait.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A duplex byte pipe to a peer.
pub trait Connection: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Connection for T {}

/// A connection, boxed.
pub type BoxConnection = Box<dyn Connection>;

/// Whether a transport carries conversations or single streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Connections carry a stream each way at once (Tor, LAN, BLE, memory).
    Duplex,
    /// Each stream travels alone, one way, possibly days later (files).
    OneWay,
}

/// What a transport can do right now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Status {
    /// Not started.
    Stopped,
    /// Starting (Tor bootstrapping, a radio powering up): how far, in percent, and what
    /// it is doing, in words for the user.
    Starting {
        /// 0 to 100.
        percent: u8,
        /// What it is doing.
        detail: String,
    },
    /// Accepting and making connections.
    Up,
    /// Making connections, but contacts may not reach us yet (for Tor: our onion service
    /// is not published), with the reason in words for the user.
    Limited(String),
    /// Not usable, with the reason in words for the user.
    Down(String),
}

/// Where a pending contact and we meet before either knows the other's addresses
/// (`spec/contacts.md#rendezvous`).
#[derive(Clone, Debug)]
pub struct RendezvousPoint {
    /// A local name for this rendezvous, the same for all its periods (never sent).
    pub id: u64,
    /// Our role: on transports where one side listens and the other dials, Alice
    /// listens.
    pub role: Role,
    /// The label of our current period, for broadcast transports: Alice announces it.
    pub label: Beacon,
    /// The labels of the periods before, at and after ours: Bob looks for them (the
    /// two clocks may be in neighbouring periods).
    pub sought: [Beacon; 3],
    /// Seed of the rendezvous onion service we host.
    pub our_onion_seed: SecretKey,
    /// Seed of the rendezvous onion service the peer hosts.
    pub their_onion_seed: SecretKey,
}

/// A contact to reach over a duplex transport.
#[derive(Clone, Debug, Default)]
pub struct Peer {
    /// The addresses the contact published for this transport (empty if none).
    pub properties: BTreeMap<String, String>,
    /// For broadcast transports ([`Transport::broadcasts`]): the beacons the contact
    /// announces in the periods before, at and after ours (`spec/stream.md#beacons`).
    /// Empty for other transports.
    pub beacons: Vec<Beacon>,
}

impl Peer {
    /// A target known only by its published properties.
    pub fn at(properties: BTreeMap<String, String>) -> Peer {
        Peer {
            properties,
            beacons: Vec::new(),
        }
    }
}

/// How to build a transport once the account is unlocked: transports that need a secret
/// of their own (Tor's onion service key) get it from the encrypted store.
pub trait TransportSetup: Send {
    /// The transport this builds.
    fn id(&self) -> TransportId;

    /// Builds the transport from its secret: 32 random bytes made when the account first
    /// builds this transport and kept in the encrypted store ever after. Must be cheap and
    /// must not touch the network: the engine also builds transports only to learn
    /// their [`Transport::local_properties`].
    ///
    /// # Errors
    /// The transport cannot be built (bad configuration).
    fn build(self: Box<Self>, secret: &SecretKey) -> io::Result<Arc<dyn Transport>>;
}

/// A transport that needs no secret, as a [`TransportSetup`].
#[derive(Clone)]
pub struct Ready(pub Arc<dyn Transport>);

impl std::fmt::Debug for Ready {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Ready").field(&self.0.id()).finish()
    }
}

impl TransportSetup for Ready {
    fn id(&self) -> TransportId {
        self.0.id()
    }

    fn build(self: Box<Self>, _secret: &SecretKey) -> io::Result<Arc<dyn Transport>> {
        Ok(self.0)
    }
}

/// One transport. Implementations are cheap handles (an `Arc` inside); every method may
/// be called from any task.
pub trait Transport: Send + Sync + 'static {
    /// The transport's identifier, which keys are derived for.
    fn id(&self) -> TransportId;

    /// The longest a stream may take to arrive; sets the period length and
    /// retransmission timers.
    fn max_latency(&self) -> Duration;

    /// Duplex or one-way.
    fn kind(&self) -> Kind;

    /// Starts listening; every connection that arrives is sent to `incoming`. A
    /// transport that cannot listen (one-way) returns at once.
    ///
    /// # Errors
    /// The transport could not start.
    fn start(&self, incoming: mpsc::Sender<BoxConnection>) -> BoxFuture<'_, io::Result<()>>;

    /// Our addresses on this transport, published to contacts in contact info.
    fn local_properties(&self) -> BTreeMap<String, String>;

    /// Connects to a contact: where a broadcast transport saw one of its beacons, else
    /// at the addresses it published.
    ///
    /// # Errors
    /// Unreachable, refused, or not a duplex transport.
    fn dial<'a>(&'a self, target: &'a Peer) -> BoxFuture<'a, io::Result<BoxConnection>>;

    /// Whether this transport finds contacts by beacons (LAN, BLE). If so, the engine
    /// calls [`Transport::announce`] with every contact's current beacon and dials a
    /// contact when [`Transport::sighted`] reports one of its beacons.
    fn broadcasts(&self) -> bool {
        false
    }

    /// The beacons to announce, one per contact, replacing the previous set. Called
    /// often with the same set; only a change should cost anything.
    fn announce(&self, _beacons: Vec<Beacon>) {}

    /// When one of `beacons` was last newly seen announced, if one is in sight.
    fn sighted(&self, _beacons: &[Beacon]) -> Option<std::time::Instant> {
        None
    }

    /// Tries to meet a pending contact: makes sure our side of the rendezvous is up
    /// (connections to it arrive through [`Transport::start`]'s channel) and, where
    /// this side dials, dials the peer's. `Ok(None)` when there is nothing to dial yet.
    ///
    /// # Errors
    /// The transport failed (not: the peer is absent, which is `Ok(None)`).
    fn rendezvous<'a>(
        &'a self,
        point: &'a RendezvousPoint,
    ) -> BoxFuture<'a, io::Result<Option<BoxConnection>>>;

    /// Stops our side of the rendezvous `id` (the pending contact was confirmed, expired
    /// or removed).
    fn end_rendezvous(&self, id: u64);

    /// The transport's status as it changes.
    fn status(&self) -> watch::Receiver<Status>;
}
