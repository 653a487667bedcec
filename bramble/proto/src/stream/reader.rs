//! Reading a stream (`spec/stream.md#reading`).

use alloc::vec::Vec;
use core::fmt;

use zeroize::Zeroizing;

use super::frame::{FRAME_HEADER_LEN, FRAME_TAG_LEN, FrameCipher, FrameHeader};
use super::header::{self, STREAM_HEADER_LEN};
use super::{IncomingStream, StreamError, StreamTag};
use crate::crypto::SecretKey;

enum State {
    /// Waiting for the stream header.
    Header {
        tag: StreamTag,
        header_key: SecretKey,
        stream_number: u64,
    },
    /// Reading frames; `header` is the current frame's header once it has arrived.
    Frames {
        cipher: FrameCipher,
        header: Option<FrameHeader>,
    },
    /// The final frame was read.
    Ended,
    /// An error ended the stream.
    Failed(StreamError),
}

/// Turns the bytes of one recognised incoming stream back into plaintext.
///
/// Hand it every byte after the tag, in whatever pieces they arrive, with
/// [`StreamReader::handle_bytes`]; it appends plaintext to a caller-owned buffer one
/// authenticated frame at a time, so nothing unauthenticated is ever released. When the
/// transport reports the end of input, [`StreamReader::finish`] tells a clean end
/// (final frame seen) from a truncated stream.
///
/// The reader buffers at most one frame. After an error it refuses further input.
pub struct StreamReader {
    state: State,
    buf: Zeroizing<Vec<u8>>,
}

impl StreamReader {
    /// A reader for a stream whose tag [`IncomingKeys::recognise`] matched.
    ///
    /// [`IncomingKeys::recognise`]: super::IncomingKeys::recognise
    pub fn new(stream: IncomingStream) -> Self {
        StreamReader {
            state: State::Header {
                tag: stream.tag,
                header_key: stream.header_key,
                stream_number: stream.stream_number,
            },
            buf: Zeroizing::new(Vec::new()),
        }
    }

    /// Whether the final frame has been read.
    pub fn is_ended(&self) -> bool {
        matches!(self.state, State::Ended)
    }

    /// Call when the transport reports the end of input.
    ///
    /// # Errors
    /// [`StreamError::Truncated`] if the final frame has not been read, or the error
    /// that already ended the stream.
    pub fn finish(&self) -> Result<(), StreamError> {
        match &self.state {
            State::Ended => Ok(()),
            State::Failed(e) => Err(*e),
            _ => Err(StreamError::Truncated),
        }
    }

    fn fail(&mut self, e: StreamError) -> StreamError {
        self.state = State::Failed(e);
        self.buf.clear();
        e
    }

    /// Moves up to `want - buf.len()` bytes from `input` into the buffer; returns whether
    /// the buffer now holds `want` bytes.
    fn fill(&mut self, input: &mut &[u8], want: usize) -> bool {
        let need = want.saturating_sub(self.buf.len());
        let take = need.min(input.len());
        let (head, rest) = input.split_at(take);
        self.buf.extend_from_slice(head);
        *input = rest;
        self.buf.len() >= want
    }

    /// Consumes `input`, appending the payload of every frame it completes to `out`.
    ///
    /// # Errors
    /// A [`StreamError`] if the stream is invalid; the reader then refuses further
    /// input. Plaintext of frames completed before the error stays in `out`.
    pub fn handle_bytes(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), StreamError> {
        loop {
            match &mut self.state {
                State::Failed(e) => return Err(*e),
                State::Ended => {
                    if input.is_empty() {
                        return Ok(());
                    }
                    return Err(self.fail(StreamError::TrailingData));
                }
                State::Header { .. } => {
                    if !self.fill(&mut input, STREAM_HEADER_LEN) {
                        return Ok(());
                    }
                    let mut bytes = [0u8; STREAM_HEADER_LEN];
                    bytes.copy_from_slice(&self.buf[..STREAM_HEADER_LEN]);
                    self.buf.clear();
                    let State::Header {
                        tag,
                        header_key,
                        stream_number,
                    } = &self.state
                    else {
                        return Ok(());
                    };
                    match header::open(header_key, tag, *stream_number, &bytes) {
                        Ok(secret) => {
                            self.state = State::Frames {
                                cipher: FrameCipher::new(&secret),
                                header: None,
                            }
                        }
                        Err(e) => return Err(self.fail(e)),
                    }
                }
                State::Frames { header: None, .. } => {
                    let masked = if self.buf.is_empty() && input.len() >= FRAME_HEADER_LEN {
                        let (h, rest) = input.split_at(FRAME_HEADER_LEN);
                        input = rest;
                        h
                    } else if self.fill(&mut input, FRAME_HEADER_LEN) {
                        &self.buf[..FRAME_HEADER_LEN]
                    } else {
                        return Ok(());
                    };
                    let mut bytes = [0u8; FRAME_HEADER_LEN];
                    bytes.copy_from_slice(masked);
                    self.buf.clear();
                    let State::Frames { cipher, header } = &mut self.state else {
                        return Ok(());
                    };
                    match cipher.open_header(bytes) {
                        Ok(h) => *header = Some(h),
                        Err(e) => return Err(self.fail(e)),
                    }
                }
                State::Frames {
                    header: Some(h), ..
                } => {
                    let h = *h;
                    let sealed_len = h.body_len() + FRAME_TAG_LEN;
                    let from_input = self.buf.is_empty() && input.len() >= sealed_len;
                    if !from_input && !self.fill(&mut input, sealed_len) {
                        return Ok(());
                    }
                    let State::Frames { cipher, header } = &mut self.state else {
                        return Ok(());
                    };
                    let opened = if from_input {
                        let (sealed, rest) = input.split_at(sealed_len);
                        input = rest;
                        cipher.open_body(&h, sealed, out)
                    } else {
                        cipher.open_body(&h, &self.buf, out)
                    };
                    self.buf.clear();
                    if let Err(e) = opened {
                        return Err(self.fail(e));
                    }
                    *header = None;
                    if h.is_final {
                        self.state = State::Ended;
                    }
                }
            }
        }
    }
}

impl fmt::Debug for StreamReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Header { .. } => "header",
            State::Frames { .. } => "frames",
            State::Ended => "ended",
            State::Failed(_) => "failed",
        };
        f.debug_struct("StreamReader")
            .field("state", &state)
            .field("buffered", &self.buf.len())
            .finish()
    }
}
