//! Discovery: which readers are present, and opening one by its id. USB readers come first, then
//! (when asked for) the simulated reader, so "the first reader" is real hardware whenever there is
//! some.

use crate::error::ReaderError;
use crate::reader::{Reader, ReaderInfo};
use crate::sim::{simulated_info, SimulatedReader, DEFAULT_GEOMETRY};
use crate::usb;

/// Seed of the simulated reader that [`list_readers`] offers.
pub const LISTED_SIMULATED_SEED: u64 = 1;

/// Prefix of a simulated reader's id (`sim:SEED`).
pub const SIMULATED_PREFIX: &str = "sim:";

/// The readers present: every supported USB reader attached, then the simulated reader
/// (`sim:1`) when `include_simulated`.
pub fn list_readers(include_simulated: bool) -> Vec<ReaderInfo> {
    let mut readers = usb::list(usb::SUPPORTED);
    if include_simulated {
        readers.push(simulated_info(LISTED_SIMULATED_SEED, DEFAULT_GEOMETRY));
    }
    readers
}

/// Opens the reader with this id: `usb:BUS:ADDRESS`, `sim:SEED` (any seed gives a finger) or
/// `replay:DIR` (the recorded USB traffic in folder `DIR`, replayed through the recorded
/// device's driver; see [`crate::replay`]).
pub fn open(id: &str) -> Result<Box<dyn Reader>, ReaderError> {
    if let Some(dir) = id.strip_prefix(crate::replay::REPLAY_PREFIX) {
        return crate::replay::open_reader(std::path::Path::new(dir));
    }
    if let Some(seed) = id.strip_prefix(SIMULATED_PREFIX) {
        let seed: u64 = seed
            .parse()
            .map_err(|_| ReaderError::NoReader(format!("{id:?}: a simulated reader's id is sim:<seed>, a number")))?;
        return Ok(Box::new(SimulatedReader::new(seed)));
    }
    if let Some((bus, address)) = usb::parse_usb_id(id) {
        return usb::open(usb::SUPPORTED, bus, address);
    }
    Err(ReaderError::NoReader(format!(
        "{id:?} is not a reader id (usb:BUS:ADDRESS, sim:SEED or replay:DIR)"
    )))
}

/// Opens the first reader present (USB first; the simulated one last when `include_simulated`).
pub fn open_first(include_simulated: bool) -> Result<Box<dyn Reader>, ReaderError> {
    let readers = list_readers(include_simulated);
    let first = readers
        .first()
        .ok_or_else(|| ReaderError::NoReader("none is attached".into()))?;
    if let Some((bus, address)) = usb::parse_usb_id(&first.id) {
        return usb::open_with_serial(usb::SUPPORTED, bus, address, Some(first.serial.clone()));
    }
    open(&first.id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_simulated_reader_is_listed_last_and_opens() {
        let readers = list_readers(true);
        let last = readers.last().expect("the simulated reader is listed");
        assert_eq!(last.id, "sim:1");
        assert_eq!(open(&last.id).unwrap().info(), last);
        assert!(!list_readers(false).iter().any(|r| r.id.starts_with(SIMULATED_PREFIX)));
    }

    #[test]
    fn bad_ids_are_no_reader() {
        for id in [
            "",
            "sim:",
            "sim:x",
            "usb:1",
            "floppy:0",
            "usb:999:1",
            "replay:/nonexistent",
        ] {
            assert!(matches!(open(id), Err(ReaderError::NoReader(_))), "{id}");
        }
    }

    #[test]
    fn without_hardware_or_simulator_there_is_no_first_reader() {
        if list_readers(false).is_empty() {
            assert!(matches!(open_first(false), Err(ReaderError::NoReader(_))));
        }
    }
}
