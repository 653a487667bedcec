//! Contact info (`spec/contacts.md#contact-info`): who a side is and how to reach it,
//! signed with its identity key over a nonce only the two sides of one handshake know.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use zeroize::Zeroize;

use crate::crypto::{Signature, SigningKey, VerifyingKey, label};
use crate::time::Timestamp;
use crate::transport::TransportId;
use crate::wire::{self, Limits, Value};

/// The contact info format.
pub const INFO_VERSION: i64 = 1;
/// The longest nickname, in bytes of UTF-8.
pub const MAX_NAME_LEN: usize = 50;
/// The most transports in one side's properties.
pub const MAX_TRANSPORTS: usize = 16;
/// The most properties per transport.
pub const MAX_PROPERTIES: usize = 16;
/// The longest property key, in bytes.
pub const MAX_PROPERTY_KEY_LEN: usize = 32;
/// The longest property value, in bytes.
pub const MAX_PROPERTY_VALUE_LEN: usize = 512;
/// No contact info from before 2021-01-01 is accepted: a clock that far behind is
/// broken, and keys derived from such a start would need years of rotation.
pub const MIN_TIMESTAMP_MS: u64 = 1_609_459_200_000;

/// A side's transport properties: transport identifier → key → value.
pub type Properties = BTreeMap<String, BTreeMap<String, String>>;

/// Why a name is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NameError {
    /// Empty or only white space.
    #[error("the name is empty")]
    Empty,
    /// Over [`MAX_NAME_LEN`] bytes.
    #[error("the name is longer than 50 bytes")]
    TooLong,
    /// A control character or a bidirectional formatting character, which could
    /// disguise the name or rewrite the terminal.
    #[error("the name contains control or direction characters")]
    ForbiddenCharacter,
}

/// Checks a nickname or alias (`spec/contacts.md#names`).
///
/// # Errors
/// The [`NameError`] that applies.
pub fn check_name(name: &str) -> Result<(), NameError> {
    if name.trim().is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong);
    }
    let bidi = |c: char| matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if name.chars().any(|c| c.is_control() || bidi(c)) {
        return Err(NameError::ForbiddenCharacter);
    }
    Ok(())
}

/// Checks transport properties against the limits of `spec/contacts.md#contact-info`.
pub fn check_properties(properties: &Properties) -> bool {
    properties.len() <= MAX_TRANSPORTS
        && properties.iter().all(|(transport, props)| {
            TransportId::new(transport).is_ok()
                && props.len() <= MAX_PROPERTIES
                && props.iter().all(|(k, v)| {
                    !k.is_empty()
                        && k.len() <= MAX_PROPERTY_KEY_LEN
                        && v.len() <= MAX_PROPERTY_VALUE_LEN
                        && !k.chars().chain(v.chars()).any(char::is_control)
                })
        })
}

/// One side's contact info, as the other side reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactInfo {
    /// The side's identity key.
    pub identity: VerifyingKey,
    /// The name the side gives itself.
    pub nickname: String,
    /// The side's clock when it wrote the info.
    pub timestamp: Timestamp,
    /// How to reach the side.
    pub properties: Properties,
}

/// What is wrong with received contact info. All of them mean the sender is not a
/// conforming implementation, or not who it claims.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InfoError {
    /// Not the encoding of contact info.
    #[error("malformed contact info")]
    Malformed,
    /// A format version this code does not read.
    #[error("unsupported contact info version")]
    UnsupportedVersion,
    /// The nickname breaks the rules of [`check_name`].
    #[error("the contact's name is not acceptable: {0}")]
    Name(NameError),
    /// Properties over the limits.
    #[error("the contact's transport properties are over the limits")]
    Properties,
    /// Before [`MIN_TIMESTAMP_MS`].
    #[error("the contact's clock is years behind")]
    Timestamp,
    /// The signature does not verify under the identity key it names.
    #[error("the contact info is not signed by the identity it names")]
    BadSignature,
}

fn fields(info: &ContactInfo) -> Value {
    let properties = info
        .properties
        .iter()
        .map(|(t, props)| {
            let props = props
                .iter()
                .map(|(k, v)| (k.clone(), Value::Str(v.clone())))
                .collect();
            (t.clone(), Value::Dict(props))
        })
        .collect();
    Value::List(alloc::vec![
        Value::Int(INFO_VERSION),
        Value::Raw(info.identity.to_bytes().to_vec()),
        Value::Str(info.nickname.clone()),
        Value::Int(i64::try_from(info.timestamp.as_millis()).unwrap_or(i64::MAX)),
        Value::Dict(properties),
    ])
}

fn signed_message(nonce: &[u8; 32], encoded_fields: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(32 + encoded_fields.len());
    m.extend_from_slice(nonce);
    m.extend_from_slice(encoded_fields);
    m
}

/// Encodes and signs `info` for the handshake whose nonce for our side is `nonce`.
/// The result is sealed before it is sent.
///
/// # Errors
/// [`InfoError::Name`] or [`InfoError::Properties`] if our own info breaks the limits.
pub fn encode(
    info: &ContactInfo,
    signing_key: &SigningKey,
    nonce: &[u8; 32],
) -> Result<Vec<u8>, InfoError> {
    check_name(&info.nickname).map_err(InfoError::Name)?;
    if !check_properties(&info.properties) {
        return Err(InfoError::Properties);
    }
    let Value::List(mut items) = fields(info) else {
        return Err(InfoError::Malformed);
    };
    let encoded = wire::encode(&Value::List(items.clone())).map_err(|_| InfoError::Malformed)?;
    let signature = signing_key.sign(
        label::CONTACT_INFO_SIGNATURE,
        &signed_message(nonce, &encoded),
    );
    items.push(Value::Raw(signature.0.to_vec()));
    wire::encode(&Value::List(items)).map_err(|_| InfoError::Malformed)
}

/// Decodes contact info and checks its signature against `nonce`.
///
/// # Errors
/// The [`InfoError`] that applies.
pub fn decode(bytes: &[u8], nonce: &[u8; 32]) -> Result<ContactInfo, InfoError> {
    let limits = Limits {
        max_depth: 3,
        max_len: MAX_PROPERTY_VALUE_LEN.max(64),
    };
    let mut value = wire::decode(bytes, &limits).map_err(|_| InfoError::Malformed)?;
    let result = read(&value, nonce);
    zeroize_value(&mut value);
    result
}

fn read(value: &Value, nonce: &[u8; 32]) -> Result<ContactInfo, InfoError> {
    let items = value.as_list().ok_or(InfoError::Malformed)?;
    if items.first().and_then(Value::as_int) != Some(INFO_VERSION) {
        return Err(if items.first().and_then(Value::as_int).is_some() {
            InfoError::UnsupportedVersion
        } else {
            InfoError::Malformed
        });
    }
    let [_, identity, nickname, timestamp, properties, signature] = items else {
        return Err(InfoError::Malformed);
    };
    let identity: [u8; 32] = identity
        .as_raw()
        .and_then(|r| r.try_into().ok())
        .ok_or(InfoError::Malformed)?;
    let identity = VerifyingKey::from_bytes(&identity).map_err(|_| InfoError::Malformed)?;
    let nickname = nickname.as_str().ok_or(InfoError::Malformed)?;
    check_name(nickname).map_err(InfoError::Name)?;
    let timestamp = timestamp
        .as_int()
        .and_then(|t| u64::try_from(t).ok())
        .ok_or(InfoError::Malformed)?;
    if timestamp < MIN_TIMESTAMP_MS {
        return Err(InfoError::Timestamp);
    }
    let timestamp = Timestamp::from_millis(timestamp).map_err(|_| InfoError::Timestamp)?;
    let mut props = Properties::new();
    for (transport, entries) in properties.as_dict().ok_or(InfoError::Malformed)? {
        let mut map = BTreeMap::new();
        for (k, v) in entries.as_dict().ok_or(InfoError::Malformed)? {
            map.insert(
                k.clone(),
                String::from(v.as_str().ok_or(InfoError::Malformed)?),
            );
        }
        props.insert(transport.clone(), map);
    }
    if !check_properties(&props) {
        return Err(InfoError::Properties);
    }
    let signature: [u8; 64] = signature
        .as_raw()
        .and_then(|r| r.try_into().ok())
        .ok_or(InfoError::Malformed)?;
    let info = ContactInfo {
        identity,
        nickname: String::from(nickname),
        timestamp,
        properties: props,
    };
    // The fields must be in canonical form for the signature to be over what we read:
    // re-encode them rather than trusting the received bytes.
    let encoded = wire::encode(&fields(&info)).map_err(|_| InfoError::Malformed)?;
    identity
        .verify(
            label::CONTACT_INFO_SIGNATURE,
            &signed_message(nonce, &encoded),
            &Signature(signature),
        )
        .map_err(|_| InfoError::BadSignature)?;
    Ok(info)
}

/// Overwrites every string and byte string in `value`, for values that held secrets.
pub(crate) fn zeroize_value(value: &mut Value) {
    match value {
        Value::Raw(r) => r.zeroize(),
        Value::Str(s) => s.zeroize(),
        Value::List(items) => items.iter_mut().for_each(zeroize_value),
        Value::Dict(map) => map.values_mut().for_each(zeroize_value),
        Value::Null | Value::Bool(_) | Value::Int(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (SigningKey, ContactInfo) {
        let key = SigningKey::from_seed([5; 32]);
        let mut tor = BTreeMap::new();
        tor.insert(String::from("onion"), String::from("abc.onion"));
        let mut properties = Properties::new();
        properties.insert(String::from("tor"), tor);
        let info = ContactInfo {
            identity: key.verifying_key(),
            nickname: String::from("Alice"),
            timestamp: Timestamp::from_millis(1_700_000_000_000).unwrap(),
            properties,
        };
        (key, info)
    }

    #[test]
    fn round_trip() {
        let (key, info) = sample();
        let bytes = encode(&info, &key, &[1; 32]).unwrap();
        assert_eq!(decode(&bytes, &[1; 32]).unwrap(), info);
        assert_eq!(decode(&bytes, &[2; 32]), Err(InfoError::BadSignature));
        assert_eq!(decode(&bytes[1..], &[1; 32]), Err(InfoError::Malformed));
    }

    #[test]
    fn limits() {
        let (key, mut info) = sample();
        info.nickname = String::from("a\u{202e}b");
        assert_eq!(
            encode(&info, &key, &[1; 32]),
            Err(InfoError::Name(NameError::ForbiddenCharacter))
        );
        let (_, mut info) = sample();
        info.properties
            .insert(String::from("Bad Id"), BTreeMap::new());
        assert_eq!(encode(&info, &key, &[1; 32]), Err(InfoError::Properties));
        let (key, mut info) = sample();
        info.identity = SigningKey::from_seed([6; 32]).verifying_key();
        let forged = encode(&info, &key, &[1; 32]).unwrap();
        assert_eq!(decode(&forged, &[1; 32]), Err(InfoError::BadSignature));
        let (key, mut info) = sample();
        info.timestamp = Timestamp::from_millis(MIN_TIMESTAMP_MS - 1).unwrap();
        let early = encode(&info, &key, &[1; 32]).unwrap();
        assert_eq!(decode(&early, &[1; 32]), Err(InfoError::Timestamp));
        assert_eq!(check_name("  "), Err(NameError::Empty));
        assert_eq!(check_name(&"x".repeat(51)), Err(NameError::TooLong));
        assert_eq!(check_name("x\u{1b}[2J"), Err(NameError::ForbiddenCharacter));
        assert_eq!(check_name("Zoë"), Ok(()));
    }
}
