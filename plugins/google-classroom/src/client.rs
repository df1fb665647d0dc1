//! One Classroom call: what it is ([`Call`]: method, API path with its
//! query, JSON body), what came back ([`Reply`]), sending it on its own
//! through the host, and the encoding of ids in paths and queries. The
//! batch module sends many calls in one request; both answer [`Reply`]s.

use homeroom_sdk::connector_bindings::homeroom::plugin::http::{Method, Request};
use serde_json::Value as Json;

use crate::config::Config;
use crate::env::Env;
use crate::errors::{ApiError, Failure};

/// One API call: `path` starts `/v1/` and carries its query.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: Method,
    pub path: String,
    pub body: Option<Json>,
    /// Whether a 429 of this call is worth another try in the same export
    /// (a rate limit is; the daily cap on invitations is not).
    pub retry_throttled: bool,
}

impl Call {
    pub fn new(method: Method, path: impl Into<String>, body: Option<Json>) -> Call {
        Call {
            method,
            path: path.into(),
            body,
            retry_throttled: true,
        }
    }

    pub fn get(path: impl Into<String>) -> Call {
        Call::new(Method::Get, path, None)
    }

    pub fn post(path: impl Into<String>, body: Json) -> Call {
        Call::new(Method::Post, path, Some(body))
    }

    pub fn patch(path: impl Into<String>, body: Json) -> Call {
        Call::new(Method::Patch, path, Some(body))
    }

    pub fn delete(path: impl Into<String>) -> Call {
        Call::new(Method::Delete, path, None)
    }

    /// `GET`, as a request line says it.
    pub fn verb(&self) -> &'static str {
        match self.method {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// What Classroom answered one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON; `null` when it is not JSON (never a panic).
    pub fn json(&self) -> Json {
        serde_json::from_slice(&self.body).unwrap_or(Json::Null)
    }

    pub fn error(&self) -> ApiError {
        ApiError::parse(self.status, &self.body)
    }

    /// A text field of the JSON body.
    pub fn text(&self, name: &str) -> Option<String> {
        self.json()
            .get(name)
            .and_then(Json::as_str)
            .map(str::to_string)
    }
}

/// Send one call on its own.
pub fn send(
    env: &mut dyn Env,
    config: &Config,
    call: &Call,
    doing: &str,
) -> Result<Reply, Failure> {
    let mut headers = vec![("accept".to_string(), "application/json".to_string())];
    let body = call.body.as_ref().map(|b| {
        headers.push(("content-type".to_string(), "application/json".to_string()));
        b.to_string().into_bytes()
    });
    let request = Request {
        method: call.method,
        url: config.url(&call.path),
        headers,
        body,
    };
    let response = env
        .send(&request)
        .map_err(|e| Failure::from_http(e, doing))?;
    Ok(Reply {
        status: response.status,
        body: response.body,
    })
}

/// GET a JSON document; any answer but 2xx becomes its failure.
pub fn get_json(
    env: &mut dyn Env,
    config: &Config,
    path: &str,
    doing: &str,
) -> Result<Json, Failure> {
    let reply = send(env, config, &Call::get(path), doing)?;
    if reply.ok() {
        Ok(reply.json())
    } else {
        Err(reply.error().failure(doing))
    }
}

/// Percent-encode a path segment (ids, aliases, emails): unreserved
/// characters, `@` and `:` stay.
pub fn seg(text: &str) -> String {
    encode(text, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'@' | b':')
    })
}

/// Percent-encode a query value.
pub fn query(text: &str) -> String {
    encode(text, |b| {
        b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
    })
}

fn encode(text: &str, keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if keep(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_encoded_for_paths_and_queries() {
        assert_eq!(seg("d:homeroom-c1"), "d:homeroom-c1");
        assert_eq!(seg("a+b@d.org"), "a%2Bb@d.org");
        assert_eq!(seg("x/y z"), "x%2Fy%20z");
        assert_eq!(query("a@d.org"), "a%40d.org");
        let r = Reply {
            status: 200,
            body: b"not json".to_vec(),
        };
        assert_eq!(r.json(), Json::Null);
        assert_eq!(r.text("id"), None);
    }
}
