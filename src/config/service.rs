//! The settings of `backup-service`, the long-running mode: schedule, retries, stopping, metrics and
//! notifications. Validated here like every other setting, so a bad value stops every command at start.

use std::time::Duration;

use super::Secret;
use super::raw::Raw;
use super::values::{boolean, number, one_of};
use crate::error::ConfigError;
use crate::scheduler::{INTERVAL_VAR, SCHEDULE_VAR, Schedule};
use crate::service::notify::template::Template;
use crate::service::notify::urls::{self, NotifyUrl};

/// `BACKUP_RETRIES` when unset.
pub const DEFAULT_RETRIES: u32 = 2;
/// The most retries accepted: more only delays the failure notice.
pub const MAX_RETRIES: u32 = 10;
/// `BACKUP_STOP_TIMEOUT` when unset: inside Docker's default 10 s between SIGTERM and SIGKILL.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(8);
/// The longest accepted `BACKUP_STOP_TIMEOUT`.
pub const MAX_STOP_TIMEOUT_SECS: u64 = 3600;

/// When `NOTIFY_WEBHOOK_URL` and `NOTIFY_URLS` are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyOn {
    /// Only after a run that failed (after its retries).
    Failure,
    /// After every run.
    Always,
}

impl NotifyOn {
    pub fn name(self) -> &'static str {
        match self {
            NotifyOn::Failure => "failure",
            NotifyOn::Always => "always",
        }
    }
}

/// The validated settings of `backup-service`.
#[derive(Clone)]
pub struct ServiceSettings {
    /// `BACKUP_SCHEDULE` or `DB_BACKUP_INTERVAL`.
    pub schedule: Schedule,
    /// `BACKUP_ON_START`: one backup right after start.
    pub on_start: bool,
    /// `BACKUP_RETRIES`: retries of a failed run before it counts as failed.
    pub retries: u32,
    /// `BACKUP_STOP_TIMEOUT`: how long a running backup may go on after a stop signal.
    pub stop_timeout: Duration,
    /// `METRICS_PORT`: serve `/metrics` and `/healthz` on this port.
    pub metrics_port: Option<u16>,
    /// `HEALTHCHECK_PING_URL`: healthchecks.io-style pings.
    pub ping_url: Option<Secret>,
    /// `NOTIFY_WEBHOOK_URL`: a JSON POST after a run.
    pub webhook_url: Option<Secret>,
    /// `NOTIFY_URLS`: services that tell people (ntfy, Slack, email, ...).
    pub notify_urls: Vec<NotifyUrl>,
    /// `NOTIFY_TEMPLATE`: the body of generic webhooks without a template of their own.
    pub notify_template: Option<String>,
    /// `NOTIFY_ON`.
    pub notify_on: NotifyOn,
}

/// Written by hand: the derived `Debug` of a cron schedule prints the parser's bit fields, hundreds of lines.
impl std::fmt::Debug for ServiceSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceSettings")
            .field("schedule", &self.schedule.describe())
            .field("on_start", &self.on_start)
            .field("retries", &self.retries)
            .field("stop_timeout", &self.stop_timeout)
            .field("metrics_port", &self.metrics_port)
            .field("ping_url", &self.ping_url)
            .field("webhook_url", &self.webhook_url)
            .field("notify_urls", &self.notify_urls)
            .field("notify_template", &self.notify_template)
            .field("notify_on", &self.notify_on)
            .finish()
    }
}

impl ServiceSettings {
    /// The settings for `config` output; URLs show only their scheme and host (a path often holds a token).
    pub fn describe(&self, tz: chrono_tz::Tz) -> Vec<(&'static str, String)> {
        let schedule_var = match self.schedule {
            Schedule::Cron { .. } => SCHEDULE_VAR,
            Schedule::Interval(_) => INTERVAL_VAR,
        };
        let url = |u: &Option<Secret>| {
            u.as_ref()
                .map(|u| redact_url(u.expose()))
                .unwrap_or_else(|| "(unset)".into())
        };
        vec![
            (schedule_var, self.schedule.describe_in(tz)),
            ("BACKUP_ON_START", self.on_start.to_string()),
            ("BACKUP_RETRIES", self.retries.to_string()),
            (
                "BACKUP_STOP_TIMEOUT",
                self.stop_timeout.as_secs().to_string(),
            ),
            (
                "METRICS_PORT",
                self.metrics_port
                    .map(|p| p.to_string())
                    .unwrap_or_else(|| "(off)".into()),
            ),
            ("HEALTHCHECK_PING_URL", url(&self.ping_url)),
            ("NOTIFY_WEBHOOK_URL", url(&self.webhook_url)),
            (
                "NOTIFY_URLS",
                if self.notify_urls.is_empty() {
                    "(unset)".into()
                } else {
                    self.notify_urls
                        .iter()
                        .map(|u| u.label.replacen(' ', "://", 1))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
            ),
            (
                "NOTIFY_TEMPLATE",
                self.notify_template
                    .clone()
                    .unwrap_or_else(|| "(unset)".into()),
            ),
            ("NOTIFY_ON", self.notify_on.name().to_string()),
        ]
    }
}

/// Validates the service settings from the raw environment.
pub(super) fn validate(raw: &Raw) -> Result<ServiceSettings, ConfigError> {
    let schedule = Schedule::parse(
        raw.backup_schedule.as_deref(),
        raw.db_backup_interval.as_deref(),
    )?;
    let on_start = match raw.backup_on_start.as_deref() {
        None => false,
        Some(v) => boolean("BACKUP_ON_START", v)?,
    };
    let retries = match raw.backup_retries.as_deref() {
        None => DEFAULT_RETRIES,
        Some(v) => {
            let expected = format!("a whole number of retries from 0 to {MAX_RETRIES}");
            let n: u32 = number("BACKUP_RETRIES", v, &expected)?;
            if n > MAX_RETRIES {
                return Err(ConfigError::new(
                    "BACKUP_RETRIES",
                    format!("{n} is out of range: must be {expected}"),
                ));
            }
            n
        }
    };
    let stop_timeout = match raw.backup_stop_timeout.as_deref() {
        None => DEFAULT_STOP_TIMEOUT,
        Some(v) => {
            let expected = format!(
                "a whole number of seconds from 0 to {MAX_STOP_TIMEOUT_SECS} (keep it below the time \
                 `docker stop` waits, 10 s unless --time or stop_grace_period says otherwise)"
            );
            let secs: u64 = number("BACKUP_STOP_TIMEOUT", v, &expected)?;
            if secs > MAX_STOP_TIMEOUT_SECS {
                return Err(ConfigError::new(
                    "BACKUP_STOP_TIMEOUT",
                    format!("{secs} is out of range: must be {expected}"),
                ));
            }
            Duration::from_secs(secs)
        }
    };
    let metrics_port = match raw.metrics_port.as_deref() {
        None => None,
        Some(v) => {
            let port: u16 = number("METRICS_PORT", v, "a port number from 1 to 65535")?;
            if port == 0 {
                return Err(ConfigError::new(
                    "METRICS_PORT",
                    "must be a port number from 1 to 65535",
                ));
            }
            Some(port)
        }
    };
    let ping_url = raw
        .healthcheck_ping_url
        .as_deref()
        .map(|u| http_url("HEALTHCHECK_PING_URL", u))
        .transpose()?;
    let webhook_url = raw
        .notify_webhook_url
        .as_deref()
        .map(|u| http_url("NOTIFY_WEBHOOK_URL", u))
        .transpose()?;
    let template = raw
        .notify_template
        .as_deref()
        .map(|t| Template::parse(t).map_err(|e| ConfigError::new("NOTIFY_TEMPLATE", e)))
        .transpose()?;
    let notify_urls = match raw.notify_urls.as_deref() {
        None => Vec::new(),
        Some(v) => urls::parse_list("NOTIFY_URLS", v, template.as_ref())?,
    };
    if template.is_some()
        && !notify_urls
            .iter()
            .any(|u| matches!(u.target, urls::Target::Generic(_)))
    {
        return Err(ConfigError::new(
            "NOTIFY_TEMPLATE",
            "is set but NOTIFY_URLS has no generic webhook (generic://, generic+https://) to use it: add \
             one or remove NOTIFY_TEMPLATE",
        ));
    }
    let notify_on = match raw.notify_on.as_deref() {
        None => NotifyOn::Failure,
        Some(_) if webhook_url.is_none() && notify_urls.is_empty() => {
            return Err(ConfigError::new(
                "NOTIFY_ON",
                "is set but neither NOTIFY_WEBHOOK_URL nor NOTIFY_URLS is: set one of them or remove \
                 NOTIFY_ON",
            ));
        }
        Some(v) => one_of(
            "NOTIFY_ON",
            v,
            &[("failure", NotifyOn::Failure), ("always", NotifyOn::Always)],
        )?,
    };
    Ok(ServiceSettings {
        schedule,
        on_start,
        retries,
        stop_timeout,
        metrics_port,
        ping_url,
        webhook_url,
        notify_urls,
        notify_template: raw.notify_template.clone(),
        notify_on,
    })
}

/// An `http://` or `https://` URL with a host. The value is never repeated in the error: it may hold a token.
fn http_url(var: &str, value: &str) -> Result<Secret, ConfigError> {
    let value = value.trim();
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"));
    let host = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or_default());
    let ok = host.is_some_and(|h| !h.is_empty()) && !value.chars().any(char::is_whitespace);
    if !ok {
        return Err(ConfigError::new(
            var,
            "is not an http:// or https:// URL with a host (e.g. https://hc-ping.com/<uuid>)",
        ));
    }
    Ok(Secret(value.to_string()))
}

/// A URL for logs and `config` output: scheme and host only, without credentials, path or query, which
/// is where healthchecks.io, Slack and the like put their tokens.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit('@').next().unwrap_or_default();
    let more = rest.len() > authority.len() || authority.contains('@');
    format!("{scheme}://{host}{}", if more { "/[redacted]" } else { "" })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> Raw {
        super::super::raw::from_pairs(pairs)
    }

    fn err(pairs: &[(&str, &str)]) -> ConfigError {
        validate(&raw(pairs)).expect_err("expected an error")
    }

    #[test]
    fn defaults() {
        let s = validate(&raw(&[])).unwrap();
        assert_eq!(s.schedule.describe(), "cron 0 3 * * *");
        assert!(!s.on_start);
        assert_eq!(s.retries, 2);
        assert_eq!(s.stop_timeout, Duration::from_secs(8));
        assert_eq!(s.metrics_port, None);
        assert!(s.ping_url.is_none() && s.webhook_url.is_none());
        assert_eq!(s.notify_on, NotifyOn::Failure);
    }

    #[test]
    fn every_setting_parses() {
        let s = validate(&raw(&[
            ("DB_BACKUP_INTERVAL", "60"),
            ("BACKUP_ON_START", "Yes"),
            ("BACKUP_RETRIES", "0"),
            ("BACKUP_STOP_TIMEOUT", "3"),
            ("METRICS_PORT", "9187"),
            ("HEALTHCHECK_PING_URL", "https://hc-ping.com/abc"),
            ("NOTIFY_WEBHOOK_URL", "http://hooks.local:8080/x?token=t"),
            ("NOTIFY_ON", "always"),
        ]))
        .unwrap();
        assert_eq!(s.schedule, Schedule::Interval(Duration::from_secs(60)));
        assert!(s.on_start);
        assert_eq!(s.retries, 0);
        assert_eq!(s.stop_timeout, Duration::from_secs(3));
        assert_eq!(s.metrics_port, Some(9187));
        assert_eq!(s.notify_on, NotifyOn::Always);
        let described = format!("{:?}", s.describe(chrono_tz::UTC));
        assert!(
            described.contains("https://hc-ping.com/[redacted]"),
            "{described}"
        );
        assert!(
            !described.contains("abc") && !described.contains("token"),
            "{described}"
        );
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (pairs, var) in [
            (&[("BACKUP_SCHEDULE", "61 * * * *")][..], "BACKUP_SCHEDULE"),
            (
                &[("BACKUP_SCHEDULE", "@daily"), ("DB_BACKUP_INTERVAL", "5")][..],
                "BACKUP_SCHEDULE",
            ),
            (&[("DB_BACKUP_INTERVAL", "1h")][..], "DB_BACKUP_INTERVAL"),
            (&[("BACKUP_ON_START", "maybe")][..], "BACKUP_ON_START"),
            (&[("BACKUP_RETRIES", "-1")][..], "BACKUP_RETRIES"),
            (&[("BACKUP_RETRIES", "11")][..], "BACKUP_RETRIES"),
            (&[("BACKUP_STOP_TIMEOUT", "8s")][..], "BACKUP_STOP_TIMEOUT"),
            (&[("METRICS_PORT", "0")][..], "METRICS_PORT"),
            (&[("METRICS_PORT", "70000")][..], "METRICS_PORT"),
            (
                &[("HEALTHCHECK_PING_URL", "hc-ping.com/x")][..],
                "HEALTHCHECK_PING_URL",
            ),
            (
                &[("NOTIFY_WEBHOOK_URL", "https:///x")][..],
                "NOTIFY_WEBHOOK_URL",
            ),
            (&[("NOTIFY_ON", "failure")][..], "NOTIFY_ON"),
            (
                &[
                    ("NOTIFY_WEBHOOK_URL", "https://h/x"),
                    ("NOTIFY_ON", "sometimes"),
                ][..],
                "NOTIFY_ON",
            ),
        ] {
            assert_eq!(err(pairs).variable, var, "{pairs:?}");
        }
    }

    #[test]
    fn notify_urls_take_notify_on_and_a_template() {
        let s = validate(&raw(&[
            (
                "NOTIFY_URLS",
                "ntfy://:tk_s3cret@ntfy.example/t, generic+https://h/x",
            ),
            ("NOTIFY_TEMPLATE", r#"{"text": "{title}"}"#),
            ("NOTIFY_ON", "always"),
        ]))
        .unwrap();
        assert_eq!(s.notify_urls.len(), 2);
        assert_eq!(s.notify_on, NotifyOn::Always);
        let described = format!("{:?} {s:?}", s.describe(chrono_tz::UTC));
        assert!(
            described.contains("ntfy://ntfy.example, generic+https://h"),
            "{described}"
        );
        assert!(!described.contains("tk_s3cret"), "{described}");
        for (pairs, var) in [
            (
                &[
                    ("NOTIFY_TEMPLATE", "{title}"),
                    ("NOTIFY_URLS", "ntfy://h/t"),
                ][..],
                "NOTIFY_TEMPLATE",
            ),
            (
                &[("NOTIFY_URLS", "ntfy://h/t,mqtt://h/t")][..],
                "NOTIFY_URLS",
            ),
        ] {
            assert_eq!(err(pairs).variable, var, "{pairs:?}");
        }
    }

    #[test]
    fn a_bad_url_is_not_repeated_in_the_error() {
        let e = err(&[("NOTIFY_WEBHOOK_URL", "ftp://secret-token@host/x")]);
        assert!(!e.to_string().contains("secret-token"), "{e}");
    }

    #[test]
    fn urls_are_redacted_to_scheme_and_host() {
        assert_eq!(
            redact_url("https://hc-ping.com/5f0c-uuid"),
            "https://hc-ping.com/[redacted]"
        );
        assert_eq!(
            redact_url("https://user:pw@example.com:8443"),
            "https://example.com:8443/[redacted]"
        );
        assert_eq!(redact_url("http://127.0.0.1:9"), "http://127.0.0.1:9");
        assert_eq!(redact_url("http://h?token=x"), "http://h/[redacted]");
    }
}
