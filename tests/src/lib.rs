//! Spec conformance and cross-crate scenarios for Thicket.
//!
//! - [`model`]: a second, deliberately plain implementation of `spec/crypto.md` and
//!   `spec/stream.md` built straight from the primitives, sharing no code with
//!   `bramble-proto`. It generates the vectors in `spec/vectors/` (see the
//!   `make-vectors` binary) and builds invalid streams no conforming writer would make.
//! - [`vectors`]: loading the vector files.
//! - [`tornet`]: a private Tor network on loopback from Debian's `tor`, for the Tor
//!   transport's tests.
//!
//! The tests in `tests/` check `bramble-proto` against the vectors.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod generate;
pub mod model;
pub mod netns;
pub mod replay;
pub mod sim;
pub mod tornet;
pub mod vectors;
