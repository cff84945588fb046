//! Request bodies whose rejections are [`ApiError`](deckle_protocol::api::ApiError)s
//! like every other error.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
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
