//! Responses, and refusals: a request turned away with a 4xx is counted in the metrics with
//! a stable reason, and told why in one line.

use bytes::Bytes;
use hyper::http::{HeaderValue, StatusCode, header};

use super::Response;

use crate::metrics::Metrics;

/// Why a request is turned away.
#[derive(Debug)]
pub(super) enum Refusal {
    /// 403: the `signature` or `msg_signature` does not verify (named by the `&str`).
    Signature(&'static str),
    /// 405: the path takes only these methods.
    Method(&'static str),
    /// Any other 4xx, with a stable reason for the metrics and a message for the client.
    Other {
        status: StatusCode,
        reason: &'static str,
        message: String,
    },
}

impl Refusal {
    /// 400 with a reason label and a message.
    pub(super) fn bad(reason: &'static str, message: impl Into<String>) -> Refusal {
        Refusal::Other {
            status: StatusCode::BAD_REQUEST,
            reason,
            message: message.into(),
        }
    }

    /// The response, counted in the metrics.
    pub(super) fn respond(self, metrics: &Metrics) -> Response {
        match self {
            Refusal::Signature(which) => {
                metrics.signature_failures.with_label_values(&[which]).inc();
                text(StatusCode::FORBIDDEN, format!("invalid {which}\n"))
            }
            Refusal::Method(allow) => {
                metrics.bad_requests.with_label_values(&["method"]).inc();
                let mut r = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
                r.headers_mut()
                    .insert(header::ALLOW, HeaderValue::from_static(allow));
                r
            }
            Refusal::Other {
                status,
                reason,
                message,
            } => {
                metrics.bad_requests.with_label_values(&[reason]).inc();
                let prefix = if status == StatusCode::BAD_REQUEST {
                    "bad request: "
                } else {
                    ""
                };
                text(status, format!("{prefix}{message}\n"))
            }
        }
    }
}

/// A whole body with its status and content type: how every response of replyd's is made.
pub(super) fn with_type(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response {
    let mut r = Response::new(body.into().into());
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// 200 with XML.
pub(super) fn xml(body: Bytes) -> Response {
    with_type(StatusCode::OK, "application/xml; charset=utf-8", body)
}

/// 200 with an upstream's answer: XML when it is a reply, plain text for `success` or
/// nothing.
pub(super) fn relayed(body: Bytes) -> Response {
    if body.trim_ascii_start().starts_with(b"<") {
        return xml(body);
    }
    with_type(StatusCode::OK, "text/plain; charset=utf-8", body)
}

/// Plain text with a status.
pub(super) fn text(status: StatusCode, body: String) -> Response {
    with_type(status, "text/plain; charset=utf-8", body)
}

/// Plain text with a status, from a static string.
pub(super) fn plain(status: StatusCode, body: &'static str) -> Response {
    text(status, body.to_owned())
}
