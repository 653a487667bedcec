//! What the BLE transport reads from the air: characteristic values (never panic; a frame
//! that parses encodes to bytes that parse to the same frame) fed to either end of a pipe
//! (never panic; every frame it sends fits the MTU and parses; it never holds more than its
//! window of received bytes; a peripheral's notifications name its link).
#![no_main]

use libfuzzer_sys::fuzz_target;
use thicket_ble::pipe::{Frame, LINK_ID_LEN, MAX_VALUE, Pipe, Read, Side, WINDOW, frame_limit};

fuzz_target!(|data: &[u8]| {
    let Some((&head, mut rest)) = data.split_first() else {
        return;
    };
    let mtu = 23 + u16::from(head & 0x7f) * 4;
    let mut values = Vec::new();
    while let Some((&len, tail)) = rest.split_first() {
        let len = usize::from(len).min(tail.len());
        values.push(&tail[..len]);
        rest = &tail[len..];
    }
    for v in &values {
        if let Ok(frame) = Frame::parse(v) {
            let mut out = Vec::new();
            frame.encode(&mut out);
            assert_eq!(Frame::parse(&out), Ok(frame));
        }
    }
    let mut pipe = if head & 0x80 == 0 {
        Pipe::dial(mtu, [0; 4])
    } else {
        match values.first().map(|v| Pipe::accept(mtu, v)) {
            Some(Ok(p)) => p,
            _ => return,
        }
    };
    let _ = pipe.write(data);
    let mut out = Vec::new();
    let mut buf = [0u8; 64];
    for (i, v) in values.iter().enumerate() {
        let _ = pipe.handle(v);
        if i % 3 == 0 {
            let _ = pipe.read(&mut buf);
        }
        if i % 5 == 0 {
            pipe.shutdown();
        }
        while pipe.poll_transmit(&mut out) {
            assert!(out.len() <= frame_limit(mtu));
            // A peripheral's notifications start with the link.
            let frame = match pipe.side() {
                Side::Central => &out[..],
                Side::Peripheral => {
                    assert_eq!(out[..LINK_ID_LEN], pipe.link());
                    &out[LINK_ID_LEN..]
                }
            };
            assert!(Frame::parse(frame).is_ok());
        }
    }
    let mut held = 0;
    while let Ok(Read::Bytes(n)) = pipe.read(&mut buf) {
        held += n;
    }
    assert!(held <= usize::from(WINDOW) * MAX_VALUE);
});
