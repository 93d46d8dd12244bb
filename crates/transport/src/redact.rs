//! Text made safe to print: URLs without passwords, server text bounded and without control
//! characters.
//!
//! Exists because errors reach logs and terminals: an endpoint such as
//! `https://user:pw@proxy.example` must not show its password, and a vendor message (or a
//! hostile server's) must neither flood a log nor move a terminal's cursor.

/// The most characters of server text an error shows.
pub const MAX_SERVER_TEXT: usize = 256;

/// `url` with any password (and user name) in its authority replaced by `***`.
///
/// ```
/// use agora_rest_transport::redact::redact_url;
/// assert_eq!(redact_url("http://user:pw@127.0.0.1:8080/x"), "http://***@127.0.0.1:8080/x");
/// assert_eq!(redact_url("https://api.agora.io"), "https://api.agora.io");
/// ```
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => url.split_at(i + 3),
        None => ("", url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rfind('@') {
        Some(at) => format!("{scheme}***{}{tail}", &authority[at..]),
        None => url.to_string(),
    }
}

/// Server text for an error message: at most [`MAX_SERVER_TEXT`] characters (then `…`), with
/// control characters escaped (`\u{1b}` rather than an escape byte).
///
/// ```
/// use agora_rest_transport::redact::server_text;
/// assert_eq!(server_text("bad\u{1b}[2J\nx"), "bad\\u{1b}[2J\\nx");
/// assert_eq!(server_text(&"a".repeat(300)).chars().count(), 257);
/// ```
pub fn server_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_SERVER_TEXT + 8));
    for (i, c) in text.chars().enumerate() {
        if i == MAX_SERVER_TEXT {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_info_is_hidden_everywhere_it_can_be() {
        for (url, want) in [
            ("http://u:secretpw@127.0.0.1/p", "http://***@127.0.0.1/p"),
            ("http://secretpw@localhost", "http://***@localhost"),
            ("u:secretpw@host", "***@host"),
            ("http://h/p?x=a@b", "http://h/p?x=a@b"),
        ] {
            assert_eq!(redact_url(url), want);
            assert!(!redact_url(url).contains("secretpw"));
        }
    }

    #[test]
    fn server_text_is_bounded_and_escaped() {
        let t = server_text("\u{7}\u{9b}ok");
        assert!(!t.chars().any(char::is_control), "{t:?}");
        assert!(server_text(&"é".repeat(1000)).chars().count() <= MAX_SERVER_TEXT + 1);
    }
}
