//! Attempt limits and signs of trouble, per user: the rules of NIST SP 800-63B for repeated
//! failed biometric attempts (a delay that doubles after a few failures, then a disabled login),
//! and the signals that a user's enrollment no longer serves them and should be re-registered
//! (第5.2(2)): repeated failures, genuine scores falling well below those of enrollment, poor
//! captures. The state lives in the store (`AuthState`), so a restart changes nothing and every
//! terminal sees the same count; this module only decides.

use serde::{Deserialize, Serialize};

/// Consecutive failures after which each further attempt must wait.
pub const FAILURES_BEFORE_DELAY: u32 = 5;
/// The first wait, seconds; it doubles with each further failure.
pub const FIRST_DELAY_S: i64 = 30;
/// Consecutive failures after which biometric login is disabled.
pub const FAILURES_BEFORE_DISABLE: u32 = 50;
/// How many recent successful scores and capture qualities are kept.
pub const RECENT_KEPT: usize = 10;
/// Recent successes needed before falling scores or poor captures count as a signal.
pub const RECENT_NEEDED: usize = 5;
/// Genuine scores count as fallen when their recent median is below this fraction of the median
/// score between the impressions at enrollment.
pub const FALLEN_SCORE_FRACTION: f32 = 0.5;
/// Captures count as poor when the median quality of recent ones is below this (0 to 100).
pub const POOR_CAPTURE_QUALITY: u8 = 30;
/// Consecutive failures that, short of the delay, already suggest re-registration.
pub const FAILURES_SIGNAL: u32 = 3;

/// One user's record of attempts (Verify and sign-in alike).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuthState {
    pub consecutive_failures: u32,
    /// When the last failure happened, seconds since the Unix epoch.
    pub last_failure_unix_s: i64,
    /// Biometric login is disabled (too many failures) until re-enrollment or an officer lifts it.
    pub disabled: bool,
    /// Best scores of the most recent successful attempts, oldest first.
    pub recent_scores: Vec<f32>,
    /// Qualities of the most recent captures, oldest first.
    pub recent_qualities: Vec<u8>,
    /// Median score between the impressions of a finger at enrollment (0: unknown).
    pub enrollment_score: f32,
}

/// Whether an attempt may be compared now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Allowed,
    /// Too early: wait this many more seconds.
    Wait {
        seconds: i64,
    },
    /// Biometric login is disabled.
    Disabled,
}

/// What a recorded failure changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureOutcome {
    Counted,
    /// This failure started the delays (a temporary lockout).
    DelayStarted,
    /// This failure disabled biometric login.
    Disabled,
}

fn push_recent<T>(list: &mut Vec<T>, value: T) {
    list.push(value);
    if list.len() > RECENT_KEPT {
        list.remove(0);
    }
}

fn median_f32(values: &[f32]) -> f32 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f32::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(0.0)
}

impl AuthState {
    /// The wait after the current failures, seconds (0 before the delays start).
    pub fn required_wait_s(&self) -> i64 {
        if self.consecutive_failures < FAILURES_BEFORE_DELAY {
            return 0;
        }
        let doublings = self.consecutive_failures - FAILURES_BEFORE_DELAY;
        FIRST_DELAY_S.saturating_mul(2i64.saturating_pow(doublings))
    }

    /// Whether an attempt at `now_unix_s` may be compared.
    pub fn admission(&self, now_unix_s: i64) -> Admission {
        if self.disabled {
            return Admission::Disabled;
        }
        let ready_at = self.last_failure_unix_s.saturating_add(self.required_wait_s());
        if self.required_wait_s() > 0 && now_unix_s < ready_at {
            Admission::Wait {
                seconds: ready_at - now_unix_s,
            }
        } else {
            Admission::Allowed
        }
    }

    /// Records a failed attempt.
    pub fn record_failure(&mut self, now_unix_s: i64, quality: u8) -> FailureOutcome {
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        self.last_failure_unix_s = now_unix_s;
        push_recent(&mut self.recent_qualities, quality);
        if self.consecutive_failures >= FAILURES_BEFORE_DISABLE && !self.disabled {
            self.disabled = true;
            FailureOutcome::Disabled
        } else if self.consecutive_failures == FAILURES_BEFORE_DELAY {
            FailureOutcome::DelayStarted
        } else {
            FailureOutcome::Counted
        }
    }

    /// Records a successful attempt: the count starts again.
    pub fn record_success(&mut self, score: f32, quality: u8) {
        self.consecutive_failures = 0;
        push_recent(&mut self.recent_scores, score);
        push_recent(&mut self.recent_qualities, quality);
    }

    /// Lifts a disabled login (an officer's act): the count starts again, the history stays.
    pub fn lift(&mut self) {
        self.consecutive_failures = 0;
        self.disabled = false;
    }

    /// A new enrollment: everything starts again, with the enrollment's own score.
    pub fn reset_for_enrollment(enrollment_score: f32) -> Self {
        Self {
            enrollment_score,
            ..Self::default()
        }
    }

    /// Why the user should be re-registered, if anything suggests it.
    pub fn reregistration_reason(&self) -> Option<String> {
        if self.disabled {
            return Some(format!(
                "biometric login disabled after {} failed attempts",
                self.consecutive_failures
            ));
        }
        if self.consecutive_failures >= FAILURES_SIGNAL {
            return Some(format!("{} failed attempts in a row", self.consecutive_failures));
        }
        if self.recent_scores.len() >= RECENT_NEEDED && self.enrollment_score > 0.0 {
            let recent = median_f32(&self.recent_scores);
            if recent < FALLEN_SCORE_FRACTION * self.enrollment_score {
                return Some(format!(
                    "genuine scores have fallen (recent median {recent:.1}, {:.1} at enrollment)",
                    self.enrollment_score
                ));
            }
        }
        if self.recent_qualities.len() >= RECENT_NEEDED {
            let mut q = self.recent_qualities.clone();
            q.sort_unstable();
            let median = q[q.len() / 2];
            if median < POOR_CAPTURE_QUALITY {
                return Some(format!("recent captures are poor (median quality {median})"));
            }
        }
        None
    }
}

/// Median of a list of scores (0 for none).
pub fn median_score(values: &[f32]) -> f32 {
    median_f32(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_start_a_delay_that_doubles() {
        let mut s = AuthState::default();
        for k in 1..FAILURES_BEFORE_DELAY {
            assert_eq!(s.record_failure(100 * i64::from(k), 80), FailureOutcome::Counted);
            assert_eq!(s.admission(100 * i64::from(k)), Admission::Allowed);
        }
        assert_eq!(s.record_failure(1000, 80), FailureOutcome::DelayStarted);
        assert_eq!(s.admission(1000), Admission::Wait { seconds: 30 });
        assert_eq!(s.admission(1029), Admission::Wait { seconds: 1 });
        assert_eq!(s.admission(1030), Admission::Allowed);
        s.record_failure(1030, 80);
        assert_eq!(s.admission(1030), Admission::Wait { seconds: 60 });
        s.record_failure(1090, 80);
        assert_eq!(s.admission(1090), Admission::Wait { seconds: 120 });
    }

    #[test]
    fn fifty_failures_disable_until_lifted() {
        let mut s = AuthState::default();
        let mut outcome = FailureOutcome::Counted;
        for k in 0..FAILURES_BEFORE_DISABLE {
            outcome = s.record_failure(i64::from(k), 50);
        }
        assert_eq!(outcome, FailureOutcome::Disabled);
        assert_eq!(s.admission(i64::MAX), Admission::Disabled);
        assert!(s.reregistration_reason().unwrap().contains("disabled"));
        s.lift();
        assert_eq!(s.admission(0), Admission::Allowed);
    }

    #[test]
    fn a_success_resets_the_count() {
        let mut s = AuthState::default();
        for k in 0..7 {
            s.record_failure(k, 50);
        }
        s.record_success(20.0, 60);
        assert_eq!(s.consecutive_failures, 0);
        assert_eq!(s.admission(7), Admission::Allowed);
    }

    #[test]
    fn the_wait_never_overflows() {
        let s = AuthState {
            consecutive_failures: u32::MAX,
            last_failure_unix_s: i64::MAX - 5,
            ..AuthState::default()
        };
        assert!(matches!(s.admission(0), Admission::Wait { .. }));
    }

    #[test]
    fn falling_scores_and_poor_captures_ask_for_re_registration() {
        let mut s = AuthState::reset_for_enrollment(30.0);
        for _ in 0..RECENT_NEEDED {
            s.record_success(25.0, 80);
        }
        assert_eq!(s.reregistration_reason(), None);
        for _ in 0..RECENT_KEPT {
            s.record_success(12.0, 80);
        }
        assert!(s.reregistration_reason().unwrap().contains("fallen"));
        let mut s = AuthState::reset_for_enrollment(30.0);
        for _ in 0..RECENT_NEEDED {
            s.record_success(28.0, 20);
        }
        assert!(s.reregistration_reason().unwrap().contains("poor"));
    }
}
