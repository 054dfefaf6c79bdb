//! `NOTIFY_URLS`: service URLs in shoutrrr's format (`ntfy://`, `slack://`, `smtp://`, ...), split, parsed
//! and checked when the configuration is read, so that a typo stops the service at start instead of losing
//! the first failure notice.
//!
//! URLs hold tokens: an error names the entry's position and scheme and what is wrong with it, never a value,
//! and a parsed URL shows itself (`Debug`, logs, `db-backup config`) as its scheme and the host it talks to.

use std::fmt;

use percent_encoding::percent_decode_str;

use super::template::Template;
use super::{chat, generic, push, smtp};
use crate::error::ConfigError;

/// The schemes `NOTIFY_URLS` accepts, for error messages.
pub const SCHEMES: &str =
    "ntfy, gotify, slack, discord, telegram, smtp, generic (generic+https, generic+http)";

/// One parsed service URL.
#[derive(Clone)]
pub struct NotifyUrl {
    pub target: Target,
    /// `scheme host`: what logs and `db-backup config` show.
    pub label: String,
}

/// The service a URL sends to, with everything needed to send.
#[derive(Clone)]
pub enum Target {
    Ntfy(push::Ntfy),
    Gotify(push::Gotify),
    Slack(chat::Slack),
    Discord(chat::Discord),
    Telegram(chat::Telegram),
    Generic(generic::Generic),
    Smtp(smtp::Smtp),
}

impl fmt::Debug for NotifyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label)
    }
}

/// Parses `NOTIFY_URLS` (read from `var`). `template` is `NOTIFY_TEMPLATE`, for generic URLs without their own.
pub fn parse_list(
    var: &str,
    value: &str,
    template: Option<&Template>,
) -> Result<Vec<NotifyUrl>, ConfigError> {
    let entries = split(value);
    let count = entries.len();
    if count == 0 {
        return Err(ConfigError::new(
            var,
            format!("holds no URL; give one or more service URLs ({SCHEMES}), separated by commas"),
        ));
    }
    entries
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            parse(entry, template).map_err(|e| {
                let scheme = scheme_of(entry)
                    .map(|s| format!(" ({s}://...)"))
                    .unwrap_or_default();
                ConfigError::new(var, format!("entry {} of {count}{scheme}: {e}", i + 1))
            })
        })
        .collect()
}

/// Splits on commas and white space. A comma-separated piece that does not start with `scheme://` belongs to
/// the URL before it, so that `telegram://...?chats=1,2` and `smtp://...?to=a@x,b@y` stay whole.
pub fn split(value: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for word in value.split_whitespace() {
        for (i, piece) in word.split(',').enumerate() {
            if piece.is_empty() {
                continue;
            }
            if i > 0
                && scheme_of(piece).is_none()
                && let Some(last) = out.last_mut()
            {
                last.push(',');
                last.push_str(piece);
                continue;
            }
            out.push(piece.to_string());
        }
    }
    out
}

/// The scheme of `text` when it starts like a URL (`name://`).
fn scheme_of(text: &str) -> Option<&str> {
    let (scheme, _) = text.split_once("://")?;
    let ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    ok.then_some(scheme)
}

fn parse(entry: &str, template: Option<&Template>) -> Result<NotifyUrl, String> {
    let scheme = scheme_of(entry)
        .ok_or_else(|| {
            format!("is not a URL; each entry starts with its service, one of {SCHEMES}")
        })?
        .to_ascii_lowercase();
    let url = Parts::parse(entry)?;
    let (target, host) = match scheme.as_str() {
        "ntfy" => push::Ntfy::parse(url).map(|t| (Target::Ntfy(t.0), t.1))?,
        "gotify" => push::Gotify::parse(url).map(|t| (Target::Gotify(t.0), t.1))?,
        "slack" => chat::Slack::parse(url).map(|t| (Target::Slack(t.0), t.1))?,
        "discord" => chat::Discord::parse(url).map(|t| (Target::Discord(t.0), t.1))?,
        "telegram" => chat::Telegram::parse(url).map(|t| (Target::Telegram(t.0), t.1))?,
        "smtp" => smtp::Smtp::parse(url).map(|t| (Target::Smtp(t.0), t.1))?,
        "generic" | "generic+https" | "generic+http" => {
            generic::Generic::parse(url, template).map(|t| (Target::Generic(t.0), t.1))?
        }
        _ => {
            return Err(format!(
                "the service is not one db-backup knows; use one of {SCHEMES}"
            ));
        }
    };
    Ok(NotifyUrl {
        target,
        label: format!("{scheme} {host}"),
    })
}

/// A URL taken apart, every part percent-decoded.
pub struct Parts {
    pub scheme: String,
    pub user: String,
    pub password: Option<String>,
    /// The host as written (empty when there is none).
    pub host: String,
    pub port: Option<u16>,
    /// The path's segments, empty ones dropped.
    pub path: Vec<String>,
    pub query: Query,
}

impl Parts {
    pub fn parse(text: &str) -> Result<Parts, String> {
        let url = url::Url::parse(text).map_err(|e| format!("is not a valid URL ({e})"))?;
        let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
        let host = match url.host() {
            Some(url::Host::Domain(d)) => decode(d),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
            None => String::new(),
        };
        Ok(Parts {
            scheme: url.scheme().to_ascii_lowercase(),
            user: decode(url.username()),
            password: url.password().map(decode),
            host,
            port: url.port(),
            path: url
                .path_segments()
                .map(|s| s.filter(|p| !p.is_empty()).map(decode).collect())
                .unwrap_or_default(),
            query: Query(
                url.query_pairs()
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect(),
            ),
        })
    }

    /// `host:port`, or the host alone.
    pub fn authority(&self) -> String {
        match self.port {
            Some(port) => format!("{}:{port}", self.host),
            None => self.host.clone(),
        }
    }
}

/// A URL's query parameters. Each service takes the ones it knows; what is left is an error, so that a typo
/// (`?prority=5`) is not silently ignored.
pub struct Query(Vec<(String, String)>);

impl Query {
    /// The value of the first of `keys` present (names are matched without regard to case), removed.
    pub fn take(&mut self, keys: &[&str]) -> Option<String> {
        let i = self
            .0
            .iter()
            .position(|(k, _)| keys.iter().any(|key| k.eq_ignore_ascii_case(key)))?;
        Some(self.0.remove(i).1)
    }

    /// A yes/no parameter.
    pub fn flag(&mut self, keys: &[&str]) -> Result<Option<bool>, String> {
        let Some(value) = self.take(keys) else {
            return Ok(None);
        };
        match value.to_ascii_lowercase().as_str() {
            "yes" | "true" | "1" | "on" => Ok(Some(true)),
            "no" | "false" | "0" | "off" => Ok(Some(false)),
            _ => Err(format!("the parameter {} takes yes or no", keys[0])),
        }
    }

    /// `apiurl`: another base URL for a service's API (a self-hosted Telegram Bot API server, a proxy, or a
    /// stand-in in tests), `http(s)://host[:port][/path]`.
    pub fn api_url(&mut self) -> Result<Option<String>, String> {
        let Some(value) = self.take(&["apiurl"]) else {
            return Ok(None);
        };
        let ok = url::Url::parse(&value)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some());
        if !ok {
            return Err(
                "the parameter apiurl is not an http:// or https:// URL with a host".into(),
            );
        }
        Ok(Some(value.trim_end_matches('/').to_string()))
    }

    /// Every parameter not taken yet, removed.
    pub fn take_rest(&mut self) -> Vec<(String, String)> {
        std::mem::take(&mut self.0)
    }

    /// Fails when a parameter was left over, naming it (never its value).
    pub fn finish(&self, known: &str) -> Result<(), String> {
        match self.0.first() {
            None => Ok(()),
            Some((key, _)) => Err(format!(
                "the parameter {key:?} is not one this service takes ({known})"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commas_inside_a_url_stay_in_it() {
        assert_eq!(
            split(
                "telegram://1:a@telegram?chats=@one,-100,ntfy://ntfy.sh/t,\n smtp://h/?to=a@x,b@y generic+https://h/x"
            ),
            vec![
                "telegram://1:a@telegram?chats=@one,-100",
                "ntfy://ntfy.sh/t",
                "smtp://h/?to=a@x,b@y",
                "generic+https://h/x",
            ]
        );
        assert!(split(" , ").is_empty());
    }

    #[test]
    fn errors_name_the_entry_and_never_a_token() {
        let e = parse_list(
            "NOTIFY_URLS",
            "ntfy://ntfy.sh/topic,pushover://s3cr3t@x",
            None,
        )
        .unwrap_err();
        assert_eq!(e.variable, "NOTIFY_URLS");
        assert!(
            e.message.starts_with("entry 2 of 2 (pushover://...)"),
            "{e}"
        );
        assert!(!e.message.contains("s3cr3t"), "{e}");
        let e = parse_list("NOTIFY_URLS", "hooks.example/s3cr3t", None).unwrap_err();
        assert!(e.message.contains("entry 1 of 1: is not a URL"), "{e}");
        assert!(!e.message.contains("s3cr3t"), "{e}");
        let e = parse_list("NOTIFY_URLS", "ntfy://ntfy.sh/t?prority=5&x=s3cr3t", None).unwrap_err();
        assert!(e.message.contains("\"prority\""), "{e}");
        assert!(!e.message.contains("s3cr3t"), "{e}");
        let e = parse_list("NOTIFY_URLS", ",", None).unwrap_err();
        assert!(e.message.contains("holds no URL"), "{e}");
    }

    #[test]
    fn parts_are_decoded() {
        let p = Parts::parse("smtp://me%40x.org:p%40ss@mail.example.org:587/?to=a%40b.c").unwrap();
        assert_eq!(
            (p.user.as_str(), p.password.as_deref()),
            ("me@x.org", Some("p@ss"))
        );
        assert_eq!(p.authority(), "mail.example.org:587");
        let mut q = p.query;
        assert_eq!(q.take(&["toaddresses", "to"]).as_deref(), Some("a@b.c"));
        assert!(q.finish("").is_ok());
    }

    #[test]
    fn debug_shows_only_the_label() {
        let urls =
            parse_list("NOTIFY_URLS", "ntfy://:tk_s3cr3t@ntfy.example/alerts", None).unwrap();
        assert_eq!(format!("{urls:?}"), "[ntfy ntfy.example]");
    }
}
