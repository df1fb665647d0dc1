//! Google's batch protocol: many independent calls in one request
//! (`POST {service}/batch`, a `multipart/mixed` body of `application/http`
//! parts, each a whole HTTP request with a `Content-ID`), answered by a
//! `multipart/mixed` body with one `application/http` part per call, each
//! with its own status line, headers and JSON body, and `Content-ID:
//! <response-ID>`.
//!
//! [`run`] sends a list of calls at most `batch_size` (Classroom: 50) to a
//! request and answers one [`Reply`] per call, in order. The host retries a
//! whole request that answers 429 or 5xx, but it cannot see inside a batch,
//! where one part may answer 429 `RESOURCE_EXHAUSTED` or 503 while the
//! others succeed: those parts go again in a new batch, up to
//! [`PART_RETRIES`] times, and whatever still fails is answered as it last
//! came back (the caller makes it a `retry`).

use homeroom_sdk::connector_bindings::homeroom::plugin::http::{Method, Request};

use crate::client::{Call, Reply};
use crate::config::Config;
use crate::env::Env;
use crate::errors::{ApiError, Failure};

/// How many times a part answering 429 or 5xx is sent again.
pub const PART_RETRIES: usize = 3;

/// The boundary of the request body. Bodies are JSON on one line (a line
/// break inside a string is escaped), so no line of a part begins with it.
pub const BOUNDARY: &str = "homeroom_batch_c1a55r00m";

/// Send `calls`; one answer per call, in order. A request the host could
/// not carry out (after its own retries) answers its failure for each of
/// its calls.
pub fn run(
    env: &mut dyn Env,
    config: &Config,
    calls: &[Call],
    doing: &str,
) -> Vec<Result<Reply, Failure>> {
    let mut results: Vec<Option<Result<Reply, Failure>>> = vec![None; calls.len()];
    let mut pending: Vec<usize> = (0..calls.len()).collect();
    let size = config.batch_size.clamp(1, crate::config::MAX_BATCH_SIZE);
    for round in 0..=PART_RETRIES {
        if pending.is_empty() {
            break;
        }
        let last_round = round == PART_RETRIES;
        let mut again = Vec::new();
        for chunk in pending.chunks(size) {
            let batch: Vec<&Call> = chunk.iter().map(|&i| &calls[i]).collect();
            match send(env, config, &batch, doing) {
                Ok(replies) => {
                    for (k, &i) in chunk.iter().enumerate() {
                        match replies.get(k).cloned().flatten() {
                            Some(reply) => {
                                if !last_round && worth_again(&calls[i], &reply) {
                                    again.push(i);
                                }
                                results[i] = Some(Ok(reply));
                            }
                            None => {
                                if !last_round {
                                    again.push(i);
                                }
                                results[i] = Some(Err(Failure::Later(format!(
                                    "Classroom's answer to the batch for {doing} left this call out"
                                ))));
                            }
                        }
                    }
                }
                Err(failure) => {
                    for &i in chunk {
                        results[i] = Some(Err(failure.clone()));
                    }
                }
            }
        }
        pending = again;
    }
    results
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| Err(Failure::Later(format!("the call for {doing} was not sent"))))
        })
        .collect()
}

/// A part worth sending again in this export.
fn worth_again(call: &Call, reply: &Reply) -> bool {
    if reply.status >= 500 {
        return true;
    }
    let error = reply.error();
    error.is_exhausted() && call.retry_throttled
}

/// One batch request: the replies by position (none where the answer left
/// a call out).
fn send(
    env: &mut dyn Env,
    config: &Config,
    calls: &[&Call],
    doing: &str,
) -> Result<Vec<Option<Reply>>, Failure> {
    let body = encode_request(calls, config.path_prefix());
    let request = Request {
        method: Method::Post,
        url: config.url("/batch"),
        headers: vec![(
            "content-type".to_string(),
            format!("multipart/mixed; boundary={BOUNDARY}"),
        )],
        body: Some(body),
    };
    let response = env
        .send(&request)
        .map_err(|e| Failure::from_http(e, doing))?;
    if !(200..300).contains(&response.status) {
        return Err(ApiError::parse(response.status, &response.body).failure(doing));
    }
    let content_type = response
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    let parts = parse_response(content_type, &response.body).map_err(|why| {
        Failure::Later(format!(
            "Classroom's answer to the batch for {doing} could not be read ({why})"
        ))
    })?;
    let mut replies: Vec<Option<Reply>> = vec![None; calls.len()];
    for (n, (id, reply)) in parts.into_iter().enumerate() {
        // By Content-ID when the part has one of ours, else by position.
        let at = id.unwrap_or(n);
        if let Some(slot) = replies.get_mut(at)
            && slot.is_none()
        {
            *slot = Some(reply);
        }
    }
    Ok(replies)
}

/// The body of a batch request: one `application/http` part per call,
/// `Content-ID: <item-N>` for the call at position N.
pub fn encode_request(calls: &[&Call], path_prefix: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, call) in calls.iter().enumerate() {
        out.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        out.extend_from_slice(b"Content-Type: application/http\r\n");
        out.extend_from_slice(format!("Content-ID: <item-{n}>\r\n\r\n").as_bytes());
        out.extend_from_slice(
            format!("{} {path_prefix}{} HTTP/1.1\r\n", call.verb(), call.path).as_bytes(),
        );
        out.extend_from_slice(b"Accept: application/json\r\n");
        match &call.body {
            Some(body) => {
                let body = body.to_string();
                out.extend_from_slice(b"Content-Type: application/json; charset=UTF-8\r\n");
                out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
                out.extend_from_slice(body.as_bytes());
                out.extend_from_slice(b"\r\n");
            }
            None => out.extend_from_slice(b"\r\n"),
        }
    }
    out.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    out
}

/// The parts of a batch answer: each part's position from its
/// `Content-ID` (`<response-item-N>`) when it has one, and its reply.
pub fn parse_response(
    content_type: &str,
    body: &[u8],
) -> Result<Vec<(Option<usize>, Reply)>, String> {
    let boundary = boundary(content_type)
        .ok_or_else(|| format!("it is not multipart/mixed (Content-Type `{content_type}`)"))?;
    let parts = split(body, &boundary)?;
    let mut out = Vec::new();
    for part in parts {
        let (mime, http) = head(part);
        let id = header(&mime, "content-id").and_then(|v| {
            let v = v.trim().trim_start_matches('<').trim_end_matches('>');
            let v = v.strip_prefix("response-").unwrap_or(v);
            v.strip_prefix("item-")?.parse::<usize>().ok()
        });
        // Blank lines before the status line are allowed.
        let start = http
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(http.len());
        let http = &http[start..];
        let eol = http.iter().position(|&b| b == b'\n').unwrap_or(http.len());
        let status_line = String::from_utf8_lossy(&http[..eol]).trim().to_string();
        let status = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .filter(|_| status_line.starts_with("HTTP/"))
            .ok_or_else(|| format!("a part has no HTTP status line (`{status_line}`)"))?;
        let rest = if eol < http.len() {
            &http[eol + 1..]
        } else {
            &[]
        };
        let (headers, mut payload) = head(rest);
        if let Some(n) = header(&headers, "content-length").and_then(|v| v.trim().parse().ok())
            && n <= payload.len()
        {
            payload = &payload[..n];
        }
        let mut payload = payload.to_vec();
        while payload.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            payload.pop();
        }
        out.push((
            id,
            Reply {
                status,
                body: payload,
            },
        ));
    }
    Ok(out)
}

/// The boundary of a `multipart/mixed` content type.
pub fn boundary(content_type: &str) -> Option<String> {
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

/// The parts of a multipart body (RFC 2046 5.1.1): a delimiter
/// `--boundary` begins a line, the one followed by `--` ends the body, the
/// line break before a delimiter belongs to it. CRLF or bare LF.
pub fn split<'a>(body: &'a [u8], boundary: &str) -> Result<Vec<&'a [u8]>, String> {
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
    for (n, &at) in starts.iter().enumerate() {
        let after = at + d.len();
        if body[after..].starts_with(b"--") {
            return Ok(parts);
        }
        let Some(eol) = body[after..].iter().position(|&b| b == b'\n') else {
            break;
        };
        let content = after + eol + 1;
        let Some(&next) = starts.get(n + 1) else {
            break;
        };
        let mut end = next;
        if end > content && body[end - 1] == b'\n' {
            end -= 1;
            if end > content && body[end - 1] == b'\r' {
                end -= 1;
            }
        }
        parts.push(&body[content..end.max(content)]);
    }
    Err("the multipart body is not closed by its boundary".to_string())
}

/// Header lines up to the first blank line, and what follows it.
pub fn head(bytes: &[u8]) -> (Vec<(String, String)>, &[u8]) {
    let mut headers = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let eol = bytes[pos..]
            .iter()
            .position(|&b| b == b'\n')
            .map(|e| pos + e)
            .unwrap_or(bytes.len());
        let line = String::from_utf8_lossy(&bytes[pos..eol])
            .trim_end_matches('\r')
            .to_string();
        pos = (eol + 1).min(bytes.len());
        if line.is_empty() {
            return (headers, &bytes[pos..]);
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    (headers, &[])
}

/// A header's value (case-insensitive name).
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}
