//! The terminal interface: `thicket` with no command.
//!
//! [`app`] is the whole interface as data: what is shown, and what each key does. It
//! never calls the engine; it returns [`app::Request`]s for the caller to run, and takes
//! the answers (and the engine's events) as [`app::Update`]s, so typing never waits
//! for the database or a transport. [`view`] draws an [`app::App`] on a ratatui frame.

pub(crate) mod app;
pub(crate) mod gate;
pub(crate) mod qr;
pub(crate) mod run;
pub(crate) mod view;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests;

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod gate_tests;
