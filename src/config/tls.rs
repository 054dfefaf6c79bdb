//! The TLS settings of the network engines: `DB_SSLMODE` and the CA, certificate and key files, with libpq's
//! names (`PGSSLMODE`, `PGSSLROOTCERT`, `PGSSLCERT`, `PGSSLKEY`) accepted as aliases.

use std::path::PathBuf;

use super::raw::Raw;
use super::values::one_of;
use crate::error::ConfigError;

/// How much TLS a connection asks for, with libpq's meanings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain connections only.
    Disable,
    /// TLS when the server offers it, plain otherwise; the certificate is not checked.
    Prefer,
    /// TLS or no connection; the certificate is not checked (unless a CA file is given: then as `VerifyCa`).
    Require,
    /// TLS, and the server's certificate must chain to a trusted CA.
    VerifyCa,
    /// As `VerifyCa`, and the certificate must name the host connected to.
    VerifyFull,
}

impl SslMode {
    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// What is checked of the server's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// Nothing: the connection is encrypted, but not to a known server.
    Nothing,
    /// The chain up to a trusted CA, but not the host name.
    Chain,
    /// The chain and the host name.
    Full,
}

/// The validated TLS settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub mode: SslMode,
    /// The CA certificates (PEM) that server certificates must chain to; `None`: the system trust store.
    pub ca_file: Option<PathBuf>,
    /// A client certificate (PEM) and its key, for servers that ask for one.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
}

impl Default for TlsSettings {
    fn default() -> Self {
        TlsSettings {
            mode: SslMode::Prefer,
            ca_file: None,
            cert_file: None,
            key_file: None,
        }
    }
}

impl TlsSettings {
    /// What is checked of the server's certificate when TLS is used. As libpq does, `require` with a CA file
    /// checks the chain (as `verify-ca`).
    pub fn verify(&self) -> Verify {
        match self.mode {
            SslMode::Disable | SslMode::Prefer => Verify::Nothing,
            SslMode::Require if self.ca_file.is_none() => Verify::Nothing,
            SslMode::Require | SslMode::VerifyCa => Verify::Chain,
            SslMode::VerifyFull => Verify::Full,
        }
    }

    /// The files that are named, each with the variable that named it, for the check that they can be read.
    pub fn files(&self) -> Vec<(&'static str, &PathBuf)> {
        [
            ("DB_SSL_CA_FILE", &self.ca_file),
            ("DB_SSL_CERT_FILE", &self.cert_file),
            ("DB_SSL_KEY_FILE", &self.key_file),
        ]
        .into_iter()
        .filter_map(|(var, file)| file.as_ref().map(|f| (var, f)))
        .collect()
    }

    /// One line for `config`: the mode and where trust comes from.
    pub fn describe(&self) -> Vec<(&'static str, String)> {
        let show = |f: &Option<PathBuf>| {
            f.as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        };
        let ca = match (&self.ca_file, self.verify()) {
            (Some(p), _) => p.display().to_string(),
            (None, Verify::Nothing) => String::new(),
            (None, _) => "(the system trust store)".to_string(),
        };
        vec![
            ("DB_SSLMODE", self.mode.name().to_string()),
            ("DB_SSL_CA_FILE", ca),
            ("DB_SSL_CERT_FILE", show(&self.cert_file)),
            ("DB_SSL_KEY_FILE", show(&self.key_file)),
        ]
    }
}

/// Reads and checks the TLS settings (no I/O: whether the files can be read is checked before connecting).
pub fn validate(raw: &Raw) -> Result<TlsSettings, ConfigError> {
    let (mode_var, mode) = pick("DB_SSLMODE", &raw.db_sslmode, "PGSSLMODE", &raw.pgsslmode);
    let mode = match mode {
        None => SslMode::Prefer,
        Some(v) => one_of(
            mode_var,
            v,
            &[
                ("disable", SslMode::Disable),
                ("prefer", SslMode::Prefer),
                ("require", SslMode::Require),
                ("verify-ca", SslMode::VerifyCa),
                ("verify-full", SslMode::VerifyFull),
            ],
        )?,
    };
    let path = |var: &str, value: Option<&String>| -> Result<Option<PathBuf>, ConfigError> {
        match value {
            None => Ok(None),
            Some(v) if v.starts_with('/') => Ok(Some(PathBuf::from(v))),
            Some(v) => Err(ConfigError::new(
                var,
                format!("{v:?} must be an absolute path to a PEM file"),
            )),
        }
    };
    let (ca_var, ca) = pick(
        "DB_SSL_CA_FILE",
        &raw.db_ssl_ca_file,
        "PGSSLROOTCERT",
        &raw.pgsslrootcert,
    );
    let (cert_var, cert) = pick(
        "DB_SSL_CERT_FILE",
        &raw.db_ssl_cert_file,
        "PGSSLCERT",
        &raw.pgsslcert,
    );
    let (key_var, key) = pick(
        "DB_SSL_KEY_FILE",
        &raw.db_ssl_key_file,
        "PGSSLKEY",
        &raw.pgsslkey,
    );
    // libpq's PGSSLROOTCERT=system means the system trust store, which is what no CA file means here.
    let ca = ca.filter(|v| !(ca_var == "PGSSLROOTCERT" && v.as_str() == "system"));
    let settings = TlsSettings {
        mode,
        ca_file: path(ca_var, ca)?,
        cert_file: path(cert_var, cert)?,
        key_file: path(key_var, key)?,
    };
    match (&settings.cert_file, &settings.key_file) {
        (Some(_), None) => {
            return Err(ConfigError::new(
                key_var,
                format!("is required with {cert_var}: the private key of the client certificate"),
            ));
        }
        (None, Some(_)) => {
            return Err(ConfigError::new(
                cert_var,
                format!("is required with {key_var}: the client certificate the key belongs to"),
            ));
        }
        _ => {}
    }
    if mode == SslMode::Disable && settings.files().iter().any(|(v, _)| *v != "DB_SSL_CA_FILE") {
        return Err(ConfigError::new(
            mode_var,
            format!(
                "is disable but {cert_var} names a client certificate; a client certificate needs TLS: set \
                 {mode_var} to require, verify-ca or verify-full"
            ),
        ));
    }
    Ok(settings)
}

/// The value of `name`, else of its alias `alias`, with the variable it came from.
fn pick<'a>(
    name: &'static str,
    value: &'a Option<String>,
    alias: &'static str,
    alias_value: &'a Option<String>,
) -> (&'static str, Option<&'a String>) {
    match (value, alias_value) {
        (Some(v), _) => (name, Some(v)),
        (None, Some(v)) => (alias, Some(v)),
        (None, None) => (name, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> Raw {
        super::super::raw::from_pairs(pairs)
    }

    #[test]
    fn prefer_is_the_default_and_checks_nothing() {
        let tls = validate(&raw(&[])).unwrap();
        assert_eq!(tls.mode, SslMode::Prefer);
        assert_eq!(tls.verify(), Verify::Nothing);
    }

    #[test]
    fn a_bad_mode_names_the_variable_and_the_choices() {
        let err = validate(&raw(&[("DB_SSLMODE", "on")])).unwrap_err();
        assert_eq!(err.variable, "DB_SSLMODE");
        assert!(
            err.message
                .contains("disable, prefer, require, verify-ca, verify-full"),
            "{err}"
        );
        let err = validate(&raw(&[("PGSSLMODE", "strict")])).unwrap_err();
        assert_eq!(err.variable, "PGSSLMODE");
    }

    #[test]
    fn libpq_names_are_aliases_and_ours_win() {
        let tls = validate(&raw(&[
            ("PGSSLMODE", "verify-ca"),
            ("PGSSLROOTCERT", "/ca.pem"),
            ("PGSSLCERT", "/c.pem"),
            ("PGSSLKEY", "/k.pem"),
        ]))
        .unwrap();
        assert_eq!(tls.mode, SslMode::VerifyCa);
        assert_eq!(tls.ca_file, Some(PathBuf::from("/ca.pem")));
        assert_eq!(tls.key_file, Some(PathBuf::from("/k.pem")));
        let tls = validate(&raw(&[
            ("PGSSLMODE", "disable"),
            ("DB_SSLMODE", "verify-full"),
        ]))
        .unwrap();
        assert_eq!(tls.mode, SslMode::VerifyFull);
        assert_eq!(tls.verify(), Verify::Full);
    }

    #[test]
    fn require_with_a_ca_file_checks_the_chain_as_libpq_does() {
        let tls = validate(&raw(&[("DB_SSLMODE", "require")])).unwrap();
        assert_eq!(tls.verify(), Verify::Nothing);
        let tls = validate(&raw(&[
            ("DB_SSLMODE", "require"),
            ("DB_SSL_CA_FILE", "/ca.pem"),
        ]))
        .unwrap();
        assert_eq!(tls.verify(), Verify::Chain);
    }

    #[test]
    fn a_certificate_needs_its_key_and_tls() {
        let err = validate(&raw(&[("DB_SSL_CERT_FILE", "/c.pem")])).unwrap_err();
        assert_eq!(err.variable, "DB_SSL_KEY_FILE");
        let err = validate(&raw(&[("PGSSLKEY", "/k.pem")])).unwrap_err();
        assert_eq!(err.variable, "DB_SSL_CERT_FILE");
        let err = validate(&raw(&[
            ("DB_SSLMODE", "disable"),
            ("DB_SSL_CERT_FILE", "/c.pem"),
            ("DB_SSL_KEY_FILE", "/k.pem"),
        ]))
        .unwrap_err();
        assert_eq!(err.variable, "DB_SSLMODE");
        let err = validate(&raw(&[("DB_SSL_CA_FILE", "ca.pem")])).unwrap_err();
        assert_eq!(err.variable, "DB_SSL_CA_FILE");
    }

    #[test]
    fn without_a_ca_file_the_system_store_is_named() {
        let tls = validate(&raw(&[
            ("DB_SSLMODE", "verify-full"),
            ("PGSSLROOTCERT", "system"),
        ]))
        .unwrap();
        assert_eq!(tls.ca_file, None);
        let ca = tls.describe()[1].1.clone();
        assert_eq!(ca, "(the system trust store)");
    }
}
