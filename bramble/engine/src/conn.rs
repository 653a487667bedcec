//! Connections: accepting, dialing, and driving a sync session or a handshake over one
//! duplex connection. All protocol state lives on the database worker; a connection
//! task owns only the socket, the stream writer and reader, and the session between
//! steps.

mod accept;
mod dial;
mod handshake;
mod stream;
mod sync;

pub(crate) use accept::start_transport;
pub(crate) use dial::dialer;
