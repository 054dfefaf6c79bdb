//! Where the first destination's credentials come from when no keys are set, in the standard AWS order: web
//! identity (`AWS_ROLE_ARN` + `AWS_WEB_IDENTITY_TOKEN_FILE`), container credentials
//! (`AWS_CONTAINER_CREDENTIALS_FULL_URI`/`_RELATIVE_URI`), then the EC2 instance metadata service (IMDSv2) unless
//! `AWS_EC2_METADATA_DISABLED=true`. The keys themselves come first (see `validate`); the fetching is in
//! `storage::s3::credentials`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::super::Secret;
use super::super::values::boolean;
use crate::error::ConfigError;

/// The host of the container credentials endpoint that `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` is under.
const CONTAINER_HOST: &str = "http://169.254.170.2";
/// The EC2 instance metadata service.
const IMDS_ENDPOINT: &str = "http://169.254.169.254";

/// A provider of temporary credentials.
#[derive(Debug, Clone)]
pub enum Source {
    /// STS `AssumeRoleWithWebIdentity` with the token in `token_file` (read again at every refresh).
    WebIdentity {
        role_arn: String,
        token_file: PathBuf,
        session_name: String,
        /// `https://sts.<region>.amazonaws.com`, or `AWS_ENDPOINT_URL_STS`.
        sts_endpoint: String,
    },
    /// A GET of `uri` with the authorization token, if any.
    Container {
        uri: String,
        /// Which variable named the URI, for messages.
        uri_var: &'static str,
        token: Option<Secret>,
        /// Read at every fetch: the token rotates.
        token_file: Option<PathBuf>,
    },
    /// IMDSv2: a session token, then the role's credentials.
    Imds { endpoint: String },
}

impl Source {
    /// What `config` and messages call it.
    pub fn describe(&self) -> String {
        match self {
            Source::WebIdentity {
                role_arn,
                sts_endpoint,
                ..
            } => format!(
                "web identity (AWS_ROLE_ARN={role_arn}, AWS_WEB_IDENTITY_TOKEN_FILE, STS at {sts_endpoint})"
            ),
            Source::Container { uri, uri_var, .. } => {
                format!("container credentials ({uri_var}: {uri})")
            }
            Source::Imds { endpoint } => format!("EC2 instance metadata (IMDSv2 at {endpoint})"),
        }
    }
}

/// The provider for the first destination when it has no keys; `region` is the destination's. `Err` when
/// none can be used (the message lists what was looked for).
pub(super) fn choose(vars: &BTreeMap<String, String>, region: &str) -> Result<Source, ConfigError> {
    let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    let role = get("AWS_ROLE_ARN");
    let token_file = get("AWS_WEB_IDENTITY_TOKEN_FILE");
    match (role, token_file) {
        (Some(role_arn), Some(file)) => {
            return Ok(Source::WebIdentity {
                role_arn: role_arn.to_string(),
                token_file: PathBuf::from(file),
                session_name: get("AWS_ROLE_SESSION_NAME")
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("db-backup-{}", chrono::Utc::now().timestamp())),
                sts_endpoint: sts_endpoint(vars, region)?,
            });
        }
        (Some(_), None) => {
            return Err(ConfigError::new(
                "AWS_WEB_IDENTITY_TOKEN_FILE",
                "is required with AWS_ROLE_ARN: the file holding the web identity token (on EKS it is set \
                 by the pod identity webhook)",
            ));
        }
        (None, Some(_)) => {
            return Err(ConfigError::new(
                "AWS_ROLE_ARN",
                "is required with AWS_WEB_IDENTITY_TOKEN_FILE: the role to assume",
            ));
        }
        (None, None) => {}
    }
    let uri = match (
        get("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
        get("AWS_CONTAINER_CREDENTIALS_FULL_URI"),
    ) {
        (Some(relative), _) => Some((
            format!("{CONTAINER_HOST}/{}", relative.trim_start_matches('/')),
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        )),
        (None, Some(full)) => Some((container_uri(full)?, "AWS_CONTAINER_CREDENTIALS_FULL_URI")),
        (None, None) => None,
    };
    if let Some((uri, uri_var)) = uri {
        return Ok(Source::Container {
            uri,
            uri_var,
            token: get("AWS_CONTAINER_AUTHORIZATION_TOKEN").map(Secret::new),
            token_file: get("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE").map(PathBuf::from),
        });
    }
    let disabled = match vars.get("AWS_EC2_METADATA_DISABLED") {
        Some(v) => boolean("AWS_EC2_METADATA_DISABLED", v)?,
        None => false,
    };
    if disabled {
        return Err(ConfigError::new(
            "S3_ACCESS_KEY",
            "is required for the first S3 destination: set S3_ACCESS_KEY and S3_SECRET_KEY (or \
             AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE, or \
             AWS_CONTAINER_CREDENTIALS_FULL_URI/_RELATIVE_URI (the instance metadata service is off: \
             AWS_EC2_METADATA_DISABLED=true)",
        ));
    }
    let endpoint = match get("AWS_EC2_METADATA_SERVICE_ENDPOINT") {
        Some(v) => http_url("AWS_EC2_METADATA_SERVICE_ENDPOINT", v)?,
        None => IMDS_ENDPOINT.to_string(),
    };
    Ok(Source::Imds { endpoint })
}

/// `AWS_ENDPOINT_URL_STS`, else `AWS_ENDPOINT_URL`, else the regional endpoint (the global one with
/// `AWS_STS_REGIONAL_ENDPOINTS=legacy`).
fn sts_endpoint(vars: &BTreeMap<String, String>, region: &str) -> Result<String, ConfigError> {
    for var in ["AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL"] {
        if let Some(v) = vars.get(var) {
            return http_url(var, v);
        }
    }
    match vars.get("AWS_STS_REGIONAL_ENDPOINTS").map(|v| v.trim()) {
        None | Some("regional") => Ok(format!("https://sts.{region}.amazonaws.com")),
        Some("legacy") => Ok("https://sts.amazonaws.com".to_string()),
        Some(other) => Err(ConfigError::new(
            "AWS_STS_REGIONAL_ENDPOINTS",
            format!("{other:?} is neither regional nor legacy"),
        )),
    }
}

/// An `http(s)://host[:port][/path]` URL without a trailing slash.
fn http_url(var: &str, value: &str) -> Result<String, ConfigError> {
    let v = value.trim().trim_end_matches('/');
    let rest = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') => Ok(v.to_string()),
        _ => Err(ConfigError::new(
            var,
            format!("{value:?} is not a URL: give http(s)://host[:port]"),
        )),
    }
}

/// A full container credentials URI: HTTPS anywhere, plain HTTP only to this machine or the container
/// agent's link-local addresses (as the AWS SDKs allow), since the answer holds secrets.
fn container_uri(value: &str) -> Result<String, ConfigError> {
    let var = "AWS_CONTAINER_CREDENTIALS_FULL_URI";
    let v = value.trim();
    if v.starts_with("https://") {
        return http_url(var, v).map(|_| v.to_string());
    }
    let Some(rest) = v.strip_prefix("http://") else {
        return Err(ConfigError::new(
            var,
            format!("{value:?} is not an http(s) URL"),
        ));
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    let allowed = host == "localhost"
        || host == "169.254.170.2"
        || host == "169.254.170.23"
        || host.eq_ignore_ascii_case("fd00:ec2::23")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !allowed {
        return Err(ConfigError::new(
            var,
            format!(
                "{value:?} is plain HTTP to another machine; credentials are fetched over plain HTTP only from \
                 a loopback address or 169.254.170.2/169.254.170.23: use https://"
            ),
        ));
    }
    Ok(v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_standard_order() {
        let all = [
            ("AWS_ROLE_ARN", "arn:aws:iam::1:role/r"),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/t"),
            ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/creds"),
        ];
        let web = choose(&vars(&all), "eu-west-1").unwrap();
        assert!(
            matches!(&web, Source::WebIdentity { sts_endpoint, .. } if sts_endpoint == "https://sts.eu-west-1.amazonaws.com"),
            "{web:?}"
        );
        let container = choose(&vars(&all[2..]), "eu-west-1").unwrap();
        assert!(
            matches!(&container, Source::Container { uri, .. } if uri == "http://169.254.170.2/v2/creds"),
            "{container:?}"
        );
        let imds = choose(&vars(&[]), "eu-west-1").unwrap();
        assert!(matches!(imds, Source::Imds { endpoint } if endpoint == IMDS_ENDPOINT));
        let off = choose(&vars(&[("AWS_EC2_METADATA_DISABLED", "true")]), "x").unwrap_err();
        assert!(
            off.to_string().contains("AWS_EC2_METADATA_DISABLED"),
            "{off}"
        );
    }

    #[test]
    fn endpoints_and_refusals() {
        let sts = |pairs: &[(&str, &str)]| {
            let mut all = vec![("AWS_ROLE_ARN", "r"), ("AWS_WEB_IDENTITY_TOKEN_FILE", "/t")];
            all.extend_from_slice(pairs);
            match choose(&vars(&all), "us-west-2") {
                Ok(Source::WebIdentity { sts_endpoint, .. }) => sts_endpoint,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(
            sts(&[("AWS_STS_REGIONAL_ENDPOINTS", "legacy")]),
            "https://sts.amazonaws.com"
        );
        assert_eq!(
            sts(&[("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:4566/")]),
            "http://127.0.0.1:4566"
        );
        assert!(choose(&vars(&[("AWS_ROLE_ARN", "r")]), "x").is_err());
        let full = |uri: &str| choose(&vars(&[("AWS_CONTAINER_CREDENTIALS_FULL_URI", uri)]), "x");
        assert!(full("http://127.0.0.1:8080/creds").is_ok());
        assert!(full("http://[::1]:8080/creds").is_ok());
        assert!(full("https://creds.example.com/x").is_ok());
        let plain = full("http://creds.example.com/x").unwrap_err();
        assert!(plain.to_string().contains("plain HTTP"), "{plain}");
    }
}
