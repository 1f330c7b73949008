//! A plain row-major 2-D array, the common currency of the extraction stages (images, block maps,
//! masks).

/// A `width` x `height` grid of values, row-major.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Plane<T> {
    pub width: usize,
    pub height: usize,
    pub data: Vec<T>,
}

impl<T: Copy> Plane<T> {
    /// A plane filled with one value.
    pub fn filled(width: usize, height: usize, value: T) -> Self {
        Self {
            width,
            height,
            data: vec![value; width * height],
        }
    }

    /// The value at column `x`, row `y` (must be inside).
    #[inline]
    pub fn at(&self, x: usize, y: usize) -> T {
        self.data[y * self.width + x]
    }

    /// Mutable access to the value at column `x`, row `y` (must be inside).
    #[inline]
    pub fn at_mut(&mut self, x: usize, y: usize) -> &mut T {
        &mut self.data[y * self.width + x]
    }

    /// The value at signed coordinates, or `None` outside the plane.
    #[inline]
    pub fn get(&self, x: isize, y: isize) -> Option<T> {
        if x < 0 || y < 0 || x as usize >= self.width || y as usize >= self.height {
            None
        } else {
            Some(self.data[y as usize * self.width + x as usize])
        }
    }

    /// The value at signed coordinates, clamped to the nearest edge.
    #[inline]
    pub fn clamped(&self, x: isize, y: isize) -> T {
        let x = x.clamp(0, self.width as isize - 1) as usize;
        let y = y.clamp(0, self.height as isize - 1) as usize;
        self.data[y * self.width + x]
    }
}

impl Plane<bool> {
    /// Row-major indices of the set values. Set values are scattered, so a branch on each would be
    /// mispredicted often: every index of a short stretch is written to a buffer and the count
    /// advances only on set ones. Stretches with nothing set (outside the finger) are skipped.
    pub fn set_indices(&self) -> Vec<u32> {
        const STRETCH: usize = 32;
        let mut out = Vec::with_capacity(self.data.iter().filter(|&&set| set).count());
        let mut buffer = [0u32; STRETCH];
        for (c, stretch) in self.data.chunks(STRETCH).enumerate() {
            if !stretch.iter().fold(false, |any, &set| any | set) {
                continue;
            }
            let mut n = 0;
            for (k, &set) in stretch.iter().enumerate() {
                buffer[n] = (c * STRETCH + k) as u32;
                n += set as usize;
            }
            out.extend_from_slice(&buffer[..n]);
        }
        out
    }
}

impl Plane<f32> {
    /// Bilinear interpolation at a real position, clamped at the edges.
    pub fn sample(&self, x: f32, y: f32) -> f32 {
        let x = x.clamp(0.0, (self.width - 1) as f32);
        let y = y.clamp(0.0, (self.height - 1) as f32);
        // Both are now non-negative, so truncation is the floor (and much cheaper than `floor`);
        // through `u32`, which holds any side, it is cheaper still than straight to `usize`.
        let x0 = x as u32 as usize;
        let y0 = y as u32 as usize;
        let x1 = (x0 + 1).min(self.width - 1);
        let y1 = (y0 + 1).min(self.height - 1);
        let fx = x - x0 as f32;
        let fy = y - y0 as f32;
        let top = self.at(x0, y0) * (1.0 - fx) + self.at(x1, y0) * fx;
        let bottom = self.at(x0, y1) * (1.0 - fx) + self.at(x1, y1) * fx;
        top * (1.0 - fy) + bottom * fy
    }
}
