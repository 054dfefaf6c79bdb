//! Detection by probe: when nothing in the configuration says which engine to use, the server at `DB_HOST` is
//! asked on each engine's standard port, in that engine's own protocol, and the one that answers decides. The
//! asking is the engines' (`engine::probe`); this is the pure part: whether to ask, whom, and what the answers
//! decide.

use super::EngineKind;
use crate::engine::facts;
use crate::engine::probe::Answer;
use crate::error::ConfigError;

/// The variables whose presence makes probing unnecessary: they name the engine or imply it (`DB_PATH`,
/// `BACKUP_CMD`: the variables engines need, see [`facts::Facts::needs`]).
pub fn deciding() -> Vec<&'static str> {
    let mut vars = vec!["DB_TYPE", "DB_PORT", "PGPORT"];
    vars.extend(facts::all().filter_map(|(_, f)| f.needs));
    vars
}

/// Whether the configuration leaves the engine to a probe (every deciding variable unset or empty).
pub fn needed(vars: &[(String, String)]) -> bool {
    let deciding = deciding();
    !vars
        .iter()
        .any(|(k, v)| !v.is_empty() && deciding.contains(&k.as_str()))
}

/// The host the probe asks: `DB_HOST`, else `PGHOST`, else localhost.
pub fn host(vars: &[(String, String)]) -> String {
    let get = |name: &str| {
        vars.iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.clone())
    };
    get("DB_HOST")
        .or_else(|| get("PGHOST"))
        .unwrap_or_else(|| "localhost".to_string())
}

/// The engine the probe results point to, with the reason; an error asking for `DB_TYPE` when none or
/// several answered.
pub fn decide(
    host: &str,
    results: &[(EngineKind, u16, Answer)],
) -> Result<(EngineKind, String), ConfigError> {
    let speaking: Vec<&(EngineKind, u16, Answer)> =
        results.iter().filter(|r| r.2 == Answer::Speaks).collect();
    let describe = |kind: EngineKind| kind.facts().family;
    match speaking.as_slice() {
        [(kind, port, _)] => Ok((
            *kind,
            format!(
                "detected by probing {host}: {} answered on port {port}",
                describe(*kind)
            ),
        )),
        [] => {
            let tried: Vec<String> = results
                .iter()
                .map(|(kind, port, answer)| {
                    let why = match answer {
                        Answer::Speaks => "answered",
                        Answer::Other(w) | Answer::Unreachable(w) => w,
                    };
                    format!("{} on {port}: {why}", describe(*kind))
                })
                .collect();
            Err(ConfigError::new(
                "DB_TYPE",
                format!(
                    "is not set and no database server answered on {host} ({}); set DB_TYPE ({}), and \
                     DB_HOST/DB_PORT to where the server is",
                    tried.join("; "),
                    facts::choices()
                ),
            ))
        }
        several => {
            let found: Vec<String> = several
                .iter()
                .map(|(kind, port, _)| format!("{} on {port}", describe(*kind)))
                .collect();
            Err(ConfigError::new(
                "DB_TYPE",
                format!(
                    "is not set and several servers answered on {host} ({}); set DB_TYPE to the one to back up",
                    found.join(", ")
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn results(answers: [Answer; 3]) -> Vec<(EngineKind, u16, Answer)> {
        facts::probed()
            .zip(answers)
            .map(|(k, a)| (k, k.default_port(), a))
            .collect()
    }

    #[test]
    fn exactly_one_answer_decides() {
        let closed = || Answer::Unreachable("connection refused".into());
        let (kind, reason) = decide("db", &results([closed(), Answer::Speaks, closed()])).unwrap();
        assert_eq!(kind, EngineKind::Mysql);
        assert!(
            reason.contains("probing db") && reason.contains("3306"),
            "{reason}"
        );

        let none = decide("db", &results([closed(), closed(), closed()])).unwrap_err();
        assert_eq!(none.variable, "DB_TYPE");
        assert!(
            none.message.contains("no database server answered"),
            "{none}"
        );
        assert!(none.message.contains("connection refused"), "{none}");

        let two = decide("db", &results([Answer::Speaks, closed(), Answer::Speaks])).unwrap_err();
        assert_eq!(two.variable, "DB_TYPE");
        assert!(two.message.contains("several"), "{two}");
        assert!(
            two.message.contains("PostgreSQL on 5432") && two.message.contains("Redis on 6379")
        );
    }

    #[test]
    fn probing_only_when_nothing_decides() {
        let v = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(needed(&v(&[("DB_HOST", "db"), ("DB_NAME", "x")])));
        assert!(needed(&v(&[("DB_TYPE", "")])));
        for var in deciding() {
            assert!(!needed(&v(&[(var, "x")])), "{var}");
        }
        assert_eq!(host(&v(&[("PGHOST", "pg")])), "pg");
        assert_eq!(host(&v(&[("DB_HOST", "a"), ("PGHOST", "b")])), "a");
        assert_eq!(host(&v(&[])), "localhost");
    }
}
