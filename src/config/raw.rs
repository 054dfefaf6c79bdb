//! The raw step of configuration: the environment as strings, secrets read from `_FILE`, unknown names refused.

use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::path::Path;

use crate::error::ConfigError;

/// Every `DB_*` and `BACKUP_*` name configuration reads; with the engines' own (`engine::variables`), every such
/// name the program knows. Anything else with those prefixes is refused.
pub const KNOWN: &[&str] = &[
    "DB_TYPE",
    "DB_HOST",
    "DB_PORT",
    "DB_USER",
    "DB_PASSWORD",
    "DB_PASSWORD_FILE",
    "DB_NAME",
    "DB_EXCLUDE",
    "DB_CONTAINER",
    "DB_BACKUP_DIR",
    "DB_BACKUP_MAX_N",
    "DB_BACKUP_PREFIX",
    "DB_BACKUP_INTERVAL",
    "DB_WAIT_TIMEOUT",
    "DB_SSLMODE",
    "DB_SSL_CA_FILE",
    "DB_SSL_CERT_FILE",
    "DB_SSL_KEY_FILE",
    "BACKUP_DIR",
    "BACKUP_RETENTION_DAYS",
    "BACKUP_KEEP_HOURLY",
    "BACKUP_KEEP_DAILY",
    "BACKUP_KEEP_WEEKLY",
    "BACKUP_KEEP_MONTHLY",
    "BACKUP_KEEP_YEARLY",
    "BACKUP_COMPRESSION",
    "BACKUP_COMPRESSION_LEVEL",
    "BACKUP_MEMORY_LIMIT",
    "BACKUP_THREADS",
    "BACKUP_SCHEDULE",
    "BACKUP_ON_START",
    "BACKUP_RETRIES",
    "BACKUP_STOP_TIMEOUT",
    "BACKUP_USER",
    "BACKUP_ENCRYPTION_RECIPIENTS",
    "BACKUP_ENCRYPTION_PASSPHRASE",
    "BACKUP_ENCRYPTION_PASSPHRASE_FILE",
    "BACKUP_ENCRYPTION_IDENTITY_FILE",
    "BACKUP_LOCAL",
    "BACKUP_TEST_RESTORE",
];

/// The environment as the program reads it: every field optional, everything a string.
#[derive(Debug, Default, Deserialize)]
pub struct Raw {
    pub db_type: Option<String>,
    pub db_host: Option<String>,
    pub pghost: Option<String>,
    pub db_port: Option<String>,
    pub pgport: Option<String>,
    pub db_user: Option<String>,
    pub pguser: Option<String>,
    pub db_name: Option<String>,
    pub db_exclude: Option<String>,
    pub db_container: Option<String>,
    pub backup_dir: Option<String>,
    pub db_backup_dir: Option<String>,
    pub backup_retention_days: Option<String>,
    pub db_backup_max_n: Option<String>,
    pub backup_keep_hourly: Option<String>,
    pub backup_keep_daily: Option<String>,
    pub backup_keep_weekly: Option<String>,
    pub backup_keep_monthly: Option<String>,
    pub backup_keep_yearly: Option<String>,
    pub db_backup_prefix: Option<String>,
    pub backup_compression: Option<String>,
    pub backup_compression_level: Option<String>,
    pub backup_memory_limit: Option<String>,
    pub backup_threads: Option<String>,
    /// `BACKUP_USER`, which the hooks run as (the command engine reads it too).
    pub backup_user: Option<String>,
    pub db_wait_timeout: Option<String>,
    pub db_sslmode: Option<String>,
    pub pgsslmode: Option<String>,
    pub db_ssl_ca_file: Option<String>,
    pub pgsslrootcert: Option<String>,
    pub db_ssl_cert_file: Option<String>,
    pub pgsslcert: Option<String>,
    pub db_ssl_key_file: Option<String>,
    pub pgsslkey: Option<String>,
    pub tz: Option<String>,
    pub log_format: Option<String>,
    pub log_level: Option<String>,
    pub backup_schedule: Option<String>,
    pub db_backup_interval: Option<String>,
    pub backup_on_start: Option<String>,
    pub backup_retries: Option<String>,
    pub backup_stop_timeout: Option<String>,
    pub metrics_port: Option<String>,
    pub notify_on: Option<String>,
    pub notify_template: Option<String>,
    pub backup_encryption_recipients: Option<String>,
    pub backup_local: Option<String>,
    pub backup_test_restore: Option<String>,
    pub test_restore_host: Option<String>,
    pub test_restore_port: Option<String>,
    pub test_restore_user: Option<String>,
    pub test_restore_cmd: Option<String>,
    /// `TEST_RESTORE_PASSWORD` (+ `_FILE`), never deserialized.
    #[serde(skip)]
    pub test_restore_password: Option<String>,
    /// The `S3_*` and `AWS_*` variables, `_FILE` secrets read (see `s3`).
    #[serde(skip)]
    pub s3: std::collections::BTreeMap<String, String>,
    /// `RCLONE_REMOTE`, `RCLONE_<N>_REMOTE` and `RCLONE_CONFIG` (see `rclone`).
    #[serde(skip)]
    pub rclone: std::collections::BTreeMap<String, String>,
    pub backup_encryption_identity_file: Option<String>,
    /// `BACKUP_ENCRYPTION_PASSPHRASE` (+ `_FILE`), never deserialized.
    #[serde(skip)]
    pub encryption_passphrase: Option<String>,
    /// `HEALTHCHECK_PING_URL` (+ `_FILE`): the URL may embed a token, so it is read like a secret.
    #[serde(skip)]
    pub healthcheck_ping_url: Option<String>,
    /// `NOTIFY_WEBHOOK_URL` (+ `_FILE`): chat webhooks embed their token in the URL.
    #[serde(skip)]
    pub notify_webhook_url: Option<String>,
    /// `NOTIFY_URLS` (+ `_FILE`): service URLs hold tokens and passwords.
    #[serde(skip)]
    pub notify_urls: Option<String>,
    /// `BACKUP_PRE_CMD` and the other hook settings (see `hooks`).
    #[serde(skip)]
    pub hooks: super::hooks::RawHooks,
    /// The variables set, for the parts that read their own (each engine's settings).
    #[serde(skip)]
    pub env: Env,
    /// Filled from `DB_PASSWORD`, `DB_PASSWORD_FILE`, `PGPASSWORD` or `PGPASSWORD_FILE`, never deserialized.
    #[serde(skip)]
    pub password: Option<String>,
}

/// The variables set (aliases applied, empty values left out), as each engine reads its own settings from them.
#[derive(Default, Clone)]
pub struct Env(Vec<(String, String)>);

/// Names only: the values include secrets.
impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(k, _)| k))
            .finish()
    }
}

impl Env {
    /// The variables deserialised into `T`, a struct of optional strings named after them in lower case.
    pub fn read<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        envy::from_iter(self.0.clone())
            .map_err(|e| ConfigError::new("environment", format!("cannot be read: {e}")))
    }

    /// Whether the variable `name` is set (to a value that is not empty).
    pub fn is_set(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }
}

/// Reads the raw configuration from a list of variables. `read_file` is how `_FILE` secrets are read, so that
/// tests can feed files without touching the disk.
pub fn read(
    vars: &[(String, String)],
    read_file: &dyn Fn(&Path) -> std::io::Result<String>,
) -> Result<Raw, ConfigError> {
    let vars = &super::aliases::apply(vars)?;
    check_unknown(vars)?;
    // Empty values count as unset: compose files often carry `VAR=` lines.
    let set: Vec<(String, String)> = vars
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .cloned()
        .collect();
    let env = Env(set.clone());
    let mut raw: Raw = env.read()?;
    raw.env = env;
    let map: HashMap<&str, &str> = set.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    raw.password = match secret(&map, "DB_PASSWORD", read_file)? {
        Some(p) => Some(p),
        None => secret(&map, "PGPASSWORD", read_file)?,
    };
    raw.healthcheck_ping_url = secret(&map, "HEALTHCHECK_PING_URL", read_file)?;
    raw.notify_webhook_url = secret(&map, "NOTIFY_WEBHOOK_URL", read_file)?;
    raw.notify_urls = secret(&map, "NOTIFY_URLS", read_file)?;
    raw.encryption_passphrase = secret(&map, "BACKUP_ENCRYPTION_PASSPHRASE", read_file)?;
    raw.test_restore_password = secret(&map, "TEST_RESTORE_PASSWORD", read_file)?;
    raw.s3 = super::s3::read(&map, read_file)?;
    raw.rclone = super::rclone::read(&map)?;
    raw.hooks = super::hooks::read(&map);
    Ok(raw)
}

/// A secret given either directly as `NAME` or as a file path in `NAME_FILE`; both at once is an error.
fn secret(
    map: &HashMap<&str, &str>,
    name: &str,
    read_file: &dyn Fn(&Path) -> std::io::Result<String>,
) -> Result<Option<String>, ConfigError> {
    let file_var = format!("{name}_FILE");
    match (map.get(name), map.get(file_var.as_str())) {
        (Some(_), Some(_)) => Err(ConfigError::new(
            name,
            format!("set either {name} or {file_var}, not both"),
        )),
        (Some(value), None) => Ok(Some((*value).to_string())),
        (None, Some(path)) => {
            let content = read_file(Path::new(path)).map_err(|e| {
                let fix = if e.kind() == std::io::ErrorKind::PermissionDenied {
                    // SAFETY: geteuid and getegid have no preconditions.
                    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
                    format!(
                        "this process runs as uid {uid} (gid {gid}), which needs read access to it: make it \
                         readable by uid {uid} (chown {uid} or chmod 0644 on the host file; a compose secret \
                         keeps the host file's owner and mode)"
                    )
                } else {
                    "mount the secret there or fix the path".to_string()
                };
                ConfigError::new(&file_var, format!("cannot read the file {path}: {e}; {fix}"))
            })?;
            let value = content.strip_suffix('\n').unwrap_or(&content);
            let value = value.strip_suffix('\r').unwrap_or(value);
            if value.is_empty() {
                return Err(ConfigError::new(
                    &file_var,
                    format!("the file {path} is empty; it must hold the secret"),
                ));
            }
            Ok(Some(value.to_string()))
        }
        (None, None) => Ok(None),
    }
}

fn check_unknown(vars: &[(String, String)]) -> Result<(), ConfigError> {
    for (name, _) in vars {
        let ours = name.starts_with("DB_") || name.starts_with("BACKUP_");
        if !ours
            || KNOWN.contains(&name.as_str())
            || crate::engine::variables().any(|v| v == name)
            || super::hooks::known(name)
        {
            continue;
        }
        let mut message = String::from("is not a setting db-backup knows");
        if let Some(best) = suggestion(name) {
            message.push_str(&format!("; did you mean {best}?"));
        }
        message.push_str(" Remove it or fix its name (see the README for the list of settings).");
        return Err(ConfigError::new(name, message));
    }
    Ok(())
}

/// The known name closest to `name`, when it is close enough to be a likely typo.
fn suggestion(name: &str) -> Option<&'static str> {
    KNOWN
        .iter()
        .copied()
        .chain(crate::engine::variables())
        .map(|known| (strsim::jaro_winkler(name, known), known))
        .filter(|(score, _)| *score > 0.85)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, known)| known)
}

/// The raw settings of `pairs`, with no secret files, for the unit tests of the validating modules.
#[cfg(test)]
pub fn from_pairs(pairs: &[(&str, &str)]) -> Raw {
    let vars: Vec<(String, String)> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    read(&vars, &|_| Err(std::io::ErrorKind::NotFound.into())).expect("raw read")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn no_files(_: &Path) -> std::io::Result<String> {
        Err(std::io::Error::from(std::io::ErrorKind::NotFound))
    }

    #[test]
    fn unknown_name_gets_a_suggestion() {
        let err = read(&vars(&[("DB_BACKUP_MAXN", "3")]), &no_files).unwrap_err();
        assert_eq!(err.variable, "DB_BACKUP_MAXN");
        assert!(
            err.message.contains("did you mean DB_BACKUP_MAX_N"),
            "{err}"
        );
    }

    #[test]
    fn foreign_names_are_ignored() {
        let raw = read(&vars(&[("HOME", "/root"), ("PGHOST", "db")]), &no_files).unwrap();
        assert_eq!(raw.pghost.as_deref(), Some("db"));
    }

    #[test]
    fn password_from_file_drops_the_newline() {
        let raw = read(&vars(&[("DB_PASSWORD_FILE", "/run/secrets/pw")]), &|_| {
            Ok("s3cret\n".to_string())
        })
        .unwrap();
        assert_eq!(raw.password.as_deref(), Some("s3cret"));
    }

    #[test]
    fn unreadable_password_file_names_the_variable() {
        let err = read(&vars(&[("DB_PASSWORD_FILE", "/nope")]), &no_files).unwrap_err();
        assert_eq!(err.variable, "DB_PASSWORD_FILE");
        assert!(err.message.contains("/nope"));
    }

    #[test]
    fn both_password_forms_is_an_error() {
        let err = read(
            &vars(&[("DB_PASSWORD", "a"), ("DB_PASSWORD_FILE", "/x")]),
            &no_files,
        )
        .unwrap_err();
        assert_eq!(err.variable, "DB_PASSWORD");
    }

    #[test]
    fn encryption_passphrase_is_a_secret() {
        let raw = read(
            &vars(&[("BACKUP_ENCRYPTION_PASSPHRASE_FILE", "/run/secrets/p")]),
            &|_| Ok("correct horse\n".to_string()),
        )
        .unwrap();
        assert_eq!(raw.encryption_passphrase.as_deref(), Some("correct horse"));
    }
}
