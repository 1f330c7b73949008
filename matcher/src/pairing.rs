//! Pairing, the first comparison stage: describes each template by its edges (pairs of nearby
//! minutiae, by length and by each minutia's direction relative to the edge, which neither a shift
//! nor a rotation of the finger changes) and finds the pairs of minutiae, one from each template,
//! whose surroundings agree best. Those pairs are the roots from which consolidation grows a
//! pairing of the whole fingerprint.

use crate::params::{
    EDGE_ANGLE_TOLERANCE_RAD, EDGE_INDEX_LENGTH_BIN_PX, EDGE_LENGTH_TOLERANCE_FRACTION, EDGE_LENGTH_TOLERANCE_PX,
    MAX_EDGE_LENGTH_PX, NEIGHBOURS_PER_MINUTIA, ROOT_CANDIDATES, ROOT_NEIGHBOURS,
};
use crate::Template;
use std::f32::consts::TAU;

/// An angle in 1/65536ths of a full turn: differences wrap around for free, which keeps the
/// innermost comparison loops free of floating-point remainders.
pub(crate) type Turn = u16;

/// Converts radians (any value, wrapping around) to [`Turn`]s.
pub(crate) const fn to_turn(radians: f32) -> Turn {
    // Through i64 so that negative angles wrap like positive ones.
    let turns = radians * (65536.0 / TAU);
    // Rounds half away from zero, without a branch.
    (turns + 0.5f32.copysign(turns)) as i64 as Turn
}

/// The edge angle tolerance in [`Turn`]s.
const ANGLE_TOLERANCE_TURNS: Turn = to_turn(EDGE_ANGLE_TOLERANCE_RAD);
const _: () = assert!(
    ANGLE_TOLERANCE_TURNS < 1 << 14,
    "twice the angle tolerance must stay below half a turn for the wrapping tests of AngleWindow"
);

/// The absolute difference of two directions in [`Turn`]s, `0..=32768`.
#[inline]
pub(crate) fn turn_gap(a: Turn, b: Turn) -> u16 {
    (a.wrapping_sub(b) as i16).unsigned_abs()
}

/// The window of directions, around each of an edge's two, that another edge's must lie in to
/// pass [`edge_mismatch`]'s first test: a gap is within tolerance when the difference from the
/// edge's direction less the tolerance, wrapping, is at most twice the tolerance, one
/// subtraction and one comparison per direction where [`turn_gap`] took a vector shuffle and
/// several more. The hot loops that compare one edge with many others work this out once for
/// the one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AngleWindow {
    from_low: Turn,
    to_low: Turn,
}

impl AngleWindow {
    #[inline]
    pub fn around(edge: &Edge) -> Self {
        Self {
            from_low: edge.from_angle.wrapping_sub(ANGLE_TOLERANCE_TURNS),
            to_low: edge.to_angle.wrapping_sub(ANGLE_TOLERANCE_TURNS),
        }
    }

    /// Whether both directions lie within tolerance of the edge's (as [`edge_mismatch`] tests).
    /// One comparison of the larger difference, so that a loop that branches on it has one
    /// branch to predict, not two.
    #[inline]
    pub fn holds(self, from_angle: Turn, to_angle: Turn) -> bool {
        from_angle
            .wrapping_sub(self.from_low)
            .max(to_angle.wrapping_sub(self.to_low))
            <= 2 * ANGLE_TOLERANCE_TURNS
    }
}

/// A minutia reduced to what comparison needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Point {
    pub x: f32,
    pub y: f32,
    pub angle: f32,
    /// `angle` in [`Turn`]s.
    turn: Turn,
    /// Position in whole pixels as the neighbour search sees it (clamped to
    /// [`MAX_SEARCH_COORDINATE_PX`]), for the directions of edges.
    column: i32,
    row: i32,
}

/// The direction of the edge from pixel offset `(0, 0)` to `(dx, dy)` in [`Turn`]s, where
/// neither offset is longer than an edge ([`MAX_EDGE_OFFSET_PX`]; longer ones are clamped): the
/// octant's angle from [`OCTANT_ANGLES`], unfolded to the whole turn by integer steps, with no
/// floating point and no conversion.
#[inline]
fn direction(dx: i32, dy: i32) -> Turn {
    let (ax, ay) = (
        dx.unsigned_abs().min(MAX_EDGE_OFFSET_PX),
        dy.unsigned_abs().min(MAX_EDGE_OFFSET_PX),
    );
    let (long, short) = (ax.max(ay) as usize, ax.min(ay) as usize);
    let within_octant = OCTANT_ANGLES[long * (long + 1) / 2 + short];
    // Selections rather than branches: the octant of an edge is anyone's guess.
    let a = if ay > ax {
        QUARTER_TURN - within_octant
    } else {
        within_octant
    };
    let a = if dx < 0 { HALF_TURN - a } else { a };
    if dy < 0 {
        a.wrapping_neg()
    } else {
        a
    }
}

const QUARTER_TURN: Turn = 1 << 14;
const HALF_TURN: Turn = 1 << 15;

/// The longest offset along either axis between two minutiae joined by an edge, px.
const MAX_EDGE_OFFSET_PX: u32 = MAX_EDGE_LENGTH_PX as u32;
const _: () = assert!(
    MAX_EDGE_OFFSET_PX as f32 >= MAX_EDGE_LENGTH_PX,
    "an edge's offsets must all be in the table"
);

/// `atan(short / long)` in [`Turn`]s, rounded, for whole pixel offsets
/// `0 <= short <= long <= MAX_EDGE_OFFSET_PX`, at `long * (long + 1) / 2 + short` (one triangle of
/// the square, 23 KB, which stays in the first-level cache); `(0, 0)` gives 0. Worked out by the
/// compiler.
static OCTANT_ANGLES: [Turn; OCTANT_TABLE_LEN] = octant_angles();

const OCTANT_TABLE_LEN: usize = (MAX_EDGE_OFFSET_PX as usize + 1) * (MAX_EDGE_OFFSET_PX as usize + 2) / 2;

const fn octant_angles() -> [Turn; OCTANT_TABLE_LEN] {
    let mut table = [0; OCTANT_TABLE_LEN];
    let mut long = 1;
    while long <= MAX_EDGE_OFFSET_PX as usize {
        let mut short = 0;
        while short <= long {
            let turns = const_atan(short as f64 / long as f64) * (65536.0 / std::f64::consts::TAU);
            table[long * (long + 1) / 2 + short] = (turns + 0.5) as Turn;
            short += 1;
        }
        long += 1;
    }
    table
}

/// `atan(t)` for `0 <= t <= 1`, to well within 1e-9 rad, by a function the compiler can evaluate:
/// above `tan(π/8)` it is `π/4 + atan((t - 1) / (t + 1))`, which leaves an argument of at most
/// 0.415 for the series `u - u³/3 + u⁵/5 - ...`, whose terms then shrink by 0.17 each.
const fn const_atan(t: f64) -> f64 {
    let (base, u) = if t > 0.414_213_562_373_095_1 {
        (std::f64::consts::FRAC_PI_4, (t - 1.0) / (t + 1.0))
    } else {
        (0.0, t)
    };
    let (mut sum, mut power, mut k) = (0.0, u, 0);
    while k < 16 {
        let term = power / (2 * k + 1) as f64;
        sum = if k % 2 == 0 { sum + term } else { sum - term };
        power *= u * u;
        k += 1;
    }
    base + sum
}

/// The edge from one minutia to a neighbour, described independently of position and rotation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Edge {
    /// Index of the neighbour.
    pub to: u16,
    /// Distance between the two minutiae, px.
    pub length: f32,
    /// Direction of the source minutia relative to the edge, in [`Turn`]s.
    pub from_angle: Turn,
    /// Direction of the neighbour relative to the edge, in [`Turn`]s.
    pub to_angle: Turn,
}

/// A template laid out for comparison: its minutiae and, per minutia, the edges to its nearest
/// neighbours, shortest first.
///
/// The search for roots looks only at the [`ROOT_NEIGHBOURS`] shortest edges of each minutia, and
/// growing only at the minutiae it reaches, so the directions of the longer edges (a table look-up
/// each, see [`direction`]) are worked out only when growing first reaches their minutia
/// ([`EdgeTable::complete`]); until then those edges hold their neighbour and length only.
#[derive(Debug, Clone)]
pub(crate) struct EdgeTable {
    pub points: Vec<Point>,
    /// Every minutia's edges in one list, [`NEIGHBOURS_PER_MINUTIA`] places each: those of minutia
    /// `i` are `edges[i * NEIGHBOURS_PER_MINUTIA..][..counts[i]]`.
    edges: Vec<Edge>,
    counts: Vec<u8>,
    /// Whether the directions of minutia `i`'s longer edges have been worked out.
    complete: Vec<bool>,
}

/// Fills the places of a minutia with fewer neighbours than [`NEIGHBOURS_PER_MINUTIA`].
pub(crate) const NO_EDGE: Edge = Edge {
    to: 0,
    length: 0.0,
    from_angle: 0,
    to_angle: 0,
};

/// The nearest neighbours met so far, each as one key `squared distance << 16 | index`, nearest
/// first; free places hold [`Nearest::FREE`], which sorts after every key. Minutiae sit on whole
/// pixels, so squared distances within reach are small whole numbers, and keys order by distance
/// and then by index, which keeps the result deterministic while each step is one integer
/// comparison. Place 0 holds -1, below every key (keys are never negative), so that every kept
/// place has one before it and the merge needs no special first place.
#[derive(Debug, Clone, Copy)]
struct Nearest([i32; NEIGHBOURS_PER_MINUTIA + 1]);

/// Coordinates are clamped to this in the neighbour search, px, so that squared distances stay
/// well inside `i32` whatever a template holds (the template codecs already keep to 14 bits).
const MAX_SEARCH_COORDINATE_PX: u16 = 0x3FFF;

/// The largest squared distance between two minutiae joined by an edge, px².
const MAX_SQUARED_LENGTH: i32 = (MAX_EDGE_LENGTH_PX * MAX_EDGE_LENGTH_PX) as i32;
const _: () = assert!(
    MAX_SQUARED_LENGTH < 1 << 15,
    "squared edge lengths must fit above the index in a positive key"
);

impl Nearest {
    const FREE: i32 = i32::MAX;
    const EMPTY: Self = {
        let mut places = [Self::FREE; NEIGHBOURS_PER_MINUTIA + 1];
        places[0] = -1;
        Self(places)
    };

    /// The largest squared distance a new neighbour may have and still get in, px².
    #[inline]
    fn reach(&self) -> i32 {
        (self.0[NEIGHBOURS_PER_MINUTIA] >> 16).min(MAX_SQUARED_LENGTH)
    }

    /// Takes in `key` if it is smaller than the largest key kept (or there is a free place).
    ///
    /// Without a branch: place `k` of the merged list is the smaller of the old place and the key,
    /// but at least the old place before it, which leaves the list as it was for a key after
    /// all of them. Neighbours arrive in no predictable order, and a mispredicted branch per
    /// offer used to cost more than these few vector operations (so did a branch that skipped
    /// the merge for a key after all kept ones: a quarter of the offers, at no telling which).
    #[inline]
    fn offer(&mut self, key: i32) {
        // With masks (all ones where the key is smaller, straight from a comparison, which is one
        // vector instruction: masks from the sign of a difference took two more per four places)
        // and selections by them: plain integer operations that the compiler turns into a few
        // vector instructions on any x86-64, where the minimum and maximum of 32-bit integers
        // became a dozen scalar selections each. The old places and those before them are two
        // overlapping runs of one array, read whole.
        let mut merged = [0; NEIGHBOURS_PER_MINUTIA];
        for ((merged, &place), &before) in merged
            .iter_mut()
            .zip(&self.0[1..])
            .zip(&self.0[..NEIGHBOURS_PER_MINUTIA])
        {
            let key_before_place = -i32::from(key < place);
            let key_before_before = -i32::from(key < before);
            let moved = (before & key_before_before) | (key & !key_before_before);
            *merged = (moved & key_before_place) | (place & !key_before_place);
        }
        self.0[1..].copy_from_slice(&merged);
    }

    /// The nearest neighbours of the minutia at `r` in `by_row` (`(y, x, index)`, sorted).
    ///
    /// Rows below, then rows above, each side until its rows are too far away to hold a nearer
    /// neighbour than the worst one kept (or to be within reach at all). One out of reach is
    /// offered as a free place, which changes nothing. (A function of its own, returning the
    /// places by value, so that they can stay in registers through the search.)
    #[inline(never)]
    fn around(by_row: &[(i32, i32, i32)], r: usize) -> Self {
        let (ay, ax, _) = by_row[r];
        let mut near = Nearest::EMPTY;
        let offer = |near: &mut Nearest, (y, x, j): (i32, i32, i32)| -> bool {
            let dy2 = (y - ay) * (y - ay);
            if dy2 > near.reach() {
                return false;
            }
            let squared = dy2 + (x - ax) * (x - ax);
            near.offer(if squared <= MAX_SQUARED_LENGTH {
                squared << 16 | j
            } else {
                Nearest::FREE
            });
            true
        };
        for &other in &by_row[r + 1..] {
            if !offer(&mut near, other) {
                break;
            }
        }
        for &other in by_row[..r].iter().rev() {
            if !offer(&mut near, other) {
                break;
            }
        }
        near
    }

    /// The minutiae at `(x, y)` as `(row, column, index)` ([`search_coordinate`]s), sorted.
    fn rows(coordinates: impl Iterator<Item = (u16, u16)>) -> Vec<(i32, i32, i32)> {
        let mut by_row: Vec<(i32, i32, i32)> = coordinates
            .enumerate()
            .map(|(i, (x, y))| (search_coordinate(y), search_coordinate(x), i as i32))
            .collect();
        by_row.sort_unstable();
        by_row
    }

    /// The keys kept, nearest first.
    fn keys(&self) -> impl Iterator<Item = i32> + '_ {
        self.0[1..].iter().copied().take_while(|&key| key != Self::FREE)
    }
}

impl EdgeTable {
    pub fn new(template: &Template) -> Self {
        let n = template.minutiae.len();
        let points: Vec<Point> = template
            .minutiae
            .iter()
            .map(|m| Point {
                x: m.x as f32,
                y: m.y as f32,
                angle: m.angle,
                turn: to_turn(m.angle),
                column: search_coordinate(m.x),
                row: search_coordinate(m.y),
            })
            .collect();
        // The minutiae from top to bottom (extraction already stores them so, which makes this
        // sort a single check), so that each minutia's search can walk outwards from it, nearest
        // rows first, and stop where the rows get too far away: the neighbours then arrive
        // roughly nearest first, and each is put in its place with hardly a shift.
        let by_row = Nearest::rows(template.minutiae.iter().map(|m| (m.x, m.y)));
        let mut rank = vec![0u16; n];
        for (r, &(_, _, i)) in by_row.iter().enumerate() {
            rank[i as usize] = r as u16;
        }
        let mut edges = vec![NO_EDGE; n * NEIGHBOURS_PER_MINUTIA];
        let mut counts = Vec::with_capacity(n);
        for ((a, &r), places) in points
            .iter()
            .zip(&rank)
            .zip(edges.chunks_exact_mut(NEIGHBOURS_PER_MINUTIA))
        {
            let r = usize::from(r);
            let near = Nearest::around(&by_row, r);
            let mut count = 0;
            for (k, (key, place)) in near.keys().zip(places.iter_mut()).enumerate() {
                let (squared, j) = (key >> 16, (key & 0xffff) as usize);
                let length = (squared as f32).sqrt();
                *place = if k < ROOT_NEIGHBOURS {
                    edge(a, &points[j], j, length)
                } else {
                    Edge {
                        to: j as u16,
                        length,
                        ..NO_EDGE
                    }
                };
                count += 1;
            }
            counts.push(count);
        }
        let complete = counts.iter().map(|&c| usize::from(c) <= ROOT_NEIGHBOURS).collect();
        Self {
            points,
            edges,
            counts,
            complete,
        }
    }

    /// Works out the directions of minutia `i`'s longer edges, if not done yet.
    #[inline]
    pub fn complete(&mut self, i: usize) {
        if self.complete[i] {
            return;
        }
        self.complete[i] = true;
        let a = self.points[i];
        let places = &mut self.edges[i * NEIGHBOURS_PER_MINUTIA..][..usize::from(self.counts[i])];
        for place in &mut places[ROOT_NEIGHBOURS..] {
            let j = usize::from(place.to);
            *place = edge(&a, &self.points[j], j, place.length);
        }
    }

    /// Works out the directions of every minutia's longer edges.
    pub fn complete_all(&mut self) {
        for i in 0..self.points.len() {
            self.complete(i);
        }
    }

    /// The edges of minutia `i`, shortest first; [`EdgeTable::complete`] must have been called for it.
    #[inline]
    pub fn edges_of(&self, i: usize) -> &[Edge] {
        debug_assert!(self.complete[i], "the longer edges of minutia {i} are not worked out");
        &self.edges[i * NEIGHBOURS_PER_MINUTIA..][..usize::from(self.counts[i])]
    }

    /// All [`NEIGHBOURS_PER_MINUTIA`] places of minutia `i`'s edges, those past its edges holding
    /// [`NO_EDGE`]; [`EdgeTable::complete`] must have been called for it.
    #[inline]
    pub fn places_of(&self, i: usize) -> &[Edge; NEIGHBOURS_PER_MINUTIA] {
        debug_assert!(self.complete[i], "the longer edges of minutia {i} are not worked out");
        self.edges[i * NEIGHBOURS_PER_MINUTIA..]
            .first_chunk()
            .expect("every minutia has NEIGHBOURS_PER_MINUTIA places in `edges`")
    }

    /// The [`ROOT_NEIGHBOURS`] shortest edges of every minutia in turn, which are always complete.
    pub fn all_root_edges(&self) -> impl Iterator<Item = &[Edge]> + '_ {
        self.edges
            .chunks_exact(NEIGHBOURS_PER_MINUTIA)
            .zip(&self.counts)
            .map(|(places, &count)| &places[..usize::from(count).min(ROOT_NEIGHBOURS)])
    }
}

/// A coordinate as the neighbour search sees it.
fn search_coordinate(v: u16) -> i32 {
    i32::from(v.min(MAX_SEARCH_COORDINATE_PX))
}

fn edge(a: &Point, b: &Point, to: usize, length: f32) -> Edge {
    let direction = direction(b.column - a.column, b.row - a.row);
    Edge {
        to: to as u16,
        length,
        from_angle: a.turn.wrapping_sub(direction),
        to_angle: b.turn.wrapping_sub(direction),
    }
}

/// Largest length difference two edges of this length may have and still match, px.
#[inline]
pub(crate) fn length_tolerance(length: f32) -> f32 {
    EDGE_LENGTH_TOLERANCE_PX + EDGE_LENGTH_TOLERANCE_FRACTION * length
}

/// The largest value [`edge_mismatch`] returns.
pub(crate) const MAX_EDGE_MISMATCH: f32 = 3.0;

/// How badly two edges disagree, 0 for identical, or `None` if they do not match at all.
#[inline]
pub(crate) fn edge_mismatch(p: &Edge, c: &Edge) -> Option<f32> {
    let tolerance = ANGLE_TOLERANCE_TURNS;
    let da = turn_gap(p.from_angle, c.from_angle);
    let db = turn_gap(p.to_angle, c.to_angle);
    // The angles first: whole numbers, and most edges that fail, fail there.
    if (da > tolerance) | (db > tolerance) {
        return None;
    }
    let dl = (p.length - c.length).abs();
    let tl = length_tolerance(p.length.min(c.length));
    if dl > tl {
        return None;
    }
    Some(dl / tl + (da + db) as f32 / tolerance as f32)
}

/// The edges of a template filed by the two relative angles and by length, so that an edge of the
/// other template finds the edges it may match by looking in one run of entries instead of
/// comparing against every edge. An edge is filed under every pair of angle bins within tolerance
/// of its angles (one to four), so a query needs only the pair its own angles fall in: a loop per
/// neighbouring bin cost a mispredicted exit each, more than the copies cost to build. The bins of
/// one pair of angle bins follow each other by length, so a whole range of lengths is one run.
#[derive(Debug, Clone)]
pub(crate) struct EdgeIndex {
    /// `entries[offsets[b]..offsets[b + 1]]` are the edges in bin `b`.
    offsets: Vec<u32>,
    entries: Vec<IndexedEdge>,
}

/// An edge as the index keeps it: with the minutia it leaves and its own length tolerance, packed
/// into 16 bytes.
#[derive(Debug, Clone, Copy)]
struct IndexedEdge {
    length: f32,
    /// [`length_tolerance`] of `length`, worked out once here rather than in every query it meets.
    tolerance: f32,
    from_angle: Turn,
    to_angle: Turn,
    from: u16,
    to: u16,
}

const ANGLE_BINS: usize = 8;
const ANGLE_BIN_TURNS: u32 = 65536 / ANGLE_BINS as u32;
const _: () = assert!(ANGLE_BINS.is_power_of_two(), "angle bins must wrap around with a mask");

/// Number of length bins: the last one also holds everything longer.
const LENGTH_BINS: usize = (MAX_EDGE_LENGTH_PX / EDGE_INDEX_LENGTH_BIN_PX) as usize + 2;
const _: () = assert!(
    ANGLE_BINS * ANGLE_BINS * LENGTH_BINS <= u16::MAX as usize,
    "a bin number, and the spare bin after them all, must fit the u16 it is filed with"
);
const _: () = assert!(LENGTH_BINS <= 256, "a length bin must fit the u8 it is worked out in");

/// The length bin of `length` (any value: those below 0 go in the first, those beyond the last
/// bin in the last). Any function that never decreases would do, as long as filing and queries
/// use the same one (and the same one as before, whose bins give the order in which
/// `root_pairs` adds up closeness); this one multiplies (a division took a dozen cycles, twice
/// per query) and converts through `u8`, whose conversion already takes whatever is below 0 (and
/// NaN) to 0, which leaves one comparison: fewer instructions than clamping an `i32` (5.4M fewer
/// of 1,277M over fvc2002-db3b's pairs) or than through `usize`.
fn length_bin(length: f32) -> usize {
    usize::from(((length * (1.0 / EDGE_INDEX_LENGTH_BIN_PX)) as u8).min(LENGTH_BINS as u8 - 1))
}

fn angle_bin(angle: Turn) -> usize {
    (u32::from(angle) / ANGLE_BIN_TURNS) as usize
}

/// The first bin of the run of length bins of a pair of angle bins.
fn angle_cell(from: usize, to: usize) -> usize {
    (from * ANGLE_BINS + to) * LENGTH_BINS
}

/// The one or two angle bins that hold the angles within tolerance of `angle`: the bins of its
/// lowest and of its highest, the same bin when the whole window lies in one.
fn angle_bins_around(angle: Turn) -> (usize, usize) {
    (
        angle_bin(angle.wrapping_sub(ANGLE_TOLERANCE_TURNS)),
        angle_bin(angle.wrapping_add(ANGLE_TOLERANCE_TURNS)),
    )
}
const _: () = assert!(
    2 * ANGLE_TOLERANCE_TURNS as u32 <= ANGLE_BIN_TURNS,
    "the angles within tolerance of one must span at most two angle bins"
);

impl EdgeIndex {
    pub fn new(table: &EdgeTable) -> Self {
        let bins = ANGLE_BINS * ANGLE_BINS * LENGTH_BINS;
        // Each edge is filed in every cell whose angles lie within tolerance of its own (one, two
        // or four cells), so that a query looks in the one cell of its own angles only. The bins
        // are worked out once per edge, four of them always, where a cell that is not needed
        // (its angle window lies in one bin) goes to a spare bin after all others that no query
        // reaches: four fixed places and selections, where loops over one or two bins per angle
        // cost a branch each and kept more in memory than in registers. Then the bins are
        // counted and filled in the order of the edges, so each bin keeps the edges in the order
        // the table gives them, which `root_pairs` adds up in.
        let spare = bins;
        let mut filed: Vec<([u16; 4], IndexedEdge)> = Vec::with_capacity(table.points.len() * ROOT_NEIGHBOURS);
        // `starts[b + 2]` counts bin `b`'s edges, then after the running sum `starts[b + 1]` is
        // where bin `b` starts, and moves on as it is filled, to where bin `b + 1` starts: so
        // `starts[..=bins]` ends up as the offsets, without a copy.
        let mut starts = vec![0u32; bins + 3];
        for (i, edges) in table.all_root_edges().enumerate() {
            for e in edges {
                let (from_low, from_high) = angle_bins_around(e.from_angle);
                let (to_low, to_high) = angle_bins_around(e.to_angle);
                let length = length_bin(e.length);
                let cell_bins = [
                    angle_cell(from_low, to_low) + length,
                    if to_high != to_low {
                        angle_cell(from_low, to_high) + length
                    } else {
                        spare
                    },
                    if from_high != from_low {
                        angle_cell(from_high, to_low) + length
                    } else {
                        spare
                    },
                    if (from_high != from_low) & (to_high != to_low) {
                        angle_cell(from_high, to_high) + length
                    } else {
                        spare
                    },
                ];
                for bin in cell_bins {
                    starts[bin + 2] += 1;
                }
                let entry = IndexedEdge {
                    length: e.length,
                    tolerance: length_tolerance(e.length),
                    from_angle: e.from_angle,
                    to_angle: e.to_angle,
                    from: i as u16,
                    to: e.to,
                };
                filed.push((cell_bins.map(|bin| bin as u16), entry));
            }
        }
        let mut sum = 0;
        for start in &mut starts[2..] {
            sum += *start;
            *start = sum;
        }
        let placeholder = IndexedEdge {
            length: 0.0,
            tolerance: 0.0,
            from_angle: 0,
            to_angle: 0,
            from: 0,
            to: 0,
        };
        let mut entries = vec![placeholder; filed.len() * 4];
        for (cell_bins, entry) in &filed {
            for &bin in cell_bins {
                let place = &mut starts[usize::from(bin) + 1];
                entries[*place as usize] = *entry;
                *place += 1;
            }
        }
        // The spare bin's entries, at the end, are never looked at.
        starts.truncate(bins + 1);
        entries.truncate(starts[bins] as usize);
        Self {
            offsets: starts,
            entries,
        }
    }

    /// The run of the index that holds every edge that may match `edge`: the length bins within
    /// tolerance of its length, in the cell of its angles.
    #[inline]
    fn run(&self, edge: &Edge, tolerance: f32) -> &[IndexedEdge] {
        let (lo, hi) = (length_bin(edge.length - tolerance), length_bin(edge.length + tolerance));
        let cell = angle_cell(angle_bin(edge.from_angle), angle_bin(edge.to_angle));
        &self.entries[self.offsets[cell + lo] as usize..self.offsets[cell + hi + 1] as usize]
    }
}

/// Which of the (at most 64) indexed edges of `run` match `edge`, whose [`length_tolerance`] is
/// `tolerance` (whose [`edge_mismatch`] is not `None`): bit `k` for `run[k]`.
///
/// The tests are edge_mismatch's, rearranged so that each costs a subtraction and a comparison:
/// the angles' by AngleWindow; and the length tolerance of the shorter edge is the smaller of the
/// two edges' own (it grows with the length). Every edge sets its bit without a branch: few of the
/// edges in the run match, at no predictable place, and a branch on each was often mispredicted.
/// (The mismatch itself, with its division, is left for the few that match.) A mask rather than a
/// list of the matching places, built from the last edge to the first so that each shifts the
/// ones after it up (one `lea`): 23 instructions an edge, where writing every place down and
/// moving on past a match took 28, with a store and its bounds check; over fvc2002-db3b's pairs
/// the scan loop runs 3.7M times.
#[inline]
fn matching(run: &[IndexedEdge], edge: &Edge, tolerance: f32) -> u64 {
    debug_assert!(run.len() <= 64);
    let window = AngleWindow::around(edge);
    let mut matches = 0;
    for e in run.iter().rev() {
        let angles_match = window.holds(e.from_angle, e.to_angle);
        let dl = (e.length - edge.length).abs();
        // The smaller tolerance by a selection, not `f32::min`, whose handling of NaN (which
        // neither is) cost four more instructions.
        let shorter_tolerance = if e.tolerance < tolerance {
            e.tolerance
        } else {
            tolerance
        };
        matches = matches << 1 | u64::from(angles_match & (dl <= shorter_tolerance));
    }
    matches
}

/// The probe minutia and neighbour of the indexed edge `e`, and its closeness to `edge` (whose
/// [`length_tolerance`] is `tolerance`), which it matches: [`MAX_EDGE_MISMATCH`] less their
/// [`edge_mismatch`].
#[inline]
fn closeness(e: &IndexedEdge, edge: &Edge, tolerance: f32) -> (u16, u16, f32) {
    let da = turn_gap(e.from_angle, edge.from_angle);
    let db = turn_gap(e.to_angle, edge.to_angle);
    let dl = (e.length - edge.length).abs();
    let tl = if e.tolerance < tolerance {
        e.tolerance
    } else {
        tolerance
    };
    let m = dl / tl + (da + db) as f32 / ANGLE_TOLERANCE_TURNS as f32;
    (e.from, e.to, MAX_EDGE_MISMATCH - m)
}

/// The most promising root pairs `(probe minutia, candidate minutia)`, best first: those whose
/// neighbourhoods share the most closely matching edges. `support` is scratch space.
pub(crate) fn root_pairs(
    index: &EdgeIndex,
    probe_count: usize,
    candidate: &EdgeTable,
    support: &mut Vec<f32>,
) -> Vec<(u16, u16)> {
    let nc = candidate.points.len();
    support.clear();
    support.resize(probe_count * nc, 0.0);
    for (j, edges) in candidate.all_root_edges().enumerate() {
        for f in edges {
            let tolerance = length_tolerance(f.length);
            // The matches in index order, which is the order their closeness is added up in.
            for run in index.run(f, tolerance).chunks(64) {
                let mut matches = matching(run, f, tolerance);
                while matches != 0 {
                    let e = &run[matches.trailing_zeros() as usize];
                    matches &= matches - 1;
                    let (i, to, closeness) = closeness(e, f, tolerance);
                    support[i as usize * nc + j] += closeness;
                    support[to as usize * nc + f.to as usize] += closeness;
                }
            }
        }
    }
    // The ROOT_CANDIDATES pairs with the most support, strongest first, ties going to the lower
    // probe and then candidate minutia, which is the lower place in `support`. They are kept
    // sorted, the weakest last, in places that start out with no support: supports are sums of
    // closenesses, none negative, and a pair without any is no root. The places are met in order,
    // so a pair gets in only with more support than the weakest kept (one with the same came
    // earlier and wins the tie). After the first rows nearly every pair fails that one comparison
    // with a number kept in a register, a branch the processor predicts well, about 3
    // instructions a pair; the few that pass (some 80 a comparison) shift the weaker ones down
    // a place. (A heap of keys packing support and place, that every pair went through, cost
    // about 10 a pair, 1.5-1.7% of all comparison instructions. Shifting with `copy_within`, a
    // `memmove` call per pass, took as few instructions but measured 1-2% slower in wall time;
    // testing runs of 8 pairs at once against the weakest before looking at each cost more
    // instructions, not fewer.)
    let mut best = [(0.0f32, 0u32); ROOT_CANDIDATES];
    let (mut kept, mut weakest) = (0, 0.0f32);
    for (place, &s) in (0u32..).zip(support.iter()) {
        if s > weakest {
            let mut at = kept.min(ROOT_CANDIDATES - 1);
            while at > 0 && best[at - 1].0 < s {
                best[at] = best[at - 1];
                at -= 1;
            }
            best[at] = (s, place);
            kept = (kept + 1).min(ROOT_CANDIDATES);
            weakest = best[ROOT_CANDIDATES - 1].0;
        }
    }
    best[..kept]
        .iter()
        .map(|&(_, place)| ((place as usize / nc) as u16, (place as usize % nc) as u16))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turns_wrap_around() {
        assert_eq!(to_turn(0.0), 0);
        assert_eq!(to_turn(TAU), 0);
        assert_eq!(to_turn(-std::f32::consts::FRAC_PI_2), 49152);
        assert_eq!(turn_gap(to_turn(0.1), to_turn(-0.1)), to_turn(0.2));
    }

    /// The neighbour search finds what a brute-force search over every pair finds, in the same
    /// order, on random point sets: sparse and dense ones (many ties in distance, points on top of
    /// each other), fewer than [`NEIGHBOURS_PER_MINUTIA`] points, 255 points, and coordinates
    /// at and beyond the clamp limit. (A guard for any faster search: the result must not change.)
    #[test]
    fn nearest_matches_brute_force() {
        // splitmix64: a small, deterministic generator so that failures reproduce.
        let mut state = 0x5EED_u64;
        let mut next = move |n: u64| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) % n
        };
        let limit = u64::from(MAX_SEARCH_COORDINATE_PX);
        for round in 0..3000 {
            let n = match round % 7 {
                0 => next(NEIGHBOURS_PER_MINUTIA as u64 + 2) as usize,
                1 => 255,
                _ => 1 + next(100) as usize,
            };
            // Squares from a few pixels wide (everything tied, or on top of each other) to wider
            // than an edge, some of them across the clamp limit.
            let side = [3, 12, 40, 150, 300, 1000][round % 6];
            let corner = if round % 5 == 0 { limit - side / 2 } else { next(1000) };
            let points: Vec<(u16, u16)> = (0..n)
                .map(|_| ((corner + next(side)) as u16, (corner + next(side)) as u16))
                .collect();
            let by_row = Nearest::rows(points.iter().copied());
            for (r, &(ay, ax, i)) in by_row.iter().enumerate() {
                let mut expected: Vec<i32> = by_row
                    .iter()
                    .filter(|&&(_, _, j)| j != i)
                    .map(|&(y, x, j)| ((y - ay) * (y - ay) + (x - ax) * (x - ax), j))
                    .filter(|&(squared, _)| squared <= MAX_SQUARED_LENGTH)
                    .map(|(squared, j)| squared << 16 | j)
                    .collect();
                expected.sort_unstable();
                expected.truncate(NEIGHBOURS_PER_MINUTIA);
                let found: Vec<i32> = Nearest::around(&by_row, r).keys().collect();
                assert_eq!(found, expected, "round {round}, minutia {i} of {n}");
            }
        }
    }

    #[test]
    fn edge_directions_are_the_exact_angle_to_within_one_unit_all_round() {
        let reach = MAX_EDGE_OFFSET_PX as i32;
        for dy in -reach..=reach {
            for dx in -reach..=reach {
                if dx == 0 && dy == 0 {
                    continue;
                }
                let exact = (f64::from(dy).atan2(f64::from(dx)) * (65536.0 / std::f64::consts::TAU)).round() as i64;
                let gap = turn_gap(direction(dx, dy), exact as Turn);
                assert!(gap <= 1, "({dx}, {dy}): {} against {exact}", direction(dx, dy));
            }
        }
        // Straight along each axis, exactly.
        assert_eq!(direction(5, 0), 0);
        assert_eq!(direction(0, 5), QUARTER_TURN);
        assert_eq!(direction(-5, 0), HALF_TURN);
        assert_eq!(direction(0, -5), 3 * QUARTER_TURN);
        assert_eq!(direction(0, 0), 0);
        // Offsets beyond an edge's reach are clamped, never out of the table.
        assert_eq!(direction(i32::MAX, i32::MIN), direction(reach, -reach));
    }
}
