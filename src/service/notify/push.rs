//! Push services: ntfy (`ntfy://[user:password@|:token@]host/topic`) and Gotify
//! (`gotify://host[:port][/path]/token`), as shoutrrr writes their URLs. Both use HTTPS unless the URL says
//! otherwise the way shoutrrr does (`?scheme=http` for ntfy, `?disabletls=yes` for Gotify).

use base64::Engine;
use serde_json::json;

use super::http::Request;
use super::message::Note;
use super::urls::Parts;

const NTFY_KEYS: &str = "title, priority, tags, click, icon, email, delay, actions, attach, filename, cache, \
                         firebase, scheme";
const GOTIFY_KEYS: &str = "title, priority, disabletls";

/// An ntfy topic.
#[derive(Clone)]
pub struct Ntfy {
    url: String,
    auth: Option<String>,
    title: Option<String>,
    priority: Option<String>,
    tags: Option<String>,
    headers: Vec<(String, String)>,
    secrets: Vec<String>,
}

impl Ntfy {
    /// `(ntfy, host for logs)`.
    pub fn parse(mut url: Parts) -> Result<(Ntfy, String), String> {
        if url.host.is_empty() {
            url.host = "ntfy.sh".into();
        }
        let topic = url.path.join("/");
        if topic.is_empty() {
            return Err("has no topic: write ntfy://[user:password@]host/topic".into());
        }
        let q = &mut url.query;
        let scheme = match q.take(&["scheme"]).as_deref().map(str::to_ascii_lowercase) {
            None => "https".to_string(),
            Some(s) if s == "http" || s == "https" => s,
            Some(_) => return Err("the parameter scheme takes http or https".into()),
        };
        let priority = q.take(&["priority"]);
        if let Some(p) = &priority {
            let known = [
                "1", "2", "3", "4", "5", "min", "low", "default", "high", "max", "urgent",
            ];
            if !known.contains(&p.to_ascii_lowercase().as_str()) {
                return Err(
                    "the parameter priority takes 1 to 5 (or min, low, default, high, max)".into(),
                );
            }
        }
        let (title, tags) = (q.take(&["title"]), q.take(&["tags"]));
        let mut headers = Vec::new();
        for (key, header) in [
            (&["click"][..], "Click"),
            (&["icon"], "Icon"),
            (&["email"], "Email"),
            (&["delay", "at", "in"], "Delay"),
            (&["actions"], "Actions"),
            (&["attach"], "Attach"),
            (&["filename"], "Filename"),
        ] {
            if let Some(value) = q.take(key) {
                headers.push((header.to_string(), value));
            }
        }
        for (key, header) in [("cache", "Cache"), ("firebase", "Firebase")] {
            if q.flag(&[key])? == Some(false) {
                headers.push((header.to_string(), "no".to_string()));
            }
        }
        url.query.finish(NTFY_KEYS)?;
        let mut secrets = Vec::new();
        let auth = match url.password.as_deref() {
            Some(token) if url.user.is_empty() => Some(format!("Bearer {token}")),
            Some(password) => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{}:{password}", url.user))
            )),
            None => None,
        };
        secrets.extend(url.password.clone());
        secrets.extend(auth.clone());
        let host = url.authority();
        Ok((
            Ntfy {
                url: format!("{scheme}://{host}/{topic}"),
                auth,
                title,
                priority,
                tags,
                headers,
                secrets,
            },
            host,
        ))
    }

    pub fn request(&self, note: &Note, label: &str) -> Request {
        let (priority, tags) = if note.failed() {
            ("high", "warning")
        } else {
            ("default", "white_check_mark")
        };
        let mut r = Request::new("POST", self.url.clone(), label.to_string())
            .header(
                "Title",
                header_text(self.title.as_deref().unwrap_or(&note.title)),
            )
            .header("Priority", self.priority.as_deref().unwrap_or(priority))
            .header("Tags", header_text(self.tags.as_deref().unwrap_or(tags)));
        r.content_type = Some("text/plain; charset=utf-8".into());
        r.body = Some(note.body.clone());
        for (name, value) in &self.headers {
            r = r.header(name, header_text(value));
        }
        if let Some(auth) = &self.auth {
            r = r.header("Authorization", auth.clone());
        }
        for secret in &self.secrets {
            r = r.secret(secret.clone());
        }
        r
    }
}

/// A header value as ntfy reads it: plain ASCII as is, anything else RFC 2047-encoded.
fn header_text(value: &str) -> String {
    if value.chars().all(|c| c.is_ascii() && !c.is_ascii_control()) {
        return value.to_string();
    }
    format!(
        "=?UTF-8?B?{}?=",
        base64::engine::general_purpose::STANDARD.encode(value)
    )
}

/// A Gotify application.
#[derive(Clone)]
pub struct Gotify {
    url: String,
    token: String,
    title: Option<String>,
    priority: Option<u8>,
}

impl Gotify {
    /// `(gotify, host for logs)`.
    pub fn parse(mut url: Parts) -> Result<(Gotify, String), String> {
        if url.host.is_empty() {
            return Err("has no host: write gotify://host[:port][/path]/token".into());
        }
        let Some(token) = url.path.pop() else {
            return Err("has no application token: write gotify://host[:port][/path]/token".into());
        };
        let token_ok = token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !token_ok {
            return Err("has a token with characters a Gotify token never has".into());
        }
        let q = &mut url.query;
        let priority = match q.take(&["priority"]) {
            None => None,
            Some(p) => Some(
                p.parse::<u8>()
                    .ok()
                    .filter(|p| *p <= 10)
                    .ok_or("the parameter priority takes a number from 0 to 10")?,
            ),
        };
        let title = q.take(&["title"]);
        let scheme = if q.flag(&["disabletls"])? == Some(true) {
            "http"
        } else {
            "https"
        };
        url.query.finish(GOTIFY_KEYS)?;
        let host = url.authority();
        let path: String = url.path.iter().map(|p| format!("/{p}")).collect();
        Ok((
            Gotify {
                url: format!("{scheme}://{host}{path}/message"),
                token,
                title,
                priority,
            },
            host,
        ))
    }

    pub fn request(&self, note: &Note, label: &str) -> Request {
        let priority = self.priority.unwrap_or(if note.failed() { 8 } else { 2 });
        let body = json!({
            "title": self.title.as_deref().unwrap_or(&note.title),
            "message": note.body,
            "priority": priority,
        });
        // The token goes in a header, not the query, to keep it out of the server's access log.
        Request::json(self.url.clone(), label.to_string(), &body)
            .header("X-Gotify-Key", self.token.clone())
            .secret(self.token.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::state::RunStatus;
    use super::super::urls::Parts;
    use super::*;

    fn note(status: RunStatus) -> Note {
        Note {
            status,
            title: "db-backup: Backup of app on box FAILED".into(),
            body: "body".into(),
            series: "app".into(),
            host: "box".into(),
            engine: "postgres".into(),
            error: None,
            file: None,
            size: None,
            duration_s: 1.0,
        }
    }

    fn header<'a>(r: &'a Request, name: &str) -> Option<&'a str> {
        r.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn ntfy_urls() {
        let (n, host) = Ntfy::parse(
            Parts::parse("ntfy://:tk_abc@ntfy.example:8080/backups?scheme=http&tags=db").unwrap(),
        )
        .unwrap();
        assert_eq!(host, "ntfy.example:8080");
        let r = n.request(&note(RunStatus::Failure), "ntfy ntfy.example:8080");
        assert_eq!(r.url, "http://ntfy.example:8080/backups");
        assert_eq!(header(&r, "Authorization"), Some("Bearer tk_abc"));
        assert_eq!(header(&r, "Priority"), Some("high"));
        assert_eq!(header(&r, "Tags"), Some("db"));
        let (n, _) = Ntfy::parse(Parts::parse("ntfy://u:p@h/t").unwrap()).unwrap();
        let r = n.request(&note(RunStatus::Failure), "x");
        assert_eq!(header(&r, "Authorization"), Some("Basic dTpw"));
        let (n, host) =
            Ntfy::parse(Parts::parse("ntfy:///t?title=Über&cache=no").unwrap()).unwrap();
        assert_eq!(host, "ntfy.sh");
        let r = n.request(&note(RunStatus::Success), "x");
        assert_eq!(r.url, "https://ntfy.sh/t");
        assert_eq!(header(&r, "Authorization"), None);
        assert_eq!(header(&r, "Title"), Some("=?UTF-8?B?w5xiZXI=?="));
        assert_eq!(header(&r, "Cache"), Some("no"));
        assert_eq!(header(&r, "Priority"), Some("default"));
        for bad in [
            "ntfy://ntfy.sh",
            "ntfy://h/t?scheme=ftp",
            "ntfy://h/t?priority=9",
        ] {
            assert!(Ntfy::parse(Parts::parse(bad).unwrap()).is_err(), "{bad}");
        }
    }

    #[test]
    fn gotify_urls() {
        let (g, host) = Gotify::parse(
            Parts::parse(
                "gotify://push.example:8443/sub/path/AzyoeNS.D4iJLVa/?priority=5&disabletls=yes",
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(host, "push.example:8443");
        let r = g.request(&note(RunStatus::Failure), "gotify push.example:8443");
        assert_eq!(r.url, "http://push.example:8443/sub/path/message");
        assert_eq!(header(&r, "X-Gotify-Key"), Some("AzyoeNS.D4iJLVa"));
        let body: serde_json::Value = serde_json::from_str(r.body.as_deref().unwrap()).unwrap();
        assert_eq!(body["priority"], 5);
        for bad in [
            "gotify://push.example",
            "gotify:///AzyoeNS",
            "gotify://h/A?priority=11",
        ] {
            assert!(Gotify::parse(Parts::parse(bad).unwrap()).is_err(), "{bad}");
        }
    }
}
