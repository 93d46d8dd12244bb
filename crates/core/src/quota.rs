//! Concurrent-stream caps per area and resolution tier, and a ledger that checks them.
//!
//! Exists because both services refuse a stream beyond their Peak Concurrent Worker caps with a
//! 429 that a naive client then retries for nothing (docs/vendor-rules.md). A [`QuotaLedger`]
//! answers "may one more stream of tier T start in area A?" *before* a request is sent, and
//! names the cap that would break. The emulator uses the same ledger to decide its 429s.
//!
//! **The mixed-tier rule.** Each tier stays under its own cap, **and** the total of an area stays
//! under the *largest* cap among the tiers present. The guide's prose says "the limit set for the
//! higher resolution", but both of its worked examples contradict that reading (America: SD+HD
//! total ≤ 20, which is the SD cap; HD+FHD total ≤ 5, the HD cap), and so does the Cloud
//! Transcoding example (Asia: 10 SD + 10 HD ≤ 20). The examples are what we implement.

use std::fmt;

use crate::error::Error;
use crate::region::Area;

/// The largest SD resolution, long side × short side (docs/vendor-rules.md).
pub const SD_MAX: (u32, u32) = (640, 360);
/// The largest HD resolution (docs/vendor-rules.md).
pub const HD_MAX: (u32, u32) = (1280, 720);
/// The largest FHD resolution and the largest the services accept at all (docs/vendor-rules.md).
pub const FHD_MAX: (u32, u32) = (1920, 1080);
/// The highest frame rate the services accept (docs/vendor-rules.md).
pub const MAX_FPS: u32 = 30;
/// The integration checklist's cap on concurrent Media Push tasks per project (docs/vendor-rules.md).
///
/// "Below 300" in the checklist; we read it as at most 300, like the tier caps ("cannot exceed").
pub const MEDIA_PUSH_PROJECT_CAP: u32 = 300;

/// A resolution tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    /// Standard definition, up to 640×360.
    Sd,
    /// High definition, up to 1280×720.
    Hd,
    /// Full HD, up to 1920×1080.
    Fhd,
}

impl Tier {
    /// The three tiers, lowest first.
    pub const ALL: [Tier; 3] = [Tier::Sd, Tier::Hd, Tier::Fhd];

    /// The tier of a `width`×`height` picture, in either orientation.
    ///
    /// The long side is compared with the long side of each tier's limit and the short side with
    /// the short side, so 360×640 portrait is SD like 640×360. Anything larger than 1920×1080 is
    /// refused: the services accept nothing bigger.
    pub fn for_resolution(width: u32, height: u32) -> Result<Tier, Error> {
        let (long, short) = (width.max(height), width.min(height));
        let fits = |(l, s): (u32, u32)| long <= l && short <= s;
        if fits(SD_MAX) {
            Ok(Tier::Sd)
        } else if fits(HD_MAX) {
            Ok(Tier::Hd)
        } else if fits(FHD_MAX) {
            Ok(Tier::Fhd)
        } else {
            Err(Error::invalid(
                "resolution",
                format!("{width}x{height}"),
                "the largest supported picture is 1920x1080 (either orientation)",
            ))
        }
    }

    /// The tier of a video stream, refusing more than [`MAX_FPS`] frames per second.
    pub fn for_video(width: u32, height: u32, fps: u32) -> Result<Tier, Error> {
        if fps > MAX_FPS {
            return Err(Error::OutOfRange {
                field: "frameRate".into(),
                min: 1,
                max: MAX_FPS.into(),
                actual: fps.into(),
            });
        }
        Tier::for_resolution(width, height)
    }

    /// `SD`, `HD` or `FHD`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Tier::Sd => "SD",
            Tier::Hd => "HD",
            Tier::Fhd => "FHD",
        }
    }

    const fn index(self) -> usize {
        match self {
            Tier::Sd => 0,
            Tier::Hd => 1,
            Tier::Fhd => 2,
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which cap a refused stream would break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuotaRule {
    /// The tier is not offered in the area without a raise from support ("contact support").
    NotOffered,
    /// The cap of the stream's own tier.
    TierCap,
    /// The mixed-tier total: the largest cap among the tiers present.
    MixedTotal,
    /// The per-project cap on all concurrent tasks.
    ProjectTotal,
}

impl fmt::Display for QuotaRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QuotaRule::NotOffered => "default allowance (contact Agora support to raise it)",
            QuotaRule::TierCap => "per-tier cap",
            QuotaRule::MixedTotal => "mixed-resolution total cap",
            QuotaRule::ProjectTotal => "per-project cap",
        })
    }
}

/// The caps of one area: `None` means "contact support", i.e. none by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierCaps {
    /// SD cap.
    pub sd: Option<u32>,
    /// HD cap.
    pub hd: Option<u32>,
    /// FHD cap.
    pub fhd: Option<u32>,
}

impl TierCaps {
    /// Caps for SD, HD and FHD.
    pub const fn new(sd: Option<u32>, hd: Option<u32>, fhd: Option<u32>) -> Self {
        TierCaps { sd, hd, fhd }
    }

    /// The cap of one tier.
    pub const fn get(&self, tier: Tier) -> Option<u32> {
        match tier {
            Tier::Sd => self.sd,
            Tier::Hd => self.hd,
            Tier::Fhd => self.fhd,
        }
    }
}

/// Media Push caps by area in [`Area::ALL`] order (docs/vendor-rules.md): mainland China 300/50/20;
/// Europe, America and Asia 20/5 and FHD by request to support. The seeds' copy flattened the
/// table to China's column only.
pub const MEDIA_PUSH_CAPS: [TierCaps; 4] = [
    TierCaps::new(Some(20), Some(5), None),
    TierCaps::new(Some(20), Some(5), None),
    TierCaps::new(Some(20), Some(5), None),
    TierCaps::new(Some(300), Some(50), Some(20)),
];

/// Cloud Transcoding caps by area in [`Area::ALL`] order (docs/vendor-rules.md): Americas and Europe
/// 10/5/2, Asia 20/10/3, mainland China 20/10/5. Tiers are the output resolutions.
pub const CLOUD_TRANSCODING_CAPS: [TierCaps; 4] = [
    TierCaps::new(Some(10), Some(5), Some(2)),
    TierCaps::new(Some(10), Some(5), Some(2)),
    TierCaps::new(Some(20), Some(10), Some(3)),
    TierCaps::new(Some(20), Some(10), Some(5)),
];

/// The caps a ledger enforces: per area and tier, plus an optional per-project total.
///
/// Every cap is overridable, because accounts get raised limits from support.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaTable {
    caps: [TierCaps; 4],
    project_total: Option<u32>,
}

impl QuotaTable {
    /// Media Push defaults: [`MEDIA_PUSH_CAPS`] and [`MEDIA_PUSH_PROJECT_CAP`].
    pub const fn media_push() -> Self {
        QuotaTable {
            caps: MEDIA_PUSH_CAPS,
            project_total: Some(MEDIA_PUSH_PROJECT_CAP),
        }
    }

    /// Cloud Transcoding defaults: [`CLOUD_TRANSCODING_CAPS`], no project total.
    pub const fn cloud_transcoding() -> Self {
        QuotaTable {
            caps: CLOUD_TRANSCODING_CAPS,
            project_total: None,
        }
    }

    /// Replaces the caps of one area.
    pub const fn with_caps(mut self, area: Area, caps: TierCaps) -> Self {
        self.caps[area.index()] = caps;
        self
    }

    /// Replaces the per-project total (`None`: no total).
    pub const fn with_project_total(mut self, total: Option<u32>) -> Self {
        self.project_total = total;
        self
    }

    /// The caps of one area.
    pub const fn caps(&self, area: Area) -> TierCaps {
        self.caps[area.index()]
    }

    /// The per-project total, if any.
    pub const fn project_total(&self) -> Option<u32> {
        self.project_total
    }

    /// Whether these per-tier counts of one area, with `project` streams in the whole project,
    /// are allowed; the first broken rule otherwise, with its limit and current count.
    fn first_broken(
        &self,
        area: Area,
        counts: [u32; 3],
        project: u32,
    ) -> Option<(Tier, QuotaRule, u32, u32)> {
        let caps = self.caps(area);
        for tier in Tier::ALL {
            let n = counts[tier.index()];
            match caps.get(tier) {
                None if n > 0 => return Some((tier, QuotaRule::NotOffered, 0, n - 1)),
                Some(cap) if n > cap => return Some((tier, QuotaRule::TierCap, cap, n - 1)),
                _ => {}
            }
        }
        let total: u32 = counts.iter().sum();
        let largest = Tier::ALL
            .into_iter()
            .filter(|t| counts[t.index()] > 0)
            .filter_map(|t| caps.get(t))
            .max()
            .unwrap_or(0);
        if total > largest {
            return Some((Tier::Sd, QuotaRule::MixedTotal, largest, total - 1));
        }
        match self.project_total {
            Some(cap) if project > cap => {
                Some((Tier::Sd, QuotaRule::ProjectTotal, cap, project - 1))
            }
            _ => None,
        }
    }
}

/// Counts running streams per area and tier and refuses one that would break a cap.
///
/// Admission looks at the whole set that would result. Releasing a stream can leave a set that
/// the mixed rule would not admit (the last SD stream of SD+HD+FHD leaving lowers the total cap);
/// the streams keep running, and further admissions wait until the set fits again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaLedger {
    table: QuotaTable,
    counts: [[u32; 3]; 4],
}

impl QuotaLedger {
    /// An empty ledger enforcing `table`.
    pub fn new(table: QuotaTable) -> Self {
        QuotaLedger {
            table,
            counts: [[0; 3]; 4],
        }
    }

    /// The table this ledger enforces.
    pub fn table(&self) -> &QuotaTable {
        &self.table
    }

    /// Streams of `tier` counted in `area`.
    pub fn count(&self, area: Area, tier: Tier) -> u32 {
        self.counts[area.index()][tier.index()]
    }

    /// Streams counted in `area`, all tiers.
    pub fn area_total(&self, area: Area) -> u32 {
        self.counts[area.index()].iter().sum()
    }

    /// Streams counted in the whole project.
    pub fn project_total(&self) -> u32 {
        self.counts.iter().flatten().sum()
    }

    /// Whether one more stream of `tier` may start in `area`; the broken cap otherwise.
    pub fn check(&self, area: Area, tier: Tier) -> Result<(), Error> {
        let mut counts = self.counts[area.index()];
        counts[tier.index()] += 1;
        match self
            .table
            .first_broken(area, counts, self.project_total() + 1)
        {
            None => Ok(()),
            Some((broken_tier, rule, limit, current)) => Err(Error::QuotaExceeded {
                area,
                tier: if rule == QuotaRule::NotOffered || rule == QuotaRule::TierCap {
                    broken_tier
                } else {
                    tier
                },
                rule,
                limit,
                current,
            }),
        }
    }

    /// Counts one more stream of `tier` in `area` if [`check`](Self::check) allows it.
    pub fn admit(&mut self, area: Area, tier: Tier) -> Result<(), Error> {
        self.check(area, tier)?;
        self.counts[area.index()][tier.index()] += 1;
        Ok(())
    }

    /// Counts a stream that runs whatever the caps say (e.g. found by List at start-up).
    pub fn record_existing(&mut self, area: Area, tier: Tier) {
        let c = &mut self.counts[area.index()][tier.index()];
        *c = c.saturating_add(1);
    }

    /// Forgets one stream of `tier` in `area` (stopped or deleted). Never goes below zero.
    pub fn release(&mut self, area: Area, tier: Tier) {
        let c = &mut self.counts[area.index()][tier.index()];
        *c = c.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fill(ledger: &mut QuotaLedger, area: Area, tier: Tier, n: u32) {
        for _ in 0..n {
            ledger.admit(area, tier).unwrap();
        }
    }

    #[test]
    fn tiers_by_resolution() {
        assert_eq!(Tier::for_resolution(640, 360).unwrap(), Tier::Sd);
        assert_eq!(Tier::for_resolution(360, 640).unwrap(), Tier::Sd);
        assert_eq!(Tier::for_resolution(641, 360).unwrap(), Tier::Hd);
        assert_eq!(Tier::for_resolution(1280, 720).unwrap(), Tier::Hd);
        assert_eq!(Tier::for_resolution(1280, 721).unwrap(), Tier::Fhd);
        assert_eq!(Tier::for_resolution(1080, 1920).unwrap(), Tier::Fhd);
        assert_eq!(Tier::for_resolution(16, 16).unwrap(), Tier::Sd);
        let e = Tier::for_resolution(1921, 1080).unwrap_err();
        assert_eq!(e.field(), Some("resolution"));
        assert!(Tier::for_resolution(1920, 1081).is_err());
        assert!(Tier::for_video(1920, 1080, 30).is_ok());
        assert_eq!(
            Tier::for_video(640, 360, 31).unwrap_err().field(),
            Some("frameRate")
        );
    }

    #[test]
    fn worked_examples_from_the_guides() {
        // America: SD + HD together stay under 20 in total (the SD cap), HD under 5.
        let mut l = QuotaLedger::new(QuotaTable::media_push());
        fill(&mut l, Area::Us, Tier::Hd, 5);
        assert!(matches!(
            l.check(Area::Us, Tier::Hd),
            Err(Error::QuotaExceeded {
                rule: QuotaRule::TierCap,
                limit: 5,
                current: 5,
                ..
            })
        ));
        fill(&mut l, Area::Us, Tier::Sd, 15);
        assert!(matches!(
            l.check(Area::Us, Tier::Sd),
            Err(Error::QuotaExceeded {
                rule: QuotaRule::MixedTotal,
                limit: 20,
                current: 20,
                ..
            })
        ));
        // FHD outside China needs support.
        assert!(matches!(
            l.check(Area::Eu, Tier::Fhd),
            Err(Error::QuotaExceeded {
                rule: QuotaRule::NotOffered,
                ..
            })
        ));
        // HD + FHD with a raised FHD cap of 2: total stays under 5, the largest present cap.
        let table =
            QuotaTable::media_push().with_caps(Area::Us, TierCaps::new(Some(20), Some(5), Some(2)));
        let mut l = QuotaLedger::new(table);
        fill(&mut l, Area::Us, Tier::Fhd, 2);
        fill(&mut l, Area::Us, Tier::Hd, 3);
        assert!(l.check(Area::Us, Tier::Hd).is_err());
        // Cloud Transcoding Asia: 10 SD + 10 HD fits under 20.
        let mut l = QuotaLedger::new(QuotaTable::cloud_transcoding());
        fill(&mut l, Area::Ap, Tier::Sd, 10);
        fill(&mut l, Area::Ap, Tier::Hd, 9);
        assert!(l.check(Area::Ap, Tier::Hd).is_ok());
        fill(&mut l, Area::Ap, Tier::Hd, 1);
        assert!(matches!(
            l.check(Area::Ap, Tier::Sd),
            Err(Error::QuotaExceeded {
                rule: QuotaRule::MixedTotal,
                limit: 20,
                current: 20,
                ..
            })
        ));
        // The error names the cap.
        let e = l.check(Area::Ap, Tier::Hd).unwrap_err().to_string();
        assert_eq!(
            e,
            "one more HD stream in AP would break the per-tier cap of 10 (now 10)"
        );
    }

    #[test]
    fn project_cap_of_300() {
        let mut l = QuotaLedger::new(QuotaTable::media_push());
        fill(&mut l, Area::Cn, Tier::Sd, 290);
        fill(&mut l, Area::Us, Tier::Sd, 10);
        assert!(matches!(
            l.check(Area::Eu, Tier::Sd),
            Err(Error::QuotaExceeded {
                rule: QuotaRule::ProjectTotal,
                limit: 300,
                ..
            })
        ));
        l.release(Area::Us, Tier::Sd);
        assert!(l.check(Area::Eu, Tier::Sd).is_ok());
    }

    /// Brute-force oracle: does the table allow this state in `area` and in the project?
    fn allowed(table: &QuotaTable, counts: &[[u32; 3]; 4], area: Area) -> bool {
        let project: u32 = counts.iter().flatten().sum();
        if table.project_total().is_some_and(|cap| project > cap) {
            return false;
        }
        {
            let c = counts[area.index()];
            let caps = table.caps(area);
            let per_tier = Tier::ALL
                .into_iter()
                .all(|t| c[t.index()] <= caps.get(t).unwrap_or(0));
            let present_caps: Vec<u32> = Tier::ALL
                .into_iter()
                .filter(|t| c[t.index()] > 0)
                .map(|t| caps.get(t).unwrap_or(0))
                .collect();
            let total: u32 = c.iter().sum();
            per_tier && total <= present_caps.into_iter().max().unwrap_or(0)
        }
    }

    fn arb_caps() -> impl Strategy<Value = TierCaps> {
        (
            proptest::option::of(0u32..6),
            proptest::option::of(0u32..6),
            proptest::option::of(0u32..6),
        )
            .prop_map(|(a, b, c)| TierCaps::new(a, b, c))
    }

    proptest! {
        #[test]
        fn ledger_agrees_with_brute_force_oracle(
            caps in proptest::collection::vec(arb_caps(), 4),
            project in proptest::option::of(0u32..12),
            ops in proptest::collection::vec((0usize..4, 0usize..3, any::<bool>()), 0..60),
        ) {
            let mut table = QuotaTable::media_push().with_project_total(project);
            for (area, c) in Area::ALL.into_iter().zip(caps) {
                table = table.with_caps(area, c);
            }
            let mut ledger = QuotaLedger::new(table.clone());
            let mut counts = [[0u32; 3]; 4];
            for (a, t, add) in ops {
                let (area, tier) = (Area::ALL[a], Tier::ALL[t]);
                if add {
                    let mut next = counts;
                    next[area.index()][tier.index()] += 1;
                    let oracle = allowed(&table, &next, area);
                    let got = ledger.admit(area, tier);
                    prop_assert_eq!(got.is_ok(), oracle, "{:?} {:?} {:?}", area, tier, got);
                    if oracle { counts = next; }
                } else {
                    ledger.release(area, tier);
                    let c = &mut counts[area.index()][tier.index()];
                    *c = c.saturating_sub(1);
                }
                // (A release may leave a set over the mixed cap — e.g. the last SD stream of
                // SD+HD+FHD leaves — so "every state allowed" is not an invariant; admission is.)
                for area in Area::ALL {
                    for tier in Tier::ALL {
                        prop_assert_eq!(ledger.count(area, tier), counts[area.index()][tier.index()]);
                    }
                }
            }
        }

        #[test]
        fn tier_matches_oracle(w in 1u32..2500, h in 1u32..2500) {
            let (long, short) = (w.max(h), w.min(h));
            let oracle = if long <= 640 && short <= 360 { Some(Tier::Sd) }
                else if long <= 1280 && short <= 720 { Some(Tier::Hd) }
                else if long <= 1920 && short <= 1080 { Some(Tier::Fhd) }
                else { None };
            prop_assert_eq!(Tier::for_resolution(w, h).ok(), oracle);
            prop_assert_eq!(Tier::for_resolution(h, w).ok(), oracle);
        }
    }
}
