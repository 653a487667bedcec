//! A handshake with a pending contact over one duplex connection.

use std::sync::Arc;

use bramble_proto::contact::{HandshakeReader, HandshakeRecord, Sent};
use bramble_proto::stream::IncomingStream;
use bramble_store::PendingContactId;
use thicket_transport::{BoxConnection, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::stream::{LINGER, TAG_TIMEOUT, open_streams};
use crate::clock::{fresh_rng, now};
use crate::error::EngineError;
use crate::event::{Event, PendingState};
use crate::ops;
use crate::shared::Shared;

/// Runs a handshake with a pending contact over `conn` until both sides have said
/// everything, then closes; the engine then dials the new contact.
pub(super) async fn handshake_connection(
    shared: Arc<Shared>,
    transport: Arc<dyn Transport>,
    mut conn: BoxConnection,
    pending: PendingContactId,
    theirs: Option<(IncomingStream, Vec<u8>)>,
) -> Result<(), EngineError> {
    let mut rng = fresh_rng()?;
    let t = transport.id();
    let Some((writer, mut reader, first)) = open_streams(
        &shared,
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
        Err(e) => return Err(refuse(&shared, pending, e).await),
    };
    let mut sent = Sent::default();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let (ctx, now) = (shared.ctx.clone(), now()?);
        let step_records = std::mem::take(&mut records);
        let step = shared
            .db
            .call(move |store, rng| {
                ops::handshake_step(store, &ctx, pending, step_records, sent, now, rng)
            })
            .await?;
        sent = step.sent;
        if let Some(c) = step.created {
            shared.publish(Event::ContactAdded { contact: c });
            shared.publish(Event::PendingChanged {
                pending,
                state: PendingState::Completed(c),
            });
            shared.wake.notify_one();
        }
        if let Some(why) = step.refused {
            shared.publish(Event::PendingChanged {
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
            Err(e) => return Err(refuse(&shared, pending, e).await),
        };
    }
}

/// Records a pending contact's malformed handshake records as its failure and tells the
/// interface; the error to end the connection with.
async fn refuse(
    shared: &Arc<Shared>,
    pending: PendingContactId,
    e: bramble_proto::contact::HandshakeError,
) -> EngineError {
    let why = e.to_string();
    let w = why.clone();
    match shared
        .db
        .call(move |store, _| ops::record_failure(store, pending, &w))
        .await
    {
        Ok(()) => {
            shared.publish(Event::PendingChanged {
                pending,
                state: PendingState::Failed(why),
            });
            EngineError::Handshake(e)
        }
        Err(stored) => stored,
    }
}
