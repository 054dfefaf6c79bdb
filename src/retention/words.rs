//! Ranks and durations in words, for the reasons retention gives.

use chrono::TimeDelta;

/// "newest", "2nd newest", "3rd newest", "11th newest", ...
pub fn rank(position: usize) -> String {
    if position == 1 {
        return "newest".to_owned();
    }
    let suffix = match (position % 10, position % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{position}{suffix} newest")
}

/// A non-negative duration, coarsely: "40 seconds", "5 minutes", "3 hours", "9 days", "7 days 2 hours".
pub fn describe_duration(d: TimeDelta) -> String {
    let secs = d.num_seconds();
    let (days, hours) = (secs / 86_400, secs % 86_400 / 3_600);
    match (days, hours) {
        (0, 0) if secs < 60 => plural(secs, "second"),
        (0, 0) => plural(secs / 60, "minute"),
        (0, h) => plural(h, "hour"),
        (d, 0) => plural(d, "day"),
        (d, h) => format!("{} {}", plural(d, "day"), plural(h, "hour")),
    }
}

pub fn plural(n: i64, unit: &str) -> String {
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}
