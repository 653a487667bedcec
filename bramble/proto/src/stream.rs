//! The stream layer (`spec/stream.md`): encrypted, authenticated, forward-secret one-way
//! streams that look like random bytes to anyone but the two contacts.
//!
//! ```text
//! stream = tag (16) ‖ stream header (82) ‖ frame₀ ‖ frame₁ ‖ … ‖ final frame
//! ```
//!
//! - [`TransportKeys`] holds one contact's keys for one transport: the outgoing keys of
//!   the current period and the incoming keys of the previous, current and next period,
//!   each with a reordering window. [`TransportKeys::rotate_to`] moves it forward and
//!   erases what is no longer needed; nothing moves it back.
//! - [`OutgoingKeys::next_stream`] hands out stream numbers and their tags;
//!   [`IncomingKeys::recognise`] matches a received tag.
//! - [`StreamWriter`] turns plaintext into stream bytes; [`StreamReader`] turns stream
//!   bytes, split in any way, back into plaintext and tells a clean end from truncation.

mod frame;
mod header;
mod keys;
mod reader;
mod window;
mod writer;

pub use frame::{FRAME_OVERHEAD, MAX_FRAME_BODY};
pub use header::{STREAM_HEADER_LEN, STREAM_PREFIX_LEN};
pub use keys::{
    IncomingKeys, IncomingPeriodState, IncomingStream, MAX_ROTATION, OutgoingKeys, OutgoingState,
    OutgoingStream, Role, RootKey, TransportKeys, TransportKeysState,
};
pub use reader::StreamReader;
pub use window::WINDOW_SIZE;
pub use writer::{Padding, StreamWriter};

use core::fmt;

/// The stream protocol version, bound into every tag and stream header.
pub const PROTOCOL_VERSION: u16 = 1;
/// Bytes of the tag that opens a stream.
pub const TAG_LEN: usize = 16;
/// The largest stream number in one period.
pub const MAX_STREAM_NUMBER: u64 = u32::MAX as u64;
/// The largest frame number in one stream.
pub const MAX_FRAME_NUMBER: u64 = u32::MAX as u64;

/// The pseudo-random tag that opens a stream: only the intended contact can tell it
/// from random bytes (`spec/stream.md#tags`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamTag(pub [u8; TAG_LEN]);

impl fmt::Debug for StreamTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StreamTag(")?;
        for b in &self.0[..4] {
            write!(f, "{b:02x}")?;
        }
        write!(f, "…)")
    }
}

/// Why a stream could not be read or written (`spec/stream.md#errors`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// The input ended before the final frame: the stream was cut short.
    #[error("stream truncated")]
    Truncated,
    /// The stream header failed authentication.
    #[error("stream header failed authentication")]
    HeaderAuthentication,
    /// The stream header names a protocol version this build does not speak.
    #[error("unsupported stream version")]
    UnsupportedVersion,
    /// The stream header names another stream number than its tag.
    #[error("stream number does not match tag")]
    StreamNumberMismatch,
    /// A frame header declares a body larger than [`MAX_FRAME_BODY`].
    #[error("frame too large")]
    FrameTooLarge,
    /// A frame failed authentication.
    #[error("frame failed authentication")]
    FrameAuthentication,
    /// A frame's padding is not all zeros.
    #[error("non-zero padding")]
    NonZeroPadding,
    /// Bytes follow the final frame.
    #[error("data after the final frame")]
    TrailingData,
    /// A stream would exceed [`MAX_FRAME_NUMBER`] frames.
    #[error("too many frames in one stream")]
    TooManyFrames,
    /// Every stream number of the current period has been used; wait for the next.
    #[error("stream numbers of this period exhausted")]
    StreamNumbersExhausted,
    /// A period number outside what key derivation allows (period 0, or overflow).
    #[error("invalid period")]
    InvalidPeriod,
    /// Stored key state is inconsistent.
    #[error("invalid stored key state")]
    InvalidState,
}

impl StreamError {
    /// Whether the error means the peer (or the channel) sent bytes that are not a valid
    /// stream, as opposed to a local limit or bad local state.
    pub fn is_from_peer(&self) -> bool {
        matches!(
            self,
            StreamError::Truncated
                | StreamError::HeaderAuthentication
                | StreamError::UnsupportedVersion
                | StreamError::StreamNumberMismatch
                | StreamError::FrameTooLarge
                | StreamError::FrameAuthentication
                | StreamError::NonZeroPadding
                | StreamError::TrailingData
                | StreamError::TooManyFrames
        )
    }
}
