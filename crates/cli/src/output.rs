//! What the commands print: tables for people, JSON for programs, timestamps on streams, and
//! text from servers with its control characters escaped.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};
use serde_json::Value;

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum OutputFormat {
    /// Tables for people.
    Table,
    /// JSON for programs: one document per result, one line per streamed event, errors as
    /// `{"error":{…}}`.
    Json,
}

/// `s` with every control character (an escape sequence from a server's text, a newline in a
/// name) written as `\u{…}`, so that it cannot move the cursor or forge a line.
pub(crate) fn escape(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                format!("\\u{{{:x}}}", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The time now, RFC 3339 in UTC with milliseconds (for streamed lines).
pub(crate) fn now_rfc3339() -> String {
    let ms = agora_rest_transport::clock::system_unix_ms();
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{ms}ms"))
}

/// A scalar as a cell: strings without quotes, the rest as JSON; escaped.
fn cell(v: &Value) -> String {
    match v {
        Value::String(s) => escape(s),
        Value::Null => String::new(),
        other => escape(&other.to_string()),
    }
}

/// `value`'s leaves as (dotted path, cell) rows.
fn flatten(prefix: &str, value: &Value, rows: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, rows);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), v, rows);
            }
        }
        other => rows.push((escape(prefix), cell(other))),
    }
}

fn new_table() -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    t
}

/// A table of `value`: a list of objects is one row per item (a column per field), anything
/// else two columns, field and value.
pub(crate) fn table(value: &Value) -> String {
    if let Value::Array(items) = value {
        if items.is_empty() {
            return "(none)".to_string();
        }
        if items.iter().all(Value::is_object) {
            let mut columns: Vec<String> = Vec::new();
            let rows: Vec<Vec<(String, String)>> = items
                .iter()
                .map(|item| {
                    let mut rows = Vec::new();
                    flatten("", item, &mut rows);
                    for (k, _) in &rows {
                        if !columns.contains(k) {
                            columns.push(k.clone());
                        }
                    }
                    rows
                })
                .collect();
            let mut t = new_table();
            t.set_header(columns.clone());
            for row in rows {
                t.add_row(columns.iter().map(|c| {
                    row.iter()
                        .find(|(k, _)| k == c)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                }));
            }
            return t.to_string();
        }
    }
    let mut rows = Vec::new();
    flatten("", value, &mut rows);
    let mut t = new_table();
    t.set_header(["field", "value"]);
    for (k, v) in rows {
        t.add_row([k, v]);
    }
    t.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_never_reach_the_terminal() {
        assert_eq!(escape("ok"), "ok");
        assert_eq!(escape("a\u{1b}[2Jb\nc"), "a\\u{1b}[2Jb\\u{a}c");
        let t = table(&serde_json::json!({"message": "\u{1b}]0;pwned\u{7}", "n": 1}));
        assert!(!t.chars().any(|c| c.is_control() && c != '\n'), "{t:?}");
        assert!(t.contains("\\u{1b}]0;pwned\\u{7}"));
    }

    #[test]
    fn lists_are_rows_and_objects_are_field_value_pairs() {
        let t = table(&serde_json::json!([
            {"id": "a", "state": "running"},
            {"id": "b", "state": "failed", "extra": {"x": 1}}
        ]));
        let lines: Vec<&str> = t.lines().collect();
        assert!(
            lines[1].contains("id") && lines[1].contains("extra.x"),
            "{t}"
        );
        assert!(t.contains("running") && t.contains("failed"));
        assert_eq!(
            t.lines()
                .filter(|l| l.contains("│ a") || l.contains("│ b"))
                .count(),
            2,
            "{t}"
        );
        let t = table(&serde_json::json!({"id": "a", "nested": {"k": "v"}}));
        assert!(t.contains("nested.k") && t.contains("field"), "{t}");
        assert_eq!(table(&serde_json::json!([])), "(none)");
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = now_rfc3339();
        assert!(t.ends_with('Z') && t.contains('T') && t.len() >= 20, "{t}");
    }
}
