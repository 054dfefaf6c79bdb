//! The HTTP services of `NOTIFY_URLS` against one local recorder: each gets the request its real API expects,
//! with a title and a body that say what failed and what to do, and no token reaches the log.

use crate::support::files::backup_dir;
use crate::support::service::{Received, Recorder};

use super::{create_db, expect, service, stop};

const SLACK_HOOK: &str = "T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX";
const TOKENS: &[&str] = &[
    "tk_s3cret",
    "AgotifyT0ken99",
    "XXXXXXXXXXXXXXXXXXXXXXXX",
    "d1sc0rdT0ken",
    "AAHtelegramT0ken",
    "g3neric",
];

fn one(recorder: &Recorder, path: &str) -> Received {
    let got = recorder.to(path);
    assert_eq!(got.len(), 1, "{path}: {:?}", recorder.received());
    got.into_iter().next().expect("one request")
}

#[test]
fn a_failed_run_reaches_every_http_service() {
    let dir = backup_dir();
    let recorder = Recorder::start();
    let base = recorder.url("");
    let authority = base.trim_start_matches("http://");
    let urls = [
        format!("ntfy://:tk_s3cret@{authority}/alerts?scheme=http&tags=db"),
        format!("gotify://{authority}/gotify/AgotifyT0ken99?disabletls=yes"),
        format!("slack://{SLACK_HOOK}?apiurl={base}/slack"),
        format!("discord://d1sc0rdT0ken@123456789?apiurl={base}/discord"),
        format!(
            "telegram://110201543:AAHtelegramT0ken@telegram?chats=@backups,-100123:7&apiurl={base}/tg"
        ),
        format!("generic+http://{authority}/hook?token=g3neric&template=json&$env=prod"),
        format!("generic://{authority}/tpl?disabletls=yes"),
    ];
    let running = service(&dir.path().join("missing.db"), dir.path())
        .env("NOTIFY_URLS", &urls.join(","))
        .env(
            "NOTIFY_TEMPLATE",
            r#"{"text": "{title}", "status": "{status}", "why": "{error}"}"#,
        )
        .spawn(&["backup-service"]);
    // Seven services, Telegram with two chats.
    expect(&running, "not every service was told", || {
        recorder.received().len() >= 8
    });

    let ntfy = one(&recorder, "/alerts");
    assert_eq!(ntfy.method, "POST");
    assert_eq!(ntfy.header("authorization"), Some("Bearer tk_s3cret"));
    assert_eq!(ntfy.header("priority"), Some("high"));
    assert_eq!(ntfy.header("tags"), Some("db"));
    let title = ntfy.header("title").expect("ntfy title").to_string();
    assert!(
        title.starts_with("db-backup: Backup of notifytest on ") && title.ends_with(" FAILED"),
        "{title}"
    );
    assert!(
        ntfy.body.contains("missing.db") && ntfy.body.contains("What to do:"),
        "the body says what failed and what to do: {}",
        ntfy.body
    );

    let gotify = one(&recorder, "/gotify/message");
    assert_eq!(gotify.header("x-gotify-key"), Some("AgotifyT0ken99"));
    let g = gotify.json();
    assert_eq!(
        (g["title"].as_str(), g["priority"].as_i64()),
        (Some(title.as_str()), Some(8))
    );
    assert!(
        g["message"]
            .as_str()
            .is_some_and(|m| m.contains("missing.db")),
        "{g}"
    );

    let slack = one(&recorder, &format!("/slack/services/{SLACK_HOOK}")).json();
    assert_eq!(slack["text"], title.as_str());
    assert_eq!(slack["attachments"][0]["color"], "danger");

    let discord = one(&recorder, "/discord/api/webhooks/123456789/d1sc0rdT0ken").json();
    assert_eq!(discord["embeds"][0]["title"], title.as_str());
    assert!(
        discord["embeds"][0]["description"]
            .as_str()
            .is_some_and(|d| d.contains("What to do:"))
    );

    let telegram = recorder.to("/tg/bot110201543:AAHtelegramT0ken/sendMessage");
    let chats: Vec<(String, Option<i64>)> = telegram
        .iter()
        .map(|r| {
            let v = r.json();
            assert_eq!(v["parse_mode"], "HTML");
            assert!(
                v["text"]
                    .as_str()
                    .is_some_and(|t| t.starts_with(&format!("<b>{title}</b>"))),
                "{v}"
            );
            (
                v["chat_id"].as_str().unwrap_or_default().to_string(),
                v["message_thread_id"].as_i64(),
            )
        })
        .collect();
    assert_eq!(
        chats,
        [
            ("@backups".to_string(), None),
            ("-100123".to_string(), Some(7))
        ]
    );

    let generic = one(&recorder, "/hook?token=g3neric");
    assert_eq!(generic.header("content-type"), Some("application/json"));
    let v = generic.json();
    assert_eq!(
        (v["status"].as_str(), v["series"].as_str()),
        (Some("failure"), Some("notifytest"))
    );
    assert_eq!(
        (v["title"].as_str(), v["env"].as_str()),
        (Some(title.as_str()), Some("prod"))
    );
    assert!(
        v["error"]
            .as_str()
            .is_some_and(|e| e.contains("missing.db")),
        "{v}"
    );

    let templated = one(&recorder, "/tpl").json();
    assert_eq!(
        (templated["text"].as_str(), templated["status"].as_str()),
        (Some(title.as_str()), Some("failure"))
    );
    assert!(
        templated["why"]
            .as_str()
            .is_some_and(|e| e.contains("DB_PATH")),
        "{templated}"
    );

    let log = stop(running, TOKENS);
    assert!(
        log.contains(&format!("ntfy {authority}")) && log.contains("discord 127.0.0.1"),
        "the start-up line names each service by scheme and host: {log}"
    );
    assert!(!log.contains("notification failed"), "{log}");
}

#[test]
fn a_success_is_told_only_with_notify_on_always() {
    let dir = backup_dir();
    let db = dir.path().join("app.db");
    create_db(&db);
    let backups = backup_dir();
    let recorder = Recorder::start();
    let authority = recorder.url("").trim_start_matches("http://").to_string();
    // From a secret file, one URL a line.
    let urls_file = dir.path().join("notify_urls");
    std::fs::write(
        &urls_file,
        format!("ntfy://{authority}/ok?scheme=http\ngeneric+http://{authority}/plain\n"),
    )
    .expect("write the URL file");
    let running = service(&db, backups.path())
        .env(
            "NOTIFY_URLS_FILE",
            crate::support::service::path_str(&urls_file),
        )
        .env("NOTIFY_ON", "always")
        .spawn(&["backup-service"]);
    expect(&running, "no success message", || {
        recorder.received().len() >= 2
    });
    let ntfy = one(&recorder, "/ok");
    assert_eq!(ntfy.header("priority"), Some("default"));
    assert_eq!(ntfy.header("authorization"), None);
    let title = ntfy.header("title").unwrap_or_default().to_string();
    assert!(title.ends_with(" succeeded"), "{title}");
    assert!(
        ntfy.body.contains("notifytest-") && ntfy.body.contains(" bytes"),
        "the body names the file and its size: {}",
        ntfy.body
    );
    let plain = one(&recorder, "/plain");
    assert_eq!(
        plain.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(plain.body, format!("{title}\n\n{}", ntfy.body));
    stop(running, &[]);

    // The same success with the default NOTIFY_ON=failure: nothing.
    let quiet = Recorder::start();
    let authority = quiet.url("").trim_start_matches("http://").to_string();
    let running = service(&db, backups.path())
        .env("NOTIFY_URLS", &format!("ntfy://{authority}/ok?scheme=http"))
        .spawn(&["backup-service"]);
    expect(&running, "the backup did not finish", || {
        running.stderr_so_far().contains("next backup at")
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(quiet.received().is_empty(), "{:?}", quiet.received());
    stop(running, &[]);
}
