//! Writing a stream (`spec/stream.md#writing`).

use alloc::vec::Vec;
use core::fmt;
use core::num::NonZeroU16;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::frame::{FrameCipher, MAX_FRAME_BODY};
use super::header::{self, NONCE_LEN};
use super::{OutgoingStream, StreamError};
use crate::crypto::SecretKey;

/// How much padding the writer adds to each frame (`spec/stream.md#padding`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Padding {
    /// No padding: a frame's body is exactly its payload.
    #[default]
    None,
    /// Each frame's body (payload plus padding) is rounded up to a multiple of this
    /// many bytes, capped at [`MAX_FRAME_BODY`](super::MAX_FRAME_BODY), so that
    /// frame sizes reveal less about message sizes.
    ToMultipleOf(NonZeroU16),
}

impl Padding {
    fn for_payload(self, payload_len: usize) -> usize {
        match self {
            Padding::None => 0,
            Padding::ToMultipleOf(m) => {
                let m = usize::from(m.get());
                let padded = payload_len.div_ceil(m).max(1) * m;
                padded.min(MAX_FRAME_BODY) - payload_len.min(MAX_FRAME_BODY)
            }
        }
    }
}

/// Turns plaintext into the bytes of one outgoing stream.
///
/// Bytes are appended to a caller-owned `Vec<u8>`: the tag and stream header by
/// [`StreamWriter::new`], then frames as they fill up or are flushed. Data passed to
/// [`StreamWriter::write`] is buffered until a full frame is ready or
/// [`StreamWriter::flush`] is called. [`StreamWriter::finish`] writes the final frame,
/// without which the reader reports the stream as truncated.
///
/// After an error the writer refuses further use: the stream must be abandoned.
pub struct StreamWriter {
    cipher: FrameCipher,
    pending: Zeroizing<Vec<u8>>,
    padding: Padding,
    failed: Option<StreamError>,
}

impl StreamWriter {
    /// Starts a stream: draws the header nonce (24 bytes) and then the stream secret
    /// (32 bytes) from `rng`, in that order, and appends the tag and the stream header
    /// to `out`.
    ///
    /// # Errors
    /// Only if the AEAD refuses to seal the header, which does not happen.
    pub fn new(
        stream: OutgoingStream,
        rng: &mut impl CryptoRng,
        out: &mut Vec<u8>,
    ) -> Result<Self, StreamError> {
        let mut nonce = [0u8; NONCE_LEN];
        rng.fill_bytes(&mut nonce);
        let stream_secret = SecretKey::random(rng);
        out.extend_from_slice(&stream.tag.0);
        header::seal(
            &stream.header_key,
            &stream.tag,
            stream.stream_number,
            &nonce,
            &stream_secret,
            out,
        )?;
        Ok(StreamWriter {
            cipher: FrameCipher::new(&stream_secret),
            // Allocated once at full size, so it never reallocates and leaves plaintext
            // behind in a freed buffer.
            pending: Zeroizing::new(Vec::with_capacity(MAX_FRAME_BODY)),
            padding: Padding::None,
            failed: None,
        })
    }

    /// Sets the padding policy for frames written from now on.
    pub fn set_padding(&mut self, padding: Padding) {
        self.padding = padding;
    }

    /// Bytes written but not yet sent in a frame.
    pub fn buffered(&self) -> usize {
        self.pending.len()
    }

    /// Frames written so far.
    pub fn frames_written(&self) -> u64 {
        self.cipher.frame_number()
    }

    fn check(&self) -> Result<(), StreamError> {
        self.failed.map_or(Ok(()), Err)
    }

    fn emit(
        cipher: &mut FrameCipher,
        padding: Padding,
        payload: &[u8],
        is_final: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), StreamError> {
        cipher.seal(payload, padding.for_payload(payload.len()), is_final, out)
    }

    fn fail<T>(&mut self, result: Result<T, StreamError>) -> Result<T, StreamError> {
        if let Err(e) = &result {
            self.failed = Some(*e);
        }
        result
    }

    /// Buffers `data`, appending a frame to `out` each time a full frame's worth is
    /// ready.
    ///
    /// # Errors
    /// [`StreamError::TooManyFrames`] if the stream reached its frame limit.
    pub fn write(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<(), StreamError> {
        self.check()?;
        while !data.is_empty() {
            if self.pending.is_empty() && data.len() >= MAX_FRAME_BODY {
                let (frame, rest) = data.split_at(MAX_FRAME_BODY);
                let r = Self::emit(&mut self.cipher, self.padding, frame, false, out);
                self.fail(r)?;
                data = rest;
                continue;
            }
            let take = (MAX_FRAME_BODY - self.pending.len()).min(data.len());
            let (head, rest) = data.split_at(take);
            self.pending.extend_from_slice(head);
            data = rest;
            if self.pending.len() == MAX_FRAME_BODY {
                let r = Self::emit(&mut self.cipher, self.padding, &self.pending, false, out);
                self.fail(r)?;
                self.pending.clear();
            }
        }
        Ok(())
    }

    /// Appends a frame holding whatever is buffered, even nothing (an empty frame keeps
    /// an idle connection alive).
    ///
    /// # Errors
    /// [`StreamError::TooManyFrames`] if the stream reached its frame limit.
    pub fn flush(&mut self, out: &mut Vec<u8>) -> Result<(), StreamError> {
        self.check()?;
        let r = Self::emit(&mut self.cipher, self.padding, &self.pending, false, out);
        self.fail(r)?;
        self.pending.clear();
        Ok(())
    }

    /// Appends the final frame, holding whatever is buffered, and ends the stream.
    ///
    /// # Errors
    /// As [`StreamWriter::write`], or an earlier error of this writer.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), StreamError> {
        self.check()?;
        Self::emit(&mut self.cipher, self.padding, &self.pending, true, out)
    }
}

impl fmt::Debug for StreamWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamWriter")
            .field("frames_written", &self.frames_written())
            .field("buffered", &self.buffered())
            .field("padding", &self.padding)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_policy() {
        let p = Padding::ToMultipleOf(NonZeroU16::new(256).unwrap());
        assert_eq!(p.for_payload(0), 256);
        assert_eq!(p.for_payload(1), 255);
        assert_eq!(p.for_payload(256), 0);
        assert_eq!(p.for_payload(257), 255);
        assert_eq!(p.for_payload(MAX_FRAME_BODY), 0);
        assert_eq!(p.for_payload(MAX_FRAME_BODY - 1), 1);
        assert_eq!(Padding::None.for_payload(100), 0);
    }
}
