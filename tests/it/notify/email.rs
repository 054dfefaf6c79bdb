//! `smtp://` URLs: a failure notice by email, over STARTTLS with a login (the certificate checked against a CA
//! the test makes, given as `SSL_CERT_FILE`), and to a plain relay without TLS.

use crate::support::certs::{Certs, OPENSSL};
use crate::support::files::backup_dir;
use crate::support::require_tools;
use crate::support::service::path_str;
use crate::support::smtp::{Mail, SmtpSink};

use super::{expect, service, stop};

/// The message with header folding and quoted-printable soft breaks undone.
fn readable(mail: &Mail) -> String {
    mail.data
        .replace("=\r\n", "")
        .replace("=3D", "=")
        .replace("\r\n ", " ")
}

#[test]
fn a_failure_is_mailed_over_starttls_and_to_a_plain_relay() {
    require_tools!(OPENSSL);
    let certs = Certs::new();
    let secure = SmtpSink::start(Some(&certs));
    let relay = SmtpSink::start(None);
    let dir = backup_dir();
    let urls = format!(
        "smtp://backup%40example.org:m4il-p4ss@localhost:{}/?from=backup@example.org&fromname=DB%20Backup\
         &to=ops@example.org,dba@example.org, \
         smtp://127.0.0.1:{}/?from=backup@example.org&to=ops@example.org&encryption=none&subject=backup%20alert",
        secure.port, relay.port
    );
    let running = service(&dir.path().join("missing.db"), dir.path())
        .env("NOTIFY_URLS", &urls)
        .env("SSL_CERT_FILE", path_str(&certs.ca()))
        .spawn(&["backup-service"]);
    expect(&running, "no email arrived", || {
        !secure.received().is_empty() && !relay.received().is_empty()
    });

    let mail = &secure.received()[0];
    assert!(mail.tls, "the message came before STARTTLS");
    assert_eq!(
        mail.auth,
        Some(("backup@example.org".into(), "m4il-p4ss".into()))
    );
    assert_eq!(mail.from, "<backup@example.org>");
    assert_eq!(mail.to, ["<ops@example.org>", "<dba@example.org>"]);
    let text = readable(mail);
    assert!(
        text.contains("From: \"DB Backup\" <backup@example.org>"),
        "{text}"
    );
    assert!(
        text.contains("Subject: db-backup: Backup of notifytest on ") && text.contains(" FAILED"),
        "{text}"
    );
    assert!(
        text.contains("missing.db") && text.contains("What to do:"),
        "{text}"
    );

    let plain = &relay.received()[0];
    assert!(!plain.tls && plain.auth.is_none(), "{plain:?}");
    assert!(
        readable(plain).contains("Subject: backup alert"),
        "{}",
        readable(plain)
    );

    let log = stop(running, &["m4il-p4ss"]);
    assert!(!log.contains("notification failed"), "{log}");
}

#[test]
fn an_untrusted_certificate_stops_the_email_not_the_backup() {
    require_tools!(OPENSSL);
    let certs = Certs::new();
    let sink = SmtpSink::start(Some(&certs));
    let dir = backup_dir();
    // No SSL_CERT_FILE: the test CA is unknown, so STARTTLS (required with a password) must fail.
    let running = service(&dir.path().join("missing.db"), dir.path())
        .env(
            "NOTIFY_URLS",
            &format!(
                "smtp://u:m4il-p4ss@localhost:{}/?from=a@example.org&to=b@example.org",
                sink.port
            ),
        )
        .spawn(&["backup-service"]);
    expect(&running, "the failed email was not logged", || {
        running.stderr_so_far().contains("notification failed")
    });
    assert!(sink.received().is_empty(), "{:?}", sink.received());
    let log = stop(running, &["m4il-p4ss"]);
    assert!(
        log.contains(&format!("smtp localhost:{}", sink.port)),
        "the failure names the server: {log}"
    );
}
