//! What a restore drill asks of PostgreSQL: the rows of every table in the scratch database, the databases on
//! the server (for the leftovers of killed drills), the rows a custom-format archive holds, and dropping a
//! scratch database.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::Stdio;
use std::time::Instant;

use super::Postgres;
use super::server::{self, bounded, quote_ident, wait_for};
use crate::drill::RowCounter;
use crate::engine::Opener;
use crate::error::{Error, Result};
use crate::pipeline::pump;
use crate::process::Tool;

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

    /// Every database on the server but the templates.
    pub(super) fn database_names(&self) -> Result<Vec<String>> {
        self.runtime.block_on(async {
            Ok(self
                .client
                .query(
                    "SELECT datname FROM pg_database WHERE NOT datistemplate",
                    &[],
                )
                .await
                .map_err(|e| server::error(&self.cfg, "postgres", &e))?
                .iter()
                .map(|row| row.get::<_, String>(0))
                .collect())
        })
    }

    /// The rows per table of a custom-format archive (`kind` `dump`): the archive streamed through
    /// `pg_restore --data-only --file=-`, whose script's `COPY` blocks are counted as a plain dump's are at
    /// backup time. `None` for any other kind (a plain dump's rows are counted as it is backed up).
    pub(super) fn archive_rows(
        &self,
        kind: &str,
        open: Opener,
    ) -> Result<Option<BTreeMap<String, u64>>> {
        if kind != "dump" {
            return Ok(None);
        }
        let mut cmd = self.tools.command("pg_restore");
        cmd.args(["--data-only", "--file=-"]);
        let mut tool = Tool::spawn("pg_restore", cmd, Stdio::piped(), Stdio::piped(), &self.cancel)?;
        let mut stdin = tool
            .take_stdin()
            .ok_or_else(|| Error::no_pipe("pg_restore", "input"))?;
        let mut stdout = tool
            .take_stdout()
            .ok_or_else(|| Error::no_pipe("pg_restore", "output"))?;
        let mut input = open()?;
        let cancel = &self.cancel;
        let mut counter = RowCounter::Postgres(Default::default());
        let (fed, read) = std::thread::scope(|scope| {
            let feeder = scope.spawn(move || {
                let fed = pump(&mut *input, cancel, &mut |chunk| stdin.write_all(chunk));
                drop(stdin);
                fed
            });
            let read = pump(&mut stdout, cancel, &mut |chunk| {
                counter.feed(chunk);
                Ok(())
            });
            drop(stdout);
            let fed = feeder.join().unwrap_or_else(|_| {
                Err(std::io::Error::other("the thread feeding pg_restore panicked"))
            });
            (fed, read)
        });
        let waited = tool.wait();
        if cancel.is_cancelled() {
            return Err(Error::Cancelled(
                "the drill was stopped while the archive's rows were counted".into(),
            ));
        }
        // pg_restore's own message explains an unreadable archive (and the broken pipe it causes) best.
        waited?;
        fed.map_err(|e| {
            Error::Other(format!("the archive could not be read for its row counts: {e}"))
        })?;
        read.map_err(|e| Error::Other(format!("pg_restore's output could not be read: {e}")))?;
        Ok(Some(counter.finish()))
    }
}
