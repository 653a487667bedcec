//! The store as sync sessions see it (`spec/sync.md#sessions`), and the private
//! conversation of each contact (`spec/messaging.md`).

use bramble_proto::ids::{GroupId, MessageId};
use bramble_proto::messaging::{self, DeliveryState};
use bramble_proto::sync::store::{Due, OutgoingMessage};
use bramble_proto::sync::{Changes, ClientId, Group, GroupEntry, Message, MessageState, SyncStore};
use bramble_proto::time::Timestamp;
use rusqlite::{OptionalExtension, Transaction, params};

use crate::contacts::{Contact, ContactId};

/// A conversation's unread messages.
const UNREAD_COUNT: &str = "SELECT count(*) FROM unread_messages WHERE group_id = ?1";
/// The time of a conversation's latest message.
const LAST_ACTIVITY: &str = "SELECT max(timestamp) FROM messages
     WHERE group_id = ?1 AND state = 3 AND raw IS NOT NULL";
use crate::error::{Result, StoreError};
use crate::messages::{state_from_sql, state_to_sql, visibility_from_sql};
use crate::{Store, array32, from_sql, to_sql};

/// A message of a private conversation, as shown.
#[derive(Clone, PartialEq, Eq)]
pub struct ConversationMessage {
    /// The message identifier.
    pub id: MessageId,
    /// When its author wrote it, by the author's clock.
    pub timestamp: Timestamp,
    /// Whether we wrote it.
    pub ours: bool,
    /// The text.
    pub text: String,
    /// For our messages: how far it got.
    pub delivery: Option<DeliveryState>,
    /// For received messages: whether the user has read it (ours are read).
    pub read: bool,
}

impl std::fmt::Debug for ConversationMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConversationMessage")
            .field("id", &self.id)
            .field("ours", &self.ours)
            .field("delivery", &self.delivery)
            .field("read", &self.read)
            .finish_non_exhaustive()
    }
}

/// Where a page of a conversation ends: the (timestamp, identifier) of a message.
pub type ConversationCursor = (Timestamp, MessageId);

fn timestamp(ms: i64) -> Result<Timestamp> {
    Timestamp::from_millis(from_sql(ms)?).map_err(|_| StoreError::InvalidData("time out of range"))
}

fn message_id(bytes: Vec<u8>) -> Result<MessageId> {
    Ok(MessageId(array32(bytes)?))
}

/// Conditions for a message `m` with status `s` being sendable to `s.contact_id`
/// (`spec/sync.md#what-a-duplex-session-writes`), after `FROM message_status s` and the
/// index to read it by.
const SENDABLE: &str = "JOIN messages m ON m.id = s.message_id
     JOIN group_visibility v ON v.contact_id = s.contact_id AND v.group_id = m.group_id
     WHERE s.contact_id = ?1 AND s.seen = 0 AND m.state = 3 AND m.shared = 1
       AND m.raw IS NOT NULL AND v.visibility = 2";

/// Statuses by (contact, seen, expiry): unacknowledged messages, soonest due first.
const BY_EXPIRY: &str = "FROM message_status s INDEXED BY message_status_by_contact";

impl Store {
    /// The store as a sync session with `contact` sees it.
    pub fn sync_view(&mut self, contact: ContactId) -> SyncView<'_> {
        SyncView {
            store: self,
            contact,
        }
    }

    /// The private conversation with a contact (`spec/messaging.md`).
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an unknown contact; database errors.
    pub fn conversation_group(&self, contact: ContactId) -> Result<Group> {
        let ours = self.identity()?.signing_key.verifying_key();
        let theirs = self
            .contact(contact)?
            .ok_or(StoreError::InvalidInput("no such contact"))?
            .signing_public;
        Ok(messaging::conversation_group(&ours, &theirs))
    }

    /// Creates the private conversation with a contact and shares it with them, unless
    /// its visibility is already set. [`Store::add_contact`] does this for every new
    /// contact, and an upgrade from schema 2 for every existing one.
    ///
    /// # Errors
    /// As [`Store::conversation_group`].
    pub fn ensure_conversation(&mut self, contact: ContactId) -> Result<GroupId> {
        let group = self.conversation_group(contact)?;
        let tx = self.conn.transaction()?;
        add_conversation(&tx, contact, &group)?;
        tx.commit()?;
        Ok(group.id())
    }

    /// Stores a message we wrote, delivered and shared, in one transaction with a
    /// status row for every contact its group is shared with, so that sessions send
    /// it. A message already stored is left as it is.
    ///
    /// # Errors
    /// Database errors.
    pub fn add_local_message(&mut self, message: &Message, now: Timestamp) -> Result<MessageId> {
        let id = message.id();
        let tx = self.conn.transaction()?;
        let inserted = tx.execute(
            "INSERT INTO messages (id, group_id, timestamp, local, state, shared, raw, received_at)
             VALUES (?1, ?2, ?3, 1, 3, 1, ?4, ?5)
             ON CONFLICT (id) DO NOTHING",
            params![
                &id.0[..],
                &message.group.0[..],
                to_sql(message.timestamp.as_millis())?,
                message.to_raw(),
                to_sql(now.as_millis())?
            ],
        )?;
        if inserted > 0 {
            share(&tx, &id, &message.group, None)?;
        }
        tx.commit()?;
        Ok(id)
    }

    /// Writes a text message to a contact: checks the text, stamps it after the
    /// conversation's latest message (`spec/messaging.md#timestamps-and-order`) and
    /// stores it to be sent.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] for an empty, too long or unprintable text, or an
    /// unknown contact; database errors. Nothing is stored then.
    pub fn send_private_message(
        &mut self,
        contact: ContactId,
        text: &str,
        now: Timestamp,
    ) -> Result<MessageId> {
        messaging::check_text(text).map_err(|e| {
            StoreError::InvalidInput(match e {
                messaging::TextError::Empty => "the message is empty",
                messaging::TextError::TooLong => "the message is too long",
                _ => "the message contains a control character",
            })
        })?;
        let group = self.ensure_conversation(contact)?;
        // After our own latest message only: a contact's timestamps (which may be a day
        // ahead) must not push ours.
        let latest: Option<i64> = self.conn.query_row(
            "SELECT max(timestamp) FROM messages WHERE group_id = ?1 AND local = 1",
            [&group.0[..]],
            |row| row.get(0),
        )?;
        let latest = latest.map(timestamp).transpose()?;
        let at = messaging::next_timestamp(now, latest);
        let message = messaging::text_message(group, at, text)
            .map_err(|_| StoreError::InvalidInput("the message is too long"))?;
        self.add_local_message(&message, now)
    }

    /// Up to `limit` messages of the conversation with a contact, the latest ones
    /// before `before` (or the latest of all), oldest first
    /// (`spec/messaging.md#timestamps-and-order`).
    ///
    /// # Errors
    /// As [`Store::conversation_group`]; [`StoreError::InvalidData`] for a stored
    /// message that is not a text message.
    pub fn conversation(
        &self,
        contact: ContactId,
        before: Option<ConversationCursor>,
        limit: usize,
    ) -> Result<Vec<ConversationMessage>> {
        let group = self.conversation_group(contact)?.id();
        let (ts, id) = match before {
            Some((t, id)) => (to_sql(t.as_millis())?, id.0.to_vec()),
            None => (i64::MAX, vec![0xff; 33]),
        };
        let mut stmt = self.conn.prepare_cached(
            "SELECT m.id, m.timestamp, m.local, m.raw, s.tx_count, s.seen,
                    u.message_id IS NULL
             FROM messages m
             LEFT JOIN message_status s ON s.message_id = m.id AND s.contact_id = ?2
             LEFT JOIN unread_messages u
               ON u.group_id = m.group_id AND u.timestamp = m.timestamp AND u.message_id = m.id
             WHERE m.group_id = ?1 AND m.state = 3 AND m.raw IS NOT NULL
               AND (m.timestamp, m.id) < (?3, ?4)
             ORDER BY m.timestamp DESC, m.id DESC
             LIMIT ?5",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![&group.0[..], contact.0, ts, id, limit], |row| {
            Ok((
                row.get::<_, Vec<u8>>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, bool>(2)?,
                row.get::<_, Vec<u8>>(3)?,
                row.get::<_, Option<u32>>(4)?,
                row.get::<_, Option<bool>>(5)?,
                row.get::<_, bool>(6)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, ts, local, raw, tx_count, seen, read) = row?;
            let message = Message::parse(&raw)
                .map_err(|_| StoreError::InvalidData("a stored message is malformed"))?;
            let text = messaging::parse_text(message.body())
                .map_err(|_| StoreError::InvalidData("a stored message is not a text"))?;
            out.push(ConversationMessage {
                id: message_id(id)?,
                timestamp: timestamp(ts)?,
                ours: local,
                text,
                delivery: local
                    .then(|| DeliveryState::of(tx_count.unwrap_or(0), seen.unwrap_or(false))),
                read: local || read,
            });
        }
        out.reverse();
        Ok(out)
    }

    /// When the latest message of the conversation with a contact was written, either
    /// way; `None` for an empty conversation.
    ///
    /// # Errors
    /// As [`Store::conversation_group`].
    pub fn last_activity(&self, contact: ContactId) -> Result<Option<Timestamp>> {
        let group = self.conversation_group(contact)?.id();
        let ms: Option<i64> = self
            .conn
            .prepare_cached(LAST_ACTIVITY)?
            .query_row([&group.0[..]], |row| row.get(0))?;
        ms.map(timestamp).transpose()
    }

    /// How many received messages of the conversation with a contact are unread.
    ///
    /// # Errors
    /// As [`Store::conversation_group`].
    pub fn unread_count(&self, contact: ContactId) -> Result<u64> {
        let group = self.conversation_group(contact)?.id();
        let n: i64 = self
            .conn
            .prepare_cached(UNREAD_COUNT)?
            .query_row([&group.0[..]], |row| row.get(0))?;
        from_sql(n)
    }

    /// Every contact, in the order of [`Store::contacts`], with its unread count and
    /// its last activity (as [`Store::unread_count`] and [`Store::last_activity`]): the
    /// contact list in one call, reading our identity once and not once per contact.
    ///
    /// # Errors
    /// Database errors; [`StoreError::InvalidData`] for a damaged row.
    pub fn contact_overview(&self) -> Result<Vec<(Contact, u64, Option<Timestamp>)>> {
        let ours = self.identity()?.signing_key.verifying_key();
        let mut unread = self.conn.prepare_cached(UNREAD_COUNT)?;
        let mut last = self.conn.prepare_cached(LAST_ACTIVITY)?;
        self.contacts()?
            .into_iter()
            .map(|c| {
                let group = messaging::conversation_group(&ours, &c.signing_public).id();
                let n: i64 = unread.query_row([&group.0[..]], |row| row.get(0))?;
                let ms: Option<i64> = last.query_row([&group.0[..]], |row| row.get(0))?;
                Ok((c, from_sql(n)?, ms.map(timestamp).transpose()?))
            })
            .collect()
    }

    /// Marks every message of the conversation with a contact read.
    ///
    /// # Errors
    /// As [`Store::conversation_group`].
    pub fn mark_conversation_read(&mut self, contact: ContactId) -> Result<()> {
        let group = self.conversation_group(contact)?.id();
        self.conn.execute(
            "DELETE FROM unread_messages WHERE group_id = ?1",
            [&group.0[..]],
        )?;
        Ok(())
    }

    /// Marks one message read.
    ///
    /// # Errors
    /// Database errors.
    pub fn mark_read(&mut self, id: MessageId) -> Result<()> {
        self.conn.execute(
            "DELETE FROM unread_messages WHERE (group_id, timestamp, message_id) =
             (SELECT group_id, timestamp, id FROM messages WHERE id = ?1)",
            [&id.0[..]],
        )?;
        Ok(())
    }

    /// The delivery state of one of our messages towards a contact; `None` if the
    /// message is not one the store tracks for the contact.
    ///
    /// # Errors
    /// Database errors.
    pub fn delivery_state(
        &self,
        id: MessageId,
        contact: ContactId,
    ) -> Result<Option<DeliveryState>> {
        Ok(self
            .message_status(id, contact)?
            .map(|s| DeliveryState::of(s.tx_count, s.seen)))
    }
}

/// Gives every contact whose identity key is valid a private conversation shared with
/// them, unless its visibility is already set, in one transaction.
pub(crate) fn ensure_conversations(conn: &mut rusqlite::Connection) -> Result<()> {
    let ours: Vec<u8> = conn.query_row(
        "SELECT signing_key FROM local_identity WHERE id = 1",
        [],
        |r| r.get(0),
    )?;
    let ours = zeroize::Zeroizing::new(ours);
    let seed = zeroize::Zeroizing::new(array32(ours.to_vec())?);
    let ours = bramble_proto::crypto::SigningKey::from_seed(*seed).verifying_key();
    let tx = conn.transaction()?;
    let contacts: Vec<(i64, Vec<u8>)> = tx
        .prepare("SELECT id, signing_public FROM contacts")?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (contact, key) in contacts {
        let Some(theirs) = array32(key)
            .ok()
            .and_then(|k| bramble_proto::crypto::VerifyingKey::from_bytes(&k).ok())
        else {
            continue;
        };
        let group = messaging::conversation_group(&ours, &theirs);
        add_conversation(&tx, ContactId(contact), &group)?;
    }
    tx.commit()?;
    Ok(())
}

/// Adds the private conversation `group` with `contact` and shares it with them, unless
/// the contact already has a visibility for it (one the user set stays). Whatever the
/// group already holds becomes sendable to the contact.
pub(crate) fn add_conversation(
    tx: &Transaction<'_>,
    contact: ContactId,
    group: &Group,
) -> Result<()> {
    let id = group.id();
    tx.prepare_cached(
        "INSERT INTO groups (id, client_id, major_version, descriptor) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (id) DO NOTHING",
    )?
    .execute(params![
        &id.0[..],
        group.client.as_str(),
        group.major_version,
        &group.descriptor
    ])?;
    let shared = tx
        .prepare_cached(
            "INSERT INTO group_visibility (contact_id, group_id, visibility) VALUES (?1, ?2, 2)
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![contact.0, &id.0[..]])?;
    if shared > 0 {
        tx.prepare_cached(
            "INSERT INTO message_status (message_id, contact_id)
             SELECT id, ?1 FROM messages WHERE group_id = ?2 AND state = 3 AND shared = 1
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![contact.0, &id.0[..]])?;
    }
    Ok(())
}

/// Makes a delivered message sendable to every contact its group is shared with, but
/// `except` (the one it came from).
fn share(
    tx: &Transaction<'_>,
    id: &MessageId,
    group: &GroupId,
    except: Option<ContactId>,
) -> Result<()> {
    for contact in sharing(tx, group, except)? {
        add_status(tx, id, contact)?;
    }
    Ok(())
}

/// The contacts a group is shared with, but `except`.
fn sharing(tx: &Transaction<'_>, group: &GroupId, except: Option<ContactId>) -> Result<Vec<i64>> {
    let mut stmt = tx.prepare_cached(
        "SELECT contact_id FROM group_visibility
         WHERE group_id = ?1 AND visibility = 2 AND contact_id IS NOT ?2",
    )?;
    let rows = stmt.query_map(params![&group.0[..], except.map(|c| c.0)], |row| row.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn add_status(tx: &Transaction<'_>, id: &MessageId, contact: i64) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO message_status (message_id, contact_id) VALUES (?1, ?2)
         ON CONFLICT DO NOTHING",
    )?
    .execute(params![&id.0[..], contact])?;
    Ok(())
}

/// A [`Store`] as a sync session with one contact sees it.
#[derive(Debug)]
pub struct SyncView<'a> {
    store: &'a mut Store,
    contact: ContactId,
}

impl SyncView<'_> {
    fn outgoing(&self, sql: &str, p: &[&dyn rusqlite::ToSql]) -> Result<Vec<OutgoingMessage>> {
        let mut stmt = self.store.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(p, |row| {
            Ok((
                row.get::<_, Vec<u8>>(0)?,
                row.get::<_, Vec<u8>>(1)?,
                row.get::<_, u32>(2)?,
            ))
        })?;
        rows.map(|r| {
            let (id, raw, tx_count) = r?;
            Ok(OutgoingMessage {
                id: message_id(id)?,
                raw,
                tx_count,
            })
        })
        .collect()
    }

    fn due(&self, sql: &str, p: &[&dyn rusqlite::ToSql]) -> Result<Vec<Due>> {
        let mut stmt = self.store.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(p, |row| {
            Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, u32>(1)?))
        })?;
        rows.map(|r| {
            let (id, tx_count) = r?;
            Ok(Due {
                id: message_id(id)?,
                tx_count,
            })
        })
        .collect()
    }

    fn ids(&self, sql: &str, p: &[&dyn rusqlite::ToSql]) -> Result<Vec<MessageId>> {
        let mut stmt = self.store.conn.prepare_cached(sql)?;
        let rows = stmt.query_map(p, |row| row.get::<_, Vec<u8>>(0))?;
        rows.map(|r| message_id(r?)).collect()
    }
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl SyncStore for SyncView<'_> {
    type Error = StoreError;

    fn group(&mut self, id: &GroupId) -> Result<Option<GroupEntry>> {
        let row = self
            .store
            .conn
            .query_row(
                "SELECT g.client_id, g.major_version, g.descriptor, coalesce(v.visibility, 0)
                 FROM groups g
                 LEFT JOIN group_visibility v ON v.group_id = g.id AND v.contact_id = ?2
                 WHERE g.id = ?1",
                params![&id.0[..], self.contact.0],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, u32>(1)?,
                        row.get::<_, Vec<u8>>(2)?,
                        row.get::<_, i64>(3)?,
                    ))
                },
            )
            .optional()?;
        let Some((client, major_version, descriptor, visibility)) = row else {
            return Ok(None);
        };
        let client = ClientId::new(&client)
            .map_err(|_| StoreError::InvalidData("a client id is invalid"))?;
        let group = Group::new(client, major_version, descriptor)
            .map_err(|_| StoreError::InvalidData("a group descriptor is too long"))?;
        Ok(Some(GroupEntry {
            group,
            visibility: visibility_from_sql(visibility)?,
        }))
    }

    fn message_state(&mut self, id: &MessageId) -> Result<Option<MessageState>> {
        let state: Option<i64> = self
            .store
            .conn
            .prepare_cached("SELECT state FROM messages WHERE id = ?1")?
            .query_row([&id.0[..]], |row| row.get(0))
            .optional()?;
        state.map(state_from_sql).transpose()
    }

    fn dependencies(&mut self, id: &MessageId) -> Result<Vec<MessageId>> {
        self.ids(
            "SELECT dependency_id FROM message_dependencies WHERE message_id = ?1",
            &[&&id.0[..]],
        )
    }

    fn pending_dependents(&mut self, id: &MessageId) -> Result<Vec<(MessageId, GroupId)>> {
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT m.id, m.group_id FROM message_dependencies d
             JOIN messages m ON m.id = d.message_id
             WHERE d.dependency_id = ?1 AND m.state = 2",
        )?;
        let rows = stmt.query_map([&id.0[..]], |row| {
            Ok((row.get::<_, Vec<u8>>(0)?, row.get::<_, Vec<u8>>(1)?))
        })?;
        rows.map(|r| {
            let (id, group) = r?;
            Ok((message_id(id)?, GroupId(array32(group)?)))
        })
        .collect()
    }

    fn quarantined(&mut self) -> Result<(usize, usize)> {
        let mut stmt = self.store.conn.prepare_cached(
            "SELECT count(*) FROM messages m
             WHERE m.state = ?2 AND m.local = 0
               AND EXISTS (SELECT 1 FROM message_status s
                           WHERE s.message_id = m.id AND s.contact_id = ?1)",
        )?;
        let mut count = |state: MessageState| -> Result<usize> {
            let n: i64 = stmt.query_row(params![self.contact.0, state_to_sql(state)], |row| {
                row.get(0)
            })?;
            usize::try_from(n).map_err(|_| StoreError::InvalidData("a count is negative"))
        };
        Ok((count(MessageState::Pending)?, count(MessageState::Invalid)?))
    }

    fn owed_acks(&mut self, n: usize) -> Result<Vec<MessageId>> {
        self.ids(
            "SELECT message_id FROM message_status WHERE contact_id = ?1 AND ack = 1 LIMIT ?2",
            &[&self.contact.0, &limit(n)],
        )
    }

    fn requested_messages(&mut self, n: usize) -> Result<Vec<OutgoingMessage>> {
        self.outgoing(
            &format!(
                "SELECT m.id, m.raw, s.tx_count
                 FROM message_status s INDEXED BY message_status_requested {SENDABLE}
                   AND s.requested = 1
                 ORDER BY m.timestamp, m.id LIMIT ?2"
            ),
            &[&self.contact.0, &limit(n)],
        )
    }

    fn fresh_messages(&mut self, n: usize) -> Result<Vec<OutgoingMessage>> {
        // Never transmitted means expiry 0: the first rows of the status index.
        self.outgoing(
            &format!(
                "SELECT m.id, m.raw, s.tx_count {BY_EXPIRY} {SENDABLE}
                   AND m.local = 1 AND s.tx_count = 0 AND s.requested = 0
                 ORDER BY s.expiry LIMIT ?2"
            ),
            &[&self.contact.0, &limit(n)],
        )
    }

    fn due_offers(&mut self, now: Timestamp, max_latency_ms: u64, n: usize) -> Result<Vec<Due>> {
        // Expired (never transmitted counts as expiry 0), in index order...
        let mut due = self.due(
            &format!(
                "SELECT m.id, s.tx_count {BY_EXPIRY} {SENDABLE}
                   AND s.expiry <= ?2 AND s.requested = 0 AND NOT (m.local = 1 AND s.tx_count = 0)
                 ORDER BY s.expiry LIMIT ?3"
            ),
            &[&self.contact.0, &to_sql(now.as_millis())?, &limit(n)],
        )?;
        // ...then last sent over a slower transport, whatever their expiry.
        if due.len() < n {
            let slower = self.due(
                &format!(
                    "SELECT m.id, s.tx_count
                     FROM message_status s INDEXED BY message_status_by_latency {SENDABLE}
                       AND s.max_latency > ?2 AND s.expiry > ?3 AND s.requested = 0
                     LIMIT ?4"
                ),
                &[
                    &self.contact.0,
                    &to_sql(max_latency_ms)?,
                    &to_sql(now.as_millis())?,
                    &limit(n - due.len()),
                ],
            )?;
            due.extend(slower);
        }
        Ok(due)
    }

    fn next_expiry(&mut self, max_latency_ms: u64) -> Result<Option<Timestamp>> {
        let t: Option<i64> = self
            .store
            .conn
            .prepare_cached(&format!(
                "SELECT s.expiry {BY_EXPIRY} {SENDABLE}
                   AND s.requested = 0 AND s.tx_count > 0
                   AND (s.max_latency IS NULL OR s.max_latency <= ?2)
                 ORDER BY s.expiry LIMIT 1"
            ))?
            .query_row(params![self.contact.0, to_sql(max_latency_ms)?], |row| {
                row.get(0)
            })
            .optional()?;
        t.map(timestamp).transpose()
    }

    fn unacked_messages(&mut self) -> Result<Vec<Due>> {
        self.due(
            &format!(
                "SELECT m.id, s.tx_count {BY_EXPIRY} {SENDABLE}
                 ORDER BY s.tx_count, m.timestamp, m.id"
            ),
            &[&self.contact.0],
        )
    }

    fn sendable_message(&mut self, id: &MessageId) -> Result<Option<OutgoingMessage>> {
        Ok(self
            .outgoing(
                &format!(
                    "SELECT m.id, m.raw, s.tx_count FROM message_status s {SENDABLE}
                       AND s.message_id = ?2"
                ),
                &[&self.contact.0, &&id.0[..]],
            )?
            .pop())
    }

    fn commit(&mut self, changes: &Changes) -> Result<()> {
        let c = self.contact.0;
        let tx = self.store.conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO messages (id, group_id, timestamp, local, state, shared, raw, received_at)
                 VALUES (?1, ?2, ?3, 0, ?4, ?5, ?6, ?7)
                 ON CONFLICT (id) DO UPDATE
                 SET state = excluded.state, shared = excluded.shared, raw = excluded.raw,
                     received_at = excluded.received_at
                 WHERE messages.state = 0",
            )?;
            let mut status = tx.prepare_cached(
                "INSERT INTO message_status (message_id, contact_id, ack, seen) VALUES (?1, ?2, ?3, 1)
                 ON CONFLICT (message_id, contact_id)
                 DO UPDATE SET seen = 1, ack = max(ack, excluded.ack)",
            )?;
            let mut metadata = tx.prepare_cached(
                "INSERT INTO message_metadata (message_id, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT DO NOTHING",
            )?;
            let mut dependency = tx.prepare_cached(
                "INSERT INTO message_dependencies (message_id, dependency_id) VALUES (?1, ?2)
                 ON CONFLICT DO NOTHING",
            )?;
            let mut unread = tx.prepare_cached(
                "INSERT INTO unread_messages (group_id, timestamp, message_id)
                 VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
            )?;
            let mut unread_stored = tx.prepare_cached(
                "INSERT INTO unread_messages (group_id, timestamp, message_id)
                 SELECT group_id, timestamp, id FROM messages WHERE id = ?1
                 ON CONFLICT DO NOTHING",
            )?;
            let mut sharers: std::collections::BTreeMap<GroupId, Vec<i64>> =
                std::collections::BTreeMap::new();
            for r in &changes.received {
                let valid = r.state != MessageState::Invalid;
                let id = &r.id.0[..];
                let inserted = insert.execute(params![
                    id,
                    &r.message.group.0[..],
                    to_sql(r.message.timestamp.as_millis())?,
                    state_to_sql(r.state),
                    valid,
                    valid.then(|| r.message.to_raw()),
                    to_sql(r.received_at.as_millis())?
                ])?;
                status.execute(params![id, c, r.ack_owed])?;
                if inserted == 0 {
                    continue;
                }
                if valid {
                    for (k, v) in &r.metadata {
                        metadata.execute(params![id, k, v])?;
                    }
                    for d in &r.dependencies {
                        dependency.execute(params![id, &d.0[..]])?;
                    }
                }
                if r.state == MessageState::Delivered {
                    unread.execute(params![
                        &r.message.group.0[..],
                        to_sql(r.message.timestamp.as_millis())?,
                        id
                    ])?;
                    // One lookup per group and commit: a batch is mostly of one group.
                    let others = match sharers.get(&r.message.group) {
                        Some(o) => o,
                        None => sharers.entry(r.message.group).or_insert(sharing(
                            &tx,
                            &r.message.group,
                            Some(self.contact),
                        )?),
                    };
                    for other in others {
                        add_status(&tx, &r.id, *other)?;
                    }
                }
            }
            for (id, state) in &changes.states {
                let group: Option<Vec<u8>> = tx
                    .prepare_cached(
                        "UPDATE messages SET state = ?2 WHERE id = ?1 RETURNING group_id",
                    )?
                    .query_row(params![&id.0[..], state_to_sql(*state)], |row| row.get(0))
                    .optional()?;
                let Some(group) = group else { continue };
                let group = GroupId(array32(group)?);
                match state {
                    MessageState::Invalid => {
                        tx.execute(
                            "UPDATE messages SET raw = NULL, shared = 0 WHERE id = ?1",
                            [&id.0[..]],
                        )?;
                        tx.execute(
                            "DELETE FROM message_metadata WHERE message_id = ?1",
                            [&id.0[..]],
                        )?;
                    }
                    MessageState::Delivered => {
                        unread_stored.execute([&id.0[..]])?;
                        // Not back to a contact that holds it: they have a status row.
                        share(&tx, id, &group, None)?;
                    }
                    MessageState::Unknown | MessageState::Pending => {}
                }
            }
            let mut seen = tx.prepare_cached(
                "UPDATE message_status SET seen = 1 WHERE message_id = ?1 AND contact_id = ?2",
            )?;
            for id in &changes.seen {
                seen.execute(params![&id.0[..], c])?;
            }
            let mut owed = tx.prepare_cached(
                "INSERT INTO message_status (message_id, contact_id, ack, seen)
                 SELECT ?1, ?2, 1, 1 WHERE EXISTS (SELECT 1 FROM messages WHERE id = ?1)
                 ON CONFLICT (message_id, contact_id) DO UPDATE SET ack = 1, seen = 1",
            )?;
            for id in &changes.acks_owed {
                owed.execute(params![&id.0[..], c])?;
            }
            let mut sent = tx.prepare_cached(
                "UPDATE message_status SET ack = 0 WHERE message_id = ?1 AND contact_id = ?2",
            )?;
            for id in &changes.acks_sent {
                sent.execute(params![&id.0[..], c])?;
            }
            let mut requested = tx.prepare_cached(
                "UPDATE message_status SET requested = 1 WHERE message_id = ?1 AND contact_id = ?2",
            )?;
            for id in &changes.requested {
                requested.execute(params![&id.0[..], c])?;
            }
            let mut transmitted = tx.prepare_cached(
                "UPDATE message_status
                 SET tx_count = tx_count + 1, expiry = ?3, max_latency = ?4, requested = 0
                 WHERE message_id = ?1 AND contact_id = ?2",
            )?;
            for t in &changes.transmissions {
                transmitted.execute(params![
                    &t.id.0[..],
                    c,
                    to_sql(t.expiry.as_millis())?,
                    to_sql(t.max_latency_ms)?
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}
