//! A small deterministic random number generator for the simulated reader.
//!
//! Synthetic fingerprints must be the same on every machine and every build for a given seed and
//! impression number, so the simulator carries its own generator (SplitMix64 for deriving seeds,
//! xoshiro256** for the streams) rather than depending on a crate whose streams might change between
//! versions. Each purpose (the master print, the impression's geometry, its noise, ...) draws from
//! its own stream, derived from the seed and a label, so adding a draw in one place never shifts
//! the numbers drawn elsewhere.

/// One step of SplitMix64: a strong 64-bit mixer, used to derive seeds.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Derives a sub-seed from a seed and a list of parts (labels and numbers).
pub fn derive(seed: u64, parts: &[u64]) -> u64 {
    parts.iter().fold(mix64(seed), |acc, &p| mix64(acc ^ mix64(p)))
}

/// Turns a short ASCII label into a number for [`derive`].
pub const fn label(text: &str) -> u64 {
    let bytes = text.as_bytes();
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
        i += 1;
    }
    h
}

/// xoshiro256**: fast, small state, good statistical quality.
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator whose whole stream is fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        let mut z = seed;
        let mut s = [0u64; 4];
        for word in &mut s {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            *word = mix64(z);
        }
        if s == [0; 4] {
            s[0] = 1;
        }
        Rng { s }
    }

    /// A generator for one purpose (`tag`) under a seed.
    pub fn stream(seed: u64, tag: &str) -> Self {
        Rng::new(derive(seed, &[label(tag)]))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `[low, high)`.
    pub fn range(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.unit()
    }

    /// Uniform in `[-1, 1)`.
    pub fn signed(&mut self) -> f64 {
        2.0 * self.unit() - 1.0
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Standard normal (Box-Muller; one of the pair is dropped, which keeps the stream simple).
    pub fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(1e-300);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Normal with the given mean and standard deviation, clamped to `[low, high]`.
    pub fn normal_clamped(&mut self, mean: f64, sd: f64, low: f64, high: f64) -> f64 {
        (mean + sd * self.normal()).clamp(low, high)
    }

    /// Index drawn with the given (not necessarily normalised) weights.
    pub fn weighted(&mut self, weights: &[f64]) -> usize {
        let total: f64 = weights.iter().sum();
        let mut x = self.unit() * total;
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len().saturating_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4).map(|_| Rng::stream(7, "x").next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(Rng::stream(7, "x").next_u64(), Rng::stream(7, "y").next_u64());
        assert_ne!(Rng::stream(7, "x").next_u64(), Rng::stream(8, "x").next_u64());
    }

    #[test]
    fn unit_and_normal_look_right() {
        let mut r = Rng::new(1);
        let n = 20_000;
        let xs: Vec<f64> = (0..n).map(|_| r.unit()).collect();
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = xs.iter().sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.02);
        let zs: Vec<f64> = (0..n).map(|_| r.normal()).collect();
        let m = zs.iter().sum::<f64>() / n as f64;
        let v = zs.iter().map(|z| (z - m) * (z - m)).sum::<f64>() / n as f64;
        assert!(m.abs() < 0.05 && (v - 1.0).abs() < 0.05, "mean {m} var {v}");
    }
}
