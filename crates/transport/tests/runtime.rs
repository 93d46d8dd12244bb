//! The controller runtime under tokio's paused clock: a reconcile that panics does not lose its
//! key, and a key is never reconciled twice at once.

#![allow(clippy::unwrap_used)] // tests fail loudly on a broken setup

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use agora_rest_transport::controller::store::{DesiredStore, InMemoryDesiredStore};
use agora_rest_transport::controller::{Reconcile, Runtime};
use tokio::time::Instant;

/// Panics on its first call, then counts calls and asks to be called again in 10 s.
#[derive(Default)]
struct Flaky {
    calls: AtomicU32,
}

#[async_trait::async_trait]
impl Reconcile for Flaky {
    async fn reconcile(&self, _key: &str) -> Option<Instant> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        assert!(n != 0, "a reconcile that panics");
        Some(Instant::now() + Duration::from_secs(10))
    }
}

#[tokio::test(start_paused = true)]
async fn a_panicking_reconcile_keeps_its_key() {
    tokio::time::timeout(Duration::from_secs(3600), async {
        let desired = Arc::new(InMemoryDesiredStore::new());
        desired.apply("k", "{}").await.unwrap();
        let flaky = Arc::new(Flaky::default());
        let rt = Runtime::spawn(Arc::<Flaky>::clone(&flaky), desired, 4);
        tokio::time::sleep(Duration::from_secs(30)).await;
        let calls = flaky.calls.load(Ordering::SeqCst);
        // The panic at 0 s, again at 5 s, then every 10 s: 15 s and 25 s.
        assert!(
            calls >= 3,
            "{calls} calls: the key was lost after the panic"
        );
        rt.shutdown().await;
    })
    .await
    .unwrap();
}

/// Never answers on its first call; counts the later ones.
#[derive(Default)]
struct StuckOnce {
    calls: AtomicU32,
}

#[async_trait::async_trait]
impl Reconcile for StuckOnce {
    async fn reconcile(&self, _key: &str) -> Option<Instant> {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            std::future::pending::<()>().await;
        }
        Some(Instant::now() + Duration::from_secs(60))
    }
}

#[tokio::test(start_paused = true)]
async fn a_stuck_reconcile_is_cancelled_and_its_key_kept() {
    tokio::time::timeout(Duration::from_secs(3 * 3600), async {
        let desired = Arc::new(InMemoryDesiredStore::new());
        desired.apply("k", "{}").await.unwrap();
        let stuck = Arc::new(StuckOnce::default());
        let rt = Runtime::spawn(Arc::<StuckOnce>::clone(&stuck), desired, 1);
        let limit = agora_rest_transport::controller::MAX_RECONCILE;
        tokio::time::sleep(limit - Duration::from_secs(1)).await;
        assert_eq!(stuck.calls.load(Ordering::SeqCst), 1, "still stuck");
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(
            stuck.calls.load(Ordering::SeqCst),
            2,
            "cancelled at the limit and tried again 5 s later"
        );
        rt.shutdown().await;
    })
    .await
    .unwrap();
}
