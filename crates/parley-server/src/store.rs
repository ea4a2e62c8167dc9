//! Where stateful sessions and API keys live: an embedded SQLite file by default (WAL, so a
//! crash loses no committed turn), or a PostgreSQL database shared by several server processes.
//!
//! The store is async: SQLite's calls run on tokio's blocking threads, PostgreSQL's go through
//! an async connection pool. A session is the state
//! of one user of one project, with the id and the answer of the last request, so that a
//! retried request (same id) gets the same answer instead of taking the turn twice.
//!
//! A turn holds its user ([`Store::hold`]): a process serialises its own requests for a user
//! with a lock of its own, and PostgreSQL serialises several processes' with a lock it holds in
//! the turn's transaction, so a second request waits for the first instead of racing it. Writes
//! stay compare-and-swap on a revision, the guard under the lock: a writer that did not hold the
//! user (two processes on one SQLite file, an admin's delete) gets [`StoreError::Conflict`]
//! instead of overwriting another's turn.
//!
//! PostgreSQL also keeps what several servers must share: the rates ([`Store::take_rate`]) and
//! who runs the periodic jobs ([`Store::claim_job`]).

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
    /// The user's conversation stayed held by another request (of this server or another)
    /// for longer than the wait allowed, or no database connection came free in time.
    #[error("session store: busy ({0})")]
    Busy(String),
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

    /// Holds the user's conversation for one turn: no other holder (in any process sharing the
    /// database, where the store can tell) gets it before [`Held::release`] or the end of
    /// [`Held::save`]. Waits at most `wait` for another holder, then answers
    /// [`StoreError::Busy`].
    async fn hold(
        &self,
        project: &str,
        user: &str,
        wait: std::time::Duration,
    ) -> Result<Box<dyn Held>, StoreError>;
    /// Whether [`Store::take_rate`] counts for every server sharing the database (otherwise
    /// the server's own limiter in memory is the only count).
    fn shares_rates(&self) -> bool {
        false
    }
    /// Takes one request out of `bucket`'s allowance of `per_minute` (a burst of `per_minute`,
    /// then one every `60 / per_minute` s: the generic cell rate governor counts), shared by
    /// every server: `None` when admitted, else how long until one would be.
    async fn take_rate(
        &self,
        _bucket: &str,
        _per_minute: u32,
    ) -> Result<Option<std::time::Duration>, StoreError> {
        Ok(None)
    }
    /// Forgets the shared rates' buckets that are full again (as good as absent); answers how
    /// many went. The retention sweep calls it.
    async fn forget_rates(&self) -> Result<u64, StoreError> {
        Ok(0)
    }
    /// Claims a run of the periodic `job`: `None` when another server runs it now, or one ran
    /// it less than `every` ago. The claim lasts until the guard is released.
    async fn claim_job(
        &self,
        job: &str,
        every: std::time::Duration,
    ) -> Result<Option<Box<dyn Claim>>, StoreError>;

    async fn create_key(&self, key: &KeyRecord) -> Result<(), StoreError>;
    /// Every key, revoked ones included.
    async fn keys(&self) -> Result<Vec<KeyRecord>, StoreError>;
    /// Whether there was a live key with this id.
    async fn revoke_key(&self, id: &str) -> Result<bool, StoreError>;
}

/// One user's conversation held for a turn (see [`Store::hold`]).
#[async_trait]
pub trait Held: Send {
    /// The session and its revision, as of now (the first call answers what was read when the
    /// hold was taken).
    async fn load(&mut self) -> Result<Option<(Session, Revision)>, StoreError>;
    /// Writes the session if it is still at revision `expected`, and ends the hold when the
    /// store holds users across processes ([`Held::exclusive`]): the answer can go out then.
    async fn save(
        &mut self,
        session: &Session,
        expected: Option<Revision>,
    ) -> Result<Revision, StoreError>;
    /// Whether other processes are kept out for the hold: then a conflict is no race to take
    /// again (the turn's API calls must run once), only a writer that held nothing.
    fn exclusive(&self) -> bool;
    /// Ends the hold without writing (a dropped hold ends too, in the background).
    async fn release(self: Box<Self>);
}

/// A claimed run of a periodic job (see [`Store::claim_job`]).
#[async_trait]
pub trait Claim: Send {
    async fn release(self: Box<Self>);
}

/// A claim or hold with nothing to release: one process owns the store.
pub(crate) struct Nothing;

#[async_trait]
impl Claim for Nothing {
    async fn release(self: Box<Self>) {}
}

/// A store error with the causes (a database's own message, not only "db error").
pub(crate) fn err_chain(e: &(dyn std::error::Error + 'static)) -> StoreError {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // deadpool repeats its cause in its own message.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    StoreError::Failed(text)
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
