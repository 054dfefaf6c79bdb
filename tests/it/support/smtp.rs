//! A local SMTP server that accepts every message and remembers it: enough of SMTP for a real client (EHLO,
//! STARTTLS with a certificate from [`super::certs`], AUTH PLAIN and LOGIN, MAIL, RCPT, DATA, RSET, QUIT).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::certs::Certs;

/// A message the sink received.
#[derive(Debug, Clone, Default)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent (headers and body), dot-stuffing undone.
    pub data: String,
    /// Whether the message came over TLS (after STARTTLS).
    pub tls: bool,
    /// `(user, password)` of the AUTH before it.
    pub auth: Option<(String, String)>,
}

/// The sink; it runs until the test ends.
pub struct SmtpSink {
    pub port: u16,
    received: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpSink {
    /// A sink that offers STARTTLS with `certs`' server certificate (for `localhost`), or plain SMTP only.
    pub fn start(certs: Option<&Certs>) -> SmtpSink {
        let tls = certs.map(|c| {
            let chain = CertificateDer::pem_file_iter(c.server_cert())
                .expect("read the server certificate")
                .collect::<Result<Vec<_>, _>>()
                .expect("parse the server certificate");
            let key = PrivateKeyDer::from_pem_file(c.server_key()).expect("read the server key");
            let config = rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("server certificate");
            Arc::new(config)
        });
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the SMTP sink");
        let port = listener.local_addr().expect("sink address").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let mail = session(Conn::Plain(stream), tls.clone());
                sink.lock().expect("sink lock").extend(mail);
            }
        });
        SmtpSink { port, received }
    }

    pub fn received(&self) -> Vec<Mail> {
        self.received.lock().expect("sink lock").clone()
    }
}

enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
}

impl Conn {
    fn write_line(&mut self, line: &str) -> Option<()> {
        let bytes = format!("{line}\r\n");
        match self {
            Conn::Plain(s) => s.write_all(bytes.as_bytes()).ok(),
            Conn::Tls(s) => s.write_all(bytes.as_bytes()).and_then(|()| s.flush()).ok(),
        }
    }

    /// One line without its CRLF; `None` at the end of the connection.
    fn read_line(&mut self) -> Option<String> {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            let n = match self {
                Conn::Plain(s) => s.read(&mut byte).ok()?,
                Conn::Tls(s) => s.read(&mut byte).ok()?,
            };
            if n == 0 {
                return None;
            }
            if byte[0] == b'\n' {
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Some(String::from_utf8_lossy(&line).into_owned());
            }
            line.push(byte[0]);
        }
    }
}

fn decode(b64: &str) -> String {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Serves one connection; the messages it carried.
fn session(mut conn: Conn, tls: Option<Arc<rustls::ServerConfig>>) -> Vec<Mail> {
    let mut mails = Vec::new();
    let mut mail = Mail::default();
    let mut auth = None;
    if conn
        .write_line("220 localhost ESMTP db-backup test sink")
        .is_none()
    {
        return mails;
    }
    while let Some(line) = conn.read_line() {
        let upper = line.to_ascii_uppercase();
        let secure = matches!(conn, Conn::Tls(_));
        let reply = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            let mut lines = vec!["250-localhost".to_string()];
            if tls.is_some() && !secure {
                lines.push("250-STARTTLS".into());
            }
            if secure || tls.is_none() {
                lines.push("250-AUTH PLAIN LOGIN".into());
            }
            lines.push("250 8BITMIME".into());
            lines.join("\r\n")
        } else if upper == "STARTTLS" {
            let (Some(config), Conn::Plain(stream)) = (&tls, &conn) else {
                conn.write_line("502 no TLS here");
                continue;
            };
            let stream = stream.try_clone().expect("clone the stream");
            conn.write_line("220 go ahead");
            let server = rustls::ServerConnection::new(config.clone()).expect("TLS session");
            conn = Conn::Tls(Box::new(rustls::StreamOwned::new(server, stream)));
            continue;
        } else if let Some(rest) = upper.strip_prefix("AUTH PLAIN") {
            let b64 = if rest.trim().is_empty() {
                conn.write_line("334 ");
                conn.read_line().unwrap_or_default()
            } else {
                line[10..].trim().to_string()
            };
            let decoded = decode(&b64);
            let mut parts = decoded.split('\0').skip(1);
            auth = Some((
                parts.next().unwrap_or_default().to_string(),
                parts.next().unwrap_or_default().to_string(),
            ));
            "235 2.7.0 accepted".to_string()
        } else if upper.starts_with("AUTH LOGIN") {
            conn.write_line("334 VXNlcm5hbWU6");
            let user = decode(&conn.read_line().unwrap_or_default());
            conn.write_line("334 UGFzc3dvcmQ6");
            let password = decode(&conn.read_line().unwrap_or_default());
            auth = Some((user, password));
            "235 2.7.0 accepted".to_string()
        } else if upper.starts_with("MAIL FROM:") {
            mail = Mail {
                from: line[10..].trim().to_string(),
                tls: secure,
                auth: auth.clone(),
                ..Mail::default()
            };
            "250 2.1.0 ok".to_string()
        } else if upper.starts_with("RCPT TO:") {
            mail.to.push(line[8..].trim().to_string());
            "250 2.1.5 ok".to_string()
        } else if upper == "DATA" {
            conn.write_line("354 end with <CRLF>.<CRLF>");
            let mut data = String::new();
            while let Some(l) = conn.read_line() {
                if l == "." {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(&l));
                data.push_str("\r\n");
            }
            mail.data = data;
            mails.push(std::mem::take(&mut mail));
            "250 2.0.0 queued".to_string()
        } else if upper == "RSET" || upper == "NOOP" {
            "250 2.0.0 ok".to_string()
        } else if upper == "QUIT" {
            conn.write_line("221 2.0.0 bye");
            break;
        } else {
            "502 5.5.2 not implemented".to_string()
        };
        if conn.write_line(&reply).is_none() {
            break;
        }
    }
    mails
}
