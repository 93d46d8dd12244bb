//! Seeding the local quota ledger from the service's List.

use agora_rest_core::quota::Tier;
use agora_rest_core::region::Area;
use futures_util::TryStreamExt;

use crate::Error;
use crate::client::MediaPush;

impl MediaPush {
    /// Counts the project's running converters into the configured quota ledger; returns how
    /// many. List names neither region nor resolution, so each is counted as an SD stream in
    /// `area` (a lower bound: the caps may still refuse what the ledger admits).
    pub async fn seed_quota(&self, area: Area) -> Result<usize, Error> {
        let Some(ledger) = &self.config.quota else {
            return Ok(0);
        };
        let members: Vec<_> = self.list().try_collect().await?;
        for _ in &members {
            ledger.record_existing(area, Tier::Sd).await?;
        }
        Ok(members.len())
    }
}
