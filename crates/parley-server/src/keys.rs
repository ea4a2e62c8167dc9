//! API keys: who may talk to a project, and how much.
//!
//! A key reads `VF.PK.<id>_<secret>` (public) or `VF.DM.<id>_<secret>` (secret): Voiceflow's
//! shape, so that Voiceflow's client libraries take it. Keys issued before read
//! `pk.<id>.<secret>` and `sk.<id>.<secret>` and keep working. The id finds the record; the record keeps the SHA-256 of the whole key, never the key, and the comparison is
//! constant-time. The secret is 256 random bits, so a fast hash is enough (there is nothing to
//! guess by brute force, unlike a password).
//!
//! - A **public** key ends up in web pages: it may only interact, only from the project's
//!   allowed origins, and it is rate limited per key and per client address.
//! - A **secret** key may do everything: interact and state admin.
//! - A project that never had a key is open for interact (the demo, a laptop); its state admin
//!   always needs a secret key. Once it has had one, revoking every key does not reopen it.
//!
//! The server keeps a snapshot of the keys and reloads it every few seconds (and on an unknown
//! id), so `parley keys revoke` in another process takes effect within [`REFRESH`].

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub use crate::key_record::{KeyRecord, Scope, now};
use crate::store::{Store, StoreError};

/// How stale the key snapshot may get.
pub const REFRESH: Duration = Duration::from_secs(5);
/// An unknown key id reloads the snapshot, at most this often.
const MISS_REFRESH: Duration = Duration::from_secs(1);

fn hash(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    // The OS generator failing leaves no safe way to make a key.
    getrandom::fill(&mut buffer).expect("the operating system's random generator failed");
    crate::signing::to_hex(&buffer)
}

/// A new key for a project: its record (to store) and the key itself (to show once).
pub fn generate(
    project: &str,
    scope: Scope,
    name: &str,
    per_minute: u32,
    per_client_per_minute: u32,
) -> (KeyRecord, String) {
    let id = random_hex(8);
    let key = format!("{}{id}_{}", scope.prefix(), random_hex(32));
    let record = KeyRecord {
        id,
        project: project.to_owned(),
        scope,
        name: name.to_owned(),
        hash: hash(&key),
        per_minute,
        per_client_per_minute,
        created_at: now(),
        revoked_at: None,
    };
    (record, key)
}

/// The id inside a key, if it has a key's shape: `VF.PK.<id>_<secret>`, `VF.DM.<id>_<secret>`,
/// or the older `pk.<id>.<secret>`, `sk.<id>.<secret>` (16 and 64 hex digits).
fn id_of(key: &str) -> Option<&str> {
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    let (id, secret) = match key
        .strip_prefix("VF.PK.")
        .or_else(|| key.strip_prefix("VF.DM."))
    {
        Some(rest) => rest.split_once('_')?,
        None => {
            let mut parts = key.split('.');
            let (prefix, id, secret) = (parts.next()?, parts.next()?, parts.next()?);
            if !matches!(prefix, "pk" | "sk") || parts.next().is_some() {
                return None;
            }
            (id, secret)
        }
    };
    (hex(id, 16) && hex(secret, 64)).then_some(id)
}

/// Why a key was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Not a key, an unknown one, or a revoked one (the client learns no more than that).
    Invalid,
    /// Over the key's or the client's rate.
    RateLimited { retry_after: Duration },
}

struct Snapshot {
    by_id: HashMap<String, KeyRecord>,
    /// Projects that ever had a key: they need a key for everything. Revoked keys count, so
    /// that rotating a leaked key (revoke, then create) never leaves the project open.
    locked: HashSet<String>,
    loaded: Instant,
}

impl Snapshot {
    fn of(keys: Vec<KeyRecord>) -> Snapshot {
        let locked = keys.iter().map(|k| k.project.clone()).collect();
        Snapshot {
            by_id: keys.into_iter().map(|k| (k.id.clone(), k)).collect(),
            locked,
            loaded: Instant::now(),
        }
    }
}

struct Limiters {
    key: DefaultDirectRateLimiter,
    clients: DefaultKeyedRateLimiter<IpAddr>,
}

/// The keys the server knows, and their rate limiters.
pub struct Keys {
    store: Arc<dyn Store>,
    snapshot: RwLock<Arc<Snapshot>>,
    refreshing: tokio::sync::Mutex<()>,
    limiters: Mutex<HashMap<String, Arc<Limiters>>>,
    /// Keyless requests on the public route, per project and client address.
    public: Mutex<HashMap<String, Arc<DefaultKeyedRateLimiter<IpAddr>>>>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys").finish_non_exhaustive()
    }
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

impl Keys {
    /// Loads the keys (at start-up: a store that cannot list them stops the start).
    pub async fn load(store: Arc<dyn Store>) -> Result<Keys, StoreError> {
        let snapshot = Snapshot::of(store.keys().await?);
        Ok(Keys {
            store,
            snapshot: RwLock::new(Arc::new(snapshot)),
            refreshing: tokio::sync::Mutex::new(()),
            limiters: Mutex::new(HashMap::new()),
            public: Mutex::new(HashMap::new()),
        })
    }

    fn current(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Reloads the snapshot if it is older than `max_age` (one reload at a time; the others
    /// keep using the old one). A store failure keeps the old snapshot and is logged.
    async fn refresh(&self, max_age: Duration) {
        if self.current().loaded.elapsed() < max_age {
            return;
        }
        let Ok(_one) = self.refreshing.try_lock() else {
            return;
        };
        self.read_store().await;
    }

    /// Reads every key from the store (the caller holds `refreshing`).
    async fn read_store(&self) {
        match self.store.keys().await {
            Ok(keys) => {
                let fresh = Arc::new(Snapshot::of(keys));
                *self.snapshot.write().unwrap_or_else(|p| p.into_inner()) = fresh;
                // Forget clients not seen for a while, so the limiters do not grow forever.
                let limiters = self.limiters.lock().unwrap_or_else(|p| p.into_inner());
                for limiter in limiters.values() {
                    limiter.clients.retain_recent();
                }
                drop(limiters);
                let public = self.public.lock().unwrap_or_else(|p| p.into_inner());
                for limiter in public.values() {
                    limiter.retain_recent();
                }
            }
            Err(e) => tracing::error!("cannot reload the API keys: {e}"),
        }
    }

    /// Reloads now (after creating or revoking a key in this process); waits for a reload
    /// already under way rather than skip.
    pub async fn reload(&self) {
        let _one = self.refreshing.lock().await;
        self.read_store().await;
    }

    /// Reloads the snapshot if it is older than [`REFRESH`]: every request calls it, with a key
    /// or without, so a key created or revoked elsewhere takes effect within [`REFRESH`].
    pub async fn keep_fresh(&self) {
        self.refresh(REFRESH).await;
    }

    /// Whether the project ever had a key (then every request needs one).
    pub fn locked(&self, project: &str) -> bool {
        self.current().locked.contains(project)
    }

    /// The record of a live key, after a constant-time check of the whole key.
    pub async fn verify(&self, key: &str) -> Result<KeyRecord, Rejection> {
        let key = key.strip_prefix("Bearer ").unwrap_or(key).trim();
        let id = id_of(key).ok_or(Rejection::Invalid)?;
        if !self.current().by_id.contains_key(id) {
            self.refresh(MISS_REFRESH).await;
        }
        let snapshot = self.current();
        let record = snapshot.by_id.get(id).ok_or(Rejection::Invalid)?;
        let matches: bool = hash(key).ct_eq(&record.hash).into();
        if !matches || record.revoked_at.is_some() {
            return Err(Rejection::Invalid);
        }
        Ok(record.clone())
    }

    /// Counts one request of a public key from a client; refuses it over either rate. This
    /// server's own count first (over it, refused without asking the store); then, with a store
    /// whose rates every server shares, the shared count decides (see [`Keys::shared`]).
    pub async fn admit(&self, key: &KeyRecord, client: IpAddr) -> Result<(), Rejection> {
        let limiters = {
            let mut all = self.limiters.lock().unwrap_or_else(|p| p.into_inner());
            all.entry(key.id.clone())
                .or_insert_with(|| {
                    Arc::new(Limiters {
                        key: RateLimiter::direct(per_minute(key.per_minute)),
                        clients: RateLimiter::keyed(per_minute(key.per_client_per_minute)),
                    })
                })
                .clone()
        };
        let clock = governor::clock::DefaultClock::default();
        let limited = |not_until: governor::NotUntil<_>| Rejection::RateLimited {
            retry_after: not_until.wait_time_from(governor::clock::Clock::now(&clock)),
        };
        limiters.clients.check_key(&client).map_err(limited)?;
        limiters.key.check().map_err(limited)?;
        self.shared(
            &format!("client:{}:{client}", key.id),
            key.per_client_per_minute,
        )
        .await?;
        self.shared(&format!("key:{}", key.id), key.per_minute)
            .await
    }

    /// One request out of a rate every server sharing the store counts (PostgreSQL); nothing
    /// with a store of one server's (SQLite), whose limiter in memory is the count. A store
    /// failure admits (logged): a rate is no reason to refuse a turn when the count is lost.
    pub(crate) async fn shared(&self, bucket: &str, per_minute: u32) -> Result<(), Rejection> {
        if !self.store.shares_rates() {
            return Ok(());
        }
        match self.store.take_rate(bucket, per_minute).await {
            Ok(None) => Ok(()),
            Ok(Some(retry_after)) => Err(Rejection::RateLimited { retry_after }),
            Err(e) => {
                tracing::error!("the shared rate of {bucket} is not counted: {e}");
                Ok(())
            }
        }
    }
}

impl Keys {
    /// Counts one keyless request on a project's public route from a client; refuses it over
    /// `per_minute`.
    pub async fn admit_public(
        &self,
        project: &str,
        per_minute: u32,
        client: IpAddr,
    ) -> Result<(), Rejection> {
        let limiter = {
            let mut all = self.public.lock().unwrap_or_else(|p| p.into_inner());
            all.entry(project.to_owned())
                .or_insert_with(|| Arc::new(RateLimiter::keyed(self::per_minute(per_minute))))
                .clone()
        };
        let clock = governor::clock::DefaultClock::default();
        limiter
            .check_key(&client)
            .map_err(|not_until| Rejection::RateLimited {
                retry_after: not_until.wait_time_from(governor::clock::Clock::now(&clock)),
            })?;
        self.shared(&format!("public:{project}:{client}"), per_minute)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SqliteStore;

    #[tokio::test]
    async fn keys_verify_only_whole_and_live() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
        let (record, key) = generate("p", Scope::Public, "site", 600, 60);
        // Voiceflow's shape: `VF.`, a kind, and exactly two dots (runtime-client-js's check).
        assert!(
            key.starts_with("VF.PK.") && key.matches('.').count() == 2,
            "{key}"
        );
        store.create_key(&record).await.unwrap();
        // A key of the older shape, issued before, still verifies.
        let old_key = format!("pk.{}.{}", "ab".repeat(8), "cd".repeat(32));
        let old = KeyRecord {
            id: "ab".repeat(8),
            hash: hash(&old_key),
            ..record.clone()
        };
        store.create_key(&old).await.unwrap();
        let keys = Keys::load(store.clone()).await.unwrap();
        assert_eq!(keys.verify(&old_key).await.unwrap(), old);
        assert!(keys.locked("p"));
        assert!(!keys.locked("q"));
        assert_eq!(keys.verify(&key).await.unwrap(), record);
        assert_eq!(keys.verify(&format!("Bearer {key}")).await.unwrap(), record);
        // One character off, a foreign shape, nothing: all the same answer.
        let mut wrong = key.clone().into_bytes();
        let last = wrong.len() - 1;
        wrong[last] = if wrong[last] == b'0' { b'1' } else { b'0' };
        let wrong = String::from_utf8(wrong).unwrap();
        for bad in [
            wrong.as_str(),
            "VF.DM.123.abc",
            "",
            "pk..",
            "sk.x.y",
            &key.replacen("VF.PK.", "VF.DM.", 1),
            &key.replacen('_', ".", 1),
        ] {
            assert_eq!(keys.verify(bad).await, Err(Rejection::Invalid), "{bad}");
        }
        assert!(store.revoke_key(&record.id).await.unwrap());
        keys.reload().await;
        assert_eq!(keys.verify(&key).await, Err(Rejection::Invalid));
        assert!(
            keys.locked("p"),
            "revoking the last key does not open the project"
        );
    }

    #[tokio::test]
    async fn public_keys_are_limited_per_client_and_per_key() {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::in_memory().unwrap());
        let (record, _) = generate("p", Scope::Public, "site", 5, 3);
        let keys = Keys::load(store).await.unwrap();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..3 {
            keys.admit(&record, a).await.unwrap();
        }
        let Err(Rejection::RateLimited { retry_after }) = keys.admit(&record, a).await else {
            panic!("the fourth request of one client passed");
        };
        assert!(retry_after > Duration::ZERO && retry_after <= Duration::from_secs(20));
        // Another client still gets in, until the key's own quota is spent.
        keys.admit(&record, b).await.unwrap();
        keys.admit(&record, b).await.unwrap();
        assert!(matches!(
            keys.admit(&record, b).await,
            Err(Rejection::RateLimited { .. })
        ));
    }
}
