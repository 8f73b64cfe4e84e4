//! Request bodies: `application/scim+json` or `application/json` (any parameters, e.g. charset),
//! parsed by us so that every failure is a SCIM error rather than axum's plain-text rejection.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use scimd_schemas::ScimError;
use serde_json::Value;

use super::error::{ApiError, SCIM_CONTENT_TYPE};

/// A JSON request body as a `serde_json::Value`.
pub struct ScimJson(pub Value);

/// A request body of a JSON content type, unparsed.
pub struct ScimBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for ScimBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if let Some(content_type) = req.headers().get(header::CONTENT_TYPE) {
            let mime = content_type.to_str().unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            if mime != "application/json" && mime != SCIM_CONTENT_TYPE {
                return Err(ApiError(ScimError::new(
                    415,
                    None,
                    format!("unsupported Content-Type {mime:?}: send application/scim+json or application/json"),
                )));
            }
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError(ScimError::new(
                    413,
                    None,
                    "the request body is too large (for /Bulk, see maxPayloadSize in /ServiceProviderConfig)",
                ))
            } else {
                ApiError(ScimError::invalid_syntax(format!("could not read the request body: {rejection}")))
            }
        })?;
        Ok(ScimBytes(bytes))
    }
}

impl<S: Send + Sync> FromRequest<S> for ScimJson {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ScimBytes(bytes) = ScimBytes::from_request(req, state).await?;
        let value = serde_json::from_slice(&bytes)
            .map_err(|e| ApiError(ScimError::invalid_syntax(format!("the request body is not valid JSON: {e}"))))?;
        Ok(ScimJson(value))
    }
}

/// A SCIM JSON response with a status.
pub fn scim_response(status: StatusCode, body: &Value) -> Response {
    scim_text_response(status, body.to_string())
}

/// A SCIM response whose JSON is already written.
pub fn scim_text_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_CONTENT_TYPE));
    response
}
