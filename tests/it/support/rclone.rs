//! rclone backends for one test: `rclone serve sftp` and `rclone serve webdav` over a temporary folder on a
//! free loopback port, with a user and password the test chooses, and an rclone config file that names them
//! (passwords obscured with `rclone obscure`, as rclone's own config tool writes them).

use std::fmt::Write as _;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::tools;

/// What the rclone tests need.
pub const RCLONE: &[&str] = &["rclone"];

/// The user every served backend takes.
pub const USER: &str = "backup";

/// Which `rclone serve`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Sftp,
    Webdav,
}

impl Protocol {
    fn name(self) -> &'static str {
        match self {
            Protocol::Sftp => "sftp",
            Protocol::Webdav => "webdav",
        }
    }
}

/// A running `rclone serve`: killed when dropped.
pub struct Served {
    pub protocol: Protocol,
    pub port: u16,
    password: String,
    child: Option<Child>,
    root: TempDir,
    /// rclone's cache (the sftp server's host keys), apart from the machine's.
    cache: TempDir,
}

impl Served {
    pub fn start(protocol: Protocol, password: &str) -> Served {
        let mut served = Served {
            protocol,
            port: free_port(),
            password: password.to_string(),
            child: None,
            root: tempfile::tempdir().expect("served folder"),
            cache: tempfile::tempdir().expect("rclone cache folder"),
        };
        served.restart();
        served
    }

    /// Starts the server (again, after [`Served::kill`]) on the same port and folder.
    pub fn restart(&mut self) {
        let child = Command::new(tools::path("rclone"))
            .args(["serve", self.protocol.name(), "--addr"])
            .arg(format!("127.0.0.1:{}", self.port))
            .args(["--user", USER, "--pass", &self.password])
            .arg("--cache-dir")
            .arg(self.cache.path())
            .arg(self.root.path())
            .env("RCLONE_CONFIG", "/dev/null")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rclone serve");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!(
                    "rclone serve {} exited at start: {status}",
                    self.protocol.name()
                );
            }
            assert!(
                Instant::now() < deadline,
                "rclone serve did not listen in 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The folder the server serves.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// A config section `[name]` for this server, with `password` (the right one or not), obscured.
    pub fn section(&self, name: &str, password: &str) -> String {
        let mut s = format!("[{name}]\n");
        match self.protocol {
            Protocol::Sftp => {
                let _ = write!(s, "type = sftp\nhost = 127.0.0.1\nport = {}\n", self.port);
            }
            Protocol::Webdav => {
                let _ = write!(
                    s,
                    "type = webdav\nurl = http://127.0.0.1:{}/\nvendor = other\n",
                    self.port
                );
            }
        }
        let _ = write!(s, "user = {USER}\npass = {}\n\n", obscure(password));
        s
    }

    /// The same remote as `RCLONE_CONFIG_<NAME>_*` variables.
    pub fn env_remote(&self, name: &str, password: &str) -> Vec<(String, String)> {
        let prefix = format!("RCLONE_CONFIG_{}_", name.to_ascii_uppercase());
        let mut out = vec![
            (format!("{prefix}TYPE"), self.protocol.name().to_string()),
            (format!("{prefix}USER"), USER.to_string()),
            (format!("{prefix}PASS"), obscure(password)),
        ];
        match self.protocol {
            Protocol::Sftp => {
                out.push((format!("{prefix}HOST"), "127.0.0.1".to_string()));
                out.push((format!("{prefix}PORT"), self.port.to_string()));
            }
            Protocol::Webdav => {
                out.push((
                    format!("{prefix}URL"),
                    format!("http://127.0.0.1:{}/", self.port),
                ));
                out.push((format!("{prefix}VENDOR"), "other".to_string()));
            }
        }
        out
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `rclone obscure`, the secret given on stdin (never on a command line).
pub fn obscure(secret: &str) -> String {
    let mut child = Command::new(tools::path("rclone"))
        .args(["obscure", "-"])
        .env("RCLONE_CONFIG", "/dev/null")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start rclone obscure");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(secret.as_bytes())
        .expect("write the secret");
    let out = child.wait_with_output().expect("rclone obscure");
    assert!(out.status.success(), "rclone obscure failed");
    String::from_utf8(out.stdout)
        .expect("UTF-8")
        .trim()
        .to_string()
}

/// An rclone config file with `sections`, in a folder of its own.
pub struct ConfigFile {
    dir: TempDir,
}

impl ConfigFile {
    pub fn new(sections: &[String]) -> ConfigFile {
        let dir = tempfile::tempdir().expect("config folder");
        std::fs::write(dir.path().join("rclone.conf"), sections.concat())
            .expect("write rclone.conf");
        ConfigFile { dir }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("rclone.conf")
    }
}

/// Every file under `dir`, by path relative to it, sorted, but for latest pointers (see [`pointer_under`]);
/// none when `dir` does not exist.
pub fn files_under(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if let Ok(rel) = path.strip_prefix(root) {
                let rel = rel.to_string_lossy().into_owned();
                if !rel.ends_with("-latest") {
                    out.push(rel);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The backup the latest pointer `<stem>-latest` in `dir` names, when there is one.
pub fn pointer_under(dir: &Path, stem: &str) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(format!("{stem}-latest"))).ok()?;
    Some(text.trim().to_string())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
