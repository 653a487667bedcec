//! The byte pipe over one GATT characteristic (`spec/ble.md#the-pipe`), as a state machine
//! with no I/O: characteristic values go in through [`Pipe::handle`] and come out of
//! [`Pipe::poll_transmit`]; stream bytes go in through [`Pipe::write`] and come out of
//! [`Pipe::read`].
//!
//! A pipe is reliable and ordered in each direction, bounded (at most [`WINDOW`] frames in
//! flight, so a peer cannot make us buffer more than about 16 KiB), and closes cleanly:
//! each side sends CLOSE after its last byte, and the reader sees the end once it has taken
//! everything.

use std::collections::VecDeque;
use std::fmt;

/// The pipe version this implementation speaks, sent in OPEN.
pub const VERSION: u8 = 1;
/// The smallest ATT MTU (Bluetooth Core, Vol 3, Part F, 3.2.8).
pub const MIN_ATT_MTU: u16 = 23;
/// The largest ATT MTU BlueZ negotiates.
pub const MAX_ATT_MTU: u16 = 517;
/// The largest frame sent at any MTU: BlueZ refuses write requests above 510 bytes and
/// cuts notifications to 512.
pub const MAX_FRAME: usize = 509;
/// The largest characteristic value accepted (the ATT maximum attribute length).
pub const MAX_VALUE: usize = 512;
/// The most DATA frames a sender has out before an ACK.
pub const WINDOW: u8 = 32;
/// The receiver acknowledges every this many frames its reader has taken.
pub const ACK_EVERY: u8 = 16;
/// Stream bytes a pipe accepts from its writer before they are framed.
pub const SEND_BUFFER: usize = 16 * 1024;
/// The length of a [`LinkId`].
pub const LINK_ID_LEN: usize = 4;

/// A pipe's random name, chosen by the central in OPEN. BlueZ sends a peripheral's
/// notifications to every subscribed central, so each notification starts with the link
/// it belongs to and centrals drop those of other links.
pub type LinkId = [u8; LINK_ID_LEN];

const OPEN: u8 = 0x00;
const DATA: u8 = 0x01;
const ACK: u8 = 0x02;
const CLOSE: u8 = 0x03;
const RESET: u8 = 0x04;
/// Kind and sequence byte of a DATA frame.
const DATA_HEADER: usize = 2;

/// The largest characteristic value at an ATT MTU: `min(att_mtu − 3, 509)`, the MTU
/// clamped to 23..=517. (A notification's value is its link and a frame.)
pub fn frame_limit(att_mtu: u16) -> usize {
    let mtu = att_mtu.clamp(MIN_ATT_MTU, MAX_ATT_MTU);
    usize::from(mtu - 3).min(MAX_FRAME)
}

/// Why a pipe was reset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The other side broke the pipe protocol.
    Violation,
    /// A local failure (the link went, the transport stopped).
    Failure,
    /// The pipe is dropped in favour of another link to the same device.
    Replaced,
}

impl Reason {
    fn byte(self) -> u8 {
        match self {
            Reason::Violation => 0,
            Reason::Failure => 1,
            Reason::Replaced => 2,
        }
    }

    fn from_byte(b: u8) -> Reason {
        match b {
            0 => Reason::Violation,
            2 => Reason::Replaced,
            _ => Reason::Failure,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Reason::Violation => "a protocol violation",
            Reason::Failure => "a failure",
            Reason::Replaced => "another link to the same device",
        })
    }
}

/// One frame, as read from a characteristic value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// Starts a pipe.
    Open {
        /// The sender's pipe version.
        version: u8,
        /// The link, chosen by the central.
        link: LinkId,
    },
    /// Stream bytes.
    Data {
        /// The sender's DATA frame count, modulo 256.
        seq: u8,
        /// One or more bytes.
        payload: &'a [u8],
    },
    /// How many DATA frames the reader has taken, modulo 256.
    Ack {
        /// The count.
        consumed: u8,
    },
    /// No more DATA from the sender.
    Close {
        /// The sequence number the sender's next DATA frame would have had.
        seq: u8,
    },
    /// Both directions abort.
    Reset(Reason),
}

/// A characteristic value that is no frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Malformed(&'static str);

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl<'a> Frame<'a> {
    /// Reads one frame from a characteristic value.
    ///
    /// # Errors
    /// Empty, longer than [`MAX_VALUE`], an unknown kind, or the wrong length for its kind.
    pub fn parse(value: &'a [u8]) -> Result<Frame<'a>, Malformed> {
        if value.len() > MAX_VALUE {
            return Err(Malformed("a frame longer than 512 bytes"));
        }
        let (&kind, rest) = value.split_first().ok_or(Malformed("an empty frame"))?;
        let byte = |what| match rest {
            [b] => Ok(*b),
            _ => Err(Malformed(what)),
        };
        Ok(match kind {
            OPEN => match rest {
                [version, link @ ..] if link.len() == LINK_ID_LEN => Frame::Open {
                    version: *version,
                    link: [link[0], link[1], link[2], link[3]],
                },
                _ => return Err(Malformed("an OPEN frame of the wrong length")),
            },
            DATA => match rest {
                [seq, payload @ ..] if !payload.is_empty() => Frame::Data { seq: *seq, payload },
                _ => return Err(Malformed("a DATA frame with no bytes")),
            },
            ACK => Frame::Ack {
                consumed: byte("an ACK frame of the wrong length")?,
            },
            CLOSE => Frame::Close {
                seq: byte("a CLOSE frame of the wrong length")?,
            },
            RESET => Frame::Reset(Reason::from_byte(byte(
                "a RESET frame of the wrong length",
            )?)),
            _ => return Err(Malformed("a frame of an unknown kind")),
        })
    }

    /// Appends the frame's bytes to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match *self {
            Frame::Open { version, link } => {
                out.extend_from_slice(&[OPEN, version]);
                out.extend_from_slice(&link);
            }
            Frame::Data { seq, payload } => {
                out.extend_from_slice(&[DATA, seq]);
                out.extend_from_slice(payload);
            }
            Frame::Ack { consumed } => out.extend_from_slice(&[ACK, consumed]),
            Frame::Close { seq } => out.extend_from_slice(&[CLOSE, seq]),
            Frame::Reset(reason) => out.extend_from_slice(&[RESET, reason.byte()]),
        }
    }
}

/// Whether a value written by a central is an OPEN frame: the central starts a new pipe.
pub fn is_open(value: &[u8]) -> bool {
    matches!(Frame::parse(value), Ok(Frame::Open { .. }))
}

/// Why a pipe failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PipeError {
    /// The peer sent something that is not a frame.
    Malformed(Malformed),
    /// The peer broke the protocol.
    Violation(&'static str),
    /// The peer speaks another pipe version.
    Version(u8),
    /// The peer reset the pipe.
    PeerReset(Reason),
    /// We reset the pipe.
    Aborted(Reason),
    /// Bytes written after [`Pipe::shutdown`].
    Shutdown,
}

impl fmt::Display for PipeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PipeError::Malformed(m) => write!(f, "the peer sent {m}"),
            PipeError::Violation(what) => write!(f, "the peer sent {what}"),
            PipeError::Version(v) => write!(f, "the peer speaks pipe version {v}, not {VERSION}"),
            PipeError::PeerReset(r) => write!(f, "the peer reset the link after {r}"),
            PipeError::Aborted(r) => write!(f, "the link was reset after {r}"),
            PipeError::Shutdown => f.write_str("the link was already shut down for writing"),
        }
    }
}

impl std::error::Error for PipeError {}

impl From<PipeError> for std::io::Error {
    fn from(e: PipeError) -> std::io::Error {
        use std::io::ErrorKind;
        let kind = match e {
            PipeError::Shutdown => ErrorKind::BrokenPipe,
            PipeError::PeerReset(_) | PipeError::Aborted(_) => ErrorKind::ConnectionReset,
            _ => ErrorKind::InvalidData,
        };
        std::io::Error::new(kind, e)
    }
}

/// Which end of the link a pipe is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// We connected and write to the characteristic.
    Central,
    /// We serve the characteristic and notify.
    Peripheral,
}

/// What [`Pipe::read`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read {
    /// This many bytes were copied out (never 0).
    Bytes(usize),
    /// Nothing yet: wait for [`Pipe::handle`].
    Pending,
    /// The peer closed its direction and every byte has been read.
    End,
}

/// A frame [`Pipe::poll_transmit`] owes the peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Due {
    Reset(Reason),
    Open,
    Ack,
    Data,
    Close,
}

/// One end of a pipe.
pub struct Pipe {
    side: Side,
    link: LinkId,
    /// The largest value we send.
    limit: usize,
    open_due: bool,
    peer_open: bool,

    /// Stream bytes written but not yet framed.
    outgoing: VecDeque<u8>,
    /// Our next DATA sequence number.
    next_seq: u8,
    /// How many of our DATA frames the peer has acknowledged (mod 256).
    peer_consumed: u8,
    /// [`Pipe::shutdown`] was called.
    write_closed: bool,
    close_sent: bool,

    /// Received payloads not yet fully read; `front` bytes of the first are read.
    incoming: VecDeque<Vec<u8>>,
    front: usize,
    /// The peer's next DATA sequence number (= frames received, mod 256).
    expected_seq: u8,
    /// DATA frames whose bytes the reader has taken (mod 256).
    consumed: u8,
    /// The count in our last ACK.
    ack_sent: u8,
    peer_closed: bool,
    /// Nobody reads any more: received bytes are dropped (and acknowledged).
    discarding: bool,

    /// The pipe failed; a RESET is due unless `reset_sent` or the peer reset.
    error: Option<PipeError>,
    reset_due: Option<Reason>,
}

impl fmt::Debug for Pipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Stream bytes are ciphertext, but they are still nobody's business in a log.
        f.debug_struct("Pipe")
            .field("side", &self.side)
            .field("limit", &self.limit)
            .field("outgoing", &self.outgoing.len())
            .field("in_flight", &self.in_flight())
            .field("incoming", &self.incoming.len())
            .field("write_closed", &self.write_closed)
            .field("peer_closed", &self.peer_closed)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl Pipe {
    /// A central's pipe on a new connection, named by `link` (random): OPEN is the first
    /// frame it sends.
    pub fn dial(att_mtu: u16, link: LinkId) -> Pipe {
        Pipe::new(Side::Central, link, att_mtu, false)
    }

    /// A peripheral's pipe for a central whose OPEN (`value`) has just arrived.
    ///
    /// # Errors
    /// `value` is not an OPEN frame of our version.
    pub fn accept(att_mtu: u16, value: &[u8]) -> Result<Pipe, PipeError> {
        match Frame::parse(value).map_err(PipeError::Malformed)? {
            Frame::Open {
                version: VERSION,
                link,
            } => Ok(Pipe::new(Side::Peripheral, link, att_mtu, true)),
            Frame::Open { version, .. } => Err(PipeError::Version(version)),
            _ => Err(PipeError::Violation("a frame before OPEN")),
        }
    }

    fn new(side: Side, link: LinkId, att_mtu: u16, peer_open: bool) -> Pipe {
        Pipe {
            side,
            link,
            limit: frame_limit(att_mtu),
            open_due: true,
            peer_open,
            outgoing: VecDeque::new(),
            next_seq: 0,
            peer_consumed: 0,
            write_closed: false,
            close_sent: false,
            incoming: VecDeque::new(),
            front: 0,
            expected_seq: 0,
            consumed: 0,
            ack_sent: 0,
            peer_closed: false,
            discarding: false,
            error: None,
            reset_due: None,
        }
    }

    /// Which end this is.
    pub fn side(&self) -> Side {
        self.side
    }

    /// The largest value this pipe sends now.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The pipe's link.
    pub fn link(&self) -> LinkId {
        self.link
    }

    /// What a notification starts with: the link, on a peripheral's values.
    fn prefix(&self) -> usize {
        match self.side {
            Side::Central => 0,
            Side::Peripheral => LINK_ID_LEN,
        }
    }

    /// The connection's ATT MTU changed (it is exchanged after connecting): later frames
    /// follow it.
    pub fn set_mtu(&mut self, att_mtu: u16) {
        self.limit = frame_limit(att_mtu);
    }

    fn in_flight(&self) -> u8 {
        self.next_seq.wrapping_sub(self.peer_consumed)
    }

    /// The error the pipe failed with, if it did.
    pub fn error(&self) -> Option<&PipeError> {
        self.error.as_ref()
    }

    fn fail(&mut self, error: PipeError, reset: Option<Reason>) -> PipeError {
        if self.error.is_none() {
            self.error = Some(error.clone());
            self.reset_due = reset;
            self.outgoing.clear();
            self.incoming.clear();
        }
        error
    }

    fn violation(&mut self, what: &'static str) -> PipeError {
        self.fail(PipeError::Violation(what), Some(Reason::Violation))
    }

    /// Takes one characteristic value from the peer: on a central, a notification (those
    /// of other links are ignored); on a peripheral, a write.
    ///
    /// # Errors
    /// The value broke the protocol or was a RESET; the pipe is then failed (a RESET of
    /// ours is due unless the peer reset) and every later call fails the same way.
    pub fn handle(&mut self, value: &[u8]) -> Result<(), PipeError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let value = match self.side {
            Side::Peripheral => value,
            Side::Central => match value.split_first_chunk::<LINK_ID_LEN>() {
                Some((link, rest)) if *link == self.link => rest,
                Some(_) => return Ok(()),
                None => {
                    let m = Malformed("a notification too short to name its link");
                    return Err(self.fail(PipeError::Malformed(m), Some(Reason::Violation)));
                }
            },
        };
        let frame = match Frame::parse(value) {
            Ok(frame) => frame,
            Err(m) => return Err(self.fail(PipeError::Malformed(m), Some(Reason::Violation))),
        };
        match frame {
            Frame::Reset(reason) => Err(self.fail(PipeError::PeerReset(reason), None)),
            Frame::Open { version, link } => {
                if self.side == Side::Peripheral {
                    // A central's new OPEN starts a new pipe: the caller checks for it
                    // (`is_open`) before handing values to the old one.
                    return Err(self.violation("a second OPEN"));
                }
                if self.peer_open {
                    return Err(self.violation("a second OPEN"));
                }
                if version != VERSION {
                    return Err(self.fail(PipeError::Version(version), Some(Reason::Violation)));
                }
                if link != self.link {
                    return Err(self.violation("an OPEN for another link"));
                }
                self.peer_open = true;
                Ok(())
            }
            _ if !self.peer_open => Err(self.violation("a frame before OPEN")),
            Frame::Data { seq, payload } => {
                if self.peer_closed {
                    return Err(self.violation("DATA after CLOSE"));
                }
                if seq != self.expected_seq {
                    return Err(self.violation("DATA out of sequence (a frame was lost)"));
                }
                if self.expected_seq.wrapping_sub(self.ack_sent) >= WINDOW {
                    return Err(self.violation("DATA beyond the window"));
                }
                self.expected_seq = self.expected_seq.wrapping_add(1);
                if self.discarding {
                    self.consumed = self.consumed.wrapping_add(1);
                } else {
                    self.incoming.push_back(payload.to_vec());
                }
                Ok(())
            }
            Frame::Ack { consumed } => {
                if consumed.wrapping_sub(self.peer_consumed) > self.in_flight() {
                    return Err(self.violation("an ACK of frames never sent"));
                }
                self.peer_consumed = consumed;
                Ok(())
            }
            Frame::Close { seq } => {
                if self.peer_closed {
                    return Err(self.violation("a second CLOSE"));
                }
                if seq != self.expected_seq {
                    return Err(self.violation("CLOSE out of sequence (a frame was lost)"));
                }
                self.peer_closed = true;
                Ok(())
            }
        }
    }

    /// How many more stream bytes [`Pipe::write`] takes now.
    pub fn write_capacity(&self) -> usize {
        if self.error.is_some() || self.write_closed {
            0
        } else {
            SEND_BUFFER - self.outgoing.len()
        }
    }

    /// Queues stream bytes; returns how many were taken (0 when the buffer is full).
    ///
    /// # Errors
    /// The pipe failed, or was shut down for writing.
    pub fn write(&mut self, data: &[u8]) -> Result<usize, PipeError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        if self.write_closed {
            return Err(PipeError::Shutdown);
        }
        let n = data.len().min(self.write_capacity());
        self.outgoing.extend(&data[..n]);
        Ok(n)
    }

    /// Ends our direction once every queued byte is sent.
    pub fn shutdown(&mut self) {
        self.write_closed = true;
    }

    /// Whether [`Pipe::shutdown`] was called.
    pub fn is_write_closed(&self) -> bool {
        self.write_closed
    }

    /// The reader is gone: bytes received from now on (and those not yet read) are
    /// dropped, still acknowledged so the peer can finish, and the pipe is over once both
    /// sides have closed.
    pub fn discard_input(&mut self) {
        self.discarding = true;
        for _ in self.incoming.drain(..) {
            self.consumed = self.consumed.wrapping_add(1);
        }
        self.front = 0;
    }

    /// Copies received stream bytes into `out`.
    ///
    /// # Errors
    /// The pipe failed.
    pub fn read(&mut self, out: &mut [u8]) -> Result<Read, PipeError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let mut n = 0;
        while n < out.len() {
            let Some(chunk) = self.incoming.front() else {
                break;
            };
            let take = (chunk.len() - self.front).min(out.len() - n);
            out[n..n + take].copy_from_slice(&chunk[self.front..self.front + take]);
            n += take;
            self.front += take;
            if self.front == chunk.len() {
                self.incoming.pop_front();
                self.front = 0;
                self.consumed = self.consumed.wrapping_add(1);
            }
        }
        Ok(if n > 0 {
            Read::Bytes(n)
        } else if self.peer_closed && self.incoming.is_empty() {
            Read::End
        } else {
            Read::Pending
        })
    }

    /// Fails the pipe on a local failure; a RESET with `reason` is due.
    pub fn abort(&mut self, reason: Reason) {
        self.fail(PipeError::Aborted(reason), Some(reason));
    }

    /// Which frame goes next, if any, in the order they take precedence.
    fn due(&self) -> Option<Due> {
        if let Some(reason) = self.reset_due {
            Some(Due::Reset(reason))
        } else if self.error.is_some() {
            None
        } else if self.open_due {
            Some(Due::Open)
        } else if self.consumed.wrapping_sub(self.ack_sent) >= ACK_EVERY {
            Some(Due::Ack)
        } else if !self.outgoing.is_empty() && self.in_flight() < WINDOW {
            Some(Due::Data)
        } else if self.write_closed && !self.close_sent && self.outgoing.is_empty() {
            Some(Due::Close)
        } else {
            None
        }
    }

    /// Writes the next frame to send into `out` (cleared first); `false` when there is
    /// nothing to send now. Send every frame it gives, in order.
    pub fn poll_transmit(&mut self, out: &mut Vec<u8>) -> bool {
        out.clear();
        let Some(due) = self.due() else {
            return false;
        };
        if self.side == Side::Peripheral {
            out.extend_from_slice(&self.link);
        }
        let frame = match due {
            Due::Reset(reason) => {
                self.reset_due = None;
                Frame::Reset(reason)
            }
            Due::Open => {
                self.open_due = false;
                Frame::Open {
                    version: VERSION,
                    link: self.link,
                }
            }
            Due::Ack => {
                self.ack_sent = self.consumed;
                Frame::Ack {
                    consumed: self.consumed,
                }
            }
            Due::Data => {
                let n = self
                    .outgoing
                    .len()
                    .min(self.limit - self.prefix() - DATA_HEADER);
                out.extend_from_slice(&[DATA, self.next_seq]);
                out.extend(self.outgoing.drain(..n));
                self.next_seq = self.next_seq.wrapping_add(1);
                return true;
            }
            Due::Close => {
                self.close_sent = true;
                Frame::Close { seq: self.next_seq }
            }
        };
        frame.encode(out);
        true
    }

    /// Whether [`Pipe::poll_transmit`] has a frame now.
    pub fn wants_transmit(&self) -> bool {
        self.due().is_some()
    }

    /// Whether the pipe is over: reset either way (and our RESET, if due, sent), or both
    /// directions closed and every received byte read. The link can then be dropped.
    pub fn is_finished(&self) -> bool {
        if self.error.is_some() {
            return self.reset_due.is_none();
        }
        self.close_sent && self.peer_closed && self.incoming.is_empty()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    /// Moves every frame one pipe has to the other, which must take them.
    fn pump(from: &mut Pipe, to: &mut Pipe) {
        for value in drain(from) {
            to.handle(&value).unwrap();
        }
    }

    /// Every frame a pipe has to send now.
    fn drain(from: &mut Pipe) -> Vec<Vec<u8>> {
        let mut value = Vec::new();
        let mut out = Vec::new();
        while from.poll_transmit(&mut value) {
            assert!(value.len() <= from.limit());
            out.push(value.clone());
        }
        out
    }

    /// A central and a peripheral that have exchanged OPEN.
    const LINK: LinkId = [0xa1, 0xb2, 0xc3, 0xd4];

    /// A notification of our link.
    fn note(frame: &[u8]) -> Vec<u8> {
        [&LINK[..], frame].concat()
    }

    fn connected(mtu: u16) -> (Pipe, Pipe) {
        let mut central = Pipe::dial(mtu, LINK);
        let open = drain(&mut central);
        assert_eq!(
            open,
            vec![[&[OPEN, VERSION][..], &LINK].concat()],
            "OPEN comes first"
        );
        let mut peripheral = Pipe::accept(mtu, &open[0]).unwrap();
        pump(&mut peripheral, &mut central);
        (central, peripheral)
    }

    fn read_all(p: &mut Pipe, into: &mut Vec<u8>) -> Read {
        let mut buf = [0u8; 700];
        loop {
            match p.read(&mut buf).unwrap() {
                Read::Bytes(n) => into.extend_from_slice(&buf[..n]),
                other => return other,
            }
        }
    }

    #[test]
    fn frames_parse_and_encode_back() {
        for frame in [
            Frame::Open {
                version: 1,
                link: [1, 2, 3, 4],
            },
            Frame::Data {
                seq: 255,
                payload: b"x",
            },
            Frame::Ack { consumed: 7 },
            Frame::Close { seq: 0 },
            Frame::Reset(Reason::Violation),
            Frame::Reset(Reason::Failure),
            Frame::Reset(Reason::Replaced),
        ] {
            let mut out = Vec::new();
            frame.encode(&mut out);
            assert_eq!(Frame::parse(&out), Ok(frame));
        }
        for bad in [
            &b""[..],
            &[0],
            &[0, 1, 2],
            &[0, 1, 2, 3, 4],
            &[0, 1, 2, 3, 4, 5, 6],
            &[1, 0],
            &[2],
            &[3, 1, 1],
            &[4],
            &[5, 0],
            &[0xff; 2],
        ] {
            assert!(Frame::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Frame::parse(&[1; 513]).is_err());
        assert!(Frame::parse(&[1; 512]).is_ok());
        // Unknown reasons read as a failure.
        assert_eq!(Frame::parse(&[4, 9]), Ok(Frame::Reset(Reason::Failure)));
    }

    #[test]
    fn frame_limits_follow_the_mtu_and_stay_below_what_bluez_cuts() {
        assert_eq!(frame_limit(0), 20);
        assert_eq!(frame_limit(23), 20);
        assert_eq!(frame_limit(185), 182);
        assert_eq!(frame_limit(512), 509);
        assert_eq!(frame_limit(517), 509);
        assert_eq!(frame_limit(u16::MAX), 509);
    }

    #[test]
    fn bytes_flow_both_ways_and_close_cleanly() {
        let (mut c, mut p) = connected(185);
        assert_eq!(c.write(b"hello peripheral").unwrap(), 16);
        c.shutdown();
        pump(&mut c, &mut p);
        let mut got = Vec::new();
        assert_eq!(read_all(&mut p, &mut got), Read::End);
        assert_eq!(got, b"hello peripheral");
        assert!(!c.is_finished(), "the peer has not closed");
        p.write(b"hello central").unwrap();
        p.shutdown();
        pump(&mut p, &mut c);
        let mut got = Vec::new();
        assert_eq!(read_all(&mut c, &mut got), Read::End);
        assert_eq!(got, b"hello central");
        assert!(c.is_finished() && p.is_finished());
    }

    #[test]
    fn nothing_before_open() {
        let mut c = Pipe::dial(23, LINK);
        assert_eq!(
            c.handle(&note(&[1, 0, 42])),
            Err(PipeError::Violation("a frame before OPEN"))
        );
        let mut reset = Vec::new();
        assert!(c.poll_transmit(&mut reset));
        assert_eq!(Frame::parse(&reset), Ok(Frame::Reset(Reason::Violation)));
        assert!(!c.poll_transmit(&mut reset), "nothing after RESET");
        assert!(c.is_finished());
        assert!(Pipe::accept(23, &[1, 0, 1]).is_err());
        assert_eq!(
            Pipe::accept(23, &[0, 2, 1, 2, 3, 4]).err(),
            Some(PipeError::Version(2))
        );
        let mut c = Pipe::dial(23, LINK);
        assert!(
            c.handle(&[1, 2, 3]).is_err(),
            "a notification names its link"
        );
    }

    #[test]
    fn a_lost_frame_is_noticed() {
        let (mut c, mut p) = connected(23);
        c.write(&[7; 100]).unwrap();
        let frames = drain(&mut c);
        let err = p.handle(&frames[1]).unwrap_err();
        assert!(matches!(err, PipeError::Violation(_)), "{err}");
        // A lost last frame shows at CLOSE.
        let (mut c, mut p) = connected(23);
        c.write(&[7; 30]).unwrap();
        c.shutdown();
        let frames = drain(&mut c);
        assert_eq!(frames.len(), 3, "two DATA, CLOSE");
        p.handle(&frames[0]).unwrap();
        assert!(p.handle(&frames[2]).is_err());
        // A peripheral takes no second OPEN: its caller starts a new pipe for it.
        let (_, mut p) = connected(23);
        let open = [&[OPEN, VERSION][..], &LINK].concat();
        assert!(p.handle(&open).is_err());
        assert!(is_open(&open) && !is_open(&[DATA, 0, 0]));
    }

    #[test]
    fn the_window_bounds_what_a_sender_has_out_and_acks_open_it() {
        let (mut c, mut p) = connected(23);
        c.write(&[1; SEND_BUFFER]).unwrap();
        let mut v = Vec::new();
        let mut data = 0;
        while c.poll_transmit(&mut v) {
            if v[0] == DATA {
                data += 1;
            }
            p.handle(&v).unwrap();
        }
        assert_eq!(data, usize::from(WINDOW), "blocked at the window");
        // The reader takes fewer than ACK_EVERY frames: no ACK yet.
        let mut buf = [0u8; 18 * 15];
        assert_eq!(p.read(&mut buf).unwrap(), Read::Bytes(buf.len()));
        assert!(!p.poll_transmit(&mut v));
        let mut one = [0u8; 18];
        p.read(&mut one).unwrap();
        assert!(p.poll_transmit(&mut v));
        assert_eq!(
            Frame::parse(&v[LINK_ID_LEN..]),
            Ok(Frame::Ack { consumed: 16 })
        );
        c.handle(&v).unwrap();
        let mut more = 0;
        while c.poll_transmit(&mut v) {
            more += 1;
            p.handle(&v).unwrap();
        }
        assert_eq!(more, usize::from(ACK_EVERY));
    }

    #[test]
    fn a_peer_that_ignores_the_window_or_acks_too_much_is_cut_off() {
        let (_, mut p) = connected(23);
        for seq in 0..WINDOW {
            p.handle(&[DATA, seq, 0]).unwrap();
        }
        assert_eq!(
            p.handle(&[DATA, WINDOW, 0]),
            Err(PipeError::Violation("DATA beyond the window"))
        );
        let (mut c, _) = connected(23);
        assert!(c.handle(&note(&[ACK, 1])).is_err(), "nothing was sent");
    }

    #[test]
    fn reset_either_way_fails_reads_and_writes() {
        let (mut c, mut p) = connected(23);
        c.abort(Reason::Replaced);
        let mut v = Vec::new();
        assert!(c.poll_transmit(&mut v));
        assert_eq!(c.write(b"x"), Err(PipeError::Aborted(Reason::Replaced)));
        assert_eq!(p.handle(&v), Err(PipeError::PeerReset(Reason::Replaced)));
        assert!(!p.poll_transmit(&mut v), "no RESET answers a RESET");
        assert!(p.read(&mut [0; 4]).is_err());
        assert!(p.is_finished());
        let (mut c, _) = connected(23);
        c.shutdown();
        assert_eq!(c.write(b"x"), Err(PipeError::Shutdown));
    }

    #[test]
    fn a_central_ignores_notifications_of_other_links() {
        let (mut c, mut p) = connected(23);
        p.write(b"for the central").unwrap();
        let frames = drain(&mut p);
        for f in &frames {
            assert_eq!(f[..LINK_ID_LEN], LINK, "every notification names its link");
            let mut other = f.clone();
            other[0] ^= 1;
            c.handle(&other).unwrap();
        }
        let mut buf = [0u8; 64];
        assert_eq!(c.read(&mut buf).unwrap(), Read::Pending);
        for f in &frames {
            c.handle(f).unwrap();
        }
        assert_eq!(c.read(&mut buf).unwrap(), Read::Bytes(15));
        // An OPEN answered for another link is a violation.
        let mut c = Pipe::dial(23, LINK);
        drain(&mut c);
        let mut wrong = note(&[OPEN, VERSION]);
        wrong.extend_from_slice(&[9, 9, 9, 9]);
        assert!(c.handle(&wrong).is_err());
    }

    #[test]
    fn an_mtu_change_applies_to_later_frames() {
        let (mut c, mut p) = connected(23);
        let mut v = Vec::new();
        c.set_mtu(517);
        c.write(&[3; 1000]).unwrap();
        assert!(c.poll_transmit(&mut v));
        assert_eq!(v.len(), MAX_FRAME);
        p.handle(&v).unwrap();
    }
}
