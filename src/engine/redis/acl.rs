//! What a refused command needs: the server's `NOPERM` answer turned into the `ACL SETUSER` rule that would
//! allow it, so that a message names the missing permission instead of guessing at another cause.

use redis::RedisError;

/// The `ACL SETUSER <user> <rule>` that would let `user` do what `e` refused, when `e` is a `NOPERM` error
/// that names a command (`+select`, `+function|restore`) or a key (`~*`); `None` for any other error.
pub fn missing_rule(e: &RedisError, user: &str) -> Option<String> {
    if e.code() != Some("NOPERM") {
        return None;
    }
    let user = if user.is_empty() { "default" } else { user };
    let detail = e.detail().unwrap_or_default();
    let rule = rule_for(detail)?;
    Some(format!("ACL SETUSER {user} {rule}"))
}

/// `this user has no permissions to run the 'select' command` gives `+select`; a refused key or channel gives
/// `~*` or `&*`.
fn rule_for(detail: &str) -> Option<String> {
    if let Some(rest) = detail.split("to run the '").nth(1) {
        let command = rest.split('\'').next()?;
        return (!command.is_empty()).then(|| format!("+{}", command.to_ascii_lowercase()));
    }
    if detail.contains("one of the keys") {
        return Some("~*".into());
    }
    if detail.contains("one of the channels") {
        return Some("&*".into());
    }
    None
}

/// Whether `e` says the logical database does not exist on this server (`SELECT` beyond `databases`).
pub fn is_database_out_of_range(e: &RedisError) -> bool {
    e.detail()
        .or_else(|| e.code())
        .is_some_and(|d| d.contains("out of range"))
        || e.to_string().contains("DB index is out of range")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_commands_and_keys_give_their_rule() {
        assert_eq!(
            rule_for("this user has no permissions to run the 'select' command").as_deref(),
            Some("+select")
        );
        assert_eq!(
            rule_for("this user has no permissions to run the 'function|restore' command")
                .as_deref(),
            Some("+function|restore")
        );
        assert_eq!(
            rule_for("this user has no permissions to access one of the keys used as arguments")
                .as_deref(),
            Some("~*")
        );
        assert_eq!(rule_for("something else"), None);
    }
}
