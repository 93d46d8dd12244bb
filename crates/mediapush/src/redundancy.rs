//! The guide's redundancy strategies ("Multiple Media Push tasks"), as sets of converters to
//! declare to the controller, one spec each.

use agora_rest_core::name::ConverterName;
use agora_rest_model::mediapush::Converter;

use crate::Error;

/// Extra converters for critical streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redundancy {
    /// Backups pushing to other CDN addresses at the same time (named `{name}_backup{n}`), so
    /// viewers can switch when the main one fails.
    Backups(Vec<String>),
    /// Copies in isolated machine rooms, named `{name}-agora-isolate-1..n` (at most 3).
    Isolated(u8),
}

impl Redundancy {
    /// The main converter followed by its redundant copies, each validated.
    pub fn converters(&self, main: &Converter) -> Result<Vec<Converter>, Error> {
        let name = ConverterName::new(main.name.clone().unwrap_or_default())?;
        let mut out = vec![main.clone()];
        match self {
            Redundancy::Backups(urls) => {
                for (i, url) in urls.iter().enumerate() {
                    let mut c = main.clone();
                    c.name =
                        Some(ConverterName::new(format!("{name}_backup{}", i + 1))?.to_string());
                    c.rtmp_url = Some(url.clone());
                    out.push(c);
                }
            }
            Redundancy::Isolated(n) => {
                for k in 1..=*n {
                    let mut c = main.clone();
                    c.name = Some(name.isolated(k)?.to_string());
                    out.push(c);
                }
            }
        }
        for c in &out {
            c.validate_create()?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use agora_rest_model::mediapush::ConverterBuilder;

    fn main_converter() -> Converter {
        ConverterBuilder::raw("show68", 7, "rtmp://a.example.com/live/x")
            .name("show68_main")
            .build()
            .unwrap()
    }

    #[test]
    fn backups_and_isolated_copies() {
        let set = Redundancy::Backups(vec!["rtmp://b.example.com/live/x".into()])
            .converters(&main_converter())
            .unwrap();
        assert_eq!(set.len(), 2);
        assert_eq!(set[1].name.as_deref(), Some("show68_main_backup1"));
        assert_eq!(
            set[1].rtmp_url.as_deref(),
            Some("rtmp://b.example.com/live/x")
        );
        let set = Redundancy::Isolated(3)
            .converters(&main_converter())
            .unwrap();
        let names: Vec<_> = set.iter().map(|c| c.name.clone().unwrap()).collect();
        assert_eq!(names[3], "show68_main-agora-isolate-3");
        assert!(
            Redundancy::Isolated(4)
                .converters(&main_converter())
                .is_err()
        );
    }
}
