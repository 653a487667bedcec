//! An in-process network for tests: transports on one [`MemoryNetwork`] reach each
//! other by name through `tokio::io::duplex` pipes.
//!
//! Each transport publishes `{"address": name}`. Rendezvous works as on the real
//! transports: Alice registers the label, Bob dials it.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bramble_proto::stream::Role;
use bramble_proto::transport::{Beacon, TransportId};
use tokio::sync::{mpsc, watch};

use crate::{BoxConnection, BoxFuture, Kind, Peer, RendezvousPoint, Status, Transport};

/// Bytes buffered in each direction of a memory connection.
const PIPE_BUFFER: usize = 64 * 1024;

#[derive(Default)]
struct Hub {
    listeners: HashMap<String, mpsc::Sender<BoxConnection>>,
    rendezvous: HashMap<Beacon, String>,
    /// The label each rendezvous of each transport is registered under: a new period's
    /// label replaces the last one.
    registered: HashMap<(String, u64), Beacon>,
}

/// The network memory transports share.
#[derive(Clone, Default)]
pub struct MemoryNetwork {
    hub: Arc<Mutex<Hub>>,
}

impl std::fmt::Debug for MemoryNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryNetwork").finish_non_exhaustive()
    }
}

impl MemoryNetwork {
    /// An empty network.
    pub fn new() -> Self {
        Self::default()
    }

    /// A transport on this network with the address `name`.
    pub fn transport(&self, name: &str) -> MemoryTransport {
        MemoryTransport {
            network: self.clone(),
            name: name.to_owned(),
            status: watch::channel(Status::Stopped).0.into(),
        }
    }

    /// Opens a raw connection to the transport named `name`, as a stranger would.
    ///
    /// # Errors
    /// [`io::ErrorKind::ConnectionRefused`] if nobody listens there.
    pub async fn connect(&self, name: &str) -> io::Result<BoxConnection> {
        let listener = self
            .hub
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .listeners
            .get(name)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::ConnectionRefused, "nobody there"))?;
        let (ours, theirs) = tokio::io::duplex(PIPE_BUFFER);
        listener
            .send(Box::new(theirs))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::ConnectionRefused, "listener gone"))?;
        Ok(Box::new(ours))
    }
}

/// The transport identifier of memory transports. Not a spec transport: keys for it
/// exist only where both sides register it (tests).
pub fn transport_id() -> TransportId {
    TransportId::MEMORY
}

/// One endpoint on a [`MemoryNetwork`].
#[derive(Clone)]
pub struct MemoryTransport {
    network: MemoryNetwork,
    name: String,
    status: Arc<watch::Sender<Status>>,
}

impl std::fmt::Debug for MemoryTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryTransport")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl MemoryTransport {
    /// Stops listening: dials to this transport are refused from now on.
    pub fn stop(&self) {
        let mut hub = self
            .network
            .hub
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        hub.listeners.remove(&self.name);
        hub.rendezvous.retain(|_, name| *name != self.name);
        hub.registered.retain(|(name, _), _| *name != self.name);
        self.status.send_replace(Status::Stopped);
    }
}

impl Transport for MemoryTransport {
    fn id(&self) -> TransportId {
        transport_id()
    }

    fn max_latency(&self) -> Duration {
        Duration::from_secs(30)
    }

    fn kind(&self) -> Kind {
        Kind::Duplex
    }

    fn start(&self, incoming: mpsc::Sender<BoxConnection>) -> BoxFuture<'_, io::Result<()>> {
        Box::pin(async move {
            self.network
                .hub
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .listeners
                .insert(self.name.clone(), incoming);
            self.status.send_replace(Status::Up);
            Ok(())
        })
    }

    fn local_properties(&self) -> BTreeMap<String, String> {
        BTreeMap::from([(String::from("address"), self.name.clone())])
    }

    fn dial<'a>(&'a self, target: &'a Peer) -> BoxFuture<'a, io::Result<BoxConnection>> {
        Box::pin(async move {
            let address = target
                .properties
                .get("address")
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no memory address"))?;
            self.network.connect(address).await
        })
    }

    fn rendezvous<'a>(
        &'a self,
        point: &'a RendezvousPoint,
    ) -> BoxFuture<'a, io::Result<Option<BoxConnection>>> {
        Box::pin(async move {
            let target = {
                let mut hub = self
                    .network
                    .hub
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                match point.role {
                    Role::Alice => {
                        let key = (self.name.clone(), point.id);
                        if let Some(old) = hub.registered.insert(key, point.label)
                            && hub.rendezvous.get(&old) == Some(&self.name)
                        {
                            hub.rendezvous.remove(&old);
                        }
                        hub.rendezvous.insert(point.label, self.name.clone());
                        return Ok(None);
                    }
                    Role::Bob => hub.rendezvous.get(&point.label).cloned(),
                }
            };
            match target {
                Some(name) => match self.network.connect(&name).await {
                    Ok(c) => Ok(Some(c)),
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Ok(None),
                    Err(e) => Err(e),
                },
                None => Ok(None),
            }
        })
    }

    fn end_rendezvous(&self, id: u64) {
        let mut hub = self
            .network
            .hub
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(label) = hub.registered.remove(&(self.name.clone(), id))
            && hub.rendezvous.get(&label) == Some(&self.name)
        {
            hub.rendezvous.remove(&label);
        }
    }

    fn status(&self) -> watch::Receiver<Status> {
        self.status.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bramble_proto::crypto::SecretKey;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn dial_and_rendezvous() {
        let net = MemoryNetwork::new();
        let (a, b) = (net.transport("a"), net.transport("b"));
        let (tx, mut rx) = mpsc::channel(4);
        a.start(tx).await.unwrap();
        assert_eq!(*a.status().borrow(), Status::Up);
        let mut conn = b.dial(&Peer::at(a.local_properties())).await.unwrap();
        conn.write_all(b"hello").await.unwrap();
        let mut incoming = rx.recv().await.unwrap();
        let mut buf = [0u8; 5];
        incoming.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello");

        let point = |role| RendezvousPoint {
            id: 1,
            role,
            label: Beacon([7; 16]),
            sought: [Beacon([7; 16]); 3],
            our_onion_seed: SecretKey::from_bytes([0; 32]),
            their_onion_seed: SecretKey::from_bytes([0; 32]),
        };
        assert!(
            b.rendezvous(&point(Role::Bob)).await.unwrap().is_none(),
            "Alice is not there yet"
        );
        assert!(a.rendezvous(&point(Role::Alice)).await.unwrap().is_none());
        assert!(b.rendezvous(&point(Role::Bob)).await.unwrap().is_some());
        assert!(rx.recv().await.is_some());
        a.end_rendezvous(1);
        assert!(b.rendezvous(&point(Role::Bob)).await.unwrap().is_none());
        a.stop();
        assert!(b.dial(&Peer::at(a.local_properties())).await.is_err());
    }
}
