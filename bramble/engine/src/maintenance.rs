//! Upkeep: stream keys rotated at period boundaries, pending contacts removed once expired.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::now;
use crate::error::EngineError;
use crate::event::{Event, PendingState};
use crate::ops;
use crate::shared::Shared;

/// How often keys are rotated and pending contacts expired.
const MAINTENANCE_TICK: Duration = Duration::from_secs(60);

/// [`Engine::maintain`](crate::Engine::maintain).
pub(crate) async fn maintain(shared: &Shared) -> Result<(), EngineError> {
    let now = now()?;
    let (expired, rotated) = shared
        .db
        .call(move |store, _| {
            // Expiry erases secrets: it runs even if rotation failed.
            let rotated = ops::rotate_all(store, now);
            Ok((ops::expire_pending(store, now)?, rotated))
        })
        .await?;
    for pending in expired {
        shared.publish(Event::PendingChanged {
            pending,
            state: PendingState::Expired,
        });
    }
    rotated
}

/// Maintains every [`MAINTENANCE_TICK`] until shutdown.
pub(crate) async fn run(shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(MAINTENANCE_TICK) => {}
            _ = shutdown.changed() => return,
        }
        let _ = maintain(&shared).await;
    }
}
