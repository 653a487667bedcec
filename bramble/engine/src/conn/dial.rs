//! Dialing: contacts over every duplex transport (at once when a broadcast transport
//! sights one), and pending contacts at their rendezvous points.

use std::sync::Arc;
use std::time::Duration;

use thicket_transport::Kind;

use super::handshake::handshake_connection;
use super::sync::sync_connection;
use crate::clock::now;
use crate::error::EngineError;
use crate::event::Event;
use crate::ops;
use crate::shared::Shared;

/// How often the dialer looks for contacts to connect to.
const DIAL_TICK: Duration = Duration::from_millis(500);
/// How long a dial or a rendezvous attempt may take (Tor circuits can be slow).
const DIAL_TIMEOUT: Duration = Duration::from_secs(120);

fn timed_out() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::TimedOut, "the transport took too long")
}

/// Connects to contacts and meets pending contacts, until shutdown.
pub(crate) async fn dialer(shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        dial_round(&shared).await;
        tokio::select! {
            () = tokio::time::sleep(DIAL_TICK) => {}
            () = shared.wake.notified() => {}
            _ = shutdown.changed() => return,
        }
    }
}

async fn dial_round(shared: &Arc<Shared>) {
    let duplex: Vec<_> = shared
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
        let Ok(targets) = shared
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
            if !shared.peers().start_dial(contact, &t, sighted) {
                continue;
            }
            let in_sight = sighted.is_some();
            let (shared, transport, t) = (shared.clone(), transport.clone(), t.clone());
            tokio::spawn(async move {
                let dialed = tokio::time::timeout(DIAL_TIMEOUT, transport.dial(&peer)).await;
                let result = match dialed.unwrap_or_else(|_| Err(timed_out())) {
                    Ok(conn) => {
                        sync_connection(
                            shared.clone(),
                            transport.clone(),
                            conn,
                            contact,
                            true,
                            None,
                        )
                        .await
                    }
                    Err(e) => Err(EngineError::Io(e)),
                };
                shared
                    .peers()
                    .dial_ended(contact, &t, result.is_err(), in_sight);
            });
        }
        if broadcasts {
            let nearby = shared.peers().nearby_changed(&t, seen);
            if let Some(connected) = nearby {
                shared.publish(Event::Nearby {
                    transport: t.clone(),
                    seen,
                    connected,
                });
            }
        }
        let (ctx, t2) = (shared.ctx.clone(), t.clone());
        let Ok(points) = shared
            .db
            .call(move |store, _| ops::rendezvous_points(store, &ctx, &t2, now))
            .await
        else {
            continue;
        };
        // Rendezvous of pending contacts that are gone (confirmed, expired, removed) end.
        // The transport is called without the engine's lock held.
        let current: Vec<_> = points.iter().map(|(p, point)| (*p, point.id)).collect();
        let gone = shared.peers().sweep_rendezvous(&t, &current);
        for id in gone {
            transport.end_rendezvous(id);
        }
        for (pending, point) in points {
            // An attempt never blocks the peer's incoming handshake (Tor may take long to
            // publish a service).
            let sighted = if broadcasts {
                transport.sighted(&point.sought)
            } else {
                None
            };
            if !shared
                .peers()
                .start_rendezvous(pending, &t, point.id, sighted)
            {
                continue;
            }
            let (shared, transport, t) = (shared.clone(), transport.clone(), t.clone());
            tokio::spawn(async move {
                let met = tokio::time::timeout(DIAL_TIMEOUT, transport.rendezvous(&point))
                    .await
                    .unwrap_or_else(|_| Err(timed_out()));
                let (run, ended) = shared.peers().rendezvous_ended(
                    pending,
                    &t,
                    point.id,
                    matches!(met, Ok(Some(_))),
                );
                if ended {
                    transport.end_rendezvous(point.id);
                    return;
                }
                if let (true, Ok(Some(conn))) = (run, met) {
                    let _ =
                        handshake_connection(shared.clone(), transport, conn, pending, None).await;
                    shared.peers().handshake_ended(pending);
                    shared.wake.notify_one();
                }
            });
        }
    }
}
