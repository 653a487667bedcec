//! Stream keys (`spec/stream.md#keys`, `spec/store.md#stream-keys`).

use bramble_proto::crypto::SecretKey;
use bramble_proto::stream::{
    IncomingPeriodState, OutgoingState, TransportKeys, TransportKeysState,
};
use bramble_proto::time::{Period, PeriodLength};
use bramble_proto::transport::TransportId;
use rusqlite::{Connection, OptionalExtension, params};
use zeroize::Zeroizing;

use crate::contacts::ContactId;
use crate::error::{Result, StoreError};
use crate::{Store, db, from_sql, to_sql};

const BACKWARDS: StoreError = StoreError::InvalidInput("stream keys would move backwards");

pub(crate) fn insert(
    conn: &Connection,
    contact: ContactId,
    state: &TransportKeysState,
) -> Result<()> {
    check_consistent(state)?;
    conn.execute(
        "INSERT INTO outgoing_keys (contact_id, transport, period_length, period, secret, next_stream)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            contact.0,
            state.transport.as_str(),
            to_sql(state.period_length.as_millis())?,
            to_sql(state.outgoing.period.0)?,
            &state.outgoing.secret.expose_secret()[..],
            to_sql(state.outgoing.next_stream)?
        ],
    )?;
    for (slot, incoming) in (0i64..).zip(state.incoming.iter()) {
        conn.execute(
            "INSERT INTO incoming_keys
                 (contact_id, transport, slot, period, secret, window_base, window_seen)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                contact.0,
                state.transport.as_str(),
                slot,
                to_sql(incoming.period.0)?,
                &incoming.secret.expose_secret()[..],
                to_sql(incoming.window_base)?,
                incoming.window_seen
            ],
        )?;
    }
    Ok(())
}

/// Refuses a state that `bramble-proto` would not load back.
fn check_consistent(state: &TransportKeysState) -> Result<()> {
    TransportKeys::from_state(state.clone())
        .map(drop)
        .map_err(|_| StoreError::InvalidInput("inconsistent stream key state"))
}

/// Whether window `new` (base, seen bits) has seen every stream number that window `old`
/// has: everything below its base and every number whose bit is set.
fn covers(new: (u64, u32), old: (u64, u32)) -> bool {
    let seen_in_new = |n: u64| n < new.0 || (n - new.0 < 32 && new.1 & (1u32 << (n - new.0)) != 0);
    // Numbers below the old base that are not below the new one must have their bits set.
    if old.0 > new.0 && (old.0 - new.0 > 32 || !(new.0..old.0).all(seen_in_new)) {
        return false;
    }
    (0..32u64)
        .filter(|i| old.1 & (1u32 << i) != 0)
        .all(|i| seen_in_new(old.0 + i))
}

/// Refuses a state older than the stored one: an earlier period, a lower stream counter in
/// the same period, or a window that forgot a stream number it had seen. Saving such a
/// state would bring erased keys back, or let a replayed or reused stream through.
fn check_forward(conn: &Connection, contact: ContactId, state: &TransportKeysState) -> Result<()> {
    let stored: Option<(i64, i64)> = conn
        .query_row(
            "SELECT period, next_stream FROM outgoing_keys WHERE contact_id = ?1 AND transport = ?2",
            params![contact.0, state.transport.as_str()],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    let Some((period, next_stream)) = stored else {
        return Ok(());
    };
    let (period, next_stream) = (from_sql(period)?, from_sql(next_stream)?);
    let out = &state.outgoing;
    if out.period.0 < period || (out.period.0 == period && out.next_stream < next_stream) {
        return Err(BACKWARDS);
    }
    let mut stmt = conn.prepare_cached(
        "SELECT period, window_base, window_seen FROM incoming_keys
         WHERE contact_id = ?1 AND transport = ?2",
    )?;
    let rows = stmt.query_map(params![contact.0, state.transport.as_str()], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, i64>(1)?,
            row.get::<_, u32>(2)?,
        ))
    })?;
    for row in rows {
        let (period, base, seen) = row?;
        let (period, base) = (from_sql(period)?, from_sql(base)?);
        match state.incoming.iter().find(|p| p.period.0 == period) {
            Some(new) if !covers((new.window_base, new.window_seen), (base, seen)) => {
                return Err(BACKWARDS);
            }
            Some(_) => {}
            // A stored period later than every new one: the new state is older.
            None if state.incoming.iter().all(|p| p.period.0 < period) => return Err(BACKWARDS),
            None => {}
        }
    }
    Ok(())
}

/// Overwrites the stored keys in place, after checking that the new state is consistent
/// and does not move backwards.
pub(crate) fn overwrite(
    conn: &Connection,
    contact: ContactId,
    state: &TransportKeysState,
) -> Result<()> {
    check_consistent(state)?;
    check_forward(conn, contact, state)?;
    let changed = conn.execute(
        "UPDATE outgoing_keys SET period_length = ?3, period = ?4, secret = ?5, next_stream = ?6
         WHERE contact_id = ?1 AND transport = ?2",
        params![
            contact.0,
            state.transport.as_str(),
            to_sql(state.period_length.as_millis())?,
            to_sql(state.outgoing.period.0)?,
            &state.outgoing.secret.expose_secret()[..],
            to_sql(state.outgoing.next_stream)?
        ],
    )?;
    if changed == 0 {
        return insert(conn, contact, state);
    }
    for (slot, incoming) in (0i64..).zip(state.incoming.iter()) {
        conn.execute(
            "UPDATE incoming_keys SET period = ?4, secret = ?5, window_base = ?6, window_seen = ?7
             WHERE contact_id = ?1 AND transport = ?2 AND slot = ?3",
            params![
                contact.0,
                state.transport.as_str(),
                slot,
                to_sql(incoming.period.0)?,
                &incoming.secret.expose_secret()[..],
                to_sql(incoming.window_base)?,
                incoming.window_seen
            ],
        )?;
    }
    Ok(())
}

fn secret(bytes: Vec<u8>) -> Result<SecretKey> {
    let bytes = Zeroizing::new(bytes);
    let array: Zeroizing<[u8; 32]> = Zeroizing::new(
        bytes
            .as_slice()
            .try_into()
            .map_err(|_| StoreError::InvalidData("a stored key has the wrong length"))?,
    );
    Ok(SecretKey::from_bytes(*array))
}

/// The stored keys of one contact and transport; `None` if there are none.
fn load(
    conn: &Connection,
    contact: ContactId,
    transport: &str,
) -> Result<Option<TransportKeysState>> {
    let outgoing: Option<(i64, i64, Vec<u8>, i64)> = conn
        .query_row(
            "SELECT period_length, period, secret, next_stream FROM outgoing_keys
         WHERE contact_id = ?1 AND transport = ?2",
            params![contact.0, transport],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )
        .optional()?;
    let Some((period_length, period, out_secret, next_stream)) = outgoing else {
        return Ok(None);
    };
    let out_secret = secret(out_secret)?;
    let mut stmt = conn.prepare_cached(
        "SELECT period, secret, window_base, window_seen FROM incoming_keys
         WHERE contact_id = ?1 AND transport = ?2 ORDER BY slot",
    )?;
    let mut incoming = stmt.query_map(params![contact.0, transport], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, Vec<u8>>(1)?,
            row.get::<_, i64>(2)?,
            row.get::<_, u32>(3)?,
        ))
    })?;
    let mut next = || -> Result<IncomingPeriodState> {
        let (period, secret_bytes, base, seen) = incoming.next().ok_or(
            StoreError::InvalidData("stream keys lack an incoming period"),
        )??;
        Ok(IncomingPeriodState {
            period: Period(from_sql(period)?),
            secret: secret(secret_bytes)?,
            window_base: from_sql(base)?,
            window_seen: seen,
        })
    };
    let incoming = [next()?, next()?, next()?];
    Ok(Some(TransportKeysState {
        transport: TransportId::new(transport)
            .map_err(|_| StoreError::InvalidData("a stored transport identifier is invalid"))?,
        period_length: PeriodLength::from_millis(from_sql(period_length)?)
            .map_err(|_| StoreError::InvalidData("a stored period length is invalid"))?,
        outgoing: OutgoingState {
            period: Period(from_sql(period)?),
            secret: out_secret,
            next_stream: from_sql(next_stream)?,
        },
        incoming,
    }))
}

impl Store {
    /// A contact's stream keys for one transport, if it has any.
    ///
    /// # Errors
    /// Database errors; [`StoreError::InvalidData`] for damaged rows.
    pub fn transport_keys(
        &self,
        contact: ContactId,
        transport: &TransportId,
    ) -> Result<Option<TransportKeysState>> {
        load(&self.conn, contact, transport.as_str())
    }

    /// Every contact's stream keys for every transport.
    ///
    /// # Errors
    /// Database errors; [`StoreError::InvalidData`] for damaged rows.
    pub fn all_transport_keys(&self) -> Result<Vec<(ContactId, TransportKeysState)>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT contact_id, transport FROM outgoing_keys ORDER BY contact_id, transport",
        )?;
        let keys = stmt
            .query_map([], |row| {
                Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        keys.into_iter()
            .map(|(contact, transport)| {
                let contact = ContactId(contact);
                let keys = load(&self.conn, contact, &transport)?
                    .ok_or(StoreError::InvalidData("stream keys vanished while read"))?;
                Ok((contact, keys))
            })
            .collect()
    }

    /// Stores rotated keys, overwriting the old ones in place, in one transaction, then
    /// checkpoints so that the old secrets survive nowhere in the files
    /// (`spec/store.md#erasure`).
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] if a state is inconsistent or older than the stored
    /// one (an earlier period, a lower counter, a window that forgot a stream): nothing is
    /// stored then, nor on a database error. If only the checkpoint that follows fails,
    /// the keys are stored and its error is returned; the next erasing operation, or the
    /// next unlock, checkpoints again.
    pub fn save_transport_keys(
        &mut self,
        updates: &[(ContactId, &TransportKeysState)],
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        for (contact, state) in updates {
            overwrite(&tx, *contact, state)?;
        }
        tx.commit()?;
        db::checkpoint(&self.conn)
    }

    /// Stores the outgoing stream counter of `period`. Call it after
    /// `OutgoingKeys::next_stream` and before the stream's first byte is sent.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] if the stored keys are not of `period` (they were
    /// rotated meanwhile) or the stored counter is already higher; database errors.
    pub fn save_outgoing_counter(
        &mut self,
        contact: ContactId,
        transport: &TransportId,
        period: Period,
        next_stream: u64,
    ) -> Result<()> {
        let changed = self.conn.execute(
            "UPDATE outgoing_keys SET next_stream = ?4
             WHERE contact_id = ?1 AND transport = ?2 AND period = ?3 AND next_stream <= ?4",
            params![
                contact.0,
                transport.as_str(),
                to_sql(period.0)?,
                to_sql(next_stream)?
            ],
        )?;
        if changed == 0 {
            return Err(StoreError::InvalidInput(
                "no stored outgoing keys of that period with a lower counter",
            ));
        }
        Ok(())
    }

    /// Stores the reordering window of one incoming period.
    ///
    /// # Errors
    /// [`StoreError::InvalidInput`] if no stored incoming keys are of `period`, or the new
    /// window forgets a stream number the stored one has seen; database errors.
    pub fn save_incoming_window(
        &mut self,
        contact: ContactId,
        transport: &TransportId,
        period: Period,
        window_base: u64,
        window_seen: u32,
    ) -> Result<()> {
        let tx = self.conn.transaction()?;
        let stored: Option<(i64, u32)> = tx
            .query_row(
                "SELECT window_base, window_seen FROM incoming_keys
                 WHERE contact_id = ?1 AND transport = ?2 AND period = ?3",
                params![contact.0, transport.as_str(), to_sql(period.0)?],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        let Some((base, seen)) = stored else {
            return Err(StoreError::InvalidInput(
                "no stored incoming keys of that period",
            ));
        };
        if !covers((window_base, window_seen), (from_sql(base)?, seen)) {
            return Err(BACKWARDS);
        }
        tx.execute(
            "UPDATE incoming_keys SET window_base = ?4, window_seen = ?5
             WHERE contact_id = ?1 AND transport = ?2 AND period = ?3",
            params![
                contact.0,
                transport.as_str(),
                to_sql(period.0)?,
                to_sql(window_base)?,
                window_seen
            ],
        )?;
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::covers;

    #[test]
    fn windows_cover_what_they_have_seen() {
        assert!(covers((0, 0), (0, 0)));
        assert!(covers((5, 0), (3, 0b11)));
        assert!(covers((3, 0b11), (3, 0b01)));
        assert!(!covers((3, 0b01), (3, 0b11)), "bit cleared");
        assert!(!covers((2, 0), (3, 0)), "base went back");
        assert!(covers((2, 0b1), (3, 0)), "2 seen by bit, below 3 by base");
        assert!(
            !covers((4, 0), (3, 0b10)),
            "old saw 4, new has 4 unseen at its base"
        );
        assert!(covers((40, 0), (3, 0xffff_ffff)));
        assert!(!covers((0, 0), (100, 0)), "far behind");
    }
}
