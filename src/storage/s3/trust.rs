//! Which certificate authorities an S3 destination trusts: the built-in Mozilla roots, or, with a CA bundle
//! (`S3_CA_FILE`, or `AWS_CA_BUNDLE`) for a private CA, the system trust store plus that bundle. The same
//! trust is used for the credential providers (STS behind the same private CA).

use std::sync::Arc;

use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

use crate::config::S3Settings;

/// The TLS configuration for the destination's requests.
pub fn tls_config(settings: &S3Settings) -> TlsConfig {
    let builder = TlsConfig::builder();
    let Some(path) = &settings.ca_file else {
        return builder.build();
    };
    let mut roots: Vec<Certificate<'static>> = rustls_native_certs::load_native_certs()
        .certs
        .iter()
        .map(|c| Certificate::from_der(c.as_ref()).to_owned())
        .collect();
    // The file was checked when the settings were read; a file that has gone since is told here, and the
    // store's certificate will then not be trusted.
    match std::fs::read(path) {
        Ok(bytes) => {
            for item in ureq::tls::parse_pem(&bytes) {
                if let Ok(PemItem::Certificate(cert)) = item {
                    roots.push(cert);
                }
            }
        }
        Err(e) => tracing::error!(
            destination = %settings.name,
            file = %path.display(),
            error = %e,
            "cannot read the S3 CA bundle ({}CA_FILE or AWS_CA_BUNDLE)",
            settings.var_prefix
        ),
    }
    builder
        .root_certs(RootCerts::Specific(Arc::new(roots)))
        .build()
}
