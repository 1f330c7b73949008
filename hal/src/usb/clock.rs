//! The caller's limits on a capture, for the drivers: how long to wait for a finger (a timeout
//! measured from the start of the capture; a timeout too large to add to the clock means for
//! ever) and the cancel handle. Drivers ask [`CaptureClock::check`] between steps and wait with
//! [`CaptureClock::pause`] or in slices of [`CaptureClock::slice`], so no wait outlives either.

use std::time::{Duration, Instant};

use crate::error::ReaderError;
use crate::reader::CancelHandle;

/// The limits of one capture.
#[derive(Debug, Clone)]
pub(crate) struct CaptureClock<'a> {
    timeout: Duration,
    /// `None`: wait for ever.
    deadline: Option<Instant>,
    cancel: &'a CancelHandle,
}

impl<'a> CaptureClock<'a> {
    /// Starts the clock of a capture that may wait `timeout` for a finger.
    pub(crate) fn start(timeout: Duration, cancel: &'a CancelHandle) -> Self {
        CaptureClock {
            timeout,
            deadline: Instant::now().checked_add(timeout),
            cancel,
        }
    }

    /// `Cancelled` once the handle fired, `TimedOut` once the deadline passed.
    pub(crate) fn check(&self) -> Result<(), ReaderError> {
        if self.cancel.is_cancelled() {
            return Err(ReaderError::Cancelled);
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(ReaderError::TimedOut(self.timeout));
        }
        Ok(())
    }

    /// `step`, or less if the deadline comes sooner.
    pub(crate) fn slice(&self, step: Duration) -> Duration {
        match self.deadline {
            Some(d) => d.saturating_duration_since(Instant::now()).min(step),
            None => step,
        }
    }

    /// Sleeps `pause` (or until the deadline, if sooner), then checks.
    pub(crate) fn pause(&self, pause: Duration) -> Result<(), ReaderError> {
        std::thread::sleep(self.slice(pause));
        self.check()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_and_cancel_are_seen() {
        let cancel = CancelHandle::new();
        let clock = CaptureClock::start(Duration::from_millis(20), &cancel);
        assert!(clock.check().is_ok());
        assert_eq!(
            clock.pause(Duration::from_secs(10)),
            Err(ReaderError::TimedOut(Duration::from_millis(20)))
        );
        let forever = CaptureClock::start(Duration::MAX, &cancel);
        assert_eq!(forever.slice(Duration::from_millis(5)), Duration::from_millis(5));
        assert!(forever.check().is_ok());
        cancel.cancel();
        assert_eq!(forever.check(), Err(ReaderError::Cancelled));
    }
}
