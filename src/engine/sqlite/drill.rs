//! What a restore drill asks of SQLite: a restored file passes `PRAGMA integrity_check`, and the rows of each
//! of its tables.

use std::collections::BTreeMap;
use std::path::Path;

use super::{integrity_check, open_copy};
use crate::error::{Error, Result};

/// Checks the database file at `path` (opened read-only) and counts the rows of every table, by name.
pub fn check_file(path: &Path) -> Result<BTreeMap<String, u64>> {
    let conn = open_copy(path)?;
    integrity_check(&conn).map_err(|problems| {
        Error::Other(format!(
            "the restored database fails PRAGMA integrity_check: {problems}"
        ))
    })?;
    let failed = |e: rusqlite::Error| Error::Other(format!("the restored database cannot be read: {e}"));
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .and_then(|mut stmt| {
            stmt.query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<String>>>()
        })
        .map_err(failed)?;
    let mut rows = BTreeMap::new();
    for table in tables {
        let query = format!("SELECT count(*) FROM \"{}\"", table.replace('"', "\"\""));
        let count: i64 = conn.query_row(&query, [], |r| r.get(0)).map_err(failed)?;
        rows.insert(table, u64::try_from(count).unwrap_or(0));
    }
    Ok(rows)
}
