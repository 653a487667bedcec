//! Stream keys (`spec/stream.md#keys`, `spec/store.md#stream-keys`).

use bramble_proto::crypto::SecretKey;
use bramble_proto::stream::{IncomingPeriodState, OutgoingState, TransportKeysState};
use bramble_proto::time::{Period, PeriodLength};
use bramble_proto::transport::TransportId;
use rusqlite::{Connection, params};
use zeroize::Zeroizing;

use crate::contacts::ContactId;
use crate::error::{Result, StoreError};
use crate::{Store, db, from_sql, to_sql};

pub(crate) fn insert(
    conn: &Connection,
    contact: ContactId,
    state: &TransportKeysState,
) -> Result<()> {
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

/// Overwrites the stored keys in place.
pub(crate) fn overwrite(
    conn: &Connection,
    contact: ContactId,
    state: &TransportKeysState,
) -> Result<()> {
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

fn load(conn: &Connection, contact: ContactId, transport: &str) -> Result<TransportKeysState> {
    let (period_length, period, out_secret, next_stream): (i64, i64, Vec<u8>, i64) = conn
        .query_row(
            "SELECT period_length, period, secret, next_stream FROM outgoing_keys
         WHERE contact_id = ?1 AND transport = ?2",
            params![contact.0, transport],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )?;
    let mut stmt = conn.prepare_cached(
        "SELECT period, secret, window_base, window_seen FROM incoming_keys
         WHERE contact_id = ?1 AND transport = ?2 ORDER BY slot",
    )?;
    let incoming = stmt
        .query_map(params![contact.0, transport], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, Vec<u8>>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, u32>(3)?,
            ))
        })?
        .map(|r| {
            let (period, secret_bytes, base, seen) = r?;
            Ok(IncomingPeriodState {
                period: Period(from_sql(period)?),
                secret: secret(secret_bytes)?,
                window_base: from_sql(base)?,
                window_seen: seen,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let incoming: [IncomingPeriodState; 3] = incoming
        .try_into()
        .map_err(|_| StoreError::InvalidData("stream keys lack an incoming period"))?;
    Ok(TransportKeysState {
        transport: TransportId::new(transport)
            .map_err(|_| StoreError::InvalidData("a stored transport identifier is invalid"))?,
        period_length: PeriodLength::from_millis(from_sql(period_length)?)
            .map_err(|_| StoreError::InvalidData("a stored period length is invalid"))?,
        outgoing: OutgoingState {
            period: Period(from_sql(period)?),
            secret: secret(out_secret)?,
            next_stream: from_sql(next_stream)?,
        },
        incoming,
    })
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
        let exists: i64 = self.conn.query_row(
            "SELECT count(*) FROM outgoing_keys WHERE contact_id = ?1 AND transport = ?2",
            params![contact.0, transport.as_str()],
            |row| row.get(0),
        )?;
        if exists == 0 {
            return Ok(None);
        }
        load(&self.conn, contact, transport.as_str()).map(Some)
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
                Ok((contact, load(&self.conn, contact, &transport)?))
            })
            .collect()
    }

    /// Stores rotated keys, overwriting the old ones in place, in one transaction, then
    /// checkpoints so that the old secrets survive nowhere in the files
    /// (`spec/store.md#erasure`).
    ///
    /// # Errors
    /// Database errors; nothing is stored if one fails.
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
    /// rotated meanwhile); database errors.
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
    /// [`StoreError::InvalidInput`] if no stored incoming keys are of `period`; database
    /// errors.
    pub fn save_incoming_window(
        &mut self,
        contact: ContactId,
        transport: &TransportId,
        period: Period,
        window_base: u64,
        window_seen: u32,
    ) -> Result<()> {
        let changed = self.conn.execute(
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
        if changed == 0 {
            return Err(StoreError::InvalidInput(
                "no stored incoming keys of that period",
            ));
        }
        Ok(())
    }
}
