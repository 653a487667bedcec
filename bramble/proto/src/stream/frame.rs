//! Frames (`spec/stream.md#frames`).
//!
//! ```text
//! frame_i = (H_i ⊕ K[4i .. 4i+4]) ‖ ChaCha20-Poly1305(frame_key, nonce_i, aad = H_i,
//!                                                      payload ‖ 0^padding_len)
//! H_i     = u16be(payload_len | final << 15) ‖ u16be(padding_len)
//! nonce_i = 0x00000000 ‖ u64be(i)
//! K       = ChaCha20 keystream under frame_header_key, nonce 0, from block 0
//! ```
//!
//! Frame headers are masked so that frame boundaries and lengths are hidden, and
//! authenticated as the frame's associated data so that a changed header fails the
//! frame. One keystream serves all of a stream's frame headers in order, so masking
//! costs one ChaCha20 block per 16 frames.

use alloc::vec::Vec;

use chacha20::cipher::{KeyIvInit, StreamCipher};
use chacha20poly1305::aead::AeadInOut;
use chacha20poly1305::aead::inout::InOutBuf;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce, Tag};

use super::{MAX_FRAME_NUMBER, StreamError};
use crate::crypto::{SecretKey, kdf, label};

pub(crate) const FRAME_HEADER_LEN: usize = 4;
pub(crate) const FRAME_TAG_LEN: usize = 16;
/// Bytes a frame adds to its body: the masked frame header and the AEAD tag.
pub const FRAME_OVERHEAD: usize = FRAME_HEADER_LEN + FRAME_TAG_LEN;
/// The largest frame body (payload plus padding).
pub const MAX_FRAME_BODY: usize = 32_767;
const FINAL: u16 = 0x8000;

/// A decoded frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FrameHeader {
    payload_len: u16,
    padding_len: u16,
    pub(crate) is_final: bool,
}

impl FrameHeader {
    /// A header for a frame body of `payload_len + padding_len` bytes.
    fn new(payload_len: usize, padding_len: usize, is_final: bool) -> Result<Self, StreamError> {
        let too_large = |_| StreamError::FrameTooLarge;
        let header = FrameHeader {
            payload_len: u16::try_from(payload_len).map_err(too_large)?,
            padding_len: u16::try_from(padding_len).map_err(too_large)?,
            is_final,
        };
        if header.body_len() > MAX_FRAME_BODY {
            return Err(StreamError::FrameTooLarge);
        }
        Ok(header)
    }

    pub(crate) fn payload_len(&self) -> usize {
        usize::from(self.payload_len)
    }

    pub(crate) fn body_len(&self) -> usize {
        usize::from(self.payload_len) + usize::from(self.padding_len)
    }

    fn encode(&self) -> [u8; FRAME_HEADER_LEN] {
        // Both lengths are below 2^15 (`new` and `decode` check the sum).
        let payload = self.payload_len | if self.is_final { FINAL } else { 0 };
        let [a, b] = payload.to_be_bytes();
        let [c, d] = self.padding_len.to_be_bytes();
        [a, b, c, d]
    }

    fn decode(bytes: [u8; FRAME_HEADER_LEN]) -> Result<Self, StreamError> {
        let [a, b, c, d] = bytes;
        let first = u16::from_be_bytes([a, b]);
        Self::new(
            usize::from(first & !FINAL),
            usize::from(u16::from_be_bytes([c, d])),
            first & FINAL != 0,
        )
    }
}

/// The per-stream frame keys and counters, shared by writer and reader.
pub(crate) struct FrameCipher {
    aead: ChaCha20Poly1305,
    mask: chacha20::ChaCha20,
    frame_number: u64,
}

impl FrameCipher {
    pub(crate) fn new(stream_secret: &SecretKey) -> Self {
        let frame_key = kdf(label::STREAM_FRAME_KEY, stream_secret, &[]);
        let mask_key = kdf(label::STREAM_FRAME_HEADER_KEY, stream_secret, &[]);
        FrameCipher {
            aead: ChaCha20Poly1305::new(frame_key.expose_secret().into()),
            mask: chacha20::ChaCha20::new(mask_key.expose_secret().into(), &[0u8; 12].into()),
            frame_number: 0,
        }
    }

    pub(crate) fn frame_number(&self) -> u64 {
        self.frame_number
    }

    fn nonce(&self) -> Nonce {
        let mut nonce = [0u8; 12];
        nonce[4..].copy_from_slice(&self.frame_number.to_be_bytes());
        Nonce::from(nonce)
    }

    fn apply_mask(&mut self, header: &mut [u8; FRAME_HEADER_LEN]) -> Result<(), StreamError> {
        self.mask
            .try_apply_keystream(header)
            .map_err(|_| StreamError::TooManyFrames)
    }

    /// Appends one frame to `out`: `payload` followed by `padding_len` zero bytes.
    ///
    /// On error nothing is appended, and the cipher must not be used again.
    pub(crate) fn seal(
        &mut self,
        payload: &[u8],
        padding_len: usize,
        is_final: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), StreamError> {
        let n = self.frame_number;
        if n > MAX_FRAME_NUMBER || (n == MAX_FRAME_NUMBER && !is_final) {
            return Err(StreamError::TooManyFrames);
        }
        let header = FrameHeader::new(payload.len(), padding_len, is_final)?;
        let plain_header = header.encode();
        let mut masked = plain_header;
        self.apply_mask(&mut masked)?;
        let start = out.len();
        out.extend_from_slice(&masked);
        let body = start + FRAME_HEADER_LEN;
        out.resize(body + header.body_len(), 0);
        let nonce = self.nonce();
        let sealed = if padding_len == 0 {
            let buf =
                InOutBuf::new(payload, &mut out[body..]).map_err(|_| StreamError::FrameTooLarge);
            buf.and_then(|buf| {
                self.aead
                    .encrypt_inout_detached(&nonce, &plain_header, buf)
                    .map_err(|_| StreamError::FrameTooLarge)
            })
        } else {
            out[body..body + payload.len()].copy_from_slice(payload);
            self.aead
                .encrypt_inout_detached(&nonce, &plain_header, (&mut out[body..]).into())
                .map_err(|_| StreamError::FrameTooLarge)
        };
        match sealed {
            Ok(tag) => {
                out.extend_from_slice(&tag);
                self.frame_number = n + 1;
                Ok(())
            }
            Err(e) => {
                out.truncate(start);
                Err(e)
            }
        }
    }

    /// Unmasks and checks the next frame header.
    pub(crate) fn open_header(
        &mut self,
        mut masked: [u8; FRAME_HEADER_LEN],
    ) -> Result<FrameHeader, StreamError> {
        if self.frame_number > MAX_FRAME_NUMBER {
            return Err(StreamError::TooManyFrames);
        }
        self.apply_mask(&mut masked)?;
        let header = FrameHeader::decode(masked)?;
        if self.frame_number == MAX_FRAME_NUMBER && !header.is_final {
            return Err(StreamError::TooManyFrames);
        }
        Ok(header)
    }

    /// Authenticates and decrypts the body of the frame whose `header` was just
    /// opened, appending only the payload to `out`. `sealed` is the body ciphertext
    /// followed by the 16-byte tag.
    ///
    /// On error nothing is appended.
    pub(crate) fn open_body(
        &mut self,
        header: &FrameHeader,
        sealed: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), StreamError> {
        let body_len = header.body_len();
        if sealed.len() != body_len + FRAME_TAG_LEN {
            return Err(StreamError::FrameAuthentication);
        }
        let (ciphertext, tag) = sealed.split_at(body_len);
        let tag = Tag::try_from(tag).map_err(|_| StreamError::FrameAuthentication)?;
        let start = out.len();
        out.resize(start + body_len, 0);
        let nonce = self.nonce();
        let opened = InOutBuf::new(ciphertext, &mut out[start..])
            .map_err(|_| StreamError::FrameAuthentication)
            .and_then(|buf| {
                self.aead
                    .decrypt_inout_detached(&nonce, &header.encode(), buf, &tag)
                    .map_err(|_| StreamError::FrameAuthentication)
            });
        if let Err(e) = opened {
            out.truncate(start);
            return Err(e);
        }
        let payload_end = start + header.payload_len();
        if out[payload_end..].iter().any(|&b| b != 0) {
            out.truncate(start);
            return Err(StreamError::NonZeroPadding);
        }
        out.truncate(payload_end);
        self.frame_number += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seals a frame whose padding is `padding`, which need not be zeros.
    fn seal_raw(c: &mut FrameCipher, payload: &[u8], padding: &[u8], is_final: bool) -> Vec<u8> {
        let header = FrameHeader::new(payload.len(), padding.len(), is_final).unwrap();
        let plain_header = header.encode();
        let mut out = plain_header.to_vec();
        c.apply_mask((&mut out[..4]).try_into().unwrap()).unwrap();
        let mut body = [payload, padding].concat();
        let tag = c
            .aead
            .encrypt_inout_detached(&c.nonce(), &plain_header, (&mut body[..]).into())
            .unwrap();
        out.extend_from_slice(&body);
        out.extend_from_slice(&tag);
        c.frame_number += 1;
        out
    }

    fn open(
        c: &mut FrameCipher,
        frame: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<FrameHeader, StreamError> {
        let h = c.open_header(frame[..4].try_into().unwrap())?;
        c.open_body(&h, &frame[4..], out)?;
        Ok(h)
    }

    #[test]
    fn zero_padding_is_accepted_and_stripped() {
        let secret = SecretKey::from_bytes([5; 32]);
        let (mut w, mut r) = (FrameCipher::new(&secret), FrameCipher::new(&secret));
        let frame = seal_raw(&mut w, b"ab", &[0, 0, 0], false);
        let mut out = Vec::new();
        assert!(!open(&mut r, &frame, &mut out).unwrap().is_final);
        assert_eq!(out, b"ab");
    }

    #[test]
    fn non_zero_padding_is_rejected() {
        let secret = SecretKey::from_bytes([5; 32]);
        for padding in [[1u8, 0, 0], [0, 0, 0x80]] {
            let (mut w, mut r) = (FrameCipher::new(&secret), FrameCipher::new(&secret));
            let frame = seal_raw(&mut w, b"ab", &padding, true);
            let mut out = Vec::new();
            assert_eq!(
                open(&mut r, &frame, &mut out),
                Err(StreamError::NonZeroPadding)
            );
            assert!(out.is_empty(), "nothing released");
        }
    }

    #[test]
    fn header_masks_follow_frame_order() {
        // The same empty frame sealed twice has different header bytes: the mask moves on.
        let secret = SecretKey::from_bytes([6; 32]);
        let mut w = FrameCipher::new(&secret);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        w.seal(&[], 0, false, &mut a).unwrap();
        w.seal(&[], 0, false, &mut b).unwrap();
        assert_eq!(a.len(), FRAME_HEADER_LEN + FRAME_TAG_LEN);
        assert_ne!(a[..4], b[..4]);
        // Swapping frames fails: each frame is bound to its position.
        let mut r = FrameCipher::new(&secret);
        let mut out = Vec::new();
        assert!(open(&mut r, &b, &mut out).is_err());
    }

    #[test]
    fn header_encoding() {
        let h = FrameHeader::new(300, 12, true).unwrap();
        assert_eq!(h.encode(), [0x81, 0x2c, 0x00, 0x0c]);
        assert_eq!(FrameHeader::decode(h.encode()).unwrap(), h);
        assert_eq!(
            FrameHeader::decode([0x7f, 0xff, 0x00, 0x01]).unwrap_err(),
            StreamError::FrameTooLarge
        );
        assert_eq!(
            FrameHeader::decode([0x00, 0x00, 0x80, 0x00]).unwrap_err(),
            StreamError::FrameTooLarge
        );
        assert!(FrameHeader::new(MAX_FRAME_BODY, 1, false).is_err());
    }
}
