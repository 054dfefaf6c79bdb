//! Tests of the S3 settings: groups, fallbacks, tokens and refusals.

use super::*;

#[derive(Debug)]
struct Copies {
    local: bool,
    remotes: Vec<S3Settings>,
}

/// The remotes and `BACKUP_LOCAL`, as the destinations part reads them.
fn validate(vars: &BTreeMap<String, String>, local: Option<&str>) -> Result<Copies, ConfigError> {
    let remotes = super::validate(vars)?;
    let local = super::super::destinations::local(local, &remotes)?;
    Ok(Copies { local, remotes })
}

fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn groups_and_fallbacks() {
    let d = validate(
        &vars(&[
            ("S3_BACKUP_BUCKET", "one"),
            ("AWS_ACCESS_KEY_ID", "ak"),
            ("AWS_SECRET_ACCESS_KEY", "sk"),
            ("AWS_REGION", "eu-west-1"),
            ("S3_PREFIX", "/backups/"),
            ("S3_2_BACKUP_BUCKET", "two"),
            ("S3_2_ENDPOINT", "http://127.0.0.1:9000/"),
            ("S3_2_ACCESS_KEY", "a2"),
            ("S3_2_SECRET_KEY", "s2"),
            ("S3_2_FORCE_PATH_STYLE", "true"),
        ]),
        Some("false"),
    )
    .unwrap();
    assert!(!d.local);
    assert_eq!(d.remotes.len(), 2);
    let (a, b) = (&d.remotes[0], &d.remotes[1]);
    assert_eq!((a.name.as_str(), a.prefix.as_str()), ("s3", "backups/"));
    assert_eq!(a.endpoint, "https://s3.eu-west-1.amazonaws.com");
    assert_eq!(a.access_key.expose(), "ak");
    assert_eq!(
        (b.name.as_str(), b.endpoint.as_str(), b.region.as_str()),
        ("s3_2", "http://127.0.0.1:9000", "us-east-1")
    );
    assert!(b.path_style);
    assert_eq!(b.part_size, DEFAULT_PART_SIZE);
}

#[test]
fn the_session_token_goes_with_its_key_pair() {
    let token = |pairs: &[(&str, &str)]| {
        let remotes = super::validate(&vars(pairs)).unwrap();
        remotes[0]
            .session_token
            .as_ref()
            .map(|t| t.expose().to_string())
    };
    let aws = [
        ("S3_BACKUP_BUCKET", "one"),
        ("AWS_ACCESS_KEY_ID", "ak"),
        ("AWS_SECRET_ACCESS_KEY", "sk"),
        ("AWS_SESSION_TOKEN", "tok"),
    ];
    assert_eq!(token(&aws).as_deref(), Some("tok"));
    let own = [
        aws.as_slice(),
        &[("S3_ACCESS_KEY", "a"), ("S3_SECRET_KEY", "s")],
    ]
    .concat();
    assert_eq!(token(&own), None);
    let own = [own.as_slice(), &[("S3_SESSION_TOKEN", "mine")]].concat();
    assert_eq!(token(&own).as_deref(), Some("mine"));
    let shown = format!("{:?}", super::validate(&vars(&own)).unwrap());
    assert!(!shown.contains("mine"), "{shown}");
}

#[test]
fn the_endpoint_falls_back_to_the_aws_names_in_their_order() {
    let endpoint = |pairs: &[(&str, &str)]| {
        let mut all = vec![
            ("S3_BACKUP_BUCKET", "one"),
            ("S3_ACCESS_KEY", "a"),
            ("S3_SECRET_KEY", "s"),
        ];
        all.extend_from_slice(pairs);
        super::validate(&vars(&all)).map(|r| r[0].endpoint.clone())
    };
    let general = ("AWS_ENDPOINT_URL", "http://minio:9000/");
    let s3 = ("AWS_ENDPOINT_URL_S3", "https://s3.example.com");
    let own = ("S3_ENDPOINT", "https://own.example.com");
    assert_eq!(endpoint(&[general]).unwrap(), "http://minio:9000");
    assert_eq!(endpoint(&[general, s3]).unwrap(), "https://s3.example.com");
    assert_eq!(
        endpoint(&[general, s3, own]).unwrap(),
        "https://own.example.com"
    );
    assert_eq!(endpoint(&[]).unwrap(), "https://s3.us-east-1.amazonaws.com");
    let err = endpoint(&[("AWS_ENDPOINT_URL", "minio")]).unwrap_err();
    assert_eq!(err.variable, "AWS_ENDPOINT_URL");
    // Numbered groups do not take it.
    let two = vars(&[
        ("S3_2_BACKUP_BUCKET", "two"),
        ("S3_2_ACCESS_KEY", "a"),
        ("S3_2_SECRET_KEY", "s"),
        general,
    ]);
    assert!(
        super::validate(&two).unwrap()[0]
            .endpoint
            .contains("amazonaws.com")
    );
}

#[test]
fn numbered_groups_do_not_take_the_aws_fallbacks() {
    let err = validate(
        &vars(&[
            ("S3_2_BACKUP_BUCKET", "two"),
            ("AWS_ACCESS_KEY_ID", "ak"),
            ("AWS_SECRET_ACCESS_KEY", "sk"),
        ]),
        None,
    )
    .unwrap_err();
    assert_eq!(err.variable, "S3_2_ACCESS_KEY");
}

#[test]
fn bad_values_name_their_variable() {
    let base = [("S3_ACCESS_KEY", "a"), ("S3_SECRET_KEY", "s")];
    let check = |extra: &[(&str, &str)], var: &str| {
        let mut all = base.to_vec();
        all.extend_from_slice(extra);
        let err = validate(&vars(&all), None).unwrap_err();
        assert_eq!(err.variable, var, "{err}");
    };
    check(&[("S3_BACKUP_BUCKET", "Bad_Bucket")], "S3_BACKUP_BUCKET");
    check(&[("S3_ENDPOINT", "minio:9000")], "S3_BACKUP_BUCKET");
    check(
        &[
            ("S3_BACKUP_BUCKET", "ok-bucket"),
            ("S3_ENDPOINT", "minio:9000"),
        ],
        "S3_ENDPOINT",
    );
    check(
        &[("S3_BACKUP_BUCKET", "ok-bucket"), ("S3_PREFIX", "a/../b")],
        "S3_PREFIX",
    );
    check(
        &[("S3_BACKUP_BUCKET", "ok-bucket"), ("S3_PART_SIZE", "1MiB")],
        "S3_PART_SIZE",
    );
    check(
        &[
            ("S3_BACKUP_BUCKET", "ok-bucket"),
            ("S3_REGION", "eu central!"),
        ],
        "S3_REGION",
    );
    check(
        &[("S3_BACKUP_BUCKET", "ok-bucket"), ("AWS_REGION", "a/b")],
        "AWS_REGION",
    );
    check(
        &[
            ("S3_BACKUP_BUCKET", "ok-bucket"),
            ("S3_ENDPOINT", "http://[::1]:9000"),
            ("S3_FORCE_PATH_STYLE", "false"),
        ],
        "S3_FORCE_PATH_STYLE",
    );
    let err = validate(&BTreeMap::new(), Some("false")).unwrap_err();
    assert_eq!(err.variable, "BACKUP_LOCAL");
}

#[test]
fn sizes_and_names() {
    assert_eq!(parse_size("X", "16MiB").unwrap(), 16 << 20);
    assert_eq!(parse_size("X", "5242880").unwrap(), 5 << 20);
    assert!(parse_size("X", "lots").is_err());
    assert!(is_known("S3_3_PREFIX"));
    assert!(!is_known("S3_BUCKET"));
    assert!(!is_known("S3_10_PREFIX"));
}
