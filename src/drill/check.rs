//! The comparison at the heart of a drill: the rows per table the dump held (its manifest) against the rows
//! per table the restore holds.

use std::collections::BTreeMap;

/// `Ok` with a summary of what was checked, or `Err` naming each table whose rows differ. Without a manifest
/// (`expected` is `None`) only what was restored is summed up, and the summary says the check was weaker.
pub fn compare(
    expected: Option<&BTreeMap<String, u64>>,
    restored: &BTreeMap<String, u64>,
) -> Result<String, String> {
    let total: u64 = restored.values().sum();
    let Some(expected) = expected else {
        return Ok(format!(
            "restored {} tables, {total} rows; no row counts were recorded with this backup (made before \
             manifests, or by a dump whose rows cannot be read as it streams), so they were not compared",
            restored.len()
        ));
    };
    let mut wrong = Vec::new();
    for (table, &want) in expected {
        match restored.get(table) {
            None => wrong.push(format!(
                "table {table} is missing after the restore (the dump held {want} rows)"
            )),
            Some(&got) if got != want => wrong.push(format!(
                "table {table} holds {got} rows after the restore, the dump held {want}"
            )),
            Some(_) => {}
        }
    }
    for (table, &got) in restored {
        if got > 0 && !expected.contains_key(table) {
            wrong.push(format!(
                "table {table} holds {got} rows after the restore, the dump held none"
            ));
        }
    }
    if wrong.is_empty() {
        return Ok(format!(
            "restored {} tables, {total} rows: every table's row count matches the dump's manifest",
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
