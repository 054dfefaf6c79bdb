//! MySQL/MariaDB drills: into a scratch database on the source server, compared with the rows of the dump's
//! `INSERT` statements.

use crate::support::files::only_backup;
use crate::support::mariadb;

#[test]
fn a_mysql_drill_compares_the_rows_of_every_table() {
    if !mariadb::available() {
        return;
    }
    let (my, dir, cmd) = super::mariadb_backed_up("app");
    let name = only_backup(dir.path(), "my");
    let manifest = std::fs::read_to_string(dir.path().join(format!("{name}.manifest.json")))
        .expect("a manifest beside the backup");
    for counted in ["\"people\": 4", "\"audit\": 4", "\"blobs\": 1"] {
        assert!(manifest.contains(counted), "{counted} in {manifest}");
    }
    let run = cmd.run(&["test-restore"]);
    run.expect_success();
    assert!(run.stdout.contains("matches the dump's"), "{run}");
    let left = my.sql(
        None,
        "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE '%drill%'",
    );
    assert_eq!(left.trim(), "0", "scratch databases left");
}
