//! One S3-compatible bucket over HTTP: signed requests, answers classified into transient errors (retried with
//! exponential backoff and jitter, within a time budget) and permanent ones (a message naming the destination
//! and the setting to check, never retried). The operations built on these requests are in `operations`.

use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use ureq::http;

use super::credentials::{Credentials, Provider};
use super::sign::{self, ToSign, uri_encode};
use super::xml;
use crate::config::S3Settings;
use crate::error::{Error, Result};
use crate::scheduler;

/// The first retry's delay; each later one doubles, up to [`MAX_RETRY_DELAY`].
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(200);
const MAX_RETRY_DELAY: Duration = Duration::from_secs(10);

/// An answer with its status and small body.
pub(super) struct Reply {
    pub(super) status: u16,
    pub(super) headers: http::HeaderMap,
    pub(super) body: String,
}

/// Why one attempt failed.
enum Failure {
    /// Worth another try: the connection, a timeout, 500/502/503/504, throttling.
    Transient(String),
    /// No retry can help; the message says what to check.
    Permanent(String),
    /// The store does not implement the call (HTTP 501, or the code `NotImplemented`).
    Unsupported(String),
}

/// The store answered that it does not implement a call (HTTP 501 or `NotImplemented`): some S3-compatible
/// stores lack calls that only housekeeping needs. `detail` is what the store said.
#[derive(Debug, Clone)]
pub struct Unsupported {
    pub detail: String,
}

/// A client for one destination.
pub struct Client {
    agent: ureq::Agent,
    credentials: Provider,
    pub settings: S3Settings,
    scheme: String,
    host: String,
}

impl Client {
    pub fn new(settings: S3Settings) -> Client {
        let tls = super::trust::tls_config(&settings);
        let credentials = match &settings.source {
            Some(source) => Provider::fetching(source.clone(), tls.clone()),
            None => Provider::fixed(Credentials {
                access_key: settings.access_key.clone(),
                secret_key: settings.secret_key.clone(),
                token: settings.session_token.clone(),
                expires: None,
            }),
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_recv_response(Some(Duration::from_secs(120)))
            .timeout_per_read(Some(Duration::from_secs(120)))
            .timeout_per_write(Some(Duration::from_secs(120)))
            .max_redirects(0)
            .build()
            .into();
        let (scheme, rest) = settings
            .endpoint
            .split_once("://")
            .unwrap_or(("https", &settings.endpoint));
        let host = if settings.path_style {
            rest.to_string()
        } else {
            format!("{}.{rest}", settings.bucket)
        };
        Client {
            agent,
            credentials,
            scheme: scheme.to_string(),
            host,
            settings,
        }
    }

    /// How the destination is named in messages: `s3 (http://host/bucket/prefix)`.
    pub fn label(&self) -> String {
        format!(
            "S3 destination {} ({}/{}/{})",
            self.settings.name, self.settings.endpoint, self.settings.bucket, self.settings.prefix
        )
    }

    pub(super) fn error(&self, message: impl std::fmt::Display) -> Error {
        Error::Server {
            server: self.label(),
            message: message.to_string(),
        }
    }

    /// The URI path of `key` (`None`: the bucket itself).
    fn path(&self, key: Option<&str>) -> String {
        let key = key.map(|k| uri_encode(k, false)).unwrap_or_default();
        if self.settings.path_style {
            format!("/{}/{key}", self.settings.bucket)
        } else {
            format!("/{key}")
        }
    }

    /// One signed request, answered in full (`want_body`: the body is read as text).
    fn attempt(
        &self,
        method: &str,
        key: Option<&str>,
        query: &[(&str, &str)],
        body: &[u8],
        stream: bool,
    ) -> std::result::Result<(Reply, Option<ureq::Body>), Failure> {
        let credentials = self.credentials.current().map_err(Failure::Permanent)?;
        let path = self.path(key);
        let payload = hex::encode(Sha256::digest(body));
        let amz_date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let mut signed = vec![
            ("host", self.host.clone()),
            ("x-amz-content-sha256", payload.clone()),
            ("x-amz-date", amz_date.clone()),
        ];
        if let Some(token) = &credentials.token {
            signed.push(("x-amz-security-token", token.expose().to_string()));
        }
        let authorization = sign::authorization(&ToSign {
            method,
            path: &path,
            query,
            headers: &signed,
            payload_sha256: &payload,
            amz_date: &amz_date,
            region: &self.settings.region,
            access_key: credentials.access_key.expose(),
            secret_key: credentials.secret_key.expose(),
        });
        let query = sign::canonical_query(query);
        let uri = if query.is_empty() {
            format!("{}://{}{path}", self.scheme, self.host)
        } else {
            format!("{}://{}{path}?{query}", self.scheme, self.host)
        };
        let mut request = http::Request::builder().method(method).uri(&uri);
        for (name, value) in &signed {
            request = request.header(*name, value);
        }
        let request = request
            .header("authorization", authorization)
            .body(body)
            .map_err(|e| Failure::Permanent(format!("cannot build the request: {e}")))?;
        let response = self.agent.run(request).map_err(|e| match e {
            ureq::Error::BadUri(_) | ureq::Error::Http(_) | ureq::Error::InvalidProxyUrl => {
                Failure::Permanent(format!("{e}"))
            }
            ureq::Error::HostNotFound => Failure::Transient(format!(
                "the host {} cannot be resolved (check {}ENDPOINT)",
                self.host, self.settings.var_prefix
            )),
            other => match untrusted(&other) {
                Some(why) => Failure::Permanent(format!(
                    "the store's TLS certificate is not trusted ({why}); if a private CA signed it, give that \
                     CA's certificate in {}CA_FILE (or AWS_CA_BUNDLE), else check {}ENDPOINT",
                    self.settings.var_prefix, self.settings.var_prefix
                )),
                None => Failure::Transient(format!("{other}")),
            },
        })?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let mut body = response.into_body();
        if stream && status < 300 {
            return Ok((
                Reply {
                    status,
                    headers,
                    body: String::new(),
                },
                Some(body),
            ));
        }
        let text = body
            .with_config()
            .limit(16 * 1024 * 1024)
            .read_to_string()
            .map_err(|e| Failure::Transient(format!("reading the answer: {e}")))?;
        let reply = Reply {
            status,
            headers,
            body: text,
        };
        self.classify(method, reply).map(|r| (r, None))
    }

    /// Turns an error answer into a failure with what to do; passes success through. S3 sometimes answers 200
    /// with an error document (CompleteMultipartUpload): that is an error too.
    fn classify(&self, method: &str, reply: Reply) -> std::result::Result<Reply, Failure> {
        let error_doc = reply.body.contains("<Error>");
        if reply.status < 300 && !error_doc {
            return Ok(reply);
        }
        let code = xml::value(&reply.body, "Code").unwrap_or_default();
        let said = xml::value(&reply.body, "Message").unwrap_or_default();
        let p = &self.settings.var_prefix;
        let detail = if code.is_empty() {
            format!("HTTP {}", reply.status)
        } else if said.is_empty() {
            format!("HTTP {} {code}", reply.status)
        } else {
            format!("HTTP {} {code}: {said}", reply.status)
        };
        let permanent = |what: String| Failure::Permanent(format!("{what} ({detail})"));
        // What to check when the store refuses the credentials: the keys, or the provider they came from.
        let from = self
            .credentials
            .source()
            .map(|s| format!("the credentials from {}", s.describe()));
        match (reply.status, code.as_str()) {
            (501, _) | (_, "NotImplemented") => Err(Failure::Unsupported(detail)),
            (_, "SignatureDoesNotMatch") => Err(permanent(format!(
                "the store refused the request signature: the secret key is wrong; check {}",
                from.clone().unwrap_or(format!("{p}SECRET_KEY"))
            ))),
            (_, "InvalidAccessKeyId") => Err(permanent(format!(
                "the store does not know the access key; check {}",
                from.clone().unwrap_or(format!("{p}ACCESS_KEY"))
            ))),
            // Fetched credentials that expired sooner than they said (a clock off): new ones, and again.
            (_, "ExpiredToken" | "TokenRefreshRequired") if from.is_some() => {
                self.credentials.expire();
                Err(Failure::Transient(format!(
                    "the store found the credentials expired ({detail}); fetching new ones"
                )))
            }
            (_, "InvalidToken" | "ExpiredToken" | "TokenRefreshRequired") => {
                let aws = if p == "S3_" {
                    " or AWS_SESSION_TOKEN"
                } else {
                    ""
                };
                Err(permanent(match &from {
                    Some(from) => format!("the store refused the session token of {from}"),
                    None => format!(
                        "the store refused the session token: expired, or not issued with this key; renew the \
                         temporary credentials or check {p}SESSION_TOKEN{aws}"
                    ),
                }))
            }
            (_, "NoSuchBucket") => Err(permanent(format!(
                "the bucket {} does not exist; create it or fix {p}BACKUP_BUCKET",
                self.settings.bucket
            ))),
            (_, "AuthorizationHeaderMalformed") | (301, _) | (_, "PermanentRedirect") => {
                Err(permanent(format!(
                    "the bucket is in another region or behind another endpoint; check {p}REGION and {p}ENDPOINT"
                )))
            }
            (403, _) => Err(permanent(format!(
                "access denied; the key needs s3:ListBucket, s3:GetObject, s3:PutObject, s3:DeleteObject, \
                 s3:ListBucketMultipartUploads and s3:AbortMultipartUpload on the bucket; check {}",
                from.unwrap_or(format!("{p}ACCESS_KEY and {p}SECRET_KEY"))
            ))),
            (404, _) if method == "HEAD" => Ok(reply),
            // The store is busy or briefly broken. Other 5xx (501 Not Implemented, 507 Insufficient Storage)
            // say something a retry cannot change.
            (400, "RequestTimeout")
            | (429, _)
            | (500 | 502 | 503 | 504, _)
            | (_, "SlowDown")
            | (_, "InternalError") => Err(Failure::Transient(detail)),
            (200, _) => Err(Failure::Transient(detail)),
            _ => Err(permanent("the store refused the request".to_string())),
        }
    }

    /// A request retried on transient failures until `S3_RETRY_SECONDS` is spent.
    pub(super) fn call(
        &self,
        op: &str,
        method: &str,
        key: Option<&str>,
        query: &[(&str, &str)],
        body: &[u8],
        stream: bool,
    ) -> Result<(Reply, Option<ureq::Body>)> {
        self.try_call(op, method, key, query, body, stream)?
            .map_err(|u| {
                self.error(format!(
                    "{op}: the store does not implement this request ({})",
                    u.detail
                ))
            })
    }

    /// [`Client::call`], telling a store that does not implement the call (`Err(Unsupported)`) from a failure.
    pub(super) fn try_call(
        &self,
        op: &str,
        method: &str,
        key: Option<&str>,
        query: &[(&str, &str)],
        body: &[u8],
        stream: bool,
    ) -> Result<std::result::Result<(Reply, Option<ureq::Body>), Unsupported>> {
        let started = Instant::now();
        let budget = Duration::from_secs(self.settings.retry_seconds);
        let mut attempt = 0u32;
        loop {
            match self.attempt(method, key, query, body, stream) {
                Ok(answer) => return Ok(Ok(answer)),
                Err(Failure::Permanent(m)) => return Err(self.error(format!("{op}: {m}"))),
                Err(Failure::Unsupported(detail)) => return Ok(Err(Unsupported { detail })),
                Err(Failure::Transient(m)) => {
                    let Some(delay) = wait(attempt, started.elapsed(), budget) else {
                        return Err(self.error(format!(
                            "{op}: {m}; gave up after {} attempt(s) in {:.0?} (S3_RETRY_SECONDS={})",
                            attempt + 1,
                            started.elapsed(),
                            self.settings.retry_seconds
                        )));
                    };
                    tracing::warn!(destination = %self.settings.name, op, error = %m, retry_in_ms = delay.as_millis() as u64, "S3 request failed; retrying");
                    std::thread::sleep(delay);
                    attempt += 1;
                }
            }
        }
    }
}

/// The reason when `e` is a certificate the client does not trust (no retry can change that).
fn untrusted(e: &ureq::Error) -> Option<String> {
    let tls = match e {
        ureq::Error::Rustls(e) => Some(e),
        ureq::Error::Io(io) => io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>()),
        _ => None,
    };
    match tls {
        Some(rustls::Error::InvalidCertificate(why)) => Some(format!("{why:?}")),
        _ => None,
    }
}

/// How long to wait before the next attempt, `None` once the budget is spent: the backoff, cut short so that
/// the last attempt falls at the end of the budget (a store that is back within it is always reached).
fn wait(attempt: u32, elapsed: Duration, budget: Duration) -> Option<Duration> {
    let left = budget.checked_sub(elapsed).filter(|left| !left.is_zero())?;
    Some(backoff(attempt).min(left))
}

/// Exponential backoff with jitter: between half and all of 200 ms x 2^attempt (at most 10 s), at random.
fn backoff(attempt: u32) -> Duration {
    let delay = scheduler::backoff(attempt, FIRST_RETRY_DELAY, MAX_RETRY_DELAY);
    scheduler::with_jitter(delay, scheduler::unit_random())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn retried(status: u16, body: &str) -> bool {
        matches!(classify(status, body), Err(Failure::Transient(_)))
    }

    fn classify(status: u16, body: &str) -> std::result::Result<Reply, Failure> {
        let client = Client::new(S3Settings {
            name: "s3".into(),
            var_prefix: "S3_".into(),
            endpoint: "http://127.0.0.1:1".into(),
            bucket: "b".into(),
            region: "us-east-1".into(),
            prefix: String::new(),
            path_style: true,
            addressing: String::new(),
            access_key: Secret::new("a"),
            secret_key: Secret::new("s"),
            source: None,
            ca_file: None,
            session_token: None,
            part_size: 5 << 20,
            retry_seconds: 1,
        });
        let reply = Reply {
            status,
            headers: http::HeaderMap::new(),
            body: body.to_string(),
        };
        client.classify("GET", reply)
    }

    #[test]
    fn a_call_the_store_does_not_implement_is_told_apart() {
        let body = "<Error><Code>NotImplemented</Code><Message>ListMultipartUploads is not implemented \
                    yet</Message></Error>";
        for (status, body) in [(501, body), (501, ""), (400, body)] {
            match classify(status, body) {
                Err(Failure::Unsupported(detail)) => {
                    assert!(detail.starts_with(&format!("HTTP {status}")), "{detail}")
                }
                _ => panic!("HTTP {status} {body} is not taken for a missing call"),
            }
        }
        assert!(matches!(classify(403, ""), Err(Failure::Permanent(_))));
    }

    #[test]
    fn a_busy_store_is_retried_a_refusal_is_not() {
        let error = |code: &str| format!("<Error><Code>{code}</Code></Error>");
        for status in [500, 502, 503, 504, 429] {
            assert!(retried(status, ""), "HTTP {status}");
        }
        assert!(retried(503, &error("SlowDown")));
        assert!(retried(400, &error("RequestTimeout")));
        assert!(retried(200, &error("InternalError")));
        for status in [400, 403, 404, 409, 501, 505, 507] {
            assert!(!retried(status, ""), "HTTP {status}");
        }
        assert!(!retried(404, &error("NoSuchBucket")));
        assert!(!retried(403, &error("SignatureDoesNotMatch")));
    }

    #[test]
    fn retries_last_until_the_end_of_the_budget_and_no_longer() {
        for seconds in [0, 1, 3, 120] {
            let budget = Duration::from_secs(seconds);
            let (mut elapsed, mut attempt) = (Duration::ZERO, 0);
            while let Some(delay) = wait(attempt, elapsed, budget) {
                assert!(delay <= Duration::from_secs(10), "{delay:?}");
                elapsed += delay;
                attempt += 1;
            }
            assert_eq!(elapsed, budget, "S3_RETRY_SECONDS={seconds}");
        }
        assert_eq!(
            wait(0, Duration::from_secs(5), Duration::from_secs(3)),
            None
        );
    }
}
