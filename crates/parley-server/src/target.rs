//! The one way into a conversation route: who calls ([`Caller`]), for which project and
//! version, and, on the stateful routes, for which user, with that user's lock held.
//!
//! Every Dialog API handler starts the same way (the path's parameters, the headers, the caller,
//! the authorisation, the version, the user id, the user's lock); the extractors here do it once,
//! so a route cannot forget a step. Like [`Caller`] they are `FromRequestParts`, so they run
//! before the body is read, and a refused caller is answered without reading it.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Path};
use axum::http::StatusCode;
use axum::http::request::Parts;
use parley_engine::{CompiledProject, CompiledVersion};

use crate::AppState;
use crate::auth::{Caller, Need};
use crate::error::ApiError;

/// What a route needs of its caller, as a type: [`Interact`] or [`Admin`].
pub(crate) trait Access: Send + Sync + 'static {
    const NEED: Need;
}

/// A turn of a conversation.
#[derive(Debug)]
pub(crate) struct Interact;

/// Reading or writing stored state.
#[derive(Debug)]
pub(crate) struct Admin;

impl Access for Interact {
    const NEED: Need = Need::Interact;
}

impl Access for Admin {
    const NEED: Need = Need::Admin;
}

/// The longest user id accepted, in bytes (of its UTF-8 form).
pub(crate) const MAX_USER_ID: usize = 256;

/// A route's project (once the caller may do `A` with it) and version.
#[derive(Debug)]
pub(crate) struct Target<A> {
    pub(crate) project: Arc<CompiledProject>,
    pub(crate) version: Arc<CompiledVersion>,
    /// Whether the route is the public one (`/public/{projectID}/…`), which Voiceflow's web
    /// widget calls without a key and whose answers have Voiceflow's public shapes.
    pub(crate) public_route: bool,
    /// The `platform` header Voiceflow's clients send (`webchat`, …), for the built-in variable.
    pub(crate) platform: Option<String>,
    /// The caller holds a secret key: it may read the conversation's state (`?verbose=true`).
    pub(crate) secret: bool,
    /// The caller holds no key: the keyless guards apply (new sessions per client address).
    pub(crate) keyless: bool,
    /// The client's address, when the server was given it.
    pub(crate) client: Option<std::net::IpAddr>,
    /// Where the client reached this server (`http://host:port`): a picture given as a path
    /// is made absolute against it.
    pub(crate) base: Option<String>,
    access: PhantomData<A>,
}

/// A stateful route's target: the project, the version and the user, with the user's lock held
/// for as long as this value lives (a user's requests run one at a time in this process).
#[derive(Debug)]
pub(crate) struct UserTarget<A> {
    pub(crate) project: Arc<CompiledProject>,
    pub(crate) version: Arc<CompiledVersion>,
    pub(crate) user: String,
    pub(crate) public_route: bool,
    pub(crate) platform: Option<String>,
    /// See [`Target`].
    pub(crate) secret: bool,
    pub(crate) keyless: bool,
    /// The client's address (the new-session rate of keyless callers).
    pub(crate) client: Option<std::net::IpAddr>,
    /// See [`Target`].
    pub(crate) base: Option<String>,
    _one_at_a_time: tokio::sync::OwnedMutexGuard<()>,
    access: PhantomData<A>,
}

async fn params_of(parts: &mut Parts, app: &AppState) -> Result<HashMap<String, String>, ApiError> {
    Path::<HashMap<String, String>>::from_request_parts(parts, app)
        .await
        .map(|Path(params)| params)
        .map_err(|e| ApiError::bad_request("invalid_path", e.body_text()))
}

impl<A: Access> FromRequestParts<AppState> for Target<A> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let params = params_of(parts, app).await?;
        let caller = Caller::from_request_parts(parts, app).await?;
        let project = app.authorize(&params, &caller, A::NEED).await?;
        let version = crate::version_of(&project, &params, &parts.headers)?;
        let platform = platform_of(parts);
        Ok(Target {
            project,
            version,
            public_route: params.contains_key("project_id"),
            platform,
            secret: caller.is_secret(),
            keyless: caller.is_keyless(),
            client: client_of(parts),
            base: base_of(parts, app),
            access: PhantomData,
        })
    }
}

impl<A: Access> FromRequestParts<AppState> for UserTarget<A> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let params = params_of(parts, app).await?;
        let user = user_of(&params)?;
        let Target {
            project,
            version,
            public_route,
            platform,
            secret,
            keyless,
            client,
            base,
            ..
        } = Target::<A>::from_request_parts(parts, app).await?;
        let lock = app.user_lock(&project.id, &user);
        let guard = app.wait_for_user(lock).await?;
        Ok(UserTarget {
            project,
            version,
            user,
            public_route,
            platform,
            secret,
            keyless,
            client,
            base,
            _one_at_a_time: guard,
            access: PhantomData,
        })
    }
}

/// The `platform` header Voiceflow's clients send, when it is a short word.
fn platform_of(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get("platform")
        .and_then(|v| v.to_str().ok())
        .filter(|p| !p.is_empty() && p.len() <= 64)
        .map(str::to_owned)
}

/// The client's address, when the server was given it (`into_make_service_with_connect_info`).
fn client_of(parts: &Parts) -> Option<std::net::IpAddr> {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Where the client reached this server, as `scheme://host[:port]`: the server's public URL
/// when it was given one (`parley serve --public-url`, for a server behind a proxy), else the
/// request's `Host` over `http` (`https` when a proxy says so in `X-Forwarded-Proto`). It
/// only shapes the answer to this client (the pictures it is shown), never where the server
/// connects.
pub(crate) fn base_of(parts: &Parts, app: &AppState) -> Option<String> {
    if let Some(url) = app.public_url() {
        return Some(url.to_owned());
    }
    let host = parts
        .headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| {
            !h.is_empty()
                && h.len() <= 255
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
        })?;
    let https = parts
        .headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    Some(format!("{}://{host}", if https { "https" } else { "http" }))
}

/// The client's id of a request (`x-parley-request-id`): a retry with the same id gets the
/// stored answer instead of a second turn.
pub(crate) fn request_id_of(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get("x-parley-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

fn user_of(params: &HashMap<String, String>) -> Result<String, ApiError> {
    checked_user(params.get("user_id").cloned().unwrap_or_default())
}

/// A user id as the client gave it, if it is 1 to [`MAX_USER_ID`] bytes without control
/// characters.
pub(crate) fn checked_user(user: String) -> Result<String, ApiError> {
    if user.is_empty() || user.len() > MAX_USER_ID || user.chars().any(char::is_control) {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_user_id",
            format!("a user id is 1 to {MAX_USER_ID} bytes, without control characters"),
        ));
    }
    Ok(user)
}

/// A v4 session key: who the session is for, and which session of theirs, signed by the server
/// (`<hex of the JSON claims>.<hex of the HMAC>`). The key carries no secret of the project's,
/// so a page may hold it; it is good for one user and one conversation, until a new session is
/// started for that user.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct SessionClaims {
    #[serde(rename = "p")]
    pub(crate) project: String,
    #[serde(rename = "u")]
    pub(crate) user: String,
    /// The version's id (not an alias: the session stays on the version it started on).
    #[serde(rename = "v")]
    pub(crate) version: String,
    /// The session's id, kept in the user's stored conversation.
    #[serde(rename = "k")]
    pub(crate) id: String,
    /// Started without a key (the public route's rules): its turns keep those rules.
    #[serde(rename = "o", default)]
    pub(crate) open: bool,
}

const SESSION_DOMAIN: &str = "parley v4 session key";

impl SessionClaims {
    pub(crate) fn to_key(&self, app: &AppState) -> String {
        let claims = serde_json::to_vec(self).unwrap_or_default();
        let tag = app.signer().tag(SESSION_DOMAIN, &claims);
        format!(
            "{}.{}",
            crate::signing::to_hex(&claims),
            crate::signing::to_hex(&tag)
        )
    }

    fn from_key(key: &str, app: &AppState) -> Option<SessionClaims> {
        let key = key.strip_prefix("Bearer ").unwrap_or(key).trim();
        let (claims, tag) = key.split_once('.')?;
        let claims = crate::signing::from_hex_vec(claims)?;
        let tag = crate::signing::from_hex_vec(tag)?;
        if !app.signer().verify_tag(SESSION_DOMAIN, &claims, &tag) {
            return None;
        }
        serde_json::from_slice(&claims).ok()
    }
}

/// The target of a v4 interact call: the session key in `Authorization` names the project,
/// the version and the user; the page's origin must be one the project allows.
#[derive(Debug)]
pub(crate) struct SessionTarget {
    pub(crate) target: UserTarget<Interact>,
    pub(crate) session: String,
}

impl FromRequestParts<AppState> for SessionTarget {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let refused = || {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_session",
                "`Authorization` holds no session key of this server: start a session with \
                 POST /v4/project/{projectID}/session",
            )
        };
        let key = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(refused)?;
        let claims = SessionClaims::from_key(key, app).ok_or_else(refused)?;
        let project = app.project_named(&claims.project)?;
        let version = project.version(&claims.version).cloned().ok_or_else(|| {
            ApiError::not_found(
                "unknown_version",
                format!(
                    "the session's version `{}` is no longer served: start a session again",
                    claims.version
                ),
            )
        })?;
        let origin = parts.headers.get("origin").and_then(|v| v.to_str().ok());
        crate::auth::check_origin(&project, origin)?;
        let platform = platform_of(parts);
        let client = client_of(parts);
        if claims.open {
            // A session started without a key keeps the public route's rules: closed if the
            // project closed it since, and a rate per client address.
            let locked = app.keys().locked(&project.id);
            if !crate::auth::public_open(&project, locked) {
                return Err(ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "key_required",
                    "this session was started without a key, and the project now needs one: \
                     start a session with a key",
                ));
            }
            if let Some(address) = client {
                app.admit_keyless(&project, address).await?;
            }
        }
        let guard = app
            .wait_for_user(app.user_lock(&project.id, &claims.user))
            .await?;
        Ok(SessionTarget {
            target: UserTarget {
                project,
                version,
                user: claims.user,
                public_route: false,
                platform,
                secret: false,
                keyless: claims.open,
                client,
                base: base_of(parts, app),
                _one_at_a_time: guard,
                access: PhantomData,
            },
            session: claims.id,
        })
    }
}
