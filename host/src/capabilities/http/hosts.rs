//! The allowed-hosts list of a connection: `host`, `host:port` or
//! `*.example.org[:port]`, matched case-insensitively against a URL's host
//! (and its port, when the pattern names one); and [`Origin`], the exact
//! scheme, host and port a connection's credentials are sent to.

use std::fmt;

use url::{Host, Url};

/// A URL's origin: scheme, host and port, the scheme's default port filled
/// in (`https://sis.example.org` and `https://SIS.example.org:443/x` are one
/// origin; `http://sis.example.org` and `https://sis.example.org:8443` are
/// two others). Credentials go to one origin and no other.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    scheme: String,
    /// Lower case, no trailing dot; an IPv6 address in brackets.
    host: String,
    port: u16,
    loopback: bool,
}

impl Origin {
    /// The origin of an http or https URL with a host; `None` for anything
    /// else.
    pub fn of(url: &Url) -> Option<Origin> {
        let scheme = url.scheme().to_ascii_lowercase();
        if !matches!(scheme.as_str(), "http" | "https") {
            return None;
        }
        let port = url.port_or_known_default()?;
        let (host, loopback) = match url.host()? {
            Host::Domain(d) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                if d.is_empty() {
                    return None;
                }
                let loopback = d == "localhost";
                (d, loopback)
            }
            Host::Ipv4(ip) => (ip.to_string(), ip.is_loopback()),
            Host::Ipv6(ip) => (
                format!("[{ip}]"),
                ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()),
            ),
        };
        Some(Origin {
            scheme,
            host,
            port,
            loopback,
        })
    }

    /// The origin of a URL as text (a setting's value).
    pub fn parse(url: &str) -> Option<Origin> {
        Url::parse(url.trim()).ok().as_ref().and_then(Origin::of)
    }

    /// This machine: 127.0.0.0/8, ::1 or `localhost`.
    pub fn is_loopback(&self) -> bool {
        self.loopback
    }

    /// Whether credentials may travel to it: https, or plain http to this
    /// machine (nothing leaves it).
    pub fn is_secure_channel(&self) -> bool {
        self.scheme == "https" || self.loopback
    }

    pub fn host(&self) -> &str {
        &self.host
    }
}

impl fmt::Display for Origin {
    /// `scheme://host`, with `:port` when it is not the scheme's default.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let default = match self.scheme.as_str() {
            "https" => 443,
            _ => 80,
        };
        if self.port == default {
            write!(f, "{}://{}", self.scheme, self.host)
        } else {
            write!(f, "{}://{}:{}", self.scheme, self.host, self.port)
        }
    }
}

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
    /// port (explicit, or its scheme's default). `*` alone (allow everything) is refused.
    pub fn parse(pattern: &str) -> Result<HostPattern, String> {
        let original = pattern.trim().to_string();
        let mut text = original.clone();
        if text.contains("://") {
            let url = Url::parse(&text)
                .map_err(|e| format!("allowed host `{original}` is not a host name or URL: {e}"))?;
            let host = url
                .host_str()
                .ok_or_else(|| format!("allowed host `{original}` has no host"))?;
            // A URL (a resolved `{service_url}`) allows its own port only:
            // the scheme's default when it names none.
            text = match url.port_or_known_default() {
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
    fn origins_are_scheme_host_and_port_with_default_ports_filled_in() {
        let o = |u: &str| Origin::parse(u).unwrap();
        assert_eq!(
            o("https://SIS.example.org/ims"),
            o("https://sis.example.org:443/x?y")
        );
        assert_eq!(o("https://sis.example.org./"), o("https://sis.example.org"));
        assert_ne!(o("https://localhost"), o("http://localhost:80"));
        assert_ne!(o("https://localhost"), o("https://localhost:8443"));
        assert_ne!(o("https://a.example.org"), o("https://b.example.org"));
        assert_eq!(
            o("https://sis.example.org:443").to_string(),
            "https://sis.example.org"
        );
        assert_eq!(
            o("http://127.0.0.1:8080/x").to_string(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(o("http://[::1]:9000/").to_string(), "http://[::1]:9000");
        for local in [
            "http://localhost:1",
            "http://127.0.0.1",
            "http://127.9.8.7",
            "http://[::1]",
        ] {
            assert!(
                o(local).is_loopback() && o(local).is_secure_channel(),
                "{local}"
            );
        }
        for remote in [
            "http://sis.example.org",
            "http://10.0.0.1",
            "http://localhost.example.org",
        ] {
            assert!(
                !o(remote).is_loopback() && !o(remote).is_secure_channel(),
                "{remote}"
            );
        }
        assert!(o("https://sis.example.org").is_secure_channel());
        assert!(Origin::parse("ftp://sis.example.org").is_none());
        assert!(Origin::parse("not a url").is_none());
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
        // A URL without a port allows its scheme's port only.
        assert!(ok(&["https://localhost"], "https://localhost/x"));
        assert!(!ok(&["https://localhost"], "http://localhost/x"));
        assert!(!ok(&["https://localhost"], "https://localhost:8443/x"));
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
