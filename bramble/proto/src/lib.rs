//! The sans-IO core of Thicket's sync engine ("bramble").
//!
//! This crate holds the protocol logic and nothing else:
//!
//! - [`crypto`]: the primitives of `spec/crypto.md` behind labelled, length-framed
//!   hash/MAC/KDF functions, X25519 key agreement, Ed25519 signatures and an AEAD.
//! - [`wire`]: the canonical encoding of structured bodies (`spec/encoding.md`).
//! - [`stream`]: the stream layer (`spec/stream.md`): per-period key state, tags, the
//!   reordering window, [`stream::StreamWriter`] and [`stream::StreamReader`].
//! - [`sync`]: the sync layer (`spec/sync.md`): groups, messages, records, and
//!   [`sync::Session`], the state machine that acknowledges, offers, requests, sends and
//!   retransmits over one connection or one-way stream, against a narrow
//!   [`sync::SyncStore`] trait (with an in-memory implementation for tests).
//! - [`contact`]: contact links, the rendezvous, the handshake and contact exchange,
//!   and safety numbers (`spec/contacts.md`).
//! - [`messaging`]: the private messaging client (`spec/messaging.md`).
//! - [`time`] and [`transport`]: timestamps, time periods and transport identifiers.
//!
//! # The sans-IO contract
//!
//! Nothing in this crate performs I/O, reads a clock, spawns a thread or draws ambient
//! randomness. The crate is `#![no_std]` (with `alloc`), so none of those facilities is
//! even reachable, and `clippy.toml` bans the ambient clock and RNG functions besides.
//! Instead:
//!
//! - **time** is an argument: callers pass a [`time::Timestamp`] (milliseconds since the
//!   Unix epoch) or a [`time::Period`] wherever a decision depends on the clock;
//! - **randomness** is an argument: anything that needs fresh secrets takes
//!   `&mut impl rand_core::CryptoRng`;
//! - **bytes in and out** are slices and `Vec`s: a writer appends the bytes it produces
//!   to a caller-owned buffer, and a reader is handed bytes in whatever pieces the
//!   transport delivered them.
//!
//! The caller (the async engine, or a test harness with virtual time) owns sockets,
//! files, clocks and the database, and decides when to persist state.
//!
//! # Order of calls on a stream
//!
//! Sending: derive or load [`stream::TransportKeys`], call
//! [`stream::TransportKeys::rotate_to`] with the current period, take the next stream
//! with [`stream::OutgoingKeys::next_stream`] and **persist the incremented stream
//! counter before any byte leaves**, then drive a [`stream::StreamWriter`]
//! (`write`, `flush`, `finish`).
//!
//! Receiving: read the first [`stream::TAG_LEN`] bytes, offer them to
//! [`stream::IncomingKeys::recognise`] (which marks the stream number as seen; persist
//! the window), then feed every further byte to a [`stream::StreamReader`] and call
//! [`stream::StreamReader::finish`] when the transport reports the end of input, to tell
//! a clean end from a truncated stream.
//!
//! # Order of calls on a sync session
//!
//! A [`sync::Session`] sits on a stream pair (duplex) or one stream (batch): hand it the
//! plaintext the [`stream::StreamReader`] releases with `handle_input`, then drain
//! `poll_transmit` into the [`stream::StreamWriter`] and flush, then drain `poll_event`;
//! arm a timer from `poll_timeout` and call `handle_timeout` when it fires; call
//! `notify_store_changed` when a message is added outside the session, and `close` when
//! the connection ends. Each call that takes the store commits at most once, and
//! acknowledges only what that commit made durable. The module docs of
//! [`sync::session`] give the details.
//!
//! # Secrets
//!
//! Every secret type zeroizes its memory on drop and prints as `<redacted>` in `Debug`.
//! Raw secret bytes are reachable only through methods named `expose_secret`, which exist
//! for the encrypted store.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod contact;
pub mod crypto;
pub mod ids;
pub mod messaging;
pub mod stream;
pub mod sync;

pub mod time;
pub mod transport;
pub mod wire;
