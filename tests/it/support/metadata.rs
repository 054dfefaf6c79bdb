//! A stand-in on loopback for the services that hand out temporary credentials: STS
//! (`AssumeRoleWithWebIdentity`), a container credentials endpoint and the EC2 instance metadata service
//! (IMDSv2). It hands out credentials that moto's STS issued for a role allowed all of S3 ([`mint`]), one set
//! per fetch in turn, each expiring `ttl` after it is handed out, counts the fetches and records every request.
//! A refusing stand-in answers every request with 403.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::s3::S3Server;

/// One set of temporary credentials.
#[derive(Debug, Clone)]
pub struct Issued {
    pub access_key: String,
    pub secret_key: String,
    pub token: String,
}

/// The service played.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    Sts,
    /// Credentials only for requests whose `Authorization` header is this token.
    Container {
        token: String,
    },
    Imds,
}

/// The IMDSv2 session token the stand-in hands out.
pub const IMDS_TOKEN: &str = "imds-session-token-7f3a";
/// The instance's role name.
pub const IMDS_ROLE: &str = "backup-role";

pub struct StandIn {
    pub port: u16,
    state: Arc<State>,
}

struct State {
    role: Role,
    issued: Vec<Issued>,
    ttl: Duration,
    refuse: bool,
    fetches: AtomicUsize,
    /// Every request: its head, a blank line, its body.
    requests: Mutex<Vec<String>>,
}

impl StandIn {
    /// A stand-in playing `role` that hands out `issued` in turn, each valid for `ttl`.
    pub fn start(role: Role, issued: Vec<Issued>, ttl: Duration) -> StandIn {
        StandIn::launch(role, issued, ttl, false)
    }

    /// A stand-in playing `role` that refuses every request.
    pub fn refusing(role: Role) -> StandIn {
        StandIn::launch(role, Vec::new(), Duration::ZERO, true)
    }

    fn launch(role: Role, issued: Vec<Issued>, ttl: Duration, refuse: bool) -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").expect("stand-in listen");
        let port = listener.local_addr().expect("stand-in address").port();
        let state = Arc::new(State {
            role,
            issued,
            ttl,
            refuse,
            fetches: AtomicUsize::new(0),
            requests: Mutex::default(),
        });
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        StandIn { port, state }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How many sets of credentials were handed out.
    pub fn fetches(&self) -> usize {
        self.state.fetches.load(Ordering::SeqCst)
    }

    /// Every request received, head and body.
    pub fn requests(&self) -> Vec<String> {
        self.state.requests.lock().expect("requests").clone()
    }
}

fn serve(stream: TcpStream, state: &State) {
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut head = String::new();
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => head.push_str(&line),
        }
    }
    let header = |name: &str| {
        head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    };
    let length: usize = header("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let body = String::from_utf8_lossy(&body).to_string();
    state
        .requests
        .lock()
        .expect("requests")
        .push(format!("{head}\r\n{body}"));
    let line = head.lines().next().unwrap_or_default().to_string();
    let (status, content) = answer(state, &line, &header, &body);
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{content}",
        content.len()
    );
    let mut stream = stream;
    let _ = stream.write_all(reply.as_bytes());
}

/// The status line and body for one request.
fn answer(
    state: &State,
    line: &str,
    header: &dyn Fn(&str) -> Option<String>,
    body: &str,
) -> (&'static str, String) {
    let unauthorized = ("401 Unauthorized", String::new());
    if state.refuse {
        let why = "<ErrorResponse><Error><Code>AccessDenied</Code><Message>Not authorized to perform \
                   sts:AssumeRoleWithWebIdentity</Message></Error></ErrorResponse>";
        return ("403 Forbidden", why.to_string());
    }
    match &state.role {
        Role::Sts => {
            let valid = line.starts_with("POST ")
                && body.contains("Action=AssumeRoleWithWebIdentity")
                && body.contains("WebIdentityToken=");
            if !valid {
                return ("400 Bad Request", String::new());
            }
            let (c, expires) = next(state);
            let xml = format!(
                "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>\
                 <AccessKeyId>{}</AccessKeyId><SecretAccessKey>{}</SecretAccessKey><SessionToken>{}</SessionToken>\
                 <Expiration>{expires}</Expiration></Credentials></AssumeRoleWithWebIdentityResult>\
                 </AssumeRoleWithWebIdentityResponse>",
                c.access_key,
                c.secret_key,
                c.token.replace('&', "&amp;")
            );
            ("200 OK", xml)
        }
        Role::Container { token } => {
            if header("authorization").as_deref() != Some(token.as_str()) {
                return unauthorized;
            }
            ("200 OK", json(state, false))
        }
        Role::Imds => {
            if line.starts_with("PUT /latest/api/token ") {
                return match header("x-aws-ec2-metadata-token-ttl-seconds") {
                    Some(_) => ("200 OK", IMDS_TOKEN.to_string()),
                    None => ("400 Bad Request", String::new()),
                };
            }
            if header("x-aws-ec2-metadata-token").as_deref() != Some(IMDS_TOKEN) {
                return unauthorized;
            }
            let roles = "/latest/meta-data/iam/security-credentials/";
            if line.starts_with(&format!("GET {roles} ")) {
                ("200 OK", format!("{IMDS_ROLE}\n"))
            } else if line.starts_with(&format!("GET {roles}{IMDS_ROLE} ")) {
                ("200 OK", json(state, true))
            } else {
                ("404 Not Found", String::new())
            }
        }
    }
}

/// The next set of credentials, and its expiry.
fn next(state: &State) -> (Issued, String) {
    let n = state.fetches.fetch_add(1, Ordering::SeqCst);
    let issued = state.issued[n % state.issued.len()].clone();
    let ttl = chrono::Duration::from_std(state.ttl).expect("a short ttl");
    let expires = (chrono::Utc::now() + ttl).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    (issued, expires)
}

fn json(state: &State, imds: bool) -> String {
    let (c, expires) = next(state);
    let code = if imds {
        r#""Code":"Success","Type":"AWS-HMAC","#
    } else {
        ""
    };
    format!(
        r#"{{{code}"AccessKeyId":"{}","SecretAccessKey":"{}","Token":"{}","Expiration":"{expires}"}}"#,
        c.access_key, c.secret_key, c.token
    )
}

/// `n` sets of temporary credentials from moto's STS for a role allowed all of S3 (moto checks tokens against
/// those its STS issued). Signature checking is off meanwhile: the call is not signed.
pub fn mint(s3: &S3Server, n: usize) -> Vec<Issued> {
    let auth = |count: &str| {
        ureq::post(&format!("{}/moto-api/reset-auth", s3.endpoint()))
            .send(count.as_bytes())
            .expect("switch moto's authentication");
    };
    auth("inf");
    s3.iam(&[
        ("Action", "CreateRole"),
        ("RoleName", "backup-role"),
        ("AssumeRolePolicyDocument", "{}"),
        ("Version", "2010-05-08"),
    ]);
    s3.iam(&[
        ("Action", "PutRolePolicy"),
        ("RoleName", "backup-role"),
        ("PolicyName", "all-s3"),
        (
            "PolicyDocument",
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
        ),
        ("Version", "2010-05-08"),
    ]);
    let issued = (0..n)
        .map(|i| {
            let form = format!(
                "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fbackup-role&RoleSessionName=s{i}&WebIdentityToken=t"
            );
            let mut response = ureq::post(&format!("{}/", s3.endpoint()))
                .header("content-type", "application/x-www-form-urlencoded")
                .send(form.as_bytes())
                .expect("AssumeRoleWithWebIdentity at moto");
            let xml = response.body_mut().read_to_string().expect("STS answer");
            let between = |tag: &str| {
                let open = format!("<{tag}>");
                let start = xml.find(&open).expect("credentials in the answer") + open.len();
                let end = xml[start..].find('<').expect("closing tag") + start;
                xml[start..end].to_string()
            };
            Issued {
                access_key: between("AccessKeyId"),
                secret_key: between("SecretAccessKey"),
                token: between("SessionToken"),
            }
        })
        .collect();
    auth("0");
    issued
}
