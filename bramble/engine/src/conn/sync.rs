//! A sync session with a contact over one duplex connection.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bramble_proto::ids::MessageId;
use bramble_proto::messaging;
use bramble_proto::stream::{IncomingStream, StreamReader, StreamWriter};
use bramble_proto::sync::{Mode, Session, SessionConfig};
use bramble_store::{ContactId, StoreError};
use thicket_transport::{BoxConnection, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{broadcast, watch};

use super::stream::{LINGER, end_stream, open_streams};
use crate::clock::{fresh_rng, now};
use crate::error::EngineError;
use crate::event::Event;
use crate::ops;
use crate::shared::Shared;

/// The most bytes one session step writes before reading again.
const STEP_BYTES: usize = 256 * 1024;

fn not_answered() -> EngineError {
    EngineError::Io(std::io::Error::new(
        std::io::ErrorKind::ConnectionAborted,
        "the peer did not answer with a stream of the contact's",
    ))
}

/// Runs a sync session with `contact` over `conn` until either side closes it.
pub(super) async fn sync_connection(
    shared: Arc<Shared>,
    transport: Arc<dyn Transport>,
    mut conn: BoxConnection,
    contact: ContactId,
    we_dialed: bool,
    theirs: Option<(IncomingStream, Vec<u8>)>,
) -> Result<(), EngineError> {
    let mut rng = fresh_rng()?;
    let t = transport.id();
    let Some((mut writer, mut reader, first)) = open_streams(
        &shared,
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
    let role = shared
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
    // Of two connections, the one Alice dialed (or the newer) stays.
    let conn_id = shared
        .peers()
        .connected(contact, &t, alice_dialed, close_tx);
    // The other connection wins: this one ends at once, cleanly.
    let Some(conn_id) = conn_id else {
        end_stream(&mut conn, writer).await;
        return Ok(());
    };
    shared.publish(Event::ContactConnected {
        contact,
        transport: t.clone(),
    });
    let mut in_flight = HashSet::new();
    let result = run_session(
        &shared,
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
        let _ = shared
            .db
            .call(move |store, _| Ok(store.make_due(contact, &ids)?))
            .await;
        let _ = shared.changes.send(contact);
    }
    // An orderly end (either side closed, or we dropped a redundant connection) ends our
    // stream cleanly; after a protocol error the connection is dropped without a word.
    if result.is_ok() {
        end_stream(&mut conn, writer).await;
    } else {
        let _ = tokio::time::timeout(LINGER, conn.shutdown()).await;
    }
    shared.peers().disconnected(contact, &t, conn_id);
    shared.publish(Event::ContactDisconnected {
        contact,
        transport: t,
    });
    shared.wake.notify_one();
    result
}

async fn run_session(
    shared: &Arc<Shared>,
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
    let mut changes = shared.changes.subscribe();
    let mut shutdown = shared.shutdown.subscribe();
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
        let (s, out, more, events, timeout, failed) = shared
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
            shared.publish(e);
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
