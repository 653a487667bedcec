//! The private messaging client (`spec/messaging.md`): one conversation per pair of
//! contacts, carrying text messages.
//!
//! The conversation of two accounts is a sync [`Group`] whose descriptor names both
//! identity keys, so both compute the same group. A text message's body is the
//! canonical encoding of the list `[0, text]`.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use crate::crypto::VerifyingKey;
use crate::ids::GroupId;
use crate::sync::{ClientId, Group, Invalid, Message, Validated, Validator, Validators};
use crate::time::Timestamp;
use crate::wire::{self, Limits, Value};

/// The client's identifier.
pub const CLIENT: ClientId = ClientId::from_static("thicket.messaging");
/// The client's major version.
pub const MAJOR_VERSION: u32 = 1;
/// The longest text, in bytes of UTF-8.
pub const MAX_TEXT_LEN: usize = 32_000;
/// The kind of a text message, the first element of its body.
const KIND_TEXT: i64 = 0;

/// Why a text cannot be sent, or a body is not a text message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TextError {
    /// The text is empty.
    #[error("the message is empty")]
    Empty,
    /// The text is over [`MAX_TEXT_LEN`] bytes.
    #[error("the message is longer than {MAX_TEXT_LEN} bytes")]
    TooLong,
    /// The text holds a control character other than newline and tab (which could be a
    /// terminal escape).
    #[error("the message contains a control character")]
    ControlCharacter,
    /// The body is not the encoding of a text message.
    #[error("not a text message")]
    Malformed,
}

/// The group of the private conversation between the owners of two identity keys. The
/// same whichever key is ours.
pub fn conversation_group(a: &VerifyingKey, b: &VerifyingKey) -> Group {
    let (a, b) = (a.to_bytes(), b.to_bytes());
    let (first, second) = if a <= b { (a, b) } else { (b, a) };
    let descriptor = Value::List(alloc::vec![
        Value::Raw(first.to_vec()),
        Value::Raw(second.to_vec())
    ]);
    Group {
        client: CLIENT,
        major_version: MAJOR_VERSION,
        // Two 32-byte strings: encodable, and far below the descriptor limit.
        descriptor: wire::encode(&descriptor).unwrap_or_default(),
    }
}

/// Checks a text typed by the user.
///
/// # Errors
/// [`TextError::Empty`], [`TextError::TooLong`] or [`TextError::ControlCharacter`].
pub fn check_text(text: &str) -> Result<(), TextError> {
    if text.is_empty() {
        return Err(TextError::Empty);
    }
    if text.len() > MAX_TEXT_LEN {
        return Err(TextError::TooLong);
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(TextError::ControlCharacter);
    }
    Ok(())
}

/// The body of a text message.
///
/// # Errors
/// As [`check_text`].
pub fn encode_text(text: &str) -> Result<Vec<u8>, TextError> {
    check_text(text)?;
    let body = Value::List(alloc::vec![Value::Int(KIND_TEXT), Value::from(text)]);
    wire::encode(&body).map_err(|_| TextError::TooLong)
}

/// The text of a text message's body.
///
/// # Errors
/// [`TextError::Malformed`] if the body is not the canonical encoding of `[0, text]`,
/// or the errors of [`check_text`].
pub fn parse_text(body: &[u8]) -> Result<String, TextError> {
    let limits = Limits {
        max_depth: 1,
        max_len: MAX_TEXT_LEN,
    };
    let value = wire::decode(body, &limits).map_err(|e| match e.kind {
        wire::DecodeErrorKind::TooLong => TextError::TooLong,
        _ => TextError::Malformed,
    })?;
    let Value::List(items) = value else {
        return Err(TextError::Malformed);
    };
    let [Value::Int(KIND_TEXT), Value::Str(text)] =
        <[Value; 2]>::try_from(items).map_err(|_| TextError::Malformed)?
    else {
        return Err(TextError::Malformed);
    };
    check_text(&text)?;
    Ok(text)
}

/// A text message in `group` at `timestamp`.
///
/// # Errors
/// As [`check_text`].
pub fn text_message(
    group: GroupId,
    timestamp: Timestamp,
    text: &str,
) -> Result<Message, TextError> {
    let body = encode_text(text)?;
    Message::new(group, timestamp, body).map_err(|_| TextError::TooLong)
}

/// The timestamp of a new message in a conversation whose latest message has
/// `latest`: the clock, but always after the latest message, so that our messages keep
/// the order they were written in even if the clock steps back.
pub fn next_timestamp(now: Timestamp, latest: Option<Timestamp>) -> Timestamp {
    match latest.and_then(|t| Timestamp::from_millis(t.as_millis().saturating_add(1)).ok()) {
        Some(after) if after > now => after,
        _ => now,
    }
}

/// Where one of our messages is on its way to the contact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeliveryState {
    /// Not sent yet: no transport has carried it.
    Queued,
    /// Sent or offered at least once, not acknowledged yet.
    Sent,
    /// The contact acknowledged it: it is stored on their device.
    Delivered,
}

impl DeliveryState {
    /// The state of a message sent or offered `tx_count` times, `seen` if the contact
    /// acknowledged it.
    pub fn of(tx_count: u32, seen: bool) -> Self {
        if seen {
            DeliveryState::Delivered
        } else if tx_count > 0 {
            DeliveryState::Sent
        } else {
            DeliveryState::Queued
        }
    }
}

/// Accepts exactly the bodies [`encode_text`] produces. Text messages depend on nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct TextValidator;

impl Validator for TextValidator {
    fn validate(&self, group: &Group, message: &Message) -> Result<Validated, Invalid> {
        if group.client != CLIENT || group.major_version != MAJOR_VERSION {
            return Err(Invalid("not a private conversation"));
        }
        parse_text(message.body()).map_err(|_| Invalid("not a valid text message"))?;
        Ok(Validated::default())
    }
}

/// The validators of every client this crate defines.
pub fn validators() -> Validators {
    Validators::new().with(CLIENT, MAJOR_VERSION, Box::new(TextValidator))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SigningKey;

    fn key(seed: u8) -> VerifyingKey {
        SigningKey::from_seed([seed; 32]).verifying_key()
    }

    #[test]
    fn both_sides_compute_the_same_group_and_others_differ() {
        let (a, b, c) = (key(1), key(2), key(3));
        assert_eq!(
            conversation_group(&a, &b).id(),
            conversation_group(&b, &a).id()
        );
        assert_ne!(
            conversation_group(&a, &b).id(),
            conversation_group(&a, &c).id()
        );
        assert!(ClientId::is_valid(CLIENT.as_str()));
    }

    #[test]
    fn texts_round_trip_and_bad_ones_are_refused() {
        for text in [
            "hi",
            "line one\nline two\tand a tab",
            "ünïcødé ✓",
            &"x".repeat(MAX_TEXT_LEN),
        ] {
            assert_eq!(parse_text(&encode_text(text).unwrap()).unwrap(), text);
        }
        assert_eq!(encode_text(""), Err(TextError::Empty));
        assert_eq!(
            encode_text(&"x".repeat(MAX_TEXT_LEN + 1)),
            Err(TextError::TooLong)
        );
        for bad in ["\x1b[2J", "a\rb", "\u{7f}", "\u{9b}31m", "\0"] {
            assert_eq!(
                encode_text(bad),
                Err(TextError::ControlCharacter),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn bodies_other_than_text_are_refused() {
        let enc = |v: Value| wire::encode(&v).unwrap();
        let bad = [
            alloc::vec![0x60],
            enc(Value::Str("hi".into())),
            enc(Value::List(alloc::vec![Value::Int(1), Value::from("hi")])),
            enc(Value::List(alloc::vec![Value::Int(0)])),
            enc(Value::List(alloc::vec![
                Value::Int(0),
                Value::from("hi"),
                Value::Null
            ])),
            enc(Value::List(alloc::vec![Value::Int(0), Value::from("")])),
            enc(Value::List(alloc::vec![
                Value::Int(0),
                Value::from("\x1b]0;pwned\x07")
            ])),
            enc(Value::List(alloc::vec![
                Value::Int(0),
                Value::Raw(b"hi".to_vec())
            ])),
            enc(Value::List(alloc::vec![
                Value::Int(0),
                Value::List(alloc::vec![Value::from("hi")])
            ])),
        ];
        for body in bad {
            assert!(parse_text(&body).is_err(), "{body:?}");
        }
    }

    #[test]
    fn timestamps_keep_our_order() {
        let t = |ms| Timestamp::from_millis(ms).unwrap();
        assert_eq!(next_timestamp(t(100), None), t(100));
        assert_eq!(next_timestamp(t(100), Some(t(50))), t(100));
        assert_eq!(next_timestamp(t(100), Some(t(100))), t(101));
        assert_eq!(next_timestamp(t(100), Some(t(500))), t(501));
    }

    #[test]
    fn delivery_states() {
        assert_eq!(DeliveryState::of(0, false), DeliveryState::Queued);
        assert_eq!(DeliveryState::of(3, false), DeliveryState::Sent);
        assert_eq!(DeliveryState::of(1, true), DeliveryState::Delivered);
    }
}
