//! A MySQL/MariaDB database worth backing up: awkward data in many column types, and every kind of schema
//! object a dump must carry (views, a procedure, a function, triggers, an event), with proof they work.

use super::mariadb::MariaDb;

/// Tables with NULLs, utf8mb4 (emoji, CJK), BLOBs holding NUL/quote/backslash/newline bytes, BIT, SET,
/// ENUM, JSON, DECIMAL, fractional DATETIME; a foreign key; a trigger, a function, a procedure, a view and
/// an event.
pub const SCHEMA_AND_DATA: &str = r#"
CREATE TABLE people (
    id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    name VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL,
    nickname VARCHAR(100) CHARACTER SET utf8mb4 NULL,
    mood ENUM('sad', 'ok', 'happy') NULL,
    tags SET('a', 'b', 'c') NULL,
    avatar BLOB NULL,
    flags BIT(12) NULL,
    price DECIMAL(30, 10) NULL,
    ratio DOUBLE NULL,
    born DATE NULL,
    seen DATETIME(6) NULL,
    profile JSON NULL,
    token VARBINARY(16) NULL,
    KEY people_name (name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COMMENT='Everyone — ünïcødé in a comment';
CREATE TABLE audit (
    id INT AUTO_INCREMENT PRIMARY KEY,
    person_id BIGINT UNSIGNED NOT NULL,
    action VARCHAR(10) NOT NULL,
    CONSTRAINT audit_person FOREIGN KEY (person_id) REFERENCES people (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
CREATE TRIGGER people_audit AFTER INSERT ON people FOR EACH ROW
    INSERT INTO audit (person_id, action) VALUES (NEW.id, 'insert');
INSERT INTO people (name, nickname, mood, tags, avatar, flags, price, ratio, born, seen, profile, token) VALUES
    ('Zoë Ångström', NULL, 'happy', 'a,c', 0x00FF10, b'101010101010', 12345678901234567890.0123456789, 1e-300,
     '2000-02-29', '2001-02-03 04:05:06.789012', '{"a": [1, 2, {"b": null}]}', 0x00),
    ('李小龍', 'dragon', 'ok', '', NULL, b'0', -1.5, 3.25, NULL, NULL, NULL, NULL),
    ('emoji 🎉', 'tab\there\nnewline', NULL, 'b', 0xDEADBEEF, NULL, NULL, NULL, '1970-01-01', NULL, '[]', 0xFFFF),
    ('backslash \\ and ''quotes''', '', 'sad', NULL, '', NULL, 0, -0.0, '9999-12-31', '1000-01-01 00:00:00', '{}', '');
CREATE TABLE blobs (id INT PRIMARY KEY, data LONGBLOB NOT NULL) ENGINE=InnoDB;
INSERT INTO blobs VALUES (1, REPEAT(CONCAT(CHAR(0), CHAR(255), CHAR(10), CHAR(92), CHAR(39), CHAR(59)), 60000));
CREATE FUNCTION exclaim(t TEXT CHARACTER SET utf8mb4) RETURNS TEXT CHARACTER SET utf8mb4 DETERMINISTIC
    RETURN CONCAT('¡', t, '!');
DELIMITER //
CREATE PROCEDURE count_people(OUT n INT)
    COMMENT 'counts; with a semicolon'
BEGIN
    SELECT COUNT(*) INTO n FROM people;
END //
DELIMITER ;
CREATE VIEW happy_people AS SELECT id, exclaim(name) AS loud FROM people WHERE mood = 'happy';
CREATE EVENT nightly_cleanup ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 03:00:00'
    COMMENT 'never runs in the tests' DO DELETE FROM audit WHERE id < 0;
"#;

/// Text that the dump of the fixture must contain: each object, and some of the awkward data.
pub const DUMP_MARKERS: &[&str] = &[
    "CREATE TABLE `people`",
    "CREATE TABLE `audit`",
    "CONSTRAINT `audit_person` FOREIGN KEY",
    "TRIGGER people_audit AFTER INSERT ON people",
    "FUNCTION `exclaim`",
    "PROCEDURE `count_people`",
    "VIEW `happy_people` AS",
    "EVENT `nightly_cleanup` ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 03:00:00'",
    "Zoë Ångström",
    "李小龍",
    "emoji 🎉",
    "0x00FF10",
    "0xDEADBEEF",
    "12345678901234567890.0123456789",
];

/// Creates database `db` and fills it with the fixture; returns its dump after checking it.
pub fn create(my: &MariaDb, db: &str) -> String {
    my.create_db(db);
    my.sql(Some(db), SCHEMA_AND_DATA);
    let dump = my.dump(db);
    for marker in DUMP_MARKERS {
        assert!(dump.contains(marker), "dump lacks {marker:?}:\n{dump}");
    }
    dump
}

/// Facts read back through SQL rather than the dump: the restored objects work, not just exist.
pub fn facts(my: &MariaDb, db: &str) -> String {
    my.sql(
        Some(db),
        "SELECT COUNT(*) FROM people;
         SELECT COUNT(*) FROM people WHERE nickname IS NULL;
         SELECT loud FROM happy_people;
         CALL count_people(@n); SELECT @n;
         SELECT COUNT(*) FROM audit;
         SELECT HEX(avatar) FROM people WHERE name = 'emoji 🎉';
         SELECT LENGTH(data), MD5(data) FROM blobs;
         SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = DATABASE();",
    )
}

/// What [`facts`] says of a freshly created fixture.
pub const FACTS: &str =
    "4\n1\n¡Zoë Ångström!\n4\n4\nDEADBEEF\n360000\tc1bcb108e4ba1f04603600a1e410dae0\n1";

/// Fails unless two dumps are equal, showing the first lines that differ (shortened: rows can be long).
pub fn assert_same_dump(actual: &str, expected: &str) {
    if actual == expected {
        return;
    }
    let short = |l: &str| l.chars().take(200).collect::<String>();
    let (a, e): (Vec<&str>, Vec<&str>) = (actual.lines().collect(), expected.lines().collect());
    let at = a
        .iter()
        .zip(&e)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(e.len()));
    let window = |lines: &[&str]| {
        lines[at.saturating_sub(3)..(at + 3).min(lines.len())]
            .iter()
            .map(|l| short(l))
            .collect::<Vec<_>>()
            .join("\n")
    };
    panic!(
        "the restored dump differs from the source at line {} ({} lines vs {}):\n--- restored ---\n{}\n--- source ---\n{}",
        at + 1,
        a.len(),
        e.len(),
        window(&a),
        window(&e)
    );
}
