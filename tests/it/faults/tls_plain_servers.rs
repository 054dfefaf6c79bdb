//! Servers without TLS, reached with a mode that requires it: each engine says that the server does not offer
//! TLS (instead of a connection or password problem), and does not wait for it to change.

use crate::support::files::backup_dir;
use crate::support::mariadb::{self, MariaDb};
use crate::support::redis::{REDIS_SERVER, RedisServer};
use crate::support::{DbBackup, PG_SERVER, PgServer, require_tools};

#[test]
fn a_mode_that_requires_tls_against_plain_servers_says_so() {
    require_tools!(PG_SERVER, REDIS_SERVER);
    if !mariadb::available() {
        return;
    }
    let dir = backup_dir();
    let pg = PgServer::start();
    pg.create_db("app");
    let my = MariaDb::start();
    my.create_db("app");
    let redis = RedisServer::start();
    redis
        .db_backup(dir.path())
        .run(&["backup-db"])
        .expect_success();
    let runs = [
        DbBackup::for_server(&pg, "app", dir.path()),
        my.db_backup("app", dir.path()),
    ];
    for cmd in runs {
        // The default works without TLS...
        cmd.run(&["backup-db"]).expect_success();
        // ...and require says what is missing.
        cmd.env("DB_SSLMODE", "require")
            .run(&["backup-db"])
            .expect_code(1)
            .expect_stderr_mentions(&["does not offer TLS", "DB_SSLMODE=require"]);
    }
    // Redis has no TLS negotiation: its plain port is recognised.
    redis
        .db_backup(dir.path())
        .env("DB_SSLMODE", "require")
        .run(&["backup-db"])
        .expect_code(1)
        .expect_stderr_mentions(&["speaks plain Redis", "does not offer TLS", "tls-port"]);
}
