//! What every connection does: read the peer's tag, open our stream and the peer's, and
//! end ours.

use std::sync::Arc;
use std::time::Duration;

use bramble_proto::stream::{IncomingStream, StreamReader, StreamTag, StreamWriter, TAG_LEN};
use bramble_proto::transport::TransportId;
use chacha20::ChaCha20Rng;
use thicket_transport::BoxConnection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::clock::now;
use crate::error::EngineError;
use crate::ops::{self, Recognised};
use crate::shared::Shared;

/// How long a peer has to send its stream's tag, and the longest silence on a
/// handshake connection.
pub(super) const TAG_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a finished handshake waits for the peer to end its stream.
pub(super) const LINGER: Duration = Duration::from_secs(5);

/// Reads bytes until the 16-byte tag is there; returns it and whatever came after.
pub(super) async fn read_tag(conn: &mut BoxConnection) -> Option<(StreamTag, Vec<u8>)> {
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

/// Opens our stream on `conn` and, unless the peer's stream was read already, reads the
/// peer's tag, which must be of `expected`'s keys.
pub(super) async fn open_streams(
    shared: &Arc<Shared>,
    transport: &TransportId,
    conn: &mut BoxConnection,
    who: ops::Target,
    theirs: Option<(IncomingStream, Vec<u8>)>,
    rng: &mut ChaCha20Rng,
) -> Result<Option<(StreamWriter, StreamReader, Vec<u8>)>, EngineError> {
    let (ctx, t) = (shared.ctx.clone(), transport.clone());
    let now = now()?;
    let stream = match who {
        ops::Target::Contact(c) => {
            shared
                .db
                .call(move |store, _| ops::open_contact_stream(store, c, &t, now))
                .await?
        }
        ops::Target::Pending(p) => {
            shared
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
            let (ctx, t) = (shared.ctx.clone(), transport.clone());
            let recognised = shared
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

/// Ends our stream with its final frame and closes the connection, giving a peer that
/// does not read at most [`LINGER`].
pub(super) async fn end_stream(conn: &mut BoxConnection, writer: StreamWriter) {
    let mut wire = Vec::new();
    let _ = tokio::time::timeout(LINGER, async {
        if writer.finish(&mut wire).is_ok() {
            let _ = conn.write_all(&wire).await;
        }
        let _ = conn.shutdown().await;
    })
    .await;
}
