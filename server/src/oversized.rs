//! tonic refuses a request over a service's size limit while reading it, with OUT_OF_RANGE in the
//! answer's trailers; the API promises INVALID_ARGUMENT for every oversized request. This layer
//! rewrites that one status (the message, which gives the limit, is kept) and passes everything
//! else through untouched.

use std::pin::Pin;
use std::task::{Context, Poll};
use tonic::codegen::http::{self, HeaderMap, HeaderValue};

/// The words of tonic's message for a request over the limit.
const TOO_LARGE: &str = "message length too large";

/// Rewrites an oversized-request OUT_OF_RANGE in `headers` (trailers or trailers-only headers).
fn rewrite(headers: &mut HeaderMap) {
    let oversized = headers
        .get("grpc-status")
        .is_some_and(|status| status == (tonic::Code::OutOfRange as i32).to_string().as_str())
        && headers
            .get("grpc-message")
            .and_then(|message| message.to_str().ok())
            .is_some_and(|message| message.contains(TOO_LARGE) || message.contains("message%20length%20too%20large"));
    if oversized {
        headers.insert("grpc-status", HeaderValue::from(tonic::Code::InvalidArgument as i32));
    }
}

pin_project_lite::pin_project! {
    /// A response body whose trailers go through [`rewrite`].
    pub struct Body<B> {
        #[pin]
        inner: B,
    }
}

impl<B: http_body::Body> http_body::Body for Body<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let mut poll = self.project().inner.poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &mut poll {
            if let Some(trailers) = frame.trailers_mut() {
                rewrite(trailers);
            }
        }
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Wraps a response: its headers (a trailers-only answer) and its trailers are rewritten.
pub fn as_invalid_argument<B>(response: http::Response<B>) -> http::Response<Body<B>> {
    let mut response = response.map(|inner| Body { inner });
    rewrite(response.headers_mut());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_oversized_status_is_rewritten() {
        let mut oversized = HeaderMap::new();
        oversized.insert("grpc-status", HeaderValue::from_static("11"));
        oversized.insert(
            "grpc-message",
            HeaderValue::from_static("Error, decoded message length too large: found 9 bytes"),
        );
        rewrite(&mut oversized);
        assert_eq!(oversized["grpc-status"], "3");

        let mut other = HeaderMap::new();
        other.insert("grpc-status", HeaderValue::from_static("11"));
        other.insert("grpc-message", HeaderValue::from_static("index out of range"));
        rewrite(&mut other);
        assert_eq!(other["grpc-status"], "11");

        let mut ok = HeaderMap::new();
        ok.insert("grpc-status", HeaderValue::from_static("0"));
        rewrite(&mut ok);
        assert_eq!(ok["grpc-status"], "0");
    }
}
