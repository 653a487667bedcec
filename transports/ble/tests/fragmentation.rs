//! Messages up to the largest a stream carries survive the pipe at every ATT MTU from 23 to
//! 517, in both directions at once, over a simulated link that behaves like BlueZ: writes
//! longer than `ATT_MTU − 3` are refused, notifications longer than 512 bytes are cut.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bramble_proto::sync::record::MAX_RECORD_PAYLOAD;
use chacha20::ChaCha20Rng;
use chacha20::rand_core::{Rng, SeedableRng};
use thicket_ble::pipe::{MAX_ATT_MTU, MIN_ATT_MTU, Pipe, Read};

/// The largest message: a record of the largest payload, with room for the record and
/// stream framing around it.
const LARGEST: usize = MAX_RECORD_PAYLOAD + 1024;

/// What BlueZ does with a value of `len` bytes going this way at `mtu`.
fn carry(value: &[u8], mtu: u16, to_peripheral: bool) -> Vec<u8> {
    let room = usize::from(mtu) - 3;
    if to_peripheral {
        assert!(
            value.len() <= room.min(510),
            "BlueZ refuses a {}-byte write at MTU {mtu}",
            value.len()
        );
        value.to_vec()
    } else {
        // Notifications: longer than the MTU allows cannot be sent; above 512 bytes they
        // arrive cut.
        assert!(
            value.len() <= room,
            "a {}-byte notification at MTU {mtu}",
            value.len()
        );
        value[..value.len().min(512)].to_vec()
    }
}

struct End {
    pipe: Pipe,
    to_send: Vec<u8>,
    sent: usize,
    received: Vec<u8>,
    ended: bool,
}

impl End {
    fn new(pipe: Pipe, to_send: Vec<u8>) -> End {
        End {
            pipe,
            to_send,
            sent: 0,
            received: Vec::new(),
            ended: false,
        }
    }

    /// Writes some of what is left, closing after the last byte.
    fn write(&mut self, rng: &mut ChaCha20Rng) {
        if self.sent == self.to_send.len() {
            self.pipe.shutdown();
            return;
        }
        let want = 1 + (rng.next_u32() as usize % 4096);
        let end = (self.sent + want).min(self.to_send.len());
        self.sent += self.pipe.write(&self.to_send[self.sent..end]).unwrap();
        if self.sent == self.to_send.len() {
            self.pipe.shutdown();
        }
    }

    /// Reads a random amount.
    fn read(&mut self, rng: &mut ChaCha20Rng) {
        let mut buf = vec![0u8; 1 + (rng.next_u32() as usize % 2048)];
        match self.pipe.read(&mut buf).unwrap() {
            Read::Bytes(n) => self.received.extend_from_slice(&buf[..n]),
            Read::Pending => {}
            Read::End => self.ended = true,
        }
    }
}

/// Runs one exchange: the central sends `up`, the peripheral `down`, both at once.
fn exchange(mtu: u16, up: Vec<u8>, down: Vec<u8>, seed: u64) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut central = Pipe::dial(mtu, [7, 7, 7, 7]);
    let mut value = Vec::new();
    assert!(central.poll_transmit(&mut value));
    let open = carry(&value, mtu, true);
    let peripheral = Pipe::accept(mtu, &open).unwrap();
    let mut c = End::new(central, up.clone());
    let mut p = End::new(peripheral, down.clone());
    let mut steps = 0u64;
    while !(c.ended && p.ended && c.pipe.is_finished() && p.pipe.is_finished()) {
        steps += 1;
        assert!(steps < 10_000_000, "stuck at MTU {mtu}");
        match rng.next_u32() % 6 {
            0 => c.write(&mut rng),
            1 => p.write(&mut rng),
            2 => c.read(&mut rng),
            3 => p.read(&mut rng),
            4 => {
                // A burst of frames, as a link would carry them.
                for _ in 0..1 + rng.next_u32() % 8 {
                    if !c.pipe.poll_transmit(&mut value) {
                        break;
                    }
                    p.pipe.handle(&carry(&value, mtu, true)).unwrap();
                }
            }
            _ => {
                for _ in 0..1 + rng.next_u32() % 8 {
                    if !p.pipe.poll_transmit(&mut value) {
                        break;
                    }
                    c.pipe.handle(&carry(&value, mtu, false)).unwrap();
                }
            }
        }
    }
    assert!(p.received == up, "central to peripheral at MTU {mtu}");
    assert!(c.received == down, "peripheral to central at MTU {mtu}");
}

fn message(len: usize, rng: &mut ChaCha20Rng) -> Vec<u8> {
    let mut m = vec![0u8; len];
    rng.fill_bytes(&mut m);
    m
}

#[test]
fn the_largest_message_survives_every_mtu_both_ways() {
    let mut rng = ChaCha20Rng::seed_from_u64(517);
    for mtu in MIN_ATT_MTU..=MAX_ATT_MTU {
        let up = message(LARGEST, &mut rng);
        let down = message(LARGEST - usize::from(mtu), &mut rng);
        exchange(mtu, up, down, u64::from(mtu));
    }
}

#[test]
fn messages_around_frame_boundaries_survive() {
    let mut rng = ChaCha20Rng::seed_from_u64(23);
    for mtu in [23, 24, 100, 185, 247, 251, 512, 513, 517] {
        let payload = thicket_ble::pipe::frame_limit(mtu) - 2;
        for len in [
            0,
            1,
            payload - 1,
            payload,
            payload + 1,
            2 * payload,
            32 * payload,
            32 * payload + 1,
        ] {
            let up = message(len, &mut rng);
            let down = message(len / 2, &mut rng);
            exchange(mtu, up, down, len as u64);
        }
    }
}
