//! The checks every store passes; the tests run them against SQLite and PostgreSQL.

use parley_protocol::{State, Trace};

use super::{Session, Store, StoreError};
use crate::key_record::{KeyRecord, Scope};

fn session(n: i64) -> Session {
    let mut state = State::default();
    state.variables.insert("n".into(), n.into());
    Session {
        version: "v1".into(),
        state,
        last_request: Some(("req-1".into(), vec![Trace::text("hi")])),
        session_key: None,
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

/// Sweeps idle sessions by their last write, project by project, in batches; the probe writes.
pub async fn retention(store: &dyn Store) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    store.probe().await.unwrap();
    store.probe().await.unwrap();
    for user in 0..7 {
        store
            .save("old", &format!("u{user}"), &session(user), None)
            .await
            .unwrap();
    }
    store.save("kept", "u", &session(1), None).await.unwrap();
    // Written now: nothing is idle since an hour ago.
    assert_eq!(store.delete_idle("old", now - 3600, 100).await.unwrap(), 0);
    // Idle "since a minute from now": in batches of 3, 3 + 3 + 1.
    assert_eq!(store.delete_idle("old", now + 60, 3).await.unwrap(), 3);
    assert_eq!(store.delete_idle("old", now + 60, 3).await.unwrap(), 3);
    assert_eq!(store.delete_idle("old", now + 60, 3).await.unwrap(), 1);
    assert_eq!(store.delete_idle("old", now + 60, 3).await.unwrap(), 0);
    assert!(store.load("old", "u0").await.unwrap().is_none());
    // Another project's sessions are its own.
    assert!(store.load("kept", "u").await.unwrap().is_some());
    // The whole sweep: a project kept for ever loses nothing; one kept 0 s loses everything.
    store.save("old", "again", &session(2), None).await.unwrap();
    let projects = [
        ("kept".to_owned(), None),
        ("old".to_owned(), Some(std::time::Duration::ZERO)),
    ];
    assert_eq!(super::sweep(store, &projects, now + 60).await.unwrap(), 1);
    assert!(store.load("kept", "u").await.unwrap().is_some());
    assert!(store.load("old", "again").await.unwrap().is_none());
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

/// A hold reads and writes the user's session; a store that holds users across processes
/// (`reopened` is another process's handle) makes a second holder wait, past `wait` answering
/// [`StoreError::Busy`], and lets it in once the first is done.
pub async fn holds(store: &dyn Store, reopened: &dyn Store) {
    let wait = std::time::Duration::from_secs(5);
    let mut held = store.hold("h", "u", wait).await.unwrap();
    assert!(held.load().await.unwrap().is_none());
    let r1 = held.save(&session(1), None).await.unwrap();
    held.release().await;
    let mut first = store.hold("h", "u", wait).await.unwrap();
    assert_eq!(first.load().await.unwrap(), Some((session(1), r1)));
    if first.exclusive() {
        let started = std::time::Instant::now();
        let short = std::time::Duration::from_millis(300);
        assert!(matches!(
            reopened.hold("h", "u", short).await.map(|_| ()),
            Err(StoreError::Busy(_))
        ));
        assert!(started.elapsed() >= short, "{:?}", started.elapsed());
        // Another user is not held up.
        reopened
            .hold("h", "other", short)
            .await
            .unwrap()
            .release()
            .await;
    }
    let r2 = first.save(&session(2), Some(r1)).await.unwrap();
    // The write ended the hold: the next holder reads it at once.
    let mut second = reopened.hold("h", "u", wait).await.unwrap();
    assert_eq!(second.load().await.unwrap(), Some((session(2), r2)));
    // A write that held nothing got in between (an admin's delete): the held write is refused,
    // nothing overwritten.
    assert!(reopened.delete("h", "u").await.unwrap());
    assert!(matches!(
        second.save(&session(3), Some(r2)).await,
        Err(StoreError::Conflict)
    ));
    assert!(store.load("h", "u").await.unwrap().is_none());
    // A hold dropped without release or write lets the next one in.
    let dropped = store.hold("h", "u2", wait).await.unwrap();
    drop(dropped);
    reopened
        .hold("h", "u2", wait)
        .await
        .unwrap()
        .release()
        .await;
}

/// A periodic job is claimed by one holder at a time, and once per period; a store shared by
/// processes keeps the claim across them.
pub async fn jobs(store: &dyn Store, reopened: &dyn Store) {
    let every = std::time::Duration::from_secs(3600);
    let claim = store.claim_job("sweep", every).await.unwrap().unwrap();
    if reopened.shares_rates() {
        // Claimed elsewhere now, then done within the period: not due either way.
        assert!(reopened.claim_job("sweep", every).await.unwrap().is_none());
        claim.release().await;
        assert!(reopened.claim_job("sweep", every).await.unwrap().is_none());
        // Another job is its own.
        let other = reopened.claim_job("other", every).await.unwrap().unwrap();
        other.release().await;
        // A claim dropped unreleased (a crash) does not count as a run.
        drop(reopened.claim_job("third", every).await.unwrap().unwrap());
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let again = store.claim_job("third", every).await.unwrap();
        assert!(again.is_some());
        again.unwrap().release().await;
    } else {
        claim.release().await;
    }
}

/// Shared rates: a burst of the rate, then refused with a wait; buckets are apart.
pub async fn rates(store: &dyn Store, reopened: &dyn Store) {
    if !store.shares_rates() {
        return;
    }
    for _ in 0..2 {
        assert_eq!(store.take_rate("key:a", 3).await.unwrap(), None);
    }
    // The other process counts in the same bucket.
    assert_eq!(reopened.take_rate("key:a", 3).await.unwrap(), None);
    let wait = store.take_rate("key:a", 3).await.unwrap().unwrap();
    assert!(
        wait > std::time::Duration::from_secs(15) && wait <= std::time::Duration::from_secs(20),
        "{wait:?}"
    );
    assert_eq!(reopened.take_rate("key:b", 3).await.unwrap(), None);
}
