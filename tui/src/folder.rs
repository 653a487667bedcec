//! The folder that carries messages as files (`--files DIR`): a folder on a USB stick
//! that goes from hand to hand, or one that something else copies around. Thicket
//! syncs with it when it appears (a drive plugged in) and when asked; the engine's
//! [`Engine::sync_folder`](bramble_engine::Engine::sync_folder) does the reading and
//! writing.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use bramble_engine::{EngineError, FolderReport};
use tokio::sync::mpsc;

use crate::failure::Failure;

/// How often the folder is looked for.
const LOOK_EVERY: Duration = Duration::from_secs(2);

/// Watches for the folder: the receiver gets whether it is there at once, then each
/// time that changes. The watch ends with the receiver.
pub(crate) fn watch(dir: PathBuf) -> mpsc::Receiver<bool> {
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        let mut last = None;
        loop {
            let d = dir.clone();
            // Off the runtime's threads: a dead network mount can hang a stat.
            let present = tokio::task::spawn_blocking(move || d.is_dir())
                .await
                .unwrap_or(false);
            if last != Some(present) {
                if tx.send(present).await.is_err() {
                    return;
                }
                last = Some(present);
            }
            tokio::select! {
                () = tokio::time::sleep(LOOK_EVERY) => {}
                () = tx.closed() => return,
            }
        }
    });
    rx
}

/// What a sync did, in a line.
pub(crate) fn describe(report: &FolderReport) -> String {
    let read = report.imported.messages.len();
    let written = report.written.len();
    let mut out = format!(
        "{read} message{} read, {written} file{} written",
        plural(read),
        plural(written)
    );
    let added = report.imported.contacts_added.len();
    if added > 0 {
        out.push_str(&format!(", {added} contact{} added", plural(added)));
    }
    let removed = report.imported.removed.len();
    if removed > 0 {
        out.push_str(&format!(", {removed} read file{} removed", plural(removed)));
    }
    let rejected = report.imported.rejected.len();
    if rejected > 0 {
        out.push_str(&format!(", {rejected} file{} skipped", plural(rejected)));
    }
    out
}

/// Why a sync failed, for the user.
pub(crate) fn error(e: EngineError) -> String {
    match e {
        EngineError::Io(e) if e.kind() == io::ErrorKind::NotFound => {
            String::from("the folder is not there (is the drive plugged in?)")
        }
        EngineError::Io(e) if e.kind() == io::ErrorKind::ReadOnlyFilesystem => {
            String::from("the drive is read-only")
        }
        EngineError::Io(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            String::from("this user may not write in the folder")
        }
        e => Failure::from(e).to_string(),
    }
}

/// "s" for a count other than one.
pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}
