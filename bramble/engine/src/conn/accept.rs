//! Accepting: each transport's incoming connections, told apart by the first stream tag
//! (a contact's, a pending contact's, or nobody's).

use std::sync::Arc;

use thicket_transport::{BoxConnection, Transport};
use tokio::sync::mpsc;

use super::handshake::handshake_connection;
use super::stream::{TAG_TIMEOUT, read_tag};
use super::sync::sync_connection;
use crate::clock::now;
use crate::error::EngineError;
use crate::event::Event;
use crate::ops::{self, Recognised};
use crate::shared::Shared;

/// Starts a transport and a task that accepts its connections.
pub(crate) async fn start_transport(
    shared: Arc<Shared>,
    transport: Arc<dyn Transport>,
) -> Result<(), EngineError> {
    let (tx, mut rx) = mpsc::channel::<BoxConnection>(64);
    transport.start(tx).await?;
    let mut status = transport.status();
    let mut shutdown = shared.shutdown.subscribe();
    let id = transport.id();
    shared.publish(Event::TransportStatus {
        transport: id.clone(),
        status: status.borrow().clone(),
    });
    tokio::spawn(async move {
        let mut watching = true;
        loop {
            tokio::select! {
                conn = rx.recv() => {
                    let Some(conn) = conn else { return };
                    tokio::spawn(incoming(shared.clone(), transport.clone(), conn));
                }
                changed = status.changed(), if watching => {
                    // A transport that dropped its status sender has no more to say.
                    if changed.is_err() {
                        watching = false;
                        continue;
                    }
                    let s = status.borrow().clone();
                    shared.publish(Event::TransportStatus { transport: id.clone(), status: s });
                }
                _ = shutdown.changed() => return,
            }
        }
    });
    Ok(())
}

/// An incoming connection: whoever's tag it carries decides what runs; a stranger's
/// connection is dropped without a reply.
async fn incoming(shared: Arc<Shared>, transport: Arc<dyn Transport>, mut conn: BoxConnection) {
    let Some((tag, rest)) = read_tag(&mut conn).await else {
        return;
    };
    // A bounded number of tags may wait for recognition at once: a stranger sending tags
    // in bulk gets the rest closed at once rather than a queue of key scans on the
    // database thread.
    let Ok(Ok(permit)) =
        tokio::time::timeout(TAG_TIMEOUT, shared.recognising.clone().acquire_owned()).await
    else {
        return;
    };
    let (ctx, t) = (shared.ctx.clone(), transport.id());
    let Ok(now) = now() else { return };
    let recognised = shared
        .db
        .call(move |store, _| ops::recognise(store, &ctx, &t, &tag, now))
        .await;
    drop(permit);
    match recognised {
        Ok(Some(Recognised::Contact(contact, stream))) => {
            let _ = sync_connection(
                shared,
                transport,
                conn,
                contact,
                false,
                Some((stream, rest)),
            )
            .await;
        }
        Ok(Some(Recognised::Pending(pending, stream))) => {
            if !shared.peers().start_handshake(pending) {
                return;
            }
            let _ = handshake_connection(
                shared.clone(),
                transport,
                conn,
                pending,
                Some((stream, rest)),
            )
            .await;
            shared.peers().handshake_ended(pending);
            shared.wake.notify_one();
        }
        // Unknown tag (or a replay): silence.
        Ok(None) | Err(_) => {}
    }
}
