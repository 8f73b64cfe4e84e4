//! Scalar, the script of the API reference page (`GET /admin/v1/docs`), embedded in the binary and
//! served by scimd itself at `GET /admin/v1/docs/scalar-<version>.js`: the page loads nothing from
//! elsewhere, so it works where scimd has no internet access.
//!
//! The bundle is `server/assets/scalar/` (its README says where it comes from, its sums and how to
//! update it), committed gzip-compressed. Clients that accept gzip get those bytes as they are; the
//! others get them decompressed, once, on the first such request.

use std::sync::LazyLock;

use axum::body::Bytes;
use axum::http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, VARY, X_CONTENT_TYPE_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};

/// The vendored `@scalar/api-reference` version: it names the file in `server/assets/scalar/` and
/// the script's URL, so a new version is a new URL and browsers may cache each one for good.
macro_rules! scalar_version {
    () => {
        "1.76.4"
    };
}

/// The script's route, under `/admin/v1`.
pub const ROUTE: &str = concat!("/docs/scalar-", scalar_version!(), ".js");

/// The script's full path, as the page and the OpenAPI document name it.
pub const PATH: &str = concat!("/admin/v1/docs/scalar-", scalar_version!(), ".js");

/// `dist/browser/standalone.js` of the npm package, gzip-compressed (`gzip -9 -n`).
const BUNDLE_GZIP: &[u8] =
    include_bytes!(concat!("../../assets/scalar/scalar-api-reference-", scalar_version!(), ".js.gz"));

/// The page around the document (utoipa-scalar puts the document's JSON in place of `$spec`). The
/// `api-reference` script element holds the document; Scalar's script, from this server, renders it.
/// The configuration keeps the page from reaching out on its own: no web fonts (they would come
/// from Scalar's servers; the system's fonts are used), no AI agent and no MCP integration (both
/// talk to Scalar's services), no developer tools panel.
pub const PAGE: &str = concat!(
    r#"<!doctype html>
<html lang="en">
<head>
    <title>scimd admin API reference</title>
    <meta charset="utf-8"/>
    <meta name="viewport" content="width=device-width, initial-scale=1"/>
</head>
<body>
<script
        id="api-reference"
        type="application/json"
        data-configuration='{"withDefaultFonts":false,"agent":{"disabled":true},"mcp":{"disabled":true},"showDeveloperTools":"never"}'>
    $spec
</script>
<script src=""#,
    "/admin/v1/docs/scalar-",
    scalar_version!(),
    r#".js"></script>
</body>
</html>
"#
);

#[utoipa::path(
    get,
    path = PATH,
    operation_id = "getApiReferenceScript",
    tag = "documentation",
    summary = "The reference page's script",
    description = "Scalar's browser bundle, which renders the reference page; the version is in the path. \
        It is built into scimd, so the page needs no internet access. Gzip-encoded when the request's \
        `Accept-Encoding` allows gzip, plain otherwise. Cacheable for good: another version has another \
        path. Public: no token needed.",
    responses((
        status = 200,
        description = "The script",
        content_type = "application/javascript",
        body = String,
        headers(
            ("Content-Encoding" = String, description = "`gzip` when the request accepts gzip; absent otherwise"),
            ("Cache-Control" = String, description = "`public, max-age=31536000, immutable`"),
            ("Vary" = String, description = "`Accept-Encoding`"),
        ),
    )),
)]
pub async fn script(headers: HeaderMap) -> Response {
    static PLAIN: LazyLock<Bytes> = LazyLock::new(|| Bytes::from(decompressed()));
    let gzip = accepts_gzip(&headers);
    let body = if gzip { Bytes::from_static(BUNDLE_GZIP) } else { PLAIN.clone() };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/javascript; charset=utf-8"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    headers.insert(VARY, HeaderValue::from_static("accept-encoding"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if gzip {
        headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

fn decompressed() -> Vec<u8> {
    use std::io::Read;
    let mut plain = Vec::with_capacity(BUNDLE_GZIP.len() * 4);
    flate2::read::GzDecoder::new(BUNDLE_GZIP).read_to_end(&mut plain).expect("the embedded Scalar bundle is gzip");
    plain
}

/// Whether `Accept-Encoding` allows gzip (RFC 9110 §12.5.3): `gzip` (or `x-gzip`) with a non-zero
/// weight, or else `*` with one. No header: only the identity coding is sure to be understood.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    let (mut gzip, mut any) = (None, None);
    for value in headers.get_all(ACCEPT_ENCODING) {
        let Ok(value) = value.to_str() else { continue };
        for item in value.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or_default().trim();
            let weight = parts
                .filter_map(|param| param.split_once('='))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
                .map_or(1.0, |(_, q)| q.trim().parse::<f32>().unwrap_or(0.0));
            if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                gzip = Some(weight);
            } else if coding == "*" {
                any = Some(weight);
            }
        }
    }
    gzip.or(any).is_some_and(|weight| weight > 0.0)
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    const README: &str = include_str!("../../assets/scalar/README.md");

    /// The value of the README's `- <label>: <value>` line.
    fn recorded(label: &str) -> &'static str {
        let prefix = format!("- {label}: ");
        README
            .lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("server/assets/scalar/README.md has no line `{prefix}…`"))
            .trim()
    }

    #[test]
    fn embedded_bundle_is_the_recorded_one() {
        assert_eq!(recorded("version"), scalar_version!(), "the README and scalar_version! name different versions");
        let file = concat!("scalar-api-reference-", scalar_version!(), ".js.gz");
        assert_eq!(
            hex::encode(Sha256::digest(BUNDLE_GZIP)),
            recorded(&format!("sha256 of {file}")),
            "the embedded {file} is not the one server/assets/scalar/README.md records"
        );
        let plain = decompressed();
        assert_eq!(
            hex::encode(Sha256::digest(&plain)),
            recorded("sha256 of standalone.js"),
            "the decompressed bundle is not the npm package's standalone.js that the README records"
        );
        assert!(plain.starts_with(b"(function(){"), "not Scalar's standalone bundle");
    }

    #[test]
    fn the_page_loads_the_embedded_script_and_nothing_else() {
        assert!(PAGE.contains(&format!("<script src=\"{PATH}\"></script>")), "{PAGE}");
        assert!(!PAGE.contains("http://") && !PAGE.contains("https://") && !PAGE.contains("//cdn"), "{PAGE}");
        assert_eq!(PAGE.matches("$spec").count(), 1, "utoipa-scalar replaces each $spec with the document");
        assert_eq!(format!("/admin/v1{ROUTE}"), PATH);
    }

    #[test]
    fn gzip_is_sent_only_where_accepted() {
        let accepts = |values: &[&str]| {
            let mut headers = HeaderMap::new();
            for value in values {
                headers.append(ACCEPT_ENCODING, HeaderValue::from_str(value).expect("a header value"));
            }
            accepts_gzip(&headers)
        };
        assert!(accepts(&["gzip"]));
        assert!(accepts(&["gzip, deflate, br, zstd"]));
        assert!(accepts(&["br;q=1.0, GZip;q=0.5"]));
        assert!(accepts(&["x-gzip"]));
        assert!(accepts(&["*"]));
        assert!(accepts(&["br", "gzip"]));
        assert!(accepts(&["gzip; q=0.001"]));
        assert!(!accepts(&[]));
        assert!(!accepts(&[""]));
        assert!(!accepts(&["identity"]));
        assert!(!accepts(&["br, deflate"]));
        assert!(!accepts(&["gzip;q=0"]));
        assert!(!accepts(&["gzip;q=0.0, *"]), "an explicit refusal of gzip beats *");
        assert!(!accepts(&["*;q=0"]));
        assert!(!accepts(&["gzip;q=nonsense"]));
    }
}
