//! Parallel restores of custom archives (`PG_RESTORE_JOBS`, `restore --jobs`): the same database as a
//! restore with one job, the archive spooled to BACKUP_DIR and checked whole before `pg_restore -j` starts,
//! the spool gone afterwards, a damaged archive or a full disk refused with nothing restored.

use std::io::Write;
use std::path::Path;

use tempfile::TempDir;

use crate::faults::disk_full::{SCRIPT, can_mount};
use crate::support::files::{self, backup_dir};
use crate::support::service::path_str;
use crate::support::{DbBackup, PG_SERVER, PgServer, fixture, require_tools, tools};

/// What the log says when `pg_restore -j` restored the database.
const PARALLEL_DONE: &str = "pg_restore in parallel done";

/// The fixture in `app` plus `tables` more tables of a few thousand rows each, and one backup of it made
/// with `env`. Returns the server, the BACKUP_DIR, the command, the backup's name and the source's dump.
fn backed_up(tables: u32, env: &[(&str, &str)]) -> (PgServer, TempDir, DbBackup, String, String) {
    let pg = PgServer::start();
    fixture::create(&pg, "app");
    pg.psql(
        "app",
        &format!(
            "DO $$ BEGIN FOR i IN 1..{tables} LOOP EXECUTE format('CREATE TABLE t%s (id int PRIMARY KEY, \
             v text); INSERT INTO t%s SELECT g, md5(g::text) FROM generate_series(1, 3000) g', i, i); \
             END LOOP; END $$"
        ),
    );
    let source = pg.dump("app");
    let dir = backup_dir();
    let cmd = env.iter().fold(
        DbBackup::for_server(&pg, "app", dir.path()),
        |cmd, (k, v)| cmd.env(k, v),
    );
    cmd.run(&["backup-db"]).expect_success();
    let name = files::only_backup(dir.path(), "pg");
    (pg, dir, cmd, name, source)
}

/// The spools db-backup left in `dir`.
fn spools(dir: &Path) -> Vec<String> {
    files::names(dir)
        .into_iter()
        .filter(|n| n.starts_with(".db-backup-spool-"))
        .collect()
}

#[test]
fn a_custom_backup_restores_with_two_jobs_into_a_new_database() {
    require_tools!(PG_SERVER, &["gzip", "pg_restore"]);
    let (pg, dir, cmd, name, source) = backed_up(8, &[("PG_DUMP_FORMAT", "custom")]);
    assert!(name.ends_with(".dump.gz"), "{name}");
    let run =
        cmd.clone()
            .env("PG_RESTORE_JOBS", "2")
            .run(&["restore", "latest", "--database", "copy"]);
    run.expect_success()
        .expect_stderr_mentions(&["custom archive written to BACKUP_DIR", PARALLEL_DONE]);
    assert_eq!(pg.dump("copy"), source, "the parallel restore differs");
    assert_eq!(spools(dir.path()), Vec::<String>::new(), "spool left");
}

/// An uncompressed, unencrypted local backup is the archive itself: `pg_restore -j` reads it in place.
#[test]
fn jobs_option_reads_an_uncompressed_archive_in_place() {
    require_tools!(PG_SERVER, &["pg_restore"]);
    let (pg, dir, cmd, name, source) = backed_up(
        4,
        &[("PG_DUMP_FORMAT", "custom"), ("BACKUP_COMPRESSION", "none")],
    );
    assert!(name.ends_with(".dump"), "{name}");
    let run = cmd.run(&["restore", "latest", "--database", "copy", "--jobs", "2"]);
    run.expect_success()
        .expect_stderr_mentions(&[PARALLEL_DONE]);
    assert!(
        !run.stderr.contains("custom archive written to BACKUP_DIR"),
        "an archive that is the backup itself was spooled:\n{run}"
    );
    assert_eq!(pg.dump("copy"), source, "the parallel restore differs");
    assert_eq!(spools(dir.path()), Vec::<String>::new(), "spool left");
    cmd.run(&["restore", "latest", "--database", "x", "--jobs", "0"])
        .expect_code(2)
        .expect_stderr_mentions(&["--jobs", "1 to 64"]);
}

/// A database that existed (empty) could not be undone by dropping it: one job, one transaction. A plain
/// dump has no parallel restore: the setting is said not to apply.
#[test]
fn jobs_do_not_apply_to_an_existing_database_nor_to_a_plain_dump() {
    require_tools!(PG_SERVER, &["gzip", "pg_restore"]);
    let (pg, _dir, cmd, _name, source) = backed_up(2, &[("PG_DUMP_FORMAT", "custom")]);
    pg.create_db("empty");
    let run =
        cmd.clone()
            .env("PG_RESTORE_JOBS", "2")
            .run(&["restore", "latest", "--database", "empty"]);
    run.expect_success()
        .expect_stderr_mentions(&["does not apply to a database that existed"]);
    assert!(!run.stderr.contains(PARALLEL_DONE), "{run}");
    assert_eq!(pg.dump("empty"), source);

    let plain = backup_dir();
    let cmd = DbBackup::for_server(&pg, "app", plain.path());
    cmd.run(&["backup-db"]).expect_success();
    cmd.env("PG_RESTORE_JOBS", "4")
        .run(&["restore", "latest", "--database", "fromplain"])
        .expect_success()
        .expect_stderr_mentions(&["applies to custom-format backups only"]);
    assert_eq!(pg.dump("fromplain"), source);
}

/// A cut archive (its checksum matching) is found incomplete while it is spooled: `pg_restore -j` never
/// starts, the new database is dropped again, the spool is gone.
#[test]
fn a_damaged_archive_is_refused_before_a_parallel_restore_starts() {
    require_tools!(PG_SERVER, &["gzip", "pg_restore"]);
    let (pg, dir, cmd, name, _source) = backed_up(2, &[("PG_DUMP_FORMAT", "custom")]);
    let archive = files::decompress(&dir.path().join(&name));
    std::fs::remove_file(dir.path().join(format!("{name}.sha256"))).expect("remove checksum");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&archive[..archive.len() - 16])
        .expect("gzip in memory");
    files::write_with_checksum(dir.path(), &name, &gz.finish().expect("gzip in memory"));
    let run = cmd
        .env("PG_RESTORE_JOBS", "2")
        .run(&["restore", "latest", "--database", "copy"]);
    run.expect_code(1)
        .expect_stderr_mentions(&["nothing was restored"]);
    assert!(!run.stderr.contains(PARALLEL_DONE), "{run}");
    assert!(
        !pg.db_exists("copy"),
        "the refused restore left its database:\n{run}"
    );
    assert_eq!(spools(dir.path()), Vec::<String>::new(), "spool left");
}

/// BACKUP_DIR is an 8 MiB tmpfs holding a 1 MB backup whose archive is about 30 MB: the spool fills the
/// disk, the restore fails naming BACKUP_DIR, nothing is restored and no spool stays.
#[test]
fn a_parallel_restore_without_room_for_the_spool_restores_nothing() {
    require_tools!(PG_SERVER, &["gzip", "pg_restore", "sh", "cp", "mount"]);
    if !can_mount() {
        return;
    }
    let pg = PgServer::start();
    pg.create_db("app");
    pg.psql(
        "app",
        "CREATE TABLE big AS SELECT g AS id, repeat('db-backup ', 12) AS v FROM generate_series(1, 250000) g",
    );
    let stash = backup_dir();
    DbBackup::for_server(&pg, "app", stash.path())
        .env("PG_DUMP_FORMAT", "custom")
        .run(&["backup-db"])
        .expect_success();
    let mount_point = backup_dir();
    let out = backup_dir();
    let run = DbBackup::for_server(&pg, "app", mount_point.path())
        .env("TMPFS_OPTIONS", "size=8m")
        .env("PG_RESTORE_JOBS", "2")
        .program(&tools::path("unshare"))
        .run(&[
            "-m",
            "sh",
            "-c",
            SCRIPT,
            "sh",
            path_str(mount_point.path()),
            path_str(stash.path()),
            env!("CARGO_BIN_EXE_db-backup"),
            path_str(out.path()),
            "restore",
            "latest",
            "--database",
            "copy",
        ]);
    run.expect_code(1).expect_stderr_mentions(&[
        "BACKUP_DIR has no room",
        "the disk filled",
        "PG_RESTORE_JOBS=1",
    ]);
    assert!(!pg.db_exists("copy"), "half a restore stayed:\n{run}");
    assert_eq!(spools(out.path()), Vec::<String>::new(), "spool left");
}

/// A parallel restore stopped by SIGTERM while `pg_restore -j` runs (slowed down by an event trigger that
/// the new database inherits from template1): its half-restored database is dropped, the spool is gone.
#[test]
fn a_stopped_parallel_restore_leaves_no_database_and_no_spool() {
    require_tools!(PG_SERVER, &["gzip", "pg_restore"]);
    let (pg, dir, cmd, _name, _source) = backed_up(8, &[("PG_DUMP_FORMAT", "custom")]);
    pg.psql(
        "template1",
        "CREATE FUNCTION slow() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.3); \
         END $$; CREATE EVENT TRIGGER slow ON ddl_command_end EXECUTE FUNCTION slow();",
    );
    let running =
        cmd.env("PG_RESTORE_JOBS", "2")
            .spawn(&["restore", "latest", "--database", "copy"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !running
        .stderr_so_far()
        .contains("custom archive written to BACKUP_DIR")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the archive was never spooled:\n{}",
            running.stderr_so_far()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(pg.db_exists("copy"), "the restore had not begun");
    running.signal(libc::SIGTERM);
    let run = running.wait(std::time::Duration::from_secs(60));
    assert_ne!(run.code, Some(0), "a stopped restore succeeded:\n{run}");
    run.expect_stderr_mentions(&["removed what the restore had created: database copy"]);
    assert!(!pg.db_exists("copy"), "half a restore stayed:\n{run}");
    assert_eq!(spools(dir.path()), Vec::<String>::new(), "spool left");
}

/// `DB_NAME=all` in custom format onto a new server with `--jobs 2`: the globals create the databases, which
/// are therefore new and restored in parallel; roles, properties and data come back as with one job.
#[test]
fn a_new_server_is_restored_in_parallel_from_an_all_backup() {
    require_tools!(PG_SERVER, &["pg_dumpall", "pg_restore"]);
    let (old, _app_password) = super::newserver::old_server();
    let dir = backup_dir();
    DbBackup::for_server(&old, "all", dir.path())
        .env("PG_DUMP_FORMAT", "custom")
        .run(&["backup-db"])
        .expect_success();
    let new = PgServer::start();
    let run =
        DbBackup::for_server(&new, "all", dir.path()).run(&["restore", "latest", "--jobs", "2"]);
    run.expect_success();
    assert!(
        run.stderr.matches(PARALLEL_DONE).count() >= 2,
        "shop and wiki were not restored in parallel:\n{run}"
    );
    assert_eq!(new.globals(), old.globals(), "roles differ");
    assert_eq!(new.databases(), old.databases());
    for db in old.databases() {
        assert_eq!(
            new.schema_with_database(&db),
            old.schema_with_database(&db),
            "database {db} differs"
        );
        assert_eq!(new.dump(&db), old.dump(&db), "the data of {db} differs");
    }
    assert_eq!(spools(dir.path()), Vec::<String>::new(), "spool left");
}
