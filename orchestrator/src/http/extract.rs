//! Request bodies, paths and queries whose rejections are
//! [`ApiError`](deckle_protocol::api::ApiError)s like every other error.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use serde::de::{Deserialize, Deserializer, Visitor};

use super::HttpError;
use crate::error::Error;

/// JSON bodies whose rejections are [`ApiError`]s too: 400 for malformed JSON or a
/// wrong shape, 413 past the size limit, 415 without a JSON content type.
pub(super) struct ApiJson<T>(pub(super) T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = HttpError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<ObjectsOnly<T>>::from_request(req, state).await {
            Ok(Json(ObjectsOnly(v))) => Ok(ApiJson(v)),
            Err(r) if r.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(HttpError::TooLarge(r.body_text())),
            Err(r) if r.status() == StatusCode::UNSUPPORTED_MEDIA_TYPE => Err(HttpError::UnsupportedMedia(r.body_text())),
            Err(r) => Err(Error::Input(r.body_text()).into()),
        }
    }
}

/// A body read as `T`, where a struct is read only from a JSON object. Serde's
/// derived structs also take an array of their fields in order (`[]` is a
/// [`Rerun`](deckle_protocol::api::Rerun) with every default), which the API
/// document does not allow.
struct ObjectsOnly<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectsOnly<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(StructAsMap(d)).map(ObjectsOnly)
    }
}

/// `fn deserialize_x(self, v)` calling the wrapped deserializer's own, for each x.
macro_rules! forward_by_name {
    ($($method:ident)*) => {
        $(fn $method<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
            self.0.$method(v)
        })*
    };
}

/// Hands a struct's visitor a map and nothing else; every other request goes
/// through unchanged.
struct StructAsMap<D>(D);

impl<'de, D: Deserializer<'de>> Deserializer<'de> for StructAsMap<D> {
    type Error = D::Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_any(v)
    }

    fn deserialize_struct<V: Visitor<'de>>(self, _: &'static str, _: &'static [&'static str], v: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_map(v)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(self, name: &'static str, v: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_unit_struct(name, v)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, name: &'static str, v: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_newtype_struct(name, v)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple(len, v)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(self, name: &'static str, len: usize, v: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple_struct(name, len, v)
    }

    fn deserialize_enum<V: Visitor<'de>>(self, name: &'static str, variants: &'static [&'static str], v: V) -> Result<V::Value, D::Error> {
        self.0.deserialize_enum(name, variants, v)
    }

    forward_by_name! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16
        deserialize_u32 deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char deserialize_str deserialize_string
        deserialize_bytes deserialize_byte_buf deserialize_option deserialize_unit deserialize_seq deserialize_map deserialize_identifier
        deserialize_ignored_any
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

#[cfg(test)]
mod tests {
    use deckle_protocol::api::{Rerun, TriggerRun};

    use super::ObjectsOnly;

    fn read<T: serde::de::DeserializeOwned>(json: &str) -> Result<T, serde_json::Error> {
        serde_json::from_str::<ObjectsOnly<T>>(json).map(|o| o.0)
    }

    #[test]
    fn a_struct_is_read_from_an_object_never_from_an_array() {
        // What serde alone does, and what the API refuses.
        assert!(serde_json::from_str::<Rerun>("[]").is_ok());
        let err = read::<Rerun>("[]").unwrap_err().to_string();
        assert!(err.contains("invalid type: sequence"), "{err}");
        assert!(read::<TriggerRun>(r#"[{"p": "1"}, "2024-01-02", 3]"#).is_err());

        let rerun: Rerun = read(r#"{"params": {"p": "1"}}"#).unwrap();
        assert!(rerun.from_failed && rerun.params["p"] == "1");
        let trigger: TriggerRun = read(r#"{"date": null, "version": 3, "extra": [1]}"#).unwrap();
        assert_eq!((trigger.date, trigger.version), (None, Some(3)));
    }

    #[test]
    fn fields_keep_their_own_errors() {
        let err = read::<Rerun>(r#"{"from_failed": "yes"}"#).unwrap_err().to_string();
        assert!(err.contains("invalid type: string \"yes\", expected a boolean"), "{err}");
        let err = read::<TriggerRun>(r#"{"params": []}"#).unwrap_err().to_string();
        assert!(err.contains("invalid type: sequence, expected a map"), "{err}");
    }
}
