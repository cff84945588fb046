//! Request bodies, paths and queries whose rejections are
//! [`ApiError`](deckle_protocol::api::ApiError)s like every other error.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;

use super::HttpError;
use crate::error::Error;

/// JSON bodies whose rejections are [`ApiError`]s too: 400 for malformed JSON or a
/// wrong shape, 413 past the size limit, 415 without a JSON content type.
pub(super) struct ApiJson<T>(pub(super) T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(HttpError::TooLarge(r.body_text())),
            Err(r) if r.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE => Err(HttpError::UnsupportedMedia(r.body_text())),
            Err(r) => Err(Error::Input(r.body_text()).into()),
        }
    }
}

/// Raw bodies (notebook uploads), with the size limit reported as JSON.
pub(super) struct ApiBytes(pub(super) Bytes);

impl<S: Send + Sync> FromRequest<S> for ApiBytes {
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Bytes::from_request(req, state).await {
            Ok(b) => Ok(ApiBytes(b)),
            Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(HttpError::TooLarge(r.body_text())),
            Err(r) => Err(Error::Input(r.body_text()).into()),
        }
    }
}

/// Path parameters; one that does not parse (`attempts/x`) is a 400 [`ApiError`].
pub(super) struct ApiPath<T>(pub(super) T);

impl<T: serde::de::DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(ApiPath(v)),
            Err(r) => Err(Error::Input(r.body_text()).into()),
        }
    }
}

/// Query parameters; a value that does not parse (`?attempt=x`) is a 400 [`ApiError`].
pub(super) struct ApiQuery<T>(pub(super) T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(ApiQuery(v)),
            Err(r) => Err(Error::Input(r.body_text()).into()),
        }
    }
}
