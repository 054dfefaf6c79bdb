//! A throwaway redis-server per test: own directory, free port on 127.0.0.1, persistence off, killed on drop;
//! never the machine's own server. Also what the Redis tests share: a data set with every value type and
//! encoding, one whose transfer is slow, a key-by-key snapshot for comparing two servers, and the backup file
//! in a directory.

use std::collections::BTreeMap;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use redis::{Connection, Value};
use tempfile::TempDir;

use super::runner::DbBackup;
use super::tools;

/// What the Redis tests need installed.
pub const REDIS_SERVER: &[&str] = &["redis-server"];
/// The client, for the tests that compare with `redis-cli --rdb`.
pub const REDIS_CLI: &[&str] = &["redis-cli"];

pub struct RedisServer {
    dir: TempDir,
    port: u16,
    password: Option<String>,
    child: Option<Child>,
    /// Set for a server that listens only on a TLS port (see `start_tls`).
    tls: Option<ServerTls>,
}

/// The files of a TLS-only server, and the client certificate the harness presents when clients must have one.
#[derive(Clone)]
pub struct ServerTls {
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client: Option<(PathBuf, PathBuf)>,
}

impl RedisServer {
    /// A server with persistence off and diskless replication without the usual 5 s wait for more replicas.
    pub fn start() -> RedisServer {
        RedisServer::start_with(&[])
    }

    /// As [`RedisServer::start`], with extra `--name value` settings (they override the defaults).
    pub fn start_with(settings: &[&str]) -> RedisServer {
        let dir = tempfile::Builder::new()
            .prefix("db-backup-it-redis-")
            .tempdir()
            .expect("temp dir");
        RedisServer::launch(dir, settings)
    }

    /// A server that listens only on a TLS port (`--port 0 --tls-port N`) with `certs`' server certificate; with
    /// `client`, clients must present a certificate signed by the CA (`--tls-auth-clients yes`), and the harness
    /// presents that one.
    pub fn start_tls(
        certs: &super::certs::Certs,
        client: Option<(PathBuf, PathBuf)>,
    ) -> RedisServer {
        let dir = tempfile::Builder::new()
            .prefix("db-backup-it-redis-")
            .tempdir()
            .expect("temp dir");
        let tls = ServerTls {
            ca: certs.ca(),
            cert: certs.server_cert(),
            key: certs.server_key(),
            client,
        };
        RedisServer::launch_with(dir, &[], Some(tls))
    }

    /// A server that loads `rdb` at start (a file-based restore).
    pub fn start_from_file(rdb: &Path) -> RedisServer {
        let dir = tempfile::Builder::new()
            .prefix("db-backup-it-redis-")
            .tempdir()
            .expect("temp dir");
        fs::copy(rdb, dir.path().join("dump.rdb")).expect("copy the RDB into place");
        RedisServer::launch(dir, &["--dbfilename", "dump.rdb"])
    }

    fn launch(dir: TempDir, settings: &[&str]) -> RedisServer {
        RedisServer::launch_with(dir, settings, None)
    }

    fn launch_with(dir: TempDir, settings: &[&str], tls: Option<ServerTls>) -> RedisServer {
        let password = settings
            .windows(2)
            .find(|w| w[0] == "--requirepass")
            .map(|w| w[1].to_string());
        let mut server = RedisServer {
            dir,
            port: 0,
            password,
            child: None,
            tls,
        };
        // The free port may be taken between our probe and redis's bind: then try another.
        for _ in 0..5 {
            server.port = free_port();
            let log = server.dir.path().join("server.log");
            let port = server.port.to_string();
            let ports: Vec<std::ffi::OsString> = match &server.tls {
                None => vec!["--port".into(), port.into()],
                Some(tls) => vec![
                    "--port".into(),
                    "0".into(),
                    "--tls-port".into(),
                    port.into(),
                    "--tls-cert-file".into(),
                    tls.cert.clone().into(),
                    "--tls-key-file".into(),
                    tls.key.clone().into(),
                    "--tls-ca-cert-file".into(),
                    tls.ca.clone().into(),
                    "--tls-auth-clients".into(),
                    if tls.client.is_some() { "yes" } else { "no" }.into(),
                ],
            };
            let mut child = Command::new(tools::path("redis-server"))
                .args(ports)
                .args(["--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
                .arg("--dir")
                .arg(server.dir.path())
                .arg("--logfile")
                .arg(&log)
                .args(["--repl-diskless-sync-delay", "0"])
                .args(settings)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn redis-server");
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if child.try_wait().expect("poll redis-server").is_some() {
                    let text = fs::read_to_string(&log).unwrap_or_default();
                    if text.contains("Address already in use") {
                        break;
                    }
                    panic!("redis-server did not start:\n{text}");
                }
                if server.try_conn().is_ok() {
                    server.child = Some(child);
                    return server;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("redis-server not ready within 20 s");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("redis-server could not bind a free port after 5 attempts");
    }

    /// The port, as an argument.
    pub fn port_string(&self) -> String {
        self.port.to_string()
    }

    fn try_conn(&self) -> redis::RedisResult<Connection> {
        let client = match &self.tls {
            None => {
                let url = match &self.password {
                    Some(pw) => format!("redis://:{pw}@127.0.0.1:{}/", self.port),
                    None => format!("redis://127.0.0.1:{}/", self.port),
                };
                redis::Client::open(url)?
            }
            Some(tls) => {
                // The server's certificate names `localhost`.
                let url = format!("rediss://localhost:{}/", self.port);
                let read = |p: &Path| fs::read(p).expect("read a certificate file");
                redis::Client::build_with_tls(
                    url,
                    redis::TlsCertificates {
                        client_tls: tls
                            .client
                            .as_ref()
                            .map(|(cert, key)| redis::ClientTlsConfig {
                                client_cert: read(cert),
                                client_key: read(key),
                            }),
                        root_cert: Some(read(&tls.ca)),
                    },
                )?
            }
        };
        let mut conn = client.get_connection_with_timeout(Duration::from_secs(5))?;
        redis::cmd("PING").query::<()>(&mut conn)?;
        Ok(conn)
    }

    /// A connection as the superuser (the default user).
    pub fn conn(&self) -> Connection {
        self.try_conn().expect("connect to the test redis-server")
    }

    /// Runs one command; panics on an error reply.
    pub fn cmd(&self, args: &[&str]) -> Value {
        let mut cmd = redis::cmd(args[0]);
        for arg in &args[1..] {
            cmd.arg(*arg);
        }
        cmd.query(&mut self.conn())
            .unwrap_or_else(|e| panic!("{args:?} failed: {e}"))
    }

    /// Keys per logical database (only the databases that hold some).
    pub fn keyspace(&self) -> BTreeMap<u64, u64> {
        let info: String = redis::cmd("INFO")
            .arg("keyspace")
            .query(&mut self.conn())
            .expect("INFO keyspace");
        info.lines()
            .filter_map(|line| {
                let (db, rest) = line.split_once(':')?;
                let db = db.strip_prefix("db")?.parse().ok()?;
                let keys = rest
                    .split(',')
                    .next()?
                    .strip_prefix("keys=")?
                    .parse()
                    .ok()?;
                Some((db, keys))
            })
            .collect()
    }

    /// db-backup configured for this server, writing into `backup_dir` as series `redis`.
    pub fn db_backup(&self, backup_dir: &Path) -> DbBackup {
        let mut cmd = DbBackup::bare()
            .env("DB_TYPE", "redis")
            .env("DB_HOST", "127.0.0.1")
            .env("DB_PORT", &self.port.to_string())
            .env("DB_CONTAINER", "redis")
            .env("BACKUP_DIR", backup_dir.to_str().expect("UTF-8 temp path"))
            .env("DB_WAIT_TIMEOUT", "10")
            .env("TZ", "UTC");
        if let Some(pw) = &self.password {
            cmd = cmd.env("DB_PASSWORD", pw);
        }
        cmd
    }

    /// Kills the server at once.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("probe a free port")
        .port()
}

/// The one committed Redis backup in `dir` (`redis-<time>.rdb[.gz|.zst]`); fails unless there is exactly one.
pub fn only_rdb_backup(dir: &Path) -> String {
    let found: Vec<String> = super::files::names(dir)
        .into_iter()
        .filter(|n| n.starts_with("redis-") && n.contains(".rdb") && !n.ends_with(".sha256"))
        .collect();
    assert_eq!(found.len(), 1, "expected one Redis backup in {found:?}");
    found.into_iter().next().expect("one backup")
}

/// Fills database 0 with `keys` string keys (`key-<i>`) of `value_len` bytes each, then has the server save
/// each key with a delay (`rdb-key-save-delay` 200 µs), so that a backup's transfer lasts about
/// `keys` × 200 µs: long enough to watch or to cut.
pub fn fill_for_a_slow_transfer(conn: &mut Connection, keys: usize, value_len: usize) {
    let mut pipe = redis::pipe();
    for i in 0..keys {
        pipe.cmd("SET")
            .arg(format!("key-{i}"))
            .arg("v".repeat(value_len))
            .ignore();
    }
    pipe.query::<()>(conn).expect("fill");
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("rdb-key-save-delay")
        .arg(200)
        .query::<()>(conn)
        .expect("CONFIG SET rdb-key-save-delay");
}

/// Fills the server with keys of every type, in small (compact) and large (full) encodings, binary and odd
/// key names, TTLs, several logical databases and a function library.
pub fn fill_every_type(server: &RedisServer) {
    let mut conn = server.conn();
    let q = |conn: &mut Connection, cmd: &mut redis::Cmd| {
        cmd.query::<Value>(conn).expect("a command of the fill");
    };
    for db in [0u64, 1, 7] {
        let mut pipe = redis::pipe();
        pipe.cmd("SELECT").arg(db);
        let p = |name: &str| format!("db{db}:{name}");
        // Strings: small, an integer, large.
        pipe.cmd("SET").arg(p("str:small")).arg("hello");
        pipe.cmd("SET").arg(p("str:int")).arg("123456");
        pipe.cmd("SET").arg(p("str:large")).arg("x".repeat(100_000));
        pipe.cmd("SET")
            .arg(b"bin\x00\xff\n key".to_vec())
            .arg(vec![0u8, 1, 2, 255]);
        // Lists: listpack, quicklist of many nodes, one with a plain (huge) node.
        pipe.cmd("RPUSH").arg(p("list:small")).arg(&["a", "b", "c"]);
        let many: Vec<String> = (0..5000).map(|i| format!("element-{i}")).collect();
        pipe.cmd("RPUSH").arg(p("list:large")).arg(&many);
        pipe.cmd("RPUSH")
            .arg(p("list:plain-node"))
            .arg("y".repeat(20_000))
            .arg("small");
        // Sets: intset, listpack (7.2+), hashtable, a large set of integers.
        pipe.cmd("SADD").arg(p("set:ints")).arg(&[1, 2, 3, 42]);
        pipe.cmd("SADD").arg(p("set:small")).arg(&["x", "y", "z"]);
        let members: Vec<String> = (0..1000).map(|i| format!("member-{i}")).collect();
        pipe.cmd("SADD").arg(p("set:large")).arg(&members);
        let ints: Vec<i64> = (0..1000).map(|i| i * 7).collect();
        pipe.cmd("SADD").arg(p("set:large-ints")).arg(&ints);
        // Sorted sets: listpack and skiplist, with odd scores.
        pipe.cmd("ZADD")
            .arg(p("zset:small"))
            .arg(&["1.5", "a", "-inf", "b", "+inf", "c"]);
        let mut zargs = Vec::new();
        for i in 0..1000 {
            zargs.push(format!("{}", f64::from(i) * 0.25));
            zargs.push(format!("z-{i}"));
        }
        pipe.cmd("ZADD").arg(p("zset:large")).arg(&zargs);
        // Hashes: listpack and hashtable.
        pipe.cmd("HSET")
            .arg(p("hash:small"))
            .arg(&["f1", "v1", "f2", "v2"]);
        let mut hargs = Vec::new();
        for i in 0..1000 {
            hargs.push(format!("field-{i}"));
            hargs.push(format!("value-{i}"));
        }
        pipe.cmd("HSET").arg(p("hash:large")).arg(&hargs);
        pipe.cmd("HSET")
            .arg(p("hash:big-value"))
            .arg("f")
            .arg("h".repeat(10_000));
        // TTLs.
        pipe.cmd("SET")
            .arg(p("ttl:str"))
            .arg("expires")
            .arg("PX")
            .arg(3_600_000);
        pipe.cmd("PEXPIRE").arg(p("list:large")).arg(7_200_000);
        pipe.cmd("PEXPIRE").arg(p("hash:small")).arg(86_400_000);
        pipe.query::<()>(&mut conn).expect("fill");
        // Streams: many entries, deletions, consumer groups with pending entries and consumers.
        let stream = p("stream");
        for i in 0..2000 {
            q(
                &mut conn,
                redis::cmd("XADD")
                    .arg(&stream)
                    .arg("*")
                    .arg("n")
                    .arg(i)
                    .arg("payload")
                    .arg(format!("p{i}")),
            );
        }
        q(
            &mut conn,
            redis::cmd("XADD")
                .arg(p("stream:small"))
                .arg("1-1")
                .arg("a")
                .arg("b"),
        );
        let ids: Vec<(String, Vec<Value>)> = redis::cmd("XRANGE")
            .arg(&stream)
            .arg("-")
            .arg("+")
            .arg("COUNT")
            .arg(10)
            .query(&mut conn)
            .expect("XRANGE");
        q(&mut conn, redis::cmd("XDEL").arg(&stream).arg(&ids[3].0));
        for group in ["g1", "g2"] {
            q(
                &mut conn,
                redis::cmd("XGROUP")
                    .arg("CREATE")
                    .arg(&stream)
                    .arg(group)
                    .arg("0"),
            );
        }
        for (consumer, count) in [("alice", 5), ("bob", 3)] {
            q(
                &mut conn,
                redis::cmd("XREADGROUP")
                    .arg("GROUP")
                    .arg("g1")
                    .arg(consumer)
                    .arg("COUNT")
                    .arg(count)
                    .arg("STREAMS")
                    .arg(&stream)
                    .arg(">"),
            );
        }
        q(
            &mut conn,
            redis::cmd("XACK").arg(&stream).arg("g1").arg(&ids[0].0),
        );
        q(
            &mut conn,
            redis::cmd("XGROUP")
                .arg("CREATECONSUMER")
                .arg(&stream)
                .arg("g2")
                .arg("idle"),
        );
    }
    q(
        &mut conn,
        redis::cmd("FUNCTION").arg("LOAD").arg(
            "#!lua name=testlib\nredis.register_function('echo1', function(keys, args) return args[1] end)",
        ),
    );
}

/// One key as the tests compare it.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyState {
    pub kind: String,
    pub encoding: String,
    /// The value in a form that does not depend on hash-table order.
    pub value: String,
    /// Milliseconds left, or -1.
    pub pttl: i64,
}

/// Every key of every logical database, read type by type.
pub fn snapshot(server: &RedisServer) -> BTreeMap<(u64, Vec<u8>), KeyState> {
    let mut conn = server.conn();
    let mut out = BTreeMap::new();
    for db in server.keyspace().keys() {
        redis::cmd("SELECT")
            .arg(*db)
            .query::<()>(&mut conn)
            .expect("SELECT");
        let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(&mut conn).expect("KEYS");
        for key in keys {
            let get = |conn: &mut Connection, name: &str, extra: &[&str]| -> Value {
                let mut cmd = redis::cmd(name);
                cmd.arg(&key);
                for e in extra {
                    cmd.arg(*e);
                }
                cmd.query(conn).unwrap_or_else(|e| panic!("{name}: {e}"))
            };
            let kind: String = redis::cmd("TYPE").arg(&key).query(&mut conn).expect("TYPE");
            let encoding: String = redis::cmd("OBJECT")
                .arg("ENCODING")
                .arg(&key)
                .query(&mut conn)
                .expect("OBJECT ENCODING");
            let value = match kind.as_str() {
                "string" => format!("{:?}", get(&mut conn, "GET", &[])),
                "list" => format!("{:?}", get(&mut conn, "LRANGE", &["0", "-1"])),
                "set" => sorted(get(&mut conn, "SMEMBERS", &[])),
                "zset" => format!("{:?}", get(&mut conn, "ZRANGE", &["0", "-1", "WITHSCORES"])),
                "hash" => sorted(get(&mut conn, "HGETALL", &[])),
                "stream" => {
                    let entries = get(&mut conn, "XRANGE", &["-", "+"]);
                    let mut text = format!("{entries:?}");
                    let groups: Value = redis::cmd("XINFO")
                        .arg("GROUPS")
                        .arg(&key)
                        .query(&mut conn)
                        .expect("XINFO GROUPS");
                    text.push_str(&format!("{groups:?}"));
                    for group in ["g1", "g2"] {
                        let consumers: redis::RedisResult<Value> = redis::cmd("XINFO")
                            .arg("CONSUMERS")
                            .arg(&key)
                            .arg(group)
                            .query(&mut conn);
                        if let Ok(consumers) = consumers {
                            // Idle times move on; names and pending counts must not.
                            text.push_str(&strip_times(&consumers));
                        }
                        let pending: redis::RedisResult<Value> = redis::cmd("XPENDING")
                            .arg(&key)
                            .arg(group)
                            .arg("-")
                            .arg("+")
                            .arg(100)
                            .query(&mut conn);
                        if let Ok(pending) = pending {
                            text.push_str(&strip_times(&pending));
                        }
                    }
                    let last: Value = redis::cmd("XINFO")
                        .arg("STREAM")
                        .arg(&key)
                        .query(&mut conn)
                        .expect("XINFO STREAM");
                    text.push_str(&stream_ids(&last));
                    text
                }
                other => panic!("unexpected type {other}"),
            };
            let pttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut conn).expect("PTTL");
            out.insert(
                (*db, key),
                KeyState {
                    kind,
                    encoding,
                    value,
                    pttl,
                },
            );
        }
    }
    out
}

fn sorted(value: Value) -> String {
    let mut items: Vec<String> = match value {
        Value::Array(items) => items.iter().map(|v| format!("{v:?}")).collect(),
        Value::Map(pairs) => pairs.iter().map(|p| format!("{p:?}")).collect(),
        other => vec![format!("{other:?}")],
    };
    items.sort();
    items.join(",")
}

/// A reply with the fields that are times (idle, inactive, delivery time) taken out.
fn strip_times(value: &Value) -> String {
    match value {
        Value::Array(items) => {
            let mut out = String::from("[");
            let mut skip_next = false;
            for (i, item) in items.iter().enumerate() {
                if skip_next {
                    skip_next = false;
                    continue;
                }
                if let Value::BulkString(name) = item
                    && (name == b"idle" || name == b"inactive")
                {
                    skip_next = true;
                    continue;
                }
                // XPENDING details: [id, consumer, idle ms, deliveries]: drop the idle time.
                if i == 2 && items.len() == 4 && matches!(item, Value::Int(_)) {
                    continue;
                }
                out.push_str(&strip_times(item));
                out.push(',');
            }
            out.push(']');
            out
        }
        other => format!("{other:?}"),
    }
}

/// The ids XINFO STREAM reports (last generated, max deleted, entries added), not its times or node counts.
fn stream_ids(value: &Value) -> String {
    let Value::Array(items) = value else {
        return format!("{value:?}");
    };
    let mut out = String::new();
    for pair in items.chunks(2) {
        if let [Value::BulkString(name), v] = pair
            && matches!(
                name.as_slice(),
                b"length"
                    | b"last-generated-id"
                    | b"max-deleted-entry-id"
                    | b"entries-added"
                    | b"groups"
            )
        {
            out.push_str(&format!("{}={v:?};", String::from_utf8_lossy(name)));
        }
    }
    out
}

/// Fails the test unless `restored` holds exactly the keys of `source`, with the same type, encoding and value,
/// and TTLs within `ttl_slack` of each other.
pub fn assert_same_data(
    source: &BTreeMap<(u64, Vec<u8>), KeyState>,
    restored: &BTreeMap<(u64, Vec<u8>), KeyState>,
    ttl_slack: Duration,
) {
    let names = |m: &BTreeMap<(u64, Vec<u8>), KeyState>| {
        m.keys()
            .map(|(db, k)| format!("{db}:{}", String::from_utf8_lossy(k)))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(source),
        names(restored),
        "the restored key set differs"
    );
    for (key, a) in source {
        let b = &restored[key];
        let label = format!("db {} key {:?}", key.0, String::from_utf8_lossy(&key.1));
        assert_eq!(a.kind, b.kind, "type of {label}");
        assert_eq!(a.encoding, b.encoding, "encoding of {label}");
        assert!(
            a.value == b.value,
            "value of {label} differs:\n{}\n{}",
            a.value,
            b.value
        );
        if a.pttl < 0 || b.pttl < 0 {
            assert_eq!(a.pttl, b.pttl, "TTL of {label}");
        } else {
            let diff = (a.pttl - b.pttl).unsigned_abs();
            assert!(
                diff <= ttl_slack.as_millis() as u64,
                "TTL of {label}: {} ms vs {} ms",
                a.pttl,
                b.pttl
            );
        }
    }
}

/// The function libraries' names and code.
pub fn functions(server: &RedisServer) -> String {
    format!("{:?}", server.cmd(&["FUNCTION", "LIST", "WITHCODE"]))
}

/// Writes a tiny RDB (version 10) by hand: `body` goes between the header and the end marker.
pub fn craft_rdb(body: &[u8]) -> Vec<u8> {
    let mut bytes = b"REDIS0010".to_vec();
    bytes.extend_from_slice(body);
    bytes.push(0xff);
    let crc = crc64_redis(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    bytes
}

/// Redis's CRC-64 (Jones polynomial, reflected), bit by bit: slow, independent of the code under test.
fn crc64_redis(bytes: &[u8]) -> u64 {
    const POLY: u64 = 0x95ac_9329_ac4b_c9b5; // 0xad93d23594c935a9 reflected
    let mut crc = 0u64;
    for &b in bytes {
        crc ^= u64::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
        }
    }
    crc
}

#[test]
fn the_independent_crc64_matches_the_known_vector() {
    assert_eq!(crc64_redis(b"123456789"), 0xe9c6d914c4b8d9ca);
}
