//! Detection by probe: when nothing in the configuration says which engine to use, the server at `DB_HOST` is
//! asked on each engine's standard port, in that engine's own protocol, and the one that answers decides.
//! This is the only part of configuration that touches the network; [`decide`] is the pure part.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use super::EngineKind;
use crate::error::ConfigError;

/// How long each probe may take to connect and to get its answer.
pub const TIMEOUT: Duration = Duration::from_millis(300);

/// The engines probed, on their standard ports.
pub const PROBED: &[EngineKind] = &[EngineKind::Postgres, EngineKind::Mysql, EngineKind::Redis];

/// What one probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The engine's protocol answered.
    Speaks,
    /// Something answered, but not in this engine's protocol (or not in time).
    Other(String),
    /// Nothing could be reached there.
    Unreachable(String),
}

/// The variables whose presence makes probing unnecessary: they name the engine or imply it.
pub const DECIDING: &[&str] = &["DB_TYPE", "DB_PORT", "PGPORT", "DB_PATH", "BACKUP_CMD"];

/// Whether the configuration leaves the engine to a probe (every deciding variable unset or empty).
pub fn needed(vars: &[(String, String)]) -> bool {
    !vars
        .iter()
        .any(|(k, v)| !v.is_empty() && DECIDING.contains(&k.as_str()))
}

/// The host the probe asks: `DB_HOST`, else `PGHOST`, else localhost.
pub fn host(vars: &[(String, String)]) -> String {
    let get = |name: &str| {
        vars.iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    get("DB_HOST")
        .or_else(|| get("PGHOST"))
        .unwrap_or_else(|| "localhost".to_string())
}

/// Probes every engine on `host` at once (each on its standard port); results in the order of [`PROBED`].
pub fn probe_all(host: &str) -> Vec<(EngineKind, u16, Answer)> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = PROBED
            .iter()
            .map(|&kind| {
                let port = kind.default_port();
                scope.spawn(move || (kind, port, probe(host, port, kind, TIMEOUT)))
            })
            .collect();
        handles
            .into_iter()
            .zip(PROBED)
            .map(|(h, &kind)| {
                h.join().unwrap_or_else(|_| {
                    let port = kind.default_port();
                    (kind, port, Answer::Other("the probe failed".into()))
                })
            })
            .collect()
    })
}

/// Asks `host:port` whether it speaks `kind`'s protocol, within `timeout` for the connection and again for
/// the answer.
pub fn probe(host: &str, port: u16, kind: EngineKind, timeout: Duration) -> Answer {
    if host.starts_with('/') {
        // A socket directory, as libpq allows: only PostgreSQL names its sockets this way.
        let socket = std::path::Path::new(host).join(format!(".s.PGSQL.{port}"));
        return match (kind, socket.exists()) {
            (EngineKind::Postgres, true) => Answer::Speaks,
            _ => Answer::Unreachable(format!("no socket {}", socket.display())),
        };
    }
    let addrs: Vec<SocketAddr> = match (host, port).to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(e) => return Answer::Unreachable(format!("cannot resolve {host}: {e}")),
    };
    let mut last = Answer::Unreachable(format!("{host} has no address"));
    for addr in addrs {
        let mut stream = match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => s,
            Err(e) => {
                last = Answer::Unreachable(e.to_string());
                continue;
            }
        };
        return match talk(&mut stream, kind, timeout) {
            Ok(bytes) if recognises(kind, &bytes) => Answer::Speaks,
            Ok(bytes) if bytes.is_empty() => Answer::Other("no answer".into()),
            Ok(_) => Answer::Other("another protocol answered".into()),
            Err(e) => Answer::Other(format!("no answer: {e}")),
        };
    }
    last
}

/// Sends what `kind`'s protocol expects a client to say first (nothing for MySQL, whose server speaks first)
/// and returns the first bytes of the answer.
fn talk(stream: &mut TcpStream, kind: EngineKind, timeout: Duration) -> std::io::Result<Vec<u8>> {
    stream.set_write_timeout(Some(timeout))?;
    match kind {
        // SSLRequest: length 8, code 80877103. The server answers with one byte, `S` or `N`.
        EngineKind::Postgres => stream.write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])?,
        EngineKind::Redis => stream.write_all(b"*1\r\n$4\r\nPING\r\n")?,
        _ => {}
    }
    let want = match kind {
        EngineKind::Postgres => 1,
        EngineKind::Redis => 7,
        _ => 5,
    };
    let deadline = Instant::now() + timeout;
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    while got.len() < want {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        stream.set_read_timeout(Some(left))?;
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                break;
            }
            Err(e) if got.is_empty() => return Err(e),
            Err(_) => break,
        }
    }
    Ok(got)
}

/// Whether the first bytes of an answer are `kind`'s protocol.
pub fn recognises(kind: EngineKind, answer: &[u8]) -> bool {
    match kind {
        // One byte: `S` (TLS offered) or `N` (no TLS), and nothing more before our next message.
        EngineKind::Postgres => answer == b"S" || answer == b"N",
        // The first packet: a 3-byte length, sequence number 0, then protocol version 10 (the handshake) or
        // 0xff (an error packet, such as "host is not allowed to connect", still MySQL).
        EngineKind::Mysql => {
            answer.len() >= 5 && answer[3] == 0 && (answer[4] == 10 || answer[4] == 0xff)
        }
        // `+PONG`, or an error that only Redis gives to a PING from a stranger.
        EngineKind::Redis => [
            &b"+PONG"[..],
            b"-NOAUTH",
            b"-DENIED",
            b"-NOPERM",
            b"-WRONGPASS",
        ]
        .iter()
        .any(|p| answer.starts_with(p)),
        EngineKind::Sqlite | EngineKind::Command => false,
    }
}

/// The engine the probe results point to, with the reason; an error asking for `DB_TYPE` when none or
/// several answered.
pub fn decide(
    host: &str,
    results: &[(EngineKind, u16, Answer)],
) -> Result<(EngineKind, String), ConfigError> {
    let speaking: Vec<&(EngineKind, u16, Answer)> =
        results.iter().filter(|r| r.2 == Answer::Speaks).collect();
    let describe = |kind: EngineKind| match kind {
        EngineKind::Postgres => "PostgreSQL",
        EngineKind::Mysql => "MySQL/MariaDB",
        EngineKind::Redis => "Redis",
        EngineKind::Sqlite => "SQLite",
        EngineKind::Command => "command",
    };
    match speaking.as_slice() {
        [(kind, port, _)] => Ok((
            *kind,
            format!(
                "detected by probing {host}: {} answered on port {port}",
                describe(*kind)
            ),
        )),
        [] => {
            let tried: Vec<String> = results
                .iter()
                .map(|(kind, port, answer)| {
                    let why = match answer {
                        Answer::Speaks => "answered",
                        Answer::Other(w) | Answer::Unreachable(w) => w,
                    };
                    format!("{} on {port}: {why}", describe(*kind))
                })
                .collect();
            Err(ConfigError::new(
                "DB_TYPE",
                format!(
                    "is not set and no database server answered on {host} ({}); set DB_TYPE (postgres, mysql, \
                     redis, sqlite with DB_PATH, command with BACKUP_CMD), and DB_HOST/DB_PORT to where the \
                     server is",
                    tried.join("; ")
                ),
            ))
        }
        several => {
            let found: Vec<String> = several
                .iter()
                .map(|(kind, port, _)| format!("{} on {port}", describe(*kind)))
                .collect();
            Err(ConfigError::new(
                "DB_TYPE",
                format!(
                    "is not set and several servers answered on {host} ({}); set DB_TYPE to the one to back up",
                    found.join(", ")
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A one-connection server on a free loopback port: reads `expect` bytes, then writes `reply`.
    fn fake(expect: usize, reply: &'static [u8]) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = listener.accept() {
                let mut buf = vec![0u8; expect];
                if s.read_exact(&mut buf).is_ok() {
                    let _ = s.write_all(reply);
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        });
        port
    }

    fn ask(port: u16, kind: EngineKind) -> Answer {
        probe("127.0.0.1", port, kind, Duration::from_millis(300))
    }

    const MYSQL_HELLO: &[u8] = b"\x4a\x00\x00\x00\x0a8.0.36\x00\x08\x00\x00\x00";

    #[test]
    fn postgres_answers_the_ssl_request() {
        assert_eq!(ask(fake(8, b"N"), EngineKind::Postgres), Answer::Speaks);
        assert_eq!(ask(fake(8, b"S"), EngineKind::Postgres), Answer::Speaks);
        assert!(matches!(
            ask(fake(8, b"HTTP/1.1 400"), EngineKind::Postgres),
            Answer::Other(_)
        ));
    }

    #[test]
    fn mysql_speaks_first() {
        assert_eq!(ask(fake(0, MYSQL_HELLO), EngineKind::Mysql), Answer::Speaks);
        let refused = b"\x17\x00\x00\x00\xff\x6a\x04Host is not allowed";
        assert_eq!(ask(fake(0, refused), EngineKind::Mysql), Answer::Speaks);
        // A server that waits for the client (PostgreSQL, Redis) says nothing within the timeout.
        assert!(matches!(
            ask(fake(100, b""), EngineKind::Mysql),
            Answer::Other(_)
        ));
    }

    #[test]
    fn redis_answers_ping() {
        assert_eq!(
            ask(fake(14, b"+PONG\r\n"), EngineKind::Redis),
            Answer::Speaks
        );
        assert_eq!(
            ask(
                fake(14, b"-NOAUTH Authentication required.\r\n"),
                EngineKind::Redis
            ),
            Answer::Speaks
        );
        assert!(matches!(
            ask(fake(14, b"-ERR unknown\r\n"), EngineKind::Redis),
            Answer::Other(_)
        ));
    }

    #[test]
    fn other_protocols_are_not_mistaken() {
        // MySQL's greeting on the PostgreSQL or Redis probe is not a match.
        assert!(matches!(
            ask(fake(0, MYSQL_HELLO), EngineKind::Postgres),
            Answer::Other(_)
        ));
        assert!(matches!(
            ask(fake(0, MYSQL_HELLO), EngineKind::Redis),
            Answer::Other(_)
        ));
        assert!(!recognises(EngineKind::Mysql, b"N"));
        assert!(!recognises(EngineKind::Postgres, b"+PONG\r\n"));
    }

    #[test]
    fn a_closed_port_is_unreachable_and_quick() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let started = Instant::now();
        assert!(matches!(
            ask(port, EngineKind::Postgres),
            Answer::Unreachable(_)
        ));
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(matches!(
            probe("/nonexistent-dir", 5432, EngineKind::Postgres, TIMEOUT),
            Answer::Unreachable(_)
        ));
    }

    fn results(answers: [Answer; 3]) -> Vec<(EngineKind, u16, Answer)> {
        PROBED
            .iter()
            .zip(answers)
            .map(|(&k, a)| (k, k.default_port(), a))
            .collect()
    }

    #[test]
    fn exactly_one_answer_decides() {
        let closed = || Answer::Unreachable("connection refused".into());
        let (kind, reason) = decide("db", &results([closed(), Answer::Speaks, closed()])).unwrap();
        assert_eq!(kind, EngineKind::Mysql);
        assert!(
            reason.contains("probing db") && reason.contains("3306"),
            "{reason}"
        );

        let none = decide("db", &results([closed(), closed(), closed()])).unwrap_err();
        assert_eq!(none.variable, "DB_TYPE");
        assert!(
            none.message.contains("no database server answered"),
            "{none}"
        );
        assert!(none.message.contains("connection refused"), "{none}");

        let two = decide("db", &results([Answer::Speaks, closed(), Answer::Speaks])).unwrap_err();
        assert_eq!(two.variable, "DB_TYPE");
        assert!(two.message.contains("several"), "{two}");
        assert!(
            two.message.contains("PostgreSQL on 5432") && two.message.contains("Redis on 6379")
        );
    }

    #[test]
    fn probing_only_when_nothing_decides() {
        let v = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(needed(&v(&[("DB_HOST", "db"), ("DB_NAME", "x")])));
        assert!(needed(&v(&[("DB_TYPE", "")])));
        for var in DECIDING {
            assert!(!needed(&v(&[(var, "x")])), "{var}");
        }
        assert_eq!(host(&v(&[("PGHOST", "pg")])), "pg");
        assert_eq!(host(&v(&[("DB_HOST", "a"), ("PGHOST", "b")])), "a");
        assert_eq!(host(&v(&[])), "localhost");
    }
}
