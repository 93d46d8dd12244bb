//! Primary/backup UID alternation for Cloud Transcoding re-creates.

use crate::name::UidPair;

/// Which UID of a [`UidPair`] the next Create uses.
///
/// UIDs in a channel must be unique, and a task that failed may linger with its UID for a
/// while, so each re-create switches to the other UID of the pair (the Cloud Transcoding service-status guide "alternate between
/// the primary and backup UIDs").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UidRotation {
    pair: UidPair,
    current: u32,
}

impl UidRotation {
    /// Starts on the primary UID.
    pub const fn new(pair: UidPair) -> Self {
        UidRotation {
            pair,
            current: pair.primary(),
        }
    }

    /// The UID in use.
    pub const fn current(&self) -> u32 {
        self.current
    }

    /// Switches to the other UID for a re-create and returns it.
    pub fn rotate(&mut self) -> u32 {
        self.current = self.pair.other(self.current);
        self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn alternates_and_never_reuses_the_uid_just_left(a in 1u32.., b in 1u32.., n in 0usize..20) {
            prop_assume!(a != b);
            let mut r = UidRotation::new(UidPair::new(a, b).unwrap());
            prop_assert_eq!(r.current(), a);
            for i in 0..n {
                let before = r.current();
                let after = r.rotate();
                prop_assert_ne!(before, after);
                prop_assert_eq!(after, if i % 2 == 0 { b } else { a });
            }
        }
    }
}
