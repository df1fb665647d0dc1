//! OAuth 1.0a HMAC-SHA1 as RFC 5849 defines it, written here independently
//! of the host's signer so the mock can judge it: the signature base string
//! (section 3.4.1), the signature (3.4.2), signing a request (for tests) and
//! verifying one (for the mock server), plus HTTP Basic client credentials as
//! RFC 6749 section 2.3.1 encodes them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha1::Sha1;

type HmacSha1 = Hmac<Sha1>;

/// RFC 3986 percent-encoding, as RFC 5849 section 3.6 asks (unreserved kept,
/// uppercase hex).
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decode `%XX` escapes (no `+` handling: header values are not forms).
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The base string URI (RFC 5849 3.4.1.2): lowercase scheme and host, the
/// port only when it is not the scheme's default, the path, no query.
pub fn base_uri(scheme: &str, host: &str, port: Option<u16>, path: &str) -> String {
    let scheme = scheme.to_ascii_lowercase();
    let default = matches!(
        (scheme.as_str(), port),
        ("http", Some(80)) | ("https", Some(443))
    );
    let path = if path.is_empty() { "/" } else { path };
    match port {
        Some(p) if !default => format!("{scheme}://{}:{p}{path}", host.to_ascii_lowercase()),
        _ => format!("{scheme}://{}{path}", host.to_ascii_lowercase()),
    }
}

/// The signature base string (RFC 5849 3.4.1): method, base URI and the
/// normalized parameters (3.4.1.3.2: encoded, sorted by name then value,
/// joined with `=` and `&`). `params` are decoded pairs, `oauth_signature`
/// and `realm` already left out.
pub fn base_string(method: &str, base_uri: &str, params: &[(String, String)]) -> String {
    let mut encoded: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (percent_encode(k), percent_encode(v)))
        .collect();
    encoded.sort();
    let normalized = encoded
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        percent_encode(base_uri),
        percent_encode(&normalized)
    )
}

/// HMAC-SHA1 of the base string (RFC 5849 3.4.2), base64.
pub fn signature(base_string: &str, consumer_secret: &str, token_secret: &str) -> String {
    let key = format!(
        "{}&{}",
        percent_encode(consumer_secret),
        percent_encode(token_secret)
    );
    let mut mac = HmacSha1::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    mac.update(base_string.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// The query of a URL as decoded pairs (application/x-www-form-urlencoded,
/// as RFC 5849 3.4.1.3.1 reads it).
pub fn query_pairs(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Split an absolute `http(s)://host[:port]/path?query` URL.
fn split_url(url: &str) -> Option<(String, String, Option<u16>, String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let (authority, path_query) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), Some(p.parse().ok()?)),
        None => (authority.to_string(), None),
    };
    let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
    Some((
        scheme.to_string(),
        host,
        port,
        path.to_string(),
        query.to_string(),
    ))
}

/// The `Authorization: OAuth ...` header for a two-legged request (a
/// consumer key and secret, no token), as a client signs it.
pub fn sign(
    method: &str,
    url: &str,
    consumer_key: &str,
    consumer_secret: &str,
    timestamp: i64,
    nonce: &str,
) -> String {
    let oauth = vec![
        ("oauth_consumer_key".to_string(), consumer_key.to_string()),
        ("oauth_nonce".to_string(), nonce.to_string()),
        (
            "oauth_signature_method".to_string(),
            "HMAC-SHA1".to_string(),
        ),
        ("oauth_timestamp".to_string(), timestamp.to_string()),
        ("oauth_version".to_string(), "1.0".to_string()),
    ];
    let (scheme, host, port, path, query) = split_url(url).expect("an absolute URL");
    let mut params = oauth.clone();
    params.extend(query_pairs(&query));
    let base = base_string(method, &base_uri(&scheme, &host, port, &path), &params);
    let sig = signature(&base, consumer_secret, "");
    let mut fields: Vec<String> = oauth
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", percent_encode(v)))
        .collect();
    fields.push(format!("oauth_signature=\"{}\"", percent_encode(&sig)));
    format!("OAuth {}", fields.join(", "))
}

/// The parameters of an `Authorization: OAuth ...` header, decoded.
pub fn parse_header(header: &str) -> Option<Vec<(String, String)>> {
    let rest = header.trim();
    let rest = rest
        .get(..6)
        .filter(|p| p.eq_ignore_ascii_case("oauth "))
        .map(|_| &rest[6..])?;
    let mut out = Vec::new();
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (k, v) = part.split_once('=')?;
        let v = v.trim();
        let v = v.strip_prefix('"').and_then(|v| v.strip_suffix('"'))?;
        out.push((percent_decode(k.trim()), percent_decode(v)));
    }
    Some(out)
}

/// A request as the mock server saw it, to verify its OAuth 1.0a signature.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    pub scheme: &'a str,
    /// The `Host` header (`127.0.0.1:1234`).
    pub host: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub authorization: Option<&'a str>,
    /// The body when it is `application/x-www-form-urlencoded` (3.4.1.3.1).
    pub form_body: Option<&'a [u8]>,
}

/// What a verified request claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub consumer_key: String,
    pub timestamp: i64,
    pub nonce: String,
}

/// Verify a two-legged HMAC-SHA1 request. `secret_of` gives a consumer's
/// secret; the caller checks the timestamp window and nonce reuse.
pub fn verify(
    request: &SignedRequest,
    secret_of: impl Fn(&str) -> Option<String>,
) -> Result<Verified, String> {
    let mut oauth: Vec<(String, String)> = match request.authorization {
        Some(h) => parse_header(h).ok_or("the Authorization header is not a valid OAuth header")?,
        None => Vec::new(),
    };
    let query = query_pairs(request.query);
    // Parameters may also come in the query (RFC 5849 3.5.3).
    if oauth.is_empty() {
        oauth = query
            .iter()
            .filter(|(k, _)| k.starts_with("oauth_"))
            .cloned()
            .collect();
    }
    let get = |name: &str| {
        oauth
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let consumer_key = get("oauth_consumer_key").ok_or("no oauth_consumer_key")?;
    let provided = get("oauth_signature").ok_or("no oauth_signature")?;
    let method = get("oauth_signature_method").ok_or("no oauth_signature_method")?;
    if method != "HMAC-SHA1" {
        return Err(format!("signature method {method} is not HMAC-SHA1"));
    }
    if let Some(version) = get("oauth_version")
        && version != "1.0"
    {
        return Err(format!("oauth_version {version} is not 1.0"));
    }
    let timestamp: i64 = get("oauth_timestamp")
        .ok_or("no oauth_timestamp")?
        .parse()
        .map_err(|_| "oauth_timestamp is not a number")?;
    let nonce = get("oauth_nonce").ok_or("no oauth_nonce")?;
    if get("oauth_token").is_some() {
        return Err(
            "a token was sent, but this server is two-legged (consumer credentials only)".into(),
        );
    }
    let secret =
        secret_of(&consumer_key).ok_or_else(|| format!("unknown consumer key {consumer_key}"))?;

    let mut params: Vec<(String, String)> = oauth
        .iter()
        .filter(|(k, _)| k != "oauth_signature" && k != "realm")
        .cloned()
        .collect();
    let from_query = request.authorization.is_some();
    params.extend(
        query
            .into_iter()
            .filter(|(k, _)| from_query || k != "oauth_signature"),
    );
    if let Some(body) = request.form_body {
        params.extend(query_pairs(&String::from_utf8_lossy(body)));
    }
    let (host, port) = match request.host.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().ok()),
        None => (request.host, None),
    };
    let base = base_string(
        request.method,
        &base_uri(request.scheme, host, port, request.path),
        &params,
    );
    let key = format!("{}&", percent_encode(&secret));
    let mut mac = HmacSha1::new_from_slice(key.as_bytes()).expect("HMAC takes any key length");
    mac.update(base.as_bytes());
    let provided = STANDARD
        .decode(provided.trim())
        .map_err(|_| "oauth_signature is not base64")?;
    mac.verify_slice(&provided)
        .map_err(|_| format!("the signature does not match (base string {base})"))?;
    Ok(Verified {
        consumer_key,
        timestamp,
        nonce,
    })
}

/// `client_id:client_secret` from an HTTP Basic header, each part
/// form-urlencoded as RFC 6749 2.3.1 asks.
pub fn basic_credentials(header: &str) -> Option<(String, String)> {
    let encoded = header
        .trim()
        .strip_prefix("Basic ")
        .or_else(|| header.trim().strip_prefix("basic "))?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let un = |s: &str| {
        form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((un(id)?, un(secret)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// OAuth Core 1.0 appendix A.5: the photos example, with a token secret.
    #[test]
    fn the_specification_example_signs_as_published() {
        let params: Vec<(String, String)> = [
            ("file", "vacation.jpg"),
            ("size", "original"),
            ("oauth_consumer_key", "dpf43f3p2l4k3l03"),
            ("oauth_token", "nnch734d00sl2jdk"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", "1191242096"),
            ("oauth_nonce", "kllo9940pd9333jh"),
            ("oauth_version", "1.0"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let base = base_string(
            "GET",
            &base_uri("http", "photos.example.net", Some(80), "/photos"),
            &params,
        );
        assert_eq!(
            base,
            "GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3Dkllo9940pd9333jh%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1191242096%26oauth_token%3Dnnch734d00sl2jdk%26oauth_version%3D1.0%26size%3Doriginal"
        );
        assert_eq!(
            signature(&base, "kd94hf93k423kf44", "pfkkdhi9sl3r4s00"),
            "tR3+Ty81lMeYAr/Fid0kMTYa/WM="
        );
    }

    #[test]
    fn a_signed_request_verifies_and_a_changed_one_does_not() {
        let url = "http://127.0.0.1:8080/ims/oneroster/v1p1/users?limit=10&offset=0&filter=dateLastModified%3E%272024-01-01T00%3A00%3A00Z%27";
        let header = sign("GET", url, "key", "sec ret", 1_700_000_000, "n0nce");
        let (path, query) = url["http://127.0.0.1:8080".len()..]
            .split_once('?')
            .unwrap();
        fn request<'a>(path: &'a str, query: &'a str, header: &'a str) -> SignedRequest<'a> {
            SignedRequest {
                method: "GET",
                scheme: "http",
                host: "127.0.0.1:8080",
                path,
                query,
                authorization: Some(header),
                form_body: None,
            }
        }
        let header = header.as_str();
        let secret = |k: &str| (k == "key").then(|| "sec ret".to_string());
        let ok = verify(&request(path, query, header), secret).unwrap();
        assert_eq!(
            (ok.consumer_key.as_str(), ok.timestamp, ok.nonce.as_str()),
            ("key", 1_700_000_000, "n0nce")
        );
        assert!(verify(&request(path, "limit=10&offset=10", header), secret).is_err());
        assert!(verify(&request(path, query, header), |_| Some("wrong".to_string())).is_err());
        assert!(
            verify(&request(path, query, header), |_| None)
                .unwrap_err()
                .contains("unknown consumer key")
        );
    }

    #[test]
    fn basic_client_credentials_are_form_decoded() {
        let header = format!("Basic {}", STANDARD.encode("my%20id:p%40ss"));
        assert_eq!(
            basic_credentials(&header),
            Some(("my id".into(), "p@ss".into()))
        );
        assert_eq!(basic_credentials("Bearer x"), None);
    }
}
