//! How errors from the server read: a gRPC status as `CODE: message` with the canonical upper-case
//! code name (`NOT_FOUND: no user hanako`), the form both command-line clients print.

use tonic::{Code, Status};

/// A status from the server, displayed as `CODE: message`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", status_line(.0))]
pub struct RpcError(pub Status);

impl RpcError {
    /// The status code.
    pub fn code(&self) -> Code {
        self.0.code()
    }

    /// The status message.
    pub fn message(&self) -> &str {
        self.0.message()
    }
}

impl From<Status> for RpcError {
    fn from(status: Status) -> Self {
        RpcError(status)
    }
}

/// The canonical name of a gRPC status code (`INVALID_ARGUMENT`, ...).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// A status as `CODE: message` (just `CODE` when the message is empty).
pub fn status_line(status: &Status) -> String {
    let code = code_name(status.code());
    if status.message().is_empty() {
        code.to_string()
    } else {
        format!("{code}: {}", status.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_as_code_and_message() {
        let e = RpcError::from(Status::not_found("no user \"hanako\""));
        assert_eq!(e.to_string(), "NOT_FOUND: no user \"hanako\"");
        assert_eq!(e.code(), Code::NotFound);
        assert_eq!(
            status_line(&Status::new(Code::FailedPrecondition, "")),
            "FAILED_PRECONDITION"
        );
        assert_eq!(code_name(Code::InvalidArgument), "INVALID_ARGUMENT");
    }
}
