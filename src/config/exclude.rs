//! `DB_EXCLUDE`: the databases that `DB_NAME=all` leaves out, checked against the configuration here and
//! applied to the server's list of databases by the engines.

use super::{Databases, Naming};
use crate::error::ConfigError;

/// The names in `DB_EXCLUDE` (comma-separated, trimmed). Refused unless `DB_NAME=all`: with one name or a list,
/// the database is left out by not naming it, and an engine without databases has nothing to leave out.
pub fn validate(value: Option<&str>, databases: &Databases) -> Result<Vec<String>, ConfigError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    match databases {
        Databases::All => {}
        Databases::Server => {
            return Err(ConfigError::new(
                "DB_EXCLUDE",
                "this engine backs up a whole server or file, with no databases to leave out; remove DB_EXCLUDE",
            ));
        }
        Databases::One(_) | Databases::List(_) => {
            return Err(ConfigError::new(
                "DB_EXCLUDE",
                "applies only to DB_NAME=all; with named databases, leave the database out of DB_NAME instead",
            ));
        }
    }
    let names: Vec<String> = value.split(',').map(|s| s.trim().to_string()).collect();
    if names.iter().any(String::is_empty) {
        return Err(ConfigError::new(
            "DB_EXCLUDE",
            format!(
                "{value:?} has an empty name; give a database name or a comma-separated list of them"
            ),
        ));
    }
    Ok(names)
}

/// The server's databases (`DB_NAME=all`) less those in `DB_EXCLUDE`. A name that matches none of them is
/// logged as a warning (the database may have been dropped; a backup must not fail for that), and leaving out
/// every database is an error: exit status 0 must mean a backup exists.
pub fn apply(naming: &Naming, names: Vec<String>) -> Result<Vec<String>, ConfigError> {
    if naming.exclude.is_empty() {
        return Ok(names);
    }
    let unmatched: Vec<&str> = naming
        .exclude
        .iter()
        .filter(|x| !names.contains(x))
        .map(String::as_str)
        .collect();
    if !unmatched.is_empty() {
        tracing::warn!(
            unmatched = %unmatched.join(","),
            databases = %names.join(","),
            "DB_EXCLUDE names databases that DB_NAME=all does not back up (names are exact and case-sensitive); \
             nothing was left out for them"
        );
    }
    let kept: Vec<String> = names.iter().filter(|n| keeps(naming, n)).cloned().collect();
    if kept.is_empty() && !names.is_empty() {
        return Err(ConfigError::new(
            "DB_EXCLUDE",
            format!(
                "leaves out every database of the server ({}): nothing would be backed up; remove some names",
                names.join(", ")
            ),
        ));
    }
    Ok(kept)
}

/// Whether `database` is backed up, not left out by `DB_EXCLUDE` (for the globals' database properties).
pub fn keeps(naming: &Naming, database: &str) -> bool {
    !naming.exclude.iter().any(|x| x == database)
}

/// Whether `series` is the series of a database in `DB_EXCLUDE`: `restore latest` leaves it alone, so that an
/// old backup of a database no longer backed up does not overwrite it.
pub fn is_excluded_series(naming: &Naming, series: &str) -> bool {
    naming
        .exclude
        .iter()
        .any(|db| naming.series_for(db) == series)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_with_all() {
        let all = validate(Some(" scratch , test "), &Databases::All).unwrap();
        assert_eq!(all, ["scratch", "test"]);
        assert!(
            validate(None, &Databases::One("a".into()))
                .unwrap()
                .is_empty()
        );
        let one = validate(Some("x"), &Databases::One("a".into())).unwrap_err();
        assert!(one.message.contains("only to DB_NAME=all"), "{one}");
        let list = validate(Some("x"), &Databases::List(vec!["a".into(), "b".into()])).unwrap_err();
        assert_eq!(list.variable, "DB_EXCLUDE");
        let server = validate(Some("x"), &Databases::Server).unwrap_err();
        assert!(server.message.contains("remove DB_EXCLUDE"), "{server}");
        let empty = validate(Some("a,,b"), &Databases::All).unwrap_err();
        assert!(empty.message.contains("empty name"), "{empty}");
    }

    fn all_but(exclude: &str) -> Naming {
        let vars = [
            ("DB_NAME", "all"),
            ("DB_EXCLUDE", exclude),
            ("DB_CONTAINER", "pg"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        super::super::Config::from_vars(&vars, &|_| Err(std::io::ErrorKind::NotFound.into()))
            .unwrap()
            .naming
    }

    #[test]
    fn apply_leaves_out_exact_names_only() {
        let cfg = all_but("scratch,Missing");
        let names = ["app", "scratch", "Scratch"].map(String::from).to_vec();
        assert_eq!(apply(&cfg, names).unwrap(), ["app", "Scratch"]);
        assert!(is_excluded_series(&cfg, "pg-scratch"));
        assert!(!is_excluded_series(&cfg, "pg-app"));
    }

    #[test]
    fn leaving_out_everything_is_an_error() {
        let cfg = all_but("a,b");
        let err = apply(&cfg, vec!["a".into(), "b".into()]).unwrap_err();
        assert!(err.message.contains("every database"), "{err}");
    }
}
