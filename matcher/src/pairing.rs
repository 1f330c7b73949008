//! Pairing, the first comparison stage: describes each template by its edges (pairs of nearby
//! minutiae, by length and by each minutia's direction relative to the edge, which neither a shift
//! nor a rotation of the finger changes) and finds the pairs of minutiae, one from each template,
//! whose surroundings agree best. Those pairs are the roots from which consolidation grows a
//! pairing of the whole fingerprint.

use crate::minutiae::normalise;
use crate::params::{
    EDGE_ANGLE_TOLERANCE_RAD, EDGE_LENGTH_TOLERANCE_FRACTION, EDGE_LENGTH_TOLERANCE_PX, MAX_EDGE_LENGTH_PX,
    NEIGHBOURS_PER_MINUTIA, ROOT_CANDIDATES,
};
use crate::Template;
use std::f32::consts::TAU;

/// An angle in 1/65536ths of a full turn: differences wrap around for free, which keeps the
/// innermost comparison loops free of floating-point remainders.
pub(crate) type Turn = u16;

/// Converts radians to [`Turn`]s.
pub(crate) fn to_turn(radians: f32) -> Turn {
    (normalise(radians) / TAU * 65536.0).round() as u32 as Turn
}

/// The absolute difference of two directions in [`Turn`]s, `0..=32768`.
#[inline]
pub(crate) fn turn_gap(a: Turn, b: Turn) -> u16 {
    (a.wrapping_sub(b) as i16).unsigned_abs()
}

/// A minutia reduced to what comparison needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Point {
    pub x: f32,
    pub y: f32,
    pub angle: f32,
    pub bifurcation: bool,
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
#[derive(Debug, Clone)]
pub(crate) struct EdgeTable {
    pub points: Vec<Point>,
    pub edges: Vec<Vec<Edge>>,
}

impl EdgeTable {
    pub fn new(template: &Template) -> Self {
        let points: Vec<Point> = template
            .minutiae
            .iter()
            .map(|m| Point {
                x: m.x as f32,
                y: m.y as f32,
                angle: m.angle,
                bifurcation: m.kind == crate::MinutiaKind::Bifurcation,
            })
            .collect();
        let mut edges = Vec::with_capacity(points.len());
        let mut near: Vec<(f32, usize)> = Vec::with_capacity(points.len());
        for (i, a) in points.iter().enumerate() {
            near.clear();
            for (j, b) in points.iter().enumerate() {
                if i != j {
                    let d = (b.x - a.x).hypot(b.y - a.y);
                    if d <= MAX_EDGE_LENGTH_PX {
                        near.push((d, j));
                    }
                }
            }
            near.sort_by(|p, q| p.0.total_cmp(&q.0));
            near.truncate(NEIGHBOURS_PER_MINUTIA);
            edges.push(near.iter().map(|&(d, j)| edge(a, &points[j], j, d)).collect());
        }
        Self { points, edges }
    }
}

fn edge(a: &Point, b: &Point, to: usize, length: f32) -> Edge {
    let direction = (b.y - a.y).atan2(b.x - a.x);
    Edge {
        to: to as u16,
        length,
        from_angle: to_turn(a.angle - direction),
        to_angle: to_turn(b.angle - direction),
    }
}

/// Largest length difference two edges of this length may have and still match, px.
#[inline]
pub(crate) fn length_tolerance(length: f32) -> f32 {
    EDGE_LENGTH_TOLERANCE_PX + EDGE_LENGTH_TOLERANCE_FRACTION * length
}

/// How badly two edges disagree, 0 for identical, or `None` if they do not match at all.
#[inline]
pub(crate) fn edge_mismatch(p: &Edge, c: &Edge) -> Option<f32> {
    let dl = (p.length - c.length).abs();
    let tl = length_tolerance(p.length.min(c.length));
    if dl > tl {
        return None;
    }
    let tolerance = to_turn(EDGE_ANGLE_TOLERANCE_RAD);
    let da = turn_gap(p.from_angle, c.from_angle);
    let db = turn_gap(p.to_angle, c.to_angle);
    if da > tolerance || db > tolerance {
        return None;
    }
    Some(dl / tl + (da + db) as f32 / tolerance as f32)
}

/// The most promising root pairs `(probe minutia, candidate minutia)`, best first: those whose
/// neighbourhoods share the most matching edges.
pub(crate) fn root_pairs(probe: &EdgeTable, candidate: &EdgeTable) -> Vec<(u16, u16)> {
    let mut scored: Vec<(f32, u16, u16)> = Vec::new();
    for (i, pe) in probe.edges.iter().enumerate() {
        for (j, ce) in candidate.edges.iter().enumerate() {
            let mut support = 0.0;
            let mut k = 0;
            for p in pe {
                // Both lists are sorted by length: skip candidate edges too short to match.
                while k < ce.len() && ce[k].length < p.length - length_tolerance(p.length) {
                    k += 1;
                }
                let mut best: Option<f32> = None;
                for c in &ce[k..] {
                    if c.length > p.length + length_tolerance(p.length) {
                        break;
                    }
                    if let Some(m) = edge_mismatch(p, c) {
                        best = Some(best.map_or(m, |b: f32| b.min(m)));
                    }
                }
                if let Some(m) = best {
                    support += 3.0 - m;
                }
            }
            if support > 0.0 {
                scored.push((support, i as u16, j as u16));
            }
        }
    }
    let keep = ROOT_CANDIDATES.min(scored.len());
    if keep > 0 && keep < scored.len() {
        scored.select_nth_unstable_by(keep - 1, |a, b| b.0.total_cmp(&a.0));
        scored.truncate(keep);
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    scored.into_iter().map(|(_, i, j)| (i, j)).collect()
}
