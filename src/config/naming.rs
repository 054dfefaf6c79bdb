//! The naming part: which databases are backed up and how their backups are named (`DB_NAME`, `DB_CONTAINER`,
//! `DB_BACKUP_PREFIX`, `TZ`).

use super::raw::Raw;
use super::{Databases, EngineKind};
use crate::error::ConfigError;
use crate::naming;

/// Which databases, and the names of their series and files.
#[derive(Debug, Clone)]
pub struct Naming {
    pub databases: Databases,
    /// The databases `DB_NAME=all` leaves out (`DB_EXCLUDE`).
    pub exclude: Vec<String>,
    /// The series base name used in file names (`DB_CONTAINER`).
    pub container: String,
    /// Prepended to every file name (`DB_BACKUP_PREFIX`).
    pub prefix: String,
    /// The time zone of the times in file names (`TZ`).
    pub tz: chrono_tz::Tz,
}

impl Naming {
    /// The series name of a database's backups.
    pub fn series_for(&self, database: &str) -> String {
        match self.databases {
            Databases::One(_) | Databases::Server => self.container.clone(),
            _ => format!("{}-{}", self.container, naming::sanitize_series(database)),
        }
    }

    /// The series of the server-wide globals (roles, tablespaces) when every database is backed up.
    pub fn globals_series(&self) -> String {
        format!("{}-globals", self.container)
    }
}

/// Validates the naming settings of the engine `kind`.
pub(super) fn validate(raw: &Raw, kind: EngineKind) -> Result<Naming, ConfigError> {
    let databases = if kind.has_databases() {
        databases(raw.db_name.as_deref())?
    } else {
        Databases::Server
    };
    let exclude = super::exclude::validate(raw.db_exclude.as_deref(), &databases)?;
    let container = match &raw.db_container {
        Some(c) => {
            naming::check_series(c).map_err(|m| ConfigError::new("DB_CONTAINER", m))?;
            c.clone()
        }
        None => naming::sanitize_series(
            raw.db_host
                .as_deref()
                .or(raw.pghost.as_deref())
                .unwrap_or(kind.name()),
        ),
    };
    let prefix = raw.db_backup_prefix.clone().unwrap_or_default();
    naming::check_prefix(&prefix).map_err(|m| ConfigError::new("DB_BACKUP_PREFIX", m))?;
    let tz = match raw.tz.as_deref() {
        None => chrono_tz::UTC,
        Some(v) => v
            .trim_start_matches(':')
            .parse::<chrono_tz::Tz>()
            .map_err(|_| {
                ConfigError::new(
                    "TZ",
                    format!(
                        "{v:?} is not a time zone name; use a name such as UTC or Europe/Berlin"
                    ),
                )
            })?,
    };
    Ok(Naming {
        databases,
        exclude,
        container,
        prefix,
        tz,
    })
}

fn databases(value: Option<&str>) -> Result<Databases, ConfigError> {
    let value = value.ok_or_else(|| {
        ConfigError::new(
            "DB_NAME",
            "is required: the database to back up, a comma-separated list, or all",
        )
    })?;
    if value.eq_ignore_ascii_case("all") {
        return Ok(Databases::All);
    }
    let names: Vec<String> = value.split(',').map(|s| s.trim().to_string()).collect();
    if names.iter().any(|n| n.is_empty()) {
        return Err(ConfigError::new(
            "DB_NAME",
            format!("{value:?} has an empty name; use one name, a comma-separated list, or all"),
        ));
    }
    Ok(match names.len() {
        1 => Databases::One(names.into_iter().next().unwrap_or_default()),
        _ => Databases::List(names),
    })
}
