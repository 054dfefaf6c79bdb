//! Email, as shoutrrr writes it: `smtp://[user:password@]host[:port]/?from=…&to=a@x,b@y`, sent with lettre's
//! blocking SMTP client over rustls.
//!
//! `encryption=auto` (the default) uses TLS from the start on port 465 and STARTTLS elsewhere: required when
//! the URL carries credentials (a password never crosses the network in the clear), taken when offered
//! otherwise. `encryption=explicittls` always requires STARTTLS, `implicittls` always uses TLS from the start,
//! and `none` (or `usestarttls=no`) sends in the clear, for a relay on the same host or network. Certificates
//! are checked against the system's trust store (`SSL_CERT_FILE` adds a private CA).

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{Address, Message, SmtpTransport, Transport};

use super::message::Note;
use super::urls::Parts;

/// How long one SMTP command may take.
const TIMEOUT: Duration = Duration::from_secs(10);
const KEYS: &str =
    "from, to, fromname, subject, encryption, usestarttls, auth, usehtml, clienthost";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    None,
    Opportunistic,
    StartTls,
    Implicit,
}

/// A mail server and the addresses to write to.
#[derive(Clone)]
pub struct Smtp {
    host: String,
    port: u16,
    credentials: Option<(String, String)>,
    mechanisms: Option<Vec<Mechanism>>,
    security: Security,
    from: Mailbox,
    to: Vec<Mailbox>,
    subject: Option<String>,
    client_host: Option<String>,
}

/// One email ready to go.
pub struct Mail {
    smtp: Smtp,
    message: Message,
}

impl Smtp {
    pub fn parse(mut url: Parts) -> Result<(Smtp, String), String> {
        let shape =
            "write smtp://[user:password@]host[:port]/?from=sender@example.com&to=you@example.com";
        if url.host.is_empty() {
            return Err(format!("has no host: {shape}"));
        }
        let q = &mut url.query;
        let from: Address = q
            .take(&["fromaddress", "from"])
            .ok_or_else(|| format!("has no sender (from): {shape}"))?
            .parse()
            .map_err(|_| "the parameter from is not an email address".to_string())?;
        let from = Mailbox::new(q.take(&["fromname"]), from);
        let to = q
            .take(&["toaddresses", "to"])
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .enumerate()
            .map(|(i, a)| {
                a.parse::<Address>()
                    .map(|a| Mailbox::new(None, a))
                    .map_err(|_| format!("recipient {} (to) is not an email address", i + 1))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if to.is_empty() {
            return Err(format!("has no recipient (to): {shape}"));
        }
        let subject = q.take(&["subject", "title"]);
        let credentials = (!url.user.is_empty() || url.password.is_some())
            .then(|| (url.user.clone(), url.password.clone().unwrap_or_default()));
        let mechanisms = match q.take(&["auth"]).map(|a| a.to_ascii_lowercase()).as_deref() {
            None | Some("unknown") => None,
            Some("none") => Some(Vec::new()),
            Some("plain") => Some(vec![Mechanism::Plain]),
            Some("login") => Some(vec![Mechanism::Login]),
            Some("oauth2") => Some(vec![Mechanism::Xoauth2]),
            Some(_) => return Err(
                "the parameter auth takes plain, login, oauth2 or none (CRAM-MD5 is not supported)"
                    .into(),
            ),
        };
        let credentials = credentials.filter(|_| mechanisms.as_ref().is_none_or(|m| !m.is_empty()));
        let port = url.port.unwrap_or(25);
        let starttls = q.flag(&["usestarttls"])?.unwrap_or(true);
        let security = match q
            .take(&["encryption"])
            .map(|e| e.to_ascii_lowercase())
            .as_deref()
        {
            None | Some("auto") if port == 465 => Security::Implicit,
            None | Some("auto") if !starttls => Security::None,
            None | Some("auto") if credentials.is_some() => Security::StartTls,
            None | Some("auto") => Security::Opportunistic,
            Some("none") => Security::None,
            Some("explicittls") => Security::StartTls,
            Some("implicittls") => Security::Implicit,
            Some(_) => {
                return Err(
                    "the parameter encryption takes auto, explicittls, implicittls or none".into(),
                );
            }
        };
        if q.flag(&["usehtml"])? == Some(true) {
            return Err(
                "asks for HTML (usehtml=yes); db-backup sends plain text: remove usehtml".into(),
            );
        }
        let client_host = q.take(&["clienthost"]);
        url.query.finish(KEYS)?;
        let host = url
            .host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let label = format!("{}:{port}", url.host);
        Ok((
            Smtp {
                host,
                port,
                credentials,
                mechanisms,
                security,
                from,
                to,
                subject,
                client_host,
            },
            label,
        ))
    }

    /// The email for `note`.
    pub fn mail(&self, note: &Note) -> Result<Mail, String> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(self.subject.as_deref().unwrap_or(&note.title))
            .header(ContentType::TEXT_PLAIN);
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        let message = builder
            .body(note.body.clone())
            .map_err(|e| format!("cannot write the email: {e}"))?;
        Ok(Mail {
            smtp: self.clone(),
            message,
        })
    }
}

impl Mail {
    /// Connects, authenticates when the URL has credentials, and sends. The error never holds the password.
    pub fn send(&self) -> Result<(), String> {
        let smtp = &self.smtp;
        let scrub = |e: String| match &smtp.credentials {
            Some((_, password)) if !password.is_empty() => {
                e.replace(password.as_str(), "[redacted]")
            }
            _ => e,
        };
        let tls = || {
            TlsParameters::new(smtp.host.clone())
                .map_err(|e| format!("cannot set up TLS for {}: {e}", smtp.host))
        };
        let mut builder = SmtpTransport::builder_dangerous(smtp.host.as_str())
            .port(smtp.port)
            .timeout(Some(TIMEOUT))
            .tls(match smtp.security {
                Security::None => Tls::None,
                Security::Opportunistic => Tls::Opportunistic(tls()?),
                Security::StartTls => Tls::Required(tls()?),
                Security::Implicit => Tls::Wrapper(tls()?),
            });
        if let Some((user, password)) = &smtp.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
            if let Some(mechanisms) = &smtp.mechanisms {
                builder = builder.authentication(mechanisms.clone());
            }
        }
        if let Some(name) = &smtp.client_host {
            builder = builder.hello_name(ClientId::Domain(name.clone()));
        }
        builder
            .build()
            .send(&self.message)
            .map(drop)
            .map_err(|e| scrub(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<Smtp, String> {
        Smtp::parse(Parts::parse(url).unwrap()).map(|s| s.0)
    }

    #[test]
    fn encryption_follows_the_port_and_the_credentials() {
        let s = parse("smtp://mail.example:465/?from=a@x.org&to=b@y.org").unwrap();
        assert_eq!((s.security, s.port), (Security::Implicit, 465));
        let s = parse("smtp://u:p@mail.example:587/?from=a@x.org&to=b@y.org,c@y.org").unwrap();
        assert_eq!((s.security, s.to.len()), (Security::StartTls, 2));
        let s = parse("smtp://relay/?from=a@x.org&to=b@y.org").unwrap();
        assert_eq!((s.security, s.port), (Security::Opportunistic, 25));
        let s = parse("smtp://relay/?from=a@x.org&to=b@y.org&usestarttls=no").unwrap();
        assert_eq!(s.security, Security::None);
        let s = parse("smtp://u:p@relay:25/?from=a@x.org&to=b@y.org&encryption=None&auth=Plain")
            .unwrap();
        assert_eq!(s.security, Security::None);
        assert_eq!(s.mechanisms, Some(vec![Mechanism::Plain]));
    }

    #[test]
    fn bad_email_urls() {
        for bad in [
            "smtp:///?from=a@x.org&to=b@y.org",
            "smtp://h/?to=b@y.org",
            "smtp://h/?from=a@x.org",
            "smtp://h/?from=nope&to=b@y.org",
            "smtp://h/?from=a@x.org&to=b@y.org,nope",
            "smtp://h/?from=a@x.org&to=b@y.org&encryption=ssl",
            "smtp://h/?from=a@x.org&to=b@y.org&auth=crammd5",
            "smtp://h/?from=a@x.org&to=b@y.org&usehtml=yes",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
