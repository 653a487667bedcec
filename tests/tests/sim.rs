//! Multi-peer simulations of sync over the stream layer, with virtual time: loss,
//! partitions, one-way files, restarts and clock skew. Each run prints its seed;
//! `SIM_SEED=<seed> cargo test -p thicket-tests --test sim` replays it.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_possible_truncation
)]

use thicket_tests::sim::{
    self, DAY, Duplex, EPOCH, Files, HOUR, Link, MINUTE, Memory, SECOND, Sim, duplex_link, tor,
};

/// Every pair of `n` peers.
fn pairs(n: usize) -> Vec<(usize, usize)> {
    (0..n)
        .flat_map(|a| (a + 1..n).map(move |b| (a, b)))
        .collect()
}

/// Every pair of `n` peers linked by duplex connections that live `mean_life` on
/// average, redialled every `redial`.
fn mesh(n: usize, mean_life: u64, redial: u64) -> Vec<Link> {
    pairs(n)
        .into_iter()
        .map(|(a, b)| {
            duplex_link(
                a,
                b,
                Duplex {
                    mean_life,
                    redial,
                    ..tor(0, 0)
                },
            )
        })
        .collect()
}

/// Crashes and restarts `count` times, `every` apart, each peer in turn.
fn restarts<B: sim::Backend>(sim: &mut Sim<B>, n: usize, count: u64, every: u64, seed: u64) {
    for k in 0..count {
        let peer = usize::try_from(k % n as u64).unwrap();
        sim.restart_at(EPOCH + k * every + seed % 997, peer);
    }
}

fn memory(n: usize) -> Vec<Memory> {
    (0..n as u64).map(Memory::new).collect()
}

/// Offsets within ±11.5 h, so that any two clocks differ by at most 23 h.
fn offsets(seed: u64, n: usize) -> Vec<i64> {
    (0..n)
        .map(|i| {
            let x = (seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(i as u64 * 1442695040888963407))
                >> 11;
            (x % (23 * HOUR)) as i64 - (23 * HOUR / 2) as i64
        })
        .collect()
}

/// Users of random peers write to random contacts over `span`, in bursts of up to 8
/// messages a fraction of a second apart (so that messages are in flight when
/// acknowledgements of earlier ones arrive).
fn chatter<B: sim::Backend>(sim: &mut Sim<B>, seed: u64, n: usize, count: usize, span: u64) {
    let mut x = seed | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut i = 0;
    while i < count {
        let from = (next() % n as u64) as usize;
        let to = (from + 1 + next() as usize % (n - 1)) % n;
        let mut at = EPOCH + next() % span;
        for _ in 0..1 + next() % 8 {
            if i == count {
                break;
            }
            sim.send_at(at, from, to, &format!("message {i} from {from} to {to}"));
            at += next() % 400;
            i += 1;
        }
    }
}

fn reliable(peers: (usize, usize)) -> Link {
    duplex_link(peers.0, peers.1, tor(5 * MINUTE, 30 * DAY))
}

/// After the chaos: links that stay up long enough; everything must arrive, once, and
/// then nothing may be sent again.
fn heal_and_check<B: sim::Backend>(sim: &mut Sim<B>, links: Vec<Link>) {
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "before healing: {:?}, delivered {}/{}",
            sim.stats,
            sim.delivered_count(),
            sim.sent_count()
        );
    }
    sim.set_links(links);
    let until = sim.now + 3 * DAY;
    sim.run_until(until);
    sim.assert_converged();
    let before = sim.transmissions();
    let until = sim.now + 3 * DAY;
    sim.run_until(until);
    assert_eq!(
        sim.transmissions(),
        before,
        "acknowledged messages were sent again"
    );
    sim.assert_converged();
}

#[test]
fn lossy_duplex_links_with_partitions_deliver_everything_exactly_once() {
    for default_seed in 1..=6 {
        let seed = sim::seed(default_seed);
        let n = 4;
        let links: Vec<Link> = pairs(n)
            .into_iter()
            .enumerate()
            .map(|(i, (a, b))| {
                let start = EPOCH + (i as u64 + seed) % 7 * 3 * HOUR;
                duplex_link(
                    a,
                    b,
                    Duplex {
                        // Connections that often die before an acknowledgement
                        // comes back (the delay is 300 ms each way).
                        mean_life: 700,
                        redial: 10 * MINUTE,
                        down: vec![(start, start + 10 * HOUR), (start + DAY, start + 2 * DAY)],
                        ..tor(0, 0)
                    },
                )
            })
            .collect();
        let mut sim = Sim::new(seed, memory(n), &offsets(seed, n), links);
        chatter(&mut sim, seed, n, 200, 2 * DAY);
        sim.run_until(EPOCH + 3 * DAY);
        assert!(sim.stats.cuts > 100, "{:?}", sim.stats);
        heal_and_check(&mut sim, pairs(n).into_iter().map(reliable).collect());
    }
}

#[test]
fn batch_only_delivery_converges_despite_lost_duplicated_and_reordered_files() {
    for default_seed in 1..=4 {
        let seed = sim::seed(100 + default_seed);
        let n = 3;
        let files = |loss: f64| Files {
            every: DAY,
            max_delay: 4 * DAY,
            loss,
            duplicate: 0.3,
        };
        let links = |loss| -> Vec<Link> {
            pairs(n)
                .into_iter()
                .map(|(a, b)| Link {
                    peers: (a, b),
                    duplex: None,
                    files: Some(files(loss)),
                })
                .collect()
        };
        let mut sim = Sim::new(seed, memory(n), &offsets(seed, n), links(0.4));
        chatter(&mut sim, seed, n, 40, 10 * DAY);
        sim.run_until(EPOCH + 15 * DAY);
        assert!(
            sim.stats.files_lost > 0 && sim.stats.replays_refused > 0,
            "{:?}",
            sim.stats
        );
        sim.set_links(links(0.0));
        sim.run_until(sim.now + 20 * DAY);
        sim.assert_converged();
        // Acknowledgements stop it: later files carry no messages (eager batches only
        // carry what is unacknowledged).
        let before = sim.transmissions();
        sim.run_until(sim.now + 5 * DAY);
        assert_eq!(sim.transmissions(), before);
    }
}

#[test]
fn restarts_mid_sync_lose_nothing_and_duplicate_nothing() {
    for default_seed in 1..=4 {
        let seed = sim::seed(200 + default_seed);
        let n = 3;
        let links = mesh(n, 2 * SECOND, 2 * MINUTE);
        let mut sim = Sim::new(seed, memory(n), &offsets(seed, n), links);
        chatter(&mut sim, seed, n, 150, DAY);
        restarts(&mut sim, n, 40, 37 * MINUTE, seed);
        sim.run_until(EPOCH + 2 * DAY);
        assert!(sim.stats.restarts >= 40);
        heal_and_check(&mut sim, pairs(n).into_iter().map(reliable).collect());
    }
}

#[test]
fn clocks_23_hours_apart_either_way_still_sync() {
    for (i, skew) in [23 * HOUR as i64, -(23 * HOUR as i64)]
        .into_iter()
        .enumerate()
    {
        let seed = sim::seed(300 + i as u64);
        let links = vec![Link {
            peers: (0, 1),
            duplex: Some(Duplex {
                mean_life: 30 * SECOND,
                redial: 30 * MINUTE,
                ..tor(0, 0)
            }),
            files: Some(Files {
                every: 2 * DAY,
                max_delay: DAY,
                loss: 0.2,
                duplicate: 0.2,
            }),
        }];
        let mut sim = Sim::new(seed, memory(2), &[0, skew], links);
        chatter(&mut sim, seed, 2, 30, 5 * DAY);
        sim.run_until(EPOCH + 6 * DAY);
        heal_and_check(&mut sim, vec![reliable((0, 1))]);
    }
}

#[test]
fn a_faster_transport_carries_what_a_file_was_carrying() {
    let seed = sim::seed(400);
    // Files only, all lost: nothing arrives.
    let lost_files = Link {
        peers: (0, 1),
        duplex: None,
        files: Some(Files {
            every: DAY,
            max_delay: DAY,
            loss: 1.0,
            duplicate: 0.0,
        }),
    };
    let mut sim = Sim::new(seed, memory(2), &[0, 0], vec![lost_files.clone()]);
    chatter(&mut sim, seed, 2, 10, HOUR);
    sim.run_until(EPOCH + 3 * DAY);
    assert_eq!(sim.delivered_count(), 0);
    // Tor appears: the messages last sent on files go at once, not in 56 days.
    let mut both = lost_files;
    both.duplex = Some(tor(MINUTE, 30 * DAY));
    sim.set_links(vec![both]);
    sim.run_until(sim.now + 10 * MINUTE);
    assert_eq!(sim.delivered_count(), sim.sent_count());
    sim.assert_converged();
}

#[test]
fn busy_links_cut_while_messages_and_acknowledgements_cross() {
    for default_seed in 1..=4 {
        let seed = sim::seed(500 + default_seed);
        let n = 3;
        let links = mesh(n, 4 * SECOND, 3 * SECOND);
        let mut sim = Sim::new(seed, memory(n), &offsets(seed, n), links);
        chatter(&mut sim, seed, n, 300, HOUR);
        restarts(&mut sim, n, 12, 5 * MINUTE, seed);
        sim.run_until(EPOCH + HOUR);
        heal_and_check(&mut sim, pairs(n).into_iter().map(reliable).collect());
    }
}

/// The same chaos on the encrypted store: a restart closes the database and opens it
/// again, so only what was committed survives, and the sessions' stores are the ones
/// the engine will use.
#[test]
fn on_the_encrypted_store_restarts_and_cuts_lose_nothing_and_duplicate_nothing() {
    use thicket_tests::sim::Sql;
    for default_seed in 1..=2 {
        let seed = sim::seed(600 + default_seed);
        let n = 3;
        let links: Vec<Link> = pairs(n)
            .into_iter()
            .map(|(a, b)| {
                let mut d = Duplex {
                    mean_life: 4 * SECOND,
                    redial: 20 * SECOND,
                    ..tor(0, 0)
                };
                d.down = vec![(EPOCH + 10 * MINUTE, EPOCH + 20 * MINUTE)];
                Link {
                    peers: (a, b),
                    duplex: Some(d),
                    files: Some(Files {
                        every: 15 * MINUTE,
                        max_delay: 10 * MINUTE,
                        loss: 0.3,
                        duplicate: 0.3,
                    }),
                }
            })
            .collect();
        let backends = (0..n as u64).map(|i| Sql::new(seed * 10 + i)).collect();
        let mut sim = Sim::new(seed, backends, &offsets(seed, n), links);
        chatter(&mut sim, seed, n, 80, HOUR);
        restarts(&mut sim, n, 9, 7 * MINUTE, seed);
        sim.run_until(EPOCH + HOUR);
        heal_and_check(&mut sim, pairs(n).into_iter().map(reliable).collect());
    }
}
