//! PostgreSQL drills: into a scratch database on the source server, into a new server that lacks a role, and
//! of a backup whose rows were taken out after it was made.

use std::io::Write;
use std::path::Path;

use crate::support::files::{backup_dir, decompress, only_backup, sha256_hex};
use crate::support::{DbBackup, PG_SERVER, PgServer, fixture, require_tools};

/// The drill settings that send a drill to `scratch`.
fn towards(cmd: DbBackup, scratch: &PgServer) -> DbBackup {
    cmd.env("TEST_RESTORE_HOST", "127.0.0.1")
        .env("TEST_RESTORE_PORT", &scratch.port().to_string())
        .env("TEST_RESTORE_USER", "postgres")
        .env("TEST_RESTORE_PASSWORD", scratch.password())
}

/// No `<db>_drill_*` database is left on `pg`.
fn assert_no_scratch_left(pg: &PgServer) {
    let left: Vec<String> = pg
        .databases()
        .into_iter()
        .filter(|d| d.contains("_drill_"))
        .collect();
    assert!(left.is_empty(), "scratch databases left: {left:?}");
}

#[test]
fn a_drill_on_the_source_server_compares_every_table_and_records_it() {
    require_tools!(PG_SERVER, &[]);
    let (pg, dir, cmd) = super::pg_backed_up("app", "app", &[]);
    let name = only_backup(dir.path(), "pg");
    let manifest = std::fs::read_to_string(dir.path().join(format!("{name}.manifest.json")))
        .expect("a manifest beside the backup");
    assert!(manifest.contains("\"public.people\": 4"), "{manifest}");
    assert!(manifest.contains("\"extra.numbers\": 2"), "{manifest}");

    let run = cmd.run(&["test-restore", "latest"]);
    run.expect_success();
    assert!(
        run.stdout.contains("passed") && run.stdout.contains("matches the dump's"),
        "{run}"
    );
    assert_no_scratch_left(&pg);
    let manifest =
        std::fs::read_to_string(dir.path().join(format!("{name}.manifest.json"))).unwrap();
    assert!(manifest.contains("\"passed\": true"), "{manifest}");
    let list = cmd.run(&["list"]);
    list.expect_success();
    assert!(list.stdout.contains("drill passed"), "{list}");

    // A backup older than manifests gets the weaker check, and says so.
    std::fs::remove_file(dir.path().join(format!("{name}.manifest.json"))).unwrap();
    let run = cmd.run(&["test-restore", &name]);
    run.expect_success();
    assert!(run.stdout.contains("not compared"), "{run}");

    // A manifest lives and dies with its backup: pruned with it, swept when its backup is gone.
    let orphan = "pg-2020-01-01T00-00-00.sql.gz.manifest.json";
    std::fs::write(dir.path().join(orphan), "{}").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    cmd.clone()
        .env("DB_BACKUP_MAX_N", "1")
        .run(&["backup-db"])
        .expect_success();
    let names = crate::support::files::names(dir.path());
    let newest = only_backup(dir.path(), "pg");
    assert_ne!(newest, name);
    assert!(
        names.contains(&format!("{newest}.manifest.json"))
            && !names.iter().any(|n| n.starts_with(&name) || n == orphan),
        "{names:?}"
    );
}

#[test]
fn a_new_server_without_the_owning_role_fails_the_drill_and_names_the_role() {
    require_tools!(PG_SERVER, &[]);
    let pg = PgServer::start();
    fixture::create(&pg, "app");
    pg.psql("postgres", "CREATE ROLE appowner NOLOGIN");
    pg.psql("app", "ALTER TABLE people OWNER TO appowner");
    let dir = backup_dir();
    let cmd = DbBackup::for_server(&pg, "app", dir.path());
    cmd.run(&["backup-db"]).expect_success();
    // The source server has the role: the drill passes there.
    cmd.run(&["test-restore"]).expect_success();

    let scratch = PgServer::start();
    let run = towards(cmd, &scratch).run(&["test-restore"]);
    run.expect_code(1);
    assert!(run.stdout.contains("FAILED"), "{run}");
    assert!(run.stdout.contains("appowner"), "the role is named:\n{run}");
    assert_no_scratch_left(&scratch);
    assert_no_scratch_left(&pg);
}

/// Rewrites the gzip backup `name` with the rows of the `COPY` block of `table` taken out, and fixes its
/// checksum, as a damaged dump that still ends with its trailer would look.
fn drop_rows_of(dir: &Path, name: &str, table: &str) {
    let path = dir.join(name);
    let text = String::from_utf8(decompress(&path)).expect("a plain dump");
    let mut out = String::new();
    let mut skipping = false;
    for line in text.split_inclusive('\n') {
        if skipping && line != "\\.\n" {
            continue;
        }
        skipping = line.starts_with(&format!("COPY {table} ")) && line.ends_with("FROM stdin;\n");
        out.push_str(line);
    }
    assert_ne!(out, text, "the dump has a COPY block of {table}");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(out.as_bytes()).unwrap();
    let bytes = gz.finish().unwrap();
    std::fs::write(&path, &bytes).unwrap();
    std::fs::write(
        dir.join(format!("{name}.sha256")),
        format!("{}  {name}\n", sha256_hex(&bytes)),
    )
    .unwrap();
}

#[test]
fn a_dump_missing_a_tables_rows_fails_against_its_manifest() {
    require_tools!(PG_SERVER, &[]);
    let (pg, dir, cmd) = super::pg_backed_up("app", "app", &[]);
    let name = only_backup(dir.path(), "pg");
    drop_rows_of(dir.path(), &name, "extra.numbers");
    // The checksum and the trailer cannot tell: verify passes.
    cmd.run(&["verify", &name]).expect_success();

    let run = cmd.run(&["test-restore", &name]);
    run.expect_code(1);
    assert!(
        run.stdout
            .contains("table extra.numbers holds 0 rows after the restore, the dump held 2"),
        "{run}"
    );
    assert_no_scratch_left(&pg);
    let manifest =
        std::fs::read_to_string(dir.path().join(format!("{name}.manifest.json"))).unwrap();
    assert!(manifest.contains("\"passed\": false"), "{manifest}");
}

#[test]
fn with_every_database_the_globals_are_skipped_and_each_database_drilled() {
    require_tools!(PG_SERVER, &["pg_dumpall"]);
    let (pg, _dir, cmd) = super::pg_backed_up("shop", "all", &[]);
    let run = cmd.run(&["test-restore", "latest"]);
    run.expect_success();
    let line = |series: &str| {
        run.stdout
            .lines()
            .find(|l| l.contains(&format!("  {series}-")))
            .unwrap_or_default()
            .to_string()
    };
    assert!(line("pg-globals").starts_with("skipped"), "{run}");
    assert!(line("pg-shop").starts_with("passed"), "{run}");
    assert!(!run.stdout.contains("FAILED"), "{run}");
    assert_no_scratch_left(&pg);
}
