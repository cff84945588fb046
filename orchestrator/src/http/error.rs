//! The one place errors meet HTTP: a domain [`Error`], or a refusal only HTTP
//! knows of (no token, a body too large …), becomes a status and an [`ApiError`]
//! body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use deckle_protocol::api::ApiError;

use crate::error::Error;

/// What an HTTP request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The operation failed.
    #[error(transparent)]
    Domain(#[from] Error),
    /// No valid bearer token or session.
    #[error("a valid bearer token is required (Authorization: Bearer <token>)")]
    Unauthorized,
    /// The body is over the server's limit.
    #[error("request too large: {0}")]
    TooLarge(String),
    /// A JSON route called without a JSON content type.
    #[error("{0}")]
    UnsupportedMedia(String),
    /// The route exists, not for this method.
    #[error("method not allowed on this route")]
    MethodNotAllowed,
}

impl HttpError {
    /// The response status.
    pub fn status(&self) -> StatusCode {
        match self {
            HttpError::Domain(e) => match e {
                Error::Input(_) => StatusCode::BAD_REQUEST,
                Error::InvalidWorkflow(_) => StatusCode::UNPROCESSABLE_ENTITY,
                Error::NotFound(_) => StatusCode::NOT_FOUND,
                Error::Conflict(_) | Error::StaleLease(_) => StatusCode::CONFLICT,
                Error::Store(_) | Error::Io { .. } | Error::StorageFault(_) | Error::Fenced(_) => StatusCode::SERVICE_UNAVAILABLE,
            },
            HttpError::Unauthorized => StatusCode::UNAUTHORIZED,
            HttpError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            HttpError::UnsupportedMedia(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            HttpError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        }
    }

    /// The machine-readable `code` of the [`ApiError`] body.
    pub fn code(&self) -> &'static str {
        match self {
            HttpError::Domain(e) => match e {
                Error::Input(_) => "bad_request",
                Error::InvalidWorkflow(_) => "invalid_workflow",
                Error::NotFound(_) => "not_found",
                Error::Conflict(_) => "conflict",
                Error::StaleLease(_) => "stale_lease",
                Error::Store(_) | Error::Io { .. } => "unavailable",
                Error::StorageFault(_) => "storage_unavailable",
                Error::Fenced(_) => "not_leader",
            },
            HttpError::Unauthorized => "unauthorized",
            HttpError::TooLarge(_) => "payload_too_large",
            HttpError::UnsupportedMedia(_) => "unsupported_media_type",
            HttpError::MethodNotAllowed => "method_not_allowed",
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let details = match &self {
            HttpError::Domain(Error::InvalidWorkflow(d)) => d.clone(),
            _ => Vec::new(),
        };
        let error = match &self {
            HttpError::Domain(Error::InvalidWorkflow(d)) if d.len() == 1 => "the workflow is invalid (1 problem)".to_string(),
            HttpError::Domain(Error::InvalidWorkflow(d)) => format!("the workflow is invalid ({} problems)", d.len()),
            e => e.to_string(),
        };
        if self.status().is_server_error() {
            tracing::error!(error = %error, "request failed");
        }
        (self.status(), Json(ApiError { error, code: self.code().to_string(), details })).into_response()
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        HttpError::from(self).into_response()
    }
}
