//! A database worth backing up: awkward data and most kinds of schema objects, proof they are there, and
//! the restore checks and scenes built on it.

use tempfile::TempDir;

use super::files::{self, backup_dir};
use super::pg::PgServer;
use super::runner::DbBackup;

/// Tables with NULLs, unicode, bytea and json; a plpgsql function and trigger; a view and a
/// materialized view; a domain, an enum, a sequence with unusual settings; comments; a second schema.
pub const SCHEMA_AND_DATA: &str = r#"
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN positive_int AS integer CHECK (VALUE > 0);
CREATE SEQUENCE odd_seq AS bigint START WITH 1000001 INCREMENT BY 7 MINVALUE 5 MAXVALUE 9000000000 CACHE 3 CYCLE;
SELECT setval('odd_seq', 1234567, true);
CREATE TABLE people (
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    nickname text,
    mood mood,
    score positive_int,
    avatar bytea,
    profile jsonb,
    raw json,
    born date,
    ticket bigint DEFAULT nextval('odd_seq')
);
COMMENT ON TABLE people IS 'Everyone — ünïcødé in a comment';
COMMENT ON COLUMN people.nickname IS 'may be NULL';
INSERT INTO people (name, nickname, mood, score, avatar, profile, raw, born) VALUES
    ('Zoë Ångström', NULL, 'happy', 1, '\x00ff10'::bytea, '{"a": [1, 2, {"b": null}]}', '{"k": "v"}', '2000-02-29'),
    ('李小龍', 'dragon', 'ok', 42, NULL, NULL, '[]', NULL),
    ('emoji 🎉', E'tab\there\nnewline', NULL, 7, decode('deadbeef', 'hex'), '{"quote": "\"x\""}', 'null', '1970-01-01'),
    (E'backslash \\ and ''quotes''', '', 'sad', 2147483647, ''::bytea, '{}', '{"n": 1e3}', 'infinity');
CREATE TABLE audit (id serial PRIMARY KEY, person_id bigint REFERENCES people (id), action text NOT NULL);
CREATE FUNCTION exclaim(t text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $fn$
BEGIN
    RETURN '¡' || t || '!';
END
$fn$;
COMMENT ON FUNCTION exclaim(text) IS 'adds emphasis';
CREATE FUNCTION log_change() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    INSERT INTO audit (person_id, action) VALUES (NEW.id, TG_OP);
    RETURN NEW;
END
$fn$;
CREATE TRIGGER people_audit AFTER INSERT OR UPDATE ON people FOR EACH ROW EXECUTE FUNCTION log_change();
UPDATE people SET score = score WHERE mood = 'ok';
CREATE VIEW happy_people AS SELECT id, exclaim(name) AS loud FROM people WHERE mood = 'happy';
CREATE MATERIALIZED VIEW mood_counts AS SELECT mood, count(*) AS n FROM people GROUP BY mood;
CREATE INDEX people_lower_name ON people (lower(name));
CREATE SCHEMA extra;
CREATE TABLE extra.numbers (n numeric(30, 10), f double precision, r real);
INSERT INTO extra.numbers VALUES (12345678901234567890.0123456789, 'NaN', '-Infinity'), (NULL, 1e-300, 3.25);
"#;

/// Text that `pg_dump` of the fixture must contain: each object, and some of the awkward data.
pub const DUMP_MARKERS: &[&str] = &[
    "CREATE TYPE public.mood AS ENUM",
    "CREATE DOMAIN public.positive_int AS integer",
    "CREATE SEQUENCE public.odd_seq",
    "CYCLE;",
    "SELECT pg_catalog.setval('public.odd_seq', 1234609, true);",
    "CREATE FUNCTION public.exclaim(t text) RETURNS text",
    "CREATE FUNCTION public.log_change() RETURNS trigger",
    "CREATE TRIGGER people_audit AFTER INSERT OR UPDATE ON public.people",
    "CREATE VIEW public.happy_people AS",
    "CREATE MATERIALIZED VIEW public.mood_counts AS",
    "REFRESH MATERIALIZED VIEW public.mood_counts;",
    "COMMENT ON TABLE public.people IS 'Everyone — ünïcødé in a comment';",
    "COMMENT ON FUNCTION public.exclaim(t text) IS 'adds emphasis';",
    "CREATE TABLE extra.numbers",
    "Zoë Ångström",
    "李小龍",
    "emoji 🎉",
    "\\\\x00ff10",
    "\\\\xdeadbeef",
    "12345678901234567890.0123456789",
];

/// Creates database `db` on `pg` and fills it with the fixture; returns its dump after checking it.
pub fn create(pg: &PgServer, db: &str) -> String {
    pg.create_db(db);
    pg.psql(db, SCHEMA_AND_DATA);
    let dump = pg.dump(db);
    assert_has_markers(&dump);
    dump
}

pub fn assert_has_markers(dump: &str) {
    for marker in DUMP_MARKERS {
        assert!(dump.contains(marker), "dump lacks {marker:?}:\n{dump}");
    }
}

/// Facts read back through SQL rather than the dump: the restored objects work, not just exist.
pub fn facts(pg: &PgServer, db: &str) -> String {
    pg.psql(
        db,
        "SELECT count(*) FROM people;
         SELECT count(*) FROM people WHERE nickname IS NULL;
         SELECT string_agg(loud, ',') FROM happy_people;
         SELECT string_agg(mood || '=' || n, ',' ORDER BY mood) FROM mood_counts;
         SELECT count(*) FROM audit;
         SELECT last_value FROM odd_seq;
         SELECT encode(avatar, 'hex') FROM people WHERE name = 'emoji 🎉';",
    )
}

/// What [`facts`] says of a freshly created fixture.
pub const FACTS: &str = "4\n1\n¡Zoë Ångström!\nsad=1,ok=1,happy=1\n1\n1234609\ndeadbeef";

/// Restores `latest` with `cmd` into a new database `copy` on `pg`; fails unless that succeeds and the copy
/// dumps exactly as `source` (the dump [`create`] returned).
pub fn assert_latest_restores_as(cmd: &DbBackup, pg: &PgServer, source: &str) {
    cmd.run(&["restore", "latest", "--database", "copy"])
        .expect_success();
    assert_eq!(
        pg.dump("copy"),
        source,
        "restored dump differs from the source"
    );
}

/// For tests of refused restores: a server with the fixture in `app`, a database `existing` holding one
/// row (which a refused restore must leave as it was), and one backup of `app` (series `pg`) in a fresh
/// BACKUP_DIR. Returns the server, the BACKUP_DIR, the command configured for it and the backup's name.
pub fn backed_up_beside_existing() -> (PgServer, TempDir, DbBackup, String) {
    let pg = PgServer::start();
    create(&pg, "app");
    pg.create_db("existing");
    pg.psql(
        "existing",
        "CREATE TABLE keep (x int); INSERT INTO keep VALUES (1)",
    );
    let dir = backup_dir();
    let cmd = DbBackup::for_server(&pg, "app", dir.path());
    cmd.run(&["backup-db"]).expect_success();
    let name = files::only_backup(dir.path(), "pg");
    (pg, dir, cmd, name)
}
