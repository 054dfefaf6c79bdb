//! The detection probe: asks a host, on an engine's standard port and in that engine's own protocol, whether
//! it is that engine's server. Each engine states its greeting and how it recognises the answer (its
//! [`Probe`]); configuration decides from the answers without touching the network itself.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::EngineKind;
use super::facts;

/// How long each probe may take to connect and to get its answer.
pub const TIMEOUT: Duration = Duration::from_millis(300);

/// How one engine is recognised on the wire.
pub struct Probe {
    /// What a client says first (empty when the server speaks first).
    pub hello: &'static [u8],
    /// How many bytes of the answer to wait for.
    pub want: usize,
    /// Whether the first bytes of an answer are this engine's protocol.
    pub recognises: fn(&[u8]) -> bool,
    /// For a host that is a socket directory (it starts with `/`): the socket the server would have there on
    /// `port`; `None` when the engine does not name its sockets that way.
    pub socket: Option<fn(&Path, u16) -> PathBuf>,
}

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

/// Probes every probed engine on `host` at once (each on its standard port); results in the order of
/// [`facts::probed`].
pub fn probe_all(host: &str) -> Vec<(EngineKind, u16, Answer)> {
    let kinds: Vec<EngineKind> = facts::probed().collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = kinds
            .iter()
            .map(|&kind| {
                let port = kind.default_port();
                scope.spawn(move || (kind, port, probe(host, port, kind, TIMEOUT)))
            })
            .collect();
        handles
            .into_iter()
            .zip(&kinds)
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
    let Some(wire) = kind.facts().probe.as_ref() else {
        return Answer::Other(format!("{} is not probed", kind.name()));
    };
    if host.starts_with('/') {
        // A socket directory, as libpq allows: only an engine that names its sockets can be there.
        let socket = wire.socket.map(|at| at(Path::new(host), port));
        return match socket {
            Some(socket) if socket.exists() => Answer::Speaks,
            Some(socket) => Answer::Unreachable(format!("no socket {}", socket.display())),
            // Where PostgreSQL's socket would be, as the message has always said.
            None => Answer::Unreachable(format!(
                "no socket {}",
                Path::new(host).join(format!(".s.PGSQL.{port}")).display()
            )),
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
        return match talk(&mut stream, wire, timeout) {
            Ok(bytes) if (wire.recognises)(&bytes) => Answer::Speaks,
            Ok(bytes) if bytes.is_empty() => Answer::Other("no answer".into()),
            Ok(_) => Answer::Other("another protocol answered".into()),
            Err(e) => Answer::Other(format!("no answer: {e}")),
        };
    }
    last
}

/// Sends what the protocol expects a client to say first (nothing when the server speaks first) and returns
/// the first bytes of the answer.
fn talk(stream: &mut TcpStream, wire: &Probe, timeout: Duration) -> std::io::Result<Vec<u8>> {
    stream.set_write_timeout(Some(timeout))?;
    if !wire.hello.is_empty() {
        stream.write_all(wire.hello)?;
    }
    let deadline = Instant::now() + timeout;
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    while got.len() < wire.want {
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

/// Whether the first bytes of an answer are `kind`'s protocol (never for an engine that is not probed).
pub fn recognises(kind: EngineKind, answer: &[u8]) -> bool {
    kind.facts()
        .probe
        .as_ref()
        .is_some_and(|wire| (wire.recognises)(answer))
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
}
