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

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use parley_protocol::{State, Trace};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::keys::{KeyRecord, Scope};

/// One user's conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub version: String,
    pub state: State,
    /// The client's id of the last request, and what it was answered.
    pub last_request: Option<(String, Vec<Trace>)>,
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

    async fn create_key(&self, key: &KeyRecord) -> Result<(), StoreError>;
    /// Every key, revoked ones included.
    async fn keys(&self) -> Result<Vec<KeyRecord>, StoreError>;
    /// Whether there was a live key with this id.
    async fn revoke_key(&self, id: &str) -> Result<bool, StoreError>;
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::Failed(e.to_string())
}

fn decode(text: &str) -> Result<Session, StoreError> {
    serde_json::from_str(text).map_err(err)
}

fn encode(session: &Session) -> Result<String, StoreError> {
    serde_json::to_string(session).map_err(err)
}

/// The key columns, in the order both stores select them.
const KEY_COLUMNS: &str = "id, project, scope, name, hash, per_minute, per_client_per_minute, \
                           created_at, revoked_at";

fn scope_of(name: &str) -> Result<Scope, StoreError> {
    name.parse().map_err(err)
}

/// Sessions in a SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    // One connection, behind a std Mutex: every use is short and synchronous (see `with`),
    // never held across an `.await`.
    connection: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(err)?;
        }
        let connection = Connection::open(path).map_err(err)?;
        Self::init(connection)
    }

    pub fn in_memory() -> Result<SqliteStore, StoreError> {
        Self::init(Connection::open_in_memory().map_err(err)?)
    }

    fn init(connection: Connection) -> Result<SqliteStore, StoreError> {
        connection
            .execute_batch(
                "PRAGMA journal_mode = WAL;
                 -- In WAL mode NORMAL loses nothing when the process dies (SIGKILL included);
                 -- only a power cut may lose the last turns, never the database's consistency.
                 -- FULL fsynced every turn: 2.7k stateful turns/s under wrk, against 6.4k with NORMAL.
                 PRAGMA synchronous = NORMAL;
                 PRAGMA busy_timeout = 5000;
                 CREATE TABLE IF NOT EXISTS sessions (
                     project TEXT NOT NULL,
                     user_id TEXT NOT NULL,
                     session TEXT NOT NULL,
                     updated_at INTEGER NOT NULL DEFAULT (unixepoch()),
                     PRIMARY KEY (project, user_id)
                 );
                 CREATE TABLE IF NOT EXISTS api_keys (
                     id TEXT PRIMARY KEY,
                     project TEXT NOT NULL,
                     scope TEXT NOT NULL,
                     name TEXT NOT NULL,
                     hash BLOB NOT NULL,
                     per_minute INTEGER NOT NULL,
                     per_client_per_minute INTEGER NOT NULL,
                     created_at INTEGER NOT NULL,
                     revoked_at INTEGER
                 );",
            )
            .map_err(err)?;
        // Databases made before revisions existed get the column (every row at revision 0).
        let has_revision = connection
            .prepare("SELECT revision FROM sessions LIMIT 0")
            .is_ok();
        if !has_revision {
            connection
                .execute_batch(
                    "ALTER TABLE sessions ADD COLUMN revision INTEGER NOT NULL DEFAULT 0",
                )
                .map_err(err)?;
        }
        Ok(SqliteStore {
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    /// Runs `f` on the connection, in place rather than on a blocking thread. Each use is one
    /// short statement that does no fsync (WAL with `synchronous = NORMAL`), tens of
    /// microseconds, except the commit that crosses SQLite's 1,000-page autocheckpoint, which
    /// copies the WAL back and fsyncs (milliseconds). Handing every statement to a blocking
    /// thread and back was most of a stateful turn (perf: the kernel switching threads), and
    /// it did not spare the checkpoint's wait: the connection's lock serialises the store's
    /// users either way. In place, a checkpoint also holds up the other tasks of that worker
    /// for its milliseconds. Bench: 13.7k -> 18.9k stateful req/s at 16 conversations, p99
    /// 4.9 -> 4.5 ms. (A checkpointer thread of its own, tried, starved: under steady writes
    /// its PASSIVE checkpoints never caught up and the WAL grew to 660 MB in 12 s.)
    ///
    /// When the connection is busy (another request's statement, or SQLite waiting up to
    /// `busy_timeout` on another process's write lock: `parley keys create` on the same data
    /// directory), the wait goes to a blocking thread, so that the runtime's workers never queue
    /// on the lock and the server keeps answering.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        // (The guard must be gone before the `.await` below: the future is sent between threads.)
        let f = match self.connection.try_lock() {
            Ok(mut connection) => return f(&mut connection),
            Err(std::sync::TryLockError::Poisoned(_)) => {
                return Err(err("a previous use panicked"));
            }
            Err(std::sync::TryLockError::WouldBlock) => f,
        };
        let connection = self.connection.clone();
        tokio::task::spawn_blocking(move || {
            let mut connection = connection
                .lock()
                .map_err(|_| err("a previous use panicked"))?;
            f(&mut connection)
        })
        .await
        .map_err(err)?
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn load(
        &self,
        project: &str,
        user: &str,
    ) -> Result<Option<(Session, Revision)>, StoreError> {
        let (project, user) = (project.to_owned(), user.to_owned());
        let row: Option<(String, Revision)> = self
            .with(move |c| {
                c.prepare_cached(
                    "SELECT session, revision FROM sessions WHERE project = ?1 AND user_id = ?2",
                )
                .and_then(|mut select| {
                    select
                        .query_row(params![project, user], |row| Ok((row.get(0)?, row.get(1)?)))
                        .optional()
                })
                .map_err(err)
            })
            .await?;
        row.map(|(text, revision)| Ok((decode(&text)?, revision)))
            .transpose()
    }

    async fn save(
        &self,
        project: &str,
        user: &str,
        session: &Session,
        expected: Option<Revision>,
    ) -> Result<Revision, StoreError> {
        let text = encode(session)?;
        let (project, user) = (project.to_owned(), user.to_owned());
        self.with(move |c| {
            // Cached statements: perf showed SQLite parsing the same SQL on every turn.
            let changed = match expected {
                None => c
                    .prepare_cached(
                        "INSERT INTO sessions (project, user_id, session, revision)
                         VALUES (?1, ?2, ?3, 1) ON CONFLICT (project, user_id) DO NOTHING",
                    )
                    .and_then(|mut insert| insert.execute(params![project, user, text])),
                Some(revision) => c
                    .prepare_cached(
                        "UPDATE sessions SET session = ?3, revision = revision + 1,
                             updated_at = unixepoch()
                         WHERE project = ?1 AND user_id = ?2 AND revision = ?4",
                    )
                    .and_then(|mut update| update.execute(params![project, user, text, revision])),
            }
            .map_err(err)?;
            match changed {
                1 => Ok(expected.unwrap_or(0) + 1),
                _ => Err(StoreError::Conflict),
            }
        })
        .await
    }

    async fn delete(&self, project: &str, user: &str) -> Result<bool, StoreError> {
        let (project, user) = (project.to_owned(), user.to_owned());
        self.with(move |c| {
            c.execute(
                "DELETE FROM sessions WHERE project = ?1 AND user_id = ?2",
                params![project, user],
            )
            .map(|n| n > 0)
            .map_err(err)
        })
        .await
    }

    async fn create_key(&self, key: &KeyRecord) -> Result<(), StoreError> {
        let key = key.clone();
        self.with(move |c| {
            c.execute(
                &format!(
                    "INSERT INTO api_keys ({KEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
                ),
                params![
                    key.id,
                    key.project,
                    key.scope.to_string(),
                    key.name,
                    key.hash.to_vec(),
                    key.per_minute,
                    key.per_client_per_minute,
                    key.created_at,
                    key.revoked_at,
                ],
            )
            .map(|_| ())
            .map_err(err)
        })
        .await
    }

    async fn keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        self.with(|c| {
            let mut statement = c
                .prepare(&format!(
                    "SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"
                ))
                .map_err(err)?;
            let rows = statement
                .query_map([], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, Vec<u8>>(4)?,
                        row.get::<_, u32>(5)?,
                        row.get::<_, u32>(6)?,
                        row.get::<_, i64>(7)?,
                        row.get::<_, Option<i64>>(8)?,
                    ))
                })
                .map_err(err)?;
            let mut keys = Vec::new();
            for row in rows {
                let (id, project, scope, name, hash, per_minute, per_client, created, revoked) =
                    row.map_err(err)?;
                keys.push(KeyRecord {
                    id,
                    project,
                    scope: scope_of(&scope)?,
                    name,
                    hash: hash
                        .try_into()
                        .map_err(|_| err("a key hash in the database is not 32 bytes"))?,
                    per_minute,
                    per_client_per_minute: per_client,
                    created_at: created,
                    revoked_at: revoked,
                });
            }
            Ok(keys)
        })
        .await
    }

    async fn revoke_key(&self, id: &str) -> Result<bool, StoreError> {
        let id = id.to_owned();
        self.with(move |c| {
            c.execute(
                "UPDATE api_keys SET revoked_at = unixepoch() WHERE id = ?1 AND revoked_at IS NULL",
                params![id],
            )
            .map(|n| n > 0)
            .map_err(err)
        })
        .await
    }
}

/// Sessions and keys in PostgreSQL, for several server processes behind a load balancer.
pub struct PostgresStore {
    pool: deadpool_postgres::Pool,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects (`postgres://user:password@host:port/database`, plus libpq's parameters) and
    /// creates the tables when they are missing. Plain TCP or a Unix socket: run it next to
    /// the server or through a tunnel (no TLS client is built in).
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| err(format!("the database URL is not valid: {e}")))?;
        let manager = deadpool_postgres::Manager::from_config(
            config,
            tokio_postgres::NoTls,
            deadpool_postgres::ManagerConfig {
                recycling_method: deadpool_postgres::RecyclingMethod::Fast,
            },
        );
        let pool = deadpool_postgres::Pool::builder(manager)
            .max_size(16)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(std::time::Duration::from_secs(5)))
            .create_timeout(Some(std::time::Duration::from_secs(5)))
            .build()
            .map_err(err)?;
        let store = PostgresStore { pool };
        store
            .client()
            .await?
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS sessions (
                     project TEXT NOT NULL,
                     user_id TEXT NOT NULL,
                     session TEXT NOT NULL,
                     revision BIGINT NOT NULL,
                     updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
                     PRIMARY KEY (project, user_id)
                 );
                 CREATE TABLE IF NOT EXISTS api_keys (
                     id TEXT PRIMARY KEY,
                     project TEXT NOT NULL,
                     scope TEXT NOT NULL,
                     name TEXT NOT NULL,
                     hash BYTEA NOT NULL,
                     per_minute BIGINT NOT NULL,
                     per_client_per_minute BIGINT NOT NULL,
                     created_at BIGINT NOT NULL,
                     revoked_at BIGINT
                 );",
            )
            .await
            .map_err(err)?;
        Ok(store)
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(err)
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn load(
        &self,
        project: &str,
        user: &str,
    ) -> Result<Option<(Session, Revision)>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt(
                "SELECT session, revision FROM sessions WHERE project = $1 AND user_id = $2",
                &[&project, &user],
            )
            .await
            .map_err(err)?;
        row.map(|row| Ok((decode(row.get(0))?, row.get(1))))
            .transpose()
    }

    async fn save(
        &self,
        project: &str,
        user: &str,
        session: &Session,
        expected: Option<Revision>,
    ) -> Result<Revision, StoreError> {
        let text = encode(session)?;
        let client = self.client().await?;
        let changed = match expected {
            None => {
                client
                    .execute(
                        "INSERT INTO sessions (project, user_id, session, revision)
                         VALUES ($1, $2, $3, 1) ON CONFLICT (project, user_id) DO NOTHING",
                        &[&project, &user, &text],
                    )
                    .await
            }
            Some(revision) => {
                client
                    .execute(
                        "UPDATE sessions SET session = $3, revision = revision + 1,
                             updated_at = now()
                         WHERE project = $1 AND user_id = $2 AND revision = $4",
                        &[&project, &user, &text, &revision],
                    )
                    .await
            }
        }
        .map_err(err)?;
        match changed {
            1 => Ok(expected.unwrap_or(0) + 1),
            _ => Err(StoreError::Conflict),
        }
    }

    async fn delete(&self, project: &str, user: &str) -> Result<bool, StoreError> {
        self.client()
            .await?
            .execute(
                "DELETE FROM sessions WHERE project = $1 AND user_id = $2",
                &[&project, &user],
            )
            .await
            .map(|n| n > 0)
            .map_err(err)
    }

    async fn create_key(&self, key: &KeyRecord) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute(
                &format!(
                    "INSERT INTO api_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                ),
                &[
                    &key.id,
                    &key.project,
                    &key.scope.to_string(),
                    &key.name,
                    &key.hash.as_slice(),
                    &i64::from(key.per_minute),
                    &i64::from(key.per_client_per_minute),
                    &key.created_at,
                    &key.revoked_at,
                ],
            )
            .await
            .map(|_| ())
            .map_err(err)
    }

    async fn keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                &format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"),
                &[],
            )
            .await
            .map_err(err)?;
        rows.iter()
            .map(|row| {
                let rate = |i: usize| {
                    u32::try_from(row.get::<_, i64>(i))
                        .map_err(|_| err("a key's rate in the database is out of range"))
                };
                Ok(KeyRecord {
                    id: row.get(0),
                    project: row.get(1),
                    scope: scope_of(row.get(2))?,
                    name: row.get(3),
                    hash: row
                        .get::<_, Vec<u8>>(4)
                        .try_into()
                        .map_err(|_| err("a key hash in the database is not 32 bytes"))?,
                    per_minute: rate(5)?,
                    per_client_per_minute: rate(6)?,
                    created_at: row.get(7),
                    revoked_at: row.get(8),
                })
            })
            .collect()
    }

    async fn revoke_key(&self, id: &str) -> Result<bool, StoreError> {
        let now = crate::keys::now();
        self.client()
            .await?
            .execute(
                "UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
                &[&id, &now],
            )
            .await
            .map(|n| n > 0)
            .map_err(err)
    }
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

/// The checks every store passes; the tests run them against SQLite and PostgreSQL.
#[doc(hidden)]
pub mod conformance {
    use super::*;

    fn session(n: i64) -> Session {
        let mut state = State::default();
        state.variables.insert("n".into(), n.into());
        Session {
            version: "v1".into(),
            state,
            last_request: Some(("req-1".into(), vec![Trace::text("hi")])),
        }
    }

    /// Saves, loads, replaces with compare-and-swap, deletes; `reopen` gives a fresh handle on
    /// the same database, which must see everything committed.
    pub async fn sessions(store: &dyn Store, reopened: &dyn Store) {
        assert!(store.load("p", "u").await.unwrap().is_none());
        let r1 = store.save("p", "u", &session(1), None).await.unwrap();
        assert!(matches!(
            store.save("p", "u", &session(9), None).await,
            Err(StoreError::Conflict)
        ));
        let r2 = store.save("p", "u", &session(2), Some(r1)).await.unwrap();
        assert!(r2 > r1);
        // A writer that read revision 1 lost the race: its write is refused, nothing lost.
        assert!(matches!(
            store.save("p", "u", &session(8), Some(r1)).await,
            Err(StoreError::Conflict)
        ));
        store.save("p", "other", &session(3), None).await.unwrap();
        store.save("q", "u", &session(4), None).await.unwrap();
        let store = reopened;
        assert_eq!(store.load("p", "u").await.unwrap(), Some((session(2), r2)));
        assert_eq!(store.load("q", "u").await.unwrap().unwrap().0, session(4));
        assert!(store.delete("p", "u").await.unwrap());
        assert!(!store.delete("p", "u").await.unwrap());
        assert!(store.load("p", "u").await.unwrap().is_none());
        assert_eq!(
            store.load("p", "other").await.unwrap().unwrap().0,
            session(3)
        );
        // Starting over after a delete.
        store.save("p", "u", &session(5), None).await.unwrap();
        assert_eq!(store.load("p", "u").await.unwrap().unwrap().0, session(5));
    }

    /// Creates, lists and revokes keys.
    pub async fn keys(store: &dyn Store) {
        assert!(store.keys().await.unwrap().is_empty());
        let (public, _) = crate::keys::generate("p", Scope::Public, "site", 600, 60);
        let (secret, _) = crate::keys::generate("p", Scope::Secret, "ops", 6000, 600);
        store.create_key(&public).await.unwrap();
        store.create_key(&secret).await.unwrap();
        let by_id = |mut keys: Vec<KeyRecord>| {
            keys.sort_by(|a, b| a.id.cmp(&b.id));
            keys
        };
        assert_eq!(
            by_id(store.keys().await.unwrap()),
            by_id(vec![public.clone(), secret.clone()])
        );
        assert!(store.revoke_key(&public.id).await.unwrap());
        assert!(!store.revoke_key(&public.id).await.unwrap());
        assert!(!store.revoke_key("no-such-key").await.unwrap());
        for key in store.keys().await.unwrap() {
            assert_eq!(key.revoked_at.is_some(), key.id == public.id);
        }
        // Ids are unique.
        assert!(store.create_key(&secret).await.is_err());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sqlite_passes_the_store_checks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sessions.sqlite");
        let store = SqliteStore::open(&path).unwrap();
        conformance::sessions(&store, &SqliteStore::open(&path).unwrap()).await;
        conformance::keys(&store).await;
    }

    #[tokio::test]
    async fn an_old_database_gets_revisions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sessions.sqlite");
        let old = Connection::open(&path).unwrap();
        old.execute_batch(
            "CREATE TABLE sessions (project TEXT NOT NULL, user_id TEXT NOT NULL,
                 session TEXT NOT NULL, updated_at INTEGER NOT NULL DEFAULT (unixepoch()),
                 PRIMARY KEY (project, user_id));",
        )
        .unwrap();
        let session = Session {
            version: "v1".into(),
            state: State::default(),
            last_request: None,
        };
        old.execute(
            "INSERT INTO sessions (project, user_id, session) VALUES ('p', 'u', ?1)",
            params![serde_json::to_string(&session).unwrap()],
        )
        .unwrap();
        drop(old);
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(
            store.load("p", "u").await.unwrap(),
            Some((session.clone(), 0))
        );
        assert_eq!(store.save("p", "u", &session, Some(0)).await.unwrap(), 1);
    }
}
