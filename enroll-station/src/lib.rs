//! shimon-station: the enrollment station of registration officers. It registers users, captures
//! several impressions of each of their fingers (checking each impression's quality locally and
//! capturing again when it is poor) and sends them to the server to enroll or re-enroll them.
//!
//! - [`plan`]: the enrollment rules checked before any capture, and the capture policy.
//! - [`capture`]: the capture-and-check loop over the [`shimon_hal::Reader`] trait.
//! - [`client`]: [`Station`], the client of the `Enrollment` service.
//! - [`error`]: the typed [`StationError`].
//!
//! The connection to the server (configuration, mutual TLS) is the login agent's
//! ([`shimon_agent::connection`]), shared by both clients.
#![forbid(unsafe_code)]

pub mod capture;
pub mod client;
pub mod error;
pub mod plan;

pub use capture::{
    capture_finger, capture_fingers, measure_quality, CaptureEvent, CapturedFinger, CapturedImpression, FingerReaders,
};
pub use client::{build_enroll_request, EnrollMode, Station};
pub use error::StationError;
pub use plan::{parse_fingers, CapturePolicy};
