//! The contact handshake (`spec/contacts.md#handshake`) as an owned state machine.
//!
//! Each side writes, in every handshake stream it sends, its ephemeral public key and —
//! once it knows the other side's ephemeral key — its sealed contact info. Nothing a
//! side writes depends on the order in which streams arrive, so the handshake completes
//! over duplex connections in one round trip and over one-way links (files carried by
//! hand, in any order, days apart) as soon as each side has read one stream of the
//! other written after that other side had read one of its own.
//!
//! ```text
//! Awaiting ephemeral ──their EPHEMERAL──► Awaiting info ──their CONTACT_INFO──► Complete
//!   (our ephemeral secret)                 (our ephemeral secret,               (our sealed info)
//!                                           their key, our sealed info)
//! ```
//!
//! Our ephemeral secret is kept until the peer's info opens — so that a peer that lost
//! its state and starts over with a new ephemeral key can still meet ours — and dropped
//! (zeroized) then, with the master key, once the contact's root key is derived. [`Handshake::to_state`] gives
//! the bytes to keep in the encrypted store between streams.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use super::info::{self, ContactInfo, InfoError, Properties, zeroize_value};
use super::rendezvous::{Rendezvous, RendezvousError, role_name};
use crate::crypto::{
    AgreementPublicKey, AgreementSecretKey, SecretKey, SigningKey, aead, kdf, label, mac,
};
use crate::stream::{Role, RootKey, StreamError, TransportKeys};
use crate::time::{PeriodLength, Timestamp};
use crate::transport::TransportId;
use crate::wire::{self, Limits, Value};

/// The handshake record format version.
pub const HANDSHAKE_RECORD_VERSION: u8 = 1;
/// Bytes of a record header: version, type, `u16be` payload length.
pub(crate) const HEADER_LEN: usize = 4;
/// The largest handshake record payload.
pub const MAX_PAYLOAD: usize = 8192;

/// Handshake record types.
pub mod record_type {
    /// The sender's ephemeral X25519 public key (32 bytes).
    pub const EPHEMERAL: u8 = 0;
    /// The sender's contact info, sealed under the handshake's info key.
    pub const CONTACT_INFO: u8 = 1;
}

/// A handshake record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HandshakeRecord {
    /// The sender's ephemeral public key.
    Ephemeral(AgreementPublicKey),
    /// The sender's sealed contact info.
    ContactInfo(Vec<u8>),
}

/// Appends a record.
fn write_record(out: &mut Vec<u8>, record_type: u8, payload: &[u8]) {
    // Payloads we write are at most MAX_PAYLOAD (sealed info is checked when made).
    let len = u16::try_from(payload.len()).unwrap_or(u16::MAX);
    out.push(HANDSHAKE_RECORD_VERSION);
    out.push(record_type);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
}

/// Splits a handshake stream's plaintext into records, buffering at most one record.
#[derive(Debug, Default)]
pub struct HandshakeReader {
    buf: Zeroizing<Vec<u8>>,
    failed: bool,
}

impl HandshakeReader {
    /// A reader at the start of a stream.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes `input` and returns every record it completes. Records of unknown types are
    /// skipped.
    ///
    /// # Errors
    /// [`HandshakeError::Record`] for a header of another version, a payload over
    /// [`MAX_PAYLOAD`] or of the wrong size; the reader then refuses further input.
    pub fn read(&mut self, mut input: &[u8]) -> Result<Vec<HandshakeRecord>, HandshakeError> {
        if self.failed {
            return Err(HandshakeError::Record);
        }
        let mut records = Vec::new();
        while !input.is_empty() {
            let need = if self.buf.len() < HEADER_LEN {
                HEADER_LEN - self.buf.len()
            } else {
                let (v, len) = (
                    self.buf[0],
                    usize::from(u16::from_be_bytes([self.buf[2], self.buf[3]])),
                );
                if v != HANDSHAKE_RECORD_VERSION || len > MAX_PAYLOAD {
                    return Err(self.fail());
                }
                HEADER_LEN + len - self.buf.len()
            };
            let take = need.min(input.len());
            self.buf.extend_from_slice(&input[..take]);
            input = &input[take..];
            if self.buf.len() >= HEADER_LEN {
                let (v, t, len) = (
                    self.buf[0],
                    self.buf[1],
                    usize::from(u16::from_be_bytes([self.buf[2], self.buf[3]])),
                );
                if v != HANDSHAKE_RECORD_VERSION || len > MAX_PAYLOAD {
                    return Err(self.fail());
                }
                if self.buf.len() == HEADER_LEN + len {
                    let payload = &self.buf[HEADER_LEN..];
                    match t {
                        record_type::EPHEMERAL => {
                            let Ok(key) = <[u8; 32]>::try_from(payload) else {
                                return Err(self.fail());
                            };
                            records.push(HandshakeRecord::Ephemeral(AgreementPublicKey(key)));
                        }
                        record_type::CONTACT_INFO => {
                            records.push(HandshakeRecord::ContactInfo(payload.to_vec()));
                        }
                        _ => {}
                    }
                    self.buf.clear();
                }
            }
        }
        Ok(records)
    }

    fn fail(&mut self) -> HandshakeError {
        self.failed = true;
        self.buf.clear();
        HandshakeError::Record
    }

    /// Call at the end of the stream.
    ///
    /// # Errors
    /// [`HandshakeError::Record`] if the stream ended inside a record or the reader had
    /// failed.
    pub fn finish(&self) -> Result<(), HandshakeError> {
        if self.failed || !self.buf.is_empty() {
            return Err(HandshakeError::Record);
        }
        Ok(())
    }
}

/// What went wrong in a handshake. Every variant but [`HandshakeError::State`] and
/// [`HandshakeError::OwnInfo`] is the peer's doing (or a damaged stream): the stream is dropped and
/// the handshake state is left as it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// A record that breaks the format.
    #[error("malformed handshake record")]
    Record,
    /// The peer's ephemeral key is unusable.
    #[error("the contact's ephemeral key is unusable")]
    BadEphemeral,
    /// Contact info before any ephemeral key.
    #[error("contact info arrived before the contact's ephemeral key")]
    InfoBeforeEphemeral,
    /// The contact info does not open under the key this handshake derived: it was made
    /// for another handshake, or the sender does not hold the link key.
    #[error("the contact info does not belong to this handshake")]
    InfoUnreadable,
    /// The contact info opened but is unacceptable.
    #[error("{0}")]
    Info(#[from] InfoError),
    /// Our own contact info breaks the limits (a nickname or properties we set): not
    /// the peer's doing.
    #[error("our own contact info is not acceptable: {0}")]
    OwnInfo(InfoError),
    /// The contact info names our own identity.
    #[error("the contact info names our own identity")]
    OwnIdentity,
    /// The saved state is damaged.
    #[error("the saved handshake state is damaged")]
    State,
}

/// What we tell the peer about ourselves, and the keys to prove it.
#[derive(Debug)]
pub struct Profile<'a> {
    /// Our static link key.
    pub link_key: &'a AgreementSecretKey,
    /// Our identity key.
    pub identity: &'a SigningKey,
    /// Our nickname.
    pub nickname: &'a str,
    /// How to reach us.
    pub properties: &'a Properties,
}

/// A finished handshake: the new contact.
#[derive(Debug)]
pub struct Completed {
    /// The contact's info.
    pub info: ContactInfo,
    /// Our role, for the contact's stream keys.
    pub role: Role,
    /// `min(our timestamp, theirs)`: the contact's keys start at its period.
    pub agreed: Timestamp,
    /// The root of the contact's stream keys. Drop it once every transport's keys exist.
    pub root: RootKey,
}

impl Completed {
    /// The new contact's stream keys for `transport`, starting in the period of the
    /// agreed timestamp (the caller rotates them to the current one).
    ///
    /// # Errors
    /// [`StreamError::InvalidPeriod`] for an agreed timestamp in period 0.
    pub fn transport_keys(
        &self,
        transport: TransportId,
        period_length: PeriodLength,
    ) -> Result<TransportKeys, StreamError> {
        let start = period_length.period_of(self.agreed);
        TransportKeys::derive(&self.root, self.role, transport, period_length, start)
    }
}

/// Which records one connection has carried, so each goes out once per stream.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sent {
    ephemeral: Option<AgreementPublicKey>,
    info: bool,
}

enum Stage {
    AwaitingEphemeral {
        ephemeral: AgreementSecretKey,
    },
    AwaitingInfo {
        ephemeral: AgreementSecretKey,
        theirs: AgreementPublicKey,
        timestamp: Timestamp,
        sealed_info: Vec<u8>,
    },
    Complete {
        ours: AgreementPublicKey,
        theirs: AgreementPublicKey,
        sealed_info: Vec<u8>,
    },
}

/// Handshake stream counters per transport: next outgoing stream number, and the
/// reordering window of incoming streams.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Counters {
    next_stream: u64,
    window_base: u64,
    window_seen: u32,
}

/// One pending contact's handshake.
pub struct Handshake {
    rendezvous: Rendezvous,
    our_link: AgreementPublicKey,
    their_link: AgreementPublicKey,
    stage: Stage,
    counters: BTreeMap<TransportId, Counters>,
}

impl core::fmt::Debug for Handshake {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Handshake")
            .field("role", &self.rendezvous.role())
            .field("stage", &self.stage_name())
            .finish_non_exhaustive()
    }
}

const STATE_VERSION: i64 = 1;

impl Handshake {
    /// Starts the handshake with the owner of `their_link`, with a fresh ephemeral key.
    ///
    /// # Errors
    /// [`RendezvousError`] if the link is our own or unusable.
    pub fn start(
        our_link_key: &AgreementSecretKey,
        their_link: &AgreementPublicKey,
        rng: &mut impl CryptoRng,
    ) -> Result<Self, RendezvousError> {
        Ok(Handshake {
            rendezvous: Rendezvous::new(our_link_key, their_link)?,
            our_link: our_link_key.public_key(),
            their_link: *their_link,
            stage: Stage::AwaitingEphemeral {
                ephemeral: AgreementSecretKey::generate(rng),
            },
            counters: BTreeMap::new(),
        })
    }

    /// The rendezvous this handshake meets at.
    pub fn rendezvous(&self) -> &Rendezvous {
        &self.rendezvous
    }

    /// Our role.
    pub fn role(&self) -> Role {
        self.rendezvous.role()
    }

    /// The peer's link key.
    pub fn their_link(&self) -> &AgreementPublicKey {
        &self.their_link
    }

    /// `awaiting-ephemeral`, `awaiting-info` or `complete`.
    pub fn stage_name(&self) -> &'static str {
        match self.stage {
            Stage::AwaitingEphemeral { .. } => "awaiting-ephemeral",
            Stage::AwaitingInfo { .. } => "awaiting-info",
            Stage::Complete { .. } => "complete",
        }
    }

    /// Whether we hold the peer's contact info (the contact exists on our side). The
    /// peer may still need our info: keep sending it until a stream under the new
    /// contact's keys arrives.
    pub fn is_complete(&self) -> bool {
        matches!(self.stage, Stage::Complete { .. })
    }

    fn our_ephemeral(&self) -> AgreementPublicKey {
        match &self.stage {
            Stage::AwaitingEphemeral { ephemeral } | Stage::AwaitingInfo { ephemeral, .. } => {
                ephemeral.public_key()
            }
            Stage::Complete { ours, .. } => *ours,
        }
    }

    fn sealed_info(&self) -> Option<&[u8]> {
        match &self.stage {
            Stage::AwaitingEphemeral { .. } => None,
            Stage::AwaitingInfo { sealed_info, .. } | Stage::Complete { sealed_info, .. } => {
                Some(sealed_info)
            }
        }
    }

    /// Appends the records this connection has not carried yet: our ephemeral key, then
    /// our sealed info once we have it.
    pub fn write_records(&self, sent: &mut Sent, out: &mut Vec<u8>) {
        let ours = self.our_ephemeral();
        if sent.ephemeral != Some(ours) {
            write_record(out, record_type::EPHEMERAL, &ours.0);
            *sent = Sent {
                ephemeral: Some(ours),
                info: false,
            };
        }
        if let (false, Some(sealed)) = (sent.info, self.sealed_info()) {
            write_record(out, record_type::CONTACT_INFO, sealed);
            sent.info = true;
        }
    }

    /// Whether a connection that carried `sent` has nothing more to say: our info went
    /// out and we hold theirs.
    pub fn is_done(&self, sent: &Sent) -> bool {
        self.is_complete() && sent.info && sent.ephemeral == Some(self.our_ephemeral())
    }

    /// Takes one record from the peer. Returns the new contact when this record
    /// completes the handshake. Records that change nothing (a key or info seen before)
    /// are accepted quietly.
    ///
    /// # Errors
    /// A [`HandshakeError`]; the state is then unchanged.
    pub fn handle(
        &mut self,
        record: HandshakeRecord,
        profile: &Profile<'_>,
        now: Timestamp,
        rng: &mut impl CryptoRng,
    ) -> Result<Option<Completed>, HandshakeError> {
        match record {
            HandshakeRecord::Ephemeral(theirs) => {
                let ephemeral = match &self.stage {
                    Stage::AwaitingEphemeral { ephemeral } => ephemeral,
                    // A different key: the peer started over (it lost its state, or
                    // removed and re-added our link). We meet the new key with ours.
                    Stage::AwaitingInfo {
                        ephemeral,
                        theirs: known,
                        ..
                    } if *known != theirs => ephemeral,
                    Stage::AwaitingInfo { .. } | Stage::Complete { .. } => return Ok(None),
                };
                let master = self.master_key(profile.link_key, ephemeral, &theirs)?;
                let our_role = self.role();
                let role = role_name(our_role).as_bytes();
                let nonce = mac(label::CONTACT_INFO_NONCE, &master, &[role]);
                let ours = ContactInfo {
                    identity: profile.identity.verifying_key(),
                    nickname: String::from(profile.nickname),
                    timestamp: now,
                    properties: profile.properties.clone(),
                };
                let plain = Zeroizing::new(
                    info::encode(&ours, profile.identity, &nonce.0)
                        .map_err(HandshakeError::OwnInfo)?,
                );
                let key = kdf(label::CONTACT_INFO_KEY, &master, &[role]);
                let sealed_info = aead::seal(&key, rng, role, &plain)
                    .map_err(|_| HandshakeError::OwnInfo(InfoError::Properties))?;
                if sealed_info.len() > MAX_PAYLOAD {
                    return Err(HandshakeError::OwnInfo(InfoError::Properties));
                }
                let ephemeral = AgreementSecretKey::from_bytes(*ephemeral.expose_secret());
                self.stage = Stage::AwaitingInfo {
                    ephemeral,
                    theirs,
                    timestamp: now,
                    sealed_info,
                };
                Ok(None)
            }
            HandshakeRecord::ContactInfo(sealed) => {
                let (master, timestamp) = match &self.stage {
                    Stage::AwaitingEphemeral { .. } => {
                        return Err(HandshakeError::InfoBeforeEphemeral);
                    }
                    Stage::Complete { .. } => return Ok(None),
                    Stage::AwaitingInfo {
                        ephemeral,
                        theirs,
                        timestamp,
                        ..
                    } => (
                        self.master_key(profile.link_key, ephemeral, theirs)?,
                        *timestamp,
                    ),
                };
                let master = &master;
                let their_role = self.role().peer();
                let key = kdf(
                    label::CONTACT_INFO_KEY,
                    master,
                    &[role_name(their_role).as_bytes()],
                );
                let plain = aead::open(&key, role_name(their_role).as_bytes(), &sealed)
                    .map_err(|_| HandshakeError::InfoUnreadable)?;
                let nonce = mac(
                    label::CONTACT_INFO_NONCE,
                    master,
                    &[role_name(their_role).as_bytes()],
                );
                let info = info::decode(&plain, &nonce.0)?;
                if info.identity == profile.identity.verifying_key() {
                    return Err(HandshakeError::OwnIdentity);
                }
                let root = RootKey::new(kdf(label::CONTACT_ROOT_KEY, master, &[]));
                let agreed = timestamp.min(info.timestamp);
                let placeholder = Stage::Complete {
                    ours: AgreementPublicKey([0; 32]),
                    theirs: AgreementPublicKey([0; 32]),
                    sealed_info: Vec::new(),
                };
                let (ephemeral, theirs, sealed_info) =
                    match core::mem::replace(&mut self.stage, placeholder) {
                        Stage::AwaitingInfo {
                            ephemeral,
                            theirs,
                            sealed_info,
                            ..
                        } => (ephemeral, theirs, sealed_info),
                        other => {
                            self.stage = other;
                            return Err(HandshakeError::State);
                        }
                    };
                // The ephemeral secret is dropped (and zeroized) with the old stage, the
                // master key at the end of this scope.
                self.stage = Stage::Complete {
                    ours: ephemeral.public_key(),
                    theirs,
                    sealed_info,
                };
                Ok(Some(Completed {
                    info,
                    role: self.role(),
                    agreed,
                    root,
                }))
            }
        }
    }

    /// `KDF(master-key, DH(eA, eB), DH(sA, eB), DH(eA, sB), SA, SB, EA, EB)`.
    fn master_key(
        &self,
        our_link_key: &AgreementSecretKey,
        our_ephemeral: &AgreementSecretKey,
        their_ephemeral: &AgreementPublicKey,
    ) -> Result<SecretKey, HandshakeError> {
        if our_link_key.public_key() != self.our_link {
            return Err(HandshakeError::State);
        }
        let bad = |_| HandshakeError::BadEphemeral;
        let ee = our_ephemeral.agree(their_ephemeral).map_err(bad)?;
        // Ours-static with their-ephemeral, and our-ephemeral with their-static.
        let se = our_link_key.agree(their_ephemeral).map_err(bad)?;
        let es = our_ephemeral.agree(&self.their_link).map_err(bad)?;
        let our_ephemeral = our_ephemeral.public_key();
        let (dh_sa_eb, dh_ea_sb, sa, sb, ea, eb) = match self.role() {
            Role::Alice => (
                &se,
                &es,
                &self.our_link,
                &self.their_link,
                &our_ephemeral,
                their_ephemeral,
            ),
            Role::Bob => (
                &es,
                &se,
                &self.their_link,
                &self.our_link,
                their_ephemeral,
                &our_ephemeral,
            ),
        };
        Ok(kdf(
            label::CONTACT_MASTER_KEY,
            ee.as_key(),
            &[
                dh_sa_eb.expose_secret(),
                dh_ea_sb.expose_secret(),
                &sa.0,
                &sb.0,
                &ea.0,
                &eb.0,
            ],
        ))
    }

    /// The handshake stream keys for `transport`, with the counters saved by
    /// [`Handshake::save_stream_keys`].
    ///
    /// # Errors
    /// [`StreamError`] only if the saved counters are inconsistent.
    pub fn stream_keys(
        &self,
        transport: &TransportId,
        period_length: PeriodLength,
    ) -> Result<TransportKeys, StreamError> {
        let keys = self
            .rendezvous
            .handshake_keys(transport.clone(), period_length)?;
        let Some(c) = self.counters.get(transport) else {
            return Ok(keys);
        };
        let mut state = keys.to_state();
        state.outgoing.next_stream = c.next_stream;
        state.incoming[1].window_base = c.window_base;
        state.incoming[1].window_seen = c.window_seen;
        TransportKeys::from_state(state)
    }

    /// Remembers the counters of handshake stream keys after a stream was taken or
    /// recognised. Counters never move back.
    pub fn save_stream_keys(&mut self, keys: &TransportKeys) {
        let state = keys.to_state();
        let new = Counters {
            next_stream: state.outgoing.next_stream,
            window_base: state.incoming[1].window_base,
            window_seen: state.incoming[1].window_seen,
        };
        let entry = self.counters.entry(keys.transport().clone()).or_default();
        entry.next_stream = entry.next_stream.max(new.next_stream);
        if new.window_base > entry.window_base
            || (new.window_base == entry.window_base
                && new.window_seen | entry.window_seen == new.window_seen)
        {
            entry.window_base = new.window_base;
            entry.window_seen = new.window_seen;
        }
    }

    /// The state to keep in the encrypted store. Holds secrets until the handshake is
    /// complete.
    pub fn to_state(&self) -> Zeroizing<Vec<u8>> {
        let raw = |b: &[u8]| Value::Raw(b.to_vec());
        let int = |n: u64| Value::Int(i64::try_from(n).unwrap_or(i64::MAX));
        let mut items = alloc::vec![
            Value::Int(STATE_VERSION),
            raw(&self.our_link.0),
            raw(&self.their_link.0)
        ];
        match &self.stage {
            Stage::AwaitingEphemeral { ephemeral } => {
                items.push(Value::Int(0));
                items.push(raw(ephemeral.expose_secret()));
            }
            Stage::AwaitingInfo {
                ephemeral,
                theirs,
                timestamp,
                sealed_info,
            } => {
                items.extend([
                    Value::Int(1),
                    raw(ephemeral.expose_secret()),
                    raw(&theirs.0),
                    int(timestamp.as_millis()),
                    raw(sealed_info),
                ]);
            }
            Stage::Complete {
                ours,
                theirs,
                sealed_info,
            } => {
                items.extend([
                    Value::Int(2),
                    raw(&ours.0),
                    raw(&theirs.0),
                    raw(sealed_info),
                ]);
            }
        }
        let counters = self
            .counters
            .iter()
            .map(|(t, c)| {
                let v = Value::List(alloc::vec![
                    int(c.next_stream),
                    int(c.window_base),
                    Value::Int(i64::from(c.window_seen))
                ]);
                (String::from(t.as_str()), v)
            })
            .collect();
        items.push(Value::Dict(counters));
        let mut value = Value::List(items);
        let bytes = Zeroizing::new(wire::encode(&value).unwrap_or_default());
        zeroize_value(&mut value);
        bytes
    }

    /// A handshake from [`Handshake::to_state`].
    ///
    /// # Errors
    /// [`HandshakeError::State`] if the bytes are not a saved state of this pair of
    /// links; the link errors of [`Handshake::start`] as [`HandshakeError::State`] too.
    pub fn restore(
        our_link_key: &AgreementSecretKey,
        their_link: &AgreementPublicKey,
        state: &[u8],
    ) -> Result<Self, HandshakeError> {
        let rendezvous =
            Rendezvous::new(our_link_key, their_link).map_err(|_| HandshakeError::State)?;
        let mut value = wire::decode(
            state,
            &Limits {
                max_depth: 3,
                max_len: MAX_PAYLOAD,
            },
        )
        .map_err(|_| HandshakeError::State)?;
        let parsed = parse_state(&value, &our_link_key.public_key(), their_link);
        zeroize_value(&mut value);
        let (stage, counters) = parsed.ok_or(HandshakeError::State)?;
        Ok(Handshake {
            rendezvous,
            our_link: our_link_key.public_key(),
            their_link: *their_link,
            stage,
            counters,
        })
    }
}

fn parse_state(
    value: &Value,
    our_link: &AgreementPublicKey,
    their_link: &AgreementPublicKey,
) -> Option<(Stage, BTreeMap<TransportId, Counters>)> {
    let key32 = |v: &Value| -> Option<[u8; 32]> { v.as_raw()?.try_into().ok() };
    let [version, ours, theirs, items @ ..] = value.as_list()? else {
        return None;
    };
    if version.as_int() != Some(STATE_VERSION)
        || key32(ours)? != our_link.0
        || key32(theirs)? != their_link.0
    {
        return None;
    }
    let uint = |v: &Value| -> Option<u64> { u64::try_from(v.as_int()?).ok() };
    let (stage, counters) = match items {
        [s, e, c] if s.as_int() == Some(0) => (
            Stage::AwaitingEphemeral {
                ephemeral: AgreementSecretKey::from_bytes(key32(e)?),
            },
            c,
        ),
        [s, e, t, ts, si, c] if s.as_int() == Some(1) => (
            Stage::AwaitingInfo {
                ephemeral: AgreementSecretKey::from_bytes(key32(e)?),
                theirs: AgreementPublicKey(key32(t)?),
                timestamp: Timestamp::from_millis(uint(ts)?).ok()?,
                sealed_info: si.as_raw()?.to_vec(),
            },
            c,
        ),
        [s, o, t, si, c] if s.as_int() == Some(2) => (
            Stage::Complete {
                ours: AgreementPublicKey(key32(o)?),
                theirs: AgreementPublicKey(key32(t)?),
                sealed_info: si.as_raw()?.to_vec(),
            },
            c,
        ),
        _ => return None,
    };
    let mut map = BTreeMap::new();
    for (t, c) in counters.as_dict()? {
        let [n, b, s] = c.as_list()? else {
            return None;
        };
        map.insert(
            TransportId::new(t).ok()?,
            Counters {
                next_stream: uint(n)?,
                window_base: uint(b)?,
                window_seen: u32::try_from(s.as_int()?).ok()?,
            },
        );
    }
    Some((stage, map))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chacha20::ChaCha20Rng;
    use chacha20::rand_core::SeedableRng;
    use core::time::Duration;

    struct Side {
        link: AgreementSecretKey,
        identity: SigningKey,
        name: &'static str,
        properties: Properties,
    }

    impl Side {
        fn new(n: u8, name: &'static str) -> Self {
            let mut props = Properties::new();
            props.insert(
                String::from("tor"),
                [(String::from("onion"), alloc::format!("{name}.onion"))].into(),
            );
            Side {
                link: AgreementSecretKey::from_bytes([n; 32]),
                identity: SigningKey::from_seed([n; 32]),
                name,
                properties: props,
            }
        }
        fn profile(&self) -> Profile<'_> {
            Profile {
                link_key: &self.link,
                identity: &self.identity,
                nickname: self.name,
                properties: &self.properties,
            }
        }
    }

    const T0: u64 = 1_750_000_000_000;

    fn ts(ms: u64) -> Timestamp {
        Timestamp::from_millis(ms).unwrap()
    }

    /// Everything `from` says in one stream, read by `to`.
    fn deliver(
        from: &Handshake,
        to: &mut Handshake,
        side: &Side,
        now: u64,
        rng: &mut ChaCha20Rng,
    ) -> Result<Option<Completed>, HandshakeError> {
        let mut bytes = Vec::new();
        from.write_records(&mut Sent::default(), &mut bytes);
        let mut reader = HandshakeReader::new();
        let mut done = None;
        // Byte by byte, to exercise the reader's buffering.
        for b in bytes.chunks(1) {
            for record in reader.read(b)? {
                if let Some(c) = to.handle(record, &side.profile(), ts(now), rng)? {
                    done = Some(c);
                }
            }
        }
        reader.finish()?;
        Ok(done)
    }

    /// Round trips a handshake through its saved state, as between two files.
    fn reload(h: Handshake, side: &Side) -> Handshake {
        let state = h.to_state();
        Handshake::restore(&side.link, h.their_link(), &state).unwrap()
    }

    fn check_pair(ca: &Completed, cb: &Completed, a: &Side, b: &Side) {
        assert_eq!(ca.info.identity, b.identity.verifying_key());
        assert_eq!(cb.info.identity, a.identity.verifying_key());
        assert_eq!(ca.info.nickname, b.name);
        assert_eq!(ca.info.properties, b.properties);
        assert_eq!(ca.agreed, cb.agreed);
        assert_eq!(ca.role.peer(), cb.role);
        let len = PeriodLength::for_max_latency(Duration::from_secs(30)).unwrap();
        let mut ka = ca.transport_keys(TransportId::TOR, len).unwrap();
        let mut kb = cb.transport_keys(TransportId::TOR, len).unwrap();
        let s = ka.outgoing_mut().next_stream().unwrap();
        assert!(kb.incoming_mut().recognise(&s.tag).is_some());
        let s = kb.outgoing_mut().next_stream().unwrap();
        assert!(ka.incoming_mut().recognise(&s.tag).is_some());
    }

    #[test]
    fn duplex_round_trip() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let (a, b) = (Side::new(1, "Alice"), Side::new(2, "Bob"));
        let mut ha = Handshake::start(&a.link, &b.link.public_key(), &mut rng).unwrap();
        let mut hb = Handshake::start(&b.link, &a.link.public_key(), &mut rng).unwrap();
        // Both send their ephemeral keys at once; then each its info.
        let (mut sa, mut sb) = (Sent::default(), Sent::default());
        let (mut wa, mut wb) = (Vec::new(), Vec::new());
        ha.write_records(&mut sa, &mut wa);
        hb.write_records(&mut sb, &mut wb);
        let (mut ra, mut rb) = (HandshakeReader::new(), HandshakeReader::new());
        for r in rb.read(&wa).unwrap() {
            assert!(
                hb.handle(r, &b.profile(), ts(T0), &mut rng)
                    .unwrap()
                    .is_none()
            );
        }
        for r in ra.read(&wb).unwrap() {
            assert!(
                ha.handle(r, &a.profile(), ts(T0 + 5), &mut rng)
                    .unwrap()
                    .is_none()
            );
        }
        assert!(!ha.is_done(&sa));
        let (mut wa, mut wb) = (Vec::new(), Vec::new());
        ha.write_records(&mut sa, &mut wa);
        hb.write_records(&mut sb, &mut wb);
        // Only the info goes out now: the ephemeral keys were sent already.
        assert_eq!(wa[1], record_type::CONTACT_INFO);
        let cb = rb
            .read(&wa)
            .unwrap()
            .into_iter()
            .find_map(|r| hb.handle(r, &b.profile(), ts(T0), &mut rng).unwrap())
            .unwrap();
        let ca = ra
            .read(&wb)
            .unwrap()
            .into_iter()
            .find_map(|r| ha.handle(r, &a.profile(), ts(T0), &mut rng).unwrap())
            .unwrap();
        assert!(ha.is_done(&sa) && hb.is_done(&sb));
        check_pair(&ca, &cb, &a, &b);
        assert_eq!(ca.agreed, ts(T0));
        // The state kept after completion holds no secret: no ephemeral, no master.
        let state = ha.to_state();
        let decoded = wire::decode(&state, &Limits::DEFAULT).unwrap();
        assert_eq!(decoded.as_list().unwrap()[3].as_int(), Some(2));
        assert_eq!(
            decoded.as_list().unwrap().len(),
            8,
            "no secret in the complete state"
        );
    }

    #[test]
    fn files_in_any_order_days_apart() {
        // Alice writes a file first; Bob reads it days later, replies; and so on, with
        // every state saved and reloaded between files, and stale files read again.
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let (a, b) = (Side::new(3, "Alice"), Side::new(4, "Bob"));
        let ha = Handshake::start(&a.link, &b.link.public_key(), &mut rng).unwrap();
        let hb = Handshake::start(&b.link, &a.link.public_key(), &mut rng).unwrap();
        let (mut ha, mut hb) = (reload(ha, &a), reload(hb, &b));
        let day = 86_400_000;
        let a1 = reload(
            Handshake::restore(&a.link, &b.link.public_key(), &ha.to_state()).unwrap(),
            &a,
        );
        assert!(
            deliver(&a1, &mut hb, &b, T0 + 3 * day, &mut rng)
                .unwrap()
                .is_none()
        );
        let mut hb = reload(hb, &b);
        assert_eq!(hb.stage_name(), "awaiting-info");
        // Bob's reply completes Alice.
        let ca = deliver(&hb, &mut ha, &a, T0 + 6 * day, &mut rng)
            .unwrap()
            .unwrap();
        let mut ha = reload(ha, &a);
        assert!(ha.is_complete());
        // Alice's first file, read again by Bob, changes nothing.
        assert!(
            deliver(&a1, &mut hb, &b, T0 + 7 * day, &mut rng)
                .unwrap()
                .is_none()
        );
        // Alice's next file completes Bob.
        let cb = deliver(&ha, &mut hb, &b, T0 + 9 * day, &mut rng)
            .unwrap()
            .unwrap();
        check_pair(&ca, &cb, &a, &b);
        assert_eq!(ca.agreed, ts(T0 + 3 * day), "Bob sealed his info on day 3");
        // Anything later is quietly ignored.
        assert!(
            deliver(&ha, &mut hb, &b, T0 + 10 * day, &mut rng)
                .unwrap()
                .is_none()
        );
        assert!(
            deliver(&hb, &mut ha, &a, T0 + 10 * day, &mut rng)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn crossing_files() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let (a, b) = (Side::new(5, "Alice"), Side::new(6, "Bob"));
        let mut ha = Handshake::start(&a.link, &b.link.public_key(), &mut rng).unwrap();
        let mut hb = Handshake::start(&b.link, &a.link.public_key(), &mut rng).unwrap();
        let (fa, fb) = (
            reload(
                Handshake::restore(&a.link, &b.link.public_key(), &ha.to_state()).unwrap(),
                &a,
            ),
            reload(
                Handshake::restore(&b.link, &a.link.public_key(), &hb.to_state()).unwrap(),
                &b,
            ),
        );
        assert!(deliver(&fb, &mut ha, &a, T0, &mut rng).unwrap().is_none());
        assert!(deliver(&fa, &mut hb, &b, T0, &mut rng).unwrap().is_none());
        let cb = deliver(&ha, &mut hb, &b, T0, &mut rng).unwrap().unwrap();
        let ca = deliver(&hb, &mut ha, &a, T0, &mut rng).unwrap().unwrap();
        check_pair(&ca, &cb, &a, &b);
    }

    #[test]
    fn peer_starting_over() {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let (a, b) = (Side::new(7, "Alice"), Side::new(8, "Bob"));
        let mut ha = Handshake::start(&a.link, &b.link.public_key(), &mut rng).unwrap();
        let mut hb = Handshake::start(&b.link, &a.link.public_key(), &mut rng).unwrap();
        deliver(&ha, &mut hb, &b, T0, &mut rng).unwrap();
        // Alice loses her state and adds Bob's link again.
        ha = Handshake::start(&a.link, &b.link.public_key(), &mut rng).unwrap();
        assert!(
            deliver(&hb, &mut ha, &a, T0, &mut rng).is_err(),
            "Bob's info is for the old key"
        );
        // Bob meets her new key with his same one.
        let bob_key = hb.our_ephemeral();
        // Alice already holds Bob's key, so her stream carries her info too.
        let cb = deliver(&ha, &mut hb, &b, T0, &mut rng).unwrap().unwrap();
        assert_eq!(hb.our_ephemeral(), bob_key);
        let ca = deliver(&hb, &mut ha, &a, T0, &mut rng).unwrap().unwrap();
        check_pair(&ca, &cb, &a, &b);
    }

    #[test]
    fn impostors_and_damage_are_refused() {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let (a, b, m) = (
            Side::new(9, "Alice"),
            Side::new(10, "Bob"),
            Side::new(11, "Mallory"),
        );
        let mut ha = Handshake::start(&a.link, &b.link.public_key(), &mut rng).unwrap();
        let mut hb = Handshake::start(&b.link, &a.link.public_key(), &mut rng).unwrap();
        // Mallory holds Alice's link but not Bob's key: her handshake with Alice is a
        // different rendezvous, and her info does not open in Alice's handshake with Bob.
        let mut hm = Handshake::start(&m.link, &a.link.public_key(), &mut rng).unwrap();
        deliver(&ha, &mut hb, &b, T0, &mut rng).unwrap();
        deliver(&ha, &mut hm, &m, T0, &mut rng).unwrap();
        let mut records = Vec::new();
        hm.write_records(&mut Sent::default(), &mut records);
        let parsed = HandshakeReader::new().read(&records).unwrap();
        let before = ha.to_state();
        ha.handle(parsed[0].clone(), &a.profile(), ts(T0), &mut rng)
            .unwrap();
        assert_eq!(
            ha.handle(parsed[1].clone(), &a.profile(), ts(T0), &mut rng)
                .unwrap_err(),
            HandshakeError::InfoUnreadable
        );
        // Tampered info from Bob.
        let mut ha = Handshake::restore(&a.link, &b.link.public_key(), &before).unwrap();
        let mut bob = Vec::new();
        hb.write_records(&mut Sent::default(), &mut bob);
        let mut parsed = HandshakeReader::new().read(&bob).unwrap();
        ha.handle(parsed[0].clone(), &a.profile(), ts(T0), &mut rng)
            .unwrap();
        let HandshakeRecord::ContactInfo(info) = &mut parsed[1] else {
            panic!()
        };
        let last = info.len() - 1;
        info[last] ^= 1;
        let saved = ha.to_state();
        assert_eq!(
            ha.handle(parsed[1].clone(), &a.profile(), ts(T0), &mut rng)
                .unwrap_err(),
            HandshakeError::InfoUnreadable
        );
        assert_eq!(*ha.to_state(), *saved, "a refused record changes nothing");
        // Info before any ephemeral key.
        let mut fresh = Handshake::start(&a.link, &b.link.public_key(), &mut rng).unwrap();
        assert_eq!(
            fresh
                .handle(parsed[1].clone(), &a.profile(), ts(T0), &mut rng)
                .unwrap_err(),
            HandshakeError::InfoBeforeEphemeral
        );
        // A low-order ephemeral key.
        assert_eq!(
            fresh
                .handle(
                    HandshakeRecord::Ephemeral(AgreementPublicKey([0; 32])),
                    &a.profile(),
                    ts(T0),
                    &mut rng
                )
                .unwrap_err(),
            HandshakeError::BadEphemeral
        );
        // Saved state of another pair, or damaged.
        assert_eq!(
            Handshake::restore(&a.link, &m.link.public_key(), &saved)
                .map(|_| ())
                .unwrap_err(),
            HandshakeError::State
        );
        assert!(
            Handshake::restore(&a.link, &b.link.public_key(), &saved[..saved.len() - 1]).is_err()
        );
    }

    #[test]
    fn reader_rejects_bad_records() {
        let mut r = HandshakeReader::new();
        assert_eq!(r.read(&[2, 0, 0, 32]).unwrap_err(), HandshakeError::Record);
        assert_eq!(
            r.read(&[1]).unwrap_err(),
            HandshakeError::Record,
            "stays failed"
        );
        let mut r = HandshakeReader::new();
        assert_eq!(r.read(&[1, 0, 0, 31]).unwrap(), []);
        assert_eq!(
            r.read(&[0; 31]).unwrap_err(),
            HandshakeError::Record,
            "short key"
        );
        let mut r = HandshakeReader::new();
        assert_eq!(
            r.read(&[1, 1, 0x20, 0x01]).unwrap_err(),
            HandshakeError::Record,
            "too large"
        );
        // Unknown types are skipped; a stream cut inside a record is truncated.
        let mut r = HandshakeReader::new();
        assert_eq!(r.read(&[1, 9, 0, 2, 7, 7, 1, 0]).unwrap(), []);
        assert!(r.finish().is_err());
    }

    #[test]
    fn stream_counters_survive_restore() {
        let mut rng = ChaCha20Rng::seed_from_u64(6);
        let (a, b) = (Side::new(12, "Alice"), Side::new(13, "Bob"));
        let mut ha = Handshake::start(&a.link, &b.link.public_key(), &mut rng).unwrap();
        let mut hb = Handshake::start(&b.link, &a.link.public_key(), &mut rng).unwrap();
        let len = PeriodLength::for_max_latency(Duration::from_secs(30)).unwrap();
        let mut tags = Vec::new();
        for _ in 0..3 {
            let mut keys = ha.stream_keys(&TransportId::FILE, len).unwrap();
            tags.push(keys.outgoing_mut().next_stream().unwrap().tag);
            ha.save_stream_keys(&keys);
            ha = reload(ha, &a);
        }
        assert_ne!(tags[0], tags[1]);
        for tag in &tags {
            let mut keys = hb.stream_keys(&TransportId::FILE, len).unwrap();
            assert!(keys.incoming_mut().recognise(tag).is_some());
            hb.save_stream_keys(&keys);
            hb = reload(hb, &b);
        }
        // Replays are not recognised.
        let mut keys = hb.stream_keys(&TransportId::FILE, len).unwrap();
        assert!(keys.incoming_mut().recognise(&tags[1]).is_none());
    }
}
