//! An S3-compatible server for one test: `moto_server` (PyPI `moto[server]`, installed by scripts/test.sh into
//! target/venv-s3) on a free loopback port, with signature checking switched on: an IAM user with its own key
//! pair is made first, then every request must be signed with that key, as on a real store. Also a TCP proxy
//! that can cut every connection mid-upload.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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
            access_key: Secret::new(self.access_key.clone()),
            secret_key: Secret::new(self.secret_key.clone()),
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

    /// Every key in `bucket` (all prefixes).
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        let mut keys: Vec<String> = self.client(bucket, "").list_all().into_iter().collect();
        keys.sort();
        keys
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

/// A TCP proxy to `127.0.0.1:<target>` that cuts every connection, and refuses new ones, once more than
/// `cut_after` bytes went from clients to the server, until [`Proxy::heal`].
pub struct Proxy {
    pub port: u16,
    cut: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    limit: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    pub fn start(target: u16, cut_after: u64) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy listen");
        let port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let proxy = Proxy {
            port,
            cut: Arc::new(AtomicBool::new(false)),
            sent: Arc::new(AtomicU64::new(0)),
            limit: Arc::new(AtomicU64::new(cut_after)),
            stop: Arc::new(AtomicBool::new(false)),
        };
        let (cut, sent, limit, stop) = (
            Arc::clone(&proxy.cut),
            Arc::clone(&proxy.sent),
            Arc::clone(&proxy.limit),
            Arc::clone(&proxy.stop),
        );
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let Ok((client, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                if cut.load(Ordering::Relaxed) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                let _ = client.set_nonblocking(false);
                for (from, to, count) in [
                    (
                        client.try_clone().unwrap(),
                        server.try_clone().unwrap(),
                        true,
                    ),
                    (server, client, false),
                ] {
                    let (cut, sent, limit) =
                        (Arc::clone(&cut), Arc::clone(&sent), Arc::clone(&limit));
                    std::thread::spawn(move || pipe(from, to, count, &cut, &sent, &limit));
                }
            }
        });
        proxy
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn was_cut(&self) -> bool {
        self.cut.load(Ordering::Relaxed)
    }

    /// Lets connections through again, without a limit.
    pub fn heal(&self) {
        self.limit.store(u64::MAX, Ordering::Relaxed);
        self.cut.store(false, Ordering::Relaxed);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn pipe(
    mut from: TcpStream,
    mut to: TcpStream,
    count: bool,
    cut: &AtomicBool,
    sent: &AtomicU64,
    limit: &AtomicU64,
) {
    let _ = from.set_read_timeout(Some(Duration::from_millis(50)));
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if cut.load(Ordering::Relaxed) {
            break;
        }
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(_) => break,
        };
        if count
            && sent.fetch_add(n as u64, Ordering::Relaxed) + n as u64
                > limit.load(Ordering::Relaxed)
        {
            cut.store(true, Ordering::Relaxed);
            break;
        }
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
