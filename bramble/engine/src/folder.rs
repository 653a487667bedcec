//! Files, the one-way transport: writing what contacts and pending contacts should
//! receive as stream files, reading stream files, and syncing with a folder that travels.

use std::io;
use std::path::{Path, PathBuf};

use bramble_proto::ids::MessageId;
use bramble_store::ContactId;
use thicket_transport::file;

use crate::clock::now;
use crate::error::EngineError;
use crate::event::{Event, PendingState};
use crate::ops::{self, Target};
use crate::shared::Shared;

/// What an export wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportReport {
    /// The files written.
    pub files: Vec<PathBuf>,
    /// How many messages they carry.
    pub messages: usize,
}

/// What a folder sync read and wrote.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FolderReport {
    /// What reading the folder found.
    pub imported: ImportReport,
    /// The files written.
    pub written: Vec<PathBuf>,
    /// How many messages they carry.
    pub messages: usize,
}

/// What an import read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Messages delivered, per contact.
    pub messages: Vec<(ContactId, MessageId)>,
    /// Handshake streams read.
    pub handshakes: usize,
    /// Contacts the import completed.
    pub contacts_added: Vec<ContactId>,
    /// Stream files no contact of ours wrote, or already read.
    pub unrecognised: usize,
    /// Files that are not stream files, or damaged streams, with why.
    pub rejected: Vec<(PathBuf, String)>,
    /// Files removed once read whole ([`Engine::sync_folder`](crate::Engine::sync_folder) only): streams for us,
    /// which nobody else can read and which could not be read again.
    pub removed: Vec<PathBuf>,
}

/// [`Engine::export`](crate::Engine::export); with `skip_empty`, a contact with nothing due
/// and nothing to acknowledge gets no file.
pub(crate) async fn export(
    shared: &Shared,
    target: Target,
    dir: &Path,
    skip_empty: bool,
) -> Result<ExportReport, EngineError> {
    let now = now()?;
    let ctx = shared.ctx.clone();
    let (streams, sent) = shared
        .db
        .call(move |store, rng| ops::export_streams(store, &ctx, target, now, skip_empty, rng))
        .await?;
    let dir = dir.to_owned();
    let written = tokio::task::spawn_blocking(move || {
        streams
            .iter()
            .map(|s| file::write_stream(&dir, s))
            .collect::<io::Result<Vec<_>>>()
    })
    .await
    .map_err(|_| EngineError::Stopped)?;
    match written {
        Ok(files) => Ok(ExportReport {
            files,
            messages: sent.len(),
        }),
        Err(e) => {
            // The stream that carried them was never written: they are due again now.
            if let Target::Contact(c) = target
                && !sent.is_empty()
            {
                // Best effort: the write error is the one to report.
                let _ = shared
                    .db
                    .call(move |store, _| Ok(store.make_due(c, &sent)?))
                    .await;
            }
            Err(EngineError::Io(e))
        }
    }
}

/// [`Engine::sync_folder`](crate::Engine::sync_folder).
pub(crate) async fn sync_folder(shared: &Shared, dir: &Path) -> Result<FolderReport, EngineError> {
    let d = dir.to_owned();
    let present = tokio::task::spawn_blocking(move || d.is_dir())
        .await
        .map_err(|_| EngineError::Stopped)?;
    if !present {
        return Err(EngineError::Io(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no folder {}", dir.display()),
        )));
    }
    let imported = import(shared, dir, true).await?;
    let mut report = FolderReport {
        imported,
        ..FolderReport::default()
    };
    let mut targets: Vec<Target> = shared
        .db
        .call(|store, _| Ok(store.contacts()?))
        .await?
        .into_iter()
        .map(|c| Target::Contact(c.id))
        .collect();
    targets.extend(
        shared
            .db
            .call(|store, _| ops::pending_infos(store))
            .await?
            .into_iter()
            .filter(|p| {
                matches!(
                    p.state,
                    PendingState::Waiting | PendingState::AwaitingInfo | PendingState::Failed(_)
                )
            })
            .map(|p| Target::Pending(p.id)),
    );
    for target in targets {
        let written = export(shared, target, dir, true).await?;
        report.written.extend(written.files);
        report.messages += written.messages;
    }
    Ok(report)
}

/// [`Engine::import`](crate::Engine::import); with `consume`, each file read whole is removed
/// once what it carried is stored.
pub(crate) async fn import(
    shared: &Shared,
    dir: &Path,
    consume: bool,
) -> Result<ImportReport, EngineError> {
    let dir = dir.to_owned();
    let found = tokio::task::spawn_blocking(move || file::read_streams(&dir))
        .await
        .map_err(|_| EngineError::Stopped)??;
    let mut report = ImportReport::default();
    let mut read_whole = Vec::new();
    let mut todo = Vec::new();
    for f in found {
        match f.contents {
            Ok(bytes) => todo.push((f.path, bytes)),
            Err(reason) => report.rejected.push((f.path, reason.to_string())),
        }
    }
    loop {
        let mut left = Vec::new();
        let mut progress = false;
        for (path, bytes) in todo {
            let ctx = shared.ctx.clone();
            let now = now()?;
            let (bytes, outcome) = shared
                .db
                .call(move |store, rng| {
                    let r = ops::import_stream(store, &ctx, &bytes, now, rng);
                    Ok((bytes, r))
                })
                .await?;
            let outcome = match outcome {
                Ok(o) => o,
                // The store failing is not this file's fault: stop, so that the
                // files after it are not used up against a failing store.
                Err(e @ (EngineError::Stopped | EngineError::Store(_))) => return Err(e),
                Err(e) => {
                    report
                        .rejected
                        .push((path, format!("could not be read: {e}")));
                    continue;
                }
            };
            match outcome {
                ops::Imported::Sync {
                    contact,
                    delivered,
                    events,
                    damage,
                } => {
                    progress = true;
                    match damage {
                        Some(why) => report.rejected.push((path.clone(), why)),
                        None if consume => read_whole.push(path.clone()),
                        None => {}
                    }
                    report
                        .messages
                        .extend(delivered.into_iter().map(|id| (contact, id)));
                    for e in events {
                        shared.publish(e);
                    }
                }
                ops::Imported::Handshake {
                    pending,
                    created,
                    damage,
                    failure,
                } => {
                    match damage {
                        Some(why) => report.rejected.push((path.clone(), why)),
                        None => {
                            report.handshakes += 1;
                            if consume {
                                read_whole.push(path.clone());
                            }
                        }
                    }
                    if let Some(why) = failure {
                        shared.publish(Event::PendingChanged {
                            pending,
                            state: PendingState::Failed(why),
                        });
                    }
                    progress = true;
                    if let Some(c) = created {
                        report.contacts_added.push(c);
                        shared.publish(Event::ContactAdded { contact: c });
                        shared.publish(Event::PendingChanged {
                            pending,
                            state: PendingState::Completed(c),
                        });
                    }
                }
                ops::Imported::Unrecognised => left.push((path, bytes)),
            }
        }
        todo = left;
        if !progress || todo.is_empty() {
            break;
        }
    }
    report.unrecognised = todo.len();
    // What they carried is committed: a file that cannot be removed (a read-only
    // drive) is simply not read again.
    report.removed = tokio::task::spawn_blocking(move || {
        read_whole
            .into_iter()
            .filter(|p| std::fs::remove_file(p).is_ok())
            .collect()
    })
    .await
    .map_err(|_| EngineError::Stopped)?;
    Ok(report)
}
