//! Capturing a user's fingers at the station: each impression is captured through the
//! [`Reader`] trait, its quality measured locally with the matcher, and a capture below the
//! threshold is taken again (up to [`CapturePolicy::max_retries`] times) before the station gives
//! up on that finger. Progress is reported through a callback so that a front end can show it.

use std::collections::BTreeMap;

use shimon_hal::{CancelHandle, FingerImage, Reader};
use shimon_matcher::FingerprintImage;
use shimon_proto::v1::Finger;

use crate::error::StationError;
use crate::plan::{check_fingers, CapturePolicy};

/// One kept impression.
#[derive(Debug, Clone, PartialEq)]
pub struct CapturedImpression {
    /// The image as captured.
    pub image: FingerImage,
    /// Its quality, 0 (unusable) to 100.
    pub quality: u8,
    /// How many captures it took (1 when the first was good enough).
    pub attempts: u32,
}

/// The kept impressions of one finger.
#[derive(Debug, Clone, PartialEq)]
pub struct CapturedFinger {
    /// Which finger.
    pub finger: Finger,
    /// Its impressions, in capture order.
    pub impressions: Vec<CapturedImpression>,
}

/// What is happening during a capture, for the front end to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureEvent {
    /// The station waits for `finger` on the reader.
    Place {
        /// The finger asked for.
        finger: Finger,
        /// Which impression, from 1.
        impression: u32,
        /// Of how many.
        impressions: u32,
        /// 0 for the first capture of this impression, then 1, 2, ...
        retry: u32,
    },
    /// A capture was made and its quality measured.
    Captured {
        /// The finger.
        finger: Finger,
        /// Which impression, from 1.
        impression: u32,
        /// Its quality, 0-100.
        quality: u8,
        /// True when it reached the threshold and is kept; false when it will be captured again
        /// (or the finger given up on, when no retry is left).
        accepted: bool,
        /// 0 for the first capture of this impression, then 1, 2, ...
        retry: u32,
    },
}

/// The quality (0-100) of a captured image as the matcher sees it; an image the matcher cannot
/// use at all is 0.
pub fn measure_quality(image: &FingerImage) -> u8 {
    let prepared = match FingerprintImage::new(image.width, image.height, image.dpi, image.pixels.clone()) {
        Ok(p) => p,
        Err(e) => {
            tracing::debug!(error = %e, "captured image unusable");
            return 0;
        }
    };
    match shimon_matcher::extract(&prepared) {
        Ok(template) => template.quality.min(100),
        Err(e) => {
            tracing::debug!(error = %e, "no template from the captured image");
            0
        }
    }
}

/// Captures `policy.impressions` impressions of `finger` on `reader`, capturing an impression
/// again while its quality is below `policy.min_quality`, at most `policy.max_retries` times.
pub fn capture_finger(
    reader: &mut dyn Reader,
    finger: Finger,
    policy: &CapturePolicy,
    cancel: &CancelHandle,
    on_event: &mut dyn FnMut(&CaptureEvent),
) -> Result<Vec<CapturedImpression>, StationError> {
    policy.check()?;
    let mut kept = Vec::with_capacity(policy.impressions as usize);
    for impression in 1..=policy.impressions {
        let mut best_quality = 0;
        let mut accepted = None;
        for retry in 0..=policy.max_retries {
            on_event(&CaptureEvent::Place {
                finger,
                impression,
                impressions: policy.impressions,
                retry,
            });
            let image = reader
                .capture(policy.timeout, cancel)
                .map_err(|error| StationError::Reader {
                    finger,
                    impression,
                    error,
                })?;
            let quality = measure_quality(&image);
            let good = quality >= policy.min_quality;
            tracing::debug!(finger = finger.cli_name(), impression, retry, quality, good, "captured");
            on_event(&CaptureEvent::Captured {
                finger,
                impression,
                quality,
                accepted: good,
                retry,
            });
            if good {
                accepted = Some(CapturedImpression {
                    image,
                    quality,
                    attempts: retry + 1,
                });
                break;
            }
            best_quality = best_quality.max(quality);
        }
        match accepted {
            Some(a) => kept.push(a),
            None => {
                return Err(StationError::PoorQuality {
                    finger,
                    impression,
                    attempts: policy.max_retries + 1,
                    best_quality,
                    min_quality: policy.min_quality,
                })
            }
        }
    }
    Ok(kept)
}

/// Where each finger is captured.
pub enum FingerReaders {
    /// One reader, on which the person presents each finger in turn.
    Device(Box<dyn Reader>),
    /// A simulated person: each finger on its own simulated reader (see
    /// [`shimon_agent::person`]), impressions 1, 2, 3, ... in order.
    Simulated {
        /// The person's seed.
        seed: u64,
        /// The readers opened so far, one per finger.
        readers: BTreeMap<i32, shimon_hal::SimulatedReader>,
    },
}

impl std::fmt::Debug for FingerReaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FingerReaders::Device(reader) => f.debug_tuple("Device").field(&reader.info().id).finish(),
            FingerReaders::Simulated { seed, .. } => f.debug_struct("Simulated").field("seed", seed).finish(),
        }
    }
}

impl FingerReaders {
    /// The fingers of simulated person `seed`.
    pub fn simulated(seed: u64) -> Self {
        FingerReaders::Simulated {
            seed,
            readers: BTreeMap::new(),
        }
    }

    /// The reader on which `finger` is presented.
    pub fn reader_for(&mut self, finger: Finger) -> &mut dyn Reader {
        match self {
            FingerReaders::Device(reader) => reader.as_mut(),
            FingerReaders::Simulated { seed, readers } => readers
                .entry(finger as i32)
                .or_insert_with(|| shimon_agent::person::simulated_reader(*seed, finger)),
        }
    }

    /// The id of the reader that `finger` is presented on.
    pub fn reader_id(&mut self, finger: Finger) -> String {
        self.reader_for(finger).info().id.clone()
    }
}

/// Captures every finger of `fingers` in turn (see [`capture_finger`]), after checking the list
/// and the policy against the enrollment rules.
pub fn capture_fingers(
    readers: &mut FingerReaders,
    fingers: &[Finger],
    policy: &CapturePolicy,
    cancel: &CancelHandle,
    on_event: &mut dyn FnMut(&CaptureEvent),
) -> Result<Vec<CapturedFinger>, StationError> {
    check_fingers(fingers)?;
    policy.check()?;
    let mut captured = Vec::with_capacity(fingers.len());
    for &finger in fingers {
        let impressions = capture_finger(readers.reader_for(finger), finger, policy, cancel, on_event)?;
        captured.push(CapturedFinger { finger, impressions });
    }
    Ok(captured)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::DEFAULT_MIN_QUALITY;
    use shimon_hal::{Behaviour, ReaderError, ReaderInfo, SimulatedReader};
    use std::time::Duration;

    /// A simulated reader whose first `poor` captures are of poor quality, then normal.
    struct PoorThenNormal {
        inner: SimulatedReader,
        poor: u32,
    }

    impl Reader for PoorThenNormal {
        fn info(&self) -> &ReaderInfo {
            self.inner.info()
        }

        fn finger_present(&mut self) -> Result<bool, ReaderError> {
            self.inner.finger_present()
        }

        fn capture(&mut self, timeout: Duration, cancel: &CancelHandle) -> Result<FingerImage, ReaderError> {
            if self.poor > 0 {
                self.poor -= 1;
                self.inner.set_behaviour(Behaviour::PoorQuality);
            } else {
                self.inner.set_behaviour(Behaviour::Normal);
            }
            self.inner.capture(timeout, cancel)
        }
    }

    fn policy() -> CapturePolicy {
        CapturePolicy {
            timeout: Duration::from_secs(5),
            ..CapturePolicy::default()
        }
    }

    fn person_reader(finger: Finger) -> SimulatedReader {
        shimon_agent::person::simulated_reader(7, finger)
    }

    #[test]
    fn poor_captures_are_taken_again_until_one_is_good() {
        // Person 7's left index: its first poor-condition impressions measure well below 40 (the
        // simulator is deterministic), so the first impression needs retries.
        let mut reader = PoorThenNormal {
            inner: person_reader(Finger::LeftIndex),
            poor: 2,
        };
        let mut events = Vec::new();
        let kept = capture_finger(
            &mut reader,
            Finger::LeftIndex,
            &policy(),
            &CancelHandle::new(),
            &mut |e| events.push(e.clone()),
        )
        .unwrap();
        assert_eq!(kept.len(), 3);
        assert!(kept.iter().all(|k| k.quality >= DEFAULT_MIN_QUALITY), "{kept:?}");
        let rejected: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                CaptureEvent::Captured {
                    accepted: false,
                    quality,
                    impression,
                    ..
                } => Some((*impression, *quality)),
                _ => None,
            })
            .collect();
        // The two poor captures come first and are both refused; a normal capture may be refused
        // too now and then (an impression can be poor without being asked to be).
        let first_two: Vec<bool> = events
            .iter()
            .filter_map(|e| match e {
                CaptureEvent::Captured { accepted, .. } => Some(*accepted),
                _ => None,
            })
            .take(2)
            .collect();
        assert_eq!(
            first_two,
            [false, false],
            "the poor captures were not both refused: {events:?}"
        );
        assert!(rejected.iter().all(|&(_, q)| q < DEFAULT_MIN_QUALITY), "{rejected:?}");
        for (i, k) in kept.iter().enumerate() {
            let impression = i as u32 + 1;
            let retries = rejected.iter().filter(|&&(n, _)| n == impression).count() as u32;
            assert_eq!(k.attempts, retries + 1, "impression {impression}");
            // The measured quality is what was kept.
            assert_eq!(measure_quality(&k.image), k.quality);
        }
        let places = events
            .iter()
            .filter(|e| matches!(e, CaptureEvent::Place { .. }))
            .count();
        assert_eq!(
            places,
            3 + rejected.len(),
            "one capture per kept impression and per retry"
        );
    }

    #[test]
    fn an_impression_that_stays_poor_fails_after_the_retries() {
        let mut reader = person_reader(Finger::LeftIndex);
        let blank = FingerImage {
            width: 300,
            height: 400,
            dpi: 500,
            pixels: vec![255; 300 * 400],
        };
        assert_eq!(measure_quality(&blank), 0);
        reader.set_behaviour(Behaviour::Present(blank));
        let mut captures = 0;
        let err = capture_finger(
            &mut reader,
            Finger::LeftIndex,
            &policy(),
            &CancelHandle::new(),
            &mut |e| {
                if matches!(e, CaptureEvent::Captured { .. }) {
                    captures += 1;
                }
            },
        )
        .unwrap_err();
        assert_eq!(captures, 6, "one capture and five retries");
        match err {
            StationError::PoorQuality {
                finger,
                impression,
                attempts,
                best_quality,
                min_quality,
            } => {
                assert_eq!((finger, impression, attempts), (Finger::LeftIndex, 1, 6));
                assert_eq!((best_quality, min_quality), (0, DEFAULT_MIN_QUALITY));
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn a_reader_error_stops_the_capture_and_names_the_impression() {
        let mut reader = person_reader(Finger::LeftIndex);
        reader.set_behaviour(Behaviour::NoFinger);
        let policy = CapturePolicy {
            timeout: Duration::from_millis(20),
            ..CapturePolicy::default()
        };
        let err = capture_finger(
            &mut reader,
            Finger::LeftIndex,
            &policy,
            &CancelHandle::new(),
            &mut |_| {},
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                StationError::Reader {
                    finger: Finger::LeftIndex,
                    impression: 1,
                    error: ReaderError::TimedOut(_)
                }
            ),
            "{err}"
        );
        let cancel = CancelHandle::new();
        cancel.cancel();
        let err = capture_finger(&mut reader, Finger::LeftIndex, &policy, &cancel, &mut |_| {}).unwrap_err();
        assert!(
            matches!(
                err,
                StationError::Reader {
                    error: ReaderError::Cancelled,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn a_simulated_person_presents_each_finger_on_its_own_reader_from_impression_1() {
        let mut readers = FingerReaders::simulated(11);
        let fingers = [Finger::RightIndex, Finger::LeftIndex];
        let captured = capture_fingers(&mut readers, &fingers, &policy(), &CancelHandle::new(), &mut |_| {}).unwrap();
        assert_eq!(captured.len(), 2);
        for (c, f) in captured.iter().zip(fingers) {
            assert_eq!(c.finger, f);
            assert_eq!(c.impressions.len(), 3);
            // The images are impressions 1, 2, 3 of that finger of person 11.
            let mut same = shimon_agent::person::simulated_reader(11, f);
            for k in &c.impressions {
                let expected = same.capture(Duration::from_secs(1), &CancelHandle::new()).unwrap();
                assert_eq!(k.image, expected);
            }
        }
        assert_eq!(
            readers.reader_id(Finger::LeftIndex),
            format!(
                "sim:{}",
                shimon_agent::person::simulated_finger_seed(11, Finger::LeftIndex)
            )
        );
    }

    #[test]
    fn the_rules_are_checked_before_any_capture() {
        let mut readers = FingerReaders::simulated(11);
        let mut events = 0;
        let err = capture_fingers(
            &mut readers,
            &[Finger::RightIndex],
            &policy(),
            &CancelHandle::new(),
            &mut |_| events += 1,
        )
        .unwrap_err();
        assert!(matches!(err, StationError::TooFewFingers { .. }));
        let two_impressions = CapturePolicy {
            impressions: 2,
            ..policy()
        };
        let err = capture_fingers(
            &mut readers,
            &[Finger::RightIndex, Finger::LeftIndex],
            &two_impressions,
            &CancelHandle::new(),
            &mut |_| events += 1,
        )
        .unwrap_err();
        assert!(matches!(err, StationError::Impressions { given: 2, .. }));
        assert_eq!(events, 0);
    }
}
