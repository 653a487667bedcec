//! A [`Pipe`] as a connection: the engine reads and writes a [`PipeStream`]
//! (`AsyncRead + AsyncWrite`), and the radio side moves characteristic values with the
//! link's [`PipeDriver`].

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;

use crate::pipe::{Pipe, PipeError, Read, Reason};

struct Shared {
    pipe: Pipe,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

struct Link {
    shared: Mutex<Shared>,
    /// Signalled whenever the pipe may have a value to send.
    transmit: Notify,
}

impl Link {
    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Shared {
    fn wake(&mut self) {
        if let Some(w) = self.reader.take() {
            w.wake();
        }
        if let Some(w) = self.writer.take() {
            w.wake();
        }
    }
}

/// The engine's side of a link: stream bytes in and out.
pub struct PipeStream {
    link: Arc<Link>,
}

/// The radio's side of a link: characteristic values in and out.
#[derive(Clone)]
pub struct PipeDriver {
    link: Arc<Link>,
}

impl std::fmt::Debug for PipeStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PipeStream")
            .field(&self.link.lock().pipe)
            .finish()
    }
}

impl std::fmt::Debug for PipeDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PipeDriver")
            .field(&self.link.lock().pipe)
            .finish()
    }
}

/// Wraps a pipe as a connection and its driver.
pub fn link(pipe: Pipe) -> (PipeStream, PipeDriver) {
    let link = Arc::new(Link {
        shared: Mutex::new(Shared {
            pipe,
            reader: None,
            writer: None,
        }),
        transmit: Notify::new(),
    });
    link.transmit.notify_one();
    (PipeStream { link: link.clone() }, PipeDriver { link })
}

impl PipeDriver {
    /// Hands the pipe one value from the peer.
    ///
    /// # Errors
    /// The value broke the protocol or reset the pipe (the pipe is then failed; send
    /// what [`PipeDriver::next_value`] still gives, then drop the link).
    pub fn deliver(&self, value: &[u8]) -> Result<(), PipeError> {
        let result = {
            let mut s = self.link.lock();
            let result = s.pipe.handle(value);
            s.wake();
            result
        };
        self.link.transmit.notify_one();
        result
    }

    /// The ATT MTU changed.
    pub fn set_mtu(&self, att_mtu: u16) {
        self.link.lock().pipe.set_mtu(att_mtu);
    }

    /// The next value to send, waiting until there is one; `None` once the pipe is over
    /// (closed both ways, or reset and the RESET sent): the link can then go.
    pub async fn next_value(&self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        loop {
            let notified = self.link.transmit.notified();
            {
                let mut s = self.link.lock();
                if s.pipe.poll_transmit(&mut out) {
                    // Room may have opened for the writer (a DATA frame left the buffer).
                    s.wake();
                    return Some(out);
                }
                if s.pipe.is_finished() {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// The link failed (disconnected, a write failed, the transport stops): the stream's
    /// reads and writes fail from now on.
    pub fn fail(&self, reason: Reason) {
        let mut s = self.link.lock();
        s.pipe.abort(reason);
        s.wake();
        drop(s);
        self.link.transmit.notify_one();
    }

    /// Whether two drivers drive the same link.
    pub fn same_link(&self, other: &PipeDriver) -> bool {
        Arc::ptr_eq(&self.link, &other.link)
    }

    /// Whether the pipe is over.
    pub fn is_finished(&self) -> bool {
        self.link.lock().pipe.is_finished()
    }
}

impl AsyncRead for PipeStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut s = self.link.lock();
        let result = s.pipe.read(buf.initialize_unfilled());
        match result {
            Ok(Read::Bytes(n)) => {
                buf.advance(n);
                let ack = s.pipe.wants_transmit();
                drop(s);
                if ack {
                    self.link.transmit.notify_one();
                }
                Poll::Ready(Ok(()))
            }
            Ok(Read::End) => Poll::Ready(Ok(())),
            Ok(Read::Pending) => {
                s.reader = Some(cx.waker().clone());
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(e.into())),
        }
    }
}

impl AsyncWrite for PipeStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut s = self.link.lock();
        match s.pipe.write(data) {
            Ok(0) if !data.is_empty() => {
                s.writer = Some(cx.waker().clone());
                Poll::Pending
            }
            Ok(n) => {
                drop(s);
                self.link.transmit.notify_one();
                Poll::Ready(Ok(n))
            }
            Err(e) => Poll::Ready(Err(e.into())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Queued bytes go out as fast as the link takes them; there is nothing to wait for
        // that would make them arrive sooner.
        match self.link.lock().pipe.error() {
            Some(e) => Poll::Ready(Err(e.clone().into())),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.link.lock().pipe.shutdown();
        self.link.transmit.notify_one();
        Poll::Ready(Ok(()))
    }
}

impl Drop for PipeStream {
    fn drop(&mut self) {
        let mut s = self.link.lock();
        // Dropped before the end: the peer must not wait for bytes that never come. After a
        // shutdown, the queued bytes and CLOSE still go out.
        if s.pipe.error().is_none() && !s.pipe.is_write_closed() {
            s.pipe.abort(Reason::Failure);
        }
        s.pipe.discard_input();
        drop(s);
        self.link.transmit.notify_one();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// Moves values from one driver to the other until the sender's pipe is over.
    async fn carry(from: PipeDriver, to: PipeDriver) {
        while let Some(v) = from.next_value().await {
            if to.deliver(&v).is_err() {
                break;
            }
        }
    }

    async fn pair(mtu: u16) -> (PipeStream, PipeStream, Vec<tokio::task::JoinHandle<()>>) {
        let (c, cd) = link(Pipe::dial(mtu, [5; 4]));
        let open = cd.next_value().await.unwrap();
        let (p, pd) = link(Pipe::accept(mtu, &open).unwrap());
        let tasks = vec![
            tokio::spawn(carry(cd.clone(), pd.clone())),
            tokio::spawn(carry(pd, cd)),
        ];
        (c, p, tasks)
    }

    #[tokio::test]
    async fn a_stream_crosses_both_ways_and_ends() {
        let (mut c, mut p, tasks) = pair(185).await;
        let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let up = big.clone();
        let writer = tokio::spawn(async move {
            c.write_all(&up).await.unwrap();
            c.shutdown().await.unwrap();
            let mut back = Vec::new();
            c.read_to_end(&mut back).await.unwrap();
            back
        });
        let mut got = Vec::new();
        p.read_to_end(&mut got).await.unwrap();
        assert!(got == big);
        p.write_all(b"thanks").await.unwrap();
        p.shutdown().await.unwrap();
        assert_eq!(writer.await.unwrap(), b"thanks");
        drop(p);
        for t in tasks {
            t.await.unwrap();
        }
    }

    #[tokio::test]
    async fn dropping_a_stream_early_resets_the_peer() {
        let (c, mut p, tasks) = pair(23).await;
        drop(c);
        let err = p.read(&mut [0u8; 8]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
        for t in tasks {
            t.await.unwrap();
        }
    }

    #[tokio::test]
    async fn a_failed_link_fails_reads_and_writes() {
        let (c, cd) = link(Pipe::dial(23, [1; 4]));
        let mut c = c;
        cd.next_value().await.unwrap();
        cd.fail(Reason::Failure);
        assert!(c.write(b"x").await.is_err());
        assert!(c.read(&mut [0u8; 1]).await.is_err());
        // The RESET still goes out, then the link is over.
        assert!(cd.next_value().await.is_some());
        assert_eq!(cd.next_value().await, None);
    }
}
