//! A backup's manifest, `<backup>.manifest.json` beside it in every destination: what the dump held (row
//! counts per table, read from the stream as it was written) and the outcome of the last restore drill. It
//! lives and dies with its backup like the `.sha256` file (pruned with it, swept when its backup is gone).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::naming;
use crate::storage::Storage;

/// The manifest's format version.
const VERSION: u32 = 1;

/// What is known about one backup beyond its bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    /// Rows per table in the dump, by the table's name as the dump writes it; `None` when the dump's rows
    /// could not be read from its stream (a custom-format archive, whose rows a drill counts in the archive
    /// itself; an RDB file; a command's output).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<BTreeMap<String, u64>>,
    /// The last restore drill of this backup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill: Option<DrillRecord>,
}

/// The outcome of one restore drill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DrillRecord {
    pub at: DateTime<Utc>,
    pub passed: bool,
    /// What was checked (passed) or what was wrong (failed).
    pub summary: String,
}

impl Manifest {
    /// A manifest of a new backup, with its row counts.
    pub fn new(rows: Option<BTreeMap<String, u64>>) -> Manifest {
        Manifest {
            version: VERSION,
            rows,
            drill: None,
        }
    }

    /// The manifest of `file_name` in `dir`; `None` when there is none (a backup older than manifests, or
    /// one whose manifest could not be written).
    pub fn read(dir: &dyn Storage, file_name: &str) -> Result<Option<Manifest>> {
        let name = naming::manifest_name_of(file_name);
        if !dir.list()?.iter().any(|e| e.name == name) {
            return Ok(None);
        }
        let text = dir.read_small(&name)?;
        serde_json::from_str(&text).map(Some).map_err(|e| {
            Error::file(
                dir.location(&name),
                format!("is not a manifest db-backup can read ({e}); delete it to drill the backup with the weaker check"),
            )
        })
    }

    /// Writes the manifest of `file_name` into `dir`, replacing the one there.
    pub fn write(&self, dir: &dyn Storage, file_name: &str) -> Result<()> {
        let text = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::Other(format!("the manifest cannot be written: {e}")))?;
        dir.write_small(&naming::manifest_name_of(file_name), &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::LocalDir;

    #[test]
    fn round_trip_and_absent() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = LocalDir::new(tmp.path());
        assert_eq!(Manifest::read(&dir, "a.sql.gz").unwrap(), None);
        let mut m = Manifest::new(Some(BTreeMap::from([("public.t".to_string(), 3)])));
        m.write(&dir, "a.sql.gz").unwrap();
        assert_eq!(Manifest::read(&dir, "a.sql.gz").unwrap(), Some(m.clone()));
        m.drill = Some(DrillRecord {
            at: Utc::now(),
            passed: true,
            summary: "ok".into(),
        });
        m.write(&dir, "a.sql.gz").unwrap();
        assert_eq!(Manifest::read(&dir, "a.sql.gz").unwrap(), Some(m));
        std::fs::write(tmp.path().join("b.sql.gz.manifest.json"), "{").unwrap();
        let e = Manifest::read(&dir, "b.sql.gz").unwrap_err().to_string();
        assert!(e.contains("b.sql.gz.manifest.json"), "{e}");
    }
}
