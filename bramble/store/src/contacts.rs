//! Contacts, pending contacts and transport properties.

use std::collections::BTreeMap;
use std::fmt;

use bramble_proto::crypto::{AgreementPublicKey, VerifyingKey};
use bramble_proto::stream::{Role, TransportKeysState};
use bramble_proto::time::Timestamp;
use bramble_proto::transport::TransportId;
use rusqlite::{OptionalExtension, Row, params};
use zeroize::Zeroizing;

use crate::error::{Result, StoreError};
use crate::{Store, array32, db, from_sql, to_sql, transport_keys};

/// A contact's local identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContactId(pub i64);

/// A contact to add.
pub struct NewContact<'a> {
    /// The name the contact gave themselves.
    pub nickname: &'a str,
    /// The name we gave them, if any.
    pub alias: Option<&'a str>,
    /// Their identity key.
    pub signing_public: VerifyingKey,
    /// The static key of their link.
    pub handshake_public: AgreementPublicKey,
    /// Our role towards them.
    pub role: Role,
    /// Whether we verified them in person.
    pub verified: bool,
    /// When they were added.
    pub added_at: Timestamp,
}

impl fmt::Debug for NewContact<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewContact")
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// A stored contact.

#[derive(Clone, PartialEq, Eq)]
pub struct Contact {
    /// Local identifier.
    pub id: ContactId,
    /// The name the contact gave themselves.
    pub nickname: String,
    /// The name we gave them, if any.
    pub alias: Option<String>,
    /// Their identity key.
    pub signing_public: VerifyingKey,
    /// The static key of their link.
    pub handshake_public: AgreementPublicKey,
    /// Our role towards them.
    pub role: Role,
    /// Whether we verified them.
    pub verified: bool,
    /// When they were added.
    pub added_at: Timestamp,
}

impl Contact {
    /// The name the contact is shown by: our alias for it, else its own nickname.
    pub fn display_name(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.nickname)
    }
}

impl fmt::Debug for Contact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Contact")
            .field("id", &self.id)
            .field("verified", &self.verified)
            .finish_non_exhaustive()
    }
}

/// A pending contact's local identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PendingContactId(pub i64);

/// Someone whose link we added, before the contact exchange completed.
#[derive(Clone, PartialEq, Eq)]
pub struct PendingContact {
    /// Local identifier.
    pub id: PendingContactId,
    /// The static key of their link.
    pub handshake_public: AgreementPublicKey,
    /// The name we gave them.
    pub alias: String,
    /// When we added their link.
    pub added_at: Timestamp,
    /// The state of the exchange, as the engine defines it.
    pub state: i64,
    /// The handshake machine's saved state, if any. Holds secrets (an ephemeral key)
    /// until the handshake completes: encrypted at rest like everything in the store, and
    /// overwritten in memory when dropped.
    pub handshake_state: Option<Zeroizing<Vec<u8>>>,
    /// Why the peer's last handshake records were refused, until the state moves on.
    pub failure: Option<String>,
}

impl fmt::Debug for PendingContact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingContact")
            .field("id", &self.id)
            .field("state", &self.state)
            .field("failure", &self.failure)
            .finish_non_exhaustive()
    }
}

fn role_to_sql(role: Role) -> i64 {
    match role {
        Role::Alice => 0,
        Role::Bob => 1,
    }
}

fn timestamp(v: i64) -> Result<Timestamp> {
    Timestamp::from_millis(from_sql(v)?).map_err(|_| StoreError::InvalidData("time out of range"))
}

fn contact_from_row(row: &Row<'_>) -> rusqlite::Result<ContactRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
    ))
}

type ContactRow = (
    i64,
    String,
    Option<String>,
    Vec<u8>,
    Vec<u8>,
    i64,
    bool,
    i64,
);

fn contact(row: ContactRow) -> Result<Contact> {
    let (id, nickname, alias, signing, handshake, role, verified, added_at) = row;
    Ok(Contact {
        id: ContactId(id),
        nickname,
        alias,
        signing_public: VerifyingKey::from_bytes(&array32(signing)?)
            .map_err(|_| StoreError::InvalidData("a contact's identity key is invalid"))?,
        handshake_public: AgreementPublicKey(array32(handshake)?),
        role: match role {
            0 => Role::Alice,
            1 => Role::Bob,
            _ => return Err(StoreError::InvalidData("a contact's role is invalid")),
        },
        verified,
        added_at: timestamp(added_at)?,
    })
}

const CONTACT_COLUMNS: &str =
    "id, nickname, alias, signing_public, handshake_public, role, verified, added_at";

impl Store {
    /// Adds a contact with its stream keys for every transport and its private
    /// conversation (`spec/messaging.md`), in one transaction.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] if the identity key is already a contact; database
    /// errors.
    pub fn add_contact(
        &mut self,
        new: &NewContact<'_>,
        keys: &[TransportKeysState],
    ) -> Result<ContactId> {
        crate::account::check_name(new.nickname)?;
        if let Some(alias) = new.alias {
            crate::account::check_name(alias)?;
        }
        let ours = self.identity()?.signing_key.verifying_key();
        let conversation = bramble_proto::messaging::conversation_group(&ours, &new.signing_public);
        let tx = self.conn.transaction()?;
        let exists: Option<i64> = tx
            .query_row(
                "SELECT id FROM contacts WHERE signing_public = ?1",
                [&new.signing_public.to_bytes()[..]],
                |row| row.get(0),
            )
            .optional()?;
        if exists.is_some() {
            return Err(StoreError::InvalidInput(
                "this identity is already a contact",
            ));
        }
        tx.execute(
            "INSERT INTO contacts (nickname, alias, signing_public, handshake_public, role, verified, added_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                new.nickname,
                new.alias,
                &new.signing_public.to_bytes()[..],
                &new.handshake_public.0[..],
                role_to_sql(new.role),
                new.verified,
                to_sql(new.added_at.as_millis())?
            ],
        )?;
        let id = ContactId(tx.last_insert_rowid());
        for state in keys {
            transport_keys::insert(&tx, id, state)?;
        }
        // The private conversation (`spec/messaging.md`), shared with them alone.
        crate::sync::add_conversation(&tx, id, &conversation)?;
        tx.commit()?;
        Ok(id)
    }

    /// Every contact, oldest first.
    ///
    /// # Errors
    /// Database errors; [`StoreError::InvalidData`] for a damaged row.
    pub fn contacts(&self) -> Result<Vec<Contact>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {CONTACT_COLUMNS} FROM contacts ORDER BY id"
        ))?;
        let rows = stmt.query_map([], contact_from_row)?;
        rows.map(|r| contact(r?)).collect()
    }

    /// One contact.
    ///
    /// # Errors
    /// Database errors; [`StoreError::InvalidData`] for a damaged row.
    pub fn contact(&self, id: ContactId) -> Result<Option<Contact>> {
        let row = self
            .conn
            .query_row(
                &format!("SELECT {CONTACT_COLUMNS} FROM contacts WHERE id = ?1"),
                [id.0],
                contact_from_row,
            )
            .optional()?;
        row.map(contact).transpose()
    }

    /// Marks a contact verified (or not).
    ///
    /// # Errors
    /// Database errors.
    pub fn set_contact_verified(&mut self, id: ContactId, verified: bool) -> Result<()> {
        self.conn.execute(
            "UPDATE contacts SET verified = ?1 WHERE id = ?2",
            params![verified, id.0],
        )?;
        Ok(())
    }

    /// Sets the name we give a contact.
    ///
    /// # Errors
    /// Database errors.
    pub fn set_contact_alias(&mut self, id: ContactId, alias: Option<&str>) -> Result<()> {
        if let Some(alias) = alias {
            crate::account::check_name(alias)?;
        }
        self.conn.execute(
            "UPDATE contacts SET alias = ?1 WHERE id = ?2",
            params![alias, id.0],
        )?;
        Ok(())
    }

    /// Removes a contact with everything that belongs to it: keys, properties,
    /// per-message states, and the groups synced with it alone (their private
    /// conversation) with their messages. Then erases it all from the write-ahead log.
    ///
    /// # Errors
    /// Database errors.
    pub fn remove_contact(&mut self, id: ContactId) -> Result<()> {
        let tx = self.conn.transaction()?;
        // Groups synced with this contact and no other (their private conversation) go
        // with it, and their messages with them.
        tx.execute(
            "DELETE FROM groups WHERE id IN (
                 SELECT group_id FROM group_visibility WHERE contact_id = ?1
                 EXCEPT
                 SELECT group_id FROM group_visibility WHERE contact_id <> ?1)",
            [id.0],
        )?;
        tx.execute("DELETE FROM contacts WHERE id = ?1", [id.0])?;
        tx.commit()?;
        db::checkpoint(&self.conn)
    }

    /// Records someone's link as a pending contact.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] if that link is already pending; database errors.
    pub fn add_pending_contact(
        &mut self,
        handshake_public: &AgreementPublicKey,
        alias: &str,
        added_at: Timestamp,
    ) -> Result<PendingContactId> {
        crate::account::check_name(alias)?;
        let inserted = self.conn.execute(
            "INSERT INTO pending_contacts (handshake_public, alias, added_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (handshake_public) DO NOTHING",
            params![
                &handshake_public.0[..],
                alias,
                to_sql(added_at.as_millis())?
            ],
        )?;
        if inserted == 0 {
            return Err(StoreError::InvalidInput("this link is already pending"));
        }
        Ok(PendingContactId(self.conn.last_insert_rowid()))
    }

    /// Every pending contact, oldest first.
    ///
    /// # Errors
    /// Database errors; [`StoreError::InvalidData`] for a damaged row.
    pub fn pending_contacts(&self) -> Result<Vec<PendingContact>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, handshake_public, alias, added_at, state, handshake_state, failure
             FROM pending_contacts ORDER BY id",
        )?;
        let rows = stmt.query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, Vec<u8>>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, i64>(3)?,
                row.get::<_, i64>(4)?,
                row.get::<_, Option<Vec<u8>>>(5)?,
                row.get::<_, Option<String>>(6)?,
            ))
        })?;
        rows.map(|r| {
            let (id, key, alias, added_at, state, handshake_state, failure) = r?;
            Ok(PendingContact {
                id: PendingContactId(id),
                handshake_public: AgreementPublicKey(array32(key)?),
                alias,
                added_at: timestamp(added_at)?,
                state,
                handshake_state: handshake_state.map(Zeroizing::new),
                failure,
            })
        })
        .collect()
    }

    /// Updates a pending contact's state and saved handshake state. A change of `state`
    /// clears the recorded failure: the handshake moved on.
    ///
    /// # Errors
    /// Database errors.
    pub fn update_pending_contact(
        &mut self,
        id: PendingContactId,
        state: i64,
        handshake_state: Option<&[u8]>,
    ) -> Result<()> {
        self.conn.execute(
            "UPDATE pending_contacts
             SET failure = CASE WHEN state = ?1 THEN failure END,
                 state = ?1, handshake_state = ?2
             WHERE id = ?3",
            params![state, handshake_state, id.0],
        )?;
        // The replaced handshake state may hold secrets.
        db::checkpoint(&self.conn)
    }

    /// Records why a pending contact's handshake was refused (`None` clears it). The
    /// reason is shown to the user: at most 512 bytes, one line.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an empty, longer or multi-line reason; database
    /// errors.
    pub fn set_pending_failure(
        &mut self,
        id: PendingContactId,
        failure: Option<&str>,
    ) -> Result<()> {
        if let Some(f) = failure
            && (f.is_empty() || f.len() > 512 || f.chars().any(char::is_control))
        {
            return Err(StoreError::InvalidInput(
                "a failure is one line of 1 to 512 bytes",
            ));
        }
        self.conn.execute(
            "UPDATE pending_contacts SET failure = ?1 WHERE id = ?2",
            params![failure, id.0],
        )?;
        Ok(())
    }

    /// Removes a pending contact (and its saved handshake secrets).
    ///
    /// # Errors
    /// Database errors.
    pub fn remove_pending_contact(&mut self, id: PendingContactId) -> Result<()> {
        self.conn
            .execute("DELETE FROM pending_contacts WHERE id = ?1", [id.0])?;
        db::checkpoint(&self.conn)
    }

    /// Replaces our own properties for a transport (addresses we publish to contacts).
    ///
    /// # Errors
    /// Database errors.
    pub fn set_local_properties(
        &mut self,
        transport: &TransportId,
        properties: &BTreeMap<String, String>,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "DELETE FROM local_transport_properties WHERE transport = ?1",
            [transport.as_str()],
        )?;
        for (k, v) in properties {
            tx.execute(
                "INSERT INTO local_transport_properties (transport, key, value) VALUES (?1, ?2, ?3)",
                params![transport.as_str(), k, v],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Our own properties for a transport.
    ///
    /// # Errors
    /// Database errors.
    pub fn local_properties(&self, transport: &TransportId) -> Result<BTreeMap<String, String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT key, value FROM local_transport_properties WHERE transport = ?1",
        )?;
        let rows = stmt.query_map([transport.as_str()], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Replaces a contact's properties for a transport.
    ///
    /// # Errors
    /// Database errors.
    pub fn set_contact_properties(
        &mut self,
        contact: ContactId,
        transport: &TransportId,
        properties: &BTreeMap<String, String>,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "DELETE FROM contact_transport_properties WHERE contact_id = ?1 AND transport = ?2",
            params![contact.0, transport.as_str()],
        )?;
        for (k, v) in properties {
            tx.execute(
                "INSERT INTO contact_transport_properties (contact_id, transport, key, value)
                 VALUES (?1, ?2, ?3, ?4)",
                params![contact.0, transport.as_str(), k, v],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// A contact's properties for a transport.
    ///
    /// # Errors
    /// Database errors.
    pub fn contact_properties(
        &self,
        contact: ContactId,
        transport: &TransportId,
    ) -> Result<BTreeMap<String, String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT key, value FROM contact_transport_properties
             WHERE contact_id = ?1 AND transport = ?2",
        )?;
        let rows = stmt.query_map(params![contact.0, transport.as_str()], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
