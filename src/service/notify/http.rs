//! One HTTP request of a notification (a ping, the webhook, a chat or push message) and how it is sent: ureq
//! with short timeouts, the answer's status checked, and errors cleaned of the URL and of every token.

use std::time::Duration;

use crate::config::redact_url;

/// How long one request may take, connection included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The most of a refusal's body an error quotes.
const ERROR_BODY_MAX: usize = 300;

/// What a successful answer looks like, beyond a 2xx status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// Any 2xx.
    Any,
    /// A JSON object with `"ok": true` (the Slack and Telegram APIs answer 200 with `"ok": false`).
    JsonOk,
}

/// One request to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: &'static str,
    pub url: String,
    /// For logs: the URL without its token, and what the request is for.
    pub label: String,
    pub content_type: Option<String>,
    /// Extra headers (`Authorization`, ntfy's `Title`, a generic webhook's `@Header`).
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub reply: Reply,
    /// Tokens cut out of any error text, besides the URL itself.
    pub secrets: Vec<String>,
}

impl Request {
    /// A request with no headers, body or secrets.
    pub fn new(method: &'static str, url: String, label: String) -> Request {
        Request {
            method,
            url,
            label,
            content_type: None,
            headers: Vec::new(),
            body: None,
            reply: Reply::Any,
            secrets: Vec::new(),
        }
    }

    /// A JSON POST.
    pub fn json(url: String, label: String, body: &serde_json::Value) -> Request {
        Request {
            content_type: Some("application/json".into()),
            body: Some(body.to_string()),
            ..Request::new("POST", url, label)
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Request {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// Marks `secret` as a value no error may show.
    pub fn secret(mut self, secret: impl Into<String>) -> Request {
        let secret = secret.into();
        if !secret.is_empty() {
            self.secrets.push(secret);
        }
        self
    }

    /// `text` with the URL shown as scheme and host and every secret replaced.
    pub fn scrub(&self, text: &str) -> String {
        let mut text = text.replace(&self.url, &redact_url(&self.url));
        for secret in &self.secrets {
            text = text.replace(secret.as_str(), "[redacted]");
        }
        text
    }
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(REQUEST_TIMEOUT))
        .timeout_connect(Some(CONNECT_TIMEOUT))
        // The status is checked here, so that a refusal's reason (Telegram's "chat not found") is kept.
        .http_status_as_error(false)
        .user_agent(concat!("db-backup/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// Makes one request. The error never holds the URL or a token: ureq's messages can quote the URL, and a
/// service's answer could echo what it was sent.
pub fn send(agent: &ureq::Agent, request: &Request) -> Result<(), String> {
    send_raw(agent, request).map_err(|e| request.scrub(&e))
}

fn send_raw(agent: &ureq::Agent, request: &Request) -> Result<(), String> {
    let result = match request.method {
        "GET" => with_headers(agent.get(&request.url), request).call(),
        method => {
            let builder = match method {
                "PUT" => agent.put(&request.url),
                "PATCH" => agent.patch(&request.url),
                _ => agent.post(&request.url),
            };
            let builder = with_headers(builder, request);
            match &request.body {
                Some(body) => builder
                    .header(
                        "Content-Type",
                        request
                            .content_type
                            .as_deref()
                            .unwrap_or("application/octet-stream"),
                    )
                    .send(body.as_str()),
                None => builder.send_empty(),
            }
        }
    };
    let mut response = result.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_string()
        .unwrap_or_default();
    if !(200..300).contains(&status) {
        let reason: String = text.trim().chars().take(ERROR_BODY_MAX).collect();
        return Err(if reason.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status}: {reason}")
        });
    }
    match request.reply {
        Reply::Any => Ok(()),
        Reply::JsonOk => json_ok(&text),
    }
}

fn with_headers<B>(
    mut builder: ureq::RequestBuilder<B>,
    request: &Request,
) -> ureq::RequestBuilder<B> {
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder
}

/// `{"ok": true, ...}`, or the error the service gave.
fn json_ok(text: &str) -> Result<(), String> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|_| "the service's answer is not the JSON it sends on success".to_string())?;
    if value["ok"] == serde_json::Value::Bool(true) {
        return Ok(());
    }
    let reason = value["error"]
        .as_str()
        .or_else(|| value["description"].as_str())
        .unwrap_or("no reason given");
    Err(format!("the service refused the message: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_lose_the_url_and_the_tokens() {
        let r = Request::new(
            "POST",
            "https://api.example/bot123:abc/sendMessage".into(),
            "telegram api.example".into(),
        )
        .secret("123:abc");
        assert_eq!(
            r.scrub("posting https://api.example/bot123:abc/sendMessage failed, token 123:abc"),
            "posting https://api.example/[redacted] failed, token [redacted]"
        );
    }

    #[test]
    fn json_answers_are_read() {
        assert!(json_ok(r#"{"ok":true,"result":{}}"#).is_ok());
        let e = json_ok(r#"{"ok":false,"error":"channel_not_found"}"#).unwrap_err();
        assert!(e.contains("channel_not_found"), "{e}");
        let e = json_ok(r#"{"ok":false,"description":"Bad Request: chat not found"}"#).unwrap_err();
        assert!(e.contains("chat not found"), "{e}");
        assert!(json_ok("ok").is_err());
    }
}
