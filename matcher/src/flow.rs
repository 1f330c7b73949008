//! Ridge flow: a coarse map of the ridge orientation that a template keeps beside its minutiae,
//! and how well two maps agree once a pairing of minutiae has laid one print on the other.
//!
//! Minutiae are sparse. Where two impressions of one finger share few of them (dry skin, a small
//! overlap, heavy distortion), the ridges between them still run the same way in both; two
//! different fingers laid on each other by a chance pairing mostly do not. Scoring adds a bonus for
//! close agreement over a large enough area (see `scoring`).

use std::f64::consts::{PI, TAU};

use crate::orientation::OrientationField;
use crate::params::{BLOCK_SIZE_PX, FLOW_CELL_PX};
use crate::plane::Plane;

/// Orientation units in half a turn: a cell's orientation is in units of π/256 rad.
pub const ORIENTATION_UNITS: u32 = 256;

/// Orientation blocks along each side of a cell.
const BLOCKS_PER_CELL: usize = FLOW_CELL_PX / BLOCK_SIZE_PX;
const _: () = assert!(
    FLOW_CELL_PX % BLOCK_SIZE_PX == 0 && BLOCKS_PER_CELL > 0,
    "a flow cell is a whole number of orientation blocks"
);

/// One cell of the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FlowCell {
    /// Ridge orientation in units of π/256 rad, from `+x` towards `+y` (`0..=255`, half a turn).
    pub orientation: u8,
    /// How clear the ridge flow is: `0` where the cell is not finger, else `1` (barely readable)
    /// to `255` (perfectly parallel ridges).
    pub coherence: u8,
}

/// The ridge orientation of a print on a grid of [`FLOW_CELL_PX`] cells, row-major, covering the
/// template's image: `width.div_ceil(FLOW_CELL_PX)` cells across and `height.div_ceil(FLOW_CELL_PX)`
/// down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RidgeFlow {
    columns: u16,
    rows: u16,
    cells: Vec<FlowCell>,
}

/// Cells across (or down) for an image side of `pixels`.
pub(crate) fn cells_for(pixels: u16) -> u16 {
    pixels.div_ceil(FLOW_CELL_PX as u16)
}

impl RidgeFlow {
    /// A map of `columns` x `rows` cells, or `None` if the number of cells is not that.
    pub fn new(columns: u16, rows: u16, cells: Vec<FlowCell>) -> Option<Self> {
        (cells.len() == usize::from(columns) * usize::from(rows)).then_some(Self { columns, rows, cells })
    }

    /// Cells across.
    pub fn columns(&self) -> u16 {
        self.columns
    }

    /// Cells down.
    pub fn rows(&self) -> u16 {
        self.rows
    }

    /// The cells, row-major.
    pub fn cells(&self) -> &[FlowCell] {
        &self.cells
    }

    /// The map of an extracted print: each cell takes the coherence-weighted mean orientation of its
    /// blocks, and their mean coherence; a cell with fewer than half its blocks on the finger is
    /// not finger.
    pub(crate) fn from_field(field: &OrientationField, foreground: &Plane<bool>, width: u16, height: u16) -> Self {
        let (columns, rows) = (cells_for(width), cells_for(height));
        let mut cells = Vec::with_capacity(usize::from(columns) * usize::from(rows));
        for row in 0..usize::from(rows) {
            for column in 0..usize::from(columns) {
                let (mut cos2, mut sin2, mut coherence, mut finger, mut blocks) = (0.0f32, 0.0f32, 0.0f32, 0, 0);
                for y in row * BLOCKS_PER_CELL..((row + 1) * BLOCKS_PER_CELL).min(foreground.height) {
                    for x in column * BLOCKS_PER_CELL..((column + 1) * BLOCKS_PER_CELL).min(foreground.width) {
                        blocks += 1;
                        if !foreground.at(x, y) {
                            continue;
                        }
                        finger += 1;
                        let (angle, weight) = (field.angle.at(x, y), field.coherence.at(x, y));
                        cos2 += weight * (2.0 * angle).cos();
                        sin2 += weight * (2.0 * angle).sin();
                        coherence += weight;
                    }
                }
                cells.push(if finger == 0 || finger * 2 < blocks {
                    FlowCell::default()
                } else {
                    let half_turns = f64::from(sin2.atan2(cos2)) / TAU;
                    FlowCell {
                        orientation: (half_turns * f64::from(ORIENTATION_UNITS)).round() as i64 as u8,
                        coherence: (coherence / finger as f32 * 255.0).round().clamp(1.0, 255.0) as u8,
                    }
                });
            }
        }
        Self { columns, rows, cells }
    }
}

/// How one map, laid on another, agrees with it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Agreement {
    /// Cells that are finger in both maps where they land.
    pub cells: u32,
    /// Sum over those cells of the lower of the two coherences.
    weight: u32,
    /// Sum over those cells of that coherence times the cosine of twice the orientation gap.
    weighted_cos: f32,
}

impl Agreement {
    /// Mean cosine of twice the orientation gap over the shared cells, weighted by the lower
    /// coherence of each: 1 where the ridges run alike everywhere, about 0.5 for two different
    /// fingers, and 0 with nothing shared.
    pub fn closeness(&self) -> f32 {
        if self.weight == 0 {
            0.0
        } else {
            self.weighted_cos / self.weight as f32
        }
    }
}

/// `cos(2π k / 256)` for every `k`: the cosine of twice an orientation gap of `k` units.
const COS_OF_DOUBLED_GAP: [f32; ORIENTATION_UNITS as usize] = {
    let mut table = [0.0f32; ORIENTATION_UNITS as usize];
    let mut k = 0;
    while k < ORIENTATION_UNITS as usize {
        let mut x = TAU * k as f64 / ORIENTATION_UNITS as f64;
        if x > PI {
            x -= TAU;
        }
        // The Taylor series of the cosine, summed until its terms vanish (|x| <= π).
        let (mut sum, mut term, mut n) = (1.0f64, 1.0f64, 0.0f64);
        while n < 60.0 {
            term *= -x * x / ((n + 1.0) * (n + 2.0));
            sum += term;
            n += 2.0;
        }
        table[k] = sum as f32;
        k += 1;
    }
    table
};

/// Lays `from` on `onto`: each cell centre of `from` is turned by `rotation` radians about
/// `from_centre` and moved to `onto_centre` (pixels), and its orientation, turned likewise, is
/// compared with that of the cell it lands in.
pub(crate) fn agreement(
    from: &RidgeFlow,
    onto: &RidgeFlow,
    rotation: f32,
    from_centre: (f32, f32),
    onto_centre: (f32, f32),
) -> Agreement {
    let (cos, sin) = (rotation.cos(), rotation.sin());
    // Rounded half away from zero, so that the opposite rotation gives exactly the opposite turn.
    let turn = (rotation / std::f32::consts::PI * ORIENTATION_UNITS as f32).round() as i64 as u8;
    let cell = FLOW_CELL_PX as f32;
    let (onto_columns, onto_rows) = (u32::from(onto.columns), u32::from(onto.rows));
    let mut result = Agreement::default();
    // Positions are worked out in cells of `onto`: one step along a row of `from` moves by
    // (cos, sin) there.
    for (row, cells) in from.cells.chunks_exact(usize::from(from.columns).max(1)).enumerate() {
        let (dx, dy) = (0.5 * cell - from_centre.0, (row as f32 + 0.5) * cell - from_centre.1);
        let mut x = (cos * dx - sin * dy + onto_centre.0) / cell;
        let mut y = (sin * dx + cos * dy + onto_centre.1) / cell;
        for here in cells {
            // Whole cells, with everything left of or above the map (negative) out of range too.
            let (c, r) = (((x + 1.0) as i32 - 1) as u32, ((y + 1.0) as i32 - 1) as u32);
            (x, y) = (x + cos, y + sin);
            if here.coherence == 0 || c >= onto_columns || r >= onto_rows {
                continue;
            }
            let there = onto.cells[(r * onto_columns + c) as usize];
            if there.coherence == 0 {
                continue;
            }
            let weight = here.coherence.min(there.coherence);
            let gap = here.orientation.wrapping_add(turn).wrapping_sub(there.orientation);
            result.cells += 1;
            result.weight += u32::from(weight);
            result.weighted_cos += f32::from(weight) * COS_OF_DOUBLED_GAP[usize::from(gap)];
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cosine_table_is_the_cosine() {
        for (k, &value) in COS_OF_DOUBLED_GAP.iter().enumerate() {
            let exact = (TAU * k as f64 / 256.0).cos() as f32;
            assert!((value - exact).abs() < 1e-6, "k {k}: {value} vs {exact}");
        }
    }

    /// A map of `columns` x `rows` cells whose orientation follows `orientation(column, row)`.
    fn map(columns: u16, rows: u16, orientation: impl Fn(usize, usize) -> u8) -> RidgeFlow {
        let cells = (0..usize::from(rows))
            .flat_map(|r| (0..usize::from(columns)).map(move |c| (c, r)))
            .map(|(c, r)| FlowCell {
                orientation: orientation(c, r),
                coherence: 200,
            })
            .collect();
        RidgeFlow::new(columns, rows, cells).unwrap()
    }

    #[test]
    fn a_map_laid_on_itself_agrees_fully_and_a_crossing_one_does_not() {
        let flow = map(20, 20, |c, r| ((c * 7 + r * 3) % 256) as u8);
        let itself = agreement(&flow, &flow, 0.0, (160.0, 160.0), (160.0, 160.0));
        assert_eq!(itself.cells, 400);
        assert!((itself.closeness() - 1.0).abs() < 1e-6);
        // Every orientation turned by a quarter turn (128 units of π/256): ridges cross.
        let crossing = map(20, 20, |c, r| ((c * 7 + r * 3 + 128) % 256) as u8);
        let crossed = agreement(&flow, &crossing, 0.0, (160.0, 160.0), (160.0, 160.0));
        assert!((crossed.closeness() + 1.0).abs() < 1e-6);
    }

    #[test]
    fn a_turned_print_agrees_once_turned_back() {
        // Straight ridges at 30 degrees, and the same ridges seen turned by 0.5 rad.
        let units = |radians: f64| ((radians / PI * 256.0).round() as i64).rem_euclid(256) as u8;
        let flow = map(20, 20, |_, _| units(0.52));
        let turned = map(20, 20, |_, _| units(0.52 + 0.5));
        let laid = agreement(&flow, &turned, 0.5, (160.0, 160.0), (160.0, 160.0));
        assert!(laid.cells > 250, "{laid:?}");
        assert!(laid.closeness() > 0.99, "{laid:?}");
        let unturned = agreement(&flow, &turned, 0.0, (160.0, 160.0), (160.0, 160.0));
        assert!(unturned.closeness() < 0.6, "{unturned:?}");
    }

    #[test]
    fn cells_off_the_finger_or_off_the_other_map_count_for_nothing() {
        let flow = map(10, 10, |_, _| 40);
        let mut holed = flow.clone();
        for cell in &mut holed.cells[..50] {
            *cell = FlowCell::default();
        }
        assert_eq!(agreement(&flow, &holed, 0.0, (80.0, 80.0), (80.0, 80.0)).cells, 50);
        // Shifted half a map to the right: half the cells land outside.
        assert_eq!(agreement(&flow, &flow, 0.0, (80.0, 80.0), (160.0, 80.0)).cells, 50);
        // Far away: nothing shared, no agreement.
        let apart = agreement(&flow, &flow, 0.0, (80.0, 80.0), (5000.0, -5000.0));
        assert_eq!((apart.cells, apart.closeness()), (0, 0.0));
    }

    #[test]
    fn a_map_needs_exactly_its_cells() {
        assert!(RidgeFlow::new(3, 2, vec![FlowCell::default(); 6]).is_some());
        assert!(RidgeFlow::new(3, 2, vec![FlowCell::default(); 5]).is_none());
        assert!(RidgeFlow::new(0, 0, vec![]).is_some());
    }
}
