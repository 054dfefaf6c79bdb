//! What the user asked the dump to leave out (`MYSQLDUMP_ARGS`): routines, events, triggers, table
//! definitions, single tables. The completeness check counts only what is in scope, so that an object left out
//! on purpose is never reported missing.

use std::collections::BTreeSet;

/// The kinds of objects a dump of one database holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Table,
    View,
    Procedure,
    Function,
    Trigger,
    Event,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Table => "table",
            Kind::View => "view",
            Kind::Procedure => "procedure",
            Kind::Function => "function",
            Kind::Trigger => "trigger",
            Kind::Event => "event",
        }
    }

    /// Routine, trigger and event names are case-insensitive on the server; table and view names are not
    /// (on Linux).
    pub fn key(self, name: &str) -> String {
        match self {
            Kind::Table | Kind::View => name.to_string(),
            _ => name.to_lowercase(),
        }
    }
}

/// The objects of one database a dump with these options holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub routines: bool,
    pub events: bool,
    pub triggers: bool,
    /// `CREATE TABLE`/`CREATE VIEW` statements (off with `--no-create-info`, which also drops triggers).
    pub create_info: bool,
    /// Tables and views of this database named by `--ignore-table`.
    pub ignored: BTreeSet<String>,
}

impl Scope {
    /// Reads the options in order, as the dump tool does (the last word wins), after db-backup's own
    /// `--routines --triggers --events`.
    pub fn from_args(args: &[String], database: &str) -> Scope {
        let mut scope = Scope {
            routines: true,
            events: true,
            triggers: true,
            create_info: true,
            ignored: BTreeSet::new(),
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            if let Some(option) = arg.strip_prefix("--") {
                let (name, value) = match option.split_once('=') {
                    Some((n, v)) => (n, Some(v)),
                    None => (option, None),
                };
                let name = name.strip_prefix("loose-").unwrap_or(name);
                if name == "ignore-table" {
                    let value = value.map(str::to_string).or_else(|| args.next().cloned());
                    if let Some((db, table)) = value.as_deref().and_then(|v| v.split_once('.'))
                        && db == database
                    {
                        scope.ignored.insert(table.to_string());
                    }
                    continue;
                }
                let (name, negated) = match name
                    .strip_prefix("skip-")
                    .or_else(|| name.strip_prefix("disable-"))
                {
                    Some(rest) => (rest, true),
                    None => (name.strip_prefix("enable-").unwrap_or(name), false),
                };
                let on = !negated
                    && !value.is_some_and(|v| {
                        ["0", "off", "false"].contains(&v.to_ascii_lowercase().as_str())
                    });
                match name {
                    "routines" => scope.routines = on,
                    "events" => scope.events = on,
                    "triggers" => scope.triggers = on,
                    "no-create-info" => scope.create_info = !on,
                    _ => {}
                }
                continue;
            }
            // Short options: letters up to the first one that takes a value.
            if let Some(letters) = arg.strip_prefix('-') {
                for letter in letters.chars() {
                    match letter {
                        'R' => scope.routines = true,
                        'E' => scope.events = true,
                        't' => scope.create_info = false,
                        'w' | '#' | 'r' | 'T' | 'p' | 'h' | 'P' | 'u' | 'S' => break,
                        _ => {}
                    }
                }
            }
        }
        scope
    }

    /// Whether objects of `kind` are dumped at all.
    pub fn includes(&self, kind: Kind) -> bool {
        match kind {
            Kind::Table | Kind::View => self.create_info,
            Kind::Procedure | Kind::Function => self.routines,
            Kind::Trigger => self.triggers && self.create_info,
            Kind::Event => self.events,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(args: &[&str]) -> Scope {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        Scope::from_args(&args, "app")
    }

    #[test]
    fn everything_by_default() {
        let s = scope(&[]);
        for kind in [
            Kind::Table,
            Kind::View,
            Kind::Procedure,
            Kind::Function,
            Kind::Trigger,
            Kind::Event,
        ] {
            assert!(s.includes(kind), "{kind:?}");
        }
        assert!(s.ignored.is_empty());
    }

    #[test]
    fn skips_are_respected_and_the_last_word_wins() {
        let s = scope(&["--skip-routines", "--skip-events", "--triggers=0"]);
        assert!(!s.includes(Kind::Procedure) && !s.includes(Kind::Event));
        assert!(!s.includes(Kind::Trigger) && s.includes(Kind::Table));
        let s = scope(&["--skip-routines", "-R"]);
        assert!(s.includes(Kind::Function));
        let s = scope(&["-t"]);
        assert!(!s.includes(Kind::Table) && !s.includes(Kind::Trigger));
        assert!(s.includes(Kind::Procedure));
    }

    #[test]
    fn ignored_tables_of_this_database_only() {
        let s = scope(&[
            "--ignore-table=app.logs",
            "--ignore-table",
            "app.cache",
            "--ignore-table=other.t",
        ]);
        let expected: BTreeSet<String> = ["logs", "cache"].iter().map(|s| s.to_string()).collect();
        assert_eq!(s.ignored, expected);
    }
}
