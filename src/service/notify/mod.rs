//! Telling the outside world about runs: healthchecks.io-style pings, a JSON webhook, and messages for
//! people through the services of `NOTIFY_URLS` (ntfy, Gotify, Slack, Discord, Telegram, email, any webhook).
//!
//! Everything goes out from one worker thread, in order (a `/start` never arrives after its success ping),
//! with short timeouts and one retry. The service only queues a message: a slow or dead endpoint never delays
//! or fails a backup, and a full queue drops the message with a warning. URLs appear in logs only as scheme
//! and host (their paths hold tokens), and messages carry no secrets: no URL, no password, no configuration.
//!
//! - [`urls`]: `NOTIFY_URLS` split, parsed and checked at start; [`template`]: `NOTIFY_TEMPLATE`.
//! - [`message`]: what a message for people says; [`webhook`]: the pings and the JSON webhook.
//! - [`push`] (ntfy, Gotify), [`chat`] (Slack, Discord, Telegram), [`generic`]: HTTP services, sent by [`http`].
//! - [`smtp`]: email, with lettre.

pub mod chat;
pub mod generic;
pub mod http;
pub mod message;
pub mod push;
pub mod smtp;
pub mod template;
pub mod urls;
pub mod webhook;

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use self::http::Request;
use self::message::Note;
use self::urls::{NotifyUrl, Target};
use super::state::{DrillRun, RunRecord, RunStatus};
use crate::config::{Config, NotifyOn, Secret, redact_url};

pub use self::webhook::{ping_url, webhook_payload};

/// The wait before the one retry of a failed request.
const RETRY_DELAY: Duration = Duration::from_secs(2);
/// Messages waiting to be sent; more are dropped (an endpoint that slow is down anyway).
const QUEUE: usize = 32;

/// One thing the worker sends.
enum Job {
    Http(Request),
    Mail {
        mail: Box<smtp::Mail>,
        label: String,
    },
}

impl Job {
    fn label(&self) -> &str {
        match self {
            Job::Http(r) => &r.label,
            Job::Mail { label, .. } => label,
        }
    }

    fn send(&self, agent: &ureq::Agent) -> Result<(), String> {
        match self {
            Job::Http(r) => http::send(agent, r),
            Job::Mail { mail, .. } => mail.send(),
        }
    }
}

/// Queues pings, webhooks and messages for the worker thread.
pub struct Notifier {
    ping_url: Option<Secret>,
    webhook_url: Option<Secret>,
    urls: Vec<NotifyUrl>,
    notify_on: NotifyOn,
    /// What the messages say about the configuration: engine and series (no secrets).
    engine: String,
    series: String,
    tx: Option<SyncSender<Job>>,
    done: Option<Receiver<()>>,
    worker: Option<JoinHandle<()>>,
}

impl Notifier {
    /// Starts the worker when pings, a webhook or service URLs are configured.
    pub fn start(cfg: &Config) -> Notifier {
        let settings = &cfg.service;
        let mut notifier = Notifier {
            ping_url: settings.ping_url.clone(),
            webhook_url: settings.webhook_url.clone(),
            urls: settings.notify_urls.clone(),
            notify_on: settings.notify_on,
            engine: cfg.conn.kind.name().to_string(),
            series: webhook::configured_series(cfg),
            tx: None,
            done: None,
            worker: None,
        };
        if notifier.ping_url.is_none() && notifier.webhook_url.is_none() && notifier.urls.is_empty()
        {
            return notifier;
        }
        let (tx, rx) = mpsc::sync_channel::<Job>(QUEUE);
        let (done_tx, done_rx) = mpsc::sync_channel::<()>(1);
        let worker = std::thread::Builder::new()
            .name("notify".into())
            .spawn(move || {
                let agent = http::agent();
                for job in rx {
                    send_with_retry(&agent, &job);
                }
                let _ = done_tx.send(());
            });
        match worker {
            Ok(handle) => {
                notifier.tx = Some(tx);
                notifier.done = Some(done_rx);
                notifier.worker = Some(handle);
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot start the notification thread; pings and notifications are off")
            }
        }
        notifier
    }

    /// A run is starting: `<ping url>/start`.
    pub fn run_started(&self) {
        if let Some(url) = &self.ping_url {
            self.queue(Job::Http(webhook::ping(url.expose(), "/start", None)));
        }
    }

    /// A run finished: the success or failure ping, and the webhook and messages when `NOTIFY_ON` asks for
    /// them. A cancelled run (the service is stopping) sends nothing: it is neither, and a dead-man switch
    /// will notice.
    pub fn run_finished(&self, run: &RunRecord) {
        if let Some(url) = &self.ping_url {
            let url = url.expose();
            match run.status {
                RunStatus::Success => self.queue(Job::Http(webhook::ping(url, "", None))),
                RunStatus::Failure => {
                    self.queue(Job::Http(webhook::ping(url, "/fail", run.error.as_deref())))
                }
                RunStatus::Cancelled => {}
            }
        }
        let wanted = match run.status {
            RunStatus::Failure => true,
            RunStatus::Success => self.notify_on == NotifyOn::Always,
            RunStatus::Cancelled => false,
        };
        if !wanted {
            return;
        }
        let host = webhook::hostname();
        if let Some(url) = &self.webhook_url {
            let body = webhook_payload(run, &self.engine, &self.series, &host);
            self.queue(Job::Http(Request::json(
                url.expose().to_string(),
                format!("webhook {}", redact_url(url.expose())),
                &body,
            )));
        }
        if self.urls.is_empty() {
            return;
        }
        let note = Note::of(run, &self.engine, &self.series, &host);
        for url in &self.urls {
            for job in jobs(url, &note) {
                self.queue(job);
            }
        }
    }

    /// A restore drill of a new backup failed: told like a failed backup (the failure ping, the webhook with
    /// `"event": "drill"`, and a message to every service of `NOTIFY_URLS`).
    pub fn drill_failed(&self, drill: &DrillRun) {
        let message = format!(
            "the restore drill of {} failed: {}",
            drill.file, drill.summary
        );
        if let Some(url) = &self.ping_url {
            self.queue(Job::Http(webhook::ping(
                url.expose(),
                "/fail",
                Some(&message),
            )));
        }
        let host = webhook::hostname();
        if let Some(url) = &self.webhook_url {
            let text = format!("db-backup on {host}: {message}");
            let body = serde_json::json!({
                "status": "failure",
                "event": "drill",
                "host": host,
                "engine": self.engine,
                "series": self.series,
                "file": drill.file,
                "finished_at": drill.at,
                "error": drill.summary,
                "text": text,
                "content": text,
            });
            self.queue(Job::Http(Request::json(
                url.expose().to_string(),
                format!("webhook {}", redact_url(url.expose())),
                &body,
            )));
        }
        let note = Note::of_drill(drill, &self.engine, &self.series, &host);
        for url in &self.urls {
            for job in jobs(url, &note) {
                self.queue(job);
            }
        }
    }

    fn queue(&self, job: Job) {
        let Some(tx) = &self.tx else { return };
        match tx.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(j)) => {
                tracing::warn!(to = %j.label(), "notification dropped: too many are waiting to be sent")
            }
            Err(TrySendError::Disconnected(j)) => {
                tracing::warn!(to = %j.label(), "notification dropped: the notification thread has stopped")
            }
        }
    }

    /// Lets queued notifications go out for at most `timeout`, then gives up on them.
    pub fn close(mut self, timeout: Duration) {
        drop(self.tx.take());
        let Some(done) = self.done.take() else { return };
        match done.recv_timeout(timeout) {
            Ok(()) | Err(RecvTimeoutError::Disconnected) => {
                if let Some(worker) = self.worker.take() {
                    let _ = worker.join();
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                tracing::warn!("notifications still pending at exit were not sent");
            }
        }
    }
}

/// What to send to one service for `note`.
fn jobs(url: &NotifyUrl, note: &Note) -> Vec<Job> {
    let label = url.label.as_str();
    let http = |r: Request| vec![Job::Http(r)];
    match &url.target {
        Target::Ntfy(t) => http(t.request(note, label)),
        Target::Gotify(t) => http(t.request(note, label)),
        Target::Slack(t) => http(t.request(note, label)),
        Target::Discord(t) => http(t.request(note, label)),
        Target::Generic(t) => http(t.request(note, label)),
        Target::Telegram(t) => t.requests(note, label).into_iter().map(Job::Http).collect(),
        Target::Smtp(t) => match t.mail(note) {
            Ok(mail) => vec![Job::Mail {
                mail: Box::new(mail),
                label: label.to_string(),
            }],
            Err(e) => {
                tracing::warn!(to = %label, error = %e, "notification not sent (the backup is not affected)");
                Vec::new()
            }
        },
    }
}

fn send_with_retry(agent: &ureq::Agent, job: &Job) {
    let started = Instant::now();
    let result = match job.send(agent) {
        Ok(()) => Ok(()),
        Err(e) => {
            tracing::debug!(to = %job.label(), error = %e, "notification failed; retrying once");
            std::thread::sleep(RETRY_DELAY);
            job.send(agent)
        }
    };
    match result {
        Ok(()) => {
            tracing::debug!(to = %job.label(), ms = started.elapsed().as_millis() as u64, "notification sent")
        }
        Err(e) => {
            tracing::warn!(to = %job.label(), error = %e, "notification failed (the backup is not affected)")
        }
    }
}
