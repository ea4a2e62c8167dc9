//! The demo project's own endpoints: the delivery estimate its API-call block asks for, and its
//! pictures (the demo runs on closed networks too, so nothing comes from elsewhere).

use std::collections::HashMap;

use axum::response::{IntoResponse, Response};

/// The delivery estimate the demo project's API-call block asks for: a real HTTP endpoint, so
/// the demo exercises a real call.
pub(crate) async fn estimate(
    crate::error::Query(query): crate::error::Query<HashMap<String, String>>,
) -> Response {
    // Absent: one pizza; anything but a whole number (`null`, `two`, `-1`) is the caller's
    // mistake, said so.
    let quantity: u64 = match query.get("quantity").map(|q| q.parse()) {
        None => 1,
        Some(Ok(quantity)) => quantity,
        Some(Err(_)) => {
            return crate::error::ApiError::bad_request(
                "invalid_quantity",
                "quantity is a whole number of pizzas (0 or more)",
            )
            .into_response();
        }
    };
    let minutes = 20 + 5 * quantity.min(20);
    axum::Json(serde_json::json!({ "minutes": minutes })).into_response()
}

/// The demo project's pictures (it runs on a closed network, so they are served here).
pub(crate) async fn image(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    let svg = match name.as_str() {
        "logo.svg" => include_str!("../demo-images/logo.svg"),
        "margherita.svg" => include_str!("../demo-images/margherita.svg"),
        "pepperoni.svg" => include_str!("../demo-images/pepperoni.svg"),
        "veggie.svg" => include_str!("../demo-images/veggie.svg"),
        "scooter.svg" => include_str!("../demo-images/scooter.svg"),
        _ => return crate::not_found().await.into_response(),
    };
    ([(axum::http::header::CONTENT_TYPE, "image/svg+xml")], svg).into_response()
}
