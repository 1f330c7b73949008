//! Scoring, the last comparison stage: turns a pairing into a similarity score.

use crate::consolidation::Pairing;
use crate::pairing::EdgeTable;

/// Similarity of a pairing: grows with the paired minutiae and with the edges that confirm them,
/// and is discounted for templates so full of minutiae that chance pairings come easily.
pub(crate) fn score(pairing: &Pairing, probe: &EdgeTable, candidate: &EdgeTable) -> f32 {
    let n = pairing.pairs.len() as f32;
    if n < 2.0 {
        return 0.0;
    }
    let np = probe.points.len().max(1) as f32;
    let nc = candidate.points.len().max(1) as f32;
    let same_kind = pairing
        .pairs
        .iter()
        .filter(|&&(p, c)| probe.points[p as usize].bifurcation == candidate.points[c as usize].bifurcation)
        .count() as f32;
    let _ = same_kind;
    let support = pairing.supporting_edges as f32;
    let fraction = 0.5 * (n / np + n / nc);
    n + 0.25 * support + 10.0 * fraction
}
