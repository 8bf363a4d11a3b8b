//! Framework-neutral request and response types, and strict parsing of the raw query string.

use std::fmt;

use crate::error::Result;
use crate::store::BoxStream;

/// The longest parameter or header value accepted, in bytes.
pub const MAX_VALUE_BYTES: usize = 4096;

/// An HTTP request as a dialect needs it: the host's web framework fills it in.
#[derive(Debug, Clone, Default)]
pub struct ApiRequest {
    /// The HTTP method, for example `GET`.
    pub method: String,
    /// The path, without the query string, for example `/audit/`.
    pub path: String,
    /// The raw query string (after `?`, still percent-encoded), if any.
    pub query: Option<String>,
    /// The request headers as name and value; names are compared without regard to case.
    pub headers: Vec<(String, Vec<u8>)>,
}

impl ApiRequest {
    /// A `GET` request for `path_and_query` (for example `/audit/?user=alice`).
    pub fn get(path_and_query: &str) -> Self {
        let (path, query) = match path_and_query.split_once('?') {
            Some((path, query)) => (path, Some(query.to_owned())),
            None => (path_and_query, None),
        };
        ApiRequest {
            method: "GET".into(),
            path: path.into(),
            query,
            headers: Vec::new(),
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_owned(), value.as_bytes().to_vec()));
        self
    }

    /// The raw bytes of the first header called `name` (case-insensitive).
    pub fn header_bytes(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
    }
}

/// A response body: all at once, or streamed in chunks (CSV downloads).
pub enum ApiBody {
    /// The whole body.
    Bytes(Vec<u8>),
    /// The body in chunks; an error ends the stream (the status is already sent).
    Stream(BoxStream<Result<Vec<u8>>>),
}

impl fmt::Debug for ApiBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiBody::Bytes(bytes) => write!(f, "Bytes({} bytes)", bytes.len()),
            ApiBody::Stream(_) => f.write_str("Stream"),
        }
    }
}

/// A dialect's answer: status, headers and body, for the host to send as they are.
#[derive(Debug)]
pub struct ApiResponse {
    /// The HTTP status code.
    pub status: u16,
    /// The response headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: ApiBody,
}

impl ApiResponse {
    /// A JSON response.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        ApiResponse {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: ApiBody::Bytes(serde_json::to_vec(value).unwrap_or_default()),
        }
    }

    /// The body, when it is not streamed.
    pub fn bytes(&self) -> Option<&[u8]> {
        match &self.body {
            ApiBody::Bytes(bytes) => Some(bytes),
            ApiBody::Stream(_) => None,
        }
    }
}

/// A client mistake found while reading a request: which parameter, and what is valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRequest {
    /// The parameter or header.
    pub parameter: String,
    /// The whole message for the client.
    pub message: String,
}

impl BadRequest {
    pub(crate) fn new(parameter: &str, message: impl Into<String>) -> Self {
        BadRequest {
            parameter: parameter.to_owned(),
            message: message.into(),
        }
    }
}

impl From<crate::Error> for BadRequest {
    fn from(error: crate::Error) -> Self {
        match &error {
            crate::Error::InvalidQuery { parameter, .. } => {
                BadRequest::new(parameter, error.to_string())
            }
            _ => BadRequest::new("request", error.to_string()),
        }
    }
}

fn hex(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// Decodes one `application/x-www-form-urlencoded` component strictly: `+` is a space, `%XX`
/// must be two hex digits, and the result must be UTF-8 without NUL characters and at most
/// [`MAX_VALUE_BYTES`] long.
fn decode_component(raw: &str, what: &str) -> Result<String, BadRequest> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let byte = bytes
                    .get(i + 1)
                    .and_then(|h| hex(*h))
                    .zip(bytes.get(i + 2).and_then(|l| hex(*l)))
                    .map(|(h, l)| h * 16 + l)
                    .ok_or_else(|| {
                        BadRequest::new(
                            what,
                            format!("{what}: `%` must be followed by two hex digits"),
                        )
                    })?;
                out.push(byte);
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    let text = String::from_utf8(out).map_err(|_| {
        BadRequest::new(
            what,
            format!("{what}: percent-encoded bytes are not valid UTF-8"),
        )
    })?;
    check_text(what, &text)?;
    Ok(text)
}

/// Decodes a percent-encoded path segment strictly (`+` stays a plus).
pub(crate) fn decode_path_segment(raw: &str) -> Result<String, BadRequest> {
    decode_component(&raw.replace('+', "%2B"), "path")
}

/// Refuses NUL characters and values over [`MAX_VALUE_BYTES`].
pub(crate) fn check_text(what: &str, text: &str) -> Result<(), BadRequest> {
    if text.len() > MAX_VALUE_BYTES {
        return Err(BadRequest::new(
            what,
            format!(
                "{what}: the value is {} bytes long, at most {MAX_VALUE_BYTES} are accepted",
                text.len()
            ),
        ));
    }
    if text.contains('\0') {
        return Err(BadRequest::new(
            what,
            format!("{what}: NUL characters are not accepted"),
        ));
    }
    Ok(())
}

/// Parses a raw query string into decoded key/value pairs, in order.
pub fn parse_query(raw: Option<&str>) -> Result<Vec<(String, String)>, BadRequest> {
    let Some(raw) = raw else {
        return Ok(Vec::new());
    };
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let key = decode_component(key, "query")?;
            let value = decode_component(value, &key)?;
            Ok((key, value))
        })
        .collect()
}

/// A header's value as text, checked like a parameter.
pub(crate) fn header_text(request: &ApiRequest, name: &str) -> Result<Option<String>, BadRequest> {
    let Some(bytes) = request.header_bytes(name) else {
        return Ok(None);
    };
    let text = std::str::from_utf8(bytes).map_err(|_| {
        BadRequest::new(name, format!("header {name}: the value is not valid UTF-8"))
    })?;
    check_text(name, text)?;
    Ok(Some(text.to_owned()))
}

/// Parses a non-negative whole number parameter.
pub(crate) fn whole_number(parameter: &str, value: &str) -> Result<u64, BadRequest> {
    value.parse::<u64>().map_err(|_| {
        BadRequest::new(
            parameter,
            format!(
                "{parameter}: {value:?} is not a whole number; expected digits only, such as 15"
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_decode_strictly() {
        let pairs = parse_query(Some("user=al%2Aice&info=a+b&empty=&flag")).unwrap_or_default();
        assert_eq!(
            pairs,
            [
                ("user".into(), "al*ice".into()),
                ("info".into(), "a b".into()),
                ("empty".into(), String::new()),
                ("flag".into(), String::new())
            ]
        );
        assert!(parse_query(Some("user=%FF")).is_err());
        assert!(parse_query(Some("user=%2")).is_err());
        assert!(parse_query(Some("user=%00")).is_err());
        assert!(parse_query(Some(&format!("user={}", "x".repeat(5000)))).is_err());
    }
}
