//! The RDB taken over the network the way a replica takes it, like `redis-cli --rdb`: AUTH, REPLCONF, SYNC,
//! then the bulk payload, sized (`$<len>`) or, when the server streams it without touching its disk, ended by a
//! 40-byte marker (`$EOF:<mark>`). The payload passes through `Read` as it arrives; nothing is buffered.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;

use super::server;
use crate::cancel::Cancel;
use crate::engine::redis::settings::RedisConfig;
use crate::engine::{Dump, connect as step, tls};
use crate::error::{Error, Result};

/// The size of the end marker of a diskless transfer.
const MARK: usize = 40;
/// The longest silence accepted from the server. While it prepares the snapshot it sends a newline every second.
const READ_TIMEOUT: Duration = Duration::from_secs(120);
/// How long one wait for bytes lasts before the cancel token is looked at again.
const STOP_POLL: Duration = Duration::from_millis(200);

/// A transfer in progress.
pub struct RdbDump {
    conn: BufReader<Stream>,
    body: Body,
    received: u64,
    server: String,
}

enum Body {
    Sized {
        total: u64,
    },
    /// Diskless: the bytes received are `hold[start..end]`; the last `MARK` of them are withheld until more
    /// arrive, as they may be the marker.
    Marked {
        mark: Vec<u8>,
        hold: Vec<u8>,
        start: usize,
        end: usize,
        done: bool,
    },
}

impl RdbDump {
    /// Connects and asks for the RDB; returns once the server has said how the payload comes.
    pub fn start(cfg: &RedisConfig, cancel: &Cancel) -> Result<RdbDump> {
        let server = server::label(cfg);
        let stream = connect(cfg).map_err(|e| Error::Server {
            server: server.clone(),
            message: format!(
                "cannot connect for the replication transfer: {e}; check DB_HOST/DB_PORT"
            ),
        })?;
        let stream = secure(cfg, stream, cancel)?;
        let mut link = Link {
            conn: BufReader::with_capacity(256 * 1024, stream),
        };
        let fail = |message: String| Error::Server {
            server: server.clone(),
            message,
        };
        let io_fail = |e: io::Error| match tls::find_rustls(&e) {
            Some(r) => fail(tls::explain(r, &cfg.conn.host)),
            None => fail(format!("the replication handshake failed: {e}")),
        };

        if let Some(password) = &cfg.conn.password {
            let mut args: Vec<&[u8]> = vec![b"AUTH"];
            if !cfg.conn.user.is_empty() {
                args.push(cfg.conn.user.as_bytes());
            }
            args.push(password.expose().as_bytes());
            let reply = link.command(&args).map_err(io_fail)?;
            if reply.starts_with('-') {
                return Err(Error::AuthRefused {
                    server: server.clone(),
                    message: format!(
                        "authentication failed: {}; check DB_USER and DB_PASSWORD (or DB_PASSWORD_FILE)",
                        reply.trim_start_matches('-')
                    ),
                });
            }
        }
        // A name makes the transfer easy to spot in CLIENT LIST; failing to set it changes nothing.
        link.command(&[b"CLIENT", b"SETNAME", b"db-backup"])
            .map_err(io_fail)?;
        // As redis-cli --rdb: accept a diskless transfer (the server needs no disk for it), and (Redis 7.0+) ask
        // for the snapshot only, without the command stream that follows it for a real replica.
        for (option, value) in [(&b"capa"[..], &b"eof"[..]), (b"rdb-only", b"1")] {
            let reply = link
                .command(&[b"REPLCONF", option, value])
                .map_err(io_fail)?;
            if reply.starts_with('-') {
                tracing::debug!(option = %String::from_utf8_lossy(option), reply = %reply, "REPLCONF refused");
            }
        }
        link.send(&[b"SYNC"]).map_err(io_fail)?;
        let body = loop {
            let line = link.line().map_err(|e| {
                fail(format!(
                    "the server did not answer SYNC: {e}; a replica may be starting up, or a proxy in between \
                     does not pass replication through"
                ))
            })?;
            if line.is_empty() || line.starts_with("+FULLRESYNC") || line.starts_with("+CONTINUE") {
                if cancel.is_cancelled() {
                    return Err(Error::Cancelled(format!(
                        "{server}: stopped by a signal while the server prepared the snapshot"
                    )));
                }
                continue; // keep-alive newlines while the snapshot is prepared
            }
            if let Some(error) = line.strip_prefix('-') {
                return Err(fail(sync_refused(error, &cfg.conn.user)));
            }
            if let Some(mark) = line.strip_prefix("$EOF:")
                && mark.len() >= MARK
            {
                break Body::Marked {
                    mark: mark.as_bytes()[..MARK].to_vec(),
                    hold: vec![0; 256 * 1024 + MARK],
                    start: 0,
                    end: 0,
                    done: false,
                };
            }
            match line.strip_prefix('$').and_then(|n| n.parse::<u64>().ok()) {
                Some(total) => break Body::Sized { total },
                None => {
                    return Err(fail(format!(
                        "unexpected reply to SYNC: {:?}",
                        line.chars().take(80).collect::<String>()
                    )));
                }
            }
        };
        match &body {
            Body::Sized { total } => {
                tracing::debug!(server = %server, bytes = total, "RDB transfer started")
            }
            Body::Marked { .. } => {
                tracing::debug!(server = %server, "RDB transfer started (diskless)")
            }
        }
        Ok(RdbDump {
            conn: link.conn,
            body,
            received: 0,
            server,
        })
    }

    fn cut(&self, e: io::Error) -> io::Error {
        let of = match self.body {
            Body::Sized { total } => format!(" of {total}"),
            Body::Marked { .. } => String::new(),
        };
        let cause = if e.kind() == io::ErrorKind::UnexpectedEof {
            "the server closed the connection".to_string()
        } else {
            e.to_string()
        };
        io::Error::new(
            e.kind(),
            format!(
                "the RDB transfer from {} stopped after {}{of} bytes: {cause} (the replica connection was \
                 killed, the server restarted, or it hit a replication limit)",
                self.server, self.received
            ),
        )
    }

    fn read_sized(&mut self, buf: &mut [u8], total: u64) -> io::Result<usize> {
        let remaining = total - self.received;
        if remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(remaining).unwrap_or(usize::MAX));
        match self.conn.read(&mut buf[..want]) {
            Ok(0) => Err(self.cut(io::ErrorKind::UnexpectedEof.into())),
            Ok(n) => {
                self.received += n as u64;
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => Err(self.cut(e)),
        }
    }

    fn read_marked(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let Body::Marked {
                mark,
                hold,
                start,
                end,
                done,
            } = &mut self.body
            else {
                return Ok(0);
            };
            // Everything but the last MARK bytes received is surely payload.
            let ready = end.saturating_sub(*start + MARK);
            if ready > 0 {
                let n = ready.min(buf.len());
                buf[..n].copy_from_slice(&hold[*start..*start + n]);
                *start += n;
                self.received += n as u64;
                return Ok(n);
            }
            if *done || buf.is_empty() {
                return Ok(0);
            }
            // At most MARK bytes are held back: move them to the front and read behind them.
            hold.copy_within(*start..*end, 0);
            *end -= *start;
            *start = 0;
            match self.conn.read(&mut hold[*end..]) {
                Ok(0) => return Err(self.cut(io::ErrorKind::UnexpectedEof.into())),
                Ok(n) => {
                    *end += n;
                    *done = hold[..*end].ends_with(mark);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.cut(e)),
            }
        }
    }
}

impl Read for RdbDump {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.body {
            Body::Sized { total } => self.read_sized(buf, total),
            Body::Marked { .. } => self.read_marked(buf),
        }
    }
}

impl Dump for RdbDump {
    fn finish(self: Box<Self>) -> Result<()> {
        let complete = match &self.body {
            Body::Sized { total } => self.received == *total,
            Body::Marked { done, .. } => *done,
        };
        self.conn.get_ref().shutdown();
        if complete {
            Ok(())
        } else {
            Err(Error::Server {
                server: self.server.clone(),
                message: format!(
                    "the RDB transfer ended early, after {} bytes",
                    self.received
                ),
            })
        }
    }

    fn abort(self: Box<Self>) -> String {
        self.conn.get_ref().shutdown();
        String::new()
    }
}

/// The message for a server that will not replicate to us.
fn sync_refused(error: &str, user: &str) -> String {
    let user = if user.is_empty() { "default" } else { user };
    format!(
        "the server refused SYNC, the replication command db-backup takes the RDB with (as redis-cli --rdb \
         does): {error}. Allow it for this user (ACL SETUSER {user} +sync +replconf), or, where the service \
         disables replication (some managed Redis services do), back up with the service's own snapshots"
    )
}

fn connect(cfg: &RedisConfig) -> io::Result<TcpStream> {
    let mut last = io::Error::new(
        io::ErrorKind::NotFound,
        "the host name resolves to no address",
    );
    for addr in (cfg.conn.host.as_str(), cfg.conn.port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(10)) {
            Ok(stream) => {
                // Short waits, so that a stop signal is seen while the server is silent (see `Stream::read`).
                stream.set_read_timeout(Some(STOP_POLL))?;
                stream.set_write_timeout(Some(Duration::from_secs(30)))?;
                stream.set_nodelay(true)?;
                return Ok(stream);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The replication connection, whose reads end when `cancel` is cancelled.
struct Stream {
    transport: Transport,
    cancel: Cancel,
}

/// Plain TCP, or TLS over it.
enum Transport {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Stream {
    fn shutdown(&self) {
        let tcp = match &self.transport {
            Transport::Plain(s) => s,
            Transport::Tls(s) => &s.sock,
        };
        let _ = tcp.shutdown(Shutdown::Both);
    }
}

impl Read for Stream {
    /// Waits at most `READ_TIMEOUT` of silence for bytes, in steps of `STOP_POLL`, and stops waiting when a stop
    /// signal arrives.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut silent = Duration::ZERO;
        loop {
            let read = match &mut self.transport {
                Transport::Plain(s) => s.read(buf),
                Transport::Tls(s) => s.read(buf),
            };
            match read {
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if self.cancel.is_cancelled() {
                        return Err(crate::pipeline::cancelled());
                    }
                    silent += STOP_POLL;
                    if silent >= READ_TIMEOUT {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("the server sent nothing for {} s", READ_TIMEOUT.as_secs()),
                        ));
                    }
                }
                other => return other,
            }
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.transport {
            Transport::Plain(s) => s.write(buf),
            Transport::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.transport {
            Transport::Plain(s) => s.flush(),
            Transport::Tls(s) => s.flush(),
        }
    }
}

/// TLS over the connection unless it is plain, with the same checks as the `redis` client's connection. The
/// handshake happens with the first command.
fn secure(cfg: &RedisConfig, tcp: TcpStream, cancel: &Cancel) -> Result<Stream> {
    let stream = |transport| Stream {
        transport,
        cancel: cancel.clone(),
    };
    if step::plain(&cfg.conn) {
        return Ok(stream(Transport::Plain(tcp)));
    }
    let config = tls::client_config(&cfg.conn.tls, cfg.conn.tls.verify())?;
    let name = ServerName::try_from(cfg.conn.host.clone()).map_err(|e| Error::Server {
        server: server::label(cfg),
        message: format!(
            "DB_HOST {} cannot be used as a TLS server name: {e}",
            cfg.conn.host
        ),
    })?;
    let conn =
        rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| Error::Server {
            server: server::label(cfg),
            message: format!("TLS cannot be set up: {e}"),
        })?;
    Ok(stream(Transport::Tls(Box::new(rustls::StreamOwned::new(
        conn, tcp,
    )))))
}

/// The connection during the handshake: RESP commands out, simple reply lines back.
struct Link {
    conn: BufReader<Stream>,
}

impl Link {
    fn send(&mut self, args: &[&[u8]]) -> io::Result<()> {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            out.extend_from_slice(arg);
            out.extend_from_slice(b"\r\n");
        }
        self.conn.get_mut().write_all(&out)
    }

    /// Sends a command and returns its one-line reply (`+OK`, `-ERR ...`).
    fn command(&mut self, args: &[&[u8]]) -> io::Result<String> {
        self.send(args)?;
        loop {
            let line = self.line()?;
            if !line.is_empty() {
                return Ok(line);
            }
        }
    }

    /// One line, without its `\r\n`; at most 4 KiB.
    fn line(&mut self) -> io::Result<String> {
        let mut line = Vec::new();
        let n = (&mut self.conn).take(4096).read_until(b'\n', &mut line)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        if line.last() != Some(&b'\n') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a reply line longer than 4 KiB",
            ));
        }
        while matches!(line.last(), Some(b'\n' | b'\r')) {
            line.pop();
        }
        Ok(String::from_utf8_lossy(&line).into_owned())
    }
}
