//! Groups, messages and their per-contact sync state (`spec/store.md#messages`).

use std::collections::BTreeMap;

use bramble_proto::ids::{GroupId, MessageId};
use bramble_proto::time::Timestamp;
use rusqlite::{OptionalExtension, params};

use crate::contacts::ContactId;
use crate::error::{Result, StoreError};
use crate::{Store, db, from_sql, to_sql};

pub use bramble_proto::sync::{MessageState, Visibility};

pub(crate) fn visibility_to_sql(v: Visibility) -> i64 {
    match v {
        Visibility::Invisible => 0,
        Visibility::Visible => 1,
        Visibility::Shared => 2,
    }
}

pub(crate) fn visibility_from_sql(v: i64) -> Result<Visibility> {
    Ok(match v {
        0 => Visibility::Invisible,
        1 => Visibility::Visible,
        2 => Visibility::Shared,
        _ => return Err(StoreError::InvalidData("a visibility is invalid")),
    })
}

pub(crate) fn state_to_sql(s: MessageState) -> i64 {
    match s {
        MessageState::Unknown => 0,
        MessageState::Invalid => 1,
        MessageState::Pending => 2,
        MessageState::Delivered => 3,
    }
}

pub(crate) fn state_from_sql(v: i64) -> Result<MessageState> {
    Ok(match v {
        0 => MessageState::Unknown,
        1 => MessageState::Invalid,
        2 => MessageState::Pending,
        3 => MessageState::Delivered,
        _ => return Err(StoreError::InvalidData("a message state is invalid")),
    })
}

/// A message to store.
#[derive(Clone, Copy)]
pub struct NewMessage<'a> {
    /// Its identifier.
    pub id: MessageId,
    /// Its group.
    pub group: GroupId,
    /// Its timestamp.
    pub timestamp: Timestamp,
    /// The raw message as on the wire.
    pub raw: &'a [u8],
    /// Whether we created it.
    pub local: bool,
    /// Its validation state.
    pub state: MessageState,
    /// Whether it may be sent to contacts the group is shared with.
    pub shared: bool,
    /// When we stored it.
    pub received_at: Timestamp,
    /// Client metadata.
    pub metadata: &'a [(&'a str, &'a [u8])],
    /// Messages it depends on.
    pub dependencies: &'a [MessageId],
}

impl std::fmt::Debug for NewMessage<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewMessage")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The initial sync state of a new message towards one contact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusInit {
    /// The contact.
    pub contact: ContactId,
    /// Whether we owe the contact an ack (it came from them).
    pub ack: bool,
    /// Whether the contact has it.
    pub seen: bool,
}

/// The sync state of a message towards one contact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MessageStatus {
    /// We owe the contact an ack.
    pub ack: bool,
    /// The contact has the message.
    pub seen: bool,
    /// The contact asked for it.
    pub requested: bool,
    /// When it may be sent or offered again (ms).
    pub expiry: u64,
    /// How often it was sent or offered.
    pub tx_count: u32,
    /// The maximum latency (ms) of the transport it last went over, if it was sent.
    pub max_latency: Option<u64>,
}

impl Store {
    /// Adds a group, if it is not known yet.
    ///
    /// # Errors
    /// Database errors.
    pub fn add_group(
        &mut self,
        id: GroupId,
        client_id: &str,
        major_version: u32,
        descriptor: &[u8],
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO groups (id, client_id, major_version, descriptor) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (id) DO NOTHING",
            params![&id.0[..], client_id, major_version, descriptor],
        )?;
        Ok(())
    }

    /// Sets whether a group is synced with a contact. Sharing it makes every delivered,
    /// shared message of the group sendable to the contact.
    ///
    /// # Errors
    /// Database errors (an unknown group or contact breaks a foreign key).
    pub fn set_group_visibility(
        &mut self,
        contact: ContactId,
        group: GroupId,
        visibility: Visibility,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO group_visibility (contact_id, group_id, visibility) VALUES (?1, ?2, ?3)
             ON CONFLICT (contact_id, group_id) DO UPDATE SET visibility = excluded.visibility",
            params![contact.0, &group.0[..], visibility_to_sql(visibility)],
        )?;
        if visibility == Visibility::Shared {
            // Everything already delivered and shared in the group becomes sendable.
            tx.execute(
                "INSERT INTO message_status (message_id, contact_id)
                 SELECT id, ?1 FROM messages
                 WHERE group_id = ?2 AND state = 3 AND shared = 1
                 ON CONFLICT DO NOTHING",
                params![contact.0, &group.0[..]],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Whether a group is synced with a contact ([`Visibility::Invisible`] if unset).
    ///
    /// # Errors
    /// Database errors.
    pub fn group_visibility(&self, contact: ContactId, group: GroupId) -> Result<Visibility> {
        let v: Option<i64> = self
            .conn
            .query_row(
                "SELECT visibility FROM group_visibility WHERE contact_id = ?1 AND group_id = ?2",
                params![contact.0, &group.0[..]],
                |row| row.get(0),
            )
            .optional()?;
        v.map_or(Ok(Visibility::Invisible), visibility_from_sql)
    }

    /// Stores messages with their metadata, dependencies and per-contact states, in one
    /// durable transaction. A message already known (even deleted) is skipped with all
    /// that came with it. Returns how many were new.
    ///
    /// # Errors
    /// Database errors; nothing is stored if one fails.
    pub fn add_messages(&mut self, batch: &[(NewMessage<'_>, &[StatusInit])]) -> Result<usize> {
        let tx = self.conn.transaction()?;
        let mut added = 0;
        {
            let mut message = tx.prepare_cached(
                "INSERT INTO messages (id, group_id, timestamp, local, state, shared, raw, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (id) DO NOTHING",
            )?;
            let mut metadata = tx.prepare_cached(
                "INSERT INTO message_metadata (message_id, key, value) VALUES (?1, ?2, ?3)",
            )?;
            let mut dependency = tx.prepare_cached(
                "INSERT INTO message_dependencies (message_id, dependency_id) VALUES (?1, ?2)
                 ON CONFLICT DO NOTHING",
            )?;
            let mut status = tx.prepare_cached(
                "INSERT INTO message_status (message_id, contact_id, ack, seen) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (m, statuses) in batch {
                let inserted = message.execute(params![
                    &m.id.0[..],
                    &m.group.0[..],
                    to_sql(m.timestamp.as_millis())?,
                    m.local,
                    state_to_sql(m.state),
                    m.shared,
                    m.raw,
                    to_sql(m.received_at.as_millis())?
                ])?;
                if inserted == 0 {
                    continue;
                }
                added += 1;
                for (k, v) in m.metadata {
                    metadata.execute(params![&m.id.0[..], k, v])?;
                }
                for d in m.dependencies {
                    dependency.execute(params![&m.id.0[..], &d.0[..]])?;
                }
                for s in *statuses {
                    status.execute(params![&m.id.0[..], s.contact.0, s.ack, s.seen])?;
                }
            }
        }
        tx.commit()?;
        Ok(added)
    }

    /// Whether a message is known, including deleted ones.
    ///
    /// # Errors
    /// Database errors.
    pub fn has_message(&self, id: MessageId) -> Result<bool> {
        let n: i64 = self.conn.query_row(
            "SELECT count(*) FROM messages WHERE id = ?1",
            [&id.0[..]],
            |row| row.get(0),
        )?;
        Ok(n > 0)
    }

    /// A message's raw bytes; `None` if unknown or deleted.
    ///
    /// # Errors
    /// Database errors.
    pub fn message_raw(&self, id: MessageId) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn
            .query_row(
                "SELECT raw FROM messages WHERE id = ?1",
                [&id.0[..]],
                |row| row.get::<_, Option<Vec<u8>>>(0),
            )
            .optional()?
            .flatten())
    }

    /// A message's metadata.
    ///
    /// # Errors
    /// Database errors.
    pub fn message_metadata(&self, id: MessageId) -> Result<BTreeMap<String, Vec<u8>>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT key, value FROM message_metadata WHERE message_id = ?1")?;
        let rows = stmt.query_map([&id.0[..]], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Sets a message's validation state.
    ///
    /// # Errors
    /// Database errors.
    pub fn set_message_state(&mut self, id: MessageId, state: MessageState) -> Result<()> {
        self.conn.execute(
            "UPDATE messages SET state = ?1 WHERE id = ?2",
            params![state_to_sql(state), &id.0[..]],
        )?;
        Ok(())
    }

    /// Deletes a message's content and metadata for good, keeping a tombstone so it is
    /// not accepted again, and erases the old pages from the files
    /// (`spec/store.md#erasure`).
    ///
    /// # Errors
    /// Database errors.
    pub fn delete_message(&mut self, id: MessageId) -> Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute("UPDATE messages SET raw = NULL WHERE id = ?1", [&id.0[..]])?;
        tx.execute(
            "DELETE FROM unread_messages WHERE (group_id, timestamp, message_id) =
             (SELECT group_id, timestamp, id FROM messages WHERE id = ?1)",
            [&id.0[..]],
        )?;
        tx.execute(
            "DELETE FROM message_metadata WHERE message_id = ?1",
            [&id.0[..]],
        )?;
        tx.commit()?;
        db::checkpoint(&self.conn)
    }

    /// A message's sync state towards a contact.
    ///
    /// # Errors
    /// Database errors; [`StoreError::InvalidData`] for a damaged row.
    pub fn message_status(
        &self,
        id: MessageId,
        contact: ContactId,
    ) -> Result<Option<MessageStatus>> {
        let row = self
            .conn
            .query_row(
                "SELECT ack, seen, requested, expiry, tx_count, max_latency FROM message_status
                 WHERE message_id = ?1 AND contact_id = ?2",
                params![&id.0[..], contact.0],
                |row| {
                    Ok((
                        row.get::<_, bool>(0)?,
                        row.get::<_, bool>(1)?,
                        row.get::<_, bool>(2)?,
                        row.get::<_, i64>(3)?,
                        row.get::<_, u32>(4)?,
                        row.get::<_, Option<i64>>(5)?,
                    ))
                },
            )
            .optional()?;
        row.map(|(ack, seen, requested, expiry, tx_count, max_latency)| {
            Ok(MessageStatus {
                ack,
                seen,
                requested,
                expiry: from_sql(expiry)?,
                tx_count,
                max_latency: max_latency.map(from_sql).transpose()?,
            })
        })
        .transpose()
    }

    /// Records that a message was sent or offered to a contact over a transport with
    /// `max_latency`, and when it may go again.
    ///
    /// # Errors
    /// Database errors.
    pub fn record_transmission(
        &mut self,
        id: MessageId,
        contact: ContactId,
        max_latency_ms: u64,
        expiry_ms: u64,
    ) -> Result<()> {
        self.conn.execute(
            "UPDATE message_status
             SET tx_count = tx_count + 1, max_latency = ?3, expiry = ?4, requested = 0
             WHERE message_id = ?1 AND contact_id = ?2",
            params![
                &id.0[..],
                contact.0,
                to_sql(max_latency_ms)?,
                to_sql(expiry_ms)?
            ],
        )?;
        Ok(())
    }

    /// Makes messages a contact has not acknowledged due for sending again at once:
    /// they went out on a connection that closed before the contact acknowledged them.
    ///
    /// # Errors
    /// Database errors.
    pub fn make_due(&mut self, contact: ContactId, ids: &[MessageId]) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "UPDATE message_status SET expiry = 0
                 WHERE message_id = ?1 AND contact_id = ?2 AND seen = 0",
            )?;
            for id in ids {
                stmt.execute(params![&id.0[..], contact.0])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Records that a contact has a message (it acked or offered it).
    ///
    /// # Errors
    /// Database errors.
    pub fn mark_seen(&mut self, id: MessageId, contact: ContactId) -> Result<()> {
        self.conn.execute(
            "UPDATE message_status SET seen = 1 WHERE message_id = ?1 AND contact_id = ?2",
            params![&id.0[..], contact.0],
        )?;
        Ok(())
    }
}
