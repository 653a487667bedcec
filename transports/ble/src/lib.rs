//! Thicket's Bluetooth LE transport (`spec/ble.md`): what goes on the air, as code with
//! no I/O.
//!
//! - [`advert`]: the advertised UUID that announces a beacon or rendezvous label with a
//!   fresh salt (only a holder of the value recognises it), the rotation through the
//!   values a device advertises, and the table of UUIDs seen nearby.
//! - [`pipe`]: the byte pipe that carries a stream over one GATT characteristic: frames
//!   sized to the ATT MTU, sequence numbers that catch a lost frame, a window of 32
//!   frames, and a clean close.
//! - [`link`]: a pipe as an `AsyncRead + AsyncWrite` connection for the engine, and the
//!   driver through which the radio moves its values.
//!
//! The radio side (btleplug for the central role, bluer for the peripheral role on
//! Linux) drives these; see `ARCHITECTURE.md#transports`.

pub mod advert;
pub mod link;
pub mod pipe;
