//! Web identity (as EKS, GKE workload identity federation and other Kubernetes set it up): the token in
//! `AWS_WEB_IDENTITY_TOKEN_FILE`, read again at every fetch since it rotates, exchanged for the role
//! `AWS_ROLE_ARN`'s credentials by STS `AssumeRoleWithWebIdentity`, a call that is not signed.

use super::{Credentials, Failed, credentials, http_failure};
use crate::config::Source;
use crate::storage::s3::sign::uri_encode;
use crate::storage::s3::xml;

const WHAT: &str = "web identity (AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE)";

pub(super) fn fetch(agent: &ureq::Agent, source: &Source) -> Result<Credentials, Failed> {
    let Source::WebIdentity {
        role_arn,
        token_file,
        session_name,
        sts_endpoint,
    } = source
    else {
        unreachable!("web_identity::fetch is called for web identity only");
    };
    let token = std::fs::read_to_string(token_file).map_err(|e| {
        format!(
            "{WHAT}: cannot read the token file {} (AWS_WEB_IDENTITY_TOKEN_FILE): {e}; mount the projected \
             service account token there or fix the path",
            token_file.display()
        )
    })?;
    let token = token.trim();
    if token.is_empty() {
        return Err(format!(
            "{WHAT}: the token file {} (AWS_WEB_IDENTITY_TOKEN_FILE) is empty",
            token_file.display()
        )
        .into());
    }
    let form: String = [
        ("Action", "AssumeRoleWithWebIdentity"),
        ("Version", "2011-06-15"),
        ("RoleArn", role_arn.as_str()),
        ("RoleSessionName", session_name.as_str()),
        ("WebIdentityToken", token),
    ]
    .iter()
    .map(|(k, v)| format!("{k}={}", uri_encode(v, true)))
    .collect::<Vec<_>>()
    .join("&");
    let url = format!("{sts_endpoint}/");
    let response = agent
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "application/xml")
        .send(form.as_bytes())
        .map_err(|e| {
            Failed::transient(format!(
                "{WHAT}: STS at {sts_endpoint} cannot be reached ({}); check AWS_ENDPOINT_URL_STS or \
                 AWS_STS_REGIONAL_ENDPOINTS and the network",
                http_failure(&e)
            ))
        })?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .with_config()
        .limit(1024 * 1024)
        .read_to_string()
        .map_err(|e| format!("{WHAT}: reading STS's answer: {e}"))?;
    if status != 200 {
        let busy = status == 429 || status >= 500;
        let code = xml::value(&body, "Code").unwrap_or_default();
        let message = xml::value(&body, "Message").unwrap_or_default();
        return Err(Failed::maybe(
            busy,
            format!(
                "{WHAT}: STS at {sts_endpoint} refused to assume the role {role_arn} (HTTP {status} {code}{}{message}); \
             check AWS_ROLE_ARN and that the role trusts the identity provider of the token in \
             AWS_WEB_IDENTITY_TOKEN_FILE",
                if message.is_empty() { "" } else { ": " }
            ),
        ));
    }
    let block = xml::blocks(&body, "Credentials")
        .into_iter()
        .next()
        .ok_or_else(|| format!("{WHAT}: STS at {sts_endpoint} answered without credentials"))?;
    let field = |tag: &str| xml::value(block, tag).unwrap_or_default();
    Ok(credentials(
        field("AccessKeyId"),
        field("SecretAccessKey"),
        Some(field("SessionToken")),
        xml::value(block, "Expiration").as_deref(),
        WHAT,
    )?)
}
