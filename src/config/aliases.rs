//! The names users bring from the images and sidecars they leave (`POSTGRES_DB`, `MYSQL_PASSWORD_FILE`,
//! `SCHEDULE`...), where they mean what one of ours means: each is read as ours. Set beside ours (or beside
//! another alias of it) with a different value, the configuration is refused naming both.

use crate::error::ConfigError;

/// A foreign name and the name of ours that means the same.
pub const ALIASES: &[(&str, &str)] = &[
    ("POSTGRES_HOST", "DB_HOST"),
    ("POSTGRES_PORT", "DB_PORT"),
    ("POSTGRES_USER", "DB_USER"),
    ("POSTGRES_PASSWORD", "DB_PASSWORD"),
    ("POSTGRES_PASSWORD_FILE", "DB_PASSWORD_FILE"),
    ("POSTGRES_DB", "DB_NAME"),
    ("PGDATABASE", "DB_NAME"),
    ("MYSQL_HOST", "DB_HOST"),
    ("MYSQL_PORT", "DB_PORT"),
    ("MYSQL_USER", "DB_USER"),
    ("MYSQL_PASSWORD", "DB_PASSWORD"),
    ("MYSQL_PASSWORD_FILE", "DB_PASSWORD_FILE"),
    ("MYSQL_DATABASE", "DB_NAME"),
    ("MARIADB_USER", "DB_USER"),
    ("MARIADB_PASSWORD", "DB_PASSWORD"),
    ("MARIADB_PASSWORD_FILE", "DB_PASSWORD_FILE"),
    ("MARIADB_DATABASE", "DB_NAME"),
    ("SCHEDULE", "BACKUP_SCHEDULE"),
];

/// Names of ours that are one setting: a password given one way here and another way there is a conflict.
const SAME_SETTING: &[&str] = &["DB_PASSWORD", "DB_PASSWORD_FILE"];

/// The names of ours that set the same thing as `ours`.
fn setting(ours: &'static str) -> Vec<&'static str> {
    if SAME_SETTING.contains(&ours) {
        SAME_SETTING.to_vec()
    } else {
        vec![ours]
    }
}

/// `vars` with each alias that is set (not empty) added under our name. Refused, naming both, when our name
/// (or another alias of it) is set to something else; the same name and value twice is fine.
pub fn apply(vars: &[(String, String)]) -> Result<Vec<(String, String)>, ConfigError> {
    let set = |name: &str| {
        vars.iter()
            .rev()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    let mut out = vars.to_vec();
    // (our name, the name it was given as, the value)
    let mut given: Vec<(&str, &str, String)> = Vec::new();
    for (_, ours) in ALIASES {
        if let Some(v) = set(ours)
            && !given.iter().any(|(o, _, _)| o == ours)
        {
            given.push((ours, ours, v));
        }
    }
    for (foreign, ours) in ALIASES {
        let Some(value) = set(foreign) else { continue };
        let same = setting(ours);
        match given.iter().find(|(o, _, _)| same.contains(o)) {
            Some((o, _, v)) if o == ours && *v == value => {}
            Some((_, by, _)) => {
                return Err(ConfigError::new(
                    *foreign,
                    format!(
                        "is set and so is {by}, differently: db-backup reads {foreign} as {ours}; keep one of them"
                    ),
                ));
            }
            None => {
                given.push((ours, foreign, value.clone()));
                out.push((ours.to_string(), value));
            }
        }
    }
    Ok(out)
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

    #[test]
    fn an_alias_is_read_as_ours() {
        let out = apply(&vars(&[("POSTGRES_DB", "app"), ("SCHEDULE", "@daily")])).unwrap();
        assert!(out.contains(&("DB_NAME".into(), "app".into())));
        assert!(out.contains(&("BACKUP_SCHEDULE".into(), "@daily".into())));
    }

    #[test]
    fn the_same_value_twice_is_fine() {
        let out = apply(&vars(&[
            ("DB_NAME", "app"),
            ("POSTGRES_DB", "app"),
            ("PGDATABASE", "app"),
        ]))
        .unwrap();
        assert_eq!(out.iter().filter(|(k, _)| k == "DB_NAME").count(), 1);
    }

    #[test]
    fn different_values_are_refused_naming_both() {
        let err = apply(&vars(&[("DB_NAME", "app"), ("POSTGRES_DB", "other")])).unwrap_err();
        assert_eq!(err.variable, "POSTGRES_DB");
        assert!(err.message.contains("DB_NAME"), "{err}");
        let err = apply(&vars(&[("POSTGRES_DB", "a"), ("PGDATABASE", "b")])).unwrap_err();
        assert!(
            err.to_string().contains("PGDATABASE") && err.message.contains("POSTGRES_DB"),
            "{err}"
        );
        // A password given as a file here and as a value there is two passwords.
        let err = apply(&vars(&[
            ("DB_PASSWORD_FILE", "/s"),
            ("POSTGRES_PASSWORD", "pw"),
        ]))
        .unwrap_err();
        assert!(err.message.contains("DB_PASSWORD_FILE"), "{err}");
    }
}
