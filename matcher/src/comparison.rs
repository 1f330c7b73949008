//! Comparison: pairs the minutiae of two templates (`pairing`), grows a pairing from each of the
//! most promising roots (`consolidation`), lets the best one take in the others that lie where its
//! rigid placement puts them, and scores it (`scoring`).

use crate::angles::angle_gap;
use crate::consolidation::{grow, Pairing, Scratch};
use crate::flow::RidgeFlow;
use crate::pairing::{root_pairs, EdgeIndex, EdgeTable};
use crate::params::{
    EARLY_MIN_EVIDENCE, EARLY_ROOTS, JOIN_MIN_PAIRS, JOIN_POSITION_TOLERANCE_PX, JOIN_ROTATION_TOLERANCE_RAD,
};
use crate::scoring::{evidence, score, Flows, Placement};
use crate::Template;
use std::borrow::Cow;
use std::ops::Range;

/// A template prepared once for comparison against many candidates.
#[derive(Debug, Clone)]
pub struct Probe {
    table: EdgeTable,
    index: EdgeIndex,
    flow: Option<RidgeFlow>,
}

impl Probe {
    /// Prepares a probe. All its edges are worked out here, once for every candidate.
    pub fn new(template: &Template) -> Self {
        let mut table = EdgeTable::new(template);
        table.complete_all();
        let index = EdgeIndex::new(&table);
        Self {
            table,
            index,
            flow: template.flow.clone(),
        }
    }

    /// Similarity of the probe and a candidate: 0 for no resemblance, higher for more. See the
    /// crate documentation for the table of thresholds and false match rates.
    pub fn score(&self, candidate: &Template) -> f32 {
        // Growing works out edges where it needs them, so it takes both tables to change; the
        // probe's are all worked out already, and a copy keeps a prepared probe shareable.
        let flows = Flows {
            probe: self.flow.as_ref(),
            candidate: candidate.flow.as_ref(),
        };
        score_tables(
            &mut self.table.clone(),
            &self.index,
            &mut EdgeTable::new(candidate),
            flows,
        )
    }
}

/// Similarity of the templates laid out as `probe` (indexed by `index`) and `candidate`, whose
/// ridge flows are `flows`.
fn score_tables(probe: &mut EdgeTable, index: &EdgeIndex, candidate: &mut EdgeTable, flows: Flows) -> f32 {
    let mut scratch = Scratch::new();
    let mut support = Vec::new();
    let roots = root_pairs(index, probe.points.len(), candidate, &mut support);
    // A root already paired by an earlier pairing would mostly grow that pairing again. One bit
    // per pair of minutiae: a byte each took a few KB to clear for every comparison.
    let nc = candidate.points.len();
    let mut covered = vec![0u64; (probe.points.len() * nc).div_ceil(64)];
    // The pairs of every pairing, one run each (see `grow`), with room for the few pairings of
    // two different fingers (see EARLY_ROOTS below), whose runs are at most this long.
    let mut pairs = Vec::with_capacity(probe.points.len().min(nc) * EARLY_ROOTS);
    // Each as the run of `pairs` it holds and its support.
    let mut pairings: Vec<(Range<usize>, f32)> = Vec::with_capacity(roots.len());
    for (tried, root) in roots.into_iter().enumerate() {
        // Two different fingers rarely grow a strong pairing from any root, while two
        // impressions of one finger almost always do from one of the few best: once those are
        // all weak, the rest would mostly grow more chance pairings.
        if tried == EARLY_ROOTS
            && pairings
                .iter()
                .all(|p| evidence(&pairing(&pairs, p)) < EARLY_MIN_EVIDENCE)
        {
            break;
        }
        let bit = root.0 as usize * nc + root.1 as usize;
        if covered[bit / 64] >> (bit % 64) & 1 != 0 {
            continue;
        }
        let first = pairs.len();
        let support = grow(probe, candidate, root, &mut scratch, &mut pairs);
        for &(i, j) in &pairs[first..] {
            let bit = i as usize * nc + j as usize;
            covered[bit / 64] |= 1 << (bit % 64);
        }
        pairings.push((first..pairs.len(), support));
    }
    let mut pairings: Vec<Pairing> = pairings.iter().map(|p| pairing(&pairs, p)).collect();
    // Strongest first; equal evidence keeps the order the roots came in.
    pairings.sort_by(|a, b| evidence(b).total_cmp(&evidence(a)));
    let mut rest = pairings.into_iter();
    let Some(mut best) = rest.next() else {
        return 0.0;
    };
    join_consistent(&mut best, rest, probe, candidate);
    score(&best, probe, candidate, flows)
}

/// The pairing that holds `run` of `pairs` and has `support`.
fn pairing<'a>(pairs: &'a [(u16, u16)], (run, support): &(Range<usize>, f32)) -> Pairing<'a> {
    Pairing {
        pairs: Cow::Borrowed(&pairs[run.clone()]),
        support: *support,
    }
}

/// Adds to `best`, strongest first, every other pairing that shares no minutia with it and lies
/// where `best`'s rigid placement puts it: skin distortion or a stretch of unreadable ridges can
/// stop one pairing from growing over the whole overlap, and the pieces of a true match agree on
/// where the prints lie, while chance pairings scatter.
fn join_consistent<'a>(
    best: &mut Pairing,
    others: impl Iterator<Item = Pairing<'a>>,
    probe: &EdgeTable,
    candidate: &EdgeTable,
) {
    let placement = Placement::of(best, probe, candidate);
    for other in others {
        if other.pairs.len() < JOIN_MIN_PAIRS {
            continue;
        }
        let shares_a_minutia = other
            .pairs
            .iter()
            .any(|&(i, j)| best.pairs.iter().any(|&(bi, bj)| bi == i || bj == j));
        if shares_a_minutia {
            continue;
        }
        let own = Placement::of(&other, probe, candidate);
        let landed = placement.apply(own.probe_centre.0, own.probe_centre.1);
        let off_by = (landed.0 - own.candidate_centre.0).hypot(landed.1 - own.candidate_centre.1);
        if angle_gap(own.rotation, placement.rotation) <= JOIN_ROTATION_TOLERANCE_RAD
            && off_by <= JOIN_POSITION_TOLERANCE_PX
        {
            best.pairs.to_mut().extend_from_slice(&other.pairs);
            best.support += other.support;
        }
    }
}

/// Similarity of two templates (see [`Probe::score`]). Both are laid out here as they are needed,
/// the longer edges only where growing reaches them.
pub fn compare(a: &Template, b: &Template) -> f32 {
    let mut probe = EdgeTable::new(a);
    let index = EdgeIndex::new(&probe);
    let flows = Flows {
        probe: a.flow.as_ref(),
        candidate: b.flow.as_ref(),
    };
    score_tables(&mut probe, &index, &mut EdgeTable::new(b), flows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Minutia, MinutiaKind};

    fn assert_thread_safe<T: Send + Sync>() {}

    #[test]
    fn probes_and_templates_can_be_shared_between_threads() {
        assert_thread_safe::<Probe>();
        assert_thread_safe::<Template>();
    }

    /// A template with minutiae on a jittered grid, turned by `turn` radians and shifted.
    fn grid(turn: f32, shift: (f32, f32)) -> Template {
        let mut minutiae = Vec::new();
        for k in 0..40u32 {
            let (x, y) = (
                40.0 + (k % 8) as f32 * 27.0 + (k * 7 % 5) as f32,
                40.0 + (k / 8) as f32 * 31.0,
            );
            let (c, s) = (turn.cos(), turn.sin());
            let (rx, ry) = (
                c * (x - 150.0) - s * (y - 120.0) + 200.0 + shift.0,
                s * (x - 150.0) + c * (y - 120.0) + 200.0 + shift.1,
            );
            minutiae.push(Minutia {
                x: rx.round() as u16,
                y: ry.round() as u16,
                angle: crate::angles::normalise(k as f32 * 0.9 + turn),
                kind: if k % 3 == 0 {
                    MinutiaKind::Bifurcation
                } else {
                    MinutiaKind::Ending
                },
                quality: 80,
            });
        }
        Template {
            width: 420,
            height: 420,
            quality: 80,
            minutiae,
            flow: None,
        }
    }

    #[test]
    fn minutiae_at_the_far_end_of_the_coordinate_range_compare_without_overflow() {
        // Half of them at the far corner, half near the origin: distances across the whole range.
        let mut far = grid(0.0, (0.0, 0.0));
        for (k, m) in far.minutiae.iter_mut().enumerate().filter(|(k, _)| k % 2 == 0) {
            m.x = u16::MAX - (k as u16 % 8) * 20;
            m.y = u16::MAX - (k as u16 / 8) * 25;
        }
        let score = compare(&far, &far);
        assert!(score.is_finite() && score >= 0.0);
        assert!(compare(&far, &grid(0.0, (0.0, 0.0))).is_finite());
    }

    #[test]
    fn a_turned_and_shifted_copy_scores_far_above_an_unrelated_print() {
        let original = grid(0.0, (0.0, 0.0));
        let moved = grid(0.5, (15.0, -10.0));
        let mut unrelated = grid(0.0, (0.0, 0.0));
        for (k, m) in unrelated.minutiae.iter_mut().enumerate() {
            m.angle = crate::angles::normalise(m.angle + (k * k) as f32 * 1.3);
        }
        let same = compare(&original, &moved);
        let other = compare(&original, &unrelated);
        assert!(same > 4.0 * other.max(1.0), "same {same}, other {other}");
        assert_eq!(
            Probe::new(&original).score(&moved),
            same,
            "a prepared probe scores as compare does"
        );
    }

    #[test]
    fn the_score_does_not_depend_on_which_print_is_the_probe() {
        let original = grid(0.0, (0.0, 0.0));
        let mut partial = grid(0.35, (-20.0, 12.0));
        partial.minutiae.truncate(28);
        partial.minutiae[3].angle = crate::angles::normalise(partial.minutiae[3].angle + 2.0);
        let (forward, backward) = (compare(&original, &partial), compare(&partial, &original));
        assert!(forward > 0.0);
        assert_eq!(forward, backward, "enrolment and verification must agree on a pair");
    }

    /// A ridge flow map for `grid` templates (420 x 420 px): straight ridges at `orientation`
    /// radians everywhere.
    fn straight_flow(orientation: f32) -> RidgeFlow {
        let units = ((orientation / std::f32::consts::PI * 256.0).round() as i64).rem_euclid(256) as u8;
        let side = crate::flow::cells_for(420);
        let cell = crate::FlowCell {
            orientation: units,
            coherence: 200,
        };
        RidgeFlow::new(side, side, vec![cell; usize::from(side) * usize::from(side)]).unwrap()
    }

    #[test]
    fn agreeing_ridge_flow_raises_the_score_and_crossing_flow_does_not() {
        let (mut original, mut moved) = (grid(0.0, (0.0, 0.0)), grid(0.5, (15.0, -10.0)));
        let minutiae_only = compare(&original, &moved);
        original.flow = Some(straight_flow(0.3));
        // The same ridges, turned with the print.
        moved.flow = Some(straight_flow(0.8));
        let with_flow = compare(&original, &moved);
        assert!(
            with_flow > minutiae_only + 0.9 * crate::params::FLOW_BONUS_MAX,
            "{minutiae_only} -> {with_flow}"
        );
        assert_eq!(compare(&moved, &original), with_flow, "still symmetric");
        assert_eq!(Probe::new(&original).score(&moved), with_flow);
        // Ridges crossing where they should run alike earn nothing.
        moved.flow = Some(straight_flow(0.8 + std::f32::consts::FRAC_PI_2));
        assert_eq!(compare(&original, &moved), minutiae_only);
        // Nor does a print without a flow map.
        moved.flow = None;
        assert_eq!(compare(&original, &moved), minutiae_only);
        // And the flow alone makes no match: an unrelated print gets no bonus without a pairing.
        let empty = Template {
            width: 420,
            height: 420,
            quality: 50,
            minutiae: vec![],
            flow: Some(straight_flow(0.3)),
        };
        assert_eq!(compare(&original, &empty), 0.0);
    }

    #[test]
    fn empty_and_tiny_templates_score_zero() {
        let empty = Template {
            width: 100,
            height: 100,
            quality: 0,
            minutiae: vec![],
            flow: None,
        };
        let full = grid(0.0, (0.0, 0.0));
        assert_eq!(compare(&empty, &full), 0.0);
        assert_eq!(compare(&full, &empty), 0.0);
        assert_eq!(compare(&empty, &empty), 0.0);
    }

    #[test]
    fn a_template_stuffed_with_minutiae_does_not_match_everything() {
        let original = grid(0.0, (0.0, 0.0));
        let mut state = 12345u32;
        let mut next = move || {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            state >> 8
        };
        let stuffed = Template {
            width: 420,
            height: 420,
            quality: 100,
            minutiae: (0..crate::params::MAX_MINUTIAE)
                .map(|_| Minutia {
                    x: (next() % 420) as u16,
                    y: (next() % 420) as u16,
                    angle: (next() % 6283) as f32 / 1000.0,
                    kind: MinutiaKind::Ending,
                    quality: 100,
                })
                .collect(),
            flow: None,
        };
        let genuine = compare(&original, &grid(0.3, (5.0, 5.0)));
        let stuffed_score = compare(&original, &stuffed).max(compare(&stuffed, &original));
        // 7.97 is the threshold for an FMR of 0.1% on the FVC databases (crate docs).
        assert!(
            stuffed_score < 7.97,
            "stuffed template scored {stuffed_score} (genuine {genuine})"
        );
        // Nor when it also carries its victim's own ridge flow: the flow bonus only adds to what
        // the minutiae found, laid where their pairing puts them.
        let (mut victim, mut forged) = (original.clone(), stuffed.clone());
        victim.flow = Some(straight_flow(0.3));
        forged.flow = victim.flow.clone();
        let forged_score = compare(&victim, &forged).max(compare(&forged, &victim));
        assert!(
            forged_score < 7.97,
            "stuffed template with the victim's flow scored {forged_score}"
        );
    }

    /// The pairs of `grid` minutiae `range`, each paired with the same-numbered one of the other
    /// print plus `offset` (wrapping).
    fn pairs_of(range: std::ops::Range<u16>, offset: u16) -> Pairing<'static> {
        Pairing {
            pairs: range.map(|k| (k, (k + offset) % 40)).collect(),
            support: 5.0,
        }
    }

    #[test]
    fn pieces_of_one_match_are_joined_and_chance_pairings_are_not() {
        let probe = EdgeTable::new(&grid(0.0, (0.0, 0.0)));
        let candidate = EdgeTable::new(&grid(0.4, (12.0, -7.0)));
        // The top and bottom halves of the same placement: one match in two pieces.
        let mut best = pairs_of(0..20, 0);
        join_consistent(&mut best, [pairs_of(20..40, 0)].into_iter(), &probe, &candidate);
        assert_eq!(
            best.pairs.len(),
            40,
            "the second piece lies where the first one puts it"
        );
        assert_eq!(best.support, 10.0);

        // The same minutiae paired with others three places along: they land elsewhere.
        let mut best = pairs_of(0..20, 0);
        join_consistent(&mut best, [pairs_of(20..40, 3)].into_iter(), &probe, &candidate);
        assert_eq!(best.pairs.len(), 20, "a pairing that lands elsewhere stays out");

        // A pairing that reuses a minutia of the best one cannot join, however well it lies.
        let mut best = pairs_of(0..20, 0);
        join_consistent(&mut best, [pairs_of(19..30, 0)].into_iter(), &probe, &candidate);
        assert_eq!(best.pairs.len(), 20, "pairings that share a minutia stay apart");
    }
}
