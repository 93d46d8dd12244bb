//! Fault injection: scripted per (route, nth call) and random with a seed and a rate.
//!
//! Exists because failure handling is what users of these services cannot test against the
//! real thing. Each fault names what the service does *and* whether the request took effect:
//! `CommitThen504` creates the converter and still answers 504, the case that makes naive
//! clients start a second stream.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use agora_rest_core::operation::Operation;

/// One injected misbehaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer this status with the vendor's text for it; the request is not applied.
    Status(u16),
    /// Apply the request (a create commits), then answer 504.
    CommitThen504,
    /// Cloud Transcoding Create answers 206 "partial success" without creating.
    Partial206,
    /// Answer `{"code":65,…}` with this status; not applied.
    Code65(u16),
    /// Answer 429 "Request rate limit exceeded"; not applied.
    RateLimited,
    /// Wait this long, then handle normally.
    Latency(Duration),
    /// Drop the connection without an answer; not applied.
    Reset,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Status(s) => write!(f, "{s}"),
            Fault::CommitThen504 => f.write_str("504-commit"),
            Fault::Partial206 => f.write_str("206"),
            Fault::Code65(s) => write!(f, "code65-{s}"),
            Fault::RateLimited => f.write_str("429"),
            Fault::Latency(d) => write!(f, "latency-{}ms", d.as_millis()),
            Fault::Reset => f.write_str("reset"),
        }
    }
}

impl FromStr for Fault {
    type Err = String;

    /// `500`, `503`, `504`, `504-commit`, `206`, `429`, `code65`, `code65-503`, `reset`,
    /// `latency-250ms`.
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "504-commit" => Fault::CommitThen504,
            "206" => Fault::Partial206,
            "429" => Fault::RateLimited,
            "reset" => Fault::Reset,
            "code65" => Fault::Code65(500),
            _ => {
                if let Some(rest) = s.strip_prefix("code65-") {
                    Fault::Code65(rest.parse().map_err(|_| format!("bad status in {s:?}"))?)
                } else if let Some(ms) = s
                    .strip_prefix("latency-")
                    .and_then(|r| r.strip_suffix("ms"))
                {
                    Fault::Latency(Duration::from_millis(
                        ms.parse().map_err(|_| format!("bad latency in {s:?}"))?,
                    ))
                } else {
                    let status: u16 = s.parse().map_err(|_| format!("unknown fault {s:?}"))?;
                    if !(400..=599).contains(&status) {
                        return Err(format!("fault status {status} is not an error status"));
                    }
                    Fault::Status(status)
                }
            }
        })
    }
}

/// Which calls of a route a rule hits (1-based, counted per route).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Calls {
    /// Every call.
    Every,
    /// Calls `from..=to`.
    Range(u32, u32),
}

impl Calls {
    fn hits(self, n: u32) -> bool {
        match self {
            Calls::Every => true,
            Calls::Range(a, b) => (a..=b).contains(&n),
        }
    }
}

/// A scripted fault: `fault` on `calls` of `route` (any route when `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    /// The operation, or any.
    pub route: Option<Operation>,
    /// Which calls.
    pub calls: Calls,
    /// What happens.
    pub fault: Fault,
}

impl FaultRule {
    /// `fault` on the `nth` call (1-based) of `route`.
    pub fn nth(route: Operation, nth: u32, fault: Fault) -> Self {
        FaultRule {
            route: Some(route),
            calls: Calls::Range(nth, nth),
            fault,
        }
    }

    /// `fault` on calls `from..=to` of `route`.
    pub fn calls(route: Operation, from: u32, to: u32, fault: Fault) -> Self {
        FaultRule {
            route: Some(route),
            calls: Calls::Range(from, to),
            fault,
        }
    }

    /// `fault` on every call of `route`.
    pub fn always(route: Operation, fault: Fault) -> Self {
        FaultRule {
            route: Some(route),
            calls: Calls::Every,
            fault,
        }
    }
}

impl FromStr for FaultRule {
    type Err = String;

    /// `ROUTE:CALLS:FAULT`, e.g. `push.create:1:504-commit`, `transcode.create:1-3:206`,
    /// `push.get:*:503`, `*:2:reset`. Routes are operation names (`push.get`, `transcode.query`, …).
    fn from_str(s: &str) -> Result<Self, String> {
        let mut parts = s.splitn(3, ':');
        let (Some(route), Some(calls), Some(fault)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("{s:?}: expected ROUTE:CALLS:FAULT"));
        };
        let route = if route == "*" {
            None
        } else {
            Some(
                Operation::ALL
                    .into_iter()
                    .find(|o| o.name() == route)
                    .ok_or_else(|| {
                        format!(
                            "unknown route {route:?} (use e.g. push.create, transcode.query or *)"
                        )
                    })?,
            )
        };
        let calls = if calls == "*" {
            Calls::Every
        } else if let Some((a, b)) = calls.split_once('-') {
            Calls::Range(
                a.parse().map_err(|_| format!("bad call number {a:?}"))?,
                b.parse().map_err(|_| format!("bad call number {b:?}"))?,
            )
        } else {
            let n = calls
                .parse()
                .map_err(|_| format!("bad call number {calls:?}"))?;
            Calls::Range(n, n)
        };
        Ok(FaultRule {
            route,
            calls,
            fault: fault.parse()?,
        })
    }
}

/// Random faults: each call draws from a seeded generator and fails with `rate` probability.
#[derive(Debug, Clone)]
pub struct RandomFaults {
    rate: f64,
    faults: Vec<Fault>,
    rng: fastrand::Rng,
}

impl RandomFaults {
    /// With `seed`, fail `rate` (0–1) of calls with one of `faults` chosen at random.
    pub fn new(seed: u64, rate: f64, faults: Vec<Fault>) -> Self {
        RandomFaults {
            rate: rate.clamp(0.0, 1.0),
            faults,
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    fn draw(&mut self) -> Option<Fault> {
        if self.faults.is_empty() || self.rng.f64() >= self.rate {
            return None;
        }
        let i = self.rng.usize(..self.faults.len());
        self.faults.get(i).cloned()
    }
}

/// The fault plan of an emulator.
#[derive(Debug, Clone, Default)]
pub(crate) struct FaultPlan {
    rules: Vec<FaultRule>,
    random: Option<RandomFaults>,
    counts: std::collections::HashMap<Operation, u32>,
}

impl FaultPlan {
    /// Adds a scripted rule (earlier rules win).
    pub(crate) fn add(&mut self, rule: FaultRule) {
        self.rules.push(rule);
    }

    /// Sets the random faults.
    pub(crate) fn set_random(&mut self, random: RandomFaults) {
        self.random = Some(random);
    }

    /// Removes every rule and the random faults (call counts are kept).
    pub(crate) fn clear(&mut self) {
        self.rules.clear();
        self.random = None;
    }

    /// Counts a call of `op` and returns the fault it meets, if any.
    pub(crate) fn next(&mut self, op: Operation) -> Option<Fault> {
        let n = {
            let c = self.counts.entry(op).or_insert(0);
            *c += 1;
            *c
        };
        let scripted = self
            .rules
            .iter()
            .find(|r| r.route.is_none_or(|route| route == op) && r.calls.hits(n))
            .map(|r| r.fault.clone());
        scripted.or_else(|| self.random.as_mut().and_then(RandomFaults::draw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_and_hit_the_right_calls() {
        let r: FaultRule = "push.create:2-3:504-commit".parse().unwrap();
        assert_eq!(
            r,
            FaultRule::calls(Operation::PushCreate, 2, 3, Fault::CommitThen504)
        );
        assert_eq!(
            "*:*:code65-503".parse::<FaultRule>().unwrap().fault,
            Fault::Code65(503)
        );
        assert_eq!(
            "push.get:1:latency-250ms"
                .parse::<FaultRule>()
                .unwrap()
                .fault,
            Fault::Latency(Duration::from_millis(250))
        );
        assert!("push.nope:1:503".parse::<FaultRule>().is_err());
        assert!("push.get:1:200".parse::<FaultRule>().is_err());
        let mut plan = FaultPlan::default();
        plan.add(r);
        let got: Vec<_> = (0..4).map(|_| plan.next(Operation::PushCreate)).collect();
        assert_eq!(
            got,
            [
                None,
                Some(Fault::CommitThen504),
                Some(Fault::CommitThen504),
                None
            ]
        );
        assert_eq!(plan.next(Operation::PushGet), None);
    }

    #[test]
    fn random_faults_are_reproducible() {
        let draw = |seed| {
            let mut p = FaultPlan::default();
            p.set_random(RandomFaults::new(
                seed,
                0.3,
                vec![Fault::Status(503), Fault::Reset],
            ));
            (0..200)
                .map(|_| p.next(Operation::PushGet))
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        let hits = draw(7).iter().filter(|f| f.is_some()).count();
        assert!((30..90).contains(&hits), "{hits} of 200 at rate 0.3");
    }
}
