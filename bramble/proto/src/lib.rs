//! The sans-IO core of Thicket's sync engine ("bramble").
//!
//! This crate holds the protocol logic and nothing else:
//!
//! - [`crypto`]: the primitives of `spec/crypto.md` behind labelled, length-framed
//!   hash/MAC/KDF functions, X25519 key agreement, Ed25519 signatures and an AEAD.
//! - [`wire`]: the canonical encoding of structured bodies (`spec/encoding.md`).
//! - [`stream`]: the stream layer (`spec/stream.md`): per-period key state, tags, the
//!   reordering window, [`stream::StreamWriter`] and [`stream::StreamReader`].
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
//! # Secrets
//!
//! Every secret type zeroizes its memory on drop and prints as `<redacted>` in `Debug`.
//! Raw secret bytes are reachable only through methods named `expose_secret`, which exist
//! for the encrypted store.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod crypto;
pub mod ids;
pub mod stream;

pub mod time;
pub mod transport;
pub mod wire;
