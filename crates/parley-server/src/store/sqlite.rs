//! Sessions and keys in an embedded SQLite file.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::{
    Claim, Held, KEY_COLUMNS, Nothing, Revision, Session, Store, StoreError, decode, encode, err,
    scope_of,
};
use crate::key_record::KeyRecord;

/// Sessions in a SQLite file.
#[derive(Debug, Clone)]
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
                "-- Space freed by the retention sweep goes back to the file system (takes effect
                 -- in a new database; an older one keeps its free pages for reuse).
                 PRAGMA auto_vacuum = INCREMENTAL;
                 PRAGMA journal_mode = WAL;
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
                 );
                 -- What /ready writes.
                 CREATE TABLE IF NOT EXISTS probe (id INTEGER PRIMARY KEY, at INTEGER NOT NULL);",
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
        // After the revision column: the retention sweep finds a project's idle sessions by it.
        connection
            .execute_batch(
                "CREATE INDEX IF NOT EXISTS sessions_idle ON sessions (project, updated_at)",
            )
            .map_err(err)?;
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

/// A user held for a turn in SQLite: nothing beyond the server's own lock of the user. Another
/// process on the same file is kept out only by the compare-and-swap (a conflict there is taken
/// again, see [`Held::exclusive`]); the file's own lock makes each statement atomic.
struct SqliteHeld {
    store: SqliteStore,
    project: String,
    user: String,
}

#[async_trait]
impl Held for SqliteHeld {
    async fn load(&mut self) -> Result<Option<(Session, Revision)>, StoreError> {
        self.store.load(&self.project, &self.user).await
    }

    async fn save(
        &mut self,
        session: &Session,
        expected: Option<Revision>,
    ) -> Result<Revision, StoreError> {
        self.store
            .save(&self.project, &self.user, session, expected)
            .await
    }

    fn exclusive(&self) -> bool {
        false
    }

    async fn release(self: Box<Self>) {}
}

#[async_trait]
impl Store for SqliteStore {
    async fn hold(
        &self,
        project: &str,
        user: &str,
        _wait: std::time::Duration,
    ) -> Result<Box<dyn Held>, StoreError> {
        Ok(Box::new(SqliteHeld {
            store: self.clone(),
            project: project.to_owned(),
            user: user.to_owned(),
        }))
    }

    /// One server owns a SQLite file's jobs: always claimed (the period is the server's own).
    async fn claim_job(
        &self,
        _job: &str,
        _every: std::time::Duration,
    ) -> Result<Option<Box<dyn Claim>>, StoreError> {
        Ok(Some(Box::new(Nothing)))
    }

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

    async fn delete_idle(&self, project: &str, before: i64, limit: u32) -> Result<u64, StoreError> {
        let project = project.to_owned();
        self.with(move |c| {
            c.prepare_cached(
                "DELETE FROM sessions WHERE rowid IN (SELECT rowid FROM sessions
                     WHERE project = ?1 AND updated_at < ?2 LIMIT ?3)",
            )
            .and_then(|mut delete| delete.execute(params![project, before, limit]))
            .and_then(|n| {
                // Give the freed pages back (a no-op in a database made before auto_vacuum).
                // The pragma frees a page per step: step it to the end.
                let mut vacuum = c.prepare_cached("PRAGMA incremental_vacuum")?;
                let mut steps = vacuum.raw_query();
                while steps.next()?.is_some() {}
                Ok(n as u64)
            })
            .map_err(err)
        })
        .await
    }

    async fn probe(&self) -> Result<(), StoreError> {
        self.with(|c| {
            c.prepare_cached("INSERT OR REPLACE INTO probe (id, at) VALUES (1, unixepoch())")
                .and_then(|mut write| write.execute([]))
                .map(|_| ())
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

#[cfg(test)]
mod tests {
    use super::*;
    use parley_protocol::State;

    use crate::store::conformance;

    #[tokio::test]
    async fn sqlite_passes_the_store_checks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sessions.sqlite");
        let store = SqliteStore::open(&path).unwrap();
        conformance::sessions(&store, &SqliteStore::open(&path).unwrap()).await;
        conformance::keys(&store).await;
        conformance::retention(&store).await;
        let other = SqliteStore::open(&path).unwrap();
        conformance::holds(&store, &other).await;
        conformance::jobs(&store, &other).await;
        conformance::rates(&store, &other).await;
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
            session_key: None,
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
