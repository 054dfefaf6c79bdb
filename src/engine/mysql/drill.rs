//! What a restore drill asks of MySQL and MariaDB: the rows of every table in the scratch database, the
//! databases on the server (for the leftovers of killed drills), and dropping a scratch database.

use std::collections::BTreeMap;

use mysql_async::prelude::Queryable;

use super::Mysql;
use super::server::{self, quote_ident};
use crate::error::Result;

impl Mysql {
    /// Rows per base table in `database` (`COUNT(*)` of each), by the table's bare name as `mysqldump`'s
    /// `INSERT INTO` statements write it.
    pub(super) fn drill_rows(&self, database: &str) -> Result<BTreeMap<String, u64>> {
        let cfg = &self.cfg;
        let mut conn = self.conn()?;
        self.runtime.block_on(async {
            let tables: Vec<String> = conn
                .exec(
                    "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? \
                     AND TABLE_TYPE = 'BASE TABLE'",
                    (database,),
                )
                .await
                .map_err(|e| server::error(cfg, database, &e))?;
            let mut rows = BTreeMap::new();
            for table in tables {
                let query = format!(
                    "SELECT COUNT(*) FROM {}.{}",
                    quote_ident(database),
                    quote_ident(&table)
                );
                let count: Option<u64> = conn
                    .query_first(query)
                    .await
                    .map_err(|e| server::error(cfg, database, &e))?;
                rows.insert(table, count.unwrap_or(0));
            }
            Ok(rows)
        })
    }

    /// Drops the scratch database `database`.
    pub(super) fn drop_database(&self, database: &str) -> Result<()> {
        let cfg = &self.cfg;
        let mut conn = self.conn()?;
        self.runtime.block_on(async {
            conn.query_drop(format!("DROP DATABASE IF EXISTS {}", quote_ident(database)))
                .await
                .map_err(|e| server::error(cfg, database, &e))
        })
    }

    /// Every database on the server but its own (`mysql`, `sys`, the schemas).
    pub(super) fn database_names(&self) -> Result<Vec<String>> {
        let mut conn = self.conn()?;
        self.runtime
            .block_on(server::list_databases(&mut conn, &self.cfg))
    }
}
