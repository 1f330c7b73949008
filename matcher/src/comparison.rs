//! Comparison: pairs the minutiae of two templates (`pairing`), grows a pairing from each of the
//! most promising roots (`consolidation`), and scores the best (`scoring`).

use crate::consolidation::{grow, Pairing, Scratch};
use crate::pairing::{root_pairs, EdgeIndex, EdgeTable};
use crate::scoring::{evidence, score};
use crate::Template;

/// A template prepared once for comparison against many candidates.
#[derive(Debug, Clone)]
pub struct Probe {
    table: EdgeTable,
    index: EdgeIndex,
}

impl Probe {
    /// Prepares a probe.
    pub fn new(template: &Template) -> Self {
        let table = EdgeTable::new(template);
        let index = EdgeIndex::new(&table);
        Self { table, index }
    }

    /// Similarity of the probe and a candidate: 0 for no resemblance, higher for more. See the
    /// crate documentation for the table of thresholds and false match rates.
    pub fn score(&self, candidate: &Template) -> f32 {
        let candidate = EdgeTable::new(candidate);
        let mut scratch = Scratch::default();
        let mut support = Vec::new();
        let roots = root_pairs(&self.table, &self.index, &candidate, &mut support);
        // A root already paired by an earlier pairing would mostly grow that pairing again.
        let nc = candidate.points.len();
        let mut covered = vec![false; self.table.points.len() * nc];
        let mut best: Option<Pairing> = None;
        for root in roots {
            if covered[root.0 as usize * nc + root.1 as usize] {
                continue;
            }
            let pairing = grow(&self.table, &candidate, root, &mut scratch);
            for &(i, j) in &pairing.pairs {
                covered[i as usize * nc + j as usize] = true;
            }
            if best.as_ref().is_none_or(|b| evidence(&pairing) > evidence(b)) {
                best = Some(pairing);
            }
        }
        best.map_or(0.0, |b| score(&b, &self.table, &candidate))
    }
}

/// Similarity of two templates (see [`Probe::score`]).
pub fn compare(a: &Template, b: &Template) -> f32 {
    Probe::new(a).score(b)
}
