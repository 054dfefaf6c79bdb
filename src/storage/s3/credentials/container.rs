//! Container credentials (ECS tasks, EKS Pod Identity, and any agent that serves them the same way): a GET of
//! `AWS_CONTAINER_CREDENTIALS_FULL_URI` (or `_RELATIVE_URI` under 169.254.170.2) with the token of
//! `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (read at every fetch: it rotates) or
//! `AWS_CONTAINER_AUTHORIZATION_TOKEN` in the `Authorization` header, answered with JSON.

use super::{Credentials, Failed, JsonCredentials, http_failure};
use crate::config::Source;

pub(super) fn fetch(agent: &ureq::Agent, source: &Source) -> Result<Credentials, Failed> {
    let Source::Container {
        uri,
        uri_var,
        token,
        token_file,
    } = source
    else {
        unreachable!("container::fetch is called for container credentials only");
    };
    let what = format!("container credentials ({uri_var})");
    let token = match (token_file, token) {
        (Some(file), _) => {
            let text = std::fs::read_to_string(file).map_err(|e| {
                format!(
                    "{what}: cannot read {} (AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE): {e}; mount the token \
                     there or fix the path",
                    file.display()
                )
            })?;
            Some(text.trim().to_string())
        }
        (None, Some(token)) => Some(token.expose().trim().to_string()),
        (None, None) => None,
    };
    let mut request = agent.get(uri).header("accept", "application/json");
    if let Some(token) = &token {
        request = request.header("authorization", token);
    }
    let response = request.call().map_err(|e| {
        Failed::transient(format!(
            "{what}: {uri} cannot be reached ({}); check {uri_var}",
            http_failure(&e)
        ))
    })?;
    let status = response.status().as_u16();
    if status != 200 {
        let hint = if matches!(status, 401 | 403) {
            "; check AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or AWS_CONTAINER_AUTHORIZATION_TOKEN"
        } else {
            ""
        };
        return Err(Failed::maybe(
            status == 429 || status >= 500,
            format!(
                "{what}: {uri} refused to give credentials (HTTP {status}){hint}; check {uri_var}"
            ),
        ));
    }
    let body = response
        .into_body()
        .with_config()
        .limit(1024 * 1024)
        .read_to_string()
        .map_err(|e| format!("{what}: reading the answer of {uri}: {e}"))?;
    Ok(JsonCredentials::parse(&body, &what)?)
}
