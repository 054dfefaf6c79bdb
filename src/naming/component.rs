//! The parts of a backup name a user chooses (prefix, series, kind): what each may contain, and turning
//! a host or database name into a valid series.

/// Words that follow the kind in a name; a kind spelled like one of them would make a name misleading
/// (`x-...T....gz` that is not gzip) and is refused.
const RESERVED_KINDS: [&str; 4] = ["gz", "zst", "age", "sha256"];

/// Validates a series component: non-empty, only `[A-Za-z0-9._-]`, not starting with '.'.
pub fn check_series(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("the series name is empty".to_owned());
    }
    check_component("series", s)
}

/// Validates a prefix: may be empty, otherwise the same rules as [`check_series`].
pub fn check_prefix(s: &str) -> Result<(), String> {
    check_component("prefix", s)
}

/// Validates a kind (the extension after the timestamp): non-empty `[A-Za-z0-9_]+`, and not one of the
/// suffixes that may follow it (`gz`, `zst`, `age`, `sha256`).
pub fn check_kind(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("the file kind (extension) is empty".to_owned());
    }
    if let Some(c) = s
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || c == '_'))
    {
        return Err(format!(
            "the file kind {s:?} contains {c:?}; only letters, digits and '_' are allowed"
        ));
    }
    if RESERVED_KINDS.contains(&s) {
        return Err(format!(
            "the file kind {s:?} would be mistaken for a suffix; it may not be one of {}",
            RESERVED_KINDS.join(", ")
        ));
    }
    Ok(())
}

/// Turns an arbitrary string (a host name, a database name) into a valid series component by replacing
/// disallowed characters with '_'. A leading '.' is replaced too (it would hide the file), and an empty
/// string becomes `_`.
pub fn sanitize_series(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| if is_name_char(c) { c } else { '_' })
        .collect();
    if out.starts_with('.') {
        out.replace_range(..1, "_");
    }
    if out.is_empty() {
        out.push('_');
    }
    out
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

fn check_component(what: &str, s: &str) -> Result<(), String> {
    if let Some(c) = s.chars().find(|&c| !is_name_char(c)) {
        return Err(format!(
            "the {what} {s:?} contains {c:?}; only letters, digits, '.', '_' and '-' are allowed"
        ));
    }
    // A name starting with '.' is hidden, and hidden names are how temporary files are told apart.
    if s.starts_with('.') {
        return Err(format!("the {what} {s:?} may not start with '.'"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn checks_series_prefix_and_kind() {
        for ok in ["a", "app-db", "host.example.com", "db_1", "-x", "a.", "A9"] {
            assert_eq!(check_series(ok), Ok(()), "{ok}");
            assert_eq!(check_prefix(ok), Ok(()), "{ok}");
        }
        assert!(check_series("").is_err());
        assert_eq!(check_prefix(""), Ok(()));
        for bad in ["a b", "a/b", "é", ".hidden", "..", "a:b", "a\n"] {
            assert!(check_series(bad).is_err(), "{bad:?}");
            assert!(check_prefix(bad).is_err(), "{bad:?}");
        }
        let msg = check_series("a/b").unwrap_err();
        assert!(msg.contains("a/b") && msg.contains("'/'"), "{msg}");

        for ok in ["sql", "dump", "rdb", "db", "My_Kind2", "_"] {
            assert_eq!(check_kind(ok), Ok(()), "{ok}");
        }
        for bad in ["", "s.ql", "s-ql", "gz", "zst", "age", "sha256"] {
            assert!(check_kind(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sanitizes_series() {
        assert_eq!(sanitize_series("db.example.com"), "db.example.com");
        assert_eq!(sanitize_series("my db/1"), "my_db_1");
        assert_eq!(sanitize_series("häuser"), "h_user");
        assert_eq!(sanitize_series(".hidden"), "_hidden");
        assert_eq!(sanitize_series(""), "_");
        assert_eq!(sanitize_series("a:b@c"), "a_b_c");
    }

    proptest! {
        #[test]
        fn sanitized_series_are_valid(s in ".*") {
            let clean = sanitize_series(&s);
            prop_assert_eq!(check_series(&clean), Ok(()));
            if check_series(&s).is_ok() {
                prop_assert_eq!(clean, s);
            }
        }
    }
}
