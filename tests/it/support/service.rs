//! Helpers for the `backup-service` tests: waiting for conditions, a tiny HTTP recorder for pings and
//! webhooks, an HTTP GET for `/metrics`, and a `pg_dump` that takes its time.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::files;
use super::runner::{DbBackup, Run};
use super::tools;

/// Polls `condition` every 50 ms until it holds; false after `timeout`.
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Names in `dir` of backups being written (`.<name>.partial`).
pub fn partials(dir: &Path) -> Vec<String> {
    files::names(dir)
        .into_iter()
        .filter(|n| n.ends_with(".partial"))
        .collect()
}

/// Fails unless `dir` holds only complete backups, their checksums and manifests, and db-backup's own dotfiles.
pub fn assert_only_complete_backups(dir: &Path) {
    for name in files::names(dir) {
        if name.starts_with(".db-backup") {
            assert!(!name.ends_with(".partial"), "stray file {name}");
            continue;
        }
        let backup = name
            .strip_suffix(".sha256")
            .or_else(|| name.strip_suffix(".manifest.json"))
            .unwrap_or(&name);
        assert!(
            files::is_backup_name(backup) && dir.join(backup).exists(),
            "stray file {name} in {:?}",
            files::names(dir)
        );
        if backup == name {
            files::check_artifacts(dir, &name);
        }
    }
    // A latest link only ever names a complete backup beside it.
    for link in files::links(dir) {
        let target = files::link_target(dir, &link);
        assert!(
            files::is_backup_name(&target) && dir.join(&target).is_file(),
            "{link} points at {target:?}, not a complete backup: {:?}",
            files::names(dir)
        );
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("probe a free port")
        .port()
}

/// `healthcheck` with the service's configuration.
pub fn healthcheck(cmd: &DbBackup) -> Run {
    cmd.run(&["healthcheck"])
}

/// GET `path` from 127.0.0.1:`port`: (status code, body). `None` when nothing answers.
pub fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, body.to_string()))
}

/// A request the recorder received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// Header names in lower case, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Received {
    /// The value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!(
                "{} {}: the body is not JSON ({e}): {}",
                self.method, self.path, self.body
            )
        })
    }
}

/// A local HTTP server that answers 200 with `{"ok":true}` (what the Slack and Telegram APIs say) to everything
/// and remembers what it got.
pub struct Recorder {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Recorder {
    pub fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the recorder");
        let port = listener.local_addr().expect("recorder address").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                if let Some(request) = read_request(&stream) {
                    sink.lock().expect("recorder lock").push(request);
                }
                let mut stream = stream;
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\
                      Connection: close\r\n\r\n{\"ok\":true}",
                );
            }
        });
        Recorder { port, received }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("recorder lock").clone()
    }

    /// The requests for `path`, in arrival order.
    pub fn to(&self, path: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

fn read_request(stream: &TcpStream) -> Option<Received> {
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut words = line.split_whitespace();
    let method = words.next()?.to_string();
    let path = words.next()?.to_string();
    let mut length = 0usize;
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok()?;
            }
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    Some(Received {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// A listener that accepts connections and never answers: an endpoint that hangs.
pub fn black_hole() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the black hole");
    let port = listener.local_addr().expect("address").port();
    (listener, port)
}

/// A PG_BIN_DIR whose `pg_dump` takes the real dump, then lets it out one line every `line_delay`
/// (a dump that takes as long as a test needs, and stops at once when killed: perl is the only process).
pub fn slow_pg_dump(line_delay: Duration) -> TempDir {
    let bin = tempfile::tempdir().expect("temp bin dir");
    for tool in ["psql", "pg_dumpall", "pg_restore", "pg_isready"] {
        if let Some(path) = tools::find(tool) {
            std::os::unix::fs::symlink(path, bin.path().join(tool)).expect("link tool");
        }
    }
    let real = tools::path("pg_dump");
    let script = format!(
        "#!/bin/sh\n\
         case \"$1\" in --version|-V) exec '{real}' \"$@\";; esac\n\
         tmp=$(mktemp) || exit 1\n\
         '{real}' \"$@\" > \"$tmp\" || {{ rm -f \"$tmp\"; exit 1; }}\n\
         exec perl -e 'open(my $f, \"<\", $ARGV[0]) or die \"$!\"; unlink $ARGV[0]; $| = 1; \
         while (<$f>) {{ print; select(undef, undef, undef, {delay}); }}' \"$tmp\"\n",
        real = real.display(),
        delay = line_delay.as_secs_f64(),
    );
    let pg_dump = bin.path().join("pg_dump");
    fs::write(&pg_dump, script).expect("write slow pg_dump");
    fs::set_permissions(&pg_dump, fs::Permissions::from_mode(0o755)).expect("chmod slow pg_dump");
    bin
}

/// A PG_BIN_DIR whose `pg_dump` fails its first `failures` dumps as a dropped connection does (a message and
/// status 1), then runs the real one. The count is kept in the directory (`calls`, one line per dump).
pub fn flaky_pg_dump(failures: u32) -> TempDir {
    let bin = tempfile::tempdir().expect("temp bin dir");
    for tool in ["psql", "pg_dumpall", "pg_restore", "pg_isready"] {
        if let Some(path) = tools::find(tool) {
            std::os::unix::fs::symlink(path, bin.path().join(tool)).expect("link tool");
        }
    }
    let script = format!(
        "#!/bin/sh\n\
         case \"$1\" in --version|-V) exec '{real}' \"$@\";; esac\n\
         echo dump >> '{calls}'\n\
         if [ \"$(wc -l < '{calls}')\" -le {failures} ]; then\n\
         echo 'pg_dump: error: server closed the connection unexpectedly' >&2; exit 1\n\
         fi\n\
         exec '{real}' \"$@\"\n",
        real = tools::path("pg_dump").display(),
        calls = bin.path().join("calls").display(),
    );
    let pg_dump = bin.path().join("pg_dump");
    fs::write(&pg_dump, script).expect("write flaky pg_dump");
    fs::set_permissions(&pg_dump, fs::Permissions::from_mode(0o755)).expect("chmod flaky pg_dump");
    bin
}

pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("UTF-8 path")
}

/// The processes whose parent is `pid`, with their command names (read from /proc).
pub fn children_of(pid: u32) -> Vec<(u32, String)> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|child| {
            let stat = fs::read_to_string(format!("/proc/{child}/stat")).ok()?;
            let open = stat.find('(')?;
            let close = stat.rfind(')')?;
            let parent: u32 = stat[close + 2..].split_whitespace().nth(1)?.parse().ok()?;
            (parent == pid).then(|| (child, stat[open + 1..close].to_string()))
        })
        .collect()
}

/// Whether process `pid` exists and is named `name` (not reaped, not reused).
pub fn alive(pid: u32, name: &str) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let open = stat.find('(')?;
            let close = stat.rfind(')')?;
            let state = stat[close + 2..].split_whitespace().next()?.to_string();
            Some(&stat[open + 1..close] == name && state != "Z")
        })
        .unwrap_or(false)
}
