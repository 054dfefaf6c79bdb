//! Name dispatch: links named `backup-db`, `list` and `restore` act as those subcommands; and what a link
//! says when the backup directory is not writable (the usual state of a fresh bind mount in the image).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::support::files::{self, backup_dir};
use crate::support::{DbBackup, PG_SERVER, PgServer, require_tools, tools};

/// A directory with symlinks to the binary, as the image puts them on PATH.
fn links() -> TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for name in ["backup-db", "list", "restore"] {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_db-backup"), dir.path().join(name))
            .expect("symlink");
    }
    dir
}

fn link(links: &TempDir, name: &str) -> PathBuf {
    links.path().join(name)
}

#[test]
fn list_link_on_an_empty_dir_succeeds() {
    let (links, backups) = (links(), backup_dir());
    DbBackup::offline(backups.path())
        .program(&link(&links, "list"))
        .run(&[])
        .expect_success();
}

#[test]
fn list_link_and_snapshots_alias_list_backups() {
    let (links, backups) = (links(), backup_dir());
    let name = "pg-2001-01-01T00-00-00.sql.gz";
    files::plant_backup(backups.path(), name);
    let by_link = DbBackup::offline(backups.path())
        .program(&link(&links, "list"))
        .run(&[]);
    by_link.expect_success();
    assert!(
        by_link.stdout.contains(name),
        "the list link does not list {name}:\n{by_link}"
    );
    let by_alias = DbBackup::offline(backups.path()).run(&["snapshots"]);
    by_alias.expect_success();
    assert_eq!(by_alias.stdout, by_link.stdout);
}

/// Without an argument `restore` is a usage error; with one it is a restore that fails on the
/// missing file (exit 1), which the bare binary, taking the name for a subcommand, would not be.
#[test]
fn restore_link_acts_as_restore() {
    let (links, backups) = (links(), backup_dir());
    let restore = DbBackup::offline(backups.path()).program(&link(&links, "restore"));
    restore.run(&[]).expect_code(2);
    restore
        .run(&["nosuch-2001-01-01T00-00-00.sql.gz", "--database", "x"])
        .expect_code(1)
        .expect_stderr_mentions(&["nosuch-2001-01-01T00-00-00.sql.gz"]);
}

#[test]
fn unknown_subcommand_is_a_usage_error() {
    let backups = backup_dir();
    DbBackup::offline(backups.path())
        .run(&["frobnicate"])
        .expect_code(2);
}

#[test]
fn backup_db_link_takes_a_backup() {
    require_tools!(PG_SERVER);
    let pg = PgServer::start();
    pg.create_db("app");
    let (links, backups) = (links(), backup_dir());
    DbBackup::for_server(&pg, "app", backups.path())
        .program(&link(&links, "backup-db"))
        .run(&[])
        .expect_success();
    files::only_backup(backups.path(), "pg");
}

/// `id -u <user>`.
pub(crate) fn uid_of(user: &str) -> u32 {
    let out = std::process::Command::new("id")
        .args(["-u", user])
        .output()
        .expect("run id");
    assert!(out.status.success(), "no user {user}");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("numeric uid")
}

pub(crate) fn runuser() -> Option<PathBuf> {
    tools::find("runuser").or_else(|| {
        ["/usr/sbin/runuser", "/sbin/runuser"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
    })
}

/// `backup-db` and `backup-service` (the image's default command), started under their link names as a user
/// who cannot write the backup directory, stop before contacting the database (the configured server does
/// not exist) with a message that names the uid needing write access: in the image that is uid 10001,
/// whatever the host directory's owner is. As root the runs are made as `nobody` (root writes anywhere), from
/// a copy of the binary that `nobody` can reach.
#[test]
fn a_backup_dir_it_cannot_write_is_refused_naming_the_uid() {
    let backups = backup_dir();
    let bin = tempfile::tempdir().expect("temp dir");
    fs::set_permissions(bin.path(), fs::Permissions::from_mode(0o755)).expect("chmod bin dir");
    fs::copy(
        env!("CARGO_BIN_EXE_db-backup"),
        bin.path().join("db-backup"),
    )
    .expect("copy binary");
    for name in ["backup-db", "backup-service"] {
        std::os::unix::fs::symlink("db-backup", bin.path().join(name)).expect("symlink");
    }

    // SAFETY: geteuid has no preconditions.
    let as_root = unsafe { libc::geteuid() } == 0;
    let (uid, runuser) = if as_root {
        let Some(runuser) = runuser() else {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("missing tool: runuser (util-linux), needed to run as nobody");
            }
            eprintln!("SKIPPED: no runuser to run as nobody");
            return;
        };
        // Owned by root, mode 0755: nobody may look but not write.
        fs::set_permissions(backups.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
        (uid_of("nobody"), Some(runuser))
    } else {
        fs::set_permissions(backups.path(), fs::Permissions::from_mode(0o555)).expect("chmod");
        // SAFETY: geteuid has no preconditions.
        (unsafe { libc::geteuid() }, None)
    };

    for name in ["backup-db", "backup-service"] {
        let link = bin.path().join(name);
        let link_arg = link.to_str().expect("UTF-8 temp path");
        let (program, args): (&Path, Vec<&str>) = match &runuser {
            Some(runuser) => (runuser, vec!["-u", "nobody", "--", link_arg]),
            None => (&link, vec![]),
        };
        let run = DbBackup::offline(backups.path())
            .program(program)
            .run(&args);
        run.expect_code(1).expect_stderr_mentions(&[
            "not writable",
            &format!("uid {uid}"),
            &format!("give uid {uid} write access"),
        ]);
        assert!(
            !run.stderr.contains("127.0.0.1"),
            "{name} contacted the database before checking the backup directory:\n{run}"
        );
    }
    fs::set_permissions(backups.path(), fs::Permissions::from_mode(0o700)).expect("chmod back");
    assert!(
        files::names(backups.path()).is_empty(),
        "the refused runs left files behind: {:?}",
        files::names(backups.path())
    );
}

/// The SelfHostBlocks backup contract's restore interface through the `restore` link: `restore snapshots`
/// lists the backups, `restore restore latest` restores the newest.
#[test]
fn restore_link_speaks_the_selfhostblocks_contract() {
    require_tools!(PG_SERVER);
    let pg = PgServer::start();
    pg.create_db("app");
    pg.psql(
        "app",
        "CREATE TABLE t (v text); INSERT INTO t VALUES ('kept')",
    );
    let (links, backups) = (links(), backup_dir());
    let cmd = DbBackup::for_server(&pg, "app", backups.path());
    cmd.run(&["backup-db"]).expect_success();
    let name = files::only_backup(backups.path(), "pg");

    let restore = cmd.clone().program(&link(&links, "restore"));
    let listed = restore.run(&["snapshots"]);
    listed.expect_success();
    assert!(listed.stdout.contains(&name), "{listed}");

    pg.psql("postgres", "DROP DATABASE app");
    restore.run(&["restore", "latest"]).expect_success();
    assert_eq!(pg.psql("app", "SELECT v FROM t").trim(), "kept");
}
