//! The comparison at the heart of a drill: the rows per table the dump held (its manifest) against the rows
//! per table the restore holds.

use std::collections::BTreeMap;

/// `Ok` with a summary of what was checked, or `Err` naming each table whose rows differ. Without a manifest
/// (`expected` is `None`) only what was restored is summed up, and the summary says the check was weaker.
pub fn compare(
    expected: Option<&BTreeMap<String, u64>>,
    restored: &BTreeMap<String, u64>,
) -> Result<String, String> {
    compare_counts(expected, restored, "table", "rows")
}

/// [`compare`] for any kind of `item` holding a count of `unit` (Redis: logical databases holding keys).
pub fn compare_counts(
    expected: Option<&BTreeMap<String, u64>>,
    restored: &BTreeMap<String, u64>,
    item: &str,
    unit: &str,
) -> Result<String, String> {
    let total: u64 = restored.values().sum();
    let Some(expected) = expected else {
        return Ok(format!(
            "restored {} {item}s, {total} {unit}; no row counts were recorded with this backup (made before \
             manifests, or by a dump whose rows cannot be read as it streams), so they were not compared",
            restored.len()
        ));
    };
    let mut wrong = Vec::new();
    for (table, &want) in expected {
        match restored.get(table) {
            None => wrong.push(format!(
                "{item} {table} is missing after the restore (the dump held {want} {unit})"
            )),
            Some(&got) if got != want => wrong.push(format!(
                "{item} {table} holds {got} {unit} after the restore, the dump held {want}"
            )),
            Some(_) => {}
        }
    }
    for (table, &got) in restored {
        if got > 0 && !expected.contains_key(table) {
            wrong.push(format!(
                "{item} {table} holds {got} {unit} after the restore, the dump held none"
            ));
        }
    }
    if wrong.is_empty() {
        return Ok(format!(
            "restored {} {item}s, {total} {unit}: every {item}'s count matches the dump's",
            restored.len()
        ));
    }
    Err(format!(
        "the restore does not hold what the dump held: {}",
        wrong.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn matches_differences_and_no_manifest() {
        let restored = map(&[("public.a", 3), ("public.b", 0)]);
        assert!(compare(Some(&map(&[("public.a", 3)])), &restored).is_ok());
        let e = compare(Some(&map(&[("public.a", 5), ("public.c", 1)])), &restored).unwrap_err();
        assert!(
            e.contains("public.a holds 3 rows after the restore, the dump held 5"),
            "{e}"
        );
        assert!(e.contains("public.c is missing"), "{e}");
        let e = compare(Some(&map(&[])), &restored).unwrap_err();
        assert!(
            e.contains("public.a holds 3 rows after the restore, the dump held none"),
            "{e}"
        );
        let s = compare(None, &restored).unwrap();
        assert!(s.contains("not compared"), "{s}");
    }
}
