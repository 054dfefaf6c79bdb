//! The latest link of a series in the local directory: a relative symlink `<prefix><series>-latest.<ext>` to the
//! newest complete backup, replaced atomically (made under a hidden temporary name, then renamed over the old
//! one). [`LocalDir::list`] lists regular files only, so nothing that reads backups ever sees it.

use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use super::LocalDir;
use crate::error::{Error, Result};
use crate::naming::{LATEST_MARK, latest_link_parts};

impl LocalDir {
    /// Points `link` (the latest link of the series `stem`) at `file_name`, a committed backup beside it, and
    /// removes the series' other links (another extension, after the compression or encryption changed). A
    /// regular file under the link's name is not ours: it is left alone and reported.
    pub fn set_latest_link(&self, stem: &str, link: &str, file_name: &str) -> Result<()> {
        let path = self.file_path(link);
        if let Ok(meta) = fs::symlink_metadata(&path)
            && !meta.file_type().is_symlink()
        {
            return Err(Error::file(
                &path,
                "is a file, not the latest link db-backup keeps there, so the link was not written; move that \
                 file away",
            ));
        }
        // Runs under the run lock: no other db-backup writes here, so a fixed temporary name is safe, and one
        // a crash left is replaced.
        let temp = self.file_path(&format!(".{link}.new"));
        remove(&temp)?;
        std::os::unix::fs::symlink(file_name, &temp).map_err(|e| Error::io(&temp, e))?;
        if let Err(e) = fs::rename(&temp, &path) {
            let _ = fs::remove_file(&temp);
            return Err(Error::io(&path, e));
        }
        for (other, _) in self.latest_links(stem)? {
            if other != link {
                remove(&self.file_path(&other))?;
            }
        }
        self.sync()
    }

    /// The series' latest link, as (its name, the file it names). A link whose target is not a bare file
    /// name beside it was not made by db-backup and is ignored.
    pub fn latest_link(&self, stem: &str) -> Result<Option<(String, String)>> {
        Ok(self
            .latest_links(stem)?
            .into_iter()
            .find_map(|(link, target)| {
                let target = target?;
                Some((link, target))
            }))
    }

    /// Removes every latest link of the series.
    pub fn remove_latest_links(&self, stem: &str) -> Result<()> {
        for (link, _) in self.latest_links(stem)? {
            remove(&self.file_path(&link))?;
        }
        self.sync()
    }

    /// The symlinks named `<stem>-latest.<ext>`, with their target when it is a bare file name.
    fn latest_links(&self, stem: &str) -> Result<Vec<(String, Option<String>)>> {
        let dir = self.path();
        let mut out = Vec::new();
        let entries = fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(dir, e))?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            let is_link = entry.file_type().is_ok_and(|t| t.is_symlink());
            let ours =
                latest_link_parts(&name).is_some_and(|(s, ext)| s == stem && !ext.is_empty());
            if !is_link || !ours {
                continue;
            }
            let target = fs::read_link(entry.path())
                .ok()
                .and_then(|t| t.to_str().map(str::to_string))
                .filter(|t| is_bare_name(t));
            out.push((name, target));
        }
        out.sort();
        Ok(out)
    }
}

/// A file name with no directory part.
fn is_bare_name(name: &str) -> bool {
    !name.is_empty() && Path::new(name).file_name().is_some_and(|n| n == name) && name != ".."
}

fn remove(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// The name of a series' pointer object on S3: `<stem>-latest`.
pub fn pointer_name(stem: &str) -> String {
    format!("{stem}{LATEST_MARK}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_is_replaced_and_the_other_extension_goes() {
        let dir = tempfile::tempdir().unwrap();
        let local = LocalDir::new(dir.path());
        for f in ["a-1.sql.gz", "a-2.sql.zst", "ab-3.sql.gz"] {
            fs::write(dir.path().join(f), f).unwrap();
        }
        local
            .set_latest_link("ab", "ab-latest.sql.gz", "ab-3.sql.gz")
            .unwrap();
        local
            .set_latest_link("a", "a-latest.sql.gz", "a-1.sql.gz")
            .unwrap();
        assert_eq!(
            fs::read_to_string(dir.path().join("a-latest.sql.gz")).unwrap(),
            "a-1.sql.gz"
        );
        local
            .set_latest_link("a", "a-latest.sql.zst", "a-2.sql.zst")
            .unwrap();
        assert!(fs::symlink_metadata(dir.path().join("a-latest.sql.gz")).is_err());
        assert_eq!(
            local.latest_link("a").unwrap(),
            Some(("a-latest.sql.zst".into(), "a-2.sql.zst".into()))
        );
        assert_eq!(
            local.latest_link("ab").unwrap(),
            Some(("ab-latest.sql.gz".into(), "ab-3.sql.gz".into()))
        );
        let names: Vec<String> = local.list().unwrap().into_iter().map(|e| e.name).collect();
        assert_eq!(
            names,
            ["a-1.sql.gz", "a-2.sql.zst", "ab-3.sql.gz"],
            "links are not listed"
        );
        local.remove_latest_links("a").unwrap();
        assert_eq!(local.latest_link("a").unwrap(), None);
        assert!(local.latest_link("ab").unwrap().is_some());
    }

    #[test]
    fn a_regular_file_under_the_link_name_stays() {
        let dir = tempfile::tempdir().unwrap();
        let local = LocalDir::new(dir.path());
        fs::write(dir.path().join("a-latest.sql"), "mine").unwrap();
        let e = local
            .set_latest_link("a", "a-latest.sql", "a-1.sql")
            .unwrap_err();
        assert!(e.to_string().contains("move that file away"), "{e}");
        assert_eq!(
            fs::read_to_string(dir.path().join("a-latest.sql")).unwrap(),
            "mine"
        );
    }

    #[test]
    fn a_link_elsewhere_is_not_ours() {
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.path().join("a-latest.sql")).unwrap();
        assert_eq!(LocalDir::new(dir.path()).latest_link("a").unwrap(), None);
    }
}
