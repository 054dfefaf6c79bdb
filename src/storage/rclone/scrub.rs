//! Keeping secrets out of what rclone says: the values of secret options in rclone's config file and in
//! `RCLONE_*` variables (and a URL's password) are replaced by `[redacted]` before rclone's stderr reaches an
//! error or a log line.

use std::path::PathBuf;

/// What replaces a secret.
const REDACTED: &str = "[redacted]";

/// The words (between `_` in a variable's name, or in a config key) that make an option secret: `pass`,
/// `client_secret`, `token`, `key`, `sas_url`, `service_account_credentials`...
const SECRET_WORDS: &[&str] = &[
    "pass",
    "password",
    "password2",
    "passphrase",
    "secret",
    "token",
    "key",
    "pem",
    "sas",
    "credentials",
    "bearer",
    "cookie",
    "otp",
];

/// Values shorter than this are not hunted for: they would blank out ordinary words.
const SHORTEST: usize = 4;

/// Whether the option or variable `name` holds a secret.
fn is_secret_name(name: &str) -> bool {
    name.to_ascii_lowercase()
        .split(['_', '-', ' '])
        .any(|word| SECRET_WORDS.contains(&word))
}

/// The secret values rclone may be given: `RCLONE_*` variables with a secret word in their name (including
/// `RCLONE_CONFIG_PASS`, the config file's password), and the secret keys of the config file when it is plain
/// text.
pub fn secrets(env: &[(String, String)], config_file: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = env
        .iter()
        .filter(|(k, _)| k.starts_with("RCLONE_") && is_secret_name(k))
        .map(|(_, v)| v.trim().to_string())
        .collect();
    let home = env
        .iter()
        .find(|(k, _)| k == "HOME")
        .map(|(_, v)| v.as_str());
    let xdg = env
        .iter()
        .find(|(k, _)| k == "XDG_CONFIG_HOME")
        .map(|(_, v)| v.as_str());
    for path in config_paths(config_file, home, xdg) {
        if let Ok(text) = read_capped(&path) {
            out.extend(config_secrets(&text));
        }
    }
    // Flags and numbers (`key_use_agent = true`, a port) are not secrets, and would blank out ordinary words.
    out.retain(|v| {
        v.len() >= SHORTEST
            && !v.bytes().all(|b| b.is_ascii_digit())
            && !["true", "false", "yes", "no"].contains(&v.to_ascii_lowercase().as_str())
    });
    // Longest first, so that a secret that holds another is replaced whole.
    out.sort_by_key(|v| std::cmp::Reverse(v.len()));
    out.dedup();
    out
}

/// Where rclone looks for its config file: `RCLONE_CONFIG`, else its defaults.
fn config_paths(config_file: Option<&str>, home: Option<&str>, xdg: Option<&str>) -> Vec<PathBuf> {
    if let Some(file) = config_file {
        return vec![PathBuf::from(file)];
    }
    let mut out = Vec::new();
    if let Some(xdg) = xdg {
        out.push(PathBuf::from(xdg).join("rclone/rclone.conf"));
    }
    if let Some(home) = home {
        out.push(PathBuf::from(home).join(".config/rclone/rclone.conf"));
        out.push(PathBuf::from(home).join(".rclone.conf"));
    }
    out
}

fn read_capped(path: &PathBuf) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(4 << 20)
        .read_to_string(&mut text)?;
    Ok(text)
}

/// The values of the secret keys of an rclone config file (`key = value` lines).
fn config_secrets(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let (key, value) = line.split_once('=')?;
            let key = key.trim();
            (!key.starts_with(['#', ';', '[']) && is_secret_name(key))
                .then(|| value.trim().to_string())
        })
        .collect()
}

/// `text` with every secret replaced, and the password of any `scheme://user:password@host` too.
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for secret in secrets {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), REDACTED);
        }
    }
    scrub_url_passwords(&out)
}

/// Replaces the password part of URLs' user information.
fn scrub_url_passwords(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        let end = after
            .find(|c: char| c.is_whitespace() || matches!(c, '/' | '"' | '\'' | '>'))
            .unwrap_or(after.len());
        let authority = &after[..end];
        match authority.rfind('@') {
            Some(at) if authority[..at].contains(':') => {
                let colon = authority[..at].find(':').unwrap_or(at);
                out.push_str(&authority[..colon + 1]);
                out.push_str(REDACTED);
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn secret_variables_and_config_keys_are_scrubbed() {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("rclone.conf");
        std::fs::write(
            &conf,
            "[box]\ntype = sftp\nhost = example\npass = obscured-pw\nkey_pem = -----PEM-----\n\n[s3]\n\
             secret_access_key = s3cretkey\naccess_key_id = AKIDAKID\n",
        )
        .unwrap();
        let found = secrets(
            &env(&[
                ("RCLONE_CONFIG_X_PASS", "env-secret"),
                ("RCLONE_CONFIG_X_HOST", "example"),
                ("RCLONE_CONFIG_PASS", "config-password"),
                ("DB_PASSWORD", "not-rclones"),
                ("RCLONE_CONFIG_Y_PASS", "ab"),
                ("RCLONE_CONFIG_X_KEY_USE_AGENT", "true"),
            ]),
            conf.to_str(),
        );
        for want in [
            "env-secret",
            "config-password",
            "obscured-pw",
            "-----PEM-----",
            "s3cretkey",
            "AKIDAKID",
        ] {
            assert!(found.iter().any(|s| s == want), "{want} in {found:?}");
        }
        assert!(
            !found.iter().any(|s| s == "example" || s == "ab"),
            "{found:?}"
        );
        let said = scrub(
            "auth for u with env-secret failed at example; obscured-pw; http://u:hunter22@h:1/x",
            &found,
        );
        assert_eq!(
            said,
            "auth for u with [redacted] failed at example; [redacted]; http://u:[redacted]@h:1/x"
        );
    }

    #[test]
    fn urls_without_a_password_are_left_alone() {
        let text = "Propfind \"http://127.0.0.1:1/u/db\": dial tcp; sftp://user@host/x";
        assert_eq!(scrub(text, &[]), text);
    }
}
