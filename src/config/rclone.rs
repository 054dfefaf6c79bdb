//! Destinations reached through rclone: `RCLONE_REMOTE` (e.g. `union:databases` or `sftp-box:/backups`), and
//! further ones as numbered groups `RCLONE_2_REMOTE` to `RCLONE_9_REMOTE`. The remotes themselves are rclone's:
//! defined in the rclone config file (`RCLONE_CONFIG`) or by `RCLONE_CONFIG_<NAME>_<OPTION>` variables, which
//! rclone reads from its environment. Every other `RCLONE_*` name is rclone's own and left to it.

use std::collections::{BTreeMap, HashMap};

use crate::error::ConfigError;

/// The names inside a group (after `RCLONE_` or `RCLONE_<N>_`).
const FIELDS: &[&str] = &["REMOTE"];

/// The highest group number.
const MAX_GROUP: u32 = 9;

/// Option names in a connection string that carry a secret: on rclone's command line, any process could read
/// them.
const SECRET_WORDS: &[&str] = &[
    "pass",
    "secret",
    "token",
    "key",
    "sas",
    "credentials",
    "bearer",
    "cookie",
];

/// One destination reached through rclone, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RcloneSettings {
    /// `rclone` for the first group, `rclone_2`... for the numbered ones: what `list` shows and `--from` takes.
    pub name: String,
    /// The variable that names the remote (`RCLONE_REMOTE`, `RCLONE_2_REMOTE`), for messages.
    pub var: String,
    /// `remote:path` as rclone takes it, e.g. `union:databases`.
    pub remote: String,
    /// `RCLONE_CONFIG`, when set: the config file rclone reads (it reads the variable itself).
    pub config_file: Option<String>,
}

impl RcloneSettings {
    /// The rclone path of a file in this destination.
    pub fn path_of(&self, file: &str) -> String {
        if self.remote.ends_with(':') || self.remote.ends_with('/') {
            format!("{}{file}", self.remote)
        } else {
            format!("{}/{file}", self.remote)
        }
    }

    /// The remote's name as rclone's config knows it (`union` of `union:databases`), when it is a named one.
    pub fn remote_name(&self) -> Option<&str> {
        let name = self.remote.split([':', ',']).next()?;
        (!name.is_empty()).then_some(name)
    }
}

/// Whether `name` is one of ours: the variables of the groups, which db-backup reads and rclone never sees.
pub fn is_ours(name: &str) -> bool {
    group_field(name).is_some_and(|(n, field)| {
        (n == 1 || (2..=MAX_GROUP).contains(&n)) && FIELDS.contains(&field)
    })
}

/// `(group, field)` of `RCLONE_<field>` (group 1) or `RCLONE_<N>_<field>`.
fn group_field(name: &str) -> Option<(u32, &str)> {
    let rest = name.strip_prefix("RCLONE_")?;
    if FIELDS.contains(&rest) {
        return Some((1, rest));
    }
    let (n, field) = rest.split_once('_')?;
    // `RCLONE_1_REMOTE` is not a name: the first group has none.
    let n: u32 = n.parse().ok()?;
    (n != 1).then_some((n, field))
}

/// Collects the group variables (and `RCLONE_CONFIG`), and refuses names that look like ours but are not: a
/// group out of range, a field db-backup does not know, `RCLONE_REMOTE_2` for `RCLONE_2_REMOTE`.
pub fn read(map: &HashMap<&str, &str>) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut out = BTreeMap::new();
    for (&name, &value) in map {
        if name == "RCLONE_CONFIG" {
            out.insert(name.to_string(), value.to_string());
            continue;
        }
        let numbered = name
            .strip_prefix("RCLONE_")
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
        let looks_ours = numbered || (name.starts_with("RCLONE_REMOTE") && name != "RCLONE_REMOTE");
        if is_ours(name) {
            out.insert(name.to_string(), value.to_string());
        } else if looks_ours {
            return Err(ConfigError::new(
                name,
                format!(
                    "is not a setting db-backup knows; rclone destinations are named by RCLONE_REMOTE, and \
                     RCLONE_2_REMOTE ... RCLONE_{MAX_GROUP}_REMOTE for more of them"
                ),
            ));
        }
    }
    Ok(out)
}

/// Validates every group.
pub fn validate(vars: &BTreeMap<String, String>) -> Result<Vec<RcloneSettings>, ConfigError> {
    let config_file = vars.get("RCLONE_CONFIG").cloned();
    let mut out = Vec::new();
    for n in 1..=MAX_GROUP {
        let var = if n == 1 {
            "RCLONE_REMOTE".to_string()
        } else {
            format!("RCLONE_{n}_REMOTE")
        };
        let Some(value) = vars.get(&var) else {
            continue;
        };
        let remote = check_remote(&var, value)?;
        if let Some(same) = out.iter().find(|r: &&RcloneSettings| r.remote == remote) {
            return Err(ConfigError::new(
                &var,
                format!(
                    "names the same remote as {} ({remote}): every backup would be written there twice",
                    same.var
                ),
            ));
        }
        out.push(RcloneSettings {
            name: if n == 1 {
                "rclone".to_string()
            } else {
                format!("rclone_{n}")
            },
            var,
            remote,
            config_file: config_file.clone(),
        });
    }
    Ok(out)
}

/// A remote as rclone takes it: `name:path`, or `:backend:path` for a backend without a config section. A
/// connection string that carries a secret is refused: it would be on rclone's command line.
fn check_remote(var: &str, value: &str) -> Result<String, ConfigError> {
    let remote = value.trim();
    let example = "give <remote>:<path> with a remote of your rclone config, e.g. sftp-box:/backups or \
                   union:databases";
    let Some((head, _path)) = split_remote(remote) else {
        return Err(ConfigError::new(
            var,
            format!(
                "{value:?} is not an rclone remote: {example} (a directory on this machine is BACKUP_DIR, or \
                 :local:/path)"
            ),
        ));
    };
    let name = head.trim_start_matches(':').split(',').next().unwrap_or("");
    let name_ok = !name.is_empty()
        && !name.starts_with(['-', ' '])
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '+' | '@' | ' '));
    if !name_ok {
        return Err(ConfigError::new(
            var,
            format!(
                "{value:?} does not start with a remote name (letters, digits, '_', '-', '.', '+', '@'): {example}"
            ),
        ));
    }
    for option in head.split(',').skip(1) {
        let key = option.split('=').next().unwrap_or("").to_ascii_lowercase();
        if SECRET_WORDS.iter().any(|w| key.contains(w)) {
            return Err(ConfigError::new(
                var,
                format!(
                    "sets the option {key:?} in the remote itself, which would put a secret on rclone's command \
                     line where other processes can read it: put it in the rclone config file (RCLONE_CONFIG) or \
                     in RCLONE_CONFIG_<REMOTE>_{} and name that remote here",
                    key.to_ascii_uppercase()
                ),
            ));
        }
    }
    Ok(remote.to_string())
}

/// `(remote part, path)` of `name:path` or `:backend[,options]:path`; `None` without a `:`. Quoted option values
/// (`"a:b"` or `'a:b'`) may hold a `:`.
fn split_remote(remote: &str) -> Option<(&str, &str)> {
    let start = usize::from(remote.starts_with(':'));
    let mut quote = None;
    for (i, c) in remote.char_indices().skip(start) {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, ':') => return Some((&remote[..i], &remote[i + 1..])),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn read_pairs(pairs: &[(&str, &str)]) -> Result<BTreeMap<String, String>, ConfigError> {
        read(&pairs.iter().copied().collect())
    }

    #[test]
    fn groups_are_numbered_like_the_s3_ones() {
        let got = validate(&vars(&[
            ("RCLONE_REMOTE", " union:databases "),
            ("RCLONE_3_REMOTE", ":local:/srv/backups/"),
            ("RCLONE_CONFIG", "/config/rclone.conf"),
        ]))
        .unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].name.as_str(), got[0].remote.as_str()),
            ("rclone", "union:databases")
        );
        assert_eq!(got[0].path_of("x.gz"), "union:databases/x.gz");
        assert_eq!(got[0].remote_name(), Some("union"));
        assert_eq!(got[1].name, "rclone_3");
        assert_eq!(got[1].path_of("x.gz"), ":local:/srv/backups/x.gz");
        assert_eq!(got[1].remote_name(), None);
        assert_eq!(got[1].config_file.as_deref(), Some("/config/rclone.conf"));
        let root = validate(&vars(&[("RCLONE_REMOTE", "box:")])).unwrap();
        assert_eq!(root[0].path_of("x"), "box:x");
    }

    #[test]
    fn a_remote_must_name_a_remote() {
        for bad in ["/backups", "backups", ":", "-x:y", "a/b:c"] {
            let err = validate(&vars(&[("RCLONE_2_REMOTE", bad)])).unwrap_err();
            assert_eq!(err.variable, "RCLONE_2_REMOTE", "{bad}");
            assert!(err.message.contains("sftp-box:/backups"), "{err}");
        }
        let err = validate(&vars(&[
            ("RCLONE_REMOTE", "a:x"),
            ("RCLONE_2_REMOTE", "a:x"),
        ]))
        .unwrap_err();
        assert!(err.message.contains("RCLONE_REMOTE"), "{err}");
    }

    #[test]
    fn secrets_in_a_connection_string_are_refused() {
        for bad in [
            ":sftp,host=h,pass=abc:/x",
            "box,password='a:b':/x",
            ":s3,secret_access_key=k:bucket",
        ] {
            let err = validate(&vars(&[("RCLONE_REMOTE", bad)])).unwrap_err();
            assert!(err.message.contains("RCLONE_CONFIG_<REMOTE>_"), "{err}");
            assert!(!err.to_string().contains("abc"), "{err}");
        }
        let ok = validate(&vars(&[("RCLONE_REMOTE", ":sftp,host=h,user=u:/x")])).unwrap();
        assert_eq!(ok[0].remote, ":sftp,host=h,user=u:/x");
    }

    #[test]
    fn names_like_ours_are_refused_and_rclones_own_are_left_alone() {
        for bad in [
            "RCLONE_REMOTE_2",
            "RCLONE_10_REMOTE",
            "RCLONE_1_REMOTE",
            "RCLONE_2_REMOTES",
        ] {
            let err = read_pairs(&[(bad, "x:y")]).unwrap_err();
            assert_eq!(err.variable, bad);
            assert!(err.message.contains("RCLONE_2_REMOTE"), "{err}");
        }
        let got = read_pairs(&[
            ("RCLONE_REMOTE", "x:y"),
            ("RCLONE_CONFIG_X_TYPE", "local"),
            ("RCLONE_TRANSFERS", "2"),
            ("RCLONE_CONFIG", "/c"),
        ])
        .unwrap();
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            ["RCLONE_CONFIG", "RCLONE_REMOTE"]
        );
    }
}
