//! Self-test of the test harness: a throwaway PostgreSQL server starts, answers, dumps and goes away.

use std::net::TcpStream;

use crate::support::{PG_SERVER, PgServer, fixture, require_tools};

#[test]
fn harness_starts_and_stops_postgres() {
    require_tools!(PG_SERVER);
    let mut pg = PgServer::start();
    assert_eq!(pg.psql("postgres", "SELECT current_user"), "postgres");
    assert!(pg.port() != 5432, "must never use the machine's own server");

    // A wrong password is refused: host connections really use password authentication.
    let mut wrong = pg.client("psql");
    wrong
        .env("PGPASSWORD", "wrong")
        .args(["-X", "-d", "postgres", "-c", "SELECT 1"]);
    assert!(
        !wrong.output().expect("run psql").status.success(),
        "a wrong password must be refused"
    );

    let source = fixture::create(&pg, "app");
    assert_eq!(fixture::facts(&pg, "app"), fixture::FACTS);
    assert!(pg.db_exists("app") && !pg.db_exists("nope"));

    // A dump piped into a new database reproduces it exactly: the comparison the round trips rely on.
    pg.create_db("copy");
    pg.psql("copy", &source);
    assert_eq!(pg.dump("copy"), source);
    assert_eq!(pg.terminate_backends("nobody"), 0);

    let port = pg.port();
    pg.stop();
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "server still listening after stop()"
    );

    let mut crashed = PgServer::start();
    let port = crashed.port();
    crashed.kill();
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "server still listening after kill()"
    );
}
