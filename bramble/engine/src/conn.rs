//! Connections: accepting, dialing, and driving a sync session or a handshake over one
//! duplex connection. All protocol state lives on the database worker; a connection
//! task owns only the socket, the stream writer and reader, and the session between
//! steps.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bramble_proto::contact::{HandshakeReader, HandshakeRecord, Sent};
use bramble_proto::ids::MessageId;
use bramble_proto::messaging;
use bramble_proto::stream::{IncomingStream, StreamReader, StreamTag, StreamWriter, TAG_LEN};
use bramble_proto::sync::{Mode, Session, SessionConfig};
use bramble_proto::transport::TransportId;
use bramble_store::{ContactId, PendingContactId, StoreError};
use chacha20::ChaCha20Rng;
use thicket_transport::{BoxConnection, Kind, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{broadcast, mpsc, watch};

use crate::ops::{self, Recognised};
use crate::{Backoff, ConnEntry, EngineError, Event, Inner, MAX_BACKOFF, PendingState, now};

/// How long a peer has to send its stream's tag, and the longest silence on a
/// handshake connection.
const TAG_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a finished handshake waits for the peer to end its stream.
const LINGER: Duration = Duration::from_secs(5);
/// The most bytes one session step writes before reading again.
const STEP_BYTES: usize = 256 * 1024;

/// Starts a transport and a task that accepts its connections.
pub(crate) async fn start_transport(
    inner: Arc<Inner>,
    transport: Arc<dyn Transport>,
) -> Result<(), EngineError> {
    let (tx, mut rx) = mpsc::channel::<BoxConnection>(64);
    transport.start(tx).await?;
    let mut status = transport.status();
    let mut shutdown = inner.shutdown.subscribe();
    let id = transport.id();
    inner.publish(Event::TransportStatus {
        transport: id.clone(),
        status: status.borrow().clone(),
    });
    tokio::spawn(async move {
        let mut watching = true;
        loop {
            tokio::select! {
                conn = rx.recv() => {
                    let Some(conn) = conn else { return };
                    tokio::spawn(incoming(inner.clone(), transport.clone(), conn));
                }
                changed = status.changed(), if watching => {
                    // A transport that dropped its status sender has no more to say.
                    if changed.is_err() {
                        watching = false;
                        continue;
                    }
                    let s = status.borrow().clone();
                    inner.publish(Event::TransportStatus { transport: id.clone(), status: s });
                }
                _ = shutdown.changed() => return,
            }
        }
    });
    Ok(())
}

fn task_rng() -> Result<ChaCha20Rng, EngineError> {
    crate::fresh_rng()
}

/// Reads bytes until the 16-byte tag is there; returns it and whatever came after.
async fn read_tag(conn: &mut BoxConnection) -> Option<(StreamTag, Vec<u8>)> {
    let mut buf = Vec::with_capacity(1024);
    let read = async {
        while buf.len() < TAG_LEN {
            let mut chunk = [0u8; 4096];
            let n = conn.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        Some(())
    };
    tokio::time::timeout(TAG_TIMEOUT, read).await.ok()??;
    let mut tag = [0u8; TAG_LEN];
    tag.copy_from_slice(&buf[..TAG_LEN]);
    Some((StreamTag(tag), buf.split_off(TAG_LEN)))
}

/// An incoming connection: whoever's tag it carries decides what runs; a stranger's
/// connection is dropped without a reply.
async fn incoming(inner: Arc<Inner>, transport: Arc<dyn Transport>, mut conn: BoxConnection) {
    let Some((tag, rest)) = read_tag(&mut conn).await else {
        return;
    };
    // A bounded number of tags may wait for recognition at once: a stranger sending tags
    // in bulk gets the rest closed at once rather than a queue of key scans on the
    // database thread.
    let Ok(Ok(permit)) =
        tokio::time::timeout(TAG_TIMEOUT, inner.recognising.clone().acquire_owned()).await
    else {
        return;
    };
    let (ctx, t) = (inner.ctx.clone(), transport.id());
    let Ok(now) = now() else { return };
    let recognised = inner
        .db
        .call(move |store, _| ops::recognise(store, &ctx, &t, &tag, now))
        .await;
    drop(permit);
    match recognised {
        Ok(Some(Recognised::Contact(contact, stream))) => {
            let _ =
                sync_connection(inner, transport, conn, contact, false, Some((stream, rest))).await;
        }
        Ok(Some(Recognised::Pending(pending, stream))) => {
            if !inner.state().handshaking.insert(pending) {
                return;
            }
            let _ = handshake_connection(
                inner.clone(),
                transport,
                conn,
                pending,
                Some((stream, rest)),
            )
            .await;
            inner.state().handshaking.remove(&pending);
            inner.wake.notify_one();
        }
        // Unknown tag (or a replay): silence.
        Ok(None) | Err(_) => {}
    }
}

/// Opens our stream on `conn` and, unless the peer's stream was read already, reads the
/// peer's tag, which must be of `expected`'s keys.
async fn open_streams(
    inner: &Arc<Inner>,
    transport: &TransportId,
    conn: &mut BoxConnection,
    who: ops::Target,
    theirs: Option<(IncomingStream, Vec<u8>)>,
    rng: &mut ChaCha20Rng,
) -> Result<Option<(StreamWriter, StreamReader, Vec<u8>)>, EngineError> {
    let (ctx, t) = (inner.ctx.clone(), transport.clone());
    let now = now()?;
    let stream = match who {
        ops::Target::Contact(c) => {
            inner
                .db
                .call(move |store, _| ops::open_contact_stream(store, c, &t, now))
                .await?
        }
        ops::Target::Pending(p) => {
            inner
                .db
                .call(move |store, _| ops::open_pending_stream(store, &ctx, p, &t).map(|(s, _)| s))
                .await?
        }
    };
    let mut wire = Vec::new();
    let writer = StreamWriter::new(stream, rng, &mut wire).map_err(EngineError::Stream)?;
    conn.write_all(&wire).await?;
    conn.flush().await?;
    let (stream, rest) = match theirs {
        Some(s) => s,
        None => {
            let Some((tag, rest)) = read_tag(conn).await else {
                return Ok(None);
            };
            let (ctx, t) = (inner.ctx.clone(), transport.clone());
            let recognised = inner
                .db
                .call(move |store, _| ops::recognise(store, &ctx, &t, &tag, now))
                .await?;
            match (recognised, who) {
                (Some(Recognised::Contact(c, s)), ops::Target::Contact(want)) if c == want => {
                    (s, rest)
                }
                (Some(Recognised::Pending(p, s)), ops::Target::Pending(want)) if p == want => {
                    (s, rest)
                }
                // Someone else answered: not who we dialed.
                _ => return Ok(None),
            }
        }
    };
    let mut reader = StreamReader::new(stream);
    let mut plain = Vec::new();
    reader
        .handle_bytes(&rest, &mut plain)
        .map_err(EngineError::Stream)?;
    Ok(Some((writer, reader, plain)))
}

/// The longest wait between rendezvous attempts that met nobody (Briar polls every 60 s).
const RENDEZVOUS_MAX_BACKOFF: Duration = Duration::from_secs(60);

/// How long a dial or a rendezvous attempt may take (Tor circuits can be slow).
const DIAL_TIMEOUT: Duration = Duration::from_secs(120);

fn timed_out() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::TimedOut, "the transport took too long")
}

/// Ends our stream with its final frame and closes the connection, giving a peer that
/// does not read at most [`LINGER`].
async fn end_stream(conn: &mut BoxConnection, writer: StreamWriter) {
    let mut wire = Vec::new();
    let _ = tokio::time::timeout(LINGER, async {
        if writer.finish(&mut wire).is_ok() {
            let _ = conn.write_all(&wire).await;
        }
        let _ = conn.shutdown().await;
    })
    .await;
}

fn not_answered() -> EngineError {
    EngineError::Io(std::io::Error::new(
        std::io::ErrorKind::ConnectionAborted,
        "the peer did not answer with a stream of the contact's",
    ))
}

/// Runs a sync session with `contact` over `conn` until either side closes it.
async fn sync_connection(
    inner: Arc<Inner>,
    transport: Arc<dyn Transport>,
    mut conn: BoxConnection,
    contact: ContactId,
    we_dialed: bool,
    theirs: Option<(IncomingStream, Vec<u8>)>,
) -> Result<(), EngineError> {
    let mut rng = task_rng()?;
    let t = transport.id();
    let Some((mut writer, mut reader, first)) = open_streams(
        &inner,
        &t,
        &mut conn,
        ops::Target::Contact(contact),
        theirs,
        &mut rng,
    )
    .await?
    else {
        return Err(not_answered());
    };
    // One connection per contact and transport; of two, both sides keep Alice's.
    let role = inner
        .db
        .call(move |store, _| {
            Ok(store
                .contact(contact)?
                .ok_or(EngineError::ContactGone)?
                .role)
        })
        .await?;
    let alice_dialed = we_dialed == (role == bramble_proto::stream::Role::Alice);
    let (close_tx, mut close_rx) = watch::channel(false);
    let conn_id = {
        let mut state = inner.state();
        state.next_conn += 1;
        let id = state.next_conn;
        let key = (contact, t.clone());
        // Decided and recorded under one lock, so that two new connections cannot both
        // win.
        let ours_loses = state
            .connections
            .get(&key)
            .is_some_and(|existing| existing.alice_dialed && !alice_dialed);
        if ours_loses {
            None
        } else {
            if let Some(existing) = state.connections.get(&key) {
                existing.close.send_replace(true);
            }
            state.connections.insert(
                key,
                ConnEntry {
                    id,
                    alice_dialed,
                    close: close_tx,
                },
            );
            state.backoff.remove(&(contact, t.clone()));
            Some(id)
        }
    };
    // The other connection wins: this one ends at once, cleanly.
    let Some(conn_id) = conn_id else {
        end_stream(&mut conn, writer).await;
        return Ok(());
    };
    inner.publish(Event::ContactConnected {
        contact,
        transport: t.clone(),
    });
    let mut in_flight = HashSet::new();
    let result = run_session(
        &inner,
        &transport,
        (&mut conn, &mut writer, &mut reader),
        contact,
        first,
        &mut close_rx,
        &mut in_flight,
    )
    .await;
    // What this connection carried and the contact did not acknowledge goes again at
    // once, on the connection that replaced this one or the next.
    if !in_flight.is_empty() {
        let ids: Vec<_> = in_flight.into_iter().collect();
        let _ = inner
            .db
            .call(move |store, _| Ok(store.make_due(contact, &ids)?))
            .await;
        let _ = inner.changes.send(contact);
    }
    // An orderly end (either side closed, or we dropped a redundant connection) ends our
    // stream cleanly; after a protocol error the connection is dropped without a word.
    if result.is_ok() {
        end_stream(&mut conn, writer).await;
    } else {
        let _ = tokio::time::timeout(LINGER, conn.shutdown()).await;
    }
    {
        let mut state = inner.state();
        let key = (contact, t.clone());
        if state.connections.get(&key).is_some_and(|e| e.id == conn_id) {
            state.connections.remove(&key);
        }
    }
    inner.publish(Event::ContactDisconnected {
        contact,
        transport: t,
    });
    inner.wake.notify_one();
    result
}

async fn run_session(
    inner: &Arc<Inner>,
    transport: &Arc<dyn Transport>,
    (conn, writer, reader): (&mut BoxConnection, &mut StreamWriter, &mut StreamReader),
    contact: ContactId,
    first: Vec<u8>,
    close: &mut watch::Receiver<bool>,
    in_flight: &mut HashSet<MessageId>,
) -> Result<(), EngineError> {
    let mut session = Some(Session::new(SessionConfig {
        mode: Mode::Duplex,
        max_latency: transport.max_latency(),
        priority: None,
    }));
    let mut changes = inner.changes.subscribe();
    let mut shutdown = inner.shutdown.subscribe();
    let mut input = first;
    let (mut ended, mut timed_out, mut changed) = (false, false, false);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let now = now()?;
        let mut s = session.take().ok_or(EngineError::Stopped)?;
        let step_input = std::mem::take(&mut input);
        let (flags_ended, flags_timeout, flags_changed) = (ended, timed_out, changed);
        timed_out = false;
        changed = false;
        let (s, out, more, events, timeout, failed) = inner
            .db
            .call(move |store, _| {
                let clients = messaging::validators();
                let mut failed = None;
                let mut out = Vec::new();
                let mut more = false;
                {
                    let mut view = store.sync_view(contact);
                    if flags_changed {
                        s.notify_store_changed();
                    }
                    if flags_timeout {
                        s.handle_timeout(now);
                    }
                    if !step_input.is_empty()
                        && let Err(e) = s.handle_input(now, &step_input, &mut view, &clients)
                    {
                        failed = Some(e.to_string());
                    }
                    if failed.is_none()
                        && flags_ended
                        && let Err(e) = s.handle_end_of_input::<StoreError>()
                    {
                        failed = Some(e.to_string());
                    }
                    if failed.is_none() {
                        match s.poll_transmit(now, &mut view, &mut out, STEP_BYTES) {
                            Ok(m) => more = m,
                            Err(e) => failed = Some(e.to_string()),
                        }
                    }
                    if failed.is_some() || flags_ended {
                        let _ = s.close(&mut view);
                    }
                }
                let events = ops::session_events(store, contact, &mut s);
                let timeout = s.poll_timeout();
                Ok((s, out, more, events, timeout, failed))
            })
            .await?;
        in_flight.extend(events.sent);
        for id in &events.acked {
            in_flight.remove(id);
        }
        for e in events.events {
            inner.publish(e);
        }
        if let Some(why) = failed {
            return Err(EngineError::Sync(why));
        }
        if !out.is_empty() {
            let mut wire = Vec::new();
            writer.write(&out, &mut wire).map_err(EngineError::Stream)?;
            writer.flush(&mut wire).map_err(EngineError::Stream)?;
            conn.write_all(&wire).await?;
            conn.flush().await?;
        }
        if ended {
            return Ok(());
        }
        session = Some(s);
        if more {
            continue;
        }
        let sleep = async {
            match timeout {
                Some(t) => {
                    let wait = t.as_millis().saturating_sub(now.as_millis());
                    tokio::time::sleep(Duration::from_millis(wait.max(1000))).await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            n = conn.read(&mut buf) => {
                let n = n?;
                if n == 0 {
                    reader.finish().map_err(EngineError::Stream)?;
                    ended = true;
                } else {
                    reader.handle_bytes(&buf[..n], &mut input).map_err(EngineError::Stream)?;
                    // The peer's final frame: its stream is over.
                    ended = reader.is_ended();
                    // What else has arrived joins the same step: one transaction for
                    // many records, not one per read.
                    while !ended && input.len() < STEP_BYTES {
                        match read_ready(conn, &mut buf).await? {
                            None => break,
                            Some(0) => {
                                reader.finish().map_err(EngineError::Stream)?;
                                ended = true;
                            }
                            Some(n) => {
                                reader
                                    .handle_bytes(&buf[..n], &mut input)
                                    .map_err(EngineError::Stream)?;
                                ended = reader.is_ended();
                            }
                        }
                    }
                }
            }
            () = sleep => timed_out = true,
            c = changes.recv() => match c {
                Ok(c) if c == contact => changed = true,
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => changed = true,
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
            _ = close.changed() => return Ok(()),
            _ = shutdown.changed() => return Ok(()),
        }
    }
}

/// Reads what `conn` has ready without waiting: `Ok(None)` if nothing is.
async fn read_ready(conn: &mut BoxConnection, buf: &mut [u8]) -> std::io::Result<Option<usize>> {
    tokio::select! {
        biased;
        n = conn.read(buf) => n.map(Some),
        () = std::future::ready(()) => Ok(None),
    }
}

/// Runs a handshake with a pending contact over `conn` until both sides have said
/// everything, then closes; the engine then dials the new contact.
async fn handshake_connection(
    inner: Arc<Inner>,
    transport: Arc<dyn Transport>,
    mut conn: BoxConnection,
    pending: PendingContactId,
    theirs: Option<(IncomingStream, Vec<u8>)>,
) -> Result<(), EngineError> {
    let mut rng = task_rng()?;
    let t = transport.id();
    let Some((writer, mut reader, first)) = open_streams(
        &inner,
        &t,
        &mut conn,
        ops::Target::Pending(pending),
        theirs,
        &mut rng,
    )
    .await?
    else {
        return Ok(());
    };
    // `None` once our stream is finished.
    let mut writer = Some(writer);
    let mut hreader = HandshakeReader::new();
    let mut records: Vec<HandshakeRecord> = match hreader.read(&first) {
        Ok(r) => r,
        Err(e) => return Err(refuse(&inner, pending, e).await),
    };
    let mut sent = Sent::default();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let (ctx, now) = (inner.ctx.clone(), now()?);
        let step_records = std::mem::take(&mut records);
        let step = inner
            .db
            .call(move |store, rng| {
                ops::handshake_step(store, &ctx, pending, step_records, sent, now, rng)
            })
            .await?;
        sent = step.sent;
        if let Some(c) = step.created {
            inner.publish(Event::ContactAdded { contact: c });
            inner.publish(Event::PendingChanged {
                pending,
                state: PendingState::Completed(c),
            });
            inner.wake.notify_one();
        }
        if let Some(why) = step.refused {
            inner.publish(Event::PendingChanged {
                pending,
                state: PendingState::Failed(why),
            });
            return Ok(());
        }
        let mut wire = Vec::new();
        if let (false, Some(w)) = (step.out.is_empty(), writer.as_mut()) {
            w.write(&step.out, &mut wire).map_err(EngineError::Stream)?;
            w.flush(&mut wire).map_err(EngineError::Stream)?;
        }
        if step.done
            && let Some(w) = writer.take()
        {
            w.finish(&mut wire).map_err(EngineError::Stream)?;
        }
        let finished = writer.is_none();
        if !wire.is_empty() {
            conn.write_all(&wire).await?;
            conn.flush().await?;
        }
        let limit = if finished { LINGER } else { TAG_TIMEOUT };
        let n = match tokio::time::timeout(limit, conn.read(&mut buf)).await {
            Ok(n) => n?,
            Err(_) => return Ok(()),
        };
        if n == 0 {
            let _ = reader.finish();
            let _ = conn.shutdown().await;
            return Ok(());
        }
        let mut plain = Vec::new();
        reader
            .handle_bytes(&buf[..n], &mut plain)
            .map_err(EngineError::Stream)?;
        records = match hreader.read(&plain) {
            Ok(r) => r,
            Err(e) => return Err(refuse(&inner, pending, e).await),
        };
    }
}

/// Records a pending contact's malformed handshake records as its failure and tells the
/// interface; the error to end the connection with.
async fn refuse(
    inner: &Arc<Inner>,
    pending: PendingContactId,
    e: bramble_proto::contact::HandshakeError,
) -> EngineError {
    let why = e.to_string();
    let w = why.clone();
    match inner
        .db
        .call(move |store, _| ops::record_failure(store, pending, &w))
        .await
    {
        Ok(()) => {
            inner.publish(Event::PendingChanged {
                pending,
                state: PendingState::Failed(why),
            });
            EngineError::Handshake(e)
        }
        Err(stored) => stored,
    }
}

/// Connects to contacts and meets pending contacts, until shutdown.
pub(crate) async fn dialer(inner: Arc<Inner>) {
    let mut shutdown = inner.shutdown.subscribe();
    loop {
        dial_round(&inner).await;
        tokio::select! {
            () = tokio::time::sleep(crate::DIAL_TICK) => {}
            () = inner.wake.notified() => {}
            _ = shutdown.changed() => return,
        }
    }
}

async fn dial_round(inner: &Arc<Inner>) {
    let duplex: Vec<_> = inner
        .transports
        .iter()
        .filter(|t| t.kind() == Kind::Duplex)
        .cloned()
        .collect();
    if duplex.is_empty() {
        return;
    }
    let Ok(now) = now() else { return };
    for transport in duplex {
        let t = transport.id();
        let broadcasts = transport.broadcasts();
        let t2 = t.clone();
        let Ok(targets) = inner
            .db
            .call(move |store, _| ops::dial_targets(store, &t2, broadcasts, now))
            .await
        else {
            continue;
        };
        if broadcasts {
            transport.announce(targets.iter().filter_map(|d| d.announce).collect());
        }
        let mut seen = 0;
        for ops::DialTarget { contact, peer, .. } in targets {
            let sighted = if broadcasts {
                transport.sighted(&peer.beacons)
            } else {
                None
            };
            seen += usize::from(sighted.is_some());
            if peer.properties.is_empty() && sighted.is_none() {
                // Known only by beacons, and none in sight.
                continue;
            }
            let key = (contact, t.clone());
            {
                let mut state = inner.state();
                if state.connections.contains_key(&key) || state.dialing.contains(&key) {
                    continue;
                }
                if state
                    .backoff
                    .get(&key)
                    .is_some_and(|b| b.waiting_unless(sighted))
                {
                    continue;
                }
                state.dialing.insert(key.clone());
            }
            let (inner, transport) = (inner.clone(), transport.clone());
            tokio::spawn(async move {
                let dialed = tokio::time::timeout(DIAL_TIMEOUT, transport.dial(&peer)).await;
                let result = match dialed.unwrap_or_else(|_| Err(timed_out())) {
                    Ok(conn) => {
                        sync_connection(inner.clone(), transport.clone(), conn, contact, true, None)
                            .await
                    }
                    Err(e) => Err(EngineError::Io(e)),
                };
                let mut state = inner.state();
                state.dialing.remove(&key);
                if result.is_err() {
                    let next = Backoff::after(state.backoff.get(&key), MAX_BACKOFF);
                    state.backoff.insert(key, next);
                }
            });
        }
        if broadcasts {
            let nearby = {
                let mut state = inner.state();
                let connected = state.connections.keys().filter(|(_, tr)| *tr == t).count();
                let last = state.nearby.insert(t.clone(), (seen, connected));
                (last != Some((seen, connected))).then_some(connected)
            };
            if let Some(connected) = nearby {
                inner.publish(Event::Nearby {
                    transport: t.clone(),
                    seen,
                    connected,
                });
            }
        }
        let (ctx, t2) = (inner.ctx.clone(), t.clone());
        let Ok(points) = inner
            .db
            .call(move |store, _| ops::rendezvous_points(store, &ctx, &t2, now))
            .await
        else {
            continue;
        };
        // Rendezvous of pending contacts that are gone (confirmed, expired, removed) end.
        // The transport is called without the engine's lock held.
        let gone: Vec<u64> = {
            let current: HashSet<u64> = points.iter().map(|(_, p)| p.id).collect();
            let mut state = inner.state();
            let gone: Vec<u64> = state
                .rendezvous_up
                .iter()
                .filter(|(id, tr)| *tr == t && !current.contains(id))
                .map(|(id, _)| *id)
                .collect();
            for id in &gone {
                state.rendezvous_up.remove(&(*id, t.clone()));
            }
            let live: HashSet<PendingContactId> = points.iter().map(|(p, _)| *p).collect();
            state
                .rendezvous_backoff
                .retain(|(p, tr), _| *tr != t || live.contains(p));
            gone
        };
        for id in gone {
            transport.end_rendezvous(id);
        }
        for (pending, point) in points {
            {
                // One rendezvous attempt per pending contact and transport at a time, with
                // backoff between attempts that met nobody; an attempt never blocks the
                // peer's incoming handshake (Tor may take long to publish a service).
                let sighted = if broadcasts {
                    transport.sighted(&point.sought)
                } else {
                    None
                };
                let mut state = inner.state();
                let key = (pending, t.clone());
                if state.handshaking.contains(&pending)
                    || state
                        .rendezvous_backoff
                        .get(&key)
                        .is_some_and(|b| b.waiting_unless(sighted))
                    || !state.rendezvousing.insert(key)
                {
                    continue;
                }
                state.rendezvous_up.insert((point.id, t.clone()));
            }
            let (inner, transport, t) = (inner.clone(), transport.clone(), t.clone());
            tokio::spawn(async move {
                let met = tokio::time::timeout(DIAL_TIMEOUT, transport.rendezvous(&point))
                    .await
                    .unwrap_or_else(|_| Err(timed_out()));
                let (run, ended) = {
                    let mut state = inner.state();
                    // The pending contact went while this attempt ran: the sweep has
                    // already passed, so this attempt ends what it set up.
                    let ended = !state.rendezvous_up.contains(&(point.id, t.clone()));
                    let key = (pending, t);
                    state.rendezvousing.remove(&key);
                    if matches!(met, Ok(Some(_))) {
                        state.rendezvous_backoff.remove(&key);
                    } else {
                        let next = Backoff::after(
                            state.rendezvous_backoff.get(&key),
                            RENDEZVOUS_MAX_BACKOFF,
                        );
                        state.rendezvous_backoff.insert(key, next);
                    }
                    (
                        !ended && matches!(met, Ok(Some(_))) && state.handshaking.insert(pending),
                        ended,
                    )
                };
                if ended {
                    transport.end_rendezvous(point.id);
                    return;
                }
                if let (true, Ok(Some(conn))) = (run, met) {
                    let _ =
                        handshake_connection(inner.clone(), transport, conn, pending, None).await;
                    inner.state().handshaking.remove(&pending);
                    inner.wake.notify_one();
                }
            });
        }
    }
}
