//! The one place errors meet HTTP: every [`Error`] becomes a status and an
//! [`ApiError`] body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use deckle_protocol::api::ApiError;

use crate::error::Error;

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Error::Input(_) => StatusCode::BAD_REQUEST,
            Error::InvalidWorkflow(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Conflict(_) | Error::StaleLease(_) => StatusCode::CONFLICT,
            Error::Unauthorized => StatusCode::UNAUTHORIZED,
            Error::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMedia(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Error::Store(_) | Error::Io { .. } | Error::StorageFault(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Error::Input(_) => "bad_request",
            Error::InvalidWorkflow(_) => "invalid_workflow",
            Error::NotFound(_) => "not_found",
            Error::Conflict(_) => "conflict",
            Error::StaleLease(_) => "stale_lease",
            Error::Unauthorized => "unauthorized",
            Error::TooLarge(_) => "payload_too_large",
            Error::UnsupportedMedia(_) => "unsupported_media_type",
            Error::MethodNotAllowed => "method_not_allowed",
            Error::Store(_) | Error::Io { .. } => "unavailable",
            Error::StorageFault(_) => "storage_unavailable",
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let details = match &self {
            Error::InvalidWorkflow(d) => d.clone(),
            _ => Vec::new(),
        };
        let error = match &self {
            Error::InvalidWorkflow(d) if d.len() == 1 => "the workflow is invalid (1 problem)".to_string(),
            Error::InvalidWorkflow(d) => format!("the workflow is invalid ({} problems)", d.len()),
            e => e.to_string(),
        };
        if self.status().is_server_error() {
            tracing::error!(error = %error, "request failed");
        }
        (self.status(), Json(ApiError { error, code: self.code().to_string(), details })).into_response()
    }
}
