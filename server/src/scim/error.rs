//! The HTTP edge of errors. Policy: what a client caused is a SCIM `Error` (RFC 7644 §3.12) with the
//! status and `scimType` the RFC prescribes and a detail saying what to change; what the server caused
//! is logged in full with the request's id and answered with a bare 500 that leaks nothing.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use scimd_schemas::ScimError;

use crate::store::StoreError;

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

#[derive(Debug)]
pub struct ApiError(pub ScimError);

pub type ApiResult<T> = Result<T, ApiError>;

impl From<ScimError> for ApiError {
    fn from(err: ScimError) -> Self {
        ApiError(err)
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        ApiError(match err {
            StoreError::Conflict(message) => ScimError::uniqueness(message),
            StoreError::NotFound => ScimError::not_found("no such resource"),
            StoreError::VersionMismatch => {
                ScimError::new(412, None, "the resource changed since you read it: fetch it again")
            }
            StoreError::Scim(e) => e,
            other => {
                tracing::error!(error = %other, "storage failure");
                ScimError::new(500, None, "internal server error; the server log has the details")
            }
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        scim_error_response(&self.0)
    }
}

pub fn scim_error_response(err: &ScimError) -> Response {
    let status = StatusCode::from_u16(err.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, err.body().to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_CONTENT_TYPE));
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"scimd\""));
    }
    response
}
