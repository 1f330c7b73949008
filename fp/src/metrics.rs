//! Error rates from lists of genuine and impostor scores: EER, FNMR at a bounded FMR, and the
//! threshold table that calibrates scores.
//!
//! A pair is a match when `score >= threshold` (ties match). A pair that could not be scored (an
//! image that failed to extract) carries `f64::NEG_INFINITY`, the lowest possible score, so it is
//! rejected at every finite threshold. Rates are fractions inside this module's functions and
//! percent in [`ErrorRates`].
//!
//! The EER is read where the FMR and FNMR curves cross. With `t1` the highest threshold where
//! FNMR <= FMR and `t2` the lowest where FNMR >= FMR (the two scores that bracket the crossing; one
//! threshold when the curves meet exactly), it is the mean of FMR and FNMR at whichever of the two
//! has them closer together (at both, averaged, on a tie). This is the definition behind the NBIS
//! figures of the dataset README, which `shimon-fp eval --peer nbis` reproduces on all six
//! databases. [`ScoreSets::eer_fvc`] gives the FVC2000 variant (Maio et al., IEEE PAMI 24(3),
//! 2002), which picks the bracket by the smaller FMR + FNMR and differs by up to about a point.

use serde::Serialize;

/// The four headline figures, in percent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ErrorRates {
    /// Equal error rate, percent (see the module docs for the definition).
    pub eer: f64,
    /// FNMR at the lowest threshold with FMR <= 1%, percent.
    pub fmr100: f64,
    /// FNMR at the lowest threshold with FMR <= 0.1%, percent.
    pub fmr1000: f64,
    /// FNMR at the lowest threshold with FMR = 0, percent.
    pub zero_fmr: f64,
}

/// One row of the threshold table: the lowest threshold at which FMR falls to a target.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ThresholdRow {
    /// The FMR asked for, percent.
    pub target_fmr: f64,
    /// The lowest threshold (`score >= threshold` matches) reaching it; infinite when only
    /// rejecting every pair does.
    pub threshold: f64,
    /// The FMR actually reached there, percent.
    pub fmr: f64,
    /// The FNMR there, percent.
    pub fnmr: f64,
}

/// FMR targets of the threshold table, percent.
pub const THRESHOLD_TABLE_FMR_PERCENT: [f64; 5] = [10.0, 1.0, 0.1, 0.01, 0.0];

/// Genuine and impostor scores sorted once, for answering several questions.
#[derive(Debug, Clone)]
pub struct ScoreSets {
    genuine: Vec<f64>,
    impostor: Vec<f64>,
    /// Every distinct score, ascending, then `+inf` (reject all): the thresholds worth trying,
    /// since the rates only change at a score.
    thresholds: Vec<f64>,
}

fn sorted(scores: &[f64]) -> Vec<f64> {
    // NaN means "could not be scored": the lowest possible score.
    let mut v: Vec<f64> = scores
        .iter()
        .map(|&s| if s.is_nan() { f64::NEG_INFINITY } else { s })
        .collect();
    v.sort_by(f64::total_cmp);
    v
}

impl ScoreSets {
    /// Sorts the scores.
    pub fn new(genuine: &[f64], impostor: &[f64]) -> Self {
        let genuine = sorted(genuine);
        let impostor = sorted(impostor);
        let mut thresholds: Vec<f64> = genuine.iter().chain(&impostor).copied().collect();
        thresholds.sort_by(f64::total_cmp);
        thresholds.dedup();
        if thresholds.last() != Some(&f64::INFINITY) {
            thresholds.push(f64::INFINITY);
        }
        Self {
            genuine,
            impostor,
            thresholds,
        }
    }

    /// Fraction of impostor pairs accepted at `t` (NaN when there are none).
    pub fn fmr(&self, t: f64) -> f64 {
        let rejected = self.impostor.partition_point(|&s| s < t);
        (self.impostor.len() - rejected) as f64 / self.impostor.len() as f64
    }

    /// Fraction of genuine pairs rejected at `t` (NaN when there are none).
    pub fn fnmr(&self, t: f64) -> f64 {
        self.genuine.partition_point(|&s| s < t) as f64 / self.genuine.len() as f64
    }

    /// The two thresholds bracketing the crossing of FMR and FNMR: `(t1, t2)` as in the module
    /// docs. `None` without genuine or impostor scores.
    fn crossing(&self) -> Option<(f64, f64)> {
        if self.genuine.is_empty() || self.impostor.is_empty() {
            return None;
        }
        // FNMR rises and FMR falls with the threshold. At the lowest threshold FNMR = 0, and at
        // +inf FMR = 0, so both t1 and t2 exist.
        let t1 = self
            .thresholds
            .iter()
            .rev()
            .copied()
            .find(|&t| self.fnmr(t) <= self.fmr(t))?;
        let t2 = self.thresholds.iter().copied().find(|&t| self.fnmr(t) >= self.fmr(t))?;
        Some((t1, t2))
    }

    /// Equal error rate as a fraction (see the module docs).
    pub fn eer(&self) -> f64 {
        let Some((t1, t2)) = self.crossing() else {
            return f64::NAN;
        };
        let (fnmr1, fmr1) = (self.fnmr(t1), self.fmr(t1));
        let (fnmr2, fmr2) = (self.fnmr(t2), self.fmr(t2));
        let (gap1, gap2) = ((fmr1 - fnmr1).abs(), (fnmr2 - fmr2).abs());
        let (mean1, mean2) = ((fmr1 + fnmr1) / 2.0, (fmr2 + fnmr2) / 2.0);
        if gap1 < gap2 {
            mean1
        } else if gap2 < gap1 {
            mean2
        } else {
            (mean1 + mean2) / 2.0
        }
    }

    /// Equal error rate as a fraction by the FVC2000 definition: the midpoint of the interval
    /// `[FNMR(t1), FMR(t1)]` if `FNMR(t1) + FMR(t1) <= FNMR(t2) + FMR(t2)`, else of
    /// `[FMR(t2), FNMR(t2)]`.
    pub fn eer_fvc(&self) -> f64 {
        let Some((t1, t2)) = self.crossing() else {
            return f64::NAN;
        };
        let (fnmr1, fmr1) = (self.fnmr(t1), self.fmr(t1));
        let (fnmr2, fmr2) = (self.fnmr(t2), self.fmr(t2));
        let (low, high) = if fnmr1 + fmr1 <= fnmr2 + fmr2 {
            (fnmr1, fmr1)
        } else {
            (fmr2, fnmr2)
        };
        (low + high) / 2.0
    }

    /// The lowest threshold whose FMR is at most `max_fmr` (a fraction).
    pub fn threshold_at_fmr(&self, max_fmr: f64) -> f64 {
        // FMR only falls as the threshold rises, and at +inf it is 0.
        let i = self.thresholds.partition_point(|&t| self.fmr(t) > max_fmr);
        self.thresholds.get(i).copied().unwrap_or(f64::INFINITY)
    }

    /// FNMR (a fraction) at the lowest threshold whose FMR is at most `max_fmr` (a fraction).
    pub fn fnmr_at_fmr(&self, max_fmr: f64) -> f64 {
        if self.genuine.is_empty() || self.impostor.is_empty() {
            return f64::NAN;
        }
        self.fnmr(self.threshold_at_fmr(max_fmr))
    }

    /// The four headline figures, in percent.
    pub fn error_rates(&self) -> ErrorRates {
        ErrorRates {
            eer: 100.0 * self.eer(),
            fmr100: 100.0 * self.fnmr_at_fmr(0.01),
            fmr1000: 100.0 * self.fnmr_at_fmr(0.001),
            zero_fmr: 100.0 * self.fnmr_at_fmr(0.0),
        }
    }

    /// The threshold table for the given FMR targets (percent).
    pub fn threshold_table(&self, targets_percent: &[f64]) -> Vec<ThresholdRow> {
        targets_percent
            .iter()
            .map(|&target| {
                let threshold = self.threshold_at_fmr(target / 100.0);
                ThresholdRow {
                    target_fmr: target,
                    threshold,
                    fmr: 100.0 * self.fmr(threshold),
                    fnmr: 100.0 * self.fnmr(threshold),
                }
            })
            .collect()
    }
}

/// The four headline figures (percent) for genuine and impostor score lists.
pub fn error_rates(genuine: &[f64], impostor: &[f64]) -> ErrorRates {
    ScoreSets::new(genuine, impostor).error_rates()
}

/// The median of some values (NaN for none).
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn perfectly_separated_scores_have_no_errors() {
        let r = error_rates(&[5.0, 6.0, 7.0], &[1.0, 2.0, 3.0]);
        assert_eq!(
            r,
            ErrorRates {
                eer: 0.0,
                fmr100: 0.0,
                fmr1000: 0.0,
                zero_fmr: 0.0
            }
        );
    }

    #[test]
    fn fully_inverted_scores_fail_everything() {
        let r = error_rates(&[1.0, 2.0], &[5.0, 6.0]);
        assert!(close(r.eer, 100.0), "{r:?}");
        assert!(close(r.zero_fmr, 100.0), "{r:?}");
    }

    #[test]
    fn curves_meeting_exactly_give_that_rate() {
        // At threshold 10: one genuine (3) rejected = 10%, one impostor (15) accepted = 10%.
        let genuine = [3.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0];
        let impostor = [0.0, 1.0, 2.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 15.0];
        let s = ScoreSets::new(&genuine, &impostor);
        assert!(close(s.eer(), 0.10));
        // FMR <= 1% with 10 impostors means FMR = 0: the lowest such threshold is 16, just above
        // the impostor at 15, where 7 genuine scores (3, 10..=15) are rejected.
        assert_eq!(s.threshold_at_fmr(0.01), 16.0);
        assert!(close(s.fnmr_at_fmr(0.01), 0.7));
        assert!(close(s.fnmr_at_fmr(0.0), 0.7));
        // FMR <= 10% is reached at 10 already.
        assert_eq!(s.threshold_at_fmr(0.10), 10.0);
        assert!(close(s.fnmr_at_fmr(0.10), 0.1));
    }

    #[test]
    fn curves_crossing_between_thresholds_take_the_closer_bracket() {
        // t1 = 2: FNMR 1/4, FMR 2/4; t2 = 3: FNMR 2/4, FMR 1/4. Equally far apart, both means are
        // 37.5%; the FVC rule agrees (equal sums, interval [25%, 50%]).
        let s = ScoreSets::new(&[1.0, 2.0, 3.0, 4.0], &[0.0, 1.0, 2.0, 3.0]);
        assert!(close(s.eer(), 0.375));
        assert!(close(s.eer_fvc(), 0.375));
        // An asymmetric case: t1 = 6 (FNMR 0.2 <= FMR 0.25), t2 = 7 (FNMR 0.4 >= FMR 0). The rates
        // are closer at t1 (0.05 apart): EER = (0.2 + 0.25) / 2. The FVC rule takes t2 by its smaller
        // sum (0.4 against 0.45): interval [0, 0.4], midpoint 0.2.
        let genuine = [1.0, 6.0, 7.0, 8.0, 9.0];
        let impostor = [0.0, 2.0, 5.0, 6.0];
        let s = ScoreSets::new(&genuine, &impostor);
        assert!(close(s.fnmr(6.0), 0.2) && close(s.fmr(6.0), 0.25));
        assert!(close(s.fnmr(7.0), 0.4) && close(s.fmr(7.0), 0.0));
        assert!(close(s.eer(), 0.225));
        assert!(close(s.eer_fvc(), 0.2));
    }

    #[test]
    fn ties_count_as_matches_and_failures_as_rejections() {
        // A genuine score equal to the highest impostor score is rejected at zero FMR.
        let s = ScoreSets::new(&[5.0, 9.0], &[5.0, 1.0]);
        assert!(close(s.fmr(5.0), 0.5));
        assert!(close(s.fnmr(5.0), 0.0));
        assert!(close(s.fnmr_at_fmr(0.0), 0.5));
        // Failures (-inf, or NaN) never match a finite threshold.
        let s = ScoreSets::new(&[f64::NEG_INFINITY, f64::NAN, 8.0, 9.0], &[f64::NEG_INFINITY, 1.0]);
        assert!(close(s.fnmr(1.0), 0.5));
        assert!(close(s.fmr(1.0), 0.5));
        assert!(close(s.fnmr_at_fmr(0.0), 0.5));
        // Every image failed: the EER is 50%, not 0.
        let fail = [f64::NEG_INFINITY; 4];
        assert!(close(ScoreSets::new(&fail, &fail).eer(), 0.5));
    }

    #[test]
    fn fmr100_and_fmr1000_use_the_bound_inclusively() {
        // 1000 impostors 0..1000 and genuine scores 990.5..1000.5.
        let impostor: Vec<f64> = (0..1000).map(f64::from).collect();
        let genuine: Vec<f64> = (0..10).map(|i| 990.5 + f64::from(i)).collect();
        let s = ScoreSets::new(&genuine, &impostor);
        // FMR <= 1% allows 10 impostors accepted: threshold 990 (990..=999).
        assert_eq!(s.threshold_at_fmr(0.01), 990.0);
        assert!(close(s.fnmr_at_fmr(0.01), 0.0));
        // FMR <= 0.1% allows 1 (999): the lowest such threshold is the genuine score 998.5, where
        // genuine 990.5..=997.5 (8 of them) are rejected.
        assert_eq!(s.threshold_at_fmr(0.001), 998.5);
        assert!(close(s.fnmr_at_fmr(0.001), 0.8));
        let table = s.threshold_table(&THRESHOLD_TABLE_FMR_PERCENT);
        assert_eq!(table.len(), 5);
        assert!(close(table[1].fmr, 1.0) && table[1].threshold == 990.0);
        assert!(close(table[4].fmr, 0.0) && table[4].threshold == 999.5);
    }

    #[test]
    fn empty_sets_give_nan_and_median_works() {
        assert!(error_rates(&[], &[1.0]).eer.is_nan());
        assert!(error_rates(&[1.0], &[]).fmr100.is_nan());
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }
}
