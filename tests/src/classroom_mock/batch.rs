//! Google's batch protocol at the discovery document's `batchPath`
//! (`POST /batch`, also the older per-API `/batch/classroom/v1`): a
//! `multipart/mixed` body of `application/http` parts, each a whole HTTP
//! request (request line, headers, body); the answer is `multipart/mixed`
//! with one `application/http` part per request, in order, each with its
//! own status line, headers and body, and `Content-ID: <response-ID>` for a
//! request part's `Content-ID: <ID>`. Headers of the outer request (not the
//! `Content-` ones) apply to every part; a part's own header of the same
//! name wins.

use std::sync::Mutex;

use axum::http::{HeaderMap, Method, StatusCode, header};

use super::api::{self, ApiRequest, Via};
use super::wire::{Answer, ApiError, header_map};
use super::{State, lock};

/// One request part: its `Content-ID` (without the angle brackets) and
/// the request, or why it could not be read.
struct Part {
    content_id: Option<String>,
    request: Result<ApiRequest, ApiError>,
}

pub(crate) fn serve(
    state: &Mutex<State>,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> Answer {
    let max = {
        let mut s = lock(state);
        s.batch_requests += 1;
        s.config.max_batch_parts
    };
    if method != Method::POST {
        return ApiError::new(405, "INVALID_ARGUMENT", "A batch request is a POST.").answer(true);
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some(boundary) = boundary(content_type) else {
        return ApiError::invalid(
            "A batch request must have Content-Type multipart/mixed with a boundary.",
        )
        .answer(true);
    };
    let raw_parts = match split(body, &boundary) {
        Ok(p) => p,
        Err(e) => return e.answer(true),
    };
    if raw_parts.is_empty() {
        return ApiError::invalid("A batch request must contain at least one part.").answer(true);
    }
    if raw_parts.len() > max {
        return ApiError::invalid(format!(
            "A batch request can contain at most {max} calls; this one contains {}.",
            raw_parts.len()
        ))
        .answer(true);
    }
    let outer_auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let parts: Vec<Part> = raw_parts
        .iter()
        .map(|p| parse_part(p, outer_auth.as_deref()))
        .collect();
    let out_boundary = format!("batch_{}", lock(state).random_text(24));
    let mut out = Vec::new();
    for part in parts {
        let answer = match part.request {
            Ok(req) => api::call(&mut lock(state), &req),
            Err(e) => e.answer(true),
        };
        out.extend_from_slice(format!("--{out_boundary}\r\n").as_bytes());
        out.extend_from_slice(b"Content-Type: application/http\r\n");
        if let Some(id) = &part.content_id {
            out.extend_from_slice(format!("Content-ID: <response-{id}>\r\n").as_bytes());
        }
        out.extend_from_slice(b"\r\n");
        let reason = StatusCode::from_u16(answer.status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("");
        out.extend_from_slice(format!("HTTP/1.1 {} {reason}\r\n", answer.status).as_bytes());
        for (k, v) in &answer.headers {
            out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", answer.body.len()).as_bytes());
        out.extend_from_slice(&answer.body);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{out_boundary}--\r\n").as_bytes());
    Answer {
        status: 200,
        headers: vec![(
            "Content-Type".into(),
            format!("multipart/mixed; boundary={out_boundary}"),
        )],
        body: out,
    }
}

/// The boundary of a `multipart/mixed` content type.
fn boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    let mime = params.next()?.trim();
    if !mime.eq_ignore_ascii_case("multipart/mixed") {
        return None;
    }
    params.find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"').to_string())
            .filter(|b| !b.is_empty())
    })
}

/// The parts of a multipart body (RFC 2046 section 5.1.1): each delimiter
/// `--boundary` begins a line; the one followed by `--` closes the body.
/// CRLF or bare LF line ends are taken.
fn split(body: &[u8], boundary: &str) -> Result<Vec<Vec<u8>>, ApiError> {
    let delim = format!("--{boundary}");
    let d = delim.as_bytes();
    let mut starts = Vec::new();
    let mut i = 0;
    while i + d.len() <= body.len() {
        if &body[i..i + d.len()] == d && (i == 0 || body[i - 1] == b'\n') {
            starts.push(i);
            i += d.len();
        } else {
            i += 1;
        }
    }
    let mut parts = Vec::new();
    let mut closed = false;
    for (n, &at) in starts.iter().enumerate() {
        let after = at + d.len();
        if body[after..].starts_with(b"--") {
            closed = true;
            break;
        }
        // The rest of the delimiter line (transport padding) is skipped.
        let Some(eol) = body[after..].iter().position(|&b| b == b'\n') else {
            break;
        };
        let content_start = after + eol + 1;
        let Some(&next) = starts.get(n + 1) else {
            break;
        };
        // The line break before the next delimiter belongs to it.
        let mut end = next;
        if end > content_start && body[end - 1] == b'\n' {
            end -= 1;
            if end > content_start && body[end - 1] == b'\r' {
                end -= 1;
            }
        }
        parts.push(body[content_start..end.max(content_start)].to_vec());
    }
    if !closed {
        return Err(ApiError::invalid(
            "The multipart batch body is not closed by its boundary.",
        ));
    }
    Ok(parts)
}

/// Split at the first blank line: header lines, and what follows.
fn head_and_rest(bytes: &[u8]) -> (Vec<(String, String)>, Option<String>, &[u8]) {
    let mut lines = Vec::new();
    let mut first = None;
    let mut pos = 0;
    loop {
        let Some(eol) = bytes[pos..].iter().position(|&b| b == b'\n') else {
            let line = String::from_utf8_lossy(&bytes[pos..]).trim().to_string();
            if !line.is_empty() {
                push_line(&mut lines, &mut first, line);
            }
            return (lines, first, &[]);
        };
        let line = String::from_utf8_lossy(&bytes[pos..pos + eol])
            .trim_end_matches('\r')
            .to_string();
        pos += eol + 1;
        if line.is_empty() {
            return (lines, first, &bytes[pos..]);
        }
        push_line(&mut lines, &mut first, line);
    }
}

fn push_line(lines: &mut Vec<(String, String)>, first: &mut Option<String>, line: String) {
    match line.split_once(':') {
        Some((k, v)) if !k.contains(' ') => {
            lines.push((k.trim().to_string(), v.trim().to_string()));
        }
        _ if first.is_none() && lines.is_empty() => *first = Some(line),
        _ => {}
    }
}

fn parse_part(raw: &[u8], outer_auth: Option<&str>) -> Part {
    let (mime_headers, _, http) = head_and_rest(raw);
    let mime = header_map(&mime_headers);
    let content_id = mime.get("content-id").map(|v| {
        v.trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_string()
    });
    let request = (|| {
        let ct = mime.get("content-type").map(String::as_str).unwrap_or("");
        if !ct
            .trim()
            .to_ascii_lowercase()
            .starts_with("application/http")
        {
            return Err(ApiError::invalid(
                "Each part of a batch request must have Content-Type application/http.",
            ));
        }
        // Skip blank lines before the request line.
        let start = http
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(http.len());
        let (headers, request_line, body) = head_and_rest(&http[start..]);
        let request_line =
            request_line.ok_or_else(|| ApiError::invalid("A batch part has no request line."))?;
        let mut words = request_line.split_whitespace();
        let method = words.next().unwrap_or("").to_ascii_uppercase();
        let target = words.next().unwrap_or("");
        if method.is_empty() || target.is_empty() {
            return Err(ApiError::invalid(format!(
                "Malformed request line in a batch part: '{request_line}'"
            )));
        }
        // An absolute URL keeps only its path and query.
        let target = match target.split_once("://") {
            Some((_, rest)) => rest.find('/').map(|i| &rest[i..]).unwrap_or("/"),
            None => target,
        };
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let h = header_map(&headers);
        let mut body = body.to_vec();
        if let Some(n) = h
            .get("content-length")
            .and_then(|v| v.parse::<usize>().ok())
            && n <= body.len()
        {
            body.truncate(n);
        }
        while body.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            body.pop();
        }
        Ok(ApiRequest {
            method,
            path: path.to_string(),
            query: query.to_string(),
            authorization: h
                .get("authorization")
                .cloned()
                .or_else(|| outer_auth.map(str::to_string)),
            body,
            via: Via::Batch,
        })
    })();
    Part {
        content_id,
        request,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_parts_with_crlf_and_lf() {
        let body = b"preamble\r\n--b\r\nA: 1\r\n\r\nx\r\n--b\nB: 2\n\ny\n--b--\r\n";
        let parts = split(body, "b").unwrap();
        assert_eq!(
            parts,
            vec![b"A: 1\r\n\r\nx".to_vec(), b"B: 2\n\ny".to_vec()]
        );
    }

    #[test]
    fn boundary_quoted() {
        assert_eq!(
            boundary("multipart/mixed; boundary=\"batch_x\"").as_deref(),
            Some("batch_x")
        );
        assert_eq!(boundary("application/json"), None);
    }
}
