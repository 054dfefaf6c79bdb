//! The latest pointer on S3: an object `<prefix><series>-latest` holding the newest backup's name, written after
//! the commit, followed by `restore`/`verify --from`, and never taken for a backup.

use crate::support::files::{self, backup_dir};
use crate::support::s3::{S3Server, require_s3};
use crate::support::{DbBackup, PG_SERVER, PgServer, require_tools};

fn with_env(cmd: DbBackup, vars: &[(String, String)]) -> DbBackup {
    vars.iter().fold(cmd, |cmd, (k, v)| cmd.env(k, v))
}

#[test]
fn the_s3_pointer_names_the_newest_backup() {
    require_tools!(PG_SERVER);
    require_s3!();
    let s3 = S3Server::start();
    s3.bucket("ptr");
    let pg = PgServer::start();
    pg.create_db("app");
    pg.psql(
        "app",
        "CREATE TABLE t (v text); INSERT INTO t VALUES ('one')",
    );
    let dir = backup_dir();
    let cmd = with_env(
        DbBackup::for_server(&pg, "app", dir.path()),
        &s3.env("S3_", "ptr", "db"),
    )
    .env("DB_BACKUP_MAX_N", "1");
    cmd.run(&["backup-db"]).expect_success();
    let first = files::only_backup(dir.path(), "pg");
    assert_eq!(
        s3.pointers("ptr"),
        [("db/pg-latest".to_string(), format!("{first}\n"))]
    );

    std::thread::sleep(std::time::Duration::from_millis(1100));
    pg.psql("app", "UPDATE t SET v = 'two'");
    cmd.run(&["backup-db"]).expect_success();
    let second = files::only_backup(dir.path(), "pg");
    assert_ne!(second, first);
    assert_eq!(
        s3.pointers("ptr"),
        [("db/pg-latest".to_string(), format!("{second}\n"))]
    );
    // Retention counted one backup, not the pointer.
    assert_eq!(
        s3.keys("ptr"),
        [
            format!("db/{second}"),
            format!("db/{second}.manifest.json"),
            format!("db/{second}.sha256")
        ]
    );

    // restore and verify follow the pointer when told to look there.
    let restore = cmd.run(&["restore", "pg-latest", "--from", "s3", "--database", "copy"]);
    restore.expect_success();
    assert!(restore.all_output().contains(&second), "{restore}");
    assert_eq!(pg.psql("copy", "SELECT v FROM t").trim(), "two");
    let verify = cmd.run(&["verify", "pg-latest.sql.gz", "--from", "s3"]);
    verify.expect_success();
    assert!(verify.all_output().contains(&second), "{verify}");
    for args in [&["list"][..], &["verify", "all", "--from", "s3"]] {
        let run = cmd.run(args);
        run.expect_success();
        assert!(!run.all_output().contains("pg-latest"), "{run}");
    }

    // Prune moves a pointer off the backup it deletes: an older copy planted beside the newest, named by the
    // pointer (as after the clock went back), goes, and the pointer names the newest again.
    let old = "pg-2020-01-01T00-00-00.sql.gz";
    let client = s3.client("ptr", "");
    let bytes = s3.get("ptr", &format!("db/{second}"));
    client.put(&format!("db/{old}"), &bytes).expect("plant");
    let line = format!("{}  {old}\n", files::sha256_hex(&bytes));
    client
        .put(&format!("db/{old}.sha256"), line.as_bytes())
        .expect("plant");
    client
        .put("db/pg-latest", format!("{old}\n").as_bytes())
        .expect("plant");
    cmd.clone()
        .env("BACKUP_LOCAL", "false")
        .env("BACKUP_RETENTION_DAYS", "0")
        .run(&["prune"])
        .expect_success();
    assert_eq!(
        s3.keys("ptr"),
        [
            format!("db/{second}"),
            format!("db/{second}.manifest.json"),
            format!("db/{second}.sha256")
        ]
    );
    assert_eq!(
        s3.pointers("ptr"),
        [("db/pg-latest".to_string(), format!("{second}\n"))]
    );

    // A failed backup leaves the pointer where it was.
    pg.psql("postgres", "DROP DATABASE app");
    cmd.run(&["backup-db"]).expect_code(1);
    assert_eq!(
        s3.pointers("ptr"),
        [("db/pg-latest".to_string(), format!("{second}\n"))]
    );
}
