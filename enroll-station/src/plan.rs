//! The enrollment rules the station checks before any capture (operations guideline 5.2(1)): at
//! least [`MIN_FINGERS`] different fingers, at least [`MIN_IMPRESSIONS`] impressions of each, and
//! the capture policy (quality threshold, retries, timeout).

use std::time::Duration;

use shimon_proto::v1::Finger;

use crate::error::StationError;

/// The fewest different fingers an enrollment has, so that a cut or bandaged finger has a backup.
pub const MIN_FINGERS: usize = 2;
/// The fewest impressions of each finger.
pub const MIN_IMPRESSIONS: u32 = 3;
/// The most impressions of one finger the station captures.
pub const MAX_IMPRESSIONS: u32 = 10;
/// The default quality an impression must reach (0-100) to be kept.
pub const DEFAULT_MIN_QUALITY: u8 = 40;
/// How many times one impression is captured again after a poor capture.
pub const DEFAULT_MAX_RETRIES: u32 = 5;
/// How long a capture waits for a finger by default, seconds.
pub const DEFAULT_TIMEOUT_S: u64 = 30;

/// Parses a comma-separated list of finger names (`right-index,left-index`) and checks it: known
/// names, no finger twice, at least [`MIN_FINGERS`].
pub fn parse_fingers(list: &str) -> Result<Vec<Finger>, StationError> {
    let mut fingers = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let finger = Finger::from_cli_name(name).ok_or_else(|| StationError::UnknownFinger {
            name: name.to_string(),
            known: Finger::ALL.iter().map(|f| f.cli_name()).collect::<Vec<_>>().join(", "),
        })?;
        if fingers.contains(&finger) {
            return Err(StationError::DuplicateFinger(finger));
        }
        fingers.push(finger);
    }
    check_fingers(&fingers)?;
    Ok(fingers)
}

/// Checks a list of fingers: none unspecified, none twice, at least [`MIN_FINGERS`].
pub fn check_fingers(fingers: &[Finger]) -> Result<(), StationError> {
    for (i, f) in fingers.iter().enumerate() {
        if *f == Finger::Unspecified {
            return Err(StationError::UnknownFinger {
                name: f.cli_name().to_string(),
                known: Finger::ALL.iter().map(|f| f.cli_name()).collect::<Vec<_>>().join(", "),
            });
        }
        if fingers[..i].contains(f) {
            return Err(StationError::DuplicateFinger(*f));
        }
    }
    if fingers.len() < MIN_FINGERS {
        return Err(StationError::TooFewFingers {
            given: fingers.len(),
            min: MIN_FINGERS,
        });
    }
    Ok(())
}

/// How impressions are captured and judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapturePolicy {
    /// Impressions kept per finger.
    pub impressions: u32,
    /// The quality (0-100) an impression must reach to be kept.
    pub min_quality: u8,
    /// How many times one impression is captured again after a poor capture.
    pub max_retries: u32,
    /// How long one capture waits for a finger.
    pub timeout: Duration,
}

impl Default for CapturePolicy {
    fn default() -> Self {
        CapturePolicy {
            impressions: MIN_IMPRESSIONS,
            min_quality: DEFAULT_MIN_QUALITY,
            max_retries: DEFAULT_MAX_RETRIES,
            timeout: Duration::from_secs(DEFAULT_TIMEOUT_S),
        }
    }
}

impl CapturePolicy {
    /// A policy of `impressions` per finger and threshold `min_quality` (0-100), checked, with the
    /// default retries and `timeout`.
    pub fn new(impressions: u32, min_quality: u32, timeout: Duration) -> Result<Self, StationError> {
        let min_quality = u8::try_from(min_quality)
            .ok()
            .filter(|q| *q <= 100)
            .ok_or(StationError::MinQuality(min_quality))?;
        let policy = CapturePolicy {
            impressions,
            min_quality,
            timeout,
            ..CapturePolicy::default()
        };
        policy.check()?;
        Ok(policy)
    }

    /// Checks the policy against the enrollment rules.
    pub fn check(&self) -> Result<(), StationError> {
        if !(MIN_IMPRESSIONS..=MAX_IMPRESSIONS).contains(&self.impressions) {
            return Err(StationError::Impressions {
                given: self.impressions,
                min: MIN_IMPRESSIONS,
                max: MAX_IMPRESSIONS,
            });
        }
        if self.min_quality > 100 {
            return Err(StationError::MinQuality(u32::from(self.min_quality)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_good_list_parses_in_order() {
        assert_eq!(
            parse_fingers("right-index,left-index").unwrap(),
            vec![Finger::RightIndex, Finger::LeftIndex]
        );
        assert_eq!(
            parse_fingers(" left-thumb , right-little,right-middle ").unwrap(),
            vec![Finger::LeftThumb, Finger::RightLittle, Finger::RightMiddle]
        );
    }

    #[test]
    fn duplicates_are_refused() {
        let err = parse_fingers("right-index,left-index,right-index").unwrap_err();
        assert!(
            matches!(err, StationError::DuplicateFinger(Finger::RightIndex)),
            "{err}"
        );
        assert!(err.to_string().contains("right-index"), "{err}");
        assert!(matches!(
            check_fingers(&[Finger::LeftRing, Finger::LeftRing]),
            Err(StationError::DuplicateFinger(Finger::LeftRing))
        ));
    }

    #[test]
    fn unknown_names_are_refused_with_the_known_ones() {
        let err = parse_fingers("right-index,left-toe").unwrap_err();
        match &err {
            StationError::UnknownFinger { name, known } => {
                assert_eq!(name, "left-toe");
                assert!(known.contains("left-index"));
            }
            other => panic!("{other}"),
        }
        assert!(matches!(
            parse_fingers("right-index,unspecified"),
            Err(StationError::UnknownFinger { .. })
        ));
        assert!(matches!(
            parse_fingers("Right-Index,left-index"),
            Err(StationError::UnknownFinger { .. })
        ));
    }

    #[test]
    fn fewer_than_two_fingers_are_refused() {
        for list in ["", "right-index", " , right-index,"] {
            let err = parse_fingers(list).unwrap_err();
            assert!(
                matches!(err, StationError::TooFewFingers { min: 2, .. }),
                "{list:?}: {err}"
            );
        }
    }

    #[test]
    fn the_policy_needs_three_impressions_and_a_quality_up_to_100() {
        let timeout = Duration::from_secs(5);
        assert!(matches!(
            CapturePolicy::new(2, 40, timeout),
            Err(StationError::Impressions { given: 2, .. })
        ));
        assert!(matches!(
            CapturePolicy::new(MAX_IMPRESSIONS + 1, 40, timeout),
            Err(StationError::Impressions { .. })
        ));
        assert!(matches!(
            CapturePolicy::new(3, 101, timeout),
            Err(StationError::MinQuality(101))
        ));
        assert!(matches!(
            CapturePolicy::new(3, 300, timeout),
            Err(StationError::MinQuality(300))
        ));
        let policy = CapturePolicy::new(4, 55, timeout).unwrap();
        assert_eq!(
            (policy.impressions, policy.min_quality, policy.timeout),
            (4, 55, timeout)
        );
        assert_eq!(policy.max_retries, DEFAULT_MAX_RETRIES);
    }
}
