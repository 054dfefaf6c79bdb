//! `verify` accepts good backups and stops on a stop signal; `list` shows every backup of the series, newest
//! first.

use std::time::Duration;

use crate::support::files::{self, backup_dir};
use crate::support::service::wait_until;
use crate::support::{DbBackup, PG_SERVER, PgServer, fixture, require_tools};

#[test]
fn verify_accepts_a_fresh_backup() {
    require_tools!(PG_SERVER);
    let pg = PgServer::start();
    fixture::create(&pg, "app");
    let dir = backup_dir();
    let cmd = DbBackup::for_server(&pg, "app", dir.path());
    cmd.run(&["backup-db"]).expect_success();
    let name = files::only_backup(dir.path(), "pg");

    cmd.run(&["verify", "latest"]).expect_success();
    cmd.run(&["verify", "all"]).expect_success();
    cmd.run(&["verify", &name]).expect_success();
}

#[test]
fn list_shows_backups_newest_first() {
    require_tools!(PG_SERVER);
    let pg = PgServer::start();
    pg.create_db("app");
    let dir = backup_dir();
    let cmd = DbBackup::for_server(&pg, "app", dir.path());
    cmd.run(&["backup-db"]).expect_success();
    let fresh = files::only_backup(dir.path(), "pg");

    // Planted after the run, so that retention has had no chance to remove them.
    let (oldest, older) = (
        "pg-2001-01-01T00-00-00.sql.gz",
        "pg-2001-01-02T12-30-00.sql.gz",
    );
    files::plant_backup(dir.path(), oldest);
    files::plant_backup(dir.path(), older);
    std::fs::remove_file(dir.path().join(format!("{oldest}.sha256"))).expect("remove checksum");
    std::fs::write(dir.path().join("notes.txt"), "not a backup").expect("write foreign file");

    let run = cmd.run(&["list"]);
    run.expect_success();
    let at = |name: &str| {
        run.stdout
            .find(name)
            .unwrap_or_else(|| panic!("list lacks {name}:\n{run}"))
    };
    assert!(
        at(&fresh) < at(older) && at(older) < at(oldest),
        "not newest first:\n{run}"
    );
    assert!(
        !run.stdout.contains("notes.txt"),
        "list shows a file that is not a backup:\n{run}"
    );

    // Whether a checksum exists shows: the line of `oldest` changes once its checksum is back.
    let line_of = |run: &crate::support::Run| {
        run.stdout
            .lines()
            .find(|l| l.contains(oldest))
            .map(String::from)
    };
    files::plant_backup(dir.path(), oldest);
    let again = cmd.run(&["list"]);
    again.expect_success();
    assert_ne!(
        line_of(&run),
        line_of(&again),
        "checksum presence is not shown:\n{run}\n{again}"
    );
}

/// Where the open file `name` of process `pid` is read up to; `None` while it is not open.
fn read_position(pid: u32, name: &str) -> Option<u64> {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    fds.filter_map(Result::ok).find_map(|fd| {
        let target = std::fs::read_link(fd.path()).ok()?;
        if target.file_name()?.to_str()? != name {
            return None;
        }
        let info =
            std::fs::read_to_string(format!("/proc/{pid}/fdinfo/{}", fd.file_name().to_str()?))
                .ok()?;
        info.lines()
            .find_map(|l| l.strip_prefix("pos:"))
            .and_then(|p| p.trim().parse().ok())
    })
}

/// A stop signal ends a `verify` that is reading a backup at its next chunk, reported as stopped; the backup
/// (a 1 GiB sparse file, whose checksum does not match) would take far longer to read to its end and would then
/// fail with a checksum mismatch instead.
#[test]
fn a_stop_signal_ends_verify_at_the_next_chunk() {
    let dir = backup_dir();
    let name = "pg-2001-01-01T00-00-00.sql";
    let file = std::fs::File::create(dir.path().join(name)).expect("create backup");
    file.set_len(1 << 30).expect("size the backup");
    std::fs::write(
        dir.path().join(format!("{name}.sha256")),
        format!("{}  {name}\n", "0".repeat(64)),
    )
    .expect("write checksum");

    let verify = DbBackup::offline(dir.path()).spawn(&["verify", name]);
    let reading = wait_until(Duration::from_secs(30), || {
        read_position(verify.id(), name).is_some_and(|pos| pos > 0)
    });
    verify.signal(libc::SIGTERM);
    let run = verify.wait(Duration::from_secs(120));
    assert!(reading, "verify never read the backup:\n{run}");
    run.expect_code(1)
        .expect_output_mentions_any(&["cancelled by a stop signal"]);
    assert!(
        run.stdout.contains(&format!("FAILED  {name}")),
        "the backup is reported as not verified:\n{run}"
    );
}

/// A directory shared by several sidecars (the compose example's `./backups`): `verify all` checks this
/// configuration's series and counts the others, whose kinds (a Redis `.rdb`) or dumps (another engine's) it
/// could not judge, instead of calling them damaged. With none of its own there, it says so and names the rest.
#[test]
fn verify_all_checks_only_this_series_in_a_shared_directory() {
    let dir = backup_dir();
    let cmd = DbBackup::offline(dir.path());
    let foreign = |name: &str, content: &[u8]| {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut gz, content).expect("gzip in memory");
        files::write_with_checksum(dir.path(), name, &gz.finish().expect("gzip in memory"));
    };
    foreign("redis-2001-01-01T00-00-00.rdb.gz", b"REDIS0011 not ours");
    foreign(
        "mysql-2001-01-01T00-00-00.sql.gz",
        b"-- MariaDB dump 10.19\nSELECT 1;\n-- Dump completed\n",
    );

    let none = cmd.run(&["verify", "all"]);
    none.expect_code(1)
        .expect_stderr_mentions(&["series pg", "2 backup(s) of other series"]);

    let ours = "pg-2001-01-02T00-00-00.sql.gz";
    files::plant_backup(dir.path(), ours);
    let run = cmd.run(&["verify", "all"]);
    run.expect_success();
    assert!(
        run.stdout.contains(&format!("ok      {ours}")),
        "verify all did not check {ours}:\n{run}"
    );
    assert!(
        run.stdout.contains("skipped 2 backup(s) of other series"),
        "verify all does not say what it skipped:\n{run}"
    );
    assert!(
        !run.stdout.contains("redis-") && !run.stdout.contains("mysql-"),
        "verify all judged another series:\n{run}"
    );
}
