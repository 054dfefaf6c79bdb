//! Any other webhook, as shoutrrr's generic service: `generic://host/path` (HTTPS, or HTTP with
//! `?disabletls=yes`), `generic+https://host/path` and `generic+http://host/path`.
//!
//! The body is the title and message as plain text; with `?template=json`, a JSON object (`title`, `message`,
//! `status`, `series`, `host`, ... and `$key=value` extras); with a template of db-backup's own (`template=` in
//! the URL, or `NOTIFY_TEMPLATE` for every generic URL without one), that text with its placeholders filled.
//! `@Name=value` adds a header, `_key=value` passes a query parameter whose name this service uses itself, and
//! other parameters are passed on to the target as they are.

use base64::Engine;
use serde_json::{Value, json};

use super::http::Request;
use super::message::Note;
use super::template::Template;
use super::urls::Parts;

/// What the body is.
#[derive(Clone)]
enum Body {
    Plain,
    Json {
        title_key: String,
        message_key: String,
        extra: Vec<(String, String)>,
    },
    Template(Template),
}

/// A generic webhook.
#[derive(Clone)]
pub struct Generic {
    url: String,
    method: &'static str,
    content_type: String,
    headers: Vec<(String, String)>,
    title: Option<String>,
    body: Body,
    secrets: Vec<String>,
}

impl Generic {
    /// `(generic, host for logs)`; `default_template` is `NOTIFY_TEMPLATE`.
    pub fn parse(
        mut url: Parts,
        default_template: Option<&Template>,
    ) -> Result<(Generic, String), String> {
        if url.host.is_empty() {
            return Err(
                "has no host: write generic+https://host/path or generic://host/path".into(),
            );
        }
        let q = &mut url.query;
        let content_type = q.take(&["contenttype"]);
        let disable_tls = q.flag(&["disabletls"])?;
        let scheme = match (url.scheme.as_str(), disable_tls) {
            ("generic+http", _) | (_, Some(true)) => "http",
            _ => "https",
        };
        let title = q.take(&["title"]);
        let title_key = q.take(&["titlekey"]).unwrap_or_else(|| "title".into());
        let message_key = q.take(&["messagekey"]).unwrap_or_else(|| "message".into());
        let method = match q
            .take(&["method", "requestmethod"])
            .map(|m| m.to_ascii_uppercase())
        {
            None => "POST",
            Some(m) if m == "POST" => "POST",
            Some(m) if m == "PUT" => "PUT",
            Some(m) if m == "PATCH" => "PATCH",
            Some(_) => return Err("the parameter method takes POST, PUT or PATCH".into()),
        };
        let template = q.take(&["template"]);
        let mut headers = Vec::new();
        let mut extra = Vec::new();
        let mut forward = Vec::new();
        for (key, value) in q.take_rest() {
            if let Some(name) = key.strip_prefix('@') {
                headers.push((header_name(name), value));
            } else if let Some(name) = key.strip_prefix('$') {
                extra.push((name.to_string(), value));
            } else if let Some(name) = key.strip_prefix('_') {
                forward.push((name.to_string(), value));
            } else {
                forward.push((key, value));
            }
        }
        let body = match template.as_deref() {
            None => match default_template {
                Some(t) => Body::Template(t.clone()),
                None => Body::Plain,
            },
            Some(t) if t.eq_ignore_ascii_case("json") => Body::Json {
                title_key,
                message_key,
                extra,
            },
            Some(t) if t.contains('{') => Body::Template(
                Template::parse(t).map_err(|e| format!("the parameter template {e}"))?,
            ),
            Some(_) => {
                return Err("names a template db-backup does not have (shoutrrr's named templates are Go \
                            code): use template=json, a body with {placeholders}, or NOTIFY_TEMPLATE"
                    .into());
            }
        };
        let content_type = content_type.unwrap_or_else(|| match body {
            Body::Plain => "text/plain; charset=utf-8".into(),
            _ => "application/json".into(),
        });
        let host = url.authority();
        let mut target = url::Url::parse(&format!("{scheme}://{host}/"))
            .map_err(|e| format!("is not a valid URL ({e})"))?;
        if let Ok(mut segments) = target.path_segments_mut() {
            segments.pop_if_empty().extend(&url.path);
        }
        if !forward.is_empty() {
            target.query_pairs_mut().extend_pairs(&forward);
        }
        let mut secrets: Vec<String> = headers.iter().map(|(_, v)| v.clone()).collect();
        if let Some(password) = &url.password {
            let auth = base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{password}", url.user));
            secrets.push(password.clone());
            secrets.push(auth.clone());
            headers.push(("Authorization".into(), format!("Basic {auth}")));
        }
        Ok((
            Generic {
                url: target.to_string(),
                method,
                content_type,
                headers,
                title,
                body,
                secrets,
            },
            host,
        ))
    }

    pub fn request(&self, note: &Note, label: &str) -> Request {
        let title = self.title.as_deref().unwrap_or(&note.title);
        let body = match &self.body {
            Body::Plain => format!("{title}\n\n{}", note.body),
            Body::Json {
                title_key,
                message_key,
                extra,
            } => {
                let mut v = json!({
                    "status": note.status.name(),
                    "series": note.series,
                    "host": note.host,
                    "engine": note.engine,
                    "error": note.error,
                    "file": note.file,
                    "size": note.size,
                    "duration_seconds": (note.duration_s * 1000.0).round() / 1000.0,
                });
                v[title_key.as_str()] = Value::String(title.to_string());
                v[message_key.as_str()] = Value::String(note.body.clone());
                for (key, value) in extra {
                    v[key.as_str()] = Value::String(value.clone());
                }
                v.to_string()
            }
            Body::Template(t) => {
                let mut note = note.clone();
                note.title = title.to_string();
                t.render(
                    &note,
                    self.content_type.to_ascii_lowercase().contains("json"),
                )
            }
        };
        let mut r = Request::new(self.method, self.url.clone(), label.to_string());
        r.content_type = Some(self.content_type.clone());
        r.body = Some(body);
        r.headers = self.headers.clone();
        for secret in &self.secrets {
            r = r.secret(secret.clone());
        }
        r
    }
}

/// `@xApiKey` → `X-Api-Key`, as shoutrrr writes header names given in a URL.
fn header_name(key: &str) -> String {
    let mut out = String::new();
    let mut start = true;
    for (i, c) in key.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 && !start {
            out.push('-');
        }
        out.push(if start || i == 0 {
            c.to_ascii_uppercase()
        } else {
            c
        });
        start = c == '-';
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::super::state::RunStatus;
    use super::*;

    fn note() -> Note {
        Note {
            status: RunStatus::Failure,
            title: "db-backup: Backup of app on box FAILED".into(),
            body: "the \"reason\"".into(),
            series: "app".into(),
            host: "box".into(),
            engine: "postgres".into(),
            error: Some("boom".into()),
            file: None,
            size: None,
            duration_s: 1.0,
        }
    }

    fn parse(url: &str, default: Option<&Template>) -> Generic {
        Generic::parse(Parts::parse(url).unwrap(), default)
            .unwrap()
            .0
    }

    #[test]
    fn plain_json_and_template_bodies() {
        let r = parse("generic+https://hooks.example/api/v1/post?token=abc", None)
            .request(&note(), "x");
        assert_eq!(r.url, "https://hooks.example/api/v1/post?token=abc");
        assert_eq!(
            r.body.as_deref(),
            Some("db-backup: Backup of app on box FAILED\n\nthe \"reason\"")
        );
        assert_eq!(r.content_type.as_deref(), Some("text/plain; charset=utf-8"));

        let r = parse("generic://hooks.example:8080/x?template=json&disabletls=yes&messagekey=text&$env=prod&_template=t", None)
            .request(&note(), "x");
        assert_eq!(r.url, "http://hooks.example:8080/x?template=t");
        let v: Value = serde_json::from_str(r.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            (v["text"].as_str(), v["env"].as_str()),
            (Some("the \"reason\""), Some("prod"))
        );
        assert_eq!(
            (v["status"].as_str(), v["series"].as_str()),
            (Some("failure"), Some("app"))
        );

        let t = Template::parse(r#"{"msg":"{title}: {message}"}"#).unwrap();
        let r = parse(
            "generic+http://127.0.0.1:9/hook?@xApiKey=k3y&method=put",
            Some(&t),
        )
        .request(&note(), "x");
        assert_eq!(r.method, "PUT");
        assert!(
            r.headers.contains(&("X-Api-Key".into(), "k3y".into())),
            "{:?}",
            r.headers
        );
        let v: Value = serde_json::from_str(r.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            v["msg"],
            "db-backup: Backup of app on box FAILED: the \"reason\""
        );
        assert!(r.scrub("said k3y").contains("[redacted]"));

        let r = parse(
            "generic+https://u:pw@h/x?template=%7Bstatus%7D+%7Bseries%7D&contenttype=text/plain",
            None,
        )
        .request(&note(), "x");
        assert_eq!(r.body.as_deref(), Some("failure app"));
        assert!(
            r.headers
                .contains(&("Authorization".into(), "Basic dTpwdw==".into()))
        );
    }

    #[test]
    fn bad_generic_urls() {
        for bad in [
            "generic+https:///x",
            "generic+https://h/x?template=mytpl",
            "generic+https://h/x?template=%7Bnope%7D",
            "generic+https://h/x?method=GET",
            "generic+https://h/x?disabletls=maybe",
        ] {
            assert!(
                Generic::parse(Parts::parse(bad).unwrap(), None).is_err(),
                "{bad}"
            );
        }
    }
}
