//! Safety numbers (`spec/contacts.md#safety-numbers`): sixty digits both contacts see
//! alike, to compare in person or over a call they trust.

use alloc::string::String;
use core::fmt;

use crate::crypto::{AgreementPublicKey, VerifyingKey, hash, label};

/// Groups of five digits in a safety number.
pub(crate) const GROUPS: usize = 12;

/// The safety number of two accounts.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SafetyNumber([u32; GROUPS]);

impl SafetyNumber {
    /// The safety number of the accounts with these identity and link keys. The order of
    /// the two accounts does not matter.
    pub fn new(
        a: (&VerifyingKey, &AgreementPublicKey),
        b: (&VerifyingKey, &AgreementPublicKey),
    ) -> Self {
        let (a_id, b_id) = (a.0.to_bytes(), b.0.to_bytes());
        let ((first, first_link), (second, second_link)) = if a_id <= b_id {
            ((a_id, a.1), (b_id, b.1))
        } else {
            ((b_id, b.1), (a_id, a.1))
        };
        let digest = hash(
            label::CONTACT_SAFETY_NUMBER,
            &[&first, &first_link.0, &second, &second_link.0],
        );
        let mut groups = [0u32; GROUPS];
        for (group, chunk) in groups.iter_mut().zip(digest.0.chunks_exact(2)) {
            // 16 bits per group, shown as five digits: 00000–65535.
            *group = u32::from(u16::from_be_bytes([chunk[0], chunk[1]]));
        }
        SafetyNumber(groups)
    }

    /// The number as twelve groups of five digits, separated by spaces.
    pub fn to_digits(&self) -> String {
        alloc::format!("{self}")
    }
}

impl fmt::Display for SafetyNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, g) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{g:05}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for SafetyNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SafetyNumber({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{AgreementSecretKey, SigningKey};
    use alloc::vec::Vec;

    fn account(n: u8) -> (VerifyingKey, AgreementPublicKey) {
        (
            SigningKey::from_seed([n; 32]).verifying_key(),
            AgreementSecretKey::from_bytes([n; 32]).public_key(),
        )
    }

    #[test]
    fn symmetric_and_distinct() {
        let accounts: Vec<_> = (1..=5).map(account).collect();
        let mut seen = Vec::new();
        for (i, a) in accounts.iter().enumerate() {
            for b in &accounts[i + 1..] {
                let ab = SafetyNumber::new((&a.0, &a.1), (&b.0, &b.1));
                let ba = SafetyNumber::new((&b.0, &b.1), (&a.0, &a.1));
                assert_eq!(ab, ba);
                assert!(!seen.contains(&ab));
                seen.push(ab);
                let text = ab.to_digits();
                assert_eq!(text.len(), GROUPS * 6 - 1);
                assert!(text.bytes().all(|c| c == b' ' || c.is_ascii_digit()));
            }
        }
        // A different link key with the same identity changes the number.
        let (a, b, c) = (account(1), account(2), account(3));
        assert_ne!(
            SafetyNumber::new((&a.0, &a.1), (&b.0, &b.1)),
            SafetyNumber::new((&a.0, &a.1), (&b.0, &c.1))
        );
    }
}
