//! The local identity.

use std::fmt;

use bramble_proto::crypto::{AgreementSecretKey, SigningKey};
use bramble_proto::time::Timestamp;
use rusqlite::{Connection, params};
use zeroize::Zeroizing;

use crate::error::{Result, StoreError};
use crate::{Store, from_sql, to_sql};

/// This account's identity: a nickname, the Ed25519 identity key and the X25519 key
/// behind the account's link.
pub struct LocalIdentity {
    /// The name this account shows to contacts.
    pub nickname: String,
    /// The identity key contacts know us by.
    pub signing_key: SigningKey,
    /// The static key of our link (`thicket://…`).
    pub handshake_key: AgreementSecretKey,
    /// When the account was created.
    pub created_at: Timestamp,
}

impl fmt::Debug for LocalIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalIdentity")
            .field("signing_key", &self.signing_key.verifying_key())
            .finish_non_exhaustive()
    }
}

pub(crate) fn insert(
    conn: &Connection,
    nickname: &str,
    signing: &SigningKey,
    handshake: &AgreementSecretKey,
    now: Timestamp,
) -> Result<()> {
    conn.execute(
        "INSERT INTO local_identity (id, nickname, signing_key, handshake_key, created_at)
         VALUES (1, ?1, ?2, ?3, ?4)",
        params![
            nickname,
            &signing.expose_secret()[..],
            &handshake.expose_secret()[..],
            to_sql(now.as_millis())?
        ],
    )?;
    Ok(())
}

impl Store {
    /// This account's identity.
    ///
    /// # Errors
    /// Database errors; [`StoreError::InvalidData`] if the row is damaged.
    pub fn identity(&self) -> Result<LocalIdentity> {
        let (nickname, signing, handshake, created): (String, Vec<u8>, Vec<u8>, i64) =
            self.conn.query_row(
                "SELECT nickname, signing_key, handshake_key, created_at
                 FROM local_identity WHERE id = 1",
                [],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )?;
        let (signing, handshake) = (Zeroizing::new(signing), Zeroizing::new(handshake));
        let key = |bytes: &[u8]| -> Result<Zeroizing<[u8; 32]>> {
            Ok(Zeroizing::new(bytes.try_into().map_err(|_| {
                StoreError::InvalidData("a stored identity key has the wrong length")
            })?))
        };
        let (signing, handshake) = (key(&signing)?, key(&handshake)?);
        Ok(LocalIdentity {
            nickname,
            signing_key: SigningKey::from_seed(*signing),
            handshake_key: AgreementSecretKey::from_bytes(*handshake),
            created_at: Timestamp::from_millis(from_sql(created)?)
                .map_err(|_| StoreError::InvalidData("creation time out of range"))?,
        })
    }

    /// Changes the nickname.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for a bad nickname; database errors.
    pub fn set_nickname(&mut self, nickname: &str) -> Result<()> {
        crate::account::check_name(nickname)?;
        self.conn.execute(
            "UPDATE local_identity SET nickname = ?1 WHERE id = 1",
            [nickname],
        )?;
        Ok(())
    }
}
