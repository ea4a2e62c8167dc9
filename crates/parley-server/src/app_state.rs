//! [`AppState`]: what every handler shares (projects, signer, store, keys, API callers, the
//! per-user locks), and the lookups of a request's project and version.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;
use parley_engine::{CompiledProject, CompiledVersion};

use crate::error::ApiError;
use crate::http::ApiCaller;
use crate::keys::Keys;
use crate::signing::Signer;
use crate::store::Store;

/// Everything the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) projects: BTreeMap<String, Arc<CompiledProject>>,
    pub(crate) signer: Signer,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) keys: Keys,
    pub(crate) public_caller: ApiCaller,
    pub(crate) private_caller: ApiCaller,
    /// One lock per (project, user) with a request in flight: a user's requests run one at a
    /// time. A tokio mutex, because it is held across the turn's `.await`s (API calls, the
    /// store); the map itself is behind a std mutex held only to look an entry up.
    pub(crate) user_locks: Mutex<HashMap<UserKey, Arc<tokio::sync::Mutex<()>>>>,
    pub(crate) limits: crate::Limits,
    /// The language model LLM blocks ask (none: they take their failure path).
    pub(crate) llm: Option<crate::llm::LlmClient>,
    /// The URL clients reach this server at, when it was given one (`--public-url`): pictures
    /// given as paths are made absolute against it instead of the request's `Host`.
    pub(crate) public_url: Option<String>,
    /// This server's own address (`http://127.0.0.1:8080`), against which an API call given as
    /// a path is resolved.
    pub(crate) self_url: Option<String>,
    /// New stateful sessions per (project, client address), for projects without keys.
    new_sessions: governor::DefaultKeyedRateLimiter<(String, std::net::IpAddr)>,
}

/// (project id, user id).
type UserKey = (String, String);

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("projects", &self.inner.projects.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl AppState {
    pub async fn new(
        projects: Vec<CompiledProject>,
        signer: Signer,
        store: Arc<dyn Store>,
    ) -> Result<AppState, String> {
        let keys = Keys::load(store.clone()).await.map_err(|e| e.to_string())?;
        let llm = crate::llm::LlmClient::from_env();
        for project in &projects {
            if llm.is_none() && project.versions().any(|v| v.uses_llm()) {
                tracing::warn!(
                    "the project `{}` has LLM blocks, but no language model is configured \
                     (PARLEY_LLM_BASE_URL): they will take their failure paths",
                    project.id
                );
            }
        }
        Ok(AppState {
            inner: Arc::new(Inner {
                projects: projects
                    .into_iter()
                    .map(|p| (p.id.clone(), Arc::new(p)))
                    .collect(),
                signer,
                store,
                keys,
                public_caller: ApiCaller::new(false)?,
                private_caller: ApiCaller::new(true)?,
                user_locks: Mutex::new(HashMap::new()),
                new_sessions: new_sessions_limiter(&crate::Limits::default()),
                limits: crate::Limits::default(),
                llm,
                public_url: None,
                self_url: None,
            }),
        })
    }

    /// The same state with `llm` as the model LLM blocks ask, instead of the one the
    /// environment names (call before the state is shared: building the router shares it).
    pub fn with_llm(mut self, llm: Option<crate::llm::LlmClient>) -> AppState {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner.llm = llm,
            None => tracing::error!("with_llm on a shared AppState: ignored"),
        }
        self
    }

    /// The same state with the URL clients reach it at (`public`, e.g. behind a proxy) and its
    /// own address (`own`, where API calls given as paths go); call before the state is shared.
    pub fn with_urls(mut self, public: Option<String>, own: Option<String>) -> AppState {
        let trim = |url: String| url.trim_end_matches('/').to_owned();
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => {
                inner.public_url = public.map(trim);
                inner.self_url = own.map(trim);
            }
            None => tracing::error!("with_urls on a shared AppState: ignored"),
        }
        self
    }

    pub(crate) fn public_url(&self) -> Option<&str> {
        self.inner.public_url.as_deref()
    }

    /// What performs a turn's effects for `version`, as the request's `config` asks.
    pub(crate) fn tools(
        &self,
        version: &CompiledVersion,
        config: Option<&parley_protocol::Config>,
    ) -> crate::turn::Tools<'_> {
        crate::turn::Tools {
            caller: self.caller(version),
            self_url: self.inner.self_url.as_deref(),
            llm: self.inner.llm.as_ref(),
            completion_events: crate::turn::wants_completion_events(config),
        }
    }

    /// The same state with `limits` (call before the state is shared: building the router
    /// shares it).
    pub fn with_limits(mut self, limits: crate::Limits) -> AppState {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => {
                inner.new_sessions = new_sessions_limiter(&limits);
                inner.limits = limits;
            }
            None => tracing::error!("with_limits on a shared AppState: the limits are unchanged"),
        }
        self
    }

    pub(crate) fn limits(&self) -> &crate::Limits {
        &self.inner.limits
    }

    /// Counts a new stateful session of `client` on `project`; refuses it over the rate (only
    /// for a caller without a key: a key carries its own rates).
    pub(crate) async fn admit_new_session(
        &self,
        project: &str,
        client: Option<std::net::IpAddr>,
        keyless: bool,
    ) -> Result<(), ApiError> {
        let (Some(client), true) = (client, keyless) else {
            return Ok(());
        };
        let per_minute = self.limits().new_sessions_per_minute;
        let local = self
            .inner
            .new_sessions
            .check_key(&(project.to_owned(), client))
            .map_err(|not_until| {
                not_until.wait_time_from(governor::clock::Clock::now(
                    &governor::clock::DefaultClock::default(),
                ))
            });
        // This server's count first, then the one every server shares (PostgreSQL).
        let shared = match local {
            Ok(()) => self
                .keys()
                .shared(&format!("new:{project}:{client}"), per_minute)
                .await
                .map_err(|rejection| match rejection {
                    crate::keys::Rejection::RateLimited { retry_after } => retry_after,
                    crate::keys::Rejection::Invalid => std::time::Duration::ZERO,
                }),
            Err(wait) => Err(wait),
        };
        shared.map_err(|wait| {
            ApiError::new(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "too_many_sessions",
                format!(
                    "this address started more than {} conversations in a minute: wait, or \
                         go on with one already started",
                    self.limits().new_sessions_per_minute
                ),
            )
            .retry_after(wait)
        })
    }

    /// Removes idle sessions now, each project by its own lifetime; answers how many went.
    pub async fn sweep_sessions(&self) -> Result<u64, crate::store::StoreError> {
        let projects: Vec<(String, Option<std::time::Duration>)> = self
            .inner
            .projects
            .keys()
            .map(|id| (id.clone(), self.limits().session_idle_of(id)))
            .collect();
        let now = crate::keys::now();
        crate::store::sweep(self.inner.store.as_ref(), &projects, now).await
    }

    /// Sweeps idle sessions if this server claims the run ([`Store::claim_job`]): one server
    /// of those sharing a database at a time, and once per [`SWEEP_CLAIM`] among them. `None`:
    /// another server has it, or had it within the period.
    ///
    /// [`Store::claim_job`]: crate::store::Store::claim_job
    pub async fn sweep_if_claimed(&self) -> Result<Option<u64>, crate::store::StoreError> {
        let Some(claim) = self.inner.store.claim_job("retention", SWEEP_CLAIM).await? else {
            return Ok(None);
        };
        let removed = self.sweep_sessions().await;
        if let Err(e) = self.inner.store.forget_rates().await {
            tracing::error!("cannot forget the full rate buckets: {e}");
        }
        claim.release().await;
        removed.map(Some)
    }

    /// Sweeps idle sessions once a minute (when this server claims the run: see
    /// [`AppState::sweep_if_claimed`]), for as long as the process runs, and forgets the rate
    /// limiter's idle clients.
    pub fn start_retention(&self) -> tokio::task::JoinHandle<()> {
        let app = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(SWEEP_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                let started = std::time::Instant::now();
                match app.sweep_if_claimed().await {
                    Ok(None | Some(0)) => {}
                    Ok(Some(n)) => tracing::info!(
                        "retention: removed {n} idle session(s) in {} ms",
                        started.elapsed().as_millis()
                    ),
                    Err(e) => tracing::error!("retention sweep failed: {e}"),
                }
                app.inner.new_sessions.retain_recent();
            }
        })
    }

    pub(crate) fn signer(&self) -> &Signer {
        &self.inner.signer
    }

    pub(crate) fn store(&self) -> Arc<dyn Store> {
        self.inner.store.clone()
    }

    /// The API keys (tests and tools that create keys reload them through this).
    pub fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    pub(crate) fn caller(&self, version: &CompiledVersion) -> &ApiCaller {
        if version.allows_private_network() {
            &self.inner.private_caller
        } else {
            &self.inner.public_caller
        }
    }

    /// The project the path names (`/public/{projectID}/…`), or the only one this server has.
    pub(crate) fn project(&self, named: Option<&str>) -> Result<Arc<CompiledProject>, ApiError> {
        match named {
            Some(id) => self.project_named(id),
            None if self.inner.projects.len() == 1 => {
                let only = self.inner.projects.values().next().cloned();
                only.ok_or_else(|| ApiError::internal("no project loaded"))
            }
            None => Err(ApiError::bad_request(
                "project_required",
                "this server has several projects: name one in the path, /public/{projectID}/…, \
                 or send one of its API keys",
            )),
        }
    }

    pub(crate) fn project_named(&self, id: &str) -> Result<Arc<CompiledProject>, ApiError> {
        self.inner.projects.get(id).cloned().ok_or_else(|| {
            ApiError::not_found(
                "unknown_project",
                format!("there is no project `{id}` here"),
            )
        })
    }

    /// The seed for a turn: a conversation that has a state carries its own generator (the
    /// engine ignores this seed then); a new one is seeded from its first request, in both
    /// flavours, so the same conversation gives the same answers either way.
    pub(crate) fn seed(
        &self,
        state: Option<&parley_protocol::State>,
        request: &parley_protocol::Request,
    ) -> u64 {
        match state {
            Some(_) => 0,
            None => self
                .signer()
                .seed_for(&serde_json::to_vec(request).unwrap_or_default()),
        }
    }

    /// Waits for this server's turn of the user (`lock`, from [`AppState::user_lock`]), at most
    /// `--user-wait-secs`: past it 503 `user_busy` with `Retry-After`, as for the wait on
    /// another server's turn.
    pub(crate) async fn wait_for_user(
        &self,
        lock: Arc<tokio::sync::Mutex<()>>,
    ) -> Result<tokio::sync::OwnedMutexGuard<()>, ApiError> {
        tokio::time::timeout(self.limits().user_wait(), lock.lock_owned())
            .await
            .map_err(|_| crate::stateful::user_busy("another request of this server held it"))
    }

    /// The lock that serialises one user's requests.
    pub(crate) fn user_lock(&self, project: &str, user: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self
            .inner
            .user_locks
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        // Forget the locks nobody holds or waits for, so the map does not grow forever.
        locks.retain(|_, lock| Arc::strong_count(lock) > 1);
        locks
            .entry((project.to_owned(), user.to_owned()))
            .or_default()
            .clone()
    }
}

/// How often each server tries the retention sweep.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(60);
/// The least time between two sweeps of the servers sharing a database: a little under
/// [`SWEEP_EVERY`], so that the fleet sweeps about once a minute whatever the servers' phases.
const SWEEP_CLAIM: std::time::Duration = std::time::Duration::from_secs(50);

fn new_sessions_limiter(
    limits: &crate::Limits,
) -> governor::DefaultKeyedRateLimiter<(String, std::net::IpAddr)> {
    let per_minute = std::num::NonZeroU32::new(limits.new_sessions_per_minute.max(1))
        .unwrap_or(std::num::NonZeroU32::MIN);
    governor::RateLimiter::keyed(governor::Quota::per_minute(per_minute))
}

/// A random seed, for conversations whose randomness need not follow from their requests.
pub(crate) fn random_seed() -> Result<u64, ApiError> {
    let mut seed = [0u8; 8];
    getrandom::fill(&mut seed).map_err(ApiError::internal)?;
    Ok(u64::from_le_bytes(seed))
}

/// The version a request names: the `versionID` header, or the path's, or `development`;
/// an id or an alias.
pub(crate) fn version_of(
    project: &CompiledProject,
    params: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<Arc<CompiledVersion>, ApiError> {
    let header = match headers.get("versionid") {
        Some(value) => Some(value.to_str().map_err(|_| {
            ApiError::bad_request(
                "invalid_version_id",
                "the versionID header is not ASCII text: send a version id or alias",
            )
        })?),
        None => None,
    };
    let named = params
        .get("version_id")
        .map(String::as_str)
        .or(header)
        .unwrap_or("development");
    project.version(named).cloned().ok_or_else(|| {
        ApiError::not_found(
            "unknown_version",
            format!("the project `{}` has no version `{named}`", project.id),
        )
    })
}
