//! The domain-switch plan of the vendor's high-availability guide (docs/vendor-rules.md).
//!
//! Exists so that every client walks the same, tested order of hosts after a failed attempt:
//! 1. **primary retry**: the same primary host again;
//! 2. **alternate retry**: the primary name with the other suffix (`agora.io` ↔ `sd-rtn.com`);
//! 3. **adjacent retry**: the region host next to the one the primary resolves to, first with the
//!    primary's suffix, then with the other.
//!
//! A network failure (as opposed to a DNS failure) skips the alternate-suffix steps, as the guide
//! says; the waits are 1 s, 3 s, 6 s ([`crate::backoff::DOMAIN_SWITCH`]), the last repeated.
//! The plan is pure: the caller reports each failure's [`FailureKind`] and gets the next
//! [`FailoverStep`]. [`HostPreference`] keeps the host that worked for later calls and probes the
//! primary again after a while.

use std::time::Duration;

use crate::backoff::{DOMAIN_SWITCH, Schedule};
use crate::region::{Area, Host, RegionPrefix};

/// How an attempt failed, as far as domain switching cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// The host name did not resolve: another suffix may still resolve.
    Dns,
    /// Connect refused, reset, TLS failure or timeout: the guide skips the alternate suffix.
    Network,
}

/// Which step of the guide a [`FailoverStep`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// The primary host again.
    PrimaryRetry,
    /// The primary name with the other suffix.
    Alternate,
    /// The adjacent region host with the primary's suffix.
    Adjacent,
    /// The adjacent region host with the other suffix.
    AdjacentAlternate,
}

/// The next host to try and how long to wait before trying it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailoverStep {
    /// The host to send the next attempt to.
    pub host: Host,
    /// The wait before that attempt.
    pub delay: Duration,
    /// Which step of the guide this is.
    pub stage: Stage,
}

/// Which region is "adjacent" to which (docs/vendor-rules.md).
///
/// The docs give only the Europe example (eu-central ↔ eu-west); the default pairs are the ones
/// every community client uses (us-west ↔ us-east, ap-southeast ↔ ap-northeast, eu-west ↔
/// eu-central, cn-east ↔ cn-north). Overridable, because a caller may know better which region
/// serves it next best.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adjacency {
    next: [RegionPrefix; 8],
}

impl Default for Adjacency {
    fn default() -> Self {
        let mut next = RegionPrefix::ALL;
        for area in Area::ALL {
            let [a, b] = area.prefixes();
            next[Self::idx(a)] = b;
            next[Self::idx(b)] = a;
        }
        Adjacency { next }
    }
}

impl Adjacency {
    fn idx(p: RegionPrefix) -> usize {
        RegionPrefix::ALL
            .iter()
            .position(|q| *q == p)
            .unwrap_or_default()
    }

    /// The region adjacent to `region`.
    pub fn of(&self, region: RegionPrefix) -> RegionPrefix {
        self.next[Self::idx(region)]
    }

    /// Makes `to` the adjacent region of `from` (one direction only).
    pub fn with(mut self, from: RegionPrefix, to: RegionPrefix) -> Self {
        self.next[Self::idx(from)] = to;
        self
    }
}

/// The domain-switch plan for one configured primary host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailoverPlan {
    primary: Host,
    resolved: RegionPrefix,
    adjacency: Adjacency,
    delays: Schedule,
}

impl FailoverPlan {
    /// The plan for an area: its primary domain, resolving to the area's first region prefix.
    ///
    /// The docs are SILENT on how a caller learns where the primary resolves to; like the
    /// community clients we start from the configured area (docs/vendor-rules.md).
    pub fn for_area(area: Area) -> Self {
        FailoverPlan {
            primary: Host::primary_for(area),
            resolved: area.prefixes()[0],
            adjacency: Adjacency::default(),
            delays: DOMAIN_SWITCH.repeating_last(),
        }
    }

    /// Uses another primary host (e.g. `api.sd-rtn.com` for a server whose DNS is in China).
    pub fn with_primary(mut self, primary: Host) -> Self {
        self.primary = primary;
        self
    }

    /// Sets the region the primary host resolves to, whose neighbour is the adjacent retry.
    pub fn resolved_to(mut self, region: RegionPrefix) -> Self {
        self.resolved = region;
        self
    }

    /// Replaces the adjacency table.
    pub fn with_adjacency(mut self, adjacency: Adjacency) -> Self {
        self.adjacency = adjacency;
        self
    }

    /// Replaces the waits (default 1 s, 3 s, 6 s, then 6 s).
    pub fn with_delays(mut self, delays: Schedule) -> Self {
        self.delays = delays;
        self
    }

    /// The primary host: the first attempt of every call goes here.
    pub fn primary(&self) -> Host {
        self.primary
    }

    /// The hosts of the plan in order, each with its stage.
    pub fn stages(&self) -> [(Stage, Host); 4] {
        let adjacent = Host::Region(self.adjacency.of(self.resolved), self.primary.suffix());
        [
            (Stage::PrimaryRetry, self.primary),
            (Stage::Alternate, self.primary.with_alternate_suffix()),
            (Stage::Adjacent, adjacent),
            (Stage::AdjacentAlternate, adjacent.with_alternate_suffix()),
        ]
    }

    /// A cursor that walks the plan for one logical call.
    pub fn cursor(&self) -> FailoverCursor {
        FailoverCursor {
            stages: self.stages(),
            delays: self.delays,
            next_stage: 0,
            retries: 0,
        }
    }

    /// The steps taken when every failure is of one kind, as an iterator.
    pub fn steps(&self, every_failure: FailureKind) -> impl Iterator<Item = FailoverStep> {
        let mut cursor = self.cursor();
        std::iter::from_fn(move || cursor.next_after(every_failure))
    }
}

/// Walks a [`FailoverPlan`] for one logical call.
#[derive(Debug, Clone)]
pub struct FailoverCursor {
    stages: [(Stage, Host); 4],
    delays: Schedule,
    next_stage: usize,
    retries: usize,
}

impl FailoverCursor {
    /// The step after an attempt that failed with `failure`, or `None` when the plan is spent.
    pub fn next_after(&mut self, failure: FailureKind) -> Option<FailoverStep> {
        while let Some(&(stage, host)) = self.stages.get(self.next_stage) {
            self.next_stage += 1;
            let alternate_suffix = matches!(stage, Stage::Alternate | Stage::AdjacentAlternate);
            if alternate_suffix && failure == FailureKind::Network {
                continue;
            }
            let delay = self.delays.delay(self.retries, 0.0)?;
            self.retries += 1;
            return Some(FailoverStep { host, delay, stage });
        }
        None
    }

    /// How many retries this cursor has handed out.
    pub fn retries(&self) -> usize {
        self.retries
    }
}

/// How long a working non-primary host is kept before the primary is tried again.
///
/// Our choice, not the vendor's: the community clients refresh their DNS choice every 30 s
/// (docs/vendor-rules.md); a minute keeps a failed-over client off a broken primary without pinning
/// it to a fallback for long.
pub const PRIMARY_REPROBE_AFTER: Duration = Duration::from_secs(60);

/// Remembers which host works, so later calls start there, and returns to the primary after
/// [`PRIMARY_REPROBE_AFTER`] (time is an argument).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPreference {
    primary: Host,
    current: Host,
    since: Duration,
    reprobe_after: Duration,
}

impl HostPreference {
    /// Starts on `primary`.
    pub fn new(primary: Host) -> Self {
        HostPreference {
            primary,
            current: primary,
            since: Duration::ZERO,
            reprobe_after: PRIMARY_REPROBE_AFTER,
        }
    }

    /// Sets how long a fallback host is kept.
    pub fn with_reprobe_after(mut self, after: Duration) -> Self {
        self.reprobe_after = after;
        self
    }

    /// The host the first attempt of a call made at `now` should use.
    pub fn host_for_call(&self, now: Duration) -> Host {
        if self.current != self.primary && now.saturating_sub(self.since) >= self.reprobe_after {
            self.primary
        } else {
            self.current
        }
    }

    /// The host later calls start on (before any re-probe of the primary).
    pub const fn current(&self) -> Host {
        self.current
    }

    /// Records that `host` answered at `now`.
    pub fn record_success(&mut self, host: Host, now: Duration) {
        if host != self.current {
            self.current = host;
            self.since = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::region::Suffix;
    use proptest::prelude::*;

    fn names(steps: impl Iterator<Item = FailoverStep>) -> Vec<(String, u64)> {
        steps.map(|s| (s.host.name(), s.delay.as_secs())).collect()
    }

    #[test]
    fn europe_example_from_the_guide() {
        let plan = FailoverPlan::for_area(Area::Eu).resolved_to(RegionPrefix::EuCentral1);
        assert_eq!(
            names(plan.steps(FailureKind::Dns)),
            [
                ("api.agora.io".to_string(), 1),
                ("api.sd-rtn.com".to_string(), 3),
                ("api-eu-west-1.agora.io".to_string(), 6),
                ("api-eu-west-1.sd-rtn.com".to_string(), 6),
            ]
        );
        assert_eq!(
            names(plan.steps(FailureKind::Network)),
            [
                ("api.agora.io".to_string(), 1),
                ("api-eu-west-1.agora.io".to_string(), 3),
            ]
        );
    }

    #[test]
    fn china_starts_on_sd_rtn() {
        let plan = FailoverPlan::for_area(Area::Cn);
        assert_eq!(plan.primary(), Host::Primary(Suffix::SdRtn));
        let steps: Vec<_> = plan.steps(FailureKind::Dns).collect();
        assert_eq!(steps[1].host, Host::Primary(Suffix::AgoraIo));
        assert_eq!(
            steps[2].host,
            Host::Region(RegionPrefix::CnNorth1, Suffix::SdRtn)
        );
    }

    #[test]
    fn adjacency_is_overridable() {
        let adj = Adjacency::default().with(RegionPrefix::UsWest1, RegionPrefix::ApNortheast1);
        let plan = FailoverPlan::for_area(Area::Us).with_adjacency(adj);
        let steps: Vec<_> = plan.steps(FailureKind::Network).collect();
        assert_eq!(
            steps[1].host,
            Host::Region(RegionPrefix::ApNortheast1, Suffix::AgoraIo)
        );
    }

    #[test]
    fn preference_keeps_working_host_then_reprobes_primary() {
        let primary = Host::primary_for(Area::Us);
        let fallback = Host::Region(RegionPrefix::UsEast1, Suffix::AgoraIo);
        let mut pref = HostPreference::new(primary);
        assert_eq!(pref.host_for_call(Duration::ZERO), primary);
        pref.record_success(fallback, Duration::from_secs(10));
        assert_eq!(pref.host_for_call(Duration::from_secs(69)), fallback);
        assert_eq!(pref.host_for_call(Duration::from_secs(70)), primary);
        pref.record_success(primary, Duration::from_secs(70));
        assert_eq!(pref.host_for_call(Duration::from_secs(71)), primary);
    }

    fn arb_failures() -> impl Strategy<Value = Vec<FailureKind>> {
        proptest::collection::vec(
            prop_oneof![Just(FailureKind::Dns), Just(FailureKind::Network)],
            0..8,
        )
    }

    proptest! {
        #[test]
        fn plan_never_repeats_and_stays_near(
            area_i in 0usize..4,
            resolved_i in 0usize..2,
            alt_primary in any::<bool>(),
            failures in arb_failures(),
        ) {
            let area = Area::ALL[area_i];
            let resolved = area.prefixes()[resolved_i];
            let mut plan = FailoverPlan::for_area(area).resolved_to(resolved);
            if alt_primary {
                let alt = plan.primary().with_alternate_suffix();
                plan = plan.with_primary(alt);
            }
            let mut cursor = plan.cursor();
            let mut seen = vec![plan.primary()];
            for (i, f) in failures.iter().enumerate() {
                let Some(step) = cursor.next_after(*f) else { break };
                // Oracle: delays are the guide's 1, 3, 6 s, the last repeated.
                let expected = [1, 3, 6, 6][i];
                prop_assert_eq!(step.delay, Duration::from_secs(expected));
                // Only the deliberate primary retry repeats a host.
                if step.stage != Stage::PrimaryRetry {
                    prop_assert!(!seen.contains(&step.host), "{:?} repeated", step.host);
                }
                // Never leaves the area: the primary names or this area's region hosts.
                match step.host {
                    Host::Primary(_) => {}
                    Host::Region(p, _) => prop_assert_eq!(p.area(), area),
                }
                // A network failure never leads to a mere suffix change.
                if *f == FailureKind::Network {
                    prop_assert!(!matches!(step.stage, Stage::Alternate | Stage::AdjacentAlternate));
                }
                seen.push(step.host);
            }
            prop_assert!(cursor.retries() <= 4);
        }

        #[test]
        fn preference_never_returns_a_host_it_was_not_given(
            events in proptest::collection::vec((0usize..18, 0u64..500), 0..20),
            probe in 0u64..1000,
        ) {
            let primary = Host::primary_for(Area::Ap);
            let mut pref = HostPreference::new(primary);
            let mut given = vec![primary];
            let mut now = 0;
            for (h, dt) in events {
                now += dt;
                let host = Host::all().nth(h).unwrap();
                pref.record_success(host, Duration::from_secs(now));
                given.push(host);
            }
            let chosen = pref.host_for_call(Duration::from_secs(now + probe));
            prop_assert!(given.contains(&chosen));
            if probe >= 60 { prop_assert_eq!(chosen, primary); }
        }
    }
}
