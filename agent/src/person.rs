//! Simulated people, for demonstrations and end-to-end tests: person `seed`'s finger F (an ISO
//! finger position, 1..=10) is the synthetic finger `shimon_hal::sim::finger_seed(seed, F)`,
//! presented by a [`SimulatedReader`]. Both clients use this one definition, so a person enrolled
//! at the station is the same person at a terminal.

use shimon_hal::sim::finger_seed;
use shimon_hal::SimulatedReader;
use shimon_proto::v1::Finger;

/// The seed of finger `finger` of simulated person `person_seed`.
pub fn simulated_finger_seed(person_seed: u64, finger: Finger) -> u64 {
    finger_seed(person_seed, finger as i32 as u32)
}

/// A simulated reader on which person `person_seed` presents `finger`, starting at impression 1.
pub fn simulated_reader(person_seed: u64, finger: Finger) -> SimulatedReader {
    SimulatedReader::new(simulated_finger_seed(person_seed, finger))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shimon_hal::{CancelHandle, Reader};
    use std::time::Duration;

    #[test]
    fn fingers_of_a_person_are_the_iso_numbered_synthetic_fingers() {
        assert_eq!(simulated_finger_seed(42, Finger::RightIndex), finger_seed(42, 2));
        assert_eq!(simulated_finger_seed(42, Finger::LeftLittle), finger_seed(42, 10));
        assert_ne!(
            simulated_finger_seed(42, Finger::RightIndex),
            simulated_finger_seed(43, Finger::RightIndex)
        );
        let mut reader = simulated_reader(42, Finger::LeftIndex);
        assert_eq!(reader.finger().seed(), finger_seed(42, 7));
        assert_eq!(reader.next_impression(), 1);
        let image = reader.capture(Duration::from_secs(1), &CancelHandle::new()).unwrap();
        assert!(image.width > 0 && image.height > 0 && image.dpi > 0);
    }
}
