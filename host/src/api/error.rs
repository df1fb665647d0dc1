//! Errors of the REST API: an application error (`crate::app::AppError`)
//! answered as JSON `{ "error": "..." }` with its HTTP status, and the
//! API's own refusals of a request it cannot read.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::app::AppError;

#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct ApiError(#[from] pub AppError);

pub type ApiResult<T> = Result<T, ApiError>;

/// The body of every error answer.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong and what to do about it.
    pub error: String,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        crate::web::status(&self.0)
    }

    /// A request the API cannot take as it is.
    pub fn bad(message: impl Into<String>) -> ApiError {
        ApiError(AppError::invalid(message))
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError(AppError::Unauthorized(message.into()))
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError(AppError::NotFound(message.into()))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (
            status,
            Json(ErrorBody {
                error: self.to_string(),
            }),
        )
            .into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"homeroom\""),
            );
        }
        response
    }
}
