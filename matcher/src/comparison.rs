//! Comparison: pairs the minutiae of two templates, consolidates the pairing and scores it.

use crate::Template;

/// A template prepared once for comparison against many candidates.
pub struct Probe {
    template: Template,
}

impl Probe {
    /// Prepares a probe.
    pub fn new(template: &Template) -> Self {
        Self { template: template.clone() }
    }

    /// Similarity of the probe and a candidate: 0 for no resemblance, higher for more.
    pub fn score(&self, candidate: &Template) -> f32 {
        let _ = (&self.template, candidate);
        0.0 // PLACEHOLDER: the matcher is being written
    }
}

/// Similarity of two templates (see [`Probe::score`]).
pub fn compare(a: &Template, b: &Template) -> f32 {
    Probe::new(a).score(b)
}
