//! Unit tests of the chat URLs and requests.

use super::super::super::state::RunStatus;
use super::*;

const HOOK: &str = "T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX";

fn note(status: RunStatus) -> Note {
    Note {
        status,
        title: "db-backup: Backup of app on box FAILED".into(),
        body: "a <b> & c".into(),
        series: "app".into(),
        host: "box".into(),
        engine: "postgres".into(),
        error: None,
        file: None,
        size: None,
        duration_s: 1.0,
    }
}

fn parts(url: &str) -> Parts {
    Parts::parse(url).unwrap()
}

fn body(r: &Request) -> Value {
    serde_json::from_str(r.body.as_deref().unwrap()).unwrap()
}

#[test]
fn slack_webhooks_in_both_forms() {
    for url in [
        format!("slack://{HOOK}"),
        "slack://hook:T00000000-B00000000-XXXXXXXXXXXXXXXXXXXXXXXX@webhook".to_string(),
    ] {
        let (s, host) = Slack::parse(parts(&url)).unwrap();
        assert_eq!(host, "hooks.slack.com");
        let r = s.request(&note(RunStatus::Failure), "slack hooks.slack.com");
        assert_eq!(
            r.url,
            format!("https://hooks.slack.com/services/{HOOK}"),
            "{url}"
        );
        let b = body(&r);
        assert_eq!(b["text"], "db-backup: Backup of app on box FAILED");
        assert_eq!(b["attachments"][0]["color"], "danger");
        assert_eq!(r.reply, Reply::Any);
    }
    let (s, _) = Slack::parse(parts(&format!(
        "slack://Bot@{HOOK}?color=%23ff8000&apiurl=http://127.0.0.1:9/"
    )))
    .unwrap();
    let r = s.request(&note(RunStatus::Success), "x");
    assert_eq!(r.url, format!("http://127.0.0.1:9/services/{HOOK}"));
    assert_eq!(body(&r)["username"], "Bot");
    assert_eq!(body(&r)["attachments"][0]["color"], "#ff8000");
}

#[test]
fn slack_bot_tokens_post_to_the_api() {
    let (s, host) = Slack::parse(parts(
        "slack://xoxb:123456789012-1234567890123-4mt0t4l1YL3g1T5L4cK70k3N@C001CH4NN3L",
    ))
    .unwrap();
    assert_eq!(host, "slack.com");
    let r = s.request(&note(RunStatus::Failure), "slack slack.com");
    assert_eq!(r.url, "https://slack.com/api/chat.postMessage");
    assert_eq!(body(&r)["channel"], "C001CH4NN3L");
    assert_eq!(r.reply, Reply::JsonOk);
    assert!(r.headers.contains(&(
        "Authorization".into(),
        "Bearer xoxb-123456789012-1234567890123-4mt0t4l1YL3g1T5L4cK70k3N".into()
    )));
    for bad in [
        "slack://webhook",
        "slack://T0/B0/X0",
        "slack://xoxb:123456789012-1234567890123-4mt0t4l1YL3g1T5L4cK70k3N@webhook",
    ] {
        assert!(Slack::parse(parts(bad)).is_err(), "{bad}");
    }
}

#[test]
fn discord_webhooks() {
    let (d, host) = Discord::parse(parts(
        "discord://W3dE2OZz4C13_4z@693853386302554172?username=db&color=0x00ff00&thread_id=42",
    ))
    .unwrap();
    assert_eq!(host, "discord.com");
    let r = d.request(&note(RunStatus::Success), "discord discord.com");
    assert_eq!(
        r.url,
        "https://discord.com/api/webhooks/693853386302554172/W3dE2OZz4C13_4z?thread_id=42"
    );
    let b = body(&r);
    assert_eq!(b["embeds"][0]["color"], 0x00ff00);
    assert_eq!(b["username"], "db");
    let r = d.request(&note(RunStatus::Failure), "x");
    assert_eq!(body(&r)["embeds"][0]["color"], 0xd60510);
    for bad in [
        "discord://693853386302554172",
        "discord://t@1/raw",
        "discord://t@1?color=red",
    ] {
        assert!(Discord::parse(parts(bad)).is_err(), "{bad}");
    }
}

#[test]
fn telegram_sends_one_message_per_chat() {
    let (t, host) = Telegram::parse(parts(
        "telegram://110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw@telegram?chats=@backups,-1001234:7&notification=no",
    ))
    .unwrap();
    assert_eq!(host, "api.telegram.org");
    let rs = t.requests(&note(RunStatus::Failure), "telegram api.telegram.org");
    assert_eq!(rs.len(), 2);
    assert_eq!(
        rs[0].url,
        "https://api.telegram.org/bot110201543:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/sendMessage"
    );
    let (a, b) = (body(&rs[0]), body(&rs[1]));
    assert_eq!(a["chat_id"], "@backups");
    assert_eq!(
        (b["chat_id"].as_str(), b["message_thread_id"].as_i64()),
        (Some("-1001234"), Some(7))
    );
    assert_eq!(a["disable_notification"], true);
    assert_eq!(
        a["text"],
        "<b>db-backup: Backup of app on box FAILED</b>\n\na &lt;b&gt; &amp; c"
    );
    assert_eq!(rs[0].reply, Reply::JsonOk);
    for bad in [
        "telegram://110201543:AAH@telegram",
        "telegram://bot:AAH@telegram?chats=1",
        "telegram://110201543@telegram?chats=1",
    ] {
        assert!(Telegram::parse(parts(bad)).is_err(), "{bad}");
    }
}
