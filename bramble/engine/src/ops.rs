//! What the engine does on the database worker: synchronous steps over the [`Store`],
//! each taking `now` and the worker's RNG. Async code never touches the store except
//! through these.

use std::collections::BTreeMap;
use std::time::Duration;

use bramble_proto::contact::{
    Completed, Handshake, HandshakeRecord, Link, PENDING_EXPIRY, Profile, Properties, Rendezvous,
    RendezvousError, Sent,
};
use bramble_proto::crypto::{AgreementPublicKey, SecretKey};
use bramble_proto::ids::MessageId;
use bramble_proto::messaging;
use bramble_proto::stream::{
    IncomingStream, OutgoingStream, StreamReader, StreamTag, StreamWriter, TAG_LEN, TransportKeys,
};
use bramble_proto::sync::session::SYNC_VERSION;
use bramble_proto::sync::{Mode, Session, SessionConfig, SyncEvent, record};
use bramble_proto::time::{PeriodLength, Timestamp};
use bramble_proto::transport::{Beacon, TransportId};
use bramble_store::{ContactId, NewContact, PendingContact, PendingContactId, Store, StoreError};
use chacha20::ChaCha20Rng;
use thicket_transport::{Peer, RendezvousPoint};
use zeroize::Zeroizing;

use crate::error::EngineError;
use crate::event::{Event, PendingInfo, PendingState};

/// Stage numbers kept in `pending_contacts.state`.
pub(crate) const STAGE_WAITING: i64 = 0;
pub(crate) const STAGE_AWAITING_INFO: i64 = 1;
pub(crate) const STAGE_COMPLETE: i64 = 2;

/// The largest batch stream one export writes; what does not fit goes in the next.
pub(crate) const MAX_EXPORT_BYTES: usize = 32 * 1024 * 1024;

/// The transports keys are derived for, with their maximum latencies: every transport
/// the spec defines, and any other transport this engine registered (tests).
#[derive(Clone, Debug)]
pub(crate) struct Ctx {
    latencies: BTreeMap<TransportId, Duration>,
}

impl Ctx {
    pub(crate) fn new(extra: impl IntoIterator<Item = (TransportId, Duration)>) -> Self {
        let mut latencies = BTreeMap::new();
        for t in [
            TransportId::TOR,
            TransportId::LAN,
            TransportId::BLE,
            TransportId::FILE,
        ] {
            if let Some(l) = t.spec_max_latency() {
                latencies.insert(t, l);
            }
        }
        for (t, l) in extra {
            latencies.entry(t).or_insert(l);
        }
        Ctx { latencies }
    }

    pub(crate) fn max_latency(&self, t: &TransportId) -> Result<Duration, EngineError> {
        self.latencies
            .get(t)
            .copied()
            .ok_or(EngineError::UnknownTransport)
    }

    pub(crate) fn period_length(&self, t: &TransportId) -> Result<PeriodLength, EngineError> {
        PeriodLength::for_max_latency(self.max_latency(t)?)
            .map_err(|_| EngineError::UnknownTransport)
    }
}

/// Whose stream a tag opened.
#[derive(Debug)]
pub(crate) enum Recognised {
    Contact(ContactId, IncomingStream),
    Pending(PendingContactId, IncomingStream),
}

/// The settings namespace of transports' own secrets (`spec/store.md#schema`).
pub(crate) const TRANSPORT_SECRET: &str = "transport-secret";

/// A transport's secret, made (32 random bytes) the first time it is asked for.
pub(crate) fn transport_secret(
    store: &mut Store,
    transport: &TransportId,
    rng: &mut ChaCha20Rng,
) -> Result<SecretKey, EngineError> {
    if let Some(bytes) = store.setting(TRANSPORT_SECRET, transport.as_str())? {
        let bytes = Zeroizing::new(bytes);
        let mut key = Zeroizing::new([0u8; SecretKey::LEN]);
        if bytes.len() != key.len() {
            return Err(StoreError::InvalidData("a transport secret is not 32 bytes").into());
        }
        key.copy_from_slice(&bytes);
        return Ok(SecretKey::from_bytes(*key));
    }
    let key = SecretKey::random(rng);
    store.set_setting(TRANSPORT_SECRET, transport.as_str(), key.expose_secret())?;
    Ok(key)
}

/// Finds whose stream `tag` opens on `transport`: a contact's (its keys rotated to
/// `now`), or a pending contact's handshake stream. Marks the stream seen.
pub(crate) fn recognise(
    store: &mut Store,
    ctx: &Ctx,
    transport: &TransportId,
    tag: &StreamTag,
    now: Timestamp,
) -> Result<Option<Recognised>, EngineError> {
    for (contact, state) in store.all_transport_keys()? {
        if state.transport != *transport {
            continue;
        }
        // One contact's unusable keys must not stop the others' streams.
        let Ok(mut keys) = TransportKeys::from_state(state).and_then(|k| k.rotate_to_time(now))
        else {
            continue;
        };
        if let Some(incoming) = keys.incoming_mut().recognise(tag) {
            store.save_transport_keys(&[(contact, &keys.to_state())])?;
            confirm_handshake(store, contact)?;
            return Ok(Some(Recognised::Contact(contact, incoming)));
        }
    }
    let identity = store.identity()?;
    let period_length = ctx.period_length(transport)?;
    for pending in store.pending_contacts()? {
        let Ok(mut handshake) = load_handshake(&identity.handshake_key, &pending) else {
            continue;
        };
        let Ok(mut keys) = handshake.stream_keys(transport, period_length) else {
            continue;
        };
        if let Some(incoming) = keys.incoming_mut().recognise(tag) {
            handshake.save_stream_keys(&keys);
            save_handshake(store, pending.id, &handshake)?;
            return Ok(Some(Recognised::Pending(pending.id, incoming)));
        }
    }
    Ok(None)
}

/// A contact's stream under its own keys proves it holds our info: the pending contact
/// kept to resend it goes.
fn confirm_handshake(store: &mut Store, contact: ContactId) -> Result<(), EngineError> {
    let Some(c) = store.contact(contact)? else {
        return Ok(());
    };
    for p in store.pending_contacts()? {
        if p.handshake_public == c.handshake_public && p.state == STAGE_COMPLETE {
            store.remove_pending_contact(p.id)?;
        }
    }
    Ok(())
}

/// A contact's keys for `transport`, rotated to `now`.
fn current_keys(
    store: &Store,
    contact: ContactId,
    transport: &TransportId,
    now: Timestamp,
) -> Result<TransportKeys, EngineError> {
    let state = store
        .transport_keys(contact, transport)?
        .ok_or(EngineError::UnknownTransport)?;
    TransportKeys::from_state(state)
        .and_then(|k| k.rotate_to_time(now))
        .map_err(EngineError::Stream)
}

/// The next outgoing stream to a contact on `transport`; the counter is stored before
/// this returns.
pub(crate) fn open_contact_stream(
    store: &mut Store,
    contact: ContactId,
    transport: &TransportId,
    now: Timestamp,
) -> Result<OutgoingStream, EngineError> {
    let mut keys = current_keys(store, contact, transport, now)?;
    let stream = keys
        .outgoing_mut()
        .next_stream()
        .map_err(EngineError::Stream)?;
    store.save_transport_keys(&[(contact, &keys.to_state())])?;
    Ok(stream)
}

/// Whether a stream to `contact` on `transport` was opened in the current key period.
fn streams_opened_this_period(
    store: &Store,
    contact: ContactId,
    transport: &TransportId,
    now: Timestamp,
) -> Result<bool, EngineError> {
    Ok(current_keys(store, contact, transport, now)?
        .outgoing()
        .next_stream_number()
        > 0)
}

/// The next outgoing handshake stream to a pending contact on `transport`.
pub(crate) fn open_pending_stream(
    store: &mut Store,
    ctx: &Ctx,
    pending: PendingContactId,
    transport: &TransportId,
) -> Result<(OutgoingStream, Handshake), EngineError> {
    let identity = store.identity()?;
    let p = pending_row(store, pending)?;
    let mut handshake = load_handshake(&identity.handshake_key, &p)?;
    let mut keys = handshake
        .stream_keys(transport, ctx.period_length(transport)?)
        .map_err(EngineError::Stream)?;
    let stream = keys
        .outgoing_mut()
        .next_stream()
        .map_err(EngineError::Stream)?;
    handshake.save_stream_keys(&keys);
    save_handshake(store, pending, &handshake)?;
    Ok((stream, handshake))
}

pub(crate) fn pending_row(
    store: &Store,
    id: PendingContactId,
) -> Result<PendingContact, EngineError> {
    store
        .pending_contacts()?
        .into_iter()
        .find(|p| p.id == id)
        .ok_or(EngineError::PendingGone)
}

fn load_handshake(
    link_key: &bramble_proto::crypto::AgreementSecretKey,
    p: &PendingContact,
) -> Result<Handshake, EngineError> {
    let state = p.handshake_state.as_deref().ok_or(EngineError::Handshake(
        bramble_proto::contact::HandshakeError::State,
    ))?;
    Handshake::restore(link_key, &p.handshake_public, state).map_err(EngineError::Handshake)
}

fn save_handshake(
    store: &mut Store,
    id: PendingContactId,
    h: &Handshake,
) -> Result<(), EngineError> {
    let stage = match h.stage_name() {
        "awaiting-ephemeral" => STAGE_WAITING,
        "awaiting-info" => STAGE_AWAITING_INFO,
        _ => STAGE_COMPLETE,
    };
    store.update_pending_contact(id, stage, Some(&h.to_state()))?;
    Ok(())
}

/// Adds someone's link as a pending contact.
pub(crate) fn add_link(
    store: &mut Store,
    text: &str,
    alias: &str,
    now: Timestamp,
    rng: &mut ChaCha20Rng,
) -> Result<PendingContactId, EngineError> {
    let link = Link::parse(text)?;
    let identity = store.identity()?;
    if *link.key() == identity.handshake_key.public_key() {
        return Err(EngineError::OwnLink);
    }
    if let Some(c) = store
        .contacts()?
        .into_iter()
        .find(|c| c.handshake_public == *link.key())
    {
        return Err(EngineError::AlreadyContact(c.display_name().to_owned()));
    }
    if let Some(p) = store
        .pending_contacts()?
        .into_iter()
        .find(|p| p.handshake_public == *link.key())
    {
        return Err(EngineError::AlreadyPending(p.alias));
    }
    let handshake =
        Handshake::start(&identity.handshake_key, link.key(), rng).map_err(|e| match e {
            RendezvousError::OwnLink => EngineError::OwnLink,
            _ => EngineError::BadLink,
        })?;
    let id = store.add_pending_contact(link.key(), alias, now)?;
    save_handshake(store, id, &handshake)?;
    Ok(id)
}

/// What one handshake step produced.
#[derive(Debug)]
pub(crate) struct HandshakeStep {
    /// Records to write next.
    pub(crate) out: Vec<u8>,
    /// What this connection has carried, after `out`.
    pub(crate) sent: Sent,
    /// Nothing more to say on this connection.
    pub(crate) done: bool,
    /// The contact this step created.
    pub(crate) created: Option<ContactId>,
    /// Why the peer's records were refused, if they were (the connection ends; the
    /// pending contact records it as its failure).
    pub(crate) refused: Option<String>,
}

/// Hands `records` from a pending contact to its handshake and saves the result; on
/// completion creates the contact with keys for every transport.
pub(crate) fn handshake_step(
    store: &mut Store,
    ctx: &Ctx,
    pending: PendingContactId,
    records: Vec<HandshakeRecord>,
    mut sent: Sent,
    now: Timestamp,
    rng: &mut ChaCha20Rng,
) -> Result<HandshakeStep, EngineError> {
    let identity = store.identity()?;
    let p = pending_row(store, pending)?;
    let mut handshake = load_handshake(&identity.handshake_key, &p)?;
    let properties = local_properties(store, ctx)?;
    let profile = Profile {
        link_key: &identity.handshake_key,
        identity: &identity.signing_key,
        nickname: &identity.nickname,
        properties: &properties,
    };
    let mut created = None;
    let mut refused = None;
    for record in records {
        match handshake.handle(record, &profile, now, rng) {
            Ok(None) => {}
            Ok(Some(completed)) => match create_contact(store, ctx, &p, &completed, now) {
                Ok((id, new)) => {
                    if new {
                        created = Some(id);
                    }
                }
                // The same person under another link: this handshake must not complete,
                // and its state stays as it was, so nothing of it is saved.
                Err(EngineError::AlreadyContact(name)) => {
                    let why = format!("they are already your contact {name}, under another link");
                    record_failure(store, pending, &why)?;
                    return Ok(HandshakeStep {
                        out: Vec::new(),
                        sent,
                        done: true,
                        created: None,
                        refused: Some(why),
                    });
                }
                Err(e) => return Err(e),
            },
            Err(e) => {
                refused = Some(e.to_string());
                break;
            }
        }
    }
    save_handshake(store, pending, &handshake)?;
    if let Some(why) = &refused {
        record_failure(store, pending, why)?;
    }
    let mut out = Vec::new();
    if refused.is_none() {
        handshake.write_records(&mut sent, &mut out);
    }
    Ok(HandshakeStep {
        done: handshake.is_done(&sent),
        out,
        sent,
        created,
        refused,
    })
}

/// Records why a pending contact's handshake was refused (spec/contacts.md#pending-contacts),
/// cut to what the store keeps.
pub(crate) fn record_failure(
    store: &mut Store,
    pending: PendingContactId,
    why: &str,
) -> Result<(), EngineError> {
    let mut why: String = why.chars().filter(|c| !c.is_control()).collect();
    if why.len() > 512 {
        let mut end = 509;
        while !why.is_char_boundary(end) {
            end -= 1;
        }
        why.truncate(end);
        why.push('…');
    }
    if why.is_empty() {
        why.push_str("refused");
    }
    store.set_pending_failure(pending, Some(&why))?;
    Ok(())
}

/// Our properties for every transport, as contact info carries them.
fn local_properties(store: &Store, ctx: &Ctx) -> Result<Properties, EngineError> {
    let mut out = Properties::new();
    for t in ctx.latencies.keys() {
        let props = store.local_properties(t)?;
        if !props.is_empty() {
            out.insert(t.as_str().to_owned(), props);
        }
    }
    Ok(out)
}

fn create_contact(
    store: &mut Store,
    ctx: &Ctx,
    p: &PendingContact,
    completed: &Completed,
    now: Timestamp,
) -> Result<(ContactId, bool), EngineError> {
    let mut keys = Vec::new();
    for (t, latency) in &ctx.latencies {
        let len =
            PeriodLength::for_max_latency(*latency).map_err(|_| EngineError::UnknownTransport)?;
        let k = completed
            .transport_keys(t.clone(), len)
            .and_then(|k| k.rotate_to_time(now))
            .map_err(EngineError::Stream)?;
        keys.push(k.to_state());
    }
    let info = &completed.info;
    // Completing again (a crash after the contact was stored, before the handshake state
    // was) finds the same identity under the same link: the same contact.
    if let Some(c) = store
        .contacts()?
        .into_iter()
        .find(|c| c.signing_public == info.identity)
    {
        if c.handshake_public != p.handshake_public {
            return Err(EngineError::AlreadyContact(c.display_name().to_owned()));
        }
        // Its properties may not have been stored; storing them again is harmless.
        set_properties(store, c.id, info)?;
        return Ok((c.id, false));
    }
    let id = store
        .add_contact(
            &NewContact {
                nickname: &info.nickname,
                alias: Some(&p.alias),
                signing_public: info.identity,
                handshake_public: p.handshake_public,
                role: completed.role,
                verified: false,
                added_at: completed.agreed,
            },
            &keys,
        )
        .map_err(|e| match e {
            StoreError::InvalidInput("this identity is already a contact") => {
                EngineError::AlreadyContact(info.nickname.clone())
            }
            e => EngineError::Store(e),
        })?;
    set_properties(store, id, info)?;
    Ok((id, true))
}

fn set_properties(
    store: &mut Store,
    id: ContactId,
    info: &bramble_proto::contact::ContactInfo,
) -> Result<(), EngineError> {
    for (t, props) in &info.properties {
        if let Ok(t) = TransportId::new(t) {
            store.set_contact_properties(id, &t, props)?;
        }
    }
    Ok(())
}

/// Rendezvous points of every pending contact on `transport`, with our role.
pub(crate) fn rendezvous_points(
    store: &Store,
    ctx: &Ctx,
    transport: &TransportId,
    now: Timestamp,
) -> Result<Vec<(PendingContactId, RendezvousPoint)>, EngineError> {
    let identity = store.identity()?;
    let period = ctx.period_length(transport)?.period_of(now);
    let mut out = Vec::new();
    for p in store.pending_contacts()? {
        let Ok(r) = Rendezvous::new(&identity.handshake_key, &p.handshake_public) else {
            continue;
        };
        out.push((
            p.id,
            RendezvousPoint {
                id: u64::try_from(p.id.0).unwrap_or_default(),
                role: r.role(),
                label: r.beacon(transport, period),
                sought: [
                    r.beacon(transport, period.prev().unwrap_or(period)),
                    r.beacon(transport, period),
                    r.beacon(transport, period.next().unwrap_or(period)),
                ],
                our_onion_seed: r.tor_seed(r.role()),
                their_onion_seed: r.tor_seed(r.role().peer()),
            },
        ));
    }
    Ok(out)
}

/// A contact to dial over a transport, and the beacon we announce to it there.
#[derive(Debug)]
pub(crate) struct DialTarget {
    pub(crate) contact: ContactId,
    pub(crate) peer: Peer,
    pub(crate) announce: Option<Beacon>,
}

/// The contacts to dial over `transport`: those with published properties there and,
/// for a broadcast transport, every contact with keys for it, with the beacons of the
/// periods around `now` (`spec/stream.md#beacons`).
pub(crate) fn dial_targets(
    store: &Store,
    transport: &TransportId,
    broadcasts: bool,
    now: Timestamp,
) -> Result<Vec<DialTarget>, EngineError> {
    let mut out = Vec::new();
    for c in store.contacts()? {
        let properties = store.contact_properties(c.id, transport)?;
        let mut peer = Peer::at(properties);
        let mut announce = None;
        if broadcasts
            && let Some(state) = store.transport_keys(c.id, transport)?
            && let Ok(keys) = TransportKeys::from_state(state).and_then(|k| k.rotate_to_time(now))
        {
            // Not saved: the maintenance task stores rotations.
            announce = Some(keys.outgoing().beacon());
            peer.beacons = keys.incoming().beacons().to_vec();
        }
        if !peer.properties.is_empty() || announce.is_some() {
            out.push(DialTarget {
                contact: c.id,
                peer,
                announce,
            });
        }
    }
    Ok(out)
}

/// Removes pending contacts older than [`PENDING_EXPIRY`].
pub(crate) fn expire_pending(
    store: &mut Store,
    now: Timestamp,
) -> Result<Vec<PendingContactId>, EngineError> {
    let mut gone = Vec::new();
    for p in store.pending_contacts()? {
        let expires = p
            .added_at
            .checked_add(PENDING_EXPIRY)
            .unwrap_or(Timestamp::MAX);
        if now >= expires {
            store.remove_pending_contact(p.id)?;
            gone.push(p.id);
        }
    }
    Ok(gone)
}

/// Rotates every contact's keys to the period of `now`, erasing older keys.
pub(crate) fn rotate_all(store: &mut Store, now: Timestamp) -> Result<(), EngineError> {
    let mut updates = Vec::new();
    for (contact, state) in store.all_transport_keys()? {
        let period = state.outgoing.period;
        // Unusable keys are left as they are; the others still rotate.
        let Ok(keys) = TransportKeys::from_state(state).and_then(|k| k.rotate_to_time(now)) else {
            continue;
        };
        if keys.period() != period {
            updates.push((contact, keys.to_state()));
        }
    }
    if !updates.is_empty() {
        let refs: Vec<_> = updates.iter().map(|(c, s)| (*c, s)).collect();
        store.save_transport_keys(&refs)?;
    }
    Ok(())
}

/// A session's events as the engine's, with the messages sent and acknowledged.
#[derive(Debug, Default)]
pub(crate) struct SessionEvents {
    pub(crate) events: Vec<Event>,
    pub(crate) sent: Vec<MessageId>,
    pub(crate) acked: Vec<MessageId>,
}

/// Drains a session's events.
pub(crate) fn session_events(
    store: &Store,
    contact: ContactId,
    session: &mut Session,
) -> SessionEvents {
    let mut out = SessionEvents::default();
    while let Some(e) = session.poll_event() {
        let ids = match e {
            SyncEvent::Delivered { id, .. } => {
                out.events.push(Event::MessageReceived { contact, id });
                continue;
            }
            SyncEvent::Acknowledged(ids) => {
                out.acked.extend_from_slice(&ids);
                ids
            }
            SyncEvent::Sent(ids) => {
                out.sent.extend_from_slice(&ids);
                ids
            }
            _ => continue,
        };
        for id in ids {
            if let Ok(Some(state)) = store.delivery_state(id, contact) {
                out.events
                    .push(Event::DeliveryChanged { contact, id, state });
            }
        }
    }
    out
}

/// Who an export is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// A contact.
    Contact(ContactId),
    /// A pending contact.
    Pending(PendingContactId),
}

/// Writes the streams one export carries for `target`: for a pending contact, a
/// handshake stream; for a contact, a batch sync stream, preceded by a handshake stream
/// while the contact may not yet hold our info. Returns the streams and the messages
/// they carry.
///
/// With `skip_empty`, a contact's batch stream that would say nothing (nothing due,
/// nothing to acknowledge, no handshake to confirm) is not written, and takes no stream
/// number: a folder synced often must not use up the receiver's reordering window with
/// empty streams.
pub(crate) fn export_streams(
    store: &mut Store,
    ctx: &Ctx,
    target: Target,
    now: Timestamp,
    skip_empty: bool,
    rng: &mut ChaCha20Rng,
) -> Result<(Vec<Vec<u8>>, Vec<MessageId>), EngineError> {
    let mut streams = Vec::new();
    let pending = match target {
        Target::Pending(p) => Some(p),
        Target::Contact(c) => {
            let contact = store.contact(c)?.ok_or(EngineError::ContactGone)?;
            store
                .pending_contacts()?
                .into_iter()
                .find(|p| p.handshake_public == contact.handshake_public)
                .map(|p| p.id)
        }
    };
    if let Some(p) = pending {
        let (stream, handshake) = open_pending_stream(store, ctx, p, &TransportId::FILE)?;
        let mut file = Vec::new();
        let mut writer = StreamWriter::new(stream, rng, &mut file).map_err(EngineError::Stream)?;
        let mut records = Vec::new();
        handshake.write_records(&mut Sent::default(), &mut records);
        writer
            .write(&records, &mut file)
            .map_err(EngineError::Stream)?;
        writer.finish(&mut file).map_err(EngineError::Stream)?;
        streams.push(file);
    }
    let mut sent = Vec::new();
    if let Target::Contact(c) = target {
        // Before the session marks anything sent: a contact without keys for files fails
        // here, with nothing changed.
        let opened_before = streams_opened_this_period(store, c, &TransportId::FILE, now)?;
        let mut session = Session::new(SessionConfig {
            mode: Mode::SendOnly,
            max_latency: ctx.max_latency(&TransportId::FILE)?,
            priority: None,
        });
        // The records first, so that a stream is opened only when one is written.
        let mut records: Vec<Vec<u8>> = Vec::new();
        let mut len = 0;
        {
            let mut view = store.sync_view(c);
            while !session.is_finished() && len < MAX_EXPORT_BYTES {
                let mut out = Vec::new();
                session
                    .poll_transmit(now, &mut view, &mut out, 256 * 1024)
                    .map_err(|e| EngineError::Sync(e.to_string()))?;
                len += out.len();
                if !out.is_empty() {
                    records.push(out);
                }
            }
            session
                .close(&mut view)
                .map_err(|e| EngineError::Sync(e.to_string()))?;
        }
        while let Some(e) = session.poll_event() {
            if let SyncEvent::Sent(ids) = e {
                sent.extend(ids);
            }
        }
        // Every session opens with its versions record; a stream of only that says
        // nothing, unless the contact may still need proof that we hold its info (any
        // stream of ours is that proof): while our own handshake is unconfirmed, and
        // for the first stream of each key period (so also the first after we
        // completed the contact).
        let mut bare = Vec::new();
        let _ = record::write_versions(&mut bare, &[SYNC_VERSION]);
        let says_nothing = records.iter().all(|r| r.is_empty() || *r == bare)
            && pending.is_none()
            && opened_before;
        if !(skip_empty && says_nothing) {
            let stream = open_contact_stream(store, c, &TransportId::FILE, now)?;
            let mut file = Vec::with_capacity(len + 1024);
            let mut writer =
                StreamWriter::new(stream, rng, &mut file).map_err(EngineError::Stream)?;
            for r in &records {
                writer.write(r, &mut file).map_err(EngineError::Stream)?;
            }
            writer.finish(&mut file).map_err(EngineError::Stream)?;
            streams.push(file);
        }
    }
    Ok((streams, sent))
}

/// What importing one stream did.
#[derive(Debug)]
pub(crate) enum Imported {
    /// A contact's batch stream: messages delivered, events to publish, and what was
    /// wrong with the stream if it was damaged (what it held up to the damage is kept).
    Sync {
        contact: ContactId,
        delivered: Vec<MessageId>,
        events: Vec<Event>,
        damage: Option<String>,
    },
    /// A pending contact's handshake stream; the contact it created, if any.
    Handshake {
        pending: PendingContactId,
        created: Option<ContactId>,
        damage: Option<String>,
        /// Why its records were refused, now recorded as the pending contact's failure.
        failure: Option<String>,
    },
    /// No contact or pending contact of ours wrote it, or it was read before.
    Unrecognised,
}

/// Reads one stream file.
pub(crate) fn import_stream(
    store: &mut Store,
    ctx: &Ctx,
    bytes: &[u8],
    now: Timestamp,
    rng: &mut ChaCha20Rng,
) -> Result<Imported, EngineError> {
    let Some(tag) = bytes.get(..TAG_LEN) else {
        return Ok(Imported::Unrecognised);
    };
    let mut t = [0u8; TAG_LEN];
    t.copy_from_slice(tag);
    let Some(recognised) = recognise(store, ctx, &TransportId::FILE, &StreamTag(t), now)? else {
        return Ok(Imported::Unrecognised);
    };
    let (who, incoming) = match recognised {
        Recognised::Contact(c, i) => (Target::Contact(c), i),
        Recognised::Pending(p, i) => (Target::Pending(p), i),
    };
    let mut reader = StreamReader::new(incoming);
    let mut plain = Vec::new();
    let damage = reader
        .handle_bytes(&bytes[TAG_LEN..], &mut plain)
        .and_then(|()| reader.finish())
        .err()
        .map(|e| format!("the stream is damaged: {e}"));
    match who {
        Target::Contact(contact) => {
            let mut session = Session::new(SessionConfig {
                mode: Mode::ReceiveOnly,
                max_latency: ctx.max_latency(&TransportId::FILE)?,
                priority: None,
            });
            let clients = messaging::validators();
            let mut problem = damage;
            {
                let mut view = store.sync_view(contact);
                if let Err(e) = session.handle_input(now, &plain, &mut view, &clients) {
                    problem.get_or_insert(format!("the stream was refused: {e}"));
                }
                if problem.is_none()
                    && let Err(e) = session.handle_end_of_input::<StoreError>()
                {
                    problem = Some(format!("the stream was refused: {e}"));
                }
                let _ = session.close(&mut view);
            }
            let events = session_events(store, contact, &mut session).events;
            let delivered = events
                .iter()
                .filter_map(|e| match e {
                    Event::MessageReceived { id, .. } => Some(*id),
                    _ => None,
                })
                .collect();
            Ok(Imported::Sync {
                contact,
                delivered,
                events,
                damage: problem,
            })
        }
        Target::Pending(pending) => {
            let mut hreader = bramble_proto::contact::HandshakeReader::new();
            let records = match hreader
                .read(&plain)
                .and_then(|r| hreader.finish().map(|()| r))
            {
                Ok(r) => r,
                Err(e) => {
                    return Ok(Imported::Handshake {
                        pending,
                        created: None,
                        damage: Some(format!("the handshake was refused: {e}")),
                        failure: None,
                    });
                }
            };
            let step = handshake_step(store, ctx, pending, records, Sent::default(), now, rng)?;
            Ok(Imported::Handshake {
                pending,
                created: step.created,
                damage: step
                    .refused
                    .as_ref()
                    .map(|e| format!("the handshake was refused: {e}"))
                    .or(damage),
                failure: step.refused,
            })
        }
    }
}

/// Every pending contact as the user sees it.
pub(crate) fn pending_infos(store: &Store) -> Result<Vec<PendingInfo>, EngineError> {
    let mut out = Vec::new();
    for p in store.pending_contacts()? {
        let completed = match p.state {
            STAGE_COMPLETE => contact_by_link(store, &p.handshake_public)?,
            _ => None,
        };
        // A failure stands until the handshake moves on (the store clears it then).
        let state = match (completed, p.failure) {
            (Some(c), _) => PendingState::Completed(c),
            (None, Some(why)) => PendingState::Failed(why),
            (None, None) if p.state == STAGE_WAITING => PendingState::Waiting,
            (None, None) => PendingState::AwaitingInfo,
        };
        out.push(PendingInfo {
            id: p.id,
            link: Link::new(p.handshake_public),
            expires_at: p
                .added_at
                .checked_add(PENDING_EXPIRY)
                .unwrap_or(Timestamp::MAX),
            alias: p.alias,
            added_at: p.added_at,
            state,
        });
    }
    Ok(out)
}

/// The contact whose link key is `key`, if any.
pub(crate) fn contact_by_link(
    store: &Store,
    key: &AgreementPublicKey,
) -> Result<Option<ContactId>, EngineError> {
    Ok(store
        .contacts()?
        .into_iter()
        .find(|c| c.handshake_public == *key)
        .map(|c| c.id))
}
