//! `list` (alias `snapshots`): the backups in every destination, newest first, with time, size, checksum and
//! where each copy is.

use super::series;
use crate::config::Config;
use crate::error::Result;
use crate::storage;

/// The listing as lines of text, newest first, over every destination (the `WHERE` column).
pub fn run(cfg: &Config) -> Result<Vec<String>> {
    let mut found: Vec<(String, series::Found, String)> = Vec::new();
    let mut places = Vec::new();
    let mut failures = Vec::new();
    for dest in storage::destinations(cfg) {
        places.push(format!("{} ({})", dest.name(), dest.describe()));
        match dest.list() {
            Ok(entries) => {
                for f in series::backups(cfg, &entries) {
                    let drill = drill_note(dest.as_ref(), &entries, &f.file_name);
                    found.push((dest.name().to_string(), f, drill));
                }
            }
            // One unreachable destination must not hide the others' backups.
            Err(e) => failures.push(format!("{}: cannot be listed: {e}", dest.name())),
        }
    }
    found.sort_by(|a, b| {
        b.1.taken_at
            .cmp(&a.1.taken_at)
            .then_with(|| b.1.file_name.cmp(&a.1.file_name))
    });
    if found.is_empty() {
        let mut lines = vec![format!("no backups in {}", places.join(", "))];
        lines.extend(failures);
        return Ok(lines);
    }
    let width = found
        .iter()
        .map(|(_, f, _)| f.file_name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let place_width = found
        .iter()
        .map(|(p, _, _)| p.len())
        .max()
        .unwrap_or(5)
        .max(5);
    let mut lines = vec![format!(
        "{:<width$}  {:<19}  {:>10}  {:>9}  {:<8}  {:<place_width$}  DRILL",
        "NAME", "TAKEN", "SIZE", "AGE", "CHECKSUM", "WHERE"
    )];
    let now = chrono::Utc::now();
    for (place, f, drill) in &found {
        lines.push(format!(
            "{:<width$}  {:<19}  {:>10}  {:>9}  {:<8}  {:<place_width$}  {}",
            f.file_name,
            f.name.time.format("%Y-%m-%d %H:%M:%S"),
            human_size(f.size),
            human_age(now - f.taken_at),
            if f.has_checksum { "present" } else { "MISSING" },
            place,
            drill
        ));
    }
    lines.push(format!(
        "{} backup(s) in {}",
        found.len(),
        places.join(", ")
    ));
    lines.extend(failures);
    Ok(lines)
}

/// The last restore drill of `file_name` as its manifest records it: `drill passed <when>`, `drill FAILED
/// <when>`, or `-` when it was never drilled.
fn drill_note(dest: &dyn storage::Storage, entries: &[storage::Entry], file_name: &str) -> String {
    let manifest = crate::naming::manifest_name_of(file_name);
    if !entries.iter().any(|e| e.name == manifest) {
        return "-".to_string();
    }
    let record = dest
        .read_small(&manifest)
        .ok()
        .and_then(|text| serde_json::from_str::<crate::drill::Manifest>(&text).ok())
        .and_then(|m| m.drill);
    match record {
        Some(d) => format!(
            "drill {} {}",
            if d.passed { "passed" } else { "FAILED" },
            d.at.format("%Y-%m-%d %H:%M:%S UTC")
        ),
        None => "-".to_string(),
    }
}

/// A byte count in binary units, e.g. `1.5 MiB`.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn human_age(age: chrono::Duration) -> String {
    let secs = age.num_seconds();
    match secs {
        s if s < 0 => "future".to_string(),
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_well() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(3 * 1024 * 1024), "3.0 MiB");
    }
}
