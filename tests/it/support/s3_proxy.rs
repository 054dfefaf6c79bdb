//! A proxy on loopback in front of a test's S3 server that makes the store slow, throttling (503 SlowDown),
//! resetting or down, and records the requests it carries.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

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
