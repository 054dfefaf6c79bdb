//! An S3-compatible server for one test: `moto_server` (PyPI `moto[server]`, installed by scripts/test.sh into
//! target/venv-s3) on a free loopback port, with signature checking switched on: an IAM user with its own key
//! pair is made first, then every request must be signed with that key, as on a real store. Also a proxy on
//! loopback that makes the store slow, throttling (503 SlowDown), resetting or down.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use db_backup::config::{S3Settings, Secret};
use db_backup::storage::s3::Client;

/// What the S3 tests need.
pub const S3_SERVER: &[&str] = &["moto_server"];

/// Where scripts/test.sh installs moto, checked before PATH.
pub fn moto_server_path() -> Option<PathBuf> {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/venv-s3/bin/moto_server");
    if venv.is_file() {
        return Some(venv);
    }
    super::tools::find("moto_server")
}

/// Skips the test unless moto_server is there (fails under CI=true), like `require_tools!`.
macro_rules! require_s3 {
    () => {
        if $crate::support::s3::moto_server_path().is_none()
            && !$crate::support::tools::available($crate::support::s3::S3_SERVER)
        {
            return;
        }
    };
}
pub(crate) use require_s3;

pub struct S3Server {
    child: Child,
    port: u16,
    pub access_key: String,
    pub secret_key: String,
}

impl S3Server {
    pub fn start() -> S3Server {
        let program = moto_server_path().expect("moto_server (scripts/test.sh installs it)");
        let port = free_port();
        let child = Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_ALLOW_NONEXISTENT_REGION", "true")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let mut server = S3Server {
            child,
            port,
            access_key: String::new(),
            secret_key: String::new(),
        };
        server.wait_ready();
        server.make_user();
        server
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("moto_server exited at start: {status}");
            }
            if ureq::get(&format!("{}/moto-api/", self.endpoint()))
                .call()
                .is_ok()
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "moto_server did not answer on port {} within 30 s",
            self.port
        );
    }

    /// An IAM call before authentication is switched on (moto routes it by the credential scope).
    fn iam(&self, form: &[(&str, &str)]) -> String {
        let body: String = form
            .iter()
            .map(|(k, v)| format!("{k}={}", urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let mut response = ureq::post(&format!("{}/", self.endpoint()))
            .header("content-type", "application/x-www-form-urlencoded")
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIASETUP/20250101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
            )
            .send(body.as_bytes())
            .expect("IAM call to moto");
        response.body_mut().read_to_string().expect("IAM answer")
    }

    fn make_user(&mut self) {
        self.iam(&[
            ("Action", "CreateUser"),
            ("UserName", "backup"),
            ("Version", "2010-05-08"),
        ]);
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
        self.iam(&[
            ("Action", "PutUserPolicy"),
            ("UserName", "backup"),
            ("PolicyName", "all-s3"),
            ("PolicyDocument", policy),
            ("Version", "2010-05-08"),
        ]);
        let keys = self.iam(&[
            ("Action", "CreateAccessKey"),
            ("UserName", "backup"),
            ("Version", "2010-05-08"),
        ]);
        let between = |tag: &str| {
            let open = format!("<{tag}>");
            let start = keys.find(&open).expect("key in answer") + open.len();
            let end = keys[start..].find('<').unwrap() + start;
            keys[start..end].to_string()
        };
        self.access_key = between("AccessKeyId");
        self.secret_key = between("SecretAccessKey");
        // From now on every request must carry a valid signature of that key.
        ureq::post(&format!("{}/moto-api/reset-auth", self.endpoint()))
            .send("0".as_bytes())
            .expect("switch on authentication");
    }

    /// A client of `bucket` under `prefix` with the server's key (`endpoint` overrides, e.g. a proxy).
    pub fn client(&self, bucket: &str, prefix: &str) -> Client {
        Client::new(self.settings(bucket, prefix, &self.endpoint()))
    }

    fn settings(&self, bucket: &str, prefix: &str, endpoint: &str) -> S3Settings {
        S3Settings {
            name: "test".into(),
            var_prefix: "S3_".into(),
            endpoint: endpoint.to_string(),
            bucket: bucket.to_string(),
            region: "us-east-1".into(),
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
            path_style: true,
            addressing: String::new(),
            access_key: Secret::new(self.access_key.clone()),
            secret_key: Secret::new(self.secret_key.clone()),
            session_token: None,
            part_size: 5 * 1024 * 1024,
            retry_seconds: 2,
        }
    }

    /// Creates a fresh bucket.
    pub fn bucket(&self, name: &str) {
        self.client(name, "")
            .create_bucket()
            .expect("create bucket");
    }

    /// The variables of destination group `group` (`S3_` or `S3_2_`) for `bucket` under `prefix`.
    pub fn env(&self, group: &str, bucket: &str, prefix: &str) -> Vec<(String, String)> {
        self.env_via(group, bucket, prefix, &self.endpoint())
    }

    pub fn env_via(
        &self,
        group: &str,
        bucket: &str,
        prefix: &str,
        endpoint: &str,
    ) -> Vec<(String, String)> {
        [
            ("ENDPOINT", endpoint.to_string()),
            ("ACCESS_KEY", self.access_key.clone()),
            ("SECRET_KEY", self.secret_key.clone()),
            ("BACKUP_BUCKET", bucket.to_string()),
            ("REGION", "us-east-1".to_string()),
            ("PREFIX", prefix.to_string()),
            ("FORCE_PATH_STYLE", "true".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (format!("{group}{k}"), v))
        .collect()
    }

    /// Every key in `bucket` (all prefixes) but the series' latest pointers (`<series>-latest`, see
    /// [`S3Server::pointers`]).
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        let mut keys: Vec<String> = self.client(bucket, "").list_all().into_iter().collect();
        keys.retain(|k| !k.ends_with("-latest"));
        keys.sort();
        keys
    }

    /// The latest pointers in `bucket` (all prefixes), with the backup name each holds.
    pub fn pointers(&self, bucket: &str) -> Vec<(String, String)> {
        let mut keys: Vec<String> = self.client(bucket, "").list_all().into_iter().collect();
        keys.retain(|k| k.ends_with("-latest"));
        keys.sort();
        keys.into_iter()
            .map(|k| {
                let text = String::from_utf8(self.get(bucket, &k)).expect("UTF-8 pointer");
                (k, text)
            })
            .collect()
    }

    pub fn get(&self, bucket: &str, key: &str) -> Vec<u8> {
        let mut out = Vec::new();
        self.client(bucket, "")
            .get(key)
            .expect("get object")
            .read_to_end(&mut out)
            .expect("read object");
        out
    }

    /// The keys of the multipart uploads in `bucket` that were neither completed nor aborted.
    pub fn uploads(&self, bucket: &str) -> Vec<String> {
        self.client(bucket, "")
            .list_multipart("")
            .expect("list multipart uploads")
            .into_iter()
            .map(|u| u.key)
            .collect()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Listing every key of a bucket, sub-folders included, for assertions.
trait ListAll {
    fn list_all(&self) -> Vec<String>;
}

impl ListAll for Client {
    fn list_all(&self) -> Vec<String> {
        // The client lists one level; walk the few folders the tests make.
        let mut out = Vec::new();
        let mut todo = vec![String::new()];
        while let Some(prefix) = todo.pop() {
            for object in self.list(&prefix).expect("list bucket") {
                out.push(object.key);
            }
            for folder in self.folders(&prefix).expect("list folders") {
                todo.push(folder);
            }
        }
        out
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// What a [`Proxy`] does to the traffic between the client and the store; `Faults::default()` passes it all.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Every chunk (at most 16 KiB) waits this long, both ways: a slow store.
    pub delay: Duration,
    /// Answers this many requests itself, every other one from the first, with 503 SlowDown.
    pub slow_downs: u32,
    /// Goes down once more than this many bytes went to the store.
    pub down_after_bytes: Option<u64>,
    /// Goes down at the first request whose request line contains this (`""`: the first request).
    pub down_at: Option<&'static str>,
    /// How long it stays down (`None`: until [`Proxy::heal`]). Down, it cuts every open connection and resets
    /// (RST) new ones at once. It goes down only once.
    pub down_for: Option<Duration>,
}

/// A proxy on loopback to the store on `127.0.0.1:<target>` that injects [`Faults`]. It reads requests one by
/// one (the head, then `Content-Length` bytes of body: all our client sends), so that it can answer one itself
/// or go down at a given one; answers pass through as bytes.
pub struct Proxy {
    pub port: u16,
    state: Arc<State>,
}

struct State {
    target: u16,
    faults: Faults,
    status: Mutex<Status>,
    /// Both ends of every connection opened before the store went down, to cut them when it does.
    open: Mutex<Vec<TcpStream>>,
    stop: AtomicBool,
}

#[derive(Default)]
struct Status {
    sent: u64,
    requests: u64,
    slow_downs: u32,
    down_since: Option<Instant>,
    went_down: bool,
    healed: bool,
    /// The request line of every request that reached the proxy, in order.
    lines: Vec<String>,
    /// The head (request line and headers) of every request, in order.
    heads: Vec<String>,
}

/// The most the proxy reads or writes at once.
const CHUNK: usize = 16 * 1024;

impl Proxy {
    pub fn start(target: u16, faults: Faults) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy listen");
        let port = listener.local_addr().expect("proxy address").port();
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let state = Arc::new(State {
            target,
            faults,
            status: Mutex::default(),
            open: Mutex::default(),
            stop: AtomicBool::new(false),
        });
        let shared = Arc::clone(&state);
        std::thread::spawn(move || accept(&listener, &shared));
        Proxy { port, state }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn went_down(&self) -> bool {
        self.state.status().went_down
    }

    /// How many 503 answers the proxy gave.
    pub fn slow_downs(&self) -> u32 {
        self.state.status().slow_downs
    }

    /// The request lines (`PUT /bucket/key?partNumber=1&uploadId=... HTTP/1.1`) the proxy saw, in order.
    pub fn request_lines(&self) -> Vec<String> {
        self.state.status().lines.clone()
    }

    /// The heads (request line and headers) of the requests the proxy saw, in order.
    pub fn request_heads(&self) -> Vec<String> {
        self.state.status().heads.clone()
    }

    /// Up again for good.
    pub fn heal(&self) {
        let mut status = self.state.status();
        status.healed = true;
        status.down_since = None;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::Relaxed);
    }
}

impl State {
    fn status(&self) -> MutexGuard<'_, Status> {
        self.status.lock().expect("proxy status")
    }

    fn is_down(&self) -> bool {
        let down_for = self.faults.down_for;
        self.status()
            .down_since
            .is_some_and(|since| down_for.is_none_or(|d| since.elapsed() < d))
    }

    fn go_down(&self, status: &mut Status) {
        if status.went_down || status.healed {
            return;
        }
        status.went_down = true;
        status.down_since = Some(Instant::now());
        for conn in self.open.lock().expect("open connections").drain(..) {
            let _ = conn.shutdown(Shutdown::Both);
        }
    }

    /// Passes `bytes` on after the delay, counting those to the store; false when the store is down or the
    /// connection closed.
    fn carry(&self, bytes: &[u8], to: &mut TcpStream, to_store: bool) -> bool {
        std::thread::sleep(self.faults.delay);
        if to_store {
            let mut status = self.status();
            status.sent += bytes.len() as u64;
            if self
                .faults
                .down_after_bytes
                .is_some_and(|limit| status.sent > limit)
            {
                self.go_down(&mut status);
            }
        }
        !self.is_down() && to.write_all(bytes).is_ok()
    }
}

fn accept(listener: &TcpListener, state: &Arc<State>) {
    while !state.stop.load(Ordering::Relaxed) {
        let Ok((client, _)) = listener.accept() else {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        if state.is_down() {
            reset(&client);
            continue;
        }
        let Ok(server) = TcpStream::connect(("127.0.0.1", state.target)) else {
            continue;
        };
        let _ = client.set_nonblocking(false);
        let clones = (
            client.try_clone(),
            server.try_clone(),
            client.try_clone(),
            server.try_clone(),
        );
        let (Ok(client_out), Ok(server_in), Ok(client_kept), Ok(server_kept)) = clones else {
            continue;
        };
        state
            .open
            .lock()
            .expect("open connections")
            .extend([client_kept, server_kept]);
        let shared = Arc::clone(state);
        std::thread::spawn(move || requests(client, server, &shared));
        let shared = Arc::clone(state);
        std::thread::spawn(move || answers(server_in, client_out, &shared));
    }
}

/// Client to store, request by request.
fn requests(client: TcpStream, mut server: TcpStream, state: &State) {
    let Ok(mut answer) = client.try_clone() else {
        return;
    };
    let mut from = BufReader::with_capacity(CHUNK, client);
    let mut buf = vec![0u8; CHUNK];
    'requests: while let Some(head) = read_head(&mut from) {
        let line = head.lines().next().unwrap_or_default();
        let slow_down = {
            let mut status = state.status();
            status.requests += 1;
            status.lines.push(line.to_string());
            status.heads.push(head.clone());
            if state.faults.down_at.is_some_and(|at| line.contains(at)) {
                state.go_down(&mut status);
            }
            let slow_down = status.slow_downs < state.faults.slow_downs && status.requests % 2 == 1;
            status.slow_downs += u32::from(slow_down);
            slow_down
        };
        if state.is_down() {
            break;
        }
        let mut left = content_length(&head);
        if slow_down {
            let body = std::io::copy(&mut (&mut from).take(left), &mut std::io::sink());
            if body.is_ok_and(|n| n == left) {
                let _ = answer.write_all(slow_down_answer(line.starts_with("HEAD ")).as_bytes());
            }
            break;
        }
        if !state.carry(head.as_bytes(), &mut server, true) {
            break;
        }
        while left > 0 {
            let want = CHUNK.min(usize::try_from(left).unwrap_or(CHUNK));
            let n = match from.read(&mut buf[..want]) {
                Ok(0) | Err(_) => break 'requests,
                Ok(n) => n,
            };
            if !state.carry(&buf[..n], &mut server, true) {
                break 'requests;
            }
            left -= n as u64;
        }
    }
    let _ = from.get_ref().shutdown(Shutdown::Both);
    let _ = server.shutdown(Shutdown::Both);
}

/// Store to client, as bytes.
fn answers(mut server: TcpStream, mut client: TcpStream, state: &State) {
    let mut buf = vec![0u8; CHUNK];
    while let Ok(n @ 1..) = server.read(&mut buf) {
        if !state.carry(&buf[..n], &mut client, false) {
            break;
        }
    }
    let _ = server.shutdown(Shutdown::Both);
    let _ = client.shutdown(Shutdown::Both);
}

/// A request head up to its blank line; `None` at the end of the connection.
fn read_head(from: &mut impl BufRead) -> Option<String> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        match from.read_until(b'\n', &mut head) {
            Ok(1..) if head.len() <= 64 * 1024 => {}
            _ => return None,
        }
    }
    String::from_utf8(head).ok()
}

fn content_length(head: &str) -> u64 {
    head.lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, value)| value.trim().parse().ok())
        .unwrap_or(0)
}

/// What a store under load answers: 503 with S3's XML error (no body for a HEAD request), then it closes.
fn slow_down_answer(head_request: bool) -> String {
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code>\
                <Message>Please reduce your request rate.</Message><RequestId>proxy</RequestId></Error>";
    format!(
        "HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{}",
        body.len(),
        if head_request { "" } else { body }
    )
}

/// Closes `conn` with a reset (RST) instead of an orderly FIN, as a crashed or overloaded store does.
fn reset(conn: &TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: an open socket, and a pointer to a `linger` of the size given.
    unsafe {
        libc::setsockopt(
            conn.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            std::ptr::from_ref(&linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}
