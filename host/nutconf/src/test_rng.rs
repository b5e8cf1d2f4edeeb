//! Deterministic random input for the fuzz-style tests (no proptest).

/// xorshift64: tiny, seedable, reproducible across runs.
pub(crate) struct XorShift(pub(crate) u64);

impl XorShift {
    /// Next pseudo-random value.
    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// Up to `max_len` random bytes, biased toward the characters the
    /// grammar cares about.
    pub(crate) fn bytes(&mut self, max_len: usize) -> Vec<u8> {
        const INTERESTING: &[u8] = b"\"\\#=[] \t\r\n\n\0\x0b\x7f\xffabcdz019._-";
        let len = (self.next() % (max_len as u64 + 1)) as usize;
        (0..len)
            .map(|_| {
                let r = self.next();
                if r.is_multiple_of(4) {
                    (r >> 8) as u8
                } else {
                    INTERESTING[((r >> 8) % INTERESTING.len() as u64) as usize]
                }
            })
            .collect()
    }
}
