//! The reordering window (`spec/stream.md#reordering-window`).

use super::MAX_STREAM_NUMBER;

/// Stream numbers a receiver expects at once, per incoming period.
pub const WINDOW_SIZE: usize = 32;

const HALF: u64 = WINDOW_SIZE as u64 / 2;

/// Which of the stream numbers `base .. base + 32` have been seen.
///
/// Bit `i` of `seen` stands for stream number `base + i`. A number is expected when it
/// is in the window, unseen and at most [`MAX_STREAM_NUMBER`]. Everything below `base`
/// counts as seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct ReorderingWindow {
    base: u64,
    seen: u32,
}

impl ReorderingWindow {
    pub(crate) fn new(base: u64, seen: u32) -> Self {
        ReorderingWindow { base, seen }
    }

    pub(crate) fn base(&self) -> u64 {
        self.base
    }

    pub(crate) fn seen(&self) -> u32 {
        self.seen
    }

    /// The stream number of slot `i`.
    pub(crate) fn number(&self, slot: usize) -> u64 {
        self.base + slot as u64
    }

    /// Whether slot `i` holds an expected stream number.
    pub(crate) fn is_expected(&self, slot: usize) -> bool {
        slot < WINDOW_SIZE && self.seen & (1 << slot) == 0 && self.number(slot) <= MAX_STREAM_NUMBER
    }

    /// Marks the number in `slot` seen and slides the window; returns how far it slid.
    ///
    /// Sliding keeps [`WINDOW_SIZE`]/2 numbers of look-ahead above the newest number
    /// seen, then drops seen numbers from the bottom, so the lowest slot is always
    /// unseen.
    pub(crate) fn mark_seen(&mut self, slot: usize) -> u64 {
        debug_assert!(self.is_expected(slot));
        self.seen |= 1 << slot;
        let mut slide = 0;
        let offset = slot as u64;
        if offset >= HALF {
            slide = offset - HALF + 1;
            self.seen = u32::try_from(slide)
                .ok()
                .and_then(|s| self.seen.checked_shr(s))
                .unwrap_or(0);
        }
        let trailing = self.seen.trailing_ones();
        self.seen = self.seen.checked_shr(trailing).unwrap_or(0);
        slide += u64::from(trailing);
        self.base += slide;
        slide
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expected(w: &ReorderingWindow) -> Vec<u64> {
        (0..WINDOW_SIZE)
            .filter(|&i| w.is_expected(i))
            .map(|i| w.number(i))
            .collect()
    }

    #[test]
    fn in_order_slides_by_one() {
        let mut w = ReorderingWindow::default();
        for n in 0..100 {
            assert_eq!(w.base(), n);
            assert_eq!(w.mark_seen(0), 1);
        }
        assert_eq!(expected(&w), (100..132).collect::<Vec<_>>());
    }

    #[test]
    fn out_of_order_keeps_gaps_then_fills() {
        let mut w = ReorderingWindow::default();
        assert_eq!(w.mark_seen(3), 0);
        assert_eq!(w.base(), 0);
        assert!(!expected(&w).contains(&3));
        // A jump past the midpoint keeps 16 numbers of look-ahead above it.
        let slide = w.mark_seen(20);
        assert_eq!(slide, 5);
        assert_eq!(w.base(), 5);
        assert_eq!(*expected(&w).last().unwrap(), 36);
        // 0..5 fell out of the window: they can no longer be accepted.
        assert!(!expected(&w).contains(&0));
        for n in 5..20 {
            let slot = usize::try_from(n - w.base()).unwrap();
            w.mark_seen(slot);
        }
        assert_eq!(w.base(), 21);
        assert_eq!(w.seen(), 0);
    }

    #[test]
    fn stops_at_the_last_stream_number() {
        let mut w = ReorderingWindow::new(MAX_STREAM_NUMBER - 1, 0);
        assert_eq!(expected(&w), vec![MAX_STREAM_NUMBER - 1, MAX_STREAM_NUMBER]);
        w.mark_seen(1);
        w.mark_seen(0);
        assert!(expected(&w).is_empty());
    }
}
