//! The EC2 instance metadata service, version 2: a session token (PUT), then the name of the instance's role
//! and its credentials (GET, with the token). Tried only when nothing else is configured; a machine that is not
//! an EC2 instance fails fast (a 1 s connect timeout), with an error naming everything that was looked for.

use super::{Credentials, Failed, JsonCredentials, http_failure};

const WHAT: &str = "EC2 instance metadata (IMDSv2)";
const ROLES: &str = "/latest/meta-data/iam/security-credentials/";

pub(super) fn fetch(agent: &ureq::Agent, endpoint: &str) -> Result<Credentials, Failed> {
    // The first call tells whether there is a metadata service at all: if not, say everything looked for.
    let nothing = |why: String| {
        format!(
            "no S3 credentials: neither S3_ACCESS_KEY/S3_SECRET_KEY (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) \
             nor AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE nor AWS_CONTAINER_CREDENTIALS_FULL_URI/_RELATIVE_URI \
             is set, and the {WHAT} at {endpoint} {why}; set one of them, or AWS_EC2_METADATA_SERVICE_ENDPOINT \
             if the metadata service is elsewhere"
        )
    };
    let refused = |step: &str, status: u16| {
        format!(
            "{WHAT} at {endpoint} (AWS_EC2_METADATA_SERVICE_ENDPOINT): {step} was refused (HTTP {status}); \
             {}",
            if status == 404 {
                "the instance has no IAM role attached: attach an instance profile"
            } else {
                "check the instance's metadata options (HttpTokens, HttpPutResponseHopLimit of 2 in a container)"
            }
        )
    };
    let read = |response: ureq::http::Response<ureq::Body>, step: &str| {
        response
            .into_body()
            .with_config()
            .limit(1024 * 1024)
            .read_to_string()
            .map_err(|e| format!("{WHAT} at {endpoint}: reading {step}: {e}"))
    };
    let response = agent
        .put(&format!("{endpoint}/latest/api/token"))
        .header("x-aws-ec2-metadata-token-ttl-seconds", "21600")
        .send_empty()
        .map_err(|e| nothing(format!("did not answer ({})", http_failure(&e))))?;
    if response.status() != 200 {
        return Err(nothing(format!(
            "gave no session token (HTTP {}; an EC2 instance in a container needs \
             HttpPutResponseHopLimit 2)",
            response.status()
        ))
        .into());
    }
    let token = read(response, "the session token")?;
    let token = token.trim();
    let get = |path: &str, step: &str| {
        let response = agent
            .get(&format!("{endpoint}{path}"))
            .header("x-aws-ec2-metadata-token", token)
            .call()
            .map_err(|e| format!("{WHAT} at {endpoint}: {step}: {}", http_failure(&e)))?;
        if response.status() != 200 {
            return Err(refused(step, response.status().as_u16()));
        }
        read(response, step)
    };
    let roles = get(ROLES, "the instance's role")?;
    let role = roles.lines().map(str::trim).find(|l| !l.is_empty()).ok_or_else(|| {
        format!("{WHAT} at {endpoint}: the instance has no IAM role attached: attach an instance profile")
    })?;
    let body = get(
        &format!(
            "{ROLES}{}",
            crate::storage::s3::sign::uri_encode(role, true)
        ),
        "the role's credentials",
    )?;
    Ok(JsonCredentials::parse(
        &body,
        &format!("{WHAT} at {endpoint}"),
    )?)
}
