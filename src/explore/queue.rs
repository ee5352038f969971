//! A play queue: songs played one after another, with next and previous, shuffle and repeat.
//! Holds track ids (they outlive a map's rows); no bevy, so the window's behaviour is tested here.

/// What happens at the end of the queue, or of a song.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Repeat {
    /// Stop after the last song.
    #[default]
    Off,
    /// Start again from the first.
    All,
    /// Play the current song again.
    One,
}

impl Repeat {
    pub fn cycled(self) -> Self {
        match self {
            Self::Off => Self::All,
            Self::All => Self::One,
            Self::One => Self::Off,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Off => "repeat off",
            Self::All => "repeat all",
            Self::One => "repeat one",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayQueue {
    /// Where the songs came from ("Evening", "path", "for you"), as the panel names it.
    pub name: String,
    /// The songs in their own order.
    rows: Vec<u64>,
    /// The order they play in: indices into `rows` (shuffled, or in order).
    order: Vec<usize>,
    /// The position in `order` of the song playing.
    cursor: usize,
    shuffle: bool,
    pub repeat: Repeat,
    /// Advanced on every reshuffle, so each pass through a shuffled queue differs, reproducibly.
    seed: u64,
}

impl PlayQueue {
    /// A queue of `rows` (duplicates dropped) that starts at `rows[start]`; `None` if empty.
    pub fn new(name: impl Into<String>, rows: &[u64], start: usize) -> Option<Self> {
        let mut seen = std::collections::HashSet::new();
        let rows: Vec<u64> = rows.iter().copied().filter(|r| seen.insert(*r)).collect();
        if rows.is_empty() {
            return None;
        }
        let order = (0..rows.len()).collect();
        let cursor = start.min(rows.len() - 1);
        Some(Self { name: name.into(), rows, order, cursor, shuffle: false, repeat: Repeat::Off, seed: 1 })
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The songs in the order they play.
    pub fn playing_order(&self) -> impl Iterator<Item = u64> + '_ {
        self.order.iter().map(|&i| self.rows[i])
    }

    /// The position of the current song in [`Self::playing_order`].
    pub fn position(&self) -> usize {
        self.cursor
    }

    pub fn current(&self) -> u64 {
        self.rows[self.order[self.cursor]]
    }

    pub fn is_shuffled(&self) -> bool {
        self.shuffle
    }

    /// The next song (the user asked, or the song ended under `Repeat::One` is *not* this: see
    /// [`Self::after_song_ended`]); `None` at the end without repeat.
    pub fn next_song(&mut self) -> Option<u64> {
        if self.cursor + 1 < self.order.len() {
            self.cursor += 1;
        } else if self.repeat == Repeat::Off {
            return None;
        } else {
            if self.shuffle {
                // A new pass, in a new order, whose first song is not the one just played.
                let last = self.current();
                self.seed = self.seed.wrapping_add(1);
                self.order = shuffled(self.rows.len(), self.seed);
                if self.order.len() > 1 && self.rows[self.order[0]] == last {
                    self.order.swap(0, 1);
                }
            }
            self.cursor = 0;
        }
        Some(self.current())
    }

    /// The previous song; at the start, the first song again (as players do).
    pub fn previous_song(&mut self) -> u64 {
        self.cursor = self.cursor.saturating_sub(1);
        self.current()
    }

    /// What plays when the current song ends by itself.
    pub fn after_song_ended(&mut self) -> Option<u64> {
        if self.repeat == Repeat::One {
            return Some(self.current());
        }
        self.next_song()
    }

    /// Jumps to the song at `position` of the playing order.
    pub fn jump(&mut self, position: usize) -> Option<u64> {
        (position < self.order.len()).then(|| {
            self.cursor = position;
            self.current()
        })
    }

    /// Shuffles the songs after the current one (it stays current, first of the new order), or
    /// puts them back in their own order.
    pub fn set_shuffle(&mut self, on: bool) {
        if on == self.shuffle {
            return;
        }
        let current = self.order[self.cursor];
        self.shuffle = on;
        if on {
            self.seed = self.seed.wrapping_add(1);
            let mut order: Vec<usize> =
                shuffled(self.rows.len(), self.seed).into_iter().filter(|&i| i != current).collect();
            order.insert(0, current);
            self.order = order;
            self.cursor = 0;
        } else {
            self.order = (0..self.rows.len()).collect();
            self.cursor = current;
        }
    }
}

/// 0..n in an order fixed by `seed` (Fisher–Yates on splitmix64).
fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_plays_in_order_goes_back_and_stops_or_repeats_at_the_end() {
        let mut queue = PlayQueue::new("list", &[10, 11, 12, 11], 0).expect("songs");
        assert_eq!(queue.len(), 3, "a song is queued once");
        assert_eq!((queue.current(), queue.next_song(), queue.next_song()), (10, Some(11), Some(12)));
        assert_eq!(queue.next_song(), None, "the end, no repeat");
        assert_eq!(queue.previous_song(), 11);
        queue.repeat = Repeat::One;
        assert_eq!(queue.after_song_ended(), Some(11));
        queue.repeat = Repeat::All;
        assert_eq!((queue.next_song(), queue.next_song()), (Some(12), Some(10)));
        assert_eq!(queue.previous_song(), 10, "the first song again at the start");
        assert_eq!(queue.jump(2), Some(12));
        assert_eq!(queue.jump(3), None);
        assert!(PlayQueue::new("empty", &[], 0).is_none());
    }

    #[test]
    fn shuffle_keeps_the_current_song_plays_every_song_once_a_pass_and_is_reproducible() {
        let rows: Vec<u64> = (100..120).collect();
        let mut queue = PlayQueue::new("list", &rows, 5).expect("songs");
        queue.set_shuffle(true);
        assert_eq!(queue.current(), 105);
        let order: Vec<u64> = queue.playing_order().collect();
        assert_ne!(order, rows, "shuffled");
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, rows, "each song once");
        let mut again = PlayQueue::new("list", &rows, 5).expect("songs");
        again.set_shuffle(true);
        assert_eq!(again.playing_order().collect::<Vec<_>>(), order, "same seed, same order");
        queue.repeat = Repeat::All;
        let mut played = vec![queue.current()];
        for _ in 0..39 {
            played.push(queue.next_song().expect("repeats"));
        }
        for pass in played.chunks(20) {
            let mut pass = pass.to_vec();
            pass.sort_unstable();
            assert_eq!(pass, rows, "every song once in each pass");
        }
        assert_ne!(played[..20], played[20..], "the second pass in another order");
        queue.set_shuffle(false);
        let current = queue.current();
        assert_eq!(queue.playing_order().collect::<Vec<_>>(), rows);
        assert_eq!(queue.current(), current, "unshuffling keeps the song playing");
    }
}
