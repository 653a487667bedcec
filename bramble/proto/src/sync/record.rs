//! Sync records (`spec/sync.md#records`): the units a sync session writes into a stream.
//!
//! ```text
//! record = u8 version (1) ‖ u8 type ‖ u16be payload length ‖ payload
//! ```
//!
//! [`RecordReader`] takes a stream's plaintext in any pieces and returns whole records,
//! checking every header before buffering its payload, so no record costs more memory
//! than [`MAX_RECORD_PAYLOAD`] bytes.

use alloc::vec::Vec;
use core::fmt;

use zeroize::Zeroizing;

use super::message::{MAX_MESSAGE_LEN, MESSAGE_HEADER_LEN, Message, MessageError};
use crate::ids::MessageId;

/// The record format version.
pub const RECORD_VERSION: u8 = 1;
/// Bytes of a record header.
pub const RECORD_HEADER_LEN: usize = 4;
/// The largest record payload.
pub const MAX_RECORD_PAYLOAD: usize = 49_152;
/// The most message identifiers in one ACK, OFFER or REQUEST.
pub const MAX_IDS: usize = MAX_RECORD_PAYLOAD / 32;
/// The most ranges in one RECEIVED record.
pub const MAX_RANGES: usize = MAX_RECORD_PAYLOAD / 8;
/// The most versions in one VERSIONS record.
pub const MAX_VERSIONS: usize = 10;
/// Bytes of a PRIORITY record's nonce.
pub const PRIORITY_LEN: usize = 16;

/// Record type bytes (`spec/sync.md#records`).
pub mod record_type {
    /// ACK: message identifiers we hold.
    pub const ACK: u8 = 0;
    /// MESSAGE: one raw message.
    pub const MESSAGE: u8 = 1;
    /// OFFER: identifiers of messages we could send.
    pub const OFFER: u8 = 2;
    /// REQUEST: identifiers of offered messages we want.
    pub const REQUEST: u8 = 3;
    /// VERSIONS: the sync versions we speak.
    pub const VERSIONS: u8 = 4;
    /// PRIORITY: a nonce that picks one of two redundant connections.
    pub const PRIORITY: u8 = 5;
    /// RECEIVED: message numbers of the peer's stream in this connection that we hold.
    pub const RECEIVED: u8 = 6;
}

/// A run of message numbers `first .. first + count` (`spec/sync.md#message-numbers`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Range {
    /// The first message number.
    pub first: u32,
    /// How many numbers, at least 1.
    pub count: u32,
}

impl Range {
    /// One past the last number (may be 2³²).
    pub fn end(&self) -> u64 {
        u64::from(self.first) + u64::from(self.count)
    }
}

/// A decoded record.
#[derive(Clone, PartialEq, Eq)]
pub enum Record {
    /// We hold these messages.
    Ack(Vec<MessageId>),
    /// A message.
    Message(Message),
    /// We could send these messages.
    Offer(Vec<MessageId>),
    /// Please send these messages.
    Request(Vec<MessageId>),
    /// The sync versions the sender speaks.
    Versions(Vec<u8>),
    /// A random nonce for choosing between redundant connections.
    Priority([u8; PRIORITY_LEN]),
    /// We hold the messages with these numbers of the stream you sent in this
    /// connection.
    Received(Vec<Range>),
    /// A record of a type this version does not know; its payload is skipped.
    Unknown(u8),
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Record::Ack(ids) => write!(f, "Ack({} ids)", ids.len()),
            Record::Message(m) => write!(f, "Message({m:?})"),
            Record::Offer(ids) => write!(f, "Offer({} ids)", ids.len()),
            Record::Request(ids) => write!(f, "Request({} ids)", ids.len()),
            Record::Versions(v) => write!(f, "Versions({v:?})"),
            Record::Priority(_) => f.write_str("Priority(..)"),
            Record::Received(r) => write!(f, "Received({} ranges)", r.len()),
            Record::Unknown(t) => write!(f, "Unknown({t})"),
        }
    }
}

/// What was wrong with a record. Every variant but [`RecordError::TooManyItems`] and
/// [`RecordError::Empty`] when encoding means the peer sent something no conforming
/// writer sends; the session must end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// A record header names a format version other than 1.
    #[error("unsupported record version {0}")]
    UnsupportedVersion(u8),
    /// A record header declares a payload over [`MAX_RECORD_PAYLOAD`] bytes.
    #[error("record too large")]
    TooLarge,
    /// A payload does not have the shape its type requires.
    #[error("malformed record of type {0}")]
    Malformed(u8),
    /// A MESSAGE record does not hold a valid raw message.
    #[error("malformed message: {0}")]
    MalformedMessage(MessageError),
    /// The stream ended inside a record.
    #[error("stream ended inside a record")]
    Truncated,
    /// Encoding: a list with no items.
    #[error("a record needs at least one item")]
    Empty,
    /// Encoding: more items than one record holds.
    #[error("too many items for one record")]
    TooManyItems,
}

fn header(out: &mut Vec<u8>, record_type: u8, len: usize) -> Result<(), RecordError> {
    if len > MAX_RECORD_PAYLOAD {
        return Err(RecordError::TooLarge);
    }
    // len <= 49,152 fits in u16.
    let len = u16::try_from(len).map_err(|_| RecordError::TooLarge)?;
    out.push(RECORD_VERSION);
    out.push(record_type);
    out.extend_from_slice(&len.to_be_bytes());
    Ok(())
}

fn ids(out: &mut Vec<u8>, record_type: u8, ids: &[MessageId]) -> Result<(), RecordError> {
    if ids.is_empty() {
        return Err(RecordError::Empty);
    }
    if ids.len() > MAX_IDS {
        return Err(RecordError::TooManyItems);
    }
    header(out, record_type, ids.len() * 32)?;
    for id in ids {
        out.extend_from_slice(&id.0);
    }
    Ok(())
}

/// Appends an ACK record.
///
/// # Errors
/// [`RecordError::Empty`] or [`RecordError::TooManyItems`] (over [`MAX_IDS`]).
pub fn write_ack(out: &mut Vec<u8>, message_ids: &[MessageId]) -> Result<(), RecordError> {
    ids(out, record_type::ACK, message_ids)
}

/// Appends an OFFER record.
///
/// # Errors
/// As [`write_ack`].
pub fn write_offer(out: &mut Vec<u8>, message_ids: &[MessageId]) -> Result<(), RecordError> {
    ids(out, record_type::OFFER, message_ids)
}

/// Appends a REQUEST record.
///
/// # Errors
/// As [`write_ack`].
pub fn write_request(out: &mut Vec<u8>, message_ids: &[MessageId]) -> Result<(), RecordError> {
    ids(out, record_type::REQUEST, message_ids)
}

/// Appends a MESSAGE record holding `raw`, a raw message as stored.
///
/// # Errors
/// [`RecordError::MalformedMessage`] if `raw` has no body or is too long.
pub fn write_message(out: &mut Vec<u8>, raw: &[u8]) -> Result<(), RecordError> {
    if raw.len() <= MESSAGE_HEADER_LEN {
        return Err(RecordError::MalformedMessage(MessageError::TooShort));
    }
    if raw.len() > MAX_MESSAGE_LEN {
        return Err(RecordError::MalformedMessage(MessageError::BodyTooLong));
    }
    header(out, record_type::MESSAGE, raw.len())?;
    out.extend_from_slice(raw);
    Ok(())
}

/// Appends a VERSIONS record.
///
/// # Errors
/// [`RecordError::Empty`] or [`RecordError::TooManyItems`] (over [`MAX_VERSIONS`]).
pub fn write_versions(out: &mut Vec<u8>, versions: &[u8]) -> Result<(), RecordError> {
    if versions.is_empty() {
        return Err(RecordError::Empty);
    }
    if versions.len() > MAX_VERSIONS {
        return Err(RecordError::TooManyItems);
    }
    header(out, record_type::VERSIONS, versions.len())?;
    out.extend_from_slice(versions);
    Ok(())
}

/// Appends a PRIORITY record.
pub fn write_priority(out: &mut Vec<u8>, nonce: &[u8; PRIORITY_LEN]) {
    out.extend_from_slice(&[RECORD_VERSION, record_type::PRIORITY, 0, 16]);
    out.extend_from_slice(nonce);
}

/// Appends a RECEIVED record. `ranges` must be in the canonical form the reader
/// demands: ascending, each starting after the previous one's end plus one gap.
///
/// # Errors
/// [`RecordError::Empty`], [`RecordError::TooManyItems`] (over [`MAX_RANGES`]) or
/// [`RecordError::Malformed`] for ranges not in canonical form.
pub fn write_received(out: &mut Vec<u8>, ranges: &[Range]) -> Result<(), RecordError> {
    if ranges.is_empty() {
        return Err(RecordError::Empty);
    }
    if ranges.len() > MAX_RANGES {
        return Err(RecordError::TooManyItems);
    }
    check_ranges(ranges)?;
    header(out, record_type::RECEIVED, ranges.len() * 8)?;
    for r in ranges {
        out.extend_from_slice(&r.first.to_be_bytes());
        out.extend_from_slice(&r.count.to_be_bytes());
    }
    Ok(())
}

fn check_ranges(ranges: &[Range]) -> Result<(), RecordError> {
    let malformed = RecordError::Malformed(record_type::RECEIVED);
    let mut previous_end: Option<u64> = None;
    for r in ranges {
        if r.count == 0 || r.end() > 1 << 32 {
            return Err(malformed);
        }
        if let Some(end) = previous_end
            && u64::from(r.first) <= end
        {
            return Err(malformed);
        }
        previous_end = Some(r.end());
    }
    Ok(())
}

impl Record {
    /// Appends the record's encoding to `out`.
    ///
    /// # Errors
    /// As the `write_*` function of its type; [`RecordError::Malformed`] for
    /// [`Record::Unknown`], which has no payload to write.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), RecordError> {
        match self {
            Record::Ack(v) => write_ack(out, v),
            Record::Message(m) => {
                header(out, record_type::MESSAGE, m.raw_len())?;
                m.write_raw(out);
                Ok(())
            }
            Record::Offer(v) => write_offer(out, v),
            Record::Request(v) => write_request(out, v),
            Record::Versions(v) => write_versions(out, v),
            Record::Priority(n) => {
                write_priority(out, n);
                Ok(())
            }
            Record::Received(r) => write_received(out, r),
            Record::Unknown(t) => Err(RecordError::Malformed(*t)),
        }
    }

    /// Parses the payload of a record of type `record_type`.
    ///
    /// # Errors
    /// [`RecordError::Malformed`] or [`RecordError::MalformedMessage`].
    pub fn parse(record_type: u8, payload: &[u8]) -> Result<Record, RecordError> {
        let malformed = RecordError::Malformed(record_type);
        let id_list = |payload: &[u8]| -> Result<Vec<MessageId>, RecordError> {
            if payload.is_empty() || !payload.len().is_multiple_of(32) {
                return Err(malformed);
            }
            Ok(payload
                .chunks_exact(32)
                .map(|c| {
                    let mut id = [0u8; 32];
                    id.copy_from_slice(c);
                    MessageId(id)
                })
                .collect())
        };
        Ok(match record_type {
            record_type::ACK => Record::Ack(id_list(payload)?),
            record_type::MESSAGE => {
                Record::Message(Message::parse(payload).map_err(RecordError::MalformedMessage)?)
            }
            record_type::OFFER => Record::Offer(id_list(payload)?),
            record_type::REQUEST => Record::Request(id_list(payload)?),
            record_type::VERSIONS => {
                if payload.is_empty() || payload.len() > MAX_VERSIONS {
                    return Err(malformed);
                }
                Record::Versions(payload.to_vec())
            }
            record_type::PRIORITY => Record::Priority(payload.try_into().map_err(|_| malformed)?),
            record_type::RECEIVED => {
                if payload.is_empty() || !payload.len().is_multiple_of(8) {
                    return Err(malformed);
                }
                let ranges: Vec<Range> = payload
                    .chunks_exact(8)
                    .map(|c| {
                        let (a, b) = c.split_at(4);
                        let mut first = [0u8; 4];
                        first.copy_from_slice(a);
                        let mut count = [0u8; 4];
                        count.copy_from_slice(b);
                        Range {
                            first: u32::from_be_bytes(first),
                            count: u32::from_be_bytes(count),
                        }
                    })
                    .collect();
                check_ranges(&ranges)?;
                Record::Received(ranges)
            }
            other => Record::Unknown(other),
        })
    }
}

/// Splits a stream's plaintext, handed over in any pieces, into records
/// (`spec/sync.md#reading-records`).
///
/// A header is checked as soon as its four bytes are there, before any of its payload
/// is buffered. After an error the reader refuses further input.
pub struct RecordReader {
    buf: Zeroizing<Vec<u8>>,
    header: Option<(u8, usize)>,
    failed: Option<RecordError>,
}

impl Default for RecordReader {
    fn default() -> Self {
        Self::new()
    }
}

impl RecordReader {
    /// A reader at the start of a stream.
    pub fn new() -> Self {
        RecordReader {
            buf: Zeroizing::new(Vec::new()),
            header: None,
            failed: None,
        }
    }

    fn fail(&mut self, e: RecordError) -> RecordError {
        self.failed = Some(e);
        self.buf.clear();
        e
    }

    /// Takes bytes from the front of `input` until one record is complete, and
    /// returns it; `Ok(None)` once `input` is used up inside a record (the bytes are
    /// kept for the next call).
    ///
    /// # Errors
    /// A [`RecordError`] the peer caused; the reader then refuses further input.
    pub fn read(&mut self, input: &mut &[u8]) -> Result<Option<Record>, RecordError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        loop {
            match self.header {
                None => {
                    let (h, rest) = if self.buf.is_empty() && input.len() >= RECORD_HEADER_LEN {
                        let (h, rest) = input.split_at(RECORD_HEADER_LEN);
                        ([h[0], h[1], h[2], h[3]], rest)
                    } else {
                        let take = (RECORD_HEADER_LEN - self.buf.len()).min(input.len());
                        let (head, rest) = input.split_at(take);
                        self.buf.extend_from_slice(head);
                        *input = rest;
                        if self.buf.len() < RECORD_HEADER_LEN {
                            return Ok(None);
                        }
                        let h = [self.buf[0], self.buf[1], self.buf[2], self.buf[3]];
                        self.buf.clear();
                        (h, *input)
                    };
                    *input = rest;
                    if h[0] != RECORD_VERSION {
                        return Err(self.fail(RecordError::UnsupportedVersion(h[0])));
                    }
                    let len = usize::from(u16::from_be_bytes([h[2], h[3]]));
                    if len > MAX_RECORD_PAYLOAD {
                        return Err(self.fail(RecordError::TooLarge));
                    }
                    self.header = Some((h[1], len));
                }
                Some((record_type, len)) => {
                    let parsed = if self.buf.is_empty() && input.len() >= len {
                        let (payload, rest) = input.split_at(len);
                        *input = rest;
                        Record::parse(record_type, payload)
                    } else {
                        let take = (len - self.buf.len()).min(input.len());
                        let (head, rest) = input.split_at(take);
                        self.buf.extend_from_slice(head);
                        *input = rest;
                        if self.buf.len() < len {
                            return Ok(None);
                        }
                        let r = Record::parse(record_type, &self.buf);
                        self.buf.clear();
                        r
                    };
                    self.header = None;
                    return match parsed {
                        Ok(record) => Ok(Some(record)),
                        Err(e) => Err(self.fail(e)),
                    };
                }
            }
        }
    }

    /// Call at the end of the stream.
    ///
    /// # Errors
    /// [`RecordError::Truncated`] if the stream ended inside a record, or the error
    /// that already stopped the reader.
    pub fn finish(&self) -> Result<(), RecordError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        if self.header.is_some() || !self.buf.is_empty() {
            return Err(RecordError::Truncated);
        }
        Ok(())
    }
}

impl fmt::Debug for RecordReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordReader")
            .field("buffered", &self.buf.len())
            .field("failed", &self.failed)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::GroupId;
    use crate::time::Timestamp;

    fn all_kinds() -> Vec<Record> {
        let m = Message::new(
            GroupId([1; 32]),
            Timestamp::from_millis(5).unwrap(),
            b"body".to_vec(),
        )
        .unwrap();
        alloc::vec![
            Record::Versions(alloc::vec![1]),
            Record::Priority([9; 16]),
            Record::Ack(alloc::vec![MessageId([2; 32]), MessageId([3; 32])]),
            Record::Message(m),
            Record::Offer(alloc::vec![MessageId([4; 32])]),
            Record::Request(alloc::vec![MessageId([5; 32])]),
            Record::Received(alloc::vec![
                Range { first: 0, count: 3 },
                Range { first: 4, count: 1 },
                Range {
                    first: u32::MAX,
                    count: 1
                },
            ]),
        ]
    }

    fn read_all(bytes: &[u8], piece: usize) -> Result<Vec<Record>, RecordError> {
        let mut reader = RecordReader::new();
        let mut out = Vec::new();
        for mut chunk in bytes.chunks(piece) {
            while let Some(r) = reader.read(&mut chunk)? {
                out.push(r);
            }
            assert!(chunk.is_empty());
        }
        reader.finish()?;
        Ok(out)
    }

    #[test]
    fn records_round_trip_in_any_pieces() {
        let records = all_kinds();
        let mut bytes = Vec::new();
        for r in &records {
            r.encode(&mut bytes).unwrap();
        }
        for piece in [1, 2, 3, 7, 64, bytes.len()] {
            assert_eq!(
                read_all(&bytes, piece).unwrap(),
                records,
                "pieces of {piece}"
            );
        }
    }

    #[test]
    fn unknown_types_are_skipped() {
        let bytes = [1, 200, 0, 2, 0xaa, 0xbb, 1, 4, 0, 1, 1];
        assert_eq!(
            read_all(&bytes, 1).unwrap(),
            alloc::vec![Record::Unknown(200), Record::Versions(alloc::vec![1])]
        );
    }

    #[test]
    fn headers_are_checked_before_payloads_are_buffered() {
        let mut r = RecordReader::new();
        let mut input: &[u8] = &[1, 1, 0xc0, 0x01];
        assert_eq!(r.read(&mut input), Err(RecordError::TooLarge));
        let mut r = RecordReader::new();
        let mut input: &[u8] = &[2, 1, 0, 1];
        assert_eq!(r.read(&mut input), Err(RecordError::UnsupportedVersion(2)));
        assert_eq!(
            r.read(&mut (&[1u8, 4, 0, 1, 1][..])),
            Err(RecordError::UnsupportedVersion(2))
        );
        // The largest payload is accepted.
        let mut bytes = alloc::vec![1, record_type::ACK, 0xc0, 0x00];
        bytes.extend(core::iter::repeat_n(7, MAX_RECORD_PAYLOAD));
        assert_eq!(read_all(&bytes, 1000).unwrap().len(), 1);
    }

    #[test]
    fn malformed_payloads_are_refused() {
        let cases: &[(u8, &[u8])] = &[
            (record_type::ACK, &[]),
            (record_type::ACK, &[0; 31]),
            (record_type::OFFER, &[0; 33]),
            (record_type::REQUEST, &[]),
            (record_type::VERSIONS, &[]),
            (record_type::VERSIONS, &[1; 11]),
            (record_type::PRIORITY, &[0; 15]),
            (record_type::PRIORITY, &[0; 17]),
            (record_type::RECEIVED, &[]),
            (record_type::RECEIVED, &[0; 7]),
            // A range of no numbers.
            (record_type::RECEIVED, &[0, 0, 0, 0, 0, 0, 0, 0]),
            // Past 2^32.
            (record_type::RECEIVED, &[0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2]),
            // Touching ranges must be merged; overlapping and descending ones refused.
            (
                record_type::RECEIVED,
                &[0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 1],
            ),
            (
                record_type::RECEIVED,
                &[0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1],
            ),
        ];
        for (t, payload) in cases {
            assert_eq!(
                Record::parse(*t, payload),
                Err(RecordError::Malformed(*t)),
                "type {t} payload {payload:?}"
            );
        }
        assert_eq!(
            Record::parse(record_type::MESSAGE, &[0; 40]),
            Err(RecordError::MalformedMessage(MessageError::TooShort))
        );
    }

    #[test]
    fn a_stream_ending_inside_a_record_is_truncated() {
        let mut bytes = Vec::new();
        write_versions(&mut bytes, &[1]).unwrap();
        for cut in 1..bytes.len() {
            assert_eq!(read_all(&bytes[..cut], 1), Err(RecordError::Truncated));
        }
    }

    #[test]
    fn writers_refuse_what_readers_would() {
        let mut out = Vec::new();
        assert_eq!(write_ack(&mut out, &[]), Err(RecordError::Empty));
        let many = alloc::vec![MessageId([0; 32]); MAX_IDS + 1];
        assert_eq!(write_offer(&mut out, &many), Err(RecordError::TooManyItems));
        assert!(write_offer(&mut out, &many[1..]).is_ok());
        assert_eq!(
            write_versions(&mut out, &[1; 11]),
            Err(RecordError::TooManyItems)
        );
        assert!(
            write_received(
                &mut out,
                &[Range { first: 0, count: 1 }, Range { first: 1, count: 1 }]
            )
            .is_err()
        );
        assert!(write_message(&mut out, &[0; 40]).is_err());
    }
}
