//! The file transport: streams carried as files on a removable drive (sneakernet).
//!
//! Exporting writes one batch stream for one contact as a file in a folder; importing
//! reads every stream file found in a folder. A file is named after its stream's tag
//! (`<32 hex digits>.thicket`), which is pseudo-random and unique, so the name reveals
//! nothing the file does not, and exporting never overwrites. A file is written under a
//! temporary name (`.<tag>.part`), synced, then renamed, so a drive pulled out mid-write
//! leaves a partial file that import rejects, never a truncated stream under a real
//! name. Importing never deletes or changes anything: a stream read twice is refused by
//! the receiver's replay window, so importing the same folder again is harmless.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bramble_proto::stream::{STREAM_PREFIX_LEN, TAG_LEN};
use bramble_proto::transport::TransportId;
use tokio::sync::{mpsc, watch};

use crate::{BoxConnection, BoxFuture, Kind, Peer, RendezvousPoint, Status, Transport};

/// The extension of stream files.
pub const EXTENSION: &str = "thicket";
/// The largest stream file written or read.
pub const MAX_FILE_LEN: u64 = 64 * 1024 * 1024;

/// Why a file in an import folder was not read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejected {
    /// Not a stream file: another name, a directory, a link.
    Foreign,
    /// A stream file whose writing never finished (`.part`).
    Partial,
    /// Shorter than any stream.
    TooShort,
    /// Over [`MAX_FILE_LEN`].
    TooLarge,
    /// It could not be read (or changed while it was).
    Unreadable(io::ErrorKind),
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Rejected::Foreign => "not a Thicket file",
            Rejected::Partial => "an export that did not finish",
            Rejected::TooShort => "too short to be a stream",
            Rejected::TooLarge => "too large to be a stream",
            Rejected::Unreadable(kind) => return write!(f, "could not be read ({kind})"),
        })
    }
}

/// One entry of an import folder.
#[derive(Debug)]
pub struct Found {
    /// Its path.
    pub path: PathBuf,
    /// Its bytes, or why it was not read.
    pub contents: Result<Vec<u8>, Rejected>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Writes one stream as a file in `dir` (created if missing, private to the user) and
/// returns its path.
///
/// # Errors
/// [`io::ErrorKind::InvalidInput`] for bytes too short or too long to be a stream;
/// [`io::ErrorKind::AlreadyExists`] if that stream was exported there already; other
/// I/O errors (nothing is left under the final name then).
pub fn write_stream(dir: &Path, stream: &[u8]) -> io::Result<PathBuf> {
    if stream.len() < STREAM_PREFIX_LEN || stream.len() as u64 > MAX_FILE_LEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a stream of a size that can be exported",
        ));
    }
    create_dir_private(dir)?;
    let name = hex(&stream[..TAG_LEN]);
    let path = dir.join(format!("{name}.{EXTENSION}"));
    if path.symlink_metadata().is_ok() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "stream already exported",
        ));
    }
    let part = dir.join(format!(".{name}.part"));
    // Only a temporary file this call created is ever removed.
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&part)?;
    let result = (|| {
        file.write_all(stream)?;
        file.sync_all()?;
        fs::rename(&part, &path)
    })();
    drop(file);
    if let Err(e) = result {
        let _ = fs::remove_file(&part);
        return Err(e);
    }
    // The rename is durable once the folder is synced. Some file systems cannot sync a
    // folder; the file is complete under its name either way.
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(path)
}

fn create_dir_private(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Every entry of `dir`, in name order, with the bytes of each stream file.
///
/// # Errors
/// The folder cannot be listed. Files that cannot be read are reported per file.
pub fn read_streams(dir: &Path) -> io::Result<Vec<Found>> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<io::Result<_>>()?;
    entries.sort_by_key(fs::DirEntry::file_name);
    let mut found = Vec::with_capacity(entries.len());
    for entry in entries {
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let meta = match path.symlink_metadata() {
            Ok(m) => m,
            Err(e) => {
                found.push(Found {
                    path,
                    contents: Err(Rejected::Unreadable(e.kind())),
                });
                continue;
            }
        };
        let contents = if !meta.is_file() {
            Err(Rejected::Foreign)
        } else if name.starts_with('.') && name.ends_with(".part") {
            Err(Rejected::Partial)
        } else if !is_stream_name(&name) {
            Err(Rejected::Foreign)
        } else if meta.len() > MAX_FILE_LEN {
            Err(Rejected::TooLarge)
        } else if meta.len() < STREAM_PREFIX_LEN as u64 {
            Err(Rejected::TooShort)
        } else {
            read_bounded(&path, &meta)
        };
        found.push(Found { path, contents });
    }
    Ok(found)
}

/// Reads a regular file, at most [`MAX_FILE_LEN`] bytes, refusing one that is not the
/// file `meta` described (swapped for a link or another file after it was listed).
fn read_bounded(path: &Path, meta: &fs::Metadata) -> Result<Vec<u8>, Rejected> {
    use std::io::Read;
    let unreadable = |e: io::Error| Rejected::Unreadable(e.kind());
    let file = fs::File::open(path).map_err(unreadable)?;
    let opened = file.metadata().map_err(unreadable)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if (opened.dev(), opened.ino()) != (meta.dev(), meta.ino()) {
            return Err(Rejected::Unreadable(io::ErrorKind::Other));
        }
    }
    if !opened.is_file() {
        return Err(Rejected::Foreign);
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_LEN + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > MAX_FILE_LEN {
        return Err(Rejected::TooLarge);
    }
    Ok(bytes)
}

fn is_stream_name(name: &str) -> bool {
    name.strip_suffix(&format!(".{EXTENSION}"))
        .is_some_and(|stem| {
            stem.len() == 2 * TAG_LEN
                && stem
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// The file transport as a [`Transport`]: one-way, so it neither listens nor dials;
/// the engine exports and imports with [`write_stream`] and [`read_streams`].
#[derive(Clone, Debug)]
pub struct FileTransport {
    status: watch::Sender<Status>,
}

impl Default for FileTransport {
    fn default() -> Self {
        FileTransport {
            status: watch::channel(Status::Up).0,
        }
    }
}

impl FileTransport {
    /// The file transport.
    pub fn new() -> Self {
        Self::default()
    }
}

fn one_way() -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        "the file transport is one-way: export and import files instead",
    )
}

impl Transport for FileTransport {
    fn id(&self) -> TransportId {
        TransportId::FILE
    }

    fn max_latency(&self) -> Duration {
        TransportId::FILE
            .spec_max_latency()
            .unwrap_or(Duration::from_secs(28 * 86_400))
    }

    fn kind(&self) -> Kind {
        Kind::OneWay
    }

    fn start(&self, _incoming: mpsc::Sender<BoxConnection>) -> BoxFuture<'_, io::Result<()>> {
        Box::pin(async { Ok(()) })
    }

    fn local_properties(&self) -> BTreeMap<String, String> {
        BTreeMap::new()
    }

    fn dial<'a>(&'a self, _target: &'a Peer) -> BoxFuture<'a, io::Result<BoxConnection>> {
        Box::pin(async { Err(one_way()) })
    }

    fn rendezvous<'a>(
        &'a self,
        _point: &'a RendezvousPoint,
    ) -> BoxFuture<'a, io::Result<Option<BoxConnection>>> {
        Box::pin(async { Ok(None) })
    }

    fn end_rendezvous(&self, _id: u64) {}

    fn status(&self) -> watch::Receiver<Status> {
        self.status.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(tag_byte: u8, len: usize) -> Vec<u8> {
        let mut s = vec![tag_byte; len];
        s[TAG_LEN..].fill(0x5a);
        s
    }

    #[test]
    fn write_then_read() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("stick/thicket");
        let a = write_stream(&out, &stream(1, 500)).unwrap();
        let b = write_stream(&out, &stream(2, 700)).unwrap();
        assert_eq!(
            a.file_name().unwrap().to_str().unwrap(),
            format!("{}.thicket", "01".repeat(16))
        );
        assert_eq!(
            write_stream(&out, &stream(1, 500)).unwrap_err().kind(),
            io::ErrorKind::AlreadyExists
        );
        assert_eq!(
            write_stream(&out, &[1; 10]).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        // Foreign and partial files beside them.
        fs::write(out.join("notes.txt"), b"shopping").unwrap();
        fs::write(out.join(format!(".{}.part", "03".repeat(16))), b"half").unwrap();
        fs::write(out.join(format!("{}.thicket", "04".repeat(16))), b"short").unwrap();
        fs::write(
            out.join(format!("{}.thicket", "XY".repeat(16))),
            stream(5, 200),
        )
        .unwrap();
        fs::create_dir(out.join("sub")).unwrap();
        let found = read_streams(&out).unwrap();
        let by_name: BTreeMap<String, Result<usize, Rejected>> = found
            .into_iter()
            .map(|f| {
                (
                    f.path.file_name().unwrap().to_string_lossy().into_owned(),
                    f.contents.map(|c| c.len()),
                )
            })
            .collect();
        assert_eq!(by_name[&format!("{}.thicket", "01".repeat(16))], Ok(500));
        assert_eq!(by_name[&format!("{}.thicket", "02".repeat(16))], Ok(700));
        assert_eq!(
            by_name[&format!(".{}.part", "03".repeat(16))],
            Err(Rejected::Partial)
        );
        assert_eq!(
            by_name[&format!("{}.thicket", "04".repeat(16))],
            Err(Rejected::TooShort)
        );
        assert_eq!(
            by_name[&format!("{}.thicket", "XY".repeat(16))],
            Err(Rejected::Foreign)
        );
        assert_eq!(by_name["notes.txt"], Err(Rejected::Foreign));
        assert_eq!(by_name["sub"], Err(Rejected::Foreign));
        assert!(b.exists());
        assert!(read_streams(&dir.path().join("missing")).is_err());
    }
}
