//! How a destination's bucket is addressed: in the host name (virtual-hosted, `https://bucket.host/key`) or in
//! the path (`http://host/bucket/key`). Without `S3_FORCE_PATH_STYLE` the endpoint decides: a host that cannot
//! carry the bucket in its name (an IP address, `localhost`, a single label such as `minio`) gets path-style.

use std::net::Ipv4Addr;

use super::super::values::boolean;
use crate::error::ConfigError;

/// The style chosen, and why (for `config`).
pub(super) struct Addressing {
    pub path_style: bool,
    pub reason: String,
}

/// Chooses the style for `endpoint` (`http(s)://host[:port]`) from `<prefix>FORCE_PATH_STYLE` (`setting`).
pub(super) fn choose(
    prefix: &str,
    endpoint: &str,
    bucket: &str,
    setting: Option<&str>,
) -> Result<Addressing, ConfigError> {
    let var = format!("{prefix}FORCE_PATH_STYLE");
    let host = host(endpoint);
    let why = needs_path_style(host);
    let explicit = setting.map(|v| boolean(&var, v)).transpose()?;
    let (path_style, reason) = match (explicit, why) {
        (Some(true), _) => (true, format!("path-style ({var}=true)")),
        (Some(false), Some(why)) => {
            return Err(ConfigError::new(
                var.clone(),
                format!(
                    "is false, but the endpoint {endpoint} has {why} for a host, which cannot carry the bucket in \
                     its name (http://{bucket}.{host}/...); unset {var} or set it to true"
                ),
            ));
        }
        (Some(false), None) => (false, format!("virtual-hosted ({var}=false)")),
        (None, Some(why)) => (
            true,
            format!("path-style (chosen: the endpoint has {why} for a host; {var} is unset)"),
        ),
        (None, None) => (
            false,
            format!("virtual-hosted (the default; {var} is unset)"),
        ),
    };
    Ok(Addressing { path_style, reason })
}

/// The host of `http(s)://host[:port]`, without the port (an IPv6 address keeps its brackets).
fn host(endpoint: &str) -> &str {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, r)| r);
    if rest.starts_with('[') {
        return rest.find(']').map_or(rest, |end| &rest[..=end]);
    }
    rest.rsplit_once(':').map_or(rest, |(h, _)| h)
}

/// What about the host rules out virtual-hosted addressing, if anything.
fn needs_path_style(host: &str) -> Option<&'static str> {
    let inner = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
    if inner.is_some_and(|h| h.parse::<std::net::Ipv6Addr>().is_ok()) {
        Some("an IPv6 address")
    } else if host.parse::<Ipv4Addr>().is_ok() {
        Some("an IP address")
    } else if host.eq_ignore_ascii_case("localhost") {
        Some("localhost")
    } else if !host.trim_end_matches('.').contains('.') {
        Some("a single-label name")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_that_cannot_carry_a_bucket_are_told_apart() {
        let path = |endpoint: &str| needs_path_style(host(endpoint));
        assert_eq!(path("http://127.0.0.1:9000"), Some("an IP address"));
        assert_eq!(path("http://10.0.0.5"), Some("an IP address"));
        assert_eq!(path("http://[::1]:9000"), Some("an IPv6 address"));
        assert_eq!(path("http://[fd00::5]"), Some("an IPv6 address"));
        assert_eq!(path("http://localhost:9000"), Some("localhost"));
        assert_eq!(path("http://LOCALHOST"), Some("localhost"));
        assert_eq!(path("http://minio:9000"), Some("a single-label name"));
        assert_eq!(path("https://s3.eu-central-1.amazonaws.com"), None);
        assert_eq!(path("https://minio.example.com:9000"), None);
        assert_eq!(path("http://1.2.3.4.nip.io"), None);
    }

    #[test]
    fn the_setting_wins_but_false_is_refused_where_it_cannot_work() {
        let choose = |endpoint: &str, setting: Option<&str>| {
            choose("S3_", endpoint, "bucket", setting).map(|a| a.path_style)
        };
        assert!(choose("http://127.0.0.1:9000", None).unwrap());
        assert!(choose("http://minio:9000", None).unwrap());
        assert!(!choose("https://s3.amazonaws.com", None).unwrap());
        assert!(choose("https://s3.amazonaws.com", Some("true")).unwrap());
        assert!(!choose("https://s3.amazonaws.com", Some("false")).unwrap());
        let err = choose("http://minio:9000", Some("false")).unwrap_err();
        assert_eq!(err.variable, "S3_FORCE_PATH_STYLE");
        assert!(err.message.contains("single-label"), "{err}");
        let reason = super::choose("S3_2_", "http://[::1]:9000", "b", None)
            .unwrap()
            .reason;
        assert!(
            reason.contains("IPv6") && reason.contains("S3_2_FORCE_PATH_STYLE"),
            "{reason}"
        );
    }
}
