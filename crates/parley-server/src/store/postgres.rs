//! Sessions and keys in PostgreSQL, shared by several server processes.

use async_trait::async_trait;

use super::{
    Claim, Held, KEY_COLUMNS, Revision, Session, Store, StoreError, decode, encode, err, err_chain,
    scope_of,
};
use crate::key_record::KeyRecord;

/// Sessions and keys in PostgreSQL, for several server processes behind a load balancer.
pub struct PostgresStore {
    /// Connections for single statements, each back in the pool as soon as it answered.
    pool: deadpool_postgres::Pool,
    /// Connections a turn's hold (or a job's claim) keeps for its whole length. Apart from
    /// `pool`, so that a holder needing a statement of its own (the new-session rate) never
    /// waits for a connection that only holders could give back: with one pool, 16 turns
    /// holding all 16 connections each waited 5 s for a 17th (measured at 64 conversations).
    holds: deadpool_postgres::Pool,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

/// The schema, version by version. A database records the versions it has in
/// `schema_versions`; a server applies the missing ones in order, each in a transaction, under
/// an advisory lock, so that any number of servers may start at once on an empty or an older
/// database. A released version is never edited: a change is the next version.
const MIGRATIONS: &[(i32, &str)] = &[
    // What servers made before versions existed: `IF NOT EXISTS`, so such a database passes.
    (
        1,
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
    ),
    // The rates every server shares (GCRA: a bucket's theoretical arrival time, in
    // microseconds of the database's clock) and the periodic jobs' last runs.
    (
        2,
        "CREATE TABLE rate_limits (bucket TEXT PRIMARY KEY, tat BIGINT NOT NULL);
         CREATE TABLE jobs (name TEXT PRIMARY KEY, last_run TIMESTAMPTZ NOT NULL);",
    ),
];

/// The first key of this program's two-key advisory locks (the second is the schema's hash,
/// so that servers on different schemas of one database keep apart): "Parl".
const LOCK_CLASS_MIGRATE: i32 = 0x5061_726c;
/// The same for the periodic jobs: "Parm".
const LOCK_CLASS_JOBS: i32 = 0x5061_726d;

/// A turn's lock: a transaction-scoped advisory lock on the (schema, project, user) hash (the
/// one-key form, a space apart from the two-key locks above). A hash collision only makes two
/// users wait for each other.
const HOLD_SQL: &str =
    "SELECT pg_advisory_xact_lock(hashtextextended(coalesce(current_schema(), '') || $1, 0))";
const LOAD_SQL: &str = "SELECT session, revision FROM sessions WHERE project = $1 AND user_id = $2";
const INSERT_SQL: &str = "INSERT INTO sessions (project, user_id, session, revision)
     VALUES ($1, $2, $3, 1) ON CONFLICT (project, user_id) DO NOTHING";
const UPDATE_SQL: &str =
    "UPDATE sessions SET session = $3, revision = revision + 1, updated_at = now()
     WHERE project = $1 AND user_id = $2 AND revision = $4";
/// One request out of a bucket (GCRA in one statement, on the database's clock so that the
/// servers' clocks need not agree): `$2` is the emission interval, `$3` the burst tolerance, in
/// microseconds. Admitted when the upsert wrote; else the old row tells the wait.
const RATE_SQL: &str =
    "WITH clock AS (SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint AS now),
     taken AS (
         INSERT INTO rate_limits AS r (bucket, tat) SELECT $1, now + $2 FROM clock
         ON CONFLICT (bucket) DO UPDATE SET tat = GREATEST(r.tat, (SELECT now FROM clock)) + $2
         WHERE GREATEST(r.tat, (SELECT now FROM clock)) + $2 - $3 <= (SELECT now FROM clock)
         RETURNING 1)
     SELECT (SELECT count(*) FROM taken), (SELECT now FROM clock),
            (SELECT tat FROM rate_limits WHERE bucket = $1)";

/// A PostgreSQL error with the database's own message (tokio-postgres's `Display` alone says
/// "db error"); a lock wait past `lock_timeout` is [`StoreError::Busy`].
fn pg(e: tokio_postgres::Error) -> StoreError {
    if e.code() == Some(&tokio_postgres::error::SqlState::LOCK_NOT_AVAILABLE) {
        return StoreError::Busy("another request held the conversation too long".into());
    }
    err_chain(&e)
}

impl PostgresStore {
    /// Connects (`postgres://user:password@host:port/database`, plus libpq's parameters) and
    /// brings the schema to this server's version ([`MIGRATIONS`]). Plain TCP or a Unix socket:
    /// run it next to the server or through a tunnel (no TLS client is built in).
    pub async fn connect(url: &str) -> Result<PostgresStore, StoreError> {
        Self::connect_with(url, 16).await
    }

    /// [`PostgresStore::connect`] with at most `connections` turns holding a connection at once
    /// (and half as many, at least 4, for single statements).
    pub async fn connect_with(url: &str, connections: usize) -> Result<PostgresStore, StoreError> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| err(format!("the database URL is not valid: {e}")))?;
        migrate(&config).await?;
        let pool = |size: usize| {
            let manager = deadpool_postgres::Manager::from_config(
                config.clone(),
                tokio_postgres::NoTls,
                deadpool_postgres::ManagerConfig {
                    recycling_method: deadpool_postgres::RecyclingMethod::Fast,
                },
            );
            deadpool_postgres::Pool::builder(manager)
                .max_size(size)
                .runtime(deadpool_postgres::Runtime::Tokio1)
                .wait_timeout(Some(std::time::Duration::from_secs(5)))
                .create_timeout(Some(std::time::Duration::from_secs(5)))
                .build()
                .map_err(err)
        };
        Ok(PostgresStore {
            pool: pool((connections / 2).max(4))?,
            holds: pool(connections.max(2))?,
        })
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        Self::get(&self.pool).await
    }

    async fn get(pool: &deadpool_postgres::Pool) -> Result<deadpool_postgres::Object, StoreError> {
        pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Timeout(_) => {
                StoreError::Busy("no database connection came free in time".into())
            }
            deadpool_postgres::PoolError::Backend(e) => pg(e),
            e => err_chain(&e),
        })
    }
}

/// Applies the missing [`MIGRATIONS`] on a connection of its own, under a session advisory lock
/// that ends with the connection (a server that dies mid-way leaves no lock behind).
async fn migrate(config: &tokio_postgres::Config) -> Result<(), StoreError> {
    let (mut client, connection) = config.connect(tokio_postgres::NoTls).await.map_err(pg)?;
    let connection = tokio::spawn(connection);
    let result = async {
        client
            .execute(
                "SELECT pg_advisory_lock($1, hashtext(coalesce(current_schema(), '')))",
                &[&LOCK_CLASS_MIGRATE],
            )
            .await
            .map_err(pg)?;
        client
            .batch_execute(
                "CREATE TABLE IF NOT EXISTS schema_versions (
                     version INT PRIMARY KEY,
                     applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
                 )",
            )
            .await
            .map_err(pg)?;
        let have: i32 = client
            .query_one("SELECT coalesce(max(version), 0) FROM schema_versions", &[])
            .await
            .map_err(pg)?
            .get(0);
        let newest = MIGRATIONS.last().map_or(0, |(v, _)| *v);
        if have > newest {
            // A newer server migrated it (a rolling upgrade, or a rollback): its versions only
            // add, so this one goes on with what it knows.
            tracing::warn!(
                "the database's schema is at version {have}, newer than this server's {newest}"
            );
        }
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > have) {
            let transaction = client.transaction().await.map_err(pg)?;
            transaction.batch_execute(sql).await.map_err(|e| {
                let StoreError::Failed(text) = pg(e) else {
                    return err(format!("schema version {version}: busy"));
                };
                err(format!("schema version {version}: {text}"))
            })?;
            transaction
                .execute(
                    "INSERT INTO schema_versions (version) VALUES ($1)",
                    &[version],
                )
                .await
                .map_err(pg)?;
            transaction.commit().await.map_err(pg)?;
            tracing::info!("database schema: applied version {version}");
        }
        Ok(())
    }
    .await;
    // Closing the connection releases the lock.
    drop(client);
    let _ = connection.await;
    result
}

/// A user held for a turn: the transaction that holds the advisory lock, on a pooled
/// connection of its own; the turn's read and write run in it.
struct PgHeld {
    client: Option<deadpool_postgres::Object>,
    project: String,
    user: String,
    /// What was read when the hold was taken (pipelined with the lock).
    first: Option<Option<(Session, Revision)>>,
}

impl PgHeld {
    fn client(&self) -> Result<&deadpool_postgres::Object, StoreError> {
        self.client
            .as_ref()
            .ok_or_else(|| err("the hold has ended"))
    }
}

impl Drop for PgHeld {
    fn drop(&mut self) {
        // A turn dropped mid-way (the client went away): roll back in the background, or let
        // the connection go (closing it ends the transaction and its lock).
        if let Some(client) = self.client.take() {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    runtime.spawn(async move {
                        if client.batch_execute("ROLLBACK").await.is_err() {
                            drop(deadpool_postgres::Object::take(client));
                        }
                    });
                }
                Err(_) => drop(deadpool_postgres::Object::take(client)),
            }
        }
    }
}

#[async_trait]
impl Held for PgHeld {
    async fn load(&mut self) -> Result<Option<(Session, Revision)>, StoreError> {
        if let Some(first) = self.first.take() {
            return Ok(first);
        }
        let client = self.client()?;
        let select = client.prepare_cached(LOAD_SQL).await.map_err(pg)?;
        let row = client
            .query_opt(&select, &[&self.project, &self.user])
            .await
            .map_err(pg)?;
        row.map(|row| Ok((decode(row.get(0))?, row.get(1))))
            .transpose()
    }

    async fn save(
        &mut self,
        session: &Session,
        expected: Option<Revision>,
    ) -> Result<Revision, StoreError> {
        let text = encode(session)?;
        // The connection stays the hold's until the commit answered: a request dropped mid-way
        // drops the hold, which rolls back (a no-op after the commit), rather than pooling a
        // connection inside the transaction with the user's lock.
        let client = self.client()?;
        // The write and the commit in one round trip (pipelined): the lock goes with the commit.
        let result = async {
            let changed = match expected {
                None => {
                    let insert = client.prepare_cached(INSERT_SQL).await.map_err(pg)?;
                    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 3] =
                        [&self.project, &self.user, &text];
                    let (changed, committed) = tokio::join!(
                        client.execute(&insert, &params),
                        client.batch_execute("COMMIT")
                    );
                    committed.map_err(pg)?;
                    changed.map_err(pg)?
                }
                Some(revision) => {
                    let update = client.prepare_cached(UPDATE_SQL).await.map_err(pg)?;
                    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
                        [&self.project, &self.user, &text, &revision];
                    let (changed, committed) = tokio::join!(
                        client.execute(&update, &params),
                        client.batch_execute("COMMIT")
                    );
                    committed.map_err(pg)?;
                    changed.map_err(pg)?
                }
            };
            match changed {
                1 => Ok(expected.unwrap_or(0) + 1),
                _ => Err(StoreError::Conflict),
            }
        }
        .await;
        let client = self.client.take();
        if let Some(client) = client
            && result
                .as_ref()
                .is_err_and(|e| !matches!(e, StoreError::Conflict))
        {
            // The transaction may still be open (a prepare failed): do not pool it so.
            drop(deadpool_postgres::Object::take(client));
        }
        result
    }

    fn exclusive(&self) -> bool {
        true
    }

    async fn release(mut self: Box<Self>) {
        if let Some(client) = self.client.take()
            && client.batch_execute("ROLLBACK").await.is_err()
        {
            drop(deadpool_postgres::Object::take(client));
        }
    }
}

/// A claimed job run: the transaction that holds its advisory lock and its `jobs` row.
struct PgClaim {
    client: Option<deadpool_postgres::Object>,
}

#[async_trait]
impl Claim for PgClaim {
    async fn release(mut self: Box<Self>) {
        if let Some(client) = self.client.take()
            && client.batch_execute("COMMIT").await.is_err()
        {
            drop(deadpool_postgres::Object::take(client));
        }
    }
}

impl Drop for PgClaim {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            // Unreleased (a panic, an abort): the run does not count, the lock goes.
            drop(deadpool_postgres::Object::take(client));
        }
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
            .map_err(pg)?;
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
        .map_err(pg)?;
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
            .map_err(pg)
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
            .map_err(pg)
    }

    async fn probe(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        // A time limit inside the database: a probe cut off on this side alone would leave its
        // statement waiting, and its connection would go back to the pool still busy.
        let transaction = client.transaction().await.map_err(pg)?;
        transaction
            .batch_execute("SET LOCAL statement_timeout = 2000")
            .await
            .map_err(pg)?;
        transaction
            .execute(
                "INSERT INTO probe (id, at) VALUES (1, now())
                 ON CONFLICT (id) DO UPDATE SET at = now()",
                &[],
            )
            .await
            .map_err(pg)?;
        transaction.commit().await.map_err(pg)
    }

    async fn hold(
        &self,
        project: &str,
        user: &str,
        wait: std::time::Duration,
    ) -> Result<Box<dyn Held>, StoreError> {
        let client = Self::get(&self.holds).await?;
        let lock = client.prepare_cached(HOLD_SQL).await.map_err(pg)?;
        let select = client.prepare_cached(LOAD_SQL).await.map_err(pg)?;
        let begin = format!(
            "BEGIN; SET LOCAL lock_timeout = {}",
            wait.as_millis().clamp(1, i32::MAX as u128)
        );
        // Length-prefixed, so that ("ab", "c") and ("a", "bc") differ.
        let key = format!(":{}:{project}:{user}", project.len());
        // One round trip (pipelined): begin, wait for the lock, read what the holder before
        // wrote.
        let lock_params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&key];
        let load_params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&project, &user];
        // The hold owns the connection before the transaction begins: a request dropped while
        // it waits (its client went away) drops the hold, whose rollback follows the queued
        // wait. A bare connection would go back to the pool with the wait still queued, then
        // take the user's lock once the holder ended and keep it while idle in the pool.
        let mut held = PgHeld {
            client: Some(client),
            project: project.to_owned(),
            user: user.to_owned(),
            first: None,
        };
        let (began, locked, row) = {
            let client = held.client()?;
            tokio::join!(
                client.batch_execute(&begin),
                client.execute(&lock, &lock_params),
                client.query_opt(&select, &load_params)
            )
        };
        let row = match began.and(locked).and(row) {
            Ok(row) => row,
            Err(e) => {
                Box::new(held).release().await;
                return Err(pg(e));
            }
        };
        held.first = Some(
            row.map(|row| Ok((decode(row.get(0))?, row.get(1))))
                .transpose()?,
        );
        Ok(Box::new(held))
    }

    fn shares_rates(&self) -> bool {
        true
    }

    async fn take_rate(
        &self,
        bucket: &str,
        per_minute: u32,
    ) -> Result<Option<std::time::Duration>, StoreError> {
        let per_minute = i64::from(per_minute.max(1));
        let tolerance: i64 = 60_000_000;
        let interval = tolerance / per_minute;
        let client = self.client().await?;
        let statement = client.prepare_cached(RATE_SQL).await.map_err(pg)?;
        let row = client
            .query_one(&statement, &[&bucket, &interval, &tolerance])
            .await
            .map_err(pg)?;
        if row.get::<_, i64>(0) == 1 {
            return Ok(None);
        }
        let (now, tat): (i64, Option<i64>) = (row.get(1), row.get(2));
        let wait = tat.map_or(0, |tat| tat + interval - tolerance - now).max(1);
        Ok(Some(std::time::Duration::from_micros(
            u64::try_from(wait).unwrap_or(1),
        )))
    }

    async fn forget_rates(&self) -> Result<u64, StoreError> {
        self.client()
            .await?
            .execute(
                "DELETE FROM rate_limits
                 WHERE tat < (extract(epoch FROM clock_timestamp()) * 1000000)::bigint",
                &[],
            )
            .await
            .map_err(pg)
    }

    async fn claim_job(
        &self,
        job: &str,
        every: std::time::Duration,
    ) -> Result<Option<Box<dyn Claim>>, StoreError> {
        // The claim owns the connection from the start: dropped mid-way (a shutdown), it closes
        // the connection instead of pooling one inside a transaction with the job's lock.
        let mut claim = PgClaim {
            client: Some(Self::get(&self.holds).await?),
        };
        let claimed = async {
            let client = claim
                .client
                .as_ref()
                .ok_or_else(|| err("the claim has ended"))?;
            client.batch_execute("BEGIN").await.map_err(pg)?;
            let locked: bool = client
                .query_one(
                    "SELECT pg_try_advisory_xact_lock($1,
                         hashtext(coalesce(current_schema(), '') || ':' || $2))",
                    &[&LOCK_CLASS_JOBS, &job],
                )
                .await
                .map_err(pg)?
                .get(0);
            if !locked {
                return Ok(false);
            }
            let due = client
                .query_opt(
                    "INSERT INTO jobs (name, last_run) VALUES ($1, now())
                     ON CONFLICT (name) DO UPDATE SET last_run = now()
                     WHERE jobs.last_run < now() - make_interval(secs => $2)
                     RETURNING 1",
                    &[&job, &every.as_secs_f64()],
                )
                .await
                .map_err(pg)?;
            Ok::<_, StoreError>(due.is_some())
        }
        .await;
        match claimed {
            Ok(true) => Ok(Some(Box::new(claim))),
            Ok(false) => {
                if let Some(client) = claim.client.take()
                    && client.batch_execute("ROLLBACK").await.is_err()
                {
                    drop(deadpool_postgres::Object::take(client));
                }
                Ok(None)
            }
            // Dropping the claim closes its connection: never pool one that may be inside a
            // transaction.
            Err(e) => Err(e),
        }
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
            .map_err(pg)
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
            .map_err(pg)?;
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
            .map_err(pg)
    }
}
