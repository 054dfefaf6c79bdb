//! The credentials a destination signs with: its static keys, or temporary ones from a provider
//! ([`crate::config::Source`]: web identity, container credentials, EC2 instance metadata), fetched at the first
//! request and again before they expire, also in the middle of an upload. The client asks for the current ones
//! at every request; one cache per destination is shared by the threads that upload parts.
//!
//! Small blocking providers of our own over `ureq` rather than the `aws-config` crate: that crate is async,
//! needs a tokio runtime and the AWS SDK's HTTP stack beside our client, for three short HTTP calls.

mod container;
mod imds;
mod web_identity;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::config::{Secret, Source};

/// How long before their expiry temporary credentials are fetched again (at most: half their lifetime when
/// they live shorter than twice this).
const REFRESH_BEFORE: Duration = Duration::from_secs(5 * 60);

/// How many times a provider that is busy or cannot be reached is asked (IMDS: once, to fail fast), and the
/// wait before the second time (doubling).
const FETCH_ATTEMPTS: u32 = 3;
const FETCH_RETRY_DELAY: Duration = Duration::from_millis(500);

/// Why a fetch failed: the message (never with a secret), and whether asking again may help.
pub(super) struct Failed {
    message: String,
    transient: bool,
}

impl Failed {
    fn transient(message: String) -> Failed {
        Failed {
            message,
            transient: true,
        }
    }

    fn maybe(transient: bool, message: String) -> Failed {
        Failed { message, transient }
    }
}

impl From<String> for Failed {
    fn from(message: String) -> Failed {
        Failed {
            message,
            transient: false,
        }
    }
}

/// One set of keys.
pub struct Credentials {
    pub access_key: Secret,
    pub secret_key: Secret,
    pub token: Option<Secret>,
    /// When temporary credentials stop working.
    pub expires: Option<DateTime<Utc>>,
}

/// The credentials of one destination: fixed, or fetched and cached.
pub struct Provider {
    kind: Kind,
}

enum Kind {
    Static(Arc<Credentials>),
    Fetched {
        source: Source,
        agent: ureq::Agent,
        cache: Mutex<Option<Cached>>,
    },
}

struct Cached {
    credentials: Arc<Credentials>,
    /// When to fetch new ones (`None`: never, they do not expire).
    refresh_at: Option<Instant>,
    /// When these stop working: until then they stand in when a refresh fails.
    expires_at: Option<Instant>,
}

impl Provider {
    pub fn fixed(credentials: Credentials) -> Provider {
        Provider {
            kind: Kind::Static(Arc::new(credentials)),
        }
    }

    /// A provider fetching from `source`; `tls` is the destination's TLS configuration (its CA bundle).
    pub fn fetching(source: Source, tls: ureq::tls::TlsConfig) -> Provider {
        // The metadata services are on this machine or link-local: a short connect timeout, so that a machine
        // without them fails fast, and no proxy.
        let local = !matches!(source, Source::WebIdentity { .. });
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .tls_config(tls)
            .timeout_connect(Some(Duration::from_secs(if local { 1 } else { 10 })))
            .timeout_global(Some(Duration::from_secs(if local { 5 } else { 30 })));
        if local {
            config = config.proxy(None);
        }
        Provider {
            kind: Kind::Fetched {
                source,
                agent: config.build().into(),
                cache: Mutex::new(None),
            },
        }
    }

    /// The provider's name and settings, for messages (`None` for static keys).
    pub fn source(&self) -> Option<&Source> {
        match &self.kind {
            Kind::Static(_) => None,
            Kind::Fetched { source, .. } => Some(source),
        }
    }

    /// Forgets fetched credentials (the store found them expired): the next request fetches new ones.
    pub fn expire(&self) {
        if let Kind::Fetched { cache, .. } = &self.kind {
            *cache.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
    }

    /// The credentials to sign the next request with: the cached ones, or new ones when they are due for a
    /// refresh. A failed refresh keeps the old ones while they still work (with a warning); `Err` says which
    /// provider failed, with which variables, and never holds a secret.
    pub fn current(&self) -> Result<Arc<Credentials>, String> {
        let (source, agent, cache) = match &self.kind {
            Kind::Static(c) => return Ok(Arc::clone(c)),
            Kind::Fetched {
                source,
                agent,
                cache,
            } => (source, agent, cache),
        };
        // Held while fetching: the other threads wait for the new credentials rather than fetch their own.
        let mut slot = cache.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if let Some(cached) = slot.as_ref()
            && cached.refresh_at.is_none_or(|at| now < at)
        {
            return Ok(Arc::clone(&cached.credentials));
        }
        let fetched = fetch(source, agent);
        match fetched {
            Ok(credentials) => {
                let left = credentials
                    .expires
                    .map(|at| (at - Utc::now()).to_std().unwrap_or(Duration::ZERO));
                tracing::debug!(
                    provider = %source.describe(),
                    valid_for_s = left.map(|l| l.as_secs()),
                    "S3 credentials fetched"
                );
                let credentials = Arc::new(credentials);
                *slot = Some(Cached {
                    credentials: Arc::clone(&credentials),
                    refresh_at: left.map(|l| now + l - REFRESH_BEFORE.min(l / 2)),
                    expires_at: left.map(|l| now + l),
                });
                Ok(credentials)
            }
            Err(e) => match slot.as_ref() {
                Some(cached) if cached.expires_at.is_none_or(|at| now < at) => {
                    tracing::warn!(provider = %source.describe(), error = %e, "refreshing the S3 credentials failed; using the current ones until they expire");
                    Ok(Arc::clone(&cached.credentials))
                }
                _ => Err(e),
            },
        }
    }
}

/// Fetches credentials from `source`, asking again after a short wait when it is busy or cannot be reached
/// (but the metadata service, which is asked once so that a machine without it fails fast).
fn fetch(source: &Source, agent: &ureq::Agent) -> Result<Credentials, String> {
    let mut attempt = 1;
    loop {
        let result = match source {
            Source::WebIdentity { .. } => web_identity::fetch(agent, source),
            Source::Container { .. } => container::fetch(agent, source),
            Source::Imds { endpoint } => imds::fetch(agent, endpoint),
        };
        match result {
            Ok(credentials) => return Ok(credentials),
            Err(e) if e.transient && attempt < FETCH_ATTEMPTS => {
                let delay = FETCH_RETRY_DELAY * 2u32.pow(attempt - 1);
                tracing::warn!(provider = %source.describe(), error = %e.message, retry_in_ms = delay.as_millis() as u64, "fetching S3 credentials failed; retrying");
                std::thread::sleep(delay);
                attempt += 1;
            }
            Err(e) if attempt > 1 => {
                return Err(format!("{} (after {attempt} attempts)", e.message));
            }
            Err(e) => return Err(e.message),
        }
    }
}

/// The JSON answer of the container endpoint and of the instance metadata service.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct JsonCredentials {
    access_key_id: String,
    secret_access_key: String,
    token: Option<String>,
    expiration: Option<String>,
    /// IMDS: `Success`, else why not.
    code: Option<String>,
}

impl JsonCredentials {
    /// Parses the answer; `what` names the provider in the error, which never quotes the body.
    fn parse(body: &str, what: &str) -> Result<Credentials, String> {
        let json: JsonCredentials = serde_json::from_str(body).map_err(|e| {
            format!(
                "{what} answered something other than credentials (JSON with AccessKeyId, SecretAccessKey, \
                 Token, Expiration): {}",
                e.classify_message()
            )
        })?;
        if let Some(code) = json.code.as_deref().filter(|c| *c != "Success") {
            return Err(format!(
                "{what} answered Code={code} instead of credentials"
            ));
        }
        credentials(
            json.access_key_id,
            json.secret_access_key,
            json.token,
            json.expiration.as_deref(),
            what,
        )
    }
}

/// Checks and assembles fetched credentials.
fn credentials(
    access_key: String,
    secret_key: String,
    token: Option<String>,
    expiration: Option<&str>,
    what: &str,
) -> Result<Credentials, String> {
    if access_key.is_empty() || secret_key.is_empty() {
        return Err(format!("{what} answered credentials without a key"));
    }
    let expires = expiration
        .map(|e| {
            DateTime::parse_from_rfc3339(e.trim())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|err| {
                    format!("{what} answered an expiry that is not a time ({e:?}: {err})")
                })
        })
        .transpose()?;
    Ok(Credentials {
        access_key: Secret::new(access_key),
        secret_key: Secret::new(secret_key),
        token: token.filter(|t| !t.is_empty()).map(Secret::new),
        expires,
    })
}

/// A short description of a failed HTTP call, for errors (no body: it might echo a secret).
fn http_failure(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(_) => "no answer in time".to_string(),
        ureq::Error::HostNotFound => "the host cannot be resolved".to_string(),
        ureq::Error::Io(io) => io.to_string(),
        other => other.to_string(),
    }
}

/// Helper for the serde_json error without quoting the input.
trait Classify {
    fn classify_message(&self) -> String;
}

impl Classify for serde_json::Error {
    fn classify_message(&self) -> String {
        format!(
            "{:?} at line {} column {}",
            self.classify(),
            self.line(),
            self.column()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A container endpoint on loopback answering credentials that live `ttl` seconds, the key numbered by the
    /// fetch, or 500 once `fail_after` fetches were made; counts the fetches.
    fn endpoint(ttl: i64, fail_after: usize) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/creds", listener.local_addr().unwrap());
        let count = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&count);
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf);
                let n = counted.fetch_add(1, Ordering::SeqCst);
                let expires = (Utc::now() + chrono::Duration::seconds(ttl)).to_rfc3339();
                let (status, body) = if n >= fail_after {
                    ("500 Internal Server Error", String::new())
                } else {
                    let json = format!(
                        r#"{{"AccessKeyId":"AKIA{n}","SecretAccessKey":"s","Token":"t","Expiration":"{expires}"}}"#
                    );
                    ("200 OK", json)
                };
                let reply = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(reply.as_bytes());
            }
        });
        (url, count)
    }

    fn provider(uri: String) -> Provider {
        let source = Source::Container {
            uri,
            uri_var: "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            token: None,
            token_file: None,
        };
        Provider::fetching(source, ureq::tls::TlsConfig::default())
    }

    #[test]
    fn credentials_are_cached_until_due_then_fetched_again() {
        // An hour: refreshed 5 minutes before, so cached now.
        let (url, count) = endpoint(3600, usize::MAX);
        let p = provider(url);
        let first = p.current().unwrap();
        assert_eq!(first.access_key.expose(), "AKIA0");
        assert_eq!(p.current().unwrap().access_key.expose(), "AKIA0");
        assert_eq!(count.load(Ordering::SeqCst), 1);
        p.expire();
        assert_eq!(p.current().unwrap().access_key.expose(), "AKIA1");
        // Two seconds: due after one.
        let (url, count) = endpoint(2, usize::MAX);
        let p = provider(url);
        p.current().unwrap();
        p.current().unwrap();
        assert_eq!(count.load(Ordering::SeqCst), 1);
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(p.current().unwrap().access_key.expose(), "AKIA1");
    }

    #[test]
    fn a_failed_refresh_keeps_the_current_credentials_until_they_expire() {
        let (url, _) = endpoint(2, 1);
        let p = provider(url);
        assert_eq!(p.current().unwrap().access_key.expose(), "AKIA0");
        std::thread::sleep(Duration::from_millis(1100));
        assert_eq!(p.current().unwrap().access_key.expose(), "AKIA0");
        std::thread::sleep(Duration::from_millis(1000));
        let e = p.current().err().unwrap();
        assert!(
            e.contains("AWS_CONTAINER_CREDENTIALS_FULL_URI")
                && e.contains("HTTP 500")
                && e.contains("after 3 attempts"),
            "{e}"
        );
    }

    #[test]
    fn parses_answers_without_quoting_them() {
        let ok = JsonCredentials::parse(
            r#"{"Code":"Success","AccessKeyId":"ASIA1","SecretAccessKey":"s3cr3t","Token":"tok","Expiration":"2030-01-01T00:00:00Z"}"#,
            "x",
        )
        .unwrap();
        assert_eq!(ok.access_key.expose(), "ASIA1");
        assert_eq!(ok.token.as_ref().map(Secret::expose), Some("tok"));
        assert!(ok.expires.is_some());
        let bad = JsonCredentials::parse(r#"{"SecretAccessKey":"s3cr3t"}"#, "x")
            .err()
            .unwrap();
        assert!(!bad.contains("s3cr3t"), "{bad}");
        let failed = JsonCredentials::parse(
            r#"{"Code":"AssumeRoleUnauthorizedAccess","AccessKeyId":"","SecretAccessKey":""}"#,
            "x",
        );
        assert!(
            failed
                .err()
                .unwrap()
                .contains("AssumeRoleUnauthorizedAccess")
        );
    }
}
