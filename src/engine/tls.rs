//! TLS for the network engines: the rustls client configuration that `DB_SSLMODE` and the certificate files
//! ask for (shared by the PostgreSQL connection and the Redis replication link), the check that the named files
//! can be read, and the words for a failed handshake.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use crate::config::{TlsSettings, Verify};
use crate::error::{ConfigError, Error, Result};

/// The one crypto provider: installed as the process default for the libraries that ask rustls for it
/// (mysql_async, redis), and used directly here.
pub fn provider() -> Arc<CryptoProvider> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    // Already installed (by an earlier call) is fine.
    let _ = CryptoProvider::install_default((*provider).clone());
    provider
}

/// Checks that every file the TLS settings name can be read and holds what it should (certificates, a key).
/// A bad file is a bad setting, told before any connection.
pub fn check_files(tls: &TlsSettings) -> std::result::Result<(), ConfigError> {
    for (var, path) in tls.files() {
        let alias = match var {
            "DB_SSL_CA_FILE" => "PGSSLROOTCERT",
            "DB_SSL_CERT_FILE" => "PGSSLCERT",
            _ => "PGSSLKEY",
        };
        let bytes = std::fs::read(path).map_err(|e| {
            ConfigError::new(
                var,
                format!(
                    "(or {alias}) cannot read {}: {e}; mount the file there or fix the path",
                    path.display()
                ),
            )
        })?;
        let (ok, what) = if var == "DB_SSL_KEY_FILE" {
            (PrivateKeyDer::from_pem_slice(&bytes).is_ok(), "private key")
        } else {
            let first = CertificateDer::pem_slice_iter(&bytes).next();
            (first.is_some_and(|c| c.is_ok()), "certificate")
        };
        if !ok {
            return Err(ConfigError::new(
                var,
                format!(
                    "(or {alias}) {} holds no PEM {what}; give a PEM file (-----BEGIN ...-----)",
                    path.display()
                ),
            ));
        }
    }
    Ok(())
}

/// The trusted CAs: those of `DB_SSL_CA_FILE`, else the system trust store.
fn roots(tls: &TlsSettings) -> Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    match &tls.ca_file {
        Some(path) => {
            for cert in CertificateDer::pem_file_iter(path).map_err(|e| pem_error(path, e))? {
                let cert = cert.map_err(|e| pem_error(path, e))?;
                store.add(cert).map_err(|e| {
                    Error::Config(ConfigError::new(
                        "DB_SSL_CA_FILE",
                        format!(
                            "{} holds a certificate that cannot be used as a CA: {e}",
                            path.display()
                        ),
                    ))
                })?;
            }
        }
        None => {
            store.add_parsable_certificates(system_certs()?);
        }
    }
    Ok(store)
}

/// The certificates of the system trust store, used when `DB_SSL_CA_FILE` is not set; none is a bad setting.
pub fn system_certs() -> Result<Vec<CertificateDer<'static>>> {
    let found = rustls_native_certs::load_native_certs().certs;
    if found.is_empty() {
        return Err(Error::Config(ConfigError::new(
            "DB_SSL_CA_FILE",
            "is not set and the system trust store holds no certificates; give the CA that signed the server's \
             certificate (DB_SSL_CA_FILE), or install ca-certificates",
        )));
    }
    Ok(found)
}

fn pem_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Config(ConfigError::new(
        "DB_SSL_CA_FILE",
        format!("cannot read certificates from {}: {e}", path.display()),
    ))
}

/// The client configuration for a TLS connection that checks `verify` of the server's certificate and presents
/// the client certificate when one is configured.
pub fn client_config(tls: &TlsSettings, verify: Verify) -> Result<ClientConfig> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Other(format!("TLS cannot be set up: {e}")))?;
    let algorithms = provider.signature_verification_algorithms;
    let verifier: Arc<dyn ServerCertVerifier> = match verify {
        Verify::Nothing => Arc::new(NoCheck { algorithms }),
        Verify::Chain | Verify::Full => {
            let webpki =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots(tls)?), provider)
                    .build()
                    .map_err(|e| Error::Other(format!("TLS cannot be set up: {e}")))?;
            if verify == Verify::Full {
                webpki
            } else {
                Arc::new(ChainOnly { inner: webpki })
            }
        }
    };
    let builder = builder
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match (&tls.cert_file, &tls.key_file) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
                .map_err(|e| {
                    Error::Config(ConfigError::new(
                        "DB_SSL_CERT_FILE",
                        format!("cannot read the certificate {}: {e}", cert.display()),
                    ))
                })?;
            let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                Error::Config(ConfigError::new(
                    "DB_SSL_KEY_FILE",
                    format!("cannot read the key {}: {e}", key.display()),
                ))
            })?;
            builder.with_client_auth_cert(chain, key_der).map_err(|e| {
                Error::Config(ConfigError::new(
                    "DB_SSL_KEY_FILE",
                    format!("does not fit DB_SSL_CERT_FILE: {e}"),
                ))
            })?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(config)
}

/// `require` without a CA: the connection is encrypted, the certificate is not checked (the handshake's
/// signatures still are).
#[derive(Debug)]
struct NoCheck {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for NoCheck {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// `verify-ca`: the whole check but the host name.
#[derive(Debug)]
struct ChainOnly {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The rustls error somewhere in an error's chain (also inside an `io::Error` or an `Arc`, whose `source`
/// skips it).
pub fn find_rustls<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(e) = next {
        if let Some(r) = e.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            && let Some(r) = find_rustls(inner)
        {
            return Some(r);
        }
        // The redis crate keeps its causes behind an `Arc`, whose `source` skips them too.
        if let Some(shared) = e.downcast_ref::<Arc<dyn std::error::Error + Send + Sync>>() {
            let inner: &(dyn std::error::Error + 'static) = shared.as_ref();
            if let Some(r) = find_rustls(inner) {
                return Some(r);
            }
        }
        next = e.source();
    }
    None
}

/// What a failed TLS handshake means for the user, when the failure is about the certificates.
pub fn explain(e: &rustls::Error, host: &str) -> String {
    use rustls::AlertDescription;
    match e {
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        ) => format!(
            "TLS: the server's certificate is not valid for the host name {host} ({e}); DB_SSLMODE=verify-full \
             checks that the certificate names DB_HOST: connect by a name the certificate holds, or use \
             DB_SSLMODE=verify-ca"
        ),
        // A CA of the same name that did not sign it fails on the signature.
        rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer | CertificateError::BadSignature,
        ) => format!(
            "TLS: the server's certificate is not signed by a trusted CA ({e}); set DB_SSL_CA_FILE to the CA \
             that signed it (without it the system trust store is used)"
        ),
        rustls::Error::InvalidCertificate(_) => {
            format!("TLS: the server's certificate was refused: {e}")
        }
        rustls::Error::AlertReceived(
            AlertDescription::CertificateRequired
            | AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::HandshakeFailure,
        ) => format!(
            "TLS: the server refused the handshake ({e}); it may require a client certificate: set \
             DB_SSL_CERT_FILE and DB_SSL_KEY_FILE to one it trusts"
        ),
        _ => format!("TLS: the handshake failed: {e}"),
    }
}

/// Whether `host:port` answers a TLS ClientHello with a TLS handshake record, within `timeout`.
pub fn speaks_tls(host: &str, port: u16, timeout: Duration) -> bool {
    let Ok(config) = client_config(&TlsSettings::default(), Verify::Nothing) else {
        return false;
    };
    let name = ServerName::try_from(host.to_string())
        .unwrap_or_else(|_| ServerName::try_from("localhost").expect("a valid name"));
    let Ok(mut conn) = rustls::ClientConnection::new(Arc::new(config), name) else {
        return false;
    };
    let mut hello = Vec::new();
    if conn.write_tls(&mut hello).is_err() {
        return false;
    }
    let Some(addr) = (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
    else {
        return false;
    };
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, timeout) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(timeout));
    if stream.write_all(&hello).is_err() {
        return false;
    }
    let mut head = [0u8; 2];
    // A handshake record (22), TLS major version 3; an alert (21) is TLS too.
    stream.read_exact(&mut head).is_ok() && matches!(head, [22 | 21, 3])
}
