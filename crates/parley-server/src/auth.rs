//! Who is calling, and what they may do: the API key (see [`crate::keys`]), the page's origin
//! and the client's address, checked against the project a request is for.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::StatusCode;
use axum::http::request::Parts;
use parley_engine::CompiledProject;

use crate::AppState;
use crate::error::ApiError;
use crate::keys::{KeyRecord, Rejection, Scope};

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// A turn of a conversation: a public key, a secret key, or none for a project without keys.
    Interact,
    /// Reading or writing stored state: a secret key.
    Admin,
}

impl Caller {
    /// Whether the caller holds a live secret key (which may read a conversation's state).
    pub(crate) fn is_secret(&self) -> bool {
        self.key.as_ref().is_some_and(|k| k.scope == Scope::Secret)
    }

    /// Whether the caller holds no live key at all.
    pub(crate) fn is_keyless(&self) -> bool {
        self.key.is_none()
    }
}

/// The caller of a request, as its headers and connection tell.
#[derive(Debug)]
pub(crate) struct Caller {
    /// The verified key, if the request carried one.
    key: Option<KeyRecord>,
    /// The request carried an `Authorization` value that is no live key of this server (a
    /// Voiceflow key, a stale one): refused by a project that has keys, ignored by one without,
    /// as Voiceflow's clients send one whatever the project.
    unknown_key: bool,
    origin: Option<String>,
    client: IpAddr,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Caller, ApiError> {
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        // Keys created or revoked by another process are seen within five seconds, whether
        // this request carries a key or not.
        app.keys().keep_fresh().await;
        let (key, unknown_key) = match header("authorization") {
            None => (None, false),
            Some(key) => match app.keys().verify(&key).await {
                Ok(record) => (Some(record), false),
                Err(_) => (None, true),
            },
        };
        // Behind a proxy every client has the proxy's address: give each instance its own
        // public key rates accordingly (a trusted forwarded-for header is not read).
        let client = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        Ok(Caller {
            key,
            unknown_key,
            origin: header("origin"),
            client,
        })
    }
}

fn forbidden(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, code, message)
}

/// Refuses a page of an origin the project does not allow (an empty list allows any).
pub(crate) fn check_origin(
    project: &CompiledProject,
    origin: Option<&str>,
) -> Result<(), ApiError> {
    match origin {
        Some(origin)
            if !project.allowed_origins.is_empty()
                && !project.allowed_origins.iter().any(|o| o == origin) =>
        {
            Err(forbidden(
                "origin_not_allowed",
                format!(
                    "pages from `{origin}` may not use the project `{}`: add the origin to its \
                     allowedOrigins",
                    project.id
                ),
            ))
        }
        _ => Ok(()),
    }
}

impl AppState {
    /// Counts one keyless request of a client on the project's public route; refuses it over
    /// the project's rate.
    pub(crate) async fn admit_keyless(
        &self,
        project: &CompiledProject,
        client: IpAddr,
    ) -> Result<(), ApiError> {
        match self
            .keys()
            .admit_public(&project.id, project.public_requests_per_minute, client)
            .await
        {
            Err(Rejection::RateLimited { retry_after }) => Err(rate_limited(
                "too many requests from this address: slow down and retry later",
                retry_after,
            )),
            _ => Ok(()),
        }
    }
}

/// Whether the project's public route serves pages without a key: as the project says, else
/// only while it has never had a key (a project locked with a key stays locked).
pub(crate) fn public_open(project: &CompiledProject, locked: bool) -> bool {
    project.public_access.unwrap_or(!locked)
}

fn invalid_key() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "invalid_key",
        "the API key in `Authorization` is not a live key of this server",
    )
}

fn rate_limited(message: &str, retry_after: std::time::Duration) -> ApiError {
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message).retry_after(retry_after)
}

fn key_required(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "key_required", message)
}

impl AppState {
    /// The project a request is for, once the caller may do `need` with it: named in the path
    /// (`/public/{projectID}/…`), else the key's project, else the only one this server has.
    pub(crate) async fn authorize(
        &self,
        params: &HashMap<String, String>,
        caller: &Caller,
        need: Need,
    ) -> Result<Arc<CompiledProject>, ApiError> {
        // `project_id`: Voiceflow's public route names it; `project`: a keyed route that names
        // its project (the v2 stream), under the key's rules.
        let named = params.get("project_id").or_else(|| params.get("project"));
        let project = match (named, &caller.key) {
            (None, Some(key)) => self.project_named(&key.project),
            (named, _) => self.project(named.map(String::as_str)),
        };
        // A key this server does not know, where no project can be told: say so about the key.
        let project = project.map_err(|e| if caller.unknown_key { invalid_key() } else { e })?;
        if let Some(key) = &caller.key
            && key.project != project.id
        {
            return Err(forbidden(
                "key_wrong_project",
                format!("this API key is not a key of the project `{}`", project.id),
            ));
        }
        let locked = self.keys().locked(&project.id);
        if caller.unknown_key && locked {
            return Err(invalid_key());
        }
        // Voiceflow's public route (`/public/{projectID}/…`): what its web widget calls, with
        // no key. Served without one unless the project turns it off, under the guards of a
        // public key: the allowed origins and a rate per client address.
        let public_route = params.contains_key("project_id");
        let public = caller.key.as_ref().is_none_or(|k| k.scope == Scope::Public);
        match (need, &caller.key) {
            (Need::Admin, Some(key)) if key.scope == Scope::Secret => {}
            (Need::Admin, Some(_)) => {
                return Err(forbidden(
                    "key_scope",
                    "a public key may only interact: state admin needs a secret key",
                ));
            }
            (Need::Admin, None) => {
                return Err(key_required(
                    "state admin needs a secret API key in `Authorization` \
                     (`parley keys create --scope secret`)",
                ));
            }
            (Need::Interact, None) if public_route && public_open(&project, locked) => {
                self.admit_keyless(&project, caller.client).await?;
            }
            (Need::Interact, None) if locked => {
                return Err(key_required(
                    "this project needs an API key in `Authorization`",
                ));
            }
            (Need::Interact, _) => {}
        }
        if public {
            check_origin(&project, caller.origin.as_deref())?;
        }
        if let Some(key) = &caller.key
            && key.scope == Scope::Public
            && let Err(Rejection::RateLimited { retry_after }) =
                self.keys().admit(key, caller.client).await
        {
            return Err(rate_limited(
                "too many requests with this key: slow down and retry later",
                retry_after,
            ));
        }
        Ok(project)
    }
}
