//! The log viewer: one page of plain HTML, CSS and JavaScript compiled into the binary. It reads
//! the log through the same public routes as any other client (`POST /auth`, `GET /audit/`,
//! `GET /audit/<name>.csv`, `GET /audit/statistics`), so it needs nothing from the network.

use audit_core::api::{ApiBody, ApiResponse};

const INDEX: &str = include_str!("../viewer/index.html");
const SCRIPT: &str = include_str!("../viewer/viewer.js");
const STYLE: &str = include_str!("../viewer/viewer.css");

/// The page may run only its own script and style, show images only from itself and from the
/// `data:` URIs of the charts, and talk only to its own server. Trusted Types make every HTML
/// sink (`innerHTML` and the like) throw, so an entry can never become markup, let alone run as
/// script, even if a later change to the page tried.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
frame-ancestors 'none'; require-trusted-types-for 'script'; trusted-types 'none'";

/// The viewer's file at `path` (`/`, `/viewer.js`, `/viewer.css`), or `None`.
pub fn asset(path: &str) -> Option<ApiResponse> {
    let (content_type, body) = match path {
        "/" | "/index.html" => ("text/html; charset=utf-8", INDEX),
        "/viewer.js" => ("text/javascript; charset=utf-8", SCRIPT),
        "/viewer.css" => ("text/css; charset=utf-8", STYLE),
        _ => return None,
    };
    let headers = [
        ("content-type", content_type),
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        // The files change with the binary; revalidating costs one small request.
        ("cache-control", "no-cache"),
    ];
    Some(ApiResponse {
        status: 200,
        headers: headers
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect(),
        body: ApiBody::Bytes(body.as_bytes().to_vec()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_is_served_with_the_policy_and_nothing_else_is() {
        for path in ["/", "/index.html", "/viewer.js", "/viewer.css"] {
            let response = asset(path);
            assert!(response.is_some(), "{path} is served");
            let headers = response.map(|r| r.headers).unwrap_or_default();
            assert!(
                headers
                    .iter()
                    .any(|(n, v)| n == "content-security-policy" && v == CONTENT_SECURITY_POLICY)
            );
        }
        for path in ["/viewer", "/../Cargo.toml", "/viewer.js/", "/favicon.ico"] {
            assert!(asset(path).is_none(), "{path} is not served");
        }
    }

    #[test]
    fn the_page_loads_only_its_own_files() {
        for needle in [
            "http://",
            "https://",
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            for (name, text) in [
                ("index.html", INDEX),
                ("viewer.js", SCRIPT),
                ("viewer.css", STYLE),
            ] {
                assert!(!text.contains(needle), "{name} contains {needle:?}");
            }
        }
    }
}
