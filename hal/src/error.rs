//! What can go wrong with a reader, as one typed error that the station and the login agent can
//! act on (ask the user to touch again, tell the operator to plug the reader in, ...).

use std::time::Duration;

use crate::transport::TransportError;

/// Why a reader could not deliver.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReaderError {
    /// There is no reader to use: none attached, or none with the id asked for.
    #[error("no fingerprint reader: {0}")]
    NoReader(String),
    /// The reader went away (unplugged, or it reset) while in use.
    #[error("the fingerprint reader was disconnected")]
    Disconnected,
    /// No finger was presented before the timeout.
    #[error("no finger was presented within {} ms", .0.as_millis())]
    TimedOut(Duration),
    /// The capture was cancelled through its cancel handle.
    #[error("the capture was cancelled")]
    Cancelled,
    /// The device misbehaved or reported an error.
    #[error("reader error: {0}")]
    Device(String),
    /// An image given to or made by a reader could not be read, decoded or encoded.
    #[error("image error: {0}")]
    Image(String),
}

impl From<TransportError> for ReaderError {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::NoDevice => ReaderError::Disconnected,
            other => ReaderError::Device(other.to_string()),
        }
    }
}
