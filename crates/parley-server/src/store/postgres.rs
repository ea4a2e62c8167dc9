//! Sessions and keys in PostgreSQL, shared by several server processes.

use async_trait::async_trait;

use super::{KEY_COLUMNS, Revision, Session, Store, StoreError, decode, encode, err, scope_of};
use crate::key_record::KeyRecord;

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
                 );
                 CREATE INDEX IF NOT EXISTS sessions_idle ON sessions (project, updated_at);
                 -- What /ready writes.
                 CREATE TABLE IF NOT EXISTS probe (id INT PRIMARY KEY, at TIMESTAMPTZ NOT NULL);",
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

    async fn delete_idle(&self, project: &str, before: i64, limit: u32) -> Result<u64, StoreError> {
        #[allow(clippy::cast_precision_loss)]
        let before = before as f64;
        self.client()
            .await?
            .execute(
                "DELETE FROM sessions WHERE ctid IN (SELECT ctid FROM sessions
                     WHERE project = $1 AND updated_at < to_timestamp($2) LIMIT $3)",
                &[&project, &before, &i64::from(limit)],
            )
            .await
            .map_err(err)
    }

    async fn probe(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        // A time limit inside the database: a probe cut off on this side alone would leave its
        // statement waiting, and its connection would go back to the pool still busy.
        let transaction = client.transaction().await.map_err(err)?;
        transaction
            .batch_execute("SET LOCAL statement_timeout = 2000")
            .await
            .map_err(err)?;
        transaction
            .execute(
                "INSERT INTO probe (id, at) VALUES (1, now())
                 ON CONFLICT (id) DO UPDATE SET at = now()",
                &[],
            )
            .await
            .map_err(err)?;
        transaction.commit().await.map_err(err)
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
