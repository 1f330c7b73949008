//! What can go wrong at the station, as one typed error: a plan that breaks the enrollment rules
//! (checked before any capture), a reader that fails, a finger whose captures stay too poor, or
//! the server refusing a call.

use shimon_agent::{ConnectError, RpcError};
use shimon_hal::ReaderError;
use shimon_proto::v1::Finger;

/// Why the station could not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum StationError {
    /// A finger name that is not one of `Finger::cli_name`.
    #[error("unknown finger {name:?}; the fingers are {known}")]
    UnknownFinger {
        /// The name given.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// The same finger is named twice.
    #[error("finger {} is named more than once", .0.cli_name())]
    DuplicateFinger(Finger),
    /// Fewer fingers than the enrollment rules ask for.
    #[error("{given} finger(s) given: enroll at least {min} different fingers, so that one can stand in for another")]
    TooFewFingers {
        /// How many were given.
        given: usize,
        /// The least allowed.
        min: usize,
    },
    /// An impression count outside the allowed range.
    #[error("{given} impressions per finger: give {min} to {max}")]
    Impressions {
        /// How many were asked for.
        given: u32,
        /// The least allowed.
        min: u32,
        /// The most allowed.
        max: u32,
    },
    /// The officer's finger did not match: no session.
    #[error("{0}'s finger did not match; not signed in")]
    SignInRefused(String),
    /// The officer's capture could not be encoded for sending.
    #[error("cannot encode the sign-in capture: {0}")]
    SignInImage(ReaderError),
    /// The server sent a session token that cannot travel as metadata.
    #[error("the server's session token is malformed")]
    SessionToken,
    /// A quality threshold above 100.
    #[error("minimum quality {0} is out of range: qualities run from 0 to 100")]
    MinQuality(u32),
    /// The reader failed while capturing.
    #[error("capturing {} impression {impression}: {error}", finger.cli_name())]
    Reader {
        /// The finger being captured.
        finger: Finger,
        /// Which impression, from 1.
        impression: u32,
        /// What the reader said.
        error: ReaderError,
    },
    /// Every capture of an impression was below the quality threshold.
    #[error(
        "{} impression {impression}: {attempts} captures were all below quality {min_quality} (best {best_quality}); \
         clean the finger and the reader, or enroll another finger",
        finger.cli_name()
    )]
    PoorQuality {
        /// The finger.
        finger: Finger,
        /// Which impression, from 1.
        impression: u32,
        /// How many captures were tried.
        attempts: u32,
        /// The best quality among them.
        best_quality: u8,
        /// The threshold.
        min_quality: u8,
    },
    /// An image could not be encoded for sending.
    #[error("cannot encode the image of {} impression {impression}: {error}", finger.cli_name())]
    Encode {
        /// The finger.
        finger: Finger,
        /// Which impression, from 1.
        impression: u32,
        /// What went wrong.
        error: ReaderError,
    },
    /// The server could not be reached.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The server refused a call (`CODE: message`).
    #[error(transparent)]
    Rpc(#[from] RpcError),
}

impl From<tonic::Status> for StationError {
    fn from(status: tonic::Status) -> Self {
        StationError::Rpc(RpcError(status))
    }
}
