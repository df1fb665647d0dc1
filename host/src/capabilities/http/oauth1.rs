//! OAuth 1.0a request signing with HMAC-SHA1, two-legged (no token), as
//! OneRoster 1.1 uses it (RFC 5849).
//!
//! The same maths signs the host's outbound requests and verifies them in
//! mock servers ([`verify_oauth1`]), so a test proves the wire format and not
//! just self-consistency. Nothing here logs, and nothing here keeps a secret.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use rand::Rng as _;
use sha1::Sha1;
use url::Url;

/// Everything except the RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`)
/// is percent-encoded (RFC 5849 §3.6).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How far an `oauth_timestamp` may be from now for [`verify_oauth1`] to accept it.
pub const MAX_CLOCK_SKEW_SECS: i64 = 300;

/// RFC 5849 §3.6 percent-encoding: UTF-8, every byte outside the unreserved set
/// as `%XX` with upper-case hex.
pub fn percent_encode(value: &str) -> String {
    utf8_percent_encode(value, UNRESERVED).to_string()
}

/// The base string URI (RFC 5849 §3.4.1.2): lower-case scheme and host, the
/// port only when it is not the scheme's default, and the path; no query, no
/// fragment.
pub fn base_string_uri(url: &Url) -> String {
    let scheme = url.scheme().to_ascii_lowercase();
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let path = if url.path().is_empty() {
        "/"
    } else {
        url.path()
    };
    match url.port() {
        // `Url::port` is `None` when the port is the scheme's default.
        Some(port) => format!("{scheme}://{host}:{port}{path}"),
        None => format!("{scheme}://{host}{path}"),
    }
}

/// The normalised request parameters (RFC 5849 §3.4.1.3.2): every name and
/// value percent-encoded, sorted by name then value, joined as `n=v&n=v`.
/// `oauth_signature` is left out wherever it comes from.
pub fn normalized_parameters(params: &[(String, String)]) -> String {
    let mut encoded: Vec<(String, String)> = params
        .iter()
        .filter(|(name, _)| name != "oauth_signature")
        .map(|(n, v)| (percent_encode(n), percent_encode(v)))
        .collect();
    encoded.sort();
    encoded
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// The signature base string (RFC 5849 §3.4.1): upper-case method, base
/// string URI and normalised parameters, each percent-encoded, joined by `&`.
/// The parameters are the URL's query parameters (decoded as
/// `application/x-www-form-urlencoded`) plus `extra_params` (the `oauth_*`
/// protocol parameters, and form-body parameters when there are any).
pub fn signature_base_string(method: &str, url: &Url, extra_params: &[(String, String)]) -> String {
    let mut params: Vec<(String, String)> = url
        .query_pairs()
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect();
    params.extend(extra_params.iter().cloned());
    format!(
        "{}&{}&{}",
        percent_encode(&method.to_ascii_uppercase()),
        percent_encode(&base_string_uri(url)),
        percent_encode(&normalized_parameters(&params))
    )
}

/// The HMAC-SHA1 signature (base64) of a request, two-legged: the key is
/// `percent_encode(consumer_secret) + "&"` (empty token secret).
/// `extra_oauth_params` are the `oauth_*` parameters other than
/// `oauth_signature` (plus any form-body parameters); the query parameters are
/// taken from `url`.
pub fn oauth1_signature(
    method: &str,
    url: &Url,
    extra_oauth_params: &[(String, String)],
    consumer_secret: &str,
) -> String {
    let base = signature_base_string(method, url, extra_oauth_params);
    let key = format!("{}&", percent_encode(consumer_secret));
    // HMAC accepts keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<Sha1>::new_from_slice(key.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes a key of any length"),
    };
    mac.update(base.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// A random nonce: 32 alphanumeric characters.
pub fn new_nonce() -> String {
    rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

/// Seconds since the Unix epoch, for `oauth_timestamp`.
pub fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// The `Authorization` header value for a request: `OAuth k="v", ...` with
/// every protocol parameter, the signature included, percent-encoded.
/// `form_params` are the parameters of an `application/x-www-form-urlencoded`
/// body (empty otherwise).
pub fn authorization_header(
    method: &str,
    url: &Url,
    form_params: &[(String, String)],
    consumer_key: &str,
    consumer_secret: &str,
    nonce: &str,
    timestamp: i64,
) -> String {
    let mut oauth = vec![
        ("oauth_consumer_key".to_string(), consumer_key.to_string()),
        ("oauth_nonce".to_string(), nonce.to_string()),
        (
            "oauth_signature_method".to_string(),
            "HMAC-SHA1".to_string(),
        ),
        ("oauth_timestamp".to_string(), timestamp.to_string()),
        ("oauth_version".to_string(), "1.0".to_string()),
    ];
    let mut signed = oauth.clone();
    signed.extend(form_params.iter().cloned());
    let signature = oauth1_signature(method, url, &signed, consumer_secret);
    oauth.push(("oauth_signature".to_string(), signature));
    let fields: Vec<String> = oauth
        .iter()
        .map(|(n, v)| format!("{}=\"{}\"", percent_encode(n), percent_encode(v)))
        .collect();
    format!("OAuth {}", fields.join(", "))
}

/// Parse an `Authorization: OAuth ...` header into its (decoded) parameters.
/// `None` when it is not an OAuth header or a field is malformed.
pub fn parse_authorization_header(header: &str) -> Option<Vec<(String, String)>> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if !scheme.eq_ignore_ascii_case("OAuth") {
        return None;
    }
    let mut params = Vec::new();
    for field in rest.split(',') {
        let field = field.trim();
        if field.is_empty() {
            continue;
        }
        let (name, value) = field.split_once('=')?;
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        let name = percent_decode_str(name.trim())
            .decode_utf8()
            .ok()?
            .into_owned();
        let value = percent_decode_str(value).decode_utf8().ok()?.into_owned();
        params.push((name, value));
    }
    Some(params)
}

/// Verify a two-legged HMAC-SHA1 signed request as a OneRoster 1.1 provider
/// would: right consumer key, HMAC-SHA1, version 1.0 (or absent), a nonce, a
/// timestamp within [`MAX_CLOCK_SKEW_SECS`] of now, and a signature over the
/// method, the URL and all its query parameters. For mock servers and tests;
/// it does not remember nonces.
pub fn verify_oauth1(
    method: &str,
    url: &Url,
    authorization_header: &str,
    consumer_key: &str,
    consumer_secret: &str,
) -> bool {
    verify_oauth1_with_form(
        method,
        url,
        &[],
        authorization_header,
        consumer_key,
        consumer_secret,
    )
}

/// [`verify_oauth1`] for a request with an `application/x-www-form-urlencoded`
/// body, whose parameters are signed too.
pub fn verify_oauth1_with_form(
    method: &str,
    url: &Url,
    form_params: &[(String, String)],
    authorization_header: &str,
    consumer_key: &str,
    consumer_secret: &str,
) -> bool {
    let Some(params) = parse_authorization_header(authorization_header) else {
        return false;
    };
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    if get("oauth_consumer_key") != Some(consumer_key)
        || get("oauth_signature_method") != Some("HMAC-SHA1")
        || !matches!(get("oauth_version"), None | Some("1.0"))
        || get("oauth_nonce").is_none_or(str::is_empty)
    {
        return false;
    }
    let Some(timestamp) = get("oauth_timestamp").and_then(|t| t.parse::<i64>().ok()) else {
        return false;
    };
    if (unix_now() - timestamp).abs() > MAX_CLOCK_SKEW_SECS {
        return false;
    }
    let Some(signature) = get("oauth_signature") else {
        return false;
    };
    let mut signed: Vec<(String, String)> = params
        .iter()
        .filter(|(n, _)| n != "oauth_signature" && n != "realm")
        .cloned()
        .collect();
    signed.extend(form_params.iter().cloned());
    let expected = oauth1_signature(method, url, &signed, consumer_secret);
    constant_time_eq(expected.as_bytes(), signature.as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_everything_but_unreserved() {
        assert_eq!(percent_encode("a-b._~ Z9"), "a-b._~%20Z9");
        assert_eq!(
            percent_encode("dateLastModified>'2024'"),
            "dateLastModified%3E%272024%27"
        );
        assert_eq!(percent_encode("é+&="), "%C3%A9%2B%26%3D");
    }

    #[test]
    fn base_string_uri_drops_default_port_query_and_fragment() {
        let url =
            Url::parse("HTTPS://SIS.Example.ORG:443/ims/oneroster/v1p1/users?limit=1#x").unwrap();
        assert_eq!(
            base_string_uri(&url),
            "https://sis.example.org/ims/oneroster/v1p1/users"
        );
        let url = Url::parse("http://sis.example.org:8080/a").unwrap();
        assert_eq!(base_string_uri(&url), "http://sis.example.org:8080/a");
    }

    #[test]
    fn rfc5849_parameter_normalisation_example() {
        // The parameters of RFC 5849 §3.4.1.3.2, normalised as the RFC shows.
        let url = Url::parse("http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b").unwrap();
        let extra: Vec<(String, String)> = [
            ("c2", ""),
            ("a3", "2 q"),
            ("oauth_consumer_key", "9djdj82h48djs9d2"),
            ("oauth_token", "kkk9d7dh3k39sjv7"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "137131201"),
            ("oauth_nonce", "7d8f3e4a"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        let mut params: Vec<(String, String)> = url
            .query_pairs()
            .map(|(a, b)| (a.into_owned(), b.into_owned()))
            .collect();
        params.extend(extra);
        assert_eq!(
            normalized_parameters(&params),
            "a2=r%20b&a3=2%20q&a3=a&b5=%3D%253D&c%40=&c2=&oauth_consumer_key=9djdj82h48djs9d2\
             &oauth_nonce=7d8f3e4a&oauth_signature_method=HMAC-SHA1&oauth_timestamp=137131201\
             &oauth_token=kkk9d7dh3k39sjv7"
        );
    }

    #[test]
    fn signs_and_verifies_round_trip() {
        let url = Url::parse("https://sis.example.org/ims/oneroster/v1p1/users?limit=100&filter=dateLastModified%3E%272024-01-01%27").unwrap();
        let header =
            authorization_header("GET", &url, &[], "key", "s3cr&t", &new_nonce(), unix_now());
        assert!(verify_oauth1("GET", &url, &header, "key", "s3cr&t"));
        assert!(!verify_oauth1("GET", &url, &header, "key", "other"));
        assert!(!verify_oauth1("POST", &url, &header, "key", "s3cr&t"));
        assert!(!verify_oauth1("GET", &url, &header, "other-key", "s3cr&t"));
        let tampered = Url::parse("https://sis.example.org/ims/oneroster/v1p1/users?limit=101&filter=dateLastModified%3E%272024-01-01%27").unwrap();
        assert!(!verify_oauth1("GET", &tampered, &header, "key", "s3cr&t"));
        let stale = authorization_header("GET", &url, &[], "key", "s3cr&t", "n", unix_now() - 3600);
        assert!(!verify_oauth1("GET", &url, &stale, "key", "s3cr&t"));
    }
}
