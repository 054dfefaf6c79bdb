//! Chats: Slack (`slack://T…/B…/X…`, `slack://hook:T…-B…-X…@webhook` or `slack://xoxb:…@channel`), Discord
//! (`discord://token@webhook-id`) and Telegram (`telegram://bot-token@telegram?chats=…`), as shoutrrr writes
//! their URLs.
//!
//! Their APIs live at fixed HTTPS addresses. `?apiurl=` (db-backup's own parameter, not shoutrrr's) sends to
//! another base instead: a self-hosted Telegram Bot API server, a proxy, or a local stand-in in tests.

use serde_json::{Value, json};

use super::http::{Reply, Request};
use super::message::Note;
use super::urls::Parts;

const SLACK_KEYS: &str = "title, color, botname, icon, channel, thread_ts, apiurl";
const DISCORD_KEYS: &str =
    "title, username, avatar, color, colorerror, thread_id, splitlines, apiurl";
const TELEGRAM_KEYS: &str = "chats, title, notification, preview, parsemode, apiurl";

/// A Slack incoming webhook, or a bot token and a channel.
#[derive(Clone)]
pub struct Slack {
    /// `T…/B…/X…` for a webhook, `xoxb-…` for the API.
    token: String,
    api: bool,
    channel: Option<String>,
    base: Option<String>,
    fields: Vec<(&'static str, String)>,
    title: Option<String>,
    color: Option<String>,
}

impl Slack {
    pub fn parse(mut url: Parts) -> Result<(Slack, String), String> {
        let shape = "write slack://T…/B…/X… (the webhook URL's path), slack://hook:T…-B…-X…@webhook or \
                     slack://xoxb:token@channel";
        let (raw, mut channel, bot) = if url.path.is_empty() {
            let token = format!("{}:{}", url.user, url.password.clone().unwrap_or_default());
            let channel = (url.host != "webhook" && !url.host.is_empty()).then(|| url.host.clone());
            (token, channel, None)
        } else {
            let token = format!("{}/{}", url.host, url.path.join("/"));
            (
                token,
                None,
                (!url.user.is_empty()).then(|| url.user.clone()),
            )
        };
        let (kind, parts) =
            slack_token(&raw).ok_or_else(|| format!("has no Slack token: {shape}"))?;
        let api = kind != "hook";
        let q = &mut url.query;
        let mut fields = Vec::new();
        if let Some(name) = q.take(&["botname", "username"]).or(bot) {
            fields.push(("username", name));
        }
        if let Some(icon) = q.take(&["icon", "icon_emoji", "icon_url"]) {
            let key = if icon.starts_with("http://") || icon.starts_with("https://") {
                "icon_url"
            } else {
                "icon_emoji"
            };
            fields.push((key, icon));
        }
        if let Some(ts) = q.take(&["thread_ts"]) {
            fields.push(("thread_ts", ts));
        }
        channel = q.take(&["channel"]).or(channel);
        if api && channel.is_none() {
            return Err(format!("has a bot token but no channel: {shape}"));
        }
        let (title, color) = (q.take(&["title"]), q.take(&["color"]));
        let base = q.api_url()?;
        url.query.finish(SLACK_KEYS)?;
        let token = if api {
            format!("{kind}-{}", parts.join("-"))
        } else {
            parts.join("/")
        };
        let host = api_host(
            base.as_deref(),
            if api { "slack.com" } else { "hooks.slack.com" },
        );
        Ok((
            Slack {
                token,
                api,
                channel,
                base,
                fields,
                title,
                color,
            },
            host,
        ))
    }

    pub fn request(&self, note: &Note, label: &str) -> Request {
        let color = if note.failed() { "danger" } else { "good" };
        let mut body = json!({
            "text": self.title.as_deref().unwrap_or(&note.title),
            "attachments": [{
                "color": self.color.as_deref().unwrap_or(color),
                "text": note.body,
                "fallback": note.body,
            }],
        });
        for (key, value) in &self.fields {
            body[*key] = Value::String(value.clone());
        }
        if let Some(channel) = &self.channel {
            body["channel"] = Value::String(channel.clone());
        }
        if self.api {
            let base = self.base.as_deref().unwrap_or("https://slack.com");
            let mut r = Request::json(format!("{base}/api/chat.postMessage"), label.into(), &body)
                .header("Authorization", format!("Bearer {}", self.token))
                .secret(self.token.clone());
            r.reply = Reply::JsonOk;
            r
        } else {
            let base = self.base.as_deref().unwrap_or("https://hooks.slack.com");
            Request::json(
                format!("{base}/services/{}", self.token),
                label.into(),
                &body,
            )
            .secret(self.token.clone())
        }
    }
}

/// `(kind, [part1, part2, part3])` of a Slack token as shoutrrr reads it: an optional `xox?`/`hook` prefix, then
/// three parts (9+ capitals or digits, 9+ capitals or digits, 24+ letters or digits) split by one of `-/,`.
fn slack_token(raw: &str) -> Option<(String, Vec<String>)> {
    let (kind, rest) = match raw.get(..5) {
        Some(p) if p.starts_with("xox") && p.ends_with([':', '-']) => {
            (raw[..4].to_string(), &raw[5..])
        }
        Some(p) if p.starts_with("hook") && p.ends_with([':', '-']) => {
            ("hook".to_string(), &raw[5..])
        }
        _ => ("hook".to_string(), raw.strip_prefix(':').unwrap_or(raw)),
    };
    let sep = rest.chars().find(|c| matches!(c, '-' | '/' | ','))?;
    let parts: Vec<&str> = rest.split(sep).collect();
    let upper = |p: &str| {
        p.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    };
    let ok = parts.len() == 3
        && parts[0].len() >= 9
        && upper(parts[0])
        && parts[1].len() >= 9
        && upper(parts[1])
        && parts[2].len() >= 24
        && parts[2].chars().all(|c| c.is_ascii_alphanumeric());
    ok.then(|| (kind, parts.into_iter().map(String::from).collect()))
}

/// A Discord webhook.
#[derive(Clone)]
pub struct Discord {
    id: String,
    token: String,
    base: Option<String>,
    title: Option<String>,
    fields: Vec<(&'static str, String)>,
    color: u32,
    color_error: u32,
    thread: Option<String>,
}

impl Discord {
    pub fn parse(mut url: Parts) -> Result<(Discord, String), String> {
        let shape = "write discord://token@webhook-id (from https://discord.com/api/webhooks/webhook-id/token)";
        if url.host.is_empty() || url.user.is_empty() {
            return Err(format!("needs a token and a webhook id: {shape}"));
        }
        if !url.path.is_empty() {
            return Err(format!(
                "has a path, which db-backup does not use (no /raw): {shape}"
            ));
        }
        let q = &mut url.query;
        let color = |v: Option<String>, default: u32| -> Result<u32, String> {
            match v {
                None => Ok(default),
                Some(v) => {
                    u32::from_str_radix(v.trim_start_matches("0x").trim_start_matches('#'), 16)
                        .map_err(|_| {
                            "the parameters color and colorerror take a hex colour such as 0x50D9ff"
                                .into()
                        })
                }
            }
        };
        let mut fields = Vec::new();
        if let Some(name) = q.take(&["username"]) {
            fields.push(("username", name));
        }
        if let Some(avatar) = q.take(&["avatar", "avatarurl"]) {
            fields.push(("avatar_url", avatar));
        }
        let discord = Discord {
            id: url.host.clone(),
            token: url.user.clone(),
            title: q.take(&["title"]),
            color: color(q.take(&["color"]), 0x50d9ff)?,
            color_error: color(q.take(&["colorerror"]), 0xd60510)?,
            thread: q.take(&["thread_id"]),
            base: q.api_url()?,
            fields,
        };
        // One embed per message, coloured by its outcome: accepted for shoutrrr's URLs, nothing to split and
        // no warning, info or debug messages to colour.
        let _ = q.flag(&["splitlines"])?;
        for unused in ["colorwarn", "colorinfo", "colordebug"] {
            let _ = q.take(&[unused]);
        }
        url.query.finish(DISCORD_KEYS)?;
        let host = api_host(discord.base.as_deref(), "discord.com");
        Ok((discord, host))
    }

    pub fn request(&self, note: &Note, label: &str) -> Request {
        let mut body = json!({
            "embeds": [{
                "title": self.title.as_deref().unwrap_or(&note.title),
                "description": note.body,
                "color": if note.failed() { self.color_error } else { self.color },
            }],
        });
        for (key, value) in &self.fields {
            body[*key] = Value::String(value.clone());
        }
        let base = self.base.as_deref().unwrap_or("https://discord.com");
        let mut url = format!("{base}/api/webhooks/{}/{}", self.id, self.token);
        if let Some(thread) = &self.thread {
            url.push_str(&format!("?thread_id={thread}"));
        }
        Request::json(url, label.into(), &body).secret(self.token.clone())
    }
}

/// A Telegram bot and the chats it writes to.
#[derive(Clone)]
pub struct Telegram {
    token: String,
    chats: Vec<String>,
    base: Option<String>,
    title: Option<String>,
    notification: bool,
    preview: bool,
}

impl Telegram {
    pub fn parse(mut url: Parts) -> Result<(Telegram, String), String> {
        let shape = "write telegram://123456:bot-token@telegram?chats=@channel,-1001234567890";
        let password = url.password.clone().unwrap_or_default();
        let token_ok = !url.user.is_empty()
            && url.user.chars().all(|c| c.is_ascii_digit())
            && !password.is_empty()
            && password
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
        if !token_ok {
            return Err(format!(
                "has no bot token (digits, a colon, then letters and digits): {shape}"
            ));
        }
        let q = &mut url.query;
        let chats: Vec<String> = q
            .take(&["chats", "channels"])
            .unwrap_or_default()
            .split(',')
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect();
        if chats.is_empty() {
            return Err(format!("names no chat: {shape}"));
        }
        // Messages are always sent as HTML, escaped here; a parse mode in the URL changes nothing.
        let _ = q.take(&["parsemode"]);
        let telegram = Telegram {
            token: format!("{}:{password}", url.user),
            chats,
            title: q.take(&["title"]),
            notification: q.flag(&["notification"])?.unwrap_or(true),
            preview: q.flag(&["preview"])?.unwrap_or(true),
            base: q.api_url()?,
        };
        url.query.finish(TELEGRAM_KEYS)?;
        let host = api_host(telegram.base.as_deref(), "api.telegram.org");
        Ok((telegram, host))
    }

    /// One request per chat.
    pub fn requests(&self, note: &Note, label: &str) -> Vec<Request> {
        let text = format!(
            "<b>{}</b>\n\n{}",
            html(self.title.as_deref().unwrap_or(&note.title)),
            html(&note.body)
        );
        let base = self.base.as_deref().unwrap_or("https://api.telegram.org");
        self.chats
            .iter()
            .map(|chat| {
                let mut body = json!({
                    "text": text,
                    "parse_mode": "HTML",
                    "disable_notification": !self.notification,
                    "disable_web_page_preview": !self.preview,
                });
                match chat.rsplit_once(':') {
                    Some((id, thread)) if thread.parse::<i64>().is_ok() => {
                        body["chat_id"] = Value::String(id.into());
                        body["message_thread_id"] =
                            json!(thread.parse::<i64>().unwrap_or_default());
                    }
                    _ => body["chat_id"] = Value::String(chat.clone()),
                }
                let url = format!("{base}/bot{}/sendMessage", self.token);
                let mut r = Request::json(url, label.into(), &body).secret(self.token.clone());
                r.reply = Reply::JsonOk;
                r
            })
            .collect()
    }
}

/// The host (and port) of `base`, or `default`.
fn api_host(base: Option<&str>, default: &str) -> String {
    match base {
        Some(base) => base
            .split_once("://")
            .map_or(base, |(_, rest)| rest)
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string(),
        None => default.to_string(),
    }
}

fn html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
#[path = "chat_tests.rs"]
mod tests;
