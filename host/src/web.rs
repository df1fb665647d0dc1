//! What the two HTTP faces (the REST API and the admin UI) share: the HTTP
//! status an application error answers with. Each face renders the error
//! its own way (JSON, a page); both agree on the status here.

use axum::http::StatusCode;

use crate::app::AppError;

/// The status an application error answers with.
pub fn status(e: &AppError) -> StatusCode {
    match e {
        AppError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        AppError::Forbidden(_) => StatusCode::FORBIDDEN,
        AppError::NotFound(_) => StatusCode::NOT_FOUND,
        AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::Conflict(_) => StatusCode::CONFLICT,
        AppError::Upstream(_) => StatusCode::BAD_GATEWAY,
        AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}
