//! Temporary credentials from the providers clouds use (web identity through STS, container credentials,
//! EC2 instance metadata), each played by a local stand-in that hands out credentials moto's STS issued, so
//! that moto checks every signature and token; refreshed before they expire in the middle of an upload;
//! providers that refuse or are not there named in the error; no secret in the output. Against moto only: it
//! checks session tokens, which s3s-fs ignores.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;
use tempfile::TempDir;

use crate::support::files::backup_dir;
use crate::support::metadata::{IMDS_TOKEN, Issued, Role, StandIn, mint};
use crate::support::s3::{Faults, Kind, Proxy, S3Server, require_s3};
use crate::support::{DbBackup, Run};

/// The web identity token the tests hand the program: a secret.
const WEB_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.web-identity-secret-91c2";
/// The container authorization token: a secret.
const CONTAINER_TOKEN: &str = "container-auth-secret-5e77";

/// A SQLite database of `mib` MiB of random bytes (a backup of about that size) and the command that backs it up
/// to `bucket` at `endpoint` without keys.
fn keyless_backup(
    data: &TempDir,
    backups: &Path,
    mib: u32,
    endpoint: &str,
    bucket: &str,
) -> DbBackup {
    let db = data.path().join("app.db");
    let conn = Connection::open(&db).expect("create database");
    conn.execute_batch(&format!(
        "DROP TABLE IF EXISTS t; CREATE TABLE t (b BLOB); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {mib}) \
         INSERT INTO t SELECT randomblob(1048576) FROM c;"
    ))
    .expect("fill database");
    DbBackup::bare()
        .env("DB_TYPE", "sqlite")
        .env("DB_PATH", db.to_str().expect("UTF-8 temp path"))
        .env("DB_CONTAINER", "app")
        .env("BACKUP_DIR", backups.to_str().expect("UTF-8 temp path"))
        .env("TZ", "UTC")
        .env("LOG_LEVEL", "debug")
        .env("S3_ENDPOINT", endpoint)
        .env("S3_BACKUP_BUCKET", bucket)
        .env("S3_REGION", "us-east-1")
        .env("S3_RETRY_SECONDS", "2")
}

/// No secret of `issued`, nor the tokens the tests hand the program, in the output of `run`.
fn assert_no_secrets(run: &Run, issued: &[Issued]) {
    let output = run.all_output();
    let mut secrets = vec![WEB_TOKEN, CONTAINER_TOKEN, IMDS_TOKEN];
    for i in issued {
        secrets.extend([i.secret_key.as_str(), i.token.as_str()]);
    }
    for secret in secrets {
        assert!(!output.contains(secret), "a secret leaked:\n{run}");
    }
}

/// The backup and its checksum reached the bucket.
fn assert_uploaded(s3: &S3Server, bucket: &str) {
    let keys = s3.keys(bucket);
    assert!(
        keys.len() == 2 && keys[1] == format!("{}.sha256", keys[0]),
        "{keys:?}"
    );
}

#[test]
fn web_identity_exchanges_the_token_at_sts() {
    require_s3!(Kind::Moto);
    let s3 = S3Server::start();
    let roles = mint(&s3, 1);
    s3.bucket("web");
    let sts = StandIn::start(Role::Sts, roles.clone(), Duration::from_secs(3600));
    let (data, dir) = (TempDir::new().unwrap(), backup_dir());
    let token_file = data.path().join("token");
    std::fs::write(&token_file, format!("{WEB_TOKEN}\n")).unwrap();
    let cmd = keyless_backup(&data, dir.path(), 1, &s3.endpoint(), "web")
        .env("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/backup-role")
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.to_str().unwrap())
        .env("AWS_ROLE_SESSION_NAME", "nightly")
        .env("AWS_ENDPOINT_URL_STS", &sts.endpoint());
    let config = cmd.run(&["config"]);
    config.expect_success();
    assert!(
        config.stdout.contains(
            "credentials=web identity (AWS_ROLE_ARN=arn:aws:iam::123456789012:role/backup-role"
        ),
        "{config}"
    );
    let run = cmd.run(&["backup-db"]);
    run.expect_success();
    assert_uploaded(&s3, "web");
    assert_eq!(sts.fetches(), 1, "{run}");
    let request = &sts.requests()[0];
    for part in [
        "Action=AssumeRoleWithWebIdentity",
        "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fbackup-role",
        "RoleSessionName=nightly",
        &format!("WebIdentityToken={}", WEB_TOKEN),
    ] {
        assert!(request.contains(part), "{part} not in {request}");
    }
    assert!(
        !request.to_ascii_lowercase().contains("authorization:"),
        "AssumeRoleWithWebIdentity is not signed: {request}"
    );
    assert_no_secrets(&config, &roles);
    assert_no_secrets(&run, &roles);
}

/// Credentials that live 2 s are fetched again (1 s before they expire) while a 16 MiB backup is uploaded in
/// 5 MiB parts through a slowed proxy: the parts of one upload are signed with different keys, all accepted.
#[test]
fn container_credentials_are_refreshed_during_a_multipart_upload() {
    require_s3!(Kind::Moto);
    let s3 = S3Server::start();
    let roles = mint(&s3, 6);
    s3.bucket("long");
    let proxy = Proxy::start(
        s3.port(),
        Faults {
            delay: Duration::from_millis(3),
            ..Faults::default()
        },
    );
    let agent = StandIn::start(
        Role::Container {
            token: CONTAINER_TOKEN.to_string(),
        },
        roles.clone(),
        Duration::from_secs(2),
    );
    let (data, dir) = (TempDir::new().unwrap(), backup_dir());
    let token_file = data.path().join("auth");
    std::fs::write(&token_file, CONTAINER_TOKEN).unwrap();
    let cmd = keyless_backup(&data, dir.path(), 16, &proxy.endpoint(), "long")
        .env("S3_PART_SIZE", "5MiB")
        .env(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            &format!("{}/v2/credentials/task", agent.endpoint()),
        )
        .env(
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            token_file.to_str().unwrap(),
        );
    let run = cmd.run(&["backup-db"]);
    run.expect_success();
    assert_uploaded(&s3, "long");
    let keys_of_parts: BTreeSet<String> = proxy
        .request_heads()
        .iter()
        .filter(|h| h.lines().next().is_some_and(|l| l.contains("partNumber=")))
        .filter_map(|h| {
            let at = h.find("Credential=")? + "Credential=".len();
            Some(h[at..].split('/').next()?.to_string())
        })
        .collect();
    eprintln!(
        "{} credential fetches, parts signed with {} keys, in {:.1?}",
        agent.fetches(),
        keys_of_parts.len(),
        run.elapsed
    );
    assert!(agent.fetches() >= 2, "never refreshed:\n{run}");
    assert!(
        keys_of_parts.len() >= 2,
        "the parts were all signed with one key: {keys_of_parts:?}\n{run}"
    );
    assert!(
        agent
            .requests()
            .iter()
            .all(|r| r.contains(&format!("authorization: {CONTAINER_TOKEN}"))),
        "the authorization token was not sent"
    );
    assert_no_secrets(&run, &roles);
}

#[test]
fn instance_metadata_gives_the_role_credentials_with_a_session_token() {
    require_s3!(Kind::Moto);
    let s3 = S3Server::start();
    let roles = mint(&s3, 1);
    s3.bucket("ec2");
    let imds = StandIn::start(Role::Imds, roles.clone(), Duration::from_secs(3600));
    let (data, dir) = (TempDir::new().unwrap(), backup_dir());
    let cmd = keyless_backup(&data, dir.path(), 1, &s3.endpoint(), "ec2")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds.endpoint());
    let run = cmd.run(&["backup-db"]);
    run.expect_success();
    assert_uploaded(&s3, "ec2");
    assert_eq!(imds.fetches(), 1);
    let lines: Vec<String> = imds
        .requests()
        .iter()
        .map(|r| r.lines().next().unwrap_or_default().to_string())
        .collect();
    assert!(lines[0].starts_with("PUT /latest/api/token "), "{lines:?}");
    assert!(
        lines[2].starts_with("GET /latest/meta-data/iam/security-credentials/backup-role "),
        "{lines:?}"
    );
    assert_no_secrets(&run, &roles);
    // moto checks what it is given: a token its STS did not issue is refused, naming the provider.
    let forged: Vec<Issued> = roles
        .iter()
        .map(|r| Issued {
            token: "forged-token".to_string(),
            ..r.clone()
        })
        .collect();
    let imds = StandIn::start(Role::Imds, forged, Duration::from_secs(3600));
    let refused = cmd
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds.endpoint())
        .run(&["backup-db"]);
    refused
        .expect_code(1)
        .expect_stderr_mentions(&["InvalidToken", "EC2 instance metadata (IMDSv2"]);
    assert_no_secrets(&refused, &roles);
}

#[test]
fn a_refusing_provider_is_named_with_its_variables() {
    let (data, dir) = (TempDir::new().unwrap(), backup_dir());
    let token_file = data.path().join("token");
    std::fs::write(&token_file, WEB_TOKEN).unwrap();
    let cases = [
        (
            Role::Sts,
            &["web identity", "AWS_ROLE_ARN", "AccessDenied", "HTTP 403"][..],
        ),
        (
            Role::Container {
                token: CONTAINER_TOKEN.to_string(),
            },
            &[
                "container credentials",
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "HTTP 403",
            ][..],
        ),
        (
            Role::Imds,
            &[
                "IMDSv2",
                "no S3 credentials",
                "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                "HTTP 403",
            ][..],
        ),
    ];
    for (role, words) in cases {
        let stand_in = StandIn::refusing(role.clone());
        let cmd = keyless_backup(&data, dir.path(), 1, "http://127.0.0.1:1", "refused");
        let cmd = match role {
            Role::Sts => cmd
                .env("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/backup-role")
                .env("AWS_WEB_IDENTITY_TOKEN_FILE", token_file.to_str().unwrap())
                .env("AWS_ENDPOINT_URL_STS", &stand_in.endpoint()),
            Role::Container { .. } => cmd
                .env(
                    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                    &format!("{}/creds", stand_in.endpoint()),
                )
                .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", CONTAINER_TOKEN),
            Role::Imds => cmd.env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &stand_in.endpoint()),
        };
        let run = cmd.run(&["backup-db"]);
        run.expect_code(1).expect_stderr_mentions(words);
        assert!(!stand_in.requests().is_empty(), "{run}");
        assert!(run.elapsed < Duration::from_secs(15), "{run}");
        assert_no_secrets(&run, &[]);
    }
}

/// Nothing configured and no metadata service: a prompt error that lists what was looked for.
#[test]
fn without_any_credentials_the_error_names_what_was_tried() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let (data, dir) = (TempDir::new().unwrap(), backup_dir());
    let cmd = keyless_backup(&data, dir.path(), 1, "http://127.0.0.1:1", "none").env(
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        &format!("http://127.0.0.1:{closed}"),
    );
    let run = cmd.run(&["backup-db"]);
    run.expect_code(1).expect_stderr_mentions(&[
        "no S3 credentials",
        "S3_ACCESS_KEY",
        "AWS_ROLE_ARN",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "did not answer",
    ]);
    assert!(run.elapsed < Duration::from_secs(15), "{run}");
    let off = cmd
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .run(&["config"]);
    off.expect_code(2)
        .expect_stderr_mentions(&["S3_ACCESS_KEY", "AWS_EC2_METADATA_DISABLED"]);
}
