//! `list` (alias `snapshots`): the backups in the directory, newest first, with time, size and checksum.

use super::series;
use crate::config::Config;
use crate::error::Result;
use crate::storage::LocalDir;

/// The listing as lines of text, newest first.
pub fn run(cfg: &Config) -> Result<Vec<String>> {
    let dir = LocalDir::new(&cfg.backup_dir);
    let entries = dir.list()?;
    let found = series::backups(cfg, &entries);
    if found.is_empty() {
        return Ok(vec![format!("no backups in {}", dir.path().display())]);
    }
    let width = found
        .iter()
        .map(|f| f.file_name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut lines = vec![format!(
        "{:<width$}  {:<19}  {:>10}  {:>9}  CHECKSUM",
        "NAME", "TAKEN", "SIZE", "AGE"
    )];
    let now = chrono::Utc::now();
    for f in &found {
        lines.push(format!(
            "{:<width$}  {:<19}  {:>10}  {:>9}  {}",
            f.file_name,
            f.name.time.format("%Y-%m-%d %H:%M:%S"),
            human_size(f.size),
            human_age(now - f.taken_at),
            if f.has_checksum { "present" } else { "MISSING" }
        ));
    }
    lines.push(format!(
        "{} backup(s) in {}",
        found.len(),
        dir.path().display()
    ));
    Ok(lines)
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
