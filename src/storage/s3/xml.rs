//! Just enough XML for S3's answers: the text of named elements, in order. S3 answers are flat and
//! namespace-free where we read them, so no general parser is needed.

/// The inner text of every `<tag>...</tag>` in `body`, unescaped (an empty `<tag/>` gives "").
pub fn values(body: &str, tag: &str) -> Vec<String> {
    blocks(body, tag).into_iter().map(unescape).collect()
}

/// The first [`values`] entry.
pub fn value(body: &str, tag: &str) -> Option<String> {
    values(body, tag).into_iter().next()
}

/// The raw inner text of every `<tag>...</tag>` (for elements that hold others, such as `<Contents>`).
pub fn blocks<'a>(body: &'a str, tag: &str) -> Vec<&'a str> {
    let open = format!("<{tag}>");
    let empty = format!("<{tag}/>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        let o = rest.find(&open);
        let e = rest.find(&empty);
        match (o, e) {
            (Some(o), e) if e.is_none_or(|e| o < e) => {
                let start = o + open.len();
                let Some(len) = rest[start..].find(&close) else {
                    break;
                };
                out.push(&rest[start..start + len]);
                rest = &rest[start + len + close.len()..];
            }
            (_, Some(e)) => {
                out.push("");
                rest = &rest[e + empty.len()..];
            }
            _ => break,
        }
    }
    out
}

/// Escapes text for an element's content.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some(end) = tail.find(';') else {
            out.push_str(tail);
            return out;
        };
        let entity = &tail[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => out.push(c),
            None => out.push_str(&tail[..=end]),
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_listings() {
        let body = "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>a&amp;b</Key><Size>3</Size>\
                    </Contents><Contents><Key>c</Key><Size>4</Size></Contents><NextContinuationToken/></ListBucketResult>";
        let keys: Vec<String> = blocks(body, "Contents")
            .iter()
            .filter_map(|b| value(b, "Key"))
            .collect();
        assert_eq!(keys, ["a&b", "c"]);
        assert_eq!(value(body, "IsTruncated").as_deref(), Some("false"));
        assert_eq!(value(body, "NextContinuationToken").as_deref(), Some(""));
        assert_eq!(value(body, "Missing"), None);
        assert_eq!(unescape("&#x41;&#66;&bogus;"), "AB&bogus;");
    }
}
