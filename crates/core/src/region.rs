//! Where requests go: Media Push path regions, service areas and the API host names.
//!
//! Exists because the two services mix three notions of "region" (docs/vendor-rules.md):
//! the Media Push path segment (`/na/`, `/eu/`, …), the area that picks the primary domain and the
//! column of the quota tables, and the eight region host prefixes used for failover. Keeping them
//! as distinct types stops one from being passed where another is meant.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// The primary host outside mainland China (docs/vendor-rules.md).
pub const PRIMARY_HOST_GLOBAL: &str = "api.agora.io";
/// The primary host inside mainland China (docs/vendor-rules.md).
pub const PRIMARY_HOST_CHINA: &str = "api.sd-rtn.com";

/// The Media Push `{region}` path segment (docs/vendor-rules.md).
///
/// It must be lowercase and should be the region of the CDN origin; Update, Get and Delete must
/// use the region a converter was created in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathRegion {
    /// `na`: North America.
    Na,
    /// `eu`: Europe.
    Eu,
    /// `ap`: Asia excluding mainland China.
    Ap,
    /// `cn`: mainland China.
    Cn,
}

impl PathRegion {
    /// Every path region, in documentation order.
    pub const ALL: [PathRegion; 4] = [
        PathRegion::Na,
        PathRegion::Eu,
        PathRegion::Ap,
        PathRegion::Cn,
    ];

    /// The wire form: `na`, `eu`, `ap` or `cn`.
    pub const fn as_str(self) -> &'static str {
        match self {
            PathRegion::Na => "na",
            PathRegion::Eu => "eu",
            PathRegion::Ap => "ap",
            PathRegion::Cn => "cn",
        }
    }

    /// The area whose quota column and primary domain apply to this region *(derived: the docs
    /// are SILENT on how the path region maps to the quota table, docs/vendor-rules.md)*.
    pub const fn area(self) -> Area {
        match self {
            PathRegion::Na => Area::Us,
            PathRegion::Eu => Area::Eu,
            PathRegion::Ap => Area::Ap,
            PathRegion::Cn => Area::Cn,
        }
    }
}

impl fmt::Display for PathRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PathRegion {
    type Err = Error;

    /// Parses the lowercase wire form only; `NA` or `Eu` are refused as the service refuses them.
    fn from_str(s: &str) -> Result<Self, Error> {
        PathRegion::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| Error::invalid("region", s, "must be one of na, eu, ap, cn (lowercase)"))
    }
}

/// A service area: picks the primary domain, the failover region prefixes and the quota column.
///
/// The community clients call this the "domain area" (docs/vendor-rules.md); the quota tables call the
/// columns America, Europe, Asia (excluding mainland China) and mainland China.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Area {
    /// The Americas (`US`).
    Us,
    /// Europe (`EU`).
    Eu,
    /// Asia Pacific excluding mainland China (`AP`).
    Ap,
    /// Mainland China (`CN`).
    Cn,
}

impl Area {
    /// Every area.
    pub const ALL: [Area; 4] = [Area::Us, Area::Eu, Area::Ap, Area::Cn];

    /// The short name: `US`, `EU`, `AP`, `CN`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Area::Us => "US",
            Area::Eu => "EU",
            Area::Ap => "AP",
            Area::Cn => "CN",
        }
    }

    /// Index into per-area tables (0..4).
    pub(crate) const fn index(self) -> usize {
        match self {
            Area::Us => 0,
            Area::Eu => 1,
            Area::Ap => 2,
            Area::Cn => 3,
        }
    }

    /// The suffix of the primary domain: `sd-rtn.com` in mainland China, `agora.io` elsewhere
    /// (docs/vendor-rules.md).
    pub const fn primary_suffix(self) -> Suffix {
        match self {
            Area::Cn => Suffix::SdRtn,
            _ => Suffix::AgoraIo,
        }
    }

    /// The two region prefixes of this area, the first being the default "resolved" region
    /// (docs/vendor-rules.md).
    pub const fn prefixes(self) -> [RegionPrefix; 2] {
        match self {
            Area::Us => [RegionPrefix::UsWest1, RegionPrefix::UsEast1],
            Area::Eu => [RegionPrefix::EuWest1, RegionPrefix::EuCentral1],
            Area::Ap => [RegionPrefix::ApSoutheast1, RegionPrefix::ApNortheast1],
            Area::Cn => [RegionPrefix::CnEast1, RegionPrefix::CnNorth1],
        }
    }
}

impl fmt::Display for Area {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Area {
    type Err = Error;

    /// Accepts `US`, `EU`, `AP`, `CN` in any case (this is our configuration, not a wire value).
    fn from_str(s: &str) -> Result<Self, Error> {
        Area::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| Error::invalid("area", s, "must be one of US, EU, AP, CN"))
    }
}

/// The domain suffix of an API host (docs/vendor-rules.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Suffix {
    /// `agora.io`.
    AgoraIo,
    /// `sd-rtn.com`.
    SdRtn,
}

impl Suffix {
    /// Both suffixes.
    pub const ALL: [Suffix; 2] = [Suffix::AgoraIo, Suffix::SdRtn];

    /// The DNS form.
    pub const fn as_str(self) -> &'static str {
        match self {
            Suffix::AgoraIo => "agora.io",
            Suffix::SdRtn => "sd-rtn.com",
        }
    }

    /// The other suffix: the "alternate domain" of the domain-switch guide (docs/vendor-rules.md).
    pub const fn alternate(self) -> Suffix {
        match self {
            Suffix::AgoraIo => Suffix::SdRtn,
            Suffix::SdRtn => Suffix::AgoraIo,
        }
    }
}

/// One of the eight region host prefixes (docs/vendor-rules.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RegionPrefix {
    /// `us-west-1`.
    UsWest1,
    /// `us-east-1`.
    UsEast1,
    /// `ap-southeast-1`.
    ApSoutheast1,
    /// `ap-northeast-1`.
    ApNortheast1,
    /// `eu-west-1`.
    EuWest1,
    /// `eu-central-1`.
    EuCentral1,
    /// `cn-east-1`.
    CnEast1,
    /// `cn-north-1`.
    CnNorth1,
}

impl RegionPrefix {
    /// All eight prefixes, in the order of the vendor's domain table.
    pub const ALL: [RegionPrefix; 8] = [
        RegionPrefix::UsWest1,
        RegionPrefix::UsEast1,
        RegionPrefix::ApSoutheast1,
        RegionPrefix::ApNortheast1,
        RegionPrefix::EuWest1,
        RegionPrefix::EuCentral1,
        RegionPrefix::CnEast1,
        RegionPrefix::CnNorth1,
    ];

    /// The prefix as it appears in a host name after `api-`.
    pub const fn as_str(self) -> &'static str {
        match self {
            RegionPrefix::UsWest1 => "us-west-1",
            RegionPrefix::UsEast1 => "us-east-1",
            RegionPrefix::ApSoutheast1 => "ap-southeast-1",
            RegionPrefix::ApNortheast1 => "ap-northeast-1",
            RegionPrefix::EuWest1 => "eu-west-1",
            RegionPrefix::EuCentral1 => "eu-central-1",
            RegionPrefix::CnEast1 => "cn-east-1",
            RegionPrefix::CnNorth1 => "cn-north-1",
        }
    }

    /// The area this prefix belongs to.
    pub const fn area(self) -> Area {
        match self {
            RegionPrefix::UsWest1 | RegionPrefix::UsEast1 => Area::Us,
            RegionPrefix::ApSoutheast1 | RegionPrefix::ApNortheast1 => Area::Ap,
            RegionPrefix::EuWest1 | RegionPrefix::EuCentral1 => Area::Eu,
            RegionPrefix::CnEast1 | RegionPrefix::CnNorth1 => Area::Cn,
        }
    }
}

impl fmt::Display for RegionPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RegionPrefix {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        RegionPrefix::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                Error::invalid(
                    "region prefix",
                    s,
                    "must be one of us-west-1, us-east-1, ap-southeast-1, ap-northeast-1, eu-west-1, eu-central-1, cn-east-1, cn-north-1",
                )
            })
    }
}

/// An API host: a primary domain or a region domain, each with either suffix.
///
/// Exists so that failover plans and resolvers work on a closed set of 18 hosts rather than on
/// free strings; [`Host::name`] gives the DNS name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Host {
    /// `api.{suffix}`.
    Primary(Suffix),
    /// `api-{prefix}.{suffix}`.
    Region(RegionPrefix, Suffix),
}

impl Host {
    /// The primary host of an area (docs/vendor-rules.md).
    pub const fn primary_for(area: Area) -> Host {
        Host::Primary(area.primary_suffix())
    }

    /// Every host: the 2 primaries and the 16 region hosts.
    pub fn all() -> impl Iterator<Item = Host> {
        Suffix::ALL.into_iter().map(Host::Primary).chain(
            RegionPrefix::ALL
                .into_iter()
                .flat_map(|p| Suffix::ALL.into_iter().map(move |s| Host::Region(p, s))),
        )
    }

    /// The suffix of this host.
    pub const fn suffix(self) -> Suffix {
        match self {
            Host::Primary(s) | Host::Region(_, s) => s,
        }
    }

    /// The same host with the other suffix.
    pub const fn with_alternate_suffix(self) -> Host {
        match self {
            Host::Primary(s) => Host::Primary(s.alternate()),
            Host::Region(p, s) => Host::Region(p, s.alternate()),
        }
    }

    /// The DNS name, e.g. `api.agora.io` or `api-eu-west-1.sd-rtn.com`, as a static string:
    /// a client can address the host on every request without formatting or allocating.
    pub const fn as_str(self) -> &'static str {
        match self {
            Host::Primary(Suffix::AgoraIo) => "api.agora.io",
            Host::Primary(Suffix::SdRtn) => "api.sd-rtn.com",
            Host::Region(RegionPrefix::UsWest1, Suffix::AgoraIo) => "api-us-west-1.agora.io",
            Host::Region(RegionPrefix::UsWest1, Suffix::SdRtn) => "api-us-west-1.sd-rtn.com",
            Host::Region(RegionPrefix::UsEast1, Suffix::AgoraIo) => "api-us-east-1.agora.io",
            Host::Region(RegionPrefix::UsEast1, Suffix::SdRtn) => "api-us-east-1.sd-rtn.com",
            Host::Region(RegionPrefix::ApSoutheast1, Suffix::AgoraIo) => {
                "api-ap-southeast-1.agora.io"
            }
            Host::Region(RegionPrefix::ApSoutheast1, Suffix::SdRtn) => {
                "api-ap-southeast-1.sd-rtn.com"
            }
            Host::Region(RegionPrefix::ApNortheast1, Suffix::AgoraIo) => {
                "api-ap-northeast-1.agora.io"
            }
            Host::Region(RegionPrefix::ApNortheast1, Suffix::SdRtn) => {
                "api-ap-northeast-1.sd-rtn.com"
            }
            Host::Region(RegionPrefix::EuWest1, Suffix::AgoraIo) => "api-eu-west-1.agora.io",
            Host::Region(RegionPrefix::EuWest1, Suffix::SdRtn) => "api-eu-west-1.sd-rtn.com",
            Host::Region(RegionPrefix::EuCentral1, Suffix::AgoraIo) => "api-eu-central-1.agora.io",
            Host::Region(RegionPrefix::EuCentral1, Suffix::SdRtn) => "api-eu-central-1.sd-rtn.com",
            Host::Region(RegionPrefix::CnEast1, Suffix::AgoraIo) => "api-cn-east-1.agora.io",
            Host::Region(RegionPrefix::CnEast1, Suffix::SdRtn) => "api-cn-east-1.sd-rtn.com",
            Host::Region(RegionPrefix::CnNorth1, Suffix::AgoraIo) => "api-cn-north-1.agora.io",
            Host::Region(RegionPrefix::CnNorth1, Suffix::SdRtn) => "api-cn-north-1.sd-rtn.com",
        }
    }

    /// The DNS name as an owned string.
    pub fn name(self) -> String {
        self.as_str().to_string()
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Host {
    type Err = Error;

    /// Parses one of the 18 known host names (ASCII case-insensitive, as DNS is).
    fn from_str(s: &str) -> Result<Self, Error> {
        Host::all()
            .find(|h| h.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| Error::invalid("host", s, "is not an Agora REST API host"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hosts_are_the_eighteen_documented_names() {
        let names: Vec<String> = Host::all().map(Host::name).collect();
        assert_eq!(names.len(), 18);
        assert_eq!(names[0], PRIMARY_HOST_GLOBAL);
        assert_eq!(names[1], PRIMARY_HOST_CHINA);
        assert!(names.contains(&"api-eu-central-1.sd-rtn.com".to_string()));
        assert!(names.contains(&"api-cn-north-1.agora.io".to_string()));
        assert_eq!(Host::primary_for(Area::Cn).name(), PRIMARY_HOST_CHINA);
        assert_eq!(Host::primary_for(Area::Eu).name(), PRIMARY_HOST_GLOBAL);
    }

    #[test]
    fn path_region_is_lowercase_only_and_error_names_value() {
        assert_eq!("eu".parse::<PathRegion>().unwrap(), PathRegion::Eu);
        let err = "EU".parse::<PathRegion>().unwrap_err();
        assert_eq!(err.field(), Some("region"));
        assert!(err.to_string().contains("\"EU\""), "{err}");
        assert!("us".parse::<PathRegion>().is_err());
    }

    #[test]
    fn prefixes_belong_to_their_area() {
        for area in Area::ALL {
            for p in area.prefixes() {
                assert_eq!(p.area(), area);
            }
        }
    }

    proptest! {
        #[test]
        fn path_region_parse_matches_oracle(s in "[a-zA-Z]{0,3}") {
            let oracle = ["na", "eu", "ap", "cn"].contains(&s.as_str());
            let parsed = s.parse::<PathRegion>();
            prop_assert_eq!(parsed.is_ok(), oracle);
            if let Ok(r) = parsed { prop_assert_eq!(r.as_str(), s.as_str()); }
        }

        #[test]
        fn host_names_round_trip(i in 0usize..18, upper in any::<bool>()) {
            let h = Host::all().nth(i).unwrap();
            // Oracle: the name composed from its parts (docs/vendor-rules.md-1.2).
            let composed = match h {
                Host::Primary(s) => format!("api.{}", s.as_str()),
                Host::Region(p, s) => format!("api-{}.{}", p.as_str(), s.as_str()),
            };
            prop_assert_eq!(h.as_str(), composed.as_str());
            let name = if upper { h.name().to_ascii_uppercase() } else { h.name() };
            prop_assert_eq!(name.parse::<Host>().unwrap(), h);
            prop_assert_eq!(h.with_alternate_suffix().with_alternate_suffix(), h);
            prop_assert_ne!(h.with_alternate_suffix(), h);
        }
    }
}
