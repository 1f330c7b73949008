//! Scoring, the last comparison stage: turns a pairing into a similarity score.
//!
//! The evidence is the number of edges between paired minutiae that agree in both prints beyond
//! the one each pair was reached by: chance pairings of two different fingers grow as thin trees,
//! true ones as dense webs. That count is then weighed by how much of the overlapping area is
//! paired, found by laying one print on the other with the pairing's rigid alignment, so that a
//! print full of spurious minutiae cannot score by sheer numbers. Laid on each other the same way,
//! two impressions of one finger also show the same ridge flow, which earns a bonus (see `flow`).

use crate::consolidation::Pairing;
use crate::flow::{agreement, RidgeFlow};
use crate::pairing::EdgeTable;
use crate::params::{
    ALIGNED_PAIR_RADIUS_PX, FLOW_AGREEMENT_FLOOR, FLOW_BONUS_MAX, FLOW_FULL_OVERLAP_CELLS, OVERLAP_RADIUS_PX,
    SCORE_ALIGNMENT_EXPONENT, SCORE_OVERLAP_EXPONENT,
};

/// How strongly a pairing's edges confirm each other (used to rank the pairings of one comparison).
pub(crate) fn evidence(pairing: &Pairing) -> f32 {
    pairing.support
}

/// The ridge flows of the two prints of a comparison, where their templates have one.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Flows<'a> {
    pub probe: Option<&'a RidgeFlow>,
    pub candidate: Option<&'a RidgeFlow>,
}

/// The similarity score of the best pairing of a comparison: the minutiae score, plus the ridge
/// flow bonus where the minutiae found anything at all.
pub(crate) fn score(pairing: &Pairing, probe: &EdgeTable, candidate: &EdgeTable, flows: Flows) -> f32 {
    let n = pairing.pairs.len();
    if n < 2 {
        return 0.0;
    }
    let placement = Placement::of(pairing, probe, candidate);
    let (overlap, aligned) = overlap_and_alignment(pairing, &placement, probe, candidate);
    let overlap = overlap.max(n);
    let aligned_share = aligned as f32 / n as f32;
    let minutiae_score = evidence(pairing)
        * (n as f32 / overlap as f32).powf(SCORE_OVERLAP_EXPONENT)
        * aligned_share.powf(SCORE_ALIGNMENT_EXPONENT);
    if minutiae_score > 0.0 {
        minutiae_score + flow_bonus(&placement, flows)
    } else {
        minutiae_score
    }
}

/// The bonus for ridge flow that agrees where the placement lays the prints on each other: none
/// up to a closeness of [`FLOW_AGREEMENT_FLOOR`], then rising linearly to [`FLOW_BONUS_MAX`] at
/// full agreement, scaled down for an overlap of fewer than [`FLOW_FULL_OVERLAP_CELLS`] cells.
/// Each print is laid on the other in turn and the closeness is the mean of the two, so that the
/// score does not depend on which print is the probe.
fn flow_bonus(placement: &Placement, flows: Flows) -> f32 {
    let (Some(probe), Some(candidate)) = (flows.probe, flows.candidate) else {
        return 0.0;
    };
    let forward = agreement(
        probe,
        candidate,
        placement.rotation,
        placement.probe_centre,
        placement.candidate_centre,
    );
    // The backward closeness is at most 1, so a forward one this low leaves the mean at or
    // below the floor whatever the other way gives: most pairs of different fingers stop here.
    // (The margin covers rounding in a weighted mean of cosines, none of which exceeds 1.)
    if (forward.closeness() + 1.0) / 2.0 < FLOW_AGREEMENT_FLOOR - 1e-3 {
        return 0.0;
    }
    let backward = agreement(
        candidate,
        probe,
        -placement.rotation,
        placement.candidate_centre,
        placement.probe_centre,
    );
    let closeness = (forward.closeness() + backward.closeness()) / 2.0;
    let above_floor = ((closeness - FLOW_AGREEMENT_FLOOR) / (1.0 - FLOW_AGREEMENT_FLOOR)).clamp(0.0, 1.0);
    let shared_cells = forward.cells.min(backward.cells);
    let area = (shared_cells as f32 / FLOW_FULL_OVERLAP_CELLS as f32).min(1.0);
    FLOW_BONUS_MAX * above_floor * area
}

/// The rigid placement that best lays a pairing's probe minutiae on their partners: the mean turn
/// from probe to candidate, and the centres of the paired minutiae in each print.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Placement {
    /// Rotation from the probe to the candidate, radians.
    pub rotation: f32,
    /// Centre of the paired probe minutiae.
    pub probe_centre: (f32, f32),
    /// Centre of the paired candidate minutiae.
    pub candidate_centre: (f32, f32),
}

impl Placement {
    /// The placement of a pairing with at least one pair.
    pub fn of(pairing: &Pairing, probe: &EdgeTable, candidate: &EdgeTable) -> Self {
        let n = pairing.pairs.len().max(1) as f32;
        let (mut cos_sum, mut sin_sum) = (0.0f32, 0.0f32);
        let (mut px, mut py, mut cx, mut cy) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
        for &(i, j) in pairing.pairs.iter() {
            let (p, c) = (&probe.points[i as usize], &candidate.points[j as usize]);
            let turn = c.angle - p.angle;
            cos_sum += turn.cos();
            sin_sum += turn.sin();
            px += p.x;
            py += p.y;
            cx += c.x;
            cy += c.y;
        }
        Placement {
            rotation: sin_sum.atan2(cos_sum),
            probe_centre: (px / n, py / n),
            candidate_centre: (cx / n, cy / n),
        }
    }

    /// Where a probe point lands on the candidate.
    pub fn apply(&self, x: f32, y: f32) -> (f32, f32) {
        let (cos, sin) = (self.rotation.cos(), self.rotation.sin());
        let (dx, dy) = (x - self.probe_centre.0, y - self.probe_centre.1);
        (
            cos * dx - sin * dy + self.candidate_centre.0,
            sin * dx + cos * dy + self.candidate_centre.1,
        )
    }
}

/// Lays the probe on the candidate by the pairing's rotation and translation, and counts: the larger
/// of the two prints' numbers of minutiae that lie in the area both cover, and the pairs that land
/// within [`ALIGNED_PAIR_RADIUS_PX`] of each other. A true pairing bends with the skin but stays
/// close to one rigid placement; a chance one wanders.
fn overlap_and_alignment(
    pairing: &Pairing,
    placement: &Placement,
    probe: &EdgeTable,
    candidate: &EdgeTable,
) -> (usize, usize) {
    let moved: Vec<(f32, f32)> = probe.points.iter().map(|p| placement.apply(p.x, p.y)).collect();
    let r2 = OVERLAP_RADIUS_PX * OVERLAP_RADIUS_PX;
    // Every moved probe minutia against every candidate minutia, once, marking both sides: one
    // pass without early exits, over the candidate's coordinates laid out in two arrays, which
    // the compiler turns into vector instructions (two passes that each stopped at the first
    // near minutia compared most pairs twice, one at a time).
    let (cx, cy): (Vec<f32>, Vec<f32>) = candidate.points.iter().map(|c| (c.x, c.y)).unzip();
    let mut candidate_near = vec![false; cx.len()];
    let mut probe_inside = 0;
    for &(x, y) in &moved {
        let mut inside = false;
        for ((near, &cx), &cy) in candidate_near.iter_mut().zip(&cx).zip(&cy) {
            let close = (x - cx).powi(2) + (y - cy).powi(2) < r2;
            *near |= close;
            inside |= close;
        }
        probe_inside += usize::from(inside);
    }
    let candidate_inside = candidate_near.iter().filter(|&&near| near).count();
    let a2 = ALIGNED_PAIR_RADIUS_PX * ALIGNED_PAIR_RADIUS_PX;
    let aligned = pairing
        .pairs
        .iter()
        .filter(|&&(i, j)| {
            let ((x, y), c) = (moved[i as usize], &candidate.points[j as usize]);
            (x - c.x).powi(2) + (y - c.y).powi(2) < a2
        })
        .count();
    (probe_inside.max(candidate_inside), aligned)
}
