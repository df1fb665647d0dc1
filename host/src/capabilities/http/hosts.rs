//! The allowed-hosts list of a connection: `host`, `host:port` or
//! `*.example.org[:port]`, matched case-insensitively against a URL's host
//! (and its port, when the pattern names one).

use url::{Host, Url};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    /// Normalised host (IDNA, lower case, no trailing dot); for a wildcard,
    /// the suffix with its leading dot (`.example.org`).
    host: String,
    wildcard: bool,
    port: Option<u16>,
    /// As configured, for messages.
    original: String,
}

impl HostPattern {
    /// Parse one pattern. A full URL is accepted and reduced to its host and
    /// explicit port. `*` alone (allow everything) is refused.
    pub fn parse(pattern: &str) -> Result<HostPattern, String> {
        let original = pattern.trim().to_string();
        let mut text = original.clone();
        if text.contains("://") {
            let url = Url::parse(&text)
                .map_err(|e| format!("allowed host `{original}` is not a host name or URL: {e}"))?;
            let host = url
                .host_str()
                .ok_or_else(|| format!("allowed host `{original}` has no host"))?;
            text = match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host.to_string(),
            };
        }
        if text.contains('/') || text.contains('@') {
            return Err(format!(
                "allowed host `{original}` must be a host name, `host:port` or `*.domain`"
            ));
        }
        let (host, port) = split_port(&text)
            .ok_or_else(|| format!("allowed host `{original}` has an invalid port"))?;
        let (wildcard, host) = match host.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, host),
        };
        if host.is_empty() || host.contains('*') {
            return Err(format!(
                "allowed host `{original}` is not allowed: name a host or a `*.domain` wildcard (allowing every host is not supported)"
            ));
        }
        let normalised = Host::parse(host.trim_end_matches('.'))
            .map_err(|e| format!("allowed host `{original}` is not a valid host name: {e}"))?
            .to_string()
            .to_ascii_lowercase();
        Ok(HostPattern {
            host: if wildcard {
                format!(".{normalised}")
            } else {
                normalised
            },
            wildcard,
            port,
            original,
        })
    }

    /// Whether `host` (as `Url::host_str` gives it) and `port` (explicit or
    /// the scheme's default) fall under this pattern.
    pub fn matches(&self, host: &str, port: Option<u16>) -> bool {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let host_ok = if self.wildcard {
            host.len() > self.host.len() && host.ends_with(&self.host)
        } else {
            host == self.host
        };
        host_ok && self.port.is_none_or(|p| Some(p) == port)
    }

    pub fn as_str(&self) -> &str {
        &self.original
    }
}

/// `host[:port]` or `[v6][:port]` → (host, port).
fn split_port(text: &str) -> Option<(&str, Option<u16>)> {
    if text.starts_with('[') {
        let end = text.find(']')?;
        let (host, rest) = text.split_at(end + 1);
        return match rest.strip_prefix(':') {
            Some(p) => Some((host, Some(p.parse().ok()?))),
            None if rest.is_empty() => Some((host, None)),
            None => None,
        };
    }
    match text.rsplit_once(':') {
        Some((host, port)) => Some((host, Some(port.parse().ok()?))),
        None => Some((text, None)),
    }
}

/// Whether any pattern allows `url`.
pub fn allowed(patterns: &[HostPattern], url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let port = url.port_or_known_default();
    patterns.iter().any(|p| p.matches(host, port))
}

/// `host` or `host:port` of a URL, as it appears in messages.
pub fn display_host(url: &Url) -> String {
    let host = url.host_str().unwrap_or("(no host)");
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(patterns: &[&str], url: &str) -> bool {
        let patterns: Vec<HostPattern> = patterns
            .iter()
            .map(|p| HostPattern::parse(p).unwrap())
            .collect();
        allowed(&patterns, &Url::parse(url).unwrap())
    }

    #[test]
    fn plain_hosts_match_any_port_case_insensitively() {
        assert!(ok(&["SIS.Example.org"], "https://sis.example.ORG/ims"));
        assert!(ok(&["sis.example.org"], "https://sis.example.org:8443/ims"));
        assert!(ok(&["sis.example.org."], "https://sis.example.org./ims"));
        assert!(!ok(&["sis.example.org"], "https://evil-sis.example.org/"));
        assert!(!ok(
            &["sis.example.org"],
            "https://sis.example.org.evil.test/"
        ));
        assert!(!ok(&[], "https://sis.example.org/"));
    }

    #[test]
    fn ports_when_given_must_match() {
        assert!(ok(&["127.0.0.1:8080"], "http://127.0.0.1:8080/x"));
        assert!(!ok(&["127.0.0.1:8080"], "http://127.0.0.1:8081/x"));
        assert!(ok(&["api.example.org:443"], "https://api.example.org/x"));
        assert!(!ok(&["api.example.org:443"], "http://api.example.org/x"));
        assert!(ok(&["[::1]:9000"], "http://[::1]:9000/"));
        assert!(!ok(&["[::1]:9000"], "http://[::1]:9001/"));
    }

    #[test]
    fn wildcards_match_subdomains_only() {
        assert!(ok(&["*.example.org"], "https://a.example.org/"));
        assert!(ok(&["*.Example.org"], "https://b.a.EXAMPLE.org/"));
        assert!(!ok(&["*.example.org"], "https://example.org/"));
        assert!(!ok(&["*.example.org"], "https://badexample.org/"));
        assert!(ok(&["*.example.org:8443"], "https://a.example.org:8443/"));
        assert!(!ok(&["*.example.org:8443"], "https://a.example.org/"));
    }

    #[test]
    fn urls_are_reduced_and_bad_patterns_refused() {
        assert!(ok(
            &["https://sis.example.org:8443/ims/"],
            "https://sis.example.org:8443/x"
        ));
        assert!(!ok(
            &["https://sis.example.org:8443/ims/"],
            "https://sis.example.org/x"
        ));
        for bad in [
            "*",
            "",
            "*.",
            "a/b",
            "host:notaport",
            "a.*.org",
            "user@host",
        ] {
            assert!(HostPattern::parse(bad).is_err(), "{bad}");
        }
    }
}
