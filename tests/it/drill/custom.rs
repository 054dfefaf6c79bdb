//! PostgreSQL custom-format archives: their rows are counted in the archive at drill time (`pg_restore
//! --data-only --file=-` through the same `COPY` counter) and compared with `count(*)` after the restore.

use crate::support::files::only_backup;
use crate::support::{PG_SERVER, PgServer, require_tools};

/// Makes every database later created on `pg` lose the rows loaded into `extra.numbers`: an event trigger in
/// `template1` gives the table, as soon as it is created, a trigger that drops each row. A restore into such a
/// database exits 0 and holds fewer rows than the archive.
fn lose_rows_on_new_databases(pg: &PgServer) {
    pg.psql(
        "template1",
        "CREATE SCHEMA trap;
         CREATE FUNCTION trap.drop_row() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NULL; END$$;
         CREATE FUNCTION trap.on_create() RETURNS event_trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF EXISTS (SELECT 1 FROM pg_catalog.pg_event_trigger_ddl_commands()
                      WHERE command_tag = 'CREATE TABLE' AND object_identity = 'extra.numbers') THEN
             EXECUTE 'CREATE TRIGGER lose BEFORE INSERT ON extra.numbers FOR EACH ROW EXECUTE FUNCTION trap.drop_row()';
           END IF;
         END$$;
         CREATE EVENT TRIGGER lose_rows ON ddl_command_end EXECUTE FUNCTION trap.on_create();",
    );
}

#[test]
fn a_custom_archive_is_compared_table_by_table_and_a_restore_short_of_rows_fails() {
    require_tools!(PG_SERVER, &["pg_restore"]);
    let (pg, dir, cmd) = super::pg_backed_up("app", "app", &[("PG_DUMP_FORMAT", "custom")]);
    let name = only_backup(dir.path(), "pg");
    assert!(name.contains(".dump"), "{name}");

    let run = cmd.run(&["test-restore", &name]);
    run.expect_success();
    assert!(
        run.stdout.contains("matches the dump's") && run.stdout.contains("counted in the archive"),
        "{run}"
    );
    assert!(!run.stdout.contains("not compared"), "{run}");

    lose_rows_on_new_databases(&pg);
    let run = cmd.run(&["test-restore", &name]);
    run.expect_code(1);
    assert!(
        run.stdout
            .contains("table extra.numbers holds 0 rows after the restore, the dump held 2"),
        "{run}"
    );
    let left: Vec<String> = pg
        .databases()
        .into_iter()
        .filter(|d| d.contains("_drill_"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}
