//! Where stateful sessions and API keys live: an embedded SQLite file by default (WAL, so a
//! crash loses no committed turn), or a PostgreSQL database shared by several server processes.
//!
//! The store is async: SQLite's calls run on tokio's blocking threads, PostgreSQL's go through
//! an async connection pool. A session is the state
//! of one user of one project, with the id and the answer of the last request, so that a
//! retried request (same id) gets the same answer instead of taking the turn twice.
//!
//! Writes are compare-and-swap on a revision: a process serialises its own requests for a user
//! with a lock, but two processes sharing one database can still race, and the loser of the
//! race gets [`StoreError::Conflict`] instead of overwriting the winner's turn.

mod postgres;
mod sqlite;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use parley_protocol::{State, Trace};
use serde::{Deserialize, Serialize};

use crate::key_record::{KeyRecord, Scope};

pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// One user's conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub version: String,
    pub state: State,
    /// The client's id of the last request, and what it was answered.
    pub last_request: Option<(String, Vec<Trace>)>,
    /// The id of the user's live v4 session (`POST /v4/project/{projectID}/session`): a session
    /// key of another id is refused. Absent in sessions stored before v4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_key: Option<String>,
}

/// How many times a session was written: what a compare-and-swap compares.
pub type Revision = i64;

/// What a store failed at (the details go to the log, not to the client).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The session changed since it was read (another process wrote it).
    #[error("session store: the session changed since it was read")]
    Conflict,
    #[error("session store: {0}")]
    Failed(String),
}

/// Stateful sessions, by project and user, and API keys.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The session and its revision.
    async fn load(
        &self,
        project: &str,
        user: &str,
    ) -> Result<Option<(Session, Revision)>, StoreError>;
    /// Writes the session if it is still at revision `expected` (`None`: there is none yet);
    /// answers the new revision, or [`StoreError::Conflict`].
    async fn save(
        &self,
        project: &str,
        user: &str,
        session: &Session,
        expected: Option<Revision>,
    ) -> Result<Revision, StoreError>;
    /// Whether there was a session to delete.
    async fn delete(&self, project: &str, user: &str) -> Result<bool, StoreError>;
    /// Deletes at most `limit` of `project`'s sessions last written before `before` (Unix
    /// seconds), answering how many went: the retention sweep calls it batch after batch, so
    /// that no statement holds the store long enough to stall a turn.
    async fn delete_idle(&self, project: &str, before: i64, limit: u32) -> Result<u64, StoreError>;
    /// A cheap write that changes nothing a client sees: `/ready` fails when it fails.
    async fn probe(&self) -> Result<(), StoreError>;

    async fn create_key(&self, key: &KeyRecord) -> Result<(), StoreError>;
    /// Every key, revoked ones included.
    async fn keys(&self) -> Result<Vec<KeyRecord>, StoreError>;
    /// Whether there was a live key with this id.
    async fn revoke_key(&self, id: &str) -> Result<bool, StoreError>;
}

pub(crate) fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Failed(e.to_string())
}

pub(crate) fn decode(text: &str) -> Result<Session, StoreError> {
    serde_json::from_str(text).map_err(err)
}

pub(crate) fn encode(session: &Session) -> Result<String, StoreError> {
    serde_json::to_string(session).map_err(err)
}

/// The key columns, in the order both stores select them.
pub(crate) const KEY_COLUMNS: &str = "id, project, scope, name, hash, per_minute, per_client_per_minute, \
                           created_at, revoked_at";

pub(crate) fn scope_of(name: &str) -> Result<Scope, StoreError> {
    name.parse().map_err(err)
}

/// Opens the store a `--database-url` names (`postgres://…` or `sqlite://PATH`), or the SQLite
/// file in the data directory.
pub async fn open(
    database_url: Option<&str>,
    data_dir: &Path,
) -> Result<Arc<dyn Store>, StoreError> {
    match database_url {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            Ok(Arc::new(PostgresStore::connect(url).await?))
        }
        Some(url) => match url.strip_prefix("sqlite://") {
            Some(path) => Ok(Arc::new(SqliteStore::open(Path::new(path))?)),
            None => Err(err(format!(
                "the database URL `{url}` is neither postgres://… nor sqlite://…"
            ))),
        },
        None => Ok(Arc::new(SqliteStore::open(
            &data_dir.join("sessions.sqlite"),
        )?)),
    }
}

/// Removes every project's sessions idle for longer than `idle_of(project)`, in batches of
/// [`SWEEP_BATCH`] with a pause between them (the turns in flight get the store in between);
/// answers how many went.
pub async fn sweep(
    store: &dyn Store,
    projects: &[(String, Option<std::time::Duration>)],
    now: i64,
) -> Result<u64, StoreError> {
    let mut removed = 0;
    for (project, idle) in projects {
        let Some(idle) = idle else { continue };
        let before = now.saturating_sub(i64::try_from(idle.as_secs()).unwrap_or(i64::MAX));
        loop {
            let n = store.delete_idle(project, before, SWEEP_BATCH).await?;
            removed += n;
            if n < u64::from(SWEEP_BATCH) {
                break;
            }
            tokio::time::sleep(SWEEP_PAUSE).await;
        }
    }
    Ok(removed)
}

/// Sessions deleted per statement by the sweep (measured: see ARCHITECTURE.md).
pub const SWEEP_BATCH: u32 = 500;
/// The pause between two batches of the sweep.
pub const SWEEP_PAUSE: std::time::Duration = std::time::Duration::from_millis(20);

/// The checks every store passes; the tests run them against SQLite and PostgreSQL.
#[doc(hidden)]
pub mod conformance;
