//! What a restore found on the server, and removing what a failed restore created (databases, then roles),
//! so that a restore onto a new server either brings everything back or leaves the server as it was.

use std::collections::HashSet;
use std::time::Instant;

use tokio_postgres::Client;

use super::globals::Existing;
use super::server::{self, quote_ident};
use crate::cancel::Cancel;
use crate::engine::postgres::settings::PgConfig;
use crate::error::Result;

/// The roles and databases that existed before a restore wrote anything, and those it asked the server to
/// create since. Only what is in the second list and not in the first is ever dropped: never something that
/// existed, nor something another session created meanwhile.
#[derive(Debug)]
pub struct Snapshot {
    roles: HashSet<String>,
    databases: HashSet<String>,
    creating_roles: HashSet<String>,
    creating_databases: HashSet<String>,
}

impl Snapshot {
    pub async fn take(client: &Client, cfg: &PgConfig) -> Result<Snapshot> {
        let found = existing(client, cfg).await?;
        Ok(Snapshot {
            roles: found.roles,
            databases: found.databases,
            creating_roles: HashSet::new(),
            creating_databases: HashSet::new(),
        })
    }

    /// Notes a role the restore creates.
    pub fn creating_role(&mut self, name: String) {
        self.creating_roles.insert(name);
    }

    /// Whether `database` did not exist when the restore began (so that a failed restore drops it).
    pub fn is_new_database(&self, database: &str) -> bool {
        !self.databases.contains(database)
    }

    /// Notes a database the restore creates.
    pub fn creating_database(&mut self, name: String) {
        self.creating_databases.insert(name);
    }
}

/// The connecting role and the roles, databases and tablespaces the server has.
pub async fn existing(client: &Client, cfg: &PgConfig) -> Result<Existing> {
    let row = client
        .query_one(
            "SELECT current_user::text, \
                    ARRAY(SELECT rolname::text FROM pg_roles), \
                    ARRAY(SELECT datname::text FROM pg_database), \
                    ARRAY(SELECT spcname::text FROM pg_tablespace)",
            &[],
        )
        .await
        .map_err(|e| server::error(cfg, "postgres", &e))?;
    let set = |i: usize| row.get::<_, Vec<String>>(i).into_iter().collect();
    Ok(Existing {
        me: row.get(0),
        roles: set(1),
        databases: set(2),
        tablespaces: set(3),
    })
}

/// Drops the databases and roles the restore created (see [`Snapshot`]); says what it did (and what it could
/// not do), or `None` when the restore had created nothing.
pub async fn remove_created(cfg: &PgConfig, cancel: &Cancel, before: &Snapshot) -> Option<String> {
    // A connection of its own: the engine's may be to a database about to be dropped.
    let client = match server::wait_for(cfg, cancel, "postgres", Instant::now()).await {
        Ok(client) => client,
        Err(e) => {
            return Some(format!(
                "what the restore created could not be removed: {e}"
            ));
        }
    };
    let now = match existing(&client, cfg).await {
        Ok(now) => now,
        Err(e) => return Some(format!("what the restore created could not be listed: {e}")),
    };
    let mut databases: Vec<&String> = now
        .databases
        .difference(&before.databases)
        .filter(|db| before.creating_databases.contains(*db))
        .collect();
    let mut roles: Vec<&String> = now
        .roles
        .difference(&before.roles)
        .filter(|role| before.creating_roles.contains(*role))
        .collect();
    databases.sort();
    roles.sort();
    if databases.is_empty() && roles.is_empty() {
        return None;
    }
    let mut removed = Vec::new();
    let mut left = Vec::new();
    let steps = databases
        .iter()
        .map(|db| {
            (
                format!("database {db}"),
                format!("DROP DATABASE {} WITH (FORCE)", quote_ident(db)),
            )
        })
        .chain(roles.iter().map(|role| {
            (
                format!("role {role}"),
                format!("DROP ROLE {}", quote_ident(role)),
            )
        }));
    for (what, sql) in steps {
        match client.batch_execute(&sql).await {
            Ok(()) => removed.push(what),
            Err(e) => {
                let why = e
                    .as_db_error()
                    .map(|d| d.message().to_string())
                    .unwrap_or_else(|| e.to_string());
                left.push(format!("{what} ({why})"))
            }
        }
    }
    let mut said = format!("removed what the restore had created: {}", list(&removed));
    if !left.is_empty() {
        said.push_str(&format!(
            "; could not remove {}: drop them by hand",
            left.join(", ")
        ));
    }
    tracing::warn!(%said, "failed restore undone");
    Some(said)
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "nothing".to_string()
    } else {
        items.join(", ")
    }
}
