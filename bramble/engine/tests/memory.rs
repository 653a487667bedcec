//! Engines in one process over the in-memory transport: adding contacts by links,
//! chatting both ways, isolation from a third account and from strangers, and one
//! connection kept of two dialed at once.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bramble_engine::{Engine, EngineError, Event, PendingState, create_account};
use bramble_proto::contact::LinkError;
use bramble_proto::messaging::DeliveryState;
use bramble_proto::transport::TransportId;
use thicket_transport::memory::{MemoryNetwork, MemoryTransport};
use thicket_transport::{
    BoxConnection, BoxFuture, Kind, Peer as Dialled, RendezvousPoint, Status, Transport,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::{broadcast, mpsc, watch};

const PASSWORD: &str = "correct horse";

/// A memory transport whose dials can be sent to another address, to play a network
/// that delivers a stream to the wrong peer.
#[derive(Clone)]
struct Redirect {
    inner: MemoryTransport,
    to: Arc<Mutex<Option<String>>>,
}

impl Transport for Redirect {
    fn id(&self) -> TransportId {
        self.inner.id()
    }
    fn max_latency(&self) -> Duration {
        self.inner.max_latency()
    }
    fn kind(&self) -> Kind {
        self.inner.kind()
    }
    fn start(&self, incoming: mpsc::Sender<BoxConnection>) -> BoxFuture<'_, io::Result<()>> {
        self.inner.start(incoming)
    }
    fn local_properties(&self) -> BTreeMap<String, String> {
        self.inner.local_properties()
    }
    fn dial<'a>(&'a self, target: &'a Dialled) -> BoxFuture<'a, io::Result<BoxConnection>> {
        Box::pin(async move {
            let to = self.to.lock().unwrap().clone();
            match to {
                Some(address) => {
                    let props = BTreeMap::from([(String::from("address"), address)]);
                    self.inner.dial(&Dialled::at(props)).await
                }
                None => self.inner.dial(target).await,
            }
        })
    }
    fn rendezvous<'a>(
        &'a self,
        point: &'a RendezvousPoint,
    ) -> BoxFuture<'a, io::Result<Option<BoxConnection>>> {
        self.inner.rendezvous(point)
    }
    fn end_rendezvous(&self, id: u64) {
        self.inner.end_rendezvous(id);
    }
    fn status(&self) -> watch::Receiver<Status> {
        self.inner.status()
    }
}

struct Peer {
    engine: Engine,
    events: broadcast::Receiver<Event>,
    _dir: tempfile::TempDir,
}

async fn peer(
    net: &MemoryNetwork,
    name: &str,
    redirect: Option<Arc<Mutex<Option<String>>>>,
) -> Peer {
    let memory = net.transport(name);
    let transport: Arc<dyn Transport> = match redirect {
        Some(to) => Arc::new(Redirect { inner: memory, to }),
        None => Arc::new(memory),
    };
    peer_over(name, transport).await
}

async fn peer_over(name: &str, transport: Arc<dyn Transport>) -> Peer {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("account");
    let nick = name.to_owned();
    let p = path.clone();
    tokio::task::spawn_blocking(move || create_account(&p, &nick, PASSWORD))
        .await
        .unwrap()
        .unwrap();
    let engine = Engine::open(&path, PASSWORD, vec![transport])
        .await
        .unwrap();
    let events = engine.events();
    Peer {
        engine,
        events,
        _dir: dir,
    }
}

/// Waits for an event `pick` accepts, up to 30 s.
async fn wait_for<T>(peer: &mut Peer, what: &str, mut pick: impl FnMut(&Event) -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let e = tokio::time::timeout_at(deadline, peer.events.recv())
            .await
            .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
            .unwrap();
        if let Some(v) = pick(&e) {
            return v;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_add_each_other_and_chat_and_a_third_stays_out() {
    let net = MemoryNetwork::new();
    let redirect = Arc::new(Mutex::new(None));
    let (mut a, mut b, c) = (
        peer(&net, "alice", None).await,
        peer(&net, "bob", None).await,
        peer(&net, "carol", Some(redirect.clone())).await,
    );
    let (link_a, link_b, link_c) = (
        a.engine.link().await.unwrap().to_string(),
        b.engine.link().await.unwrap().to_string(),
        c.engine.link().await.unwrap().to_string(),
    );

    // Bad links are refused clearly.
    let mut typo = link_b.clone().into_bytes();
    typo[30] = if typo[30] == b'a' { b'b' } else { b'a' };
    let typo = String::from_utf8(typo).unwrap();
    assert!(matches!(
        a.engine.add_link(&typo, "Bob").await,
        Err(EngineError::Link(LinkError::Checksum))
    ));
    assert!(matches!(
        a.engine.add_link(&link_a, "me").await,
        Err(EngineError::OwnLink)
    ));
    assert!(matches!(
        a.engine.add_link("hello", "x").await,
        Err(EngineError::Link(LinkError::Malformed))
    ));
    assert!(matches!(
        a.engine.add_link(&link_b, "a\u{1b}[31m").await,
        Err(EngineError::Store(_))
    ));

    // Alice and Bob add each other; Carol adds Alice, who never adds her.
    let pending_a = a.engine.add_link(&link_b, "Bob").await.unwrap();
    assert!(
        matches!(a.engine.add_link(&link_b, "Bob again").await, Err(EngineError::AlreadyPending(n)) if n == "Bob")
    );
    b.engine.add_link(&link_a, "Alice").await.unwrap();
    c.engine.add_link(&link_a, "Alice").await.unwrap();
    let contact_b = wait_for(&mut a, "Alice's contact", |e| match e {
        Event::ContactAdded { contact } => Some(*contact),
        _ => None,
    })
    .await;
    let contact_a = wait_for(&mut b, "Bob's contact", |e| match e {
        Event::ContactAdded { contact } => Some(*contact),
        _ => None,
    })
    .await;
    assert!(
        matches!(a.engine.add_link(&link_b, "Bob 2").await, Err(EngineError::AlreadyContact(n)) if n == "Bob")
    );
    let contacts = a.engine.contacts().await.unwrap();
    assert_eq!(contacts.len(), 1);
    assert_eq!(contacts[0].nickname, "bob");
    assert_eq!(contacts[0].alias.as_deref(), Some("Bob"));
    assert!(!contacts[0].verified);
    assert_eq!(a.engine.find_contact("Bob").await.unwrap(), contact_b);
    // Safety numbers agree.
    assert_eq!(
        a.engine.safety_number(contact_b).await.unwrap(),
        b.engine.safety_number(contact_a).await.unwrap()
    );
    let _ = pending_a;

    // They connect over the memory transport and chat both ways.
    wait_for(&mut a, "a connection", |e| {
        matches!(e, Event::ContactConnected { contact, .. } if *contact == contact_b).then_some(())
    })
    .await;
    let hello = a.engine.send(contact_b, "hello Bob").await.unwrap();
    let got = wait_for(&mut b, "Alice's message", |e| match e {
        Event::MessageReceived { contact, id } if *contact == contact_a => Some(*id),
        _ => None,
    })
    .await;
    assert_eq!(got, hello);
    wait_for(&mut a, "delivery", |e| {
        matches!(e, Event::DeliveryChanged { id, state: DeliveryState::Delivered, .. } if *id == hello).then_some(())
    })
    .await;
    let reply = b.engine.send(contact_a, "hi Alice").await.unwrap();
    assert_eq!(
        wait_for(&mut a, "Bob's reply", |e| match e {
            Event::MessageReceived { id, .. } => Some(*id),
            _ => None,
        })
        .await,
        reply
    );
    let convo = a.engine.conversation(contact_b, 10).await.unwrap();
    let texts: Vec<_> = convo.iter().map(|m| (m.ours, m.text.as_str())).collect();
    assert_eq!(texts, [(true, "hello Bob"), (false, "hi Alice")]);
    assert_eq!(convo[0].delivery, Some(DeliveryState::Delivered));

    // Carol's pending contact never completes: Alice does not have her link.
    assert!(c.engine.contacts().await.unwrap().is_empty());
    assert!(matches!(
        c.engine.pending().await.unwrap()[0].state,
        PendingState::Waiting
    ));
    // Bob and Carol become contacts; then Carol's dials to Bob reach Alice instead.
    // Alice must not take Carol's stream for anyone's.
    *redirect.lock().unwrap() = Some(String::from("alice"));
    b.engine.add_link(&link_c, "Carol").await.unwrap();
    c.engine.add_link(&link_b, "Bob").await.unwrap();
    let carol_at_bob = wait_for(&mut b, "Bob's contact Carol", |e| match e {
        Event::ContactAdded { contact } => Some(*contact),
        _ => None,
    })
    .await;
    // Give Carol time to dial Alice by mistake a few times.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        a.engine.contacts().await.unwrap().len(),
        1,
        "Alice gained no contact"
    );
    while let Ok(e) = a.events.try_recv() {
        if let Event::ContactConnected { contact, .. } | Event::MessageReceived { contact, .. } = e
        {
            assert_eq!(contact, contact_b, "Alice connected to someone else: {e:?}");
        }
    }
    // With the network fixed, Carol reaches Bob.
    *redirect.lock().unwrap() = None;
    wait_for(&mut b, "Carol's connection", |e| {
        matches!(e, Event::ContactConnected { contact, .. } if *contact == carol_at_bob)
            .then_some(())
    })
    .await;

    // A stranger's bytes get no reply: the connection is closed without one byte.
    let mut stranger = net.connect("alice").await.unwrap();
    stranger.write_all(&[0x42; 200]).await.unwrap();
    let mut buf = Vec::new();
    let n = tokio::time::timeout(Duration::from_secs(10), stranger.read_to_end(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 0, "a stranger got a reply");

    for p in [a, b, c] {
        p.engine.shutdown().await;
    }
}

/// Builds a memory transport from its secret, recording the secret and publishing it
/// (as a test stand-in for an address derived from it).
struct Recording {
    net: MemoryNetwork,
    secrets: Arc<Mutex<Vec<[u8; 32]>>>,
}

impl thicket_transport::TransportSetup for Recording {
    fn id(&self) -> TransportId {
        thicket_transport::memory::transport_id()
    }

    fn build(
        self: Box<Self>,
        secret: &bramble_proto::crypto::SecretKey,
    ) -> io::Result<Arc<dyn Transport>> {
        self.secrets.lock().unwrap().push(*secret.expose_secret());
        let name = hex::encode(&secret.expose_secret()[..8]);
        Ok(Arc::new(self.net.transport(&name)))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transports_are_built_from_a_kept_secret_and_offline_touches_no_network() {
    use bramble_engine::Mode;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("account");
    let p = path.clone();
    tokio::task::spawn_blocking(move || create_account(&p, "alice", PASSWORD))
        .await
        .unwrap()
        .unwrap();
    let net = MemoryNetwork::new();
    let secrets = Arc::new(Mutex::new(Vec::new()));
    let setup = || -> Vec<Box<dyn thicket_transport::TransportSetup>> {
        vec![Box::new(Recording {
            net: net.clone(),
            secrets: secrets.clone(),
        })]
    };
    let id = thicket_transport::memory::transport_id();

    let engine = Engine::open_with(&path, PASSWORD, setup(), Mode::Offline)
        .await
        .unwrap();
    assert!(engine.transports().is_empty(), "offline: nothing started");
    let published = engine.local_properties(id.clone()).await.unwrap();
    engine.shutdown().await;
    let name = published["address"].clone();
    // Nobody listens at the address: the transport was built but never started.
    assert!(
        net.transport("probe")
            .dial(&Dialled::at(published.clone()))
            .await
            .is_err()
    );

    let engine = Engine::open_with(&path, PASSWORD, setup(), Mode::Online)
        .await
        .unwrap();
    assert_eq!(engine.transports().len(), 1);
    assert_eq!(engine.local_properties(id).await.unwrap()["address"], name);
    assert!(
        net.transport("probe")
            .dial(&Dialled::at(published.clone()))
            .await
            .is_ok(),
        "online: listening"
    );
    engine.shutdown().await;
    let secrets = secrets.lock().unwrap();
    assert_eq!(secrets.len(), 2);
    assert_eq!(secrets[0], secrets[1], "the same secret both times");
    assert_ne!(secrets[0], [0; 32]);
}

/// Connections of the [`Counted`] transports, shared by both ends.
#[derive(Default)]
struct Tally {
    /// Connection ends open now (each connection has two).
    live: AtomicUsize,
    /// Dials made.
    dials: AtomicUsize,
}

/// One end of a connection, counted while it is open.
struct CountedConn {
    inner: BoxConnection,
    tally: Arc<Tally>,
}

impl CountedConn {
    fn boxed(inner: BoxConnection, tally: &Arc<Tally>) -> BoxConnection {
        tally.live.fetch_add(1, Ordering::SeqCst);
        Box::new(CountedConn {
            inner,
            tally: tally.clone(),
        })
    }
}

impl Drop for CountedConn {
    fn drop(&mut self) {
        self.tally.live.fetch_sub(1, Ordering::SeqCst);
    }
}

impl AsyncRead for CountedConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountedConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// A memory transport that counts its connections and holds the first dial of each of
/// two engines until both are made, so that they dial each other at once.
struct Counted {
    inner: MemoryTransport,
    tally: Arc<Tally>,
    both: Arc<tokio::sync::Barrier>,
    held: Arc<AtomicUsize>,
}

impl Transport for Counted {
    fn id(&self) -> TransportId {
        self.inner.id()
    }
    fn max_latency(&self) -> Duration {
        self.inner.max_latency()
    }
    fn kind(&self) -> Kind {
        self.inner.kind()
    }
    fn start(&self, incoming: mpsc::Sender<BoxConnection>) -> BoxFuture<'_, io::Result<()>> {
        let (tx, mut rx) = mpsc::channel::<BoxConnection>(8);
        let tally = self.tally.clone();
        tokio::spawn(async move {
            while let Some(c) = rx.recv().await {
                if incoming.send(CountedConn::boxed(c, &tally)).await.is_err() {
                    return;
                }
            }
        });
        self.inner.start(tx)
    }
    fn local_properties(&self) -> BTreeMap<String, String> {
        self.inner.local_properties()
    }
    fn dial<'a>(&'a self, target: &'a Dialled) -> BoxFuture<'a, io::Result<BoxConnection>> {
        Box::pin(async move {
            if self.held.fetch_add(1, Ordering::SeqCst) < 2 {
                self.both.wait().await;
            }
            self.tally.dials.fetch_add(1, Ordering::SeqCst);
            let c = self.inner.dial(target).await?;
            Ok(CountedConn::boxed(c, &self.tally))
        })
    }
    fn rendezvous<'a>(
        &'a self,
        point: &'a RendezvousPoint,
    ) -> BoxFuture<'a, io::Result<Option<BoxConnection>>> {
        self.inner.rendezvous(point)
    }
    fn end_rendezvous(&self, id: u64) {
        self.inner.end_rendezvous(id);
    }
    fn status(&self) -> watch::Receiver<Status> {
        self.inner.status()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn of_two_connections_dialed_at_once_both_sides_keep_the_same_one() {
    let net = MemoryNetwork::new();
    let tally = Arc::new(Tally::default());
    let (both, held) = (
        Arc::new(tokio::sync::Barrier::new(2)),
        Arc::new(AtomicUsize::new(0)),
    );
    let counted = |name: &str| -> Arc<dyn Transport> {
        Arc::new(Counted {
            inner: net.transport(name),
            tally: tally.clone(),
            both: both.clone(),
            held: held.clone(),
        })
    };
    let (mut a, mut b) = (
        peer_over("alice", counted("alice")).await,
        peer_over("bob", counted("bob")).await,
    );
    let link_a = a.engine.link().await.unwrap().to_string();
    let link_b = b.engine.link().await.unwrap().to_string();
    a.engine.add_link(&link_b, "Bob").await.unwrap();
    b.engine.add_link(&link_a, "Alice").await.unwrap();
    let bob = wait_for(&mut a, "Alice's contact", |e| match e {
        Event::ContactAdded { contact } => Some(*contact),
        _ => None,
    })
    .await;
    let alice = wait_for(&mut b, "Bob's contact", |e| match e {
        Event::ContactAdded { contact } => Some(*contact),
        _ => None,
    })
    .await;
    // Both dialed (the first dial of each waited for the other's), and the handshake's
    // connections are gone: of the two sync connections, one stays, the same on both
    // sides (two open ends), for good, and nobody dials again (had each side kept a
    // different one, both would be closed and dialed anew).
    let start = std::time::Instant::now();
    let mut steady = None;
    loop {
        let one = tally.dials.load(Ordering::SeqCst) == 2
            && tally.live.load(Ordering::SeqCst) == 2
            && a.engine.connected().len() == 1
            && b.engine.connected().len() == 1;
        match (one, steady) {
            (true, None) => steady = Some(std::time::Instant::now()),
            (true, Some(since)) if since.elapsed() > Duration::from_secs(3) => break,
            (false, _) => steady = None,
            _ => {}
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "not one steady connection: {} dials, {} ends open",
            tally.dials.load(Ordering::SeqCst),
            tally.live.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // It carries messages.
    let hello = a
        .engine
        .send(bob, "hello over the one we kept")
        .await
        .unwrap();
    let got = wait_for(&mut b, "Alice's message", |e| match e {
        Event::MessageReceived { contact, id } if *contact == alice => Some(*id),
        _ => None,
    })
    .await;
    assert_eq!(got, hello);
    assert_eq!(tally.live.load(Ordering::SeqCst), 2);
    assert_eq!(tally.dials.load(Ordering::SeqCst), 2, "dialed again");
    for p in [a, b] {
        p.engine.shutdown().await;
    }
}
