//! Consolidation, the second comparison stage: from one root pair it grows a pairing of the two
//! fingerprints edge by edge, always taking next the best-agreeing edge that leads from an already
//! paired minutia to an unpaired one. Because every step only compares nearby minutiae, the pairing
//! bends with the skin's elastic distortion instead of demanding one rigid alignment of the prints.

use crate::pairing::{edge_mismatch, AngleWindow, Edge, EdgeTable, MAX_EDGE_MISMATCH, NO_EDGE};
use crate::params::{
    MIN_AGREEING_EDGES, MIN_PAIRS_BEFORE_CONFIRMATION, NEIGHBOURS_PER_MINUTIA, SUPPORT_CLOSENESS_EXPONENT,
};
use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// The pairing grown from one root, or several joined.
#[derive(Debug, Clone, Default)]
pub(crate) struct Pairing<'a> {
    /// Paired minutiae, `(probe index, candidate index)`, root first: a run of the list that the
    /// pairings of a comparison share (see [`grow`]), copied only where pairings are joined.
    pub pairs: Cow<'a, [(u16, u16)]>,
    /// Edges between paired minutiae that agree in both prints, each weighted by how closely it
    /// agrees (1 for a perfect match, falling to 0 at the tolerance).
    pub support: f32,
}

const NONE: u16 = u16::MAX;

/// A pair waiting in the queue, as one key `mismatch bits << 32 | probe << 16 | candidate`: a
/// mismatch is never negative, and non-negative floats order as their bits do, so the smallest key
/// is the smallest mismatch, ties going to the lower probe and then candidate minutia.
type Step = Reverse<u64>;

fn step(mismatch: f32, probe: u16, candidate: u16) -> Step {
    Reverse(u64::from(mismatch.to_bits()) << 32 | u64::from(probe) << 16 | u64::from(candidate))
}

/// Buffers that the pairings of one comparison reuse.
#[derive(Debug)]
pub(crate) struct Scratch {
    probe_to_candidate: Vec<u16>,
    candidate_to_probe: Vec<u16>,
    queue: BinaryHeap<Step>,
}

impl Scratch {
    pub fn new() -> Self {
        Self {
            probe_to_candidate: Vec::new(),
            candidate_to_probe: Vec::new(),
            // Room for every queue of fvc2002-db2b's pairs (178 at most, nearly all below 16),
            // taken at once: growing it step by step from empty took a few reallocations per
            // comparison.
            queue: BinaryHeap::with_capacity(256),
        }
    }
}

/// Grows the pairing from `root`: appends its pairs, root first, to `pairs` (which the pairings
/// of one comparison share: one allocation for them all, where a list each took one or more
/// allocations per pairing, 21 pairings per comparison on average over fvc2002-db2b's pairs)
/// and returns its support (see [`Pairing`]).
pub(crate) fn grow(
    probe: &mut EdgeTable,
    candidate: &mut EdgeTable,
    root: (u16, u16),
    scratch: &mut Scratch,
    pairs: &mut Vec<(u16, u16)>,
) -> f32 {
    scratch.probe_to_candidate.clear();
    scratch.probe_to_candidate.resize(probe.points.len(), NONE);
    scratch.candidate_to_probe.clear();
    scratch.candidate_to_probe.resize(candidate.points.len(), NONE);
    scratch.queue.clear();
    let first = pairs.len();
    let mut total_support = 0.0;
    scratch.queue.push(step(0.0, root.0, root.1));
    while let Some(Reverse(key)) = scratch.queue.pop() {
        let (p, c) = ((key >> 16) as u16, key as u16);
        if scratch.probe_to_candidate[p as usize] != NONE || scratch.candidate_to_probe[c as usize] != NONE {
            continue;
        }
        probe.complete(p as usize);
        candidate.complete(c as usize);
        let (pe, ce) = (probe.edges_of(p as usize), candidate.edges_of(c as usize));
        let (p_places, c_places) = (probe.places_of(p as usize), candidate.places_of(c as usize));
        // Once the pairing has taken shape, a new pair must also be confirmed from its own side:
        // some of its own nearest edges must reach paired minutiae and agree there. (Requiring
        // two such edges instead of one measured worse: true pairs in distorted or sparse areas
        // were refused.)
        let (agreeing, support) = agreeing_edges((pe, p_places), (ce, c_places), &scratch.probe_to_candidate);
        if pairs.len() - first >= MIN_PAIRS_BEFORE_CONFIRMATION && agreeing < MIN_AGREEING_EDGES {
            continue;
        }
        scratch.probe_to_candidate[p as usize] = c;
        scratch.candidate_to_probe[c as usize] = p;
        pairs.push((p, c));
        total_support += support;
        // Offer every edge leaving the new pair that agrees in both prints and leads to two
        // unpaired minutiae. Edges to paired minutiae are set aside first, which in a growing
        // pairing are many, so that only the rest are compared, each against each. (The order of
        // the offers does not matter: the queue orders them by their whole key.)
        //
        // Every loop here runs over all the places of a minutia's edges, a fixed count, with the
        // places past its edges and the edges to paired minutiae masked off: a loop as long as
        // the edges, or one that skipped the paired ones, missed its exit or its skip about once
        // per pair grown (callgrind's branch simulation, fvc2002-db2b's impostor pairs).
        let mut open = [NO_EDGE; NEIGHBOURS_PER_MINUTIA];
        let mut open_count = 0;
        for (k, f) in c_places.iter().enumerate() {
            open[open_count] = *f;
            open_count += usize::from((k < ce.len()) & (scratch.candidate_to_probe[f.to as usize] == NONE));
        }
        let open_lanes = (1u32 << open_count) - 1;
        // Nearly all pairs of edges fail on the angles, so those are tested first, cheaply and
        // without a branch, into one bit per pair: row `i` (the probe's edge) in bits
        // `16 * (i % 4)..` of word `i / 4`, lane `k` (the open edge). Only the few that pass are
        // looked at, three loops over the bits set in all, where a loop over each open edge's
        // bits missed about every third exit.
        let mut passes = [0u64; NEIGHBOURS_PER_MINUTIA / 4];
        for (i, e) in p_places.iter().enumerate() {
            let row_open = (i < pe.len()) & (scratch.probe_to_candidate[e.to as usize] == NONE);
            let window = AngleWindow::around(e);
            let mut passed = 0u32;
            for (k, f) in open.iter().enumerate() {
                passed |= u32::from(window.holds(f.from_angle, f.to_angle)) << k;
            }
            passed &= open_lanes & 0u32.wrapping_sub(u32::from(row_open));
            passes[i / 4] |= u64::from(passed) << (16 * (i % 4));
        }
        for (w, mut bits) in passes.into_iter().enumerate() {
            while bits != 0 {
                let at = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let (e, f) = (&p_places[4 * w + at / 16], &open[at % 16]);
                if let Some(m) = edge_mismatch(e, f) {
                    scratch.queue.push(step(m, e.to, f.to));
                }
            }
        }
    }
    total_support
}

/// How many of `p`'s edges lead to a paired minutia whose partner `c` reaches by an agreeing edge,
/// and the sum of their closeness weights. `pe` and `ce` are their edges, `p_places` and
/// `c_places` all the places of those (see [`EdgeTable::places_of`]).
///
/// Which of `p`'s edges lead to paired minutiae, and where among `c`'s edges their partners are,
/// are anyone's guess: a loop that skipped the unpaired ends and searched `ce` for each partner
/// missed a branch at most of those steps and at its exits. Here the paired ends are found into
/// a mask and each partner by a comparison with all of `c`'s ends at once, both without a branch,
/// and the edges are then taken in the same order as before, which keeps the sum as it was.
fn agreeing_edges(
    (pe, p_places): (&[Edge], &[Edge; NEIGHBOURS_PER_MINUTIA]),
    (ce, c_places): (&[Edge], &[Edge; NEIGHBOURS_PER_MINUTIA]),
    probe_to_candidate: &[u16],
) -> (u32, f32) {
    // The ends of `c`'s edges, NONE past them, which no partner is.
    let mut ends = [NONE; NEIGHBOURS_PER_MINUTIA];
    for (k, (end, f)) in ends.iter_mut().zip(c_places).enumerate() {
        *end = if k < ce.len() { f.to } else { NONE };
    }
    let mut paired = 0u32;
    for (i, e) in p_places.iter().enumerate() {
        paired |= u32::from((i < pe.len()) & (probe_to_candidate[e.to as usize] != NONE)) << i;
    }
    let (mut count, mut weight) = (0, 0.0);
    while paired != 0 {
        let e = &p_places[paired.trailing_zeros() as usize];
        paired &= paired - 1;
        let partner = probe_to_candidate[e.to as usize];
        // One past the place of the edge of `c` to the partner (minutiae are each other's
        // neighbours once at most), 0 for none.
        let mut place = 0;
        for (k, &end) in ends.iter().enumerate() {
            place |= if end == partner { k as u16 + 1 } else { 0 };
        }
        if place == 0 {
            continue;
        }
        if let Some(m) = edge_mismatch(e, &c_places[usize::from(place - 1)]) {
            count += 1;
            weight += (1.0 - m / MAX_EDGE_MISMATCH).powf(SUPPORT_CLOSENESS_EXPONENT);
        }
    }
    (count, weight)
}
