//! Body templates for generic webhooks (`NOTIFY_TEMPLATE`, or a `template=` in a `generic://` URL): text with
//! `{title}`, `{message}`, `{status}` and other placeholders, checked when the configuration is read.
//!
//! Values are JSON-escaped when the body is JSON (`{"text": "{message}"}` stays valid JSON whatever the error
//! says), and put in as they are otherwise. Braces that do not enclose a lowercase name are plain text.

use super::message::Note;

/// The placeholders a template may use.
pub const FIELDS: &[&str] = &[
    "title", "message", "status", "series", "host", "engine", "error", "file", "size", "duration",
];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Field(&'static str),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
}

impl Template {
    /// Parses `text`; an unknown placeholder is an error naming it and the known ones.
    pub fn parse(text: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut rest = text;
        let mut literal = String::new();
        while let Some(open) = rest.find('{') {
            literal.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let name_len = after
                .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                .unwrap_or(after.len());
            if name_len > 0 && after[name_len..].starts_with('}') {
                let name = &after[..name_len];
                let field = FIELDS.iter().find(|f| **f == name).ok_or_else(|| {
                    format!(
                        "has an unknown placeholder {{{name}}}; the known ones are {}",
                        FIELDS
                            .iter()
                            .map(|f| format!("{{{f}}}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    )
                })?;
                if !literal.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut literal)));
                }
                parts.push(Part::Field(field));
                rest = &after[name_len + 1..];
            } else {
                literal.push('{');
                rest = after;
            }
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Template { parts })
    }

    /// The body for `note`; `json` escapes each value as the inside of a JSON string.
    pub fn render(&self, note: &Note, json: bool) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Field(name) => {
                    let value = field(note, name);
                    if json {
                        let quoted = serde_json::Value::String(value).to_string();
                        out.push_str(&quoted[1..quoted.len() - 1]);
                    } else {
                        out.push_str(&value);
                    }
                }
            }
        }
        out
    }
}

fn field(note: &Note, name: &str) -> String {
    match name {
        "title" => note.title.clone(),
        "message" => note.body.clone(),
        "status" => note.status.name().to_string(),
        "series" => note.series.clone(),
        "host" => note.host.clone(),
        "engine" => note.engine.clone(),
        "error" => note.error.clone().unwrap_or_default(),
        "file" => note.file.clone().unwrap_or_default(),
        "size" => note.size.map(|s| s.to_string()).unwrap_or_default(),
        "duration" => format!("{:.1}", note.duration_s),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::state::RunStatus;
    use super::*;

    fn note() -> Note {
        Note {
            status: RunStatus::Failure,
            title: "db-backup: Backup of app on box FAILED".into(),
            body: "line one\n\"quoted\"".into(),
            series: "app".into(),
            host: "box".into(),
            engine: "postgres".into(),
            error: Some("boom".into()),
            file: None,
            size: None,
            duration_s: 1.25,
        }
    }

    #[test]
    fn placeholders_are_filled_and_json_escaped() {
        let t =
            Template::parse(r#"{"text": "{title}: {message}", "s": "{status}", "d": {duration}}"#)
                .unwrap();
        let body = t.render(&note(), true);
        let v: serde_json::Value = serde_json::from_str(&body).expect(&body);
        assert_eq!(
            v["text"],
            "db-backup: Backup of app on box FAILED: line one\n\"quoted\""
        );
        assert_eq!(v["s"], "failure");
        assert_eq!(v["d"], 1.2);
        let plain = Template::parse("{series} {status} {size}.").unwrap();
        assert_eq!(plain.render(&note(), false), "app failure .");
    }

    #[test]
    fn unknown_placeholders_are_refused_and_odd_braces_kept() {
        let e = Template::parse("{title} {mesage}").unwrap_err();
        assert!(e.contains("{mesage}") && e.contains("{message}"), "{e}");
        let t = Template::parse("{ {} {Title} {title").unwrap();
        assert_eq!(t.render(&note(), false), "{ {} {Title} {title");
    }
}
