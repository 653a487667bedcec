//! Identifiers of groups and messages (`spec/sync.md`, to come with the sync layer).

use core::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub [u8; 32]);

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "("))?;
                for b in &self.0[..4] {
                    write!(f, "{b:02x}")?;
                }
                write!(f, "…)")
            }
        }
    };
}

id_type!(
    /// A group: one client's shared space, such as the private conversation of two
    /// contacts. Derived from the group's descriptor.
    GroupId
);

id_type!(
    /// A message, derived from its group, timestamp and body; receivers recompute it.
    MessageId
);
