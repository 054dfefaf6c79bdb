//! What a restore drill asks of PostgreSQL: the rows of every table in the scratch database, and dropping it.

use std::collections::BTreeMap;
use std::time::Instant;

use super::Postgres;
use super::server::{self, bounded, quote_ident, wait_for};
use crate::error::Result;

impl Postgres {
    /// Rows per user table in `database` (`count(*)` of each, partitions and inheritance children on their own),
    /// by the name `pg_dump` writes: `schema.table`, each part quoted only where needed.
    pub(super) fn drill_rows(&self, database: &str) -> Result<BTreeMap<String, u64>> {
        let (cfg, cancel) = (&self.cfg, &self.cancel);
        self.runtime.block_on(async {
            let start = Instant::now();
            let client = wait_for(cfg, cancel, database, start).await?;
            let tables = client
                .query(
                    "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname) FROM pg_class c \
                     JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') \
                     AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
                     AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'",
                    &[],
                )
                .await
                .map_err(|e| server::error(cfg, database, &e))?;
            let mut rows = BTreeMap::new();
            for table in tables {
                let name: String = table.get(0);
                // The name is the server's own quote_ident output, so it is safe to put in the statement.
                let query = format!("SELECT count(*) FROM ONLY {name}");
                let count = bounded(cfg, cancel, Instant::now(), client.query_one(&query, &[]))
                    .await?
                    .map_err(|e| server::error(cfg, database, &e))?;
                rows.insert(name, u64::try_from(count.get::<_, i64>(0)).unwrap_or(0));
            }
            Ok(rows)
        })
    }

    /// Drops the scratch database `database`, ending its sessions.
    pub(super) fn drop_database(&self, database: &str) -> Result<()> {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(database));
        self.runtime.block_on(async {
            self.client
                .batch_execute(&sql)
                .await
                .map_err(|e| server::error(&self.cfg, database, &e))
        })
    }
}
