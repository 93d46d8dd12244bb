//! URL checks shared by both services' rules.

use agora_rest_core::error::Error as CoreError;

/// Checks a URL's scheme (ASCII case-insensitive) and that a host follows it.
pub(crate) fn check_url(
    field: &str,
    url: &str,
    schemes: &[&str],
    rule: &'static str,
) -> Result<(), CoreError> {
    let lower = url.to_ascii_lowercase();
    let rest = schemes
        .iter()
        .find_map(|s| lower.strip_prefix(s).and_then(|r| r.strip_prefix("://")));
    let host_ok = rest.is_some_and(|r| {
        let host = r.split(['/', '?', '#']).next().unwrap_or("");
        !host.is_empty() && !host.starts_with(':')
    });
    if host_ok && !url.chars().any(char::is_whitespace) {
        Ok(())
    } else {
        Err(CoreError::InvalidValue {
            field: field.to_string().into(),
            value: url.to_string(),
            rule,
        })
    }
}
