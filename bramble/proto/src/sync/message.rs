//! Groups and messages (`spec/sync.md#groups`, `spec/sync.md#messages`).

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::crypto::{hash, label};
use crate::ids::{GroupId, MessageId};
use crate::time::Timestamp;

/// Bytes before a message's body: the group identifier and the timestamp.
pub const MESSAGE_HEADER_LEN: usize = 32 + 8;
/// The largest message body.
pub const MAX_BODY_LEN: usize = 32_768;
/// The largest raw message: header and body.
pub const MAX_MESSAGE_LEN: usize = MESSAGE_HEADER_LEN + MAX_BODY_LEN;
/// The largest group descriptor.
pub const MAX_DESCRIPTOR_LEN: usize = 16_384;

/// The name of a client (an application protocol on top of sync), such as
/// `thicket.messaging`: 1 to 100 bytes of `a`–`z`, `0`–`9`, `.` and `-`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientId(Cow<'static, str>);

impl ClientId {
    /// The longest client identifier, in bytes.
    pub const MAX_LEN: usize = 100;

    /// A client identifier known at compile time. Must follow the naming rules; the
    /// clients this crate defines are checked by its tests.
    pub const fn from_static(name: &'static str) -> Self {
        ClientId(Cow::Borrowed(name))
    }

    /// A client identifier from its name.
    ///
    /// # Errors
    /// [`MessageError::InvalidClientId`] if `name` breaks the naming rules.
    pub fn new(name: &str) -> Result<Self, MessageError> {
        if Self::is_valid(name) {
            Ok(ClientId(Cow::Owned(String::from(name))))
        } else {
            Err(MessageError::InvalidClientId)
        }
    }

    /// Whether `name` follows the naming rules.
    pub fn is_valid(name: &str) -> bool {
        !name.is_empty()
            && name.len() <= Self::MAX_LEN
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
    }

    /// The identifier as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientId({})", self.as_str())
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A group: one client's shared space, such as the private conversation of two
/// contacts (`spec/sync.md#groups`).
#[derive(Clone, PartialEq, Eq)]
pub struct Group {
    /// The client whose messages the group holds.
    pub client: ClientId,
    /// The client's major version: clients of different major versions do not share
    /// groups.
    pub major_version: u32,
    /// What the client says the group is, at most [`MAX_DESCRIPTOR_LEN`] bytes.
    pub descriptor: Vec<u8>,
}

impl Group {
    /// A group.
    ///
    /// # Errors
    /// [`MessageError::DescriptorTooLong`] over [`MAX_DESCRIPTOR_LEN`] bytes.
    pub fn new(
        client: ClientId,
        major_version: u32,
        descriptor: Vec<u8>,
    ) -> Result<Self, MessageError> {
        if descriptor.len() > MAX_DESCRIPTOR_LEN {
            return Err(MessageError::DescriptorTooLong);
        }
        Ok(Group {
            client,
            major_version,
            descriptor,
        })
    }

    /// The group's identifier:
    /// `H("thicket/sync/group-id", client id, u32be(major version), descriptor)`.
    pub fn id(&self) -> GroupId {
        GroupId(
            hash(
                label::SYNC_GROUP_ID,
                &[
                    self.client.as_str().as_bytes(),
                    &self.major_version.to_be_bytes(),
                    &self.descriptor,
                ],
            )
            .0,
        )
    }
}

impl fmt::Debug for Group {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Group")
            .field("client", &self.client)
            .field("major_version", &self.major_version)
            .field("descriptor_len", &self.descriptor.len())
            .finish()
    }
}

/// A message: `group id (32) ‖ u64be(timestamp) ‖ body` on the wire
/// (`spec/sync.md#messages`). Its identifier is never sent; receivers recompute it.
///
/// `Debug` shows the group, the timestamp and the body's length, never the body.
#[derive(Clone, PartialEq, Eq)]
pub struct Message {
    /// The group the message belongs to.
    pub group: GroupId,
    /// When its author wrote it, by the author's clock.
    pub timestamp: Timestamp,
    body: Vec<u8>,
}

impl Message {
    /// A message.
    ///
    /// # Errors
    /// [`MessageError::EmptyBody`] or [`MessageError::BodyTooLong`].
    pub fn new(group: GroupId, timestamp: Timestamp, body: Vec<u8>) -> Result<Self, MessageError> {
        check_body(&body)?;
        Ok(Message {
            group,
            timestamp,
            body,
        })
    }

    /// Parses a raw message.
    ///
    /// # Errors
    /// [`MessageError::TooShort`] without a whole header and one body byte;
    /// [`MessageError::BodyTooLong`]; [`MessageError::TimestampOutOfRange`] past
    /// [`Timestamp::MAX`].
    pub fn parse(raw: &[u8]) -> Result<Self, MessageError> {
        if raw.len() <= MESSAGE_HEADER_LEN {
            return Err(MessageError::TooShort);
        }
        let (header, body) = raw
            .split_first_chunk::<MESSAGE_HEADER_LEN>()
            .ok_or(MessageError::TooShort)?;
        check_body(body)?;
        let (group, ts) = header.split_at(32);
        let mut g = [0u8; 32];
        g.copy_from_slice(group);
        let mut t = [0u8; 8];
        t.copy_from_slice(ts);
        let timestamp = Timestamp::from_millis(u64::from_be_bytes(t))
            .map_err(|_| MessageError::TimestampOutOfRange)?;
        Ok(Message {
            group: GroupId(g),
            timestamp,
            body: body.to_vec(),
        })
    }

    /// The message's body, as its client encoded it.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The length of the raw message.
    pub fn raw_len(&self) -> usize {
        MESSAGE_HEADER_LEN + self.body.len()
    }

    /// Appends the raw message to `out`.
    pub fn write_raw(&self, out: &mut Vec<u8>) {
        out.reserve(self.raw_len());
        out.extend_from_slice(&self.group.0);
        out.extend_from_slice(&self.timestamp.as_millis().to_be_bytes());
        out.extend_from_slice(&self.body);
    }

    /// The raw message.
    pub fn to_raw(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.write_raw(&mut out);
        out
    }

    /// The message's identifier:
    /// `H("thicket/sync/message-id", group id, u64be(timestamp), body)`.
    pub fn id(&self) -> MessageId {
        MessageId(
            hash(
                label::SYNC_MESSAGE_ID,
                &[
                    &self.group.0,
                    &self.timestamp.as_millis().to_be_bytes(),
                    &self.body,
                ],
            )
            .0,
        )
    }
}

fn check_body(body: &[u8]) -> Result<(), MessageError> {
    if body.is_empty() {
        Err(MessageError::EmptyBody)
    } else if body.len() > MAX_BODY_LEN {
        Err(MessageError::BodyTooLong)
    } else {
        Ok(())
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("group", &self.group)
            .field("timestamp", &self.timestamp)
            .field("body_len", &self.body.len())
            .finish()
    }
}

/// What is wrong with a message, group or client identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    /// Shorter than a header and one body byte.
    #[error("message too short")]
    TooShort,
    /// A message must have a body.
    #[error("message body empty")]
    EmptyBody,
    /// The body is over [`MAX_BODY_LEN`] bytes.
    #[error("message body too long")]
    BodyTooLong,
    /// The timestamp lies past [`Timestamp::MAX`].
    #[error("message timestamp out of range")]
    TimestampOutOfRange,
    /// A client identifier breaks the naming rules.
    #[error("invalid client identifier")]
    InvalidClientId,
    /// A group descriptor is over [`MAX_DESCRIPTOR_LEN`] bytes.
    #[error("group descriptor too long")]
    DescriptorTooLong,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(ms: u64) -> Timestamp {
        Timestamp::from_millis(ms).unwrap()
    }

    #[test]
    fn raw_round_trips_and_the_id_binds_every_part() {
        let m = Message::new(GroupId([7; 32]), ts(1234), b"hello".to_vec()).unwrap();
        let raw = m.to_raw();
        assert_eq!(raw.len(), 45);
        assert_eq!(Message::parse(&raw).unwrap(), m);
        let other_group = Message::new(GroupId([8; 32]), ts(1234), b"hello".to_vec()).unwrap();
        let other_time = Message::new(GroupId([7; 32]), ts(1235), b"hello".to_vec()).unwrap();
        let other_body = Message::new(GroupId([7; 32]), ts(1234), b"hellp".to_vec()).unwrap();
        for o in [other_group, other_time, other_body] {
            assert_ne!(o.id(), m.id());
        }
    }

    #[test]
    fn bad_raw_messages_are_refused() {
        assert_eq!(Message::parse(&[0; 40]), Err(MessageError::TooShort));
        assert_eq!(Message::parse(&[0; 39]), Err(MessageError::TooShort));
        assert!(Message::parse(&[0; 41]).is_ok());
        assert!(Message::parse(&[0; MAX_MESSAGE_LEN]).is_ok());
        assert_eq!(
            Message::parse(&[0; MAX_MESSAGE_LEN + 1]),
            Err(MessageError::BodyTooLong)
        );
        let mut raw = [0u8; 41];
        raw[32..40].copy_from_slice(&(Timestamp::MAX.as_millis() + 1).to_be_bytes());
        assert_eq!(Message::parse(&raw), Err(MessageError::TimestampOutOfRange));
    }

    #[test]
    fn debug_hides_the_body() {
        let m = Message::new(GroupId([7; 32]), ts(1), b"secret words".to_vec()).unwrap();
        let shown = alloc::format!("{m:?}");
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn client_ids() {
        assert!(ClientId::new("thicket.messaging").is_ok());
        assert!(ClientId::new("").is_err());
        assert!(ClientId::new("Thicket").is_err());
        assert!(ClientId::new(&"a".repeat(101)).is_err());
        assert!(ClientId::new(&"a".repeat(100)).is_ok());
    }
}
