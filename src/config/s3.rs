//! Off-site destinations: S3-compatible object stores. The primary one is configured by the `S3_*` names (with
//! the standard `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_REGION` as fallbacks); further ones by
//! numbered groups with the same names, `S3_2_*` to `S3_9_*`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

mod addressing;
mod sources;

pub use sources::Source;

use super::Secret;
use super::values::number;
use crate::error::ConfigError;

/// The names inside a group (after `S3_` or `S3_<N>_`).
const FIELDS: &[&str] = &[
    "ENDPOINT",
    "ACCESS_KEY",
    "ACCESS_KEY_FILE",
    "SECRET_KEY",
    "SECRET_KEY_FILE",
    "SESSION_TOKEN",
    "SESSION_TOKEN_FILE",
    "BACKUP_BUCKET",
    "REGION",
    "PREFIX",
    "FORCE_PATH_STYLE",
    "CA_FILE",
];

/// Settings of every destination, not per group.
const GLOBAL: &[&str] = &["S3_PART_SIZE", "S3_RETRY_SECONDS"];

/// The highest group number.
const MAX_GROUP: u32 = 9;

/// The smallest part S3 accepts (except for the last part of an upload).
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;
/// 16 MiB parts: 10,000 of them (S3's limit) hold 156 GiB of compressed dump; memory per destination is
/// at most three parts (two uploading, one filling).
pub const DEFAULT_PART_SIZE: usize = 16 * 1024 * 1024;

/// One S3-compatible destination, validated.
#[derive(Debug, Clone)]
pub struct S3Settings {
    /// `s3` for the primary group, `s3_2`... for the numbered ones: what `list` shows and `--from` takes.
    pub name: String,
    /// The variable prefix of the group (`S3_`, `S3_2_`), for messages.
    pub var_prefix: String,
    /// `https://host[:port]`, without a trailing slash.
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    /// Empty, or a path ending in `/` under which every object is kept.
    pub prefix: String,
    pub path_style: bool,
    /// Which addressing style was chosen and why, for `config`.
    pub addressing: String,
    /// The static keys; empty when `source` provides the credentials.
    pub access_key: Secret,
    pub secret_key: Secret,
    /// Where temporary credentials come from when no keys are set (the first group only).
    pub source: Option<Source>,
    /// PEM certificates of private CAs, trusted beside the system's (`S3_CA_FILE`, or `AWS_CA_BUNDLE`).
    pub ca_file: Option<PathBuf>,
    /// A temporary credential's token (`S3_SESSION_TOKEN`, or `AWS_SESSION_TOKEN` with the `AWS_*` keys).
    pub session_token: Option<Secret>,
    pub part_size: usize,
    /// How long one request is retried on transient errors before it counts as failed.
    pub retry_seconds: u64,
}

/// Collects the `S3_*` and `AWS_*` variables, `_FILE` secrets read, and refuses unknown `S3_*` names.
pub fn read(
    map: &std::collections::HashMap<&str, &str>,
    read_file: &dyn Fn(&Path) -> std::io::Result<String>,
) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut out = BTreeMap::new();
    for (&name, &value) in map {
        if name.starts_with("AWS_") {
            out.insert(name.to_string(), value.to_string());
            continue;
        }
        if !name.starts_with("S3_") {
            continue;
        }
        if !is_known(name) {
            return Err(ConfigError::new(
                name,
                format!(
                    "is not a setting db-backup knows; the S3 settings are S3_{} (S3_2_... S3_{MAX_GROUP}_... for \
                     more destinations) and {}",
                    FIELDS.join(", S3_"),
                    GLOBAL.join(", ")
                ),
            ));
        }
        if name.ends_with("_KEY_FILE") || name.ends_with("_TOKEN_FILE") {
            let var = name.trim_end_matches("_FILE");
            if map.contains_key(var) {
                return Err(ConfigError::new(
                    var,
                    format!("set either {var} or {name}, not both"),
                ));
            }
            let content = read_file(Path::new(value)).map_err(|e| {
                ConfigError::new(
                    name,
                    format!(
                        "cannot read the file {value}: {e}; mount the secret there or fix the path"
                    ),
                )
            })?;
            let content = content.trim_end_matches(['\n', '\r']);
            if content.is_empty() {
                return Err(ConfigError::new(
                    name,
                    format!("the file {value} is empty; it must hold the secret"),
                ));
            }
            out.insert(var.to_string(), content.to_string());
        } else {
            out.insert(name.to_string(), value.to_string());
        }
    }
    Ok(out)
}

fn is_known(name: &str) -> bool {
    if GLOBAL.contains(&name) {
        return true;
    }
    let Some(rest) = name.strip_prefix("S3_") else {
        return false;
    };
    if FIELDS.contains(&rest) {
        return true;
    }
    match rest.split_once('_') {
        Some((n, field)) => {
            n.parse::<u32>().is_ok_and(|n| (2..=MAX_GROUP).contains(&n)) && FIELDS.contains(&field)
        }
        None => false,
    }
}

/// Validates every group.
pub fn validate(vars: &BTreeMap<String, String>) -> Result<Vec<S3Settings>, ConfigError> {
    let part_size = match vars.get("S3_PART_SIZE") {
        None => DEFAULT_PART_SIZE,
        Some(v) => {
            let size = parse_size("S3_PART_SIZE", v)?;
            if !(MIN_PART_SIZE..=5 * 1024 * 1024 * 1024).contains(&size) {
                return Err(ConfigError::new(
                    "S3_PART_SIZE",
                    format!(
                        "{v:?} is out of range: must be from 5MiB (S3's smallest part) to 5GiB"
                    ),
                ));
            }
            size
        }
    };
    let retry_seconds = match vars.get("S3_RETRY_SECONDS") {
        None => 120,
        Some(v) => number("S3_RETRY_SECONDS", v, "a whole number of seconds")?,
    };
    let mut remotes = Vec::new();
    for n in 1..=MAX_GROUP {
        let prefix = if n == 1 {
            "S3_".to_string()
        } else {
            format!("S3_{n}_")
        };
        let get = |field: &str| vars.get(&format!("{prefix}{field}")).map(String::as_str);
        let any = FIELDS.iter().any(|f| get(f).is_some());
        let Some(bucket) = get("BACKUP_BUCKET") else {
            if any {
                return Err(ConfigError::new(
                    format!("{prefix}BACKUP_BUCKET"),
                    format!(
                        "is required when any {prefix}* setting is set: the bucket to keep backups in"
                    ),
                ));
            }
            continue;
        };
        let aws = |name: &str| {
            if n == 1 {
                vars.get(name).map(String::as_str)
            } else {
                None
            }
        };
        let region_var = [
            format!("{prefix}REGION"),
            "AWS_REGION".to_string(),
            "AWS_DEFAULT_REGION".to_string(),
        ]
        .into_iter()
        .find(|name| (name.starts_with(&prefix) || n == 1) && vars.contains_key(name));
        let region = match &region_var {
            Some(var) => check_region(var, &vars[var])?,
            None => "us-east-1".to_string(),
        };
        // The standard order: the group's own, then (first group) the S3 one of the AWS names, then the general.
        let endpoint_var = [
            format!("{prefix}ENDPOINT"),
            "AWS_ENDPOINT_URL_S3".to_string(),
            "AWS_ENDPOINT_URL".to_string(),
        ]
        .into_iter()
        .find(|name| (name.starts_with(&prefix) || n == 1) && vars.contains_key(name));
        let endpoint = match &endpoint_var {
            Some(var) => endpoint(var, &vars[var])?,
            None => format!("https://s3.{region}.amazonaws.com"),
        };
        check_bucket(&format!("{prefix}BACKUP_BUCKET"), bucket)?;
        let key_prefix = key_prefix(&format!("{prefix}PREFIX"), get("PREFIX").unwrap_or(""))?;
        let style = addressing::choose(&prefix, &endpoint, bucket, get("FORCE_PATH_STYLE"))?;
        // A key: `<prefix><field>` (or `_FILE`), else the AWS name for the first group.
        let key = |field: &str, aws_name: &str| {
            get(field).or(aws(aws_name)).ok_or_else(|| {
                let fallback = if n == 1 {
                    format!(" (or {aws_name})")
                } else {
                    String::new()
                };
                ConfigError::new(
                    format!("{prefix}{field}"),
                    format!(
                        "is required for the bucket {bucket}: set {prefix}{field} or {prefix}{field}_FILE{fallback}"
                    ),
                )
            })
        };
        // Without keys, the first group takes its credentials from the environment (`sources`).
        let keyless = n == 1
            && get("ACCESS_KEY").or(aws("AWS_ACCESS_KEY_ID")).is_none()
            && get("SECRET_KEY").or(aws("AWS_SECRET_ACCESS_KEY")).is_none();
        let (access_key, secret_key, source) = if keyless {
            ("", "", Some(sources::choose(vars, &region)?))
        } else {
            (
                key("ACCESS_KEY", "AWS_ACCESS_KEY_ID")?,
                key("SECRET_KEY", "AWS_SECRET_ACCESS_KEY")?,
                None,
            )
        };
        let ca_file = match (get("CA_FILE"), aws("AWS_CA_BUNDLE")) {
            (Some(path), _) => Some(ca_file(&format!("{prefix}CA_FILE"), path)?),
            (None, Some(path)) => Some(ca_file("AWS_CA_BUNDLE", path)?),
            (None, None) => None,
        };
        // The token belongs to the key pair: the group's own with the group's keys, else the AWS one.
        let session_token = if keyless {
            None
        } else if get("ACCESS_KEY").is_some() {
            get("SESSION_TOKEN")
        } else {
            aws("AWS_SESSION_TOKEN")
        }
        .filter(|t| !t.trim().is_empty())
        .map(|t| Secret(t.trim().to_string()));
        remotes.push(S3Settings {
            name: if n == 1 {
                "s3".to_string()
            } else {
                format!("s3_{n}")
            },
            var_prefix: prefix.clone(),
            endpoint,
            bucket: bucket.to_string(),
            region,
            prefix: key_prefix,
            path_style: style.path_style,
            addressing: style.reason,
            access_key: Secret(access_key.to_string()),
            secret_key: Secret(secret_key.to_string()),
            source,
            ca_file,
            session_token,
            part_size,
            retry_seconds,
        });
    }
    Ok(remotes)
}

/// A CA bundle: a readable file of PEM certificates.
fn ca_file(var: &str, path: &str) -> Result<PathBuf, ConfigError> {
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let bytes = std::fs::read(path.trim()).map_err(|e| {
        ConfigError::new(
            var,
            format!("cannot read {path}: {e}; mount the CA bundle there or fix the path"),
        )
    })?;
    let certs = CertificateDer::pem_slice_iter(&bytes).collect::<Result<Vec<_>, _>>();
    if !certs.is_ok_and(|c| !c.is_empty()) {
        return Err(ConfigError::new(
            var,
            format!(
                "{path} holds no PEM certificate; give the CA certificates as PEM (-----BEGIN CERTIFICATE-----)"
            ),
        ));
    }
    Ok(PathBuf::from(path.trim()))
}

/// `16MiB`, `16M`, `16777216`...
pub(super) fn parse_size(var: &str, value: &str) -> Result<usize, ConfigError> {
    let v = value.trim();
    let digits_end = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (digits, unit) = v.split_at(digits_end);
    let factor: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" | "kb" => 1024,
        "m" | "mib" | "mb" => 1024 * 1024,
        "g" | "gib" | "gb" => 1024 * 1024 * 1024,
        _ => 0,
    };
    let n: usize = digits.parse().unwrap_or(0);
    if factor == 0 || digits.is_empty() {
        return Err(ConfigError::new(
            var,
            format!("{value:?} is not a size: give bytes or a size such as 16MiB"),
        ));
    }
    n.checked_mul(factor)
        .ok_or_else(|| ConfigError::new(var, format!("{value:?} is too large")))
}

fn endpoint(var: &str, value: &str) -> Result<String, ConfigError> {
    let v = value.trim().trim_end_matches('/');
    let rest = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains('/') && !host.contains('?') => {
            Ok(v.to_string())
        }
        _ => Err(ConfigError::new(
            var,
            format!(
                "{value:?} is not an endpoint: give http(s)://host[:port], e.g. https://s3.eu-central-1.amazonaws.com or http://minio:9000"
            ),
        )),
    }
}

/// A region name: it goes into the signature and, without an endpoint, into the host name.
fn check_region(var: &str, value: &str) -> Result<String, ConfigError> {
    let v = value.trim();
    let ok = (1..=64).contains(&v.len())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        return Ok(v.to_string());
    }
    Err(ConfigError::new(
        var,
        format!(
            "{value:?} is not a region name: letters, digits, '-', '_' and '.', e.g. us-east-1 or eu-central-003"
        ),
    ))
}

fn check_bucket(var: &str, bucket: &str) -> Result<(), ConfigError> {
    let ok = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && !bucket.starts_with(['-', '.']);
    if ok {
        return Ok(());
    }
    Err(ConfigError::new(
        var,
        format!("{bucket:?} is not a bucket name: 3 to 63 lowercase letters, digits, '-' and '.'"),
    ))
}

/// The prefix as a key prefix: empty, or path segments joined by `/` with a trailing `/`, so that `backups`
/// lists `backups/...` and never `backups-old/...`.
fn key_prefix(var: &str, value: &str) -> Result<String, ConfigError> {
    let trimmed = value.trim().trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    for segment in trimmed.split('/') {
        let ok = !segment.is_empty()
            && segment != "."
            && segment != ".."
            && segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok {
            return Err(ConfigError::new(
                var,
                format!(
                    "{value:?} is not a usable prefix: path segments of letters, digits, '-', '_' and '.', separated by '/'"
                ),
            ));
        }
    }
    Ok(format!("{trimmed}/"))
}

#[cfg(test)]
mod tests;
