//! What two accounts that hold each other's links can both derive, and nobody else can
//! (`spec/contacts.md#rendezvous`).

use crate::crypto::{AgreementPublicKey, AgreementSecretKey, SecretKey, kdf, label, mac};
use crate::stream::{Role, RootKey, StreamError, TransportKeys};
use crate::time::{Period, PeriodLength};
use crate::transport::{Beacon, TransportId};

/// The period every handshake stream is written in. Handshake stream keys do not rotate
/// (`spec/contacts.md#handshake-streams`): they come from static keys, so rotating them
/// would add no forward secrecy, and a fixed period lets handshake files be read any
/// number of days after they were written.
pub const HANDSHAKE_PERIOD: Period = Period(1);

/// Bytes of a rendezvous label.
pub const LABEL_LEN: usize = 16;

/// Why two link keys cannot meet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RendezvousError {
    /// The link is our own.
    #[error("this is your own link")]
    OwnLink,
    /// The link key is not usable (a low-order point).
    #[error("the link does not hold a usable key")]
    BadKey,
}

/// The rendezvous of our link key and a contact's.
#[derive(Debug)]
pub struct Rendezvous {
    role: Role,
    key: SecretKey,
}

impl Rendezvous {
    /// The rendezvous of our static link key and theirs. The side whose public link key
    /// sorts first (as bytes) is Alice.
    ///
    /// # Errors
    /// [`RendezvousError::OwnLink`] if `theirs` is our own key;
    /// [`RendezvousError::BadKey`] if the agreement is non-contributory.
    pub fn new(
        ours: &AgreementSecretKey,
        theirs: &AgreementPublicKey,
    ) -> Result<Self, RendezvousError> {
        let our_public = ours.public_key();
        if our_public == *theirs {
            return Err(RendezvousError::OwnLink);
        }
        let shared = ours.agree(theirs).map_err(|_| RendezvousError::BadKey)?;
        let (role, alice, bob) = if our_public.0 < theirs.0 {
            (Role::Alice, &our_public, theirs)
        } else {
            (Role::Bob, theirs, &our_public)
        };
        let key = kdf(
            label::CONTACT_RENDEZVOUS_KEY,
            shared.as_key(),
            &[&alice.0, &bob.0],
        );
        Ok(Rendezvous { role, key })
    }

    /// Our role, in the handshake and in the contact that results.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The stream keys of handshake streams on `transport`, fresh (counter and window
    /// at zero).
    ///
    /// # Errors
    /// Only on an impossible period ([`HANDSHAKE_PERIOD`] is valid).
    pub fn handshake_keys(
        &self,
        transport: TransportId,
        period_length: PeriodLength,
    ) -> Result<TransportKeys, StreamError> {
        let root = RootKey::new(kdf(
            label::CONTACT_HANDSHAKE_ROOT,
            &self.key,
            &[transport.as_str().as_bytes()],
        ));
        TransportKeys::derive(&root, self.role, transport, period_length, HANDSHAKE_PERIOD)
    }

    /// The Ed25519 seed of a side's rendezvous onion service: each side hosts the service
    /// of its own seed and dials the other's.
    pub fn tor_seed(&self, side: Role) -> SecretKey {
        kdf(
            label::CONTACT_TOR_SEED,
            &self.key,
            &[role_name(side).as_bytes()],
        )
    }

    /// The label both sides announce and look for on a broadcast transport during
    /// `period`.
    pub fn label(&self, transport: &TransportId, period: Period) -> [u8; LABEL_LEN] {
        let full = mac(
            label::CONTACT_RENDEZVOUS_LABEL,
            &self.key,
            &[transport.as_str().as_bytes(), &period.0.to_be_bytes()],
        );
        let mut out = [0u8; LABEL_LEN];
        out.copy_from_slice(&full.0[..LABEL_LEN]);
        out
    }

    /// [`Rendezvous::label`] as the beacon a broadcast transport announces or looks for.
    pub fn beacon(&self, transport: &TransportId, period: Period) -> Beacon {
        Beacon(self.label(transport, period))
    }

    /// The rendezvous key, for test vectors.
    #[doc(hidden)]
    pub fn expose_secret(&self) -> &SecretKey {
        &self.key
    }
}

/// The name of a role as key derivation inputs spell it.
pub(crate) fn role_name(role: Role) -> &'static str {
    match role {
        Role::Alice => "alice",
        Role::Bob => "bob",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    fn key(b: u8) -> AgreementSecretKey {
        AgreementSecretKey::from_bytes([b; 32])
    }

    #[test]
    fn both_sides_meet_and_strangers_do_not() {
        let (a, b, c) = (key(1), key(2), key(3));
        let ab = Rendezvous::new(&a, &b.public_key()).unwrap();
        let ba = Rendezvous::new(&b, &a.public_key()).unwrap();
        let ac = Rendezvous::new(&a, &c.public_key()).unwrap();
        assert_eq!(ab.expose_secret(), ba.expose_secret());
        assert_ne!(ab.expose_secret(), ac.expose_secret());
        assert_eq!(ab.role().peer(), ba.role());
        assert_eq!(ab.tor_seed(Role::Alice), ba.tor_seed(Role::Alice));
        assert_ne!(ab.tor_seed(Role::Alice), ab.tor_seed(Role::Bob));
        assert_eq!(
            ab.label(&TransportId::LAN, Period(9)),
            ba.label(&TransportId::LAN, Period(9))
        );
        assert_ne!(
            ab.label(&TransportId::LAN, Period(9)),
            ab.label(&TransportId::LAN, Period(10))
        );
        assert_ne!(
            ab.label(&TransportId::LAN, Period(9)),
            ab.label(&TransportId::BLE, Period(9))
        );

        let len = PeriodLength::for_max_latency(Duration::from_secs(30)).unwrap();
        let mut out = ab.handshake_keys(TransportId::FILE, len).unwrap();
        let mut inc = ba.handshake_keys(TransportId::FILE, len).unwrap();
        let mut stranger = ac.handshake_keys(TransportId::FILE, len).unwrap();
        let stream = out.outgoing_mut().next_stream().unwrap();
        assert!(stranger.incoming_mut().recognise(&stream.tag).is_none());
        assert!(inc.incoming_mut().recognise(&stream.tag).is_some());
    }

    #[test]
    fn own_link_is_refused() {
        let a = key(1);
        assert_eq!(
            Rendezvous::new(&a, &a.public_key()).unwrap_err(),
            RendezvousError::OwnLink
        );
        assert_eq!(
            Rendezvous::new(&a, &AgreementPublicKey([0; 32])).unwrap_err(),
            RendezvousError::BadKey
        );
    }
}
