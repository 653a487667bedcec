//! The database schema and its migrations (`spec/store.md#schema`).
//!
//! A new account gets [`CURRENT_VERSION`] directly from `schema/schema.sql`. An older
//! database is upgraded one version at a time, each step in its own transaction that
//! also sets `PRAGMA user_version`, so a crash leaves it at some complete version.
//! A database newer than this build is refused without being touched.

use rusqlite::Connection;

use crate::error::{Result, StoreError};

/// The schema version this build creates and understands.
pub const CURRENT_VERSION: i64 = 4;

const FRESH: &str = include_str!("schema/schema.sql");

/// `MIGRATIONS[i]` upgrades version `i + 1` to `i + 2`.
const MIGRATIONS: &[&str] = &[
    include_str!("schema/v1_to_v2.sql"),
    include_str!("schema/v2_to_v3.sql"),
    include_str!("schema/v3_to_v4.sql"),
];

/// The schema version of an open database (0 for an empty one).
pub(crate) fn version(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("PRAGMA user_version", [], |row| row.get(0))?)
}

/// Creates the current schema in an empty database.
pub(crate) fn create(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction()?;
    tx.execute_batch(FRESH)?;
    tx.pragma_update(None, "user_version", CURRENT_VERSION)?;
    tx.commit()?;
    Ok(())
}

/// Refuses a database that is empty or newer than this build.
pub(crate) fn check(conn: &Connection) -> Result<i64> {
    let found = version(conn)?;
    if found > CURRENT_VERSION {
        return Err(StoreError::NewerSchema {
            found,
            supported: CURRENT_VERSION,
        });
    }
    if found < 1 {
        return Err(StoreError::CorruptDatabase);
    }
    Ok(found)
}

/// Upgrades the database to [`CURRENT_VERSION`], one version per transaction.
pub(crate) fn upgrade(conn: &mut Connection) -> Result<()> {
    let mut found = check(conn)?;
    while found < CURRENT_VERSION {
        let step = usize::try_from(found - 1)
            .ok()
            .and_then(|i| MIGRATIONS.get(i))
            .ok_or(StoreError::InvalidData(
                "no migration from this schema version",
            ))?;
        let tx = conn.transaction()?;
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", found + 1)?;
        tx.commit()?;
        found += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_version_has_a_migration() {
        assert_eq!(MIGRATIONS.len() as i64, CURRENT_VERSION - 1);
    }
}
