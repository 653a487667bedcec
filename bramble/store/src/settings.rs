//! Settings: small values by namespace and key.

use rusqlite::{OptionalExtension, params};

use crate::Store;
use crate::error::Result;

impl Store {
    /// A setting, if set.
    ///
    /// # Errors
    /// Database errors.
    pub fn setting(&self, namespace: &str, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .conn
            .query_row(
                "SELECT value FROM settings WHERE namespace = ?1 AND key = ?2",
                params![namespace, key],
                |row| row.get(0),
            )
            .optional()?)
    }

    /// Sets a setting.
    ///
    /// # Errors
    /// Database errors.
    pub fn set_setting(&mut self, namespace: &str, key: &str, value: &[u8]) -> Result<()> {
        self.conn.execute(
            "INSERT INTO settings (namespace, key, value) VALUES (?1, ?2, ?3)
             ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value",
            params![namespace, key, value],
        )?;
        Ok(())
    }

    /// Removes a setting.
    ///
    /// # Errors
    /// Database errors.
    pub fn remove_setting(&mut self, namespace: &str, key: &str) -> Result<()> {
        self.conn.execute(
            "DELETE FROM settings WHERE namespace = ?1 AND key = ?2",
            params![namespace, key],
        )?;
        Ok(())
    }
}
