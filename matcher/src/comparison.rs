//! Comparison: pairs the minutiae of two templates (`pairing`), grows a pairing from each of the
//! most promising roots (`consolidation`), and scores the best (`scoring`).

use crate::consolidation::{grow, Scratch};
use crate::pairing::{root_pairs, EdgeTable};
use crate::scoring::score;
use crate::Template;

/// A template prepared once for comparison against many candidates.
#[derive(Debug, Clone)]
pub struct Probe {
    table: EdgeTable,
}

impl Probe {
    /// Prepares a probe.
    pub fn new(template: &Template) -> Self {
        Self {
            table: EdgeTable::new(template),
        }
    }

    /// Similarity of the probe and a candidate: 0 for no resemblance, higher for more. See the
    /// crate documentation for the table of thresholds and false match rates.
    pub fn score(&self, candidate: &Template) -> f32 {
        let candidate = EdgeTable::new(candidate);
        let mut scratch = Scratch::default();
        root_pairs(&self.table, &candidate)
            .into_iter()
            .map(|root| {
                score(
                    &grow(&self.table, &candidate, root, &mut scratch),
                    &self.table,
                    &candidate,
                )
            })
            .fold(0.0, f32::max)
    }
}

/// Similarity of two templates (see [`Probe::score`]).
pub fn compare(a: &Template, b: &Template) -> f32 {
    Probe::new(a).score(b)
}
