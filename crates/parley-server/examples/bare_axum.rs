//! The baseline of `cargo xtask bench server`: a bare axum server that answers both interact
//! routes with a fixed turn (the demo's greeting), parsing the request body as JSON like the real
//! server does, but running no engine, signing nothing and storing nothing. Parley's figures are
//! reported as a ratio of this one's, measured in the same run, so they hold on a noisy machine.
//!
//! `bare_axum ADDR` (loopback only); prints `listening on http://ADDR` when ready.

use axum::Json;
use axum::routing::post;
use serde_json::{Value, json};

fn turn() -> Value {
    json!([
        { "type": "text", "payload": { "message": "Welcome to **Pizza Palace**! 🍕", "delay": 600 } },
        { "type": "choice", "payload": { "buttons": [
            { "name": "Order a pizza", "request": { "type": "path-order-0", "payload": { "label": "Order a pizza" } } },
            { "name": "See the menu", "request": { "type": "path-menu-1", "payload": { "label": "See the menu" } } }
        ] } },
        { "type": "no-reply", "payload": { "timeout": 30 } }
    ])
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr: std::net::SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into())
        .parse()?;
    if !addr.ip().is_loopback() {
        return Err("the baseline listens on loopback only".into());
    }
    let stateless = post(|Json(body): Json<Value>| async move {
        let state = body
            .get("state")
            .cloned()
            .unwrap_or_else(|| json!({ "stack": [], "variables": {} }));
        Json(json!({ "state": state, "trace": turn() }))
    });
    let stateful = post(|Json(_): Json<Value>| async { Json(turn()) });
    let app = axum::Router::new()
        .route("/interact", stateless)
        .route("/state/user/{user}/interact", stateful);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
