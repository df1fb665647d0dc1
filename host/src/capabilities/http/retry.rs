//! When to try a request again, how long to wait first, the per-connection
//! rate limit, and the pause a server's quota headers ask for
//! (`X-RateLimit-Remaining: 0` until `X-RateLimit-Reset`). Pure timing
//! decisions: nothing here sends.

use std::time::Duration;

use rand::Rng as _;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::{HttpLimits, Method};

/// Whether a response with this status is worth sending again.
///
/// 429 and 503 mean the server did not act on the request ("slow down",
/// "come back later"), so every method is retried. Other 5xx answers may come
/// after the server acted, so only idempotent methods (GET, PUT, DELETE) are
/// retried on them: a POST that created a record is never sent twice.
pub fn retryable_status(method: Method, status: u16) -> bool {
    match status {
        429 | 503 => true,
        500..=599 => method.is_idempotent(),
        _ => false,
    }
}

/// The wait before retry number `retry` (0 for the first retry):
/// `initial_backoff * 2^retry`, capped at `max_backoff`, less up to 10 %
/// random jitter so many clients do not retry in step.
pub fn backoff(limits: &HttpLimits, retry: u32) -> Duration {
    let factor = 2u32.saturating_pow(retry.min(30));
    let base = limits
        .initial_backoff
        .saturating_mul(factor)
        .min(limits.max_backoff);
    let jitter_max = base / 10;
    if jitter_max.is_zero() {
        return base;
    }
    let jitter = rand::thread_rng().gen_range(Duration::ZERO..=jitter_max);
    base - jitter
}

/// The wait a `Retry-After` value asks for: delay-seconds or an HTTP date
/// (RFC 9110 §10.2.3), capped at `max_backoff`. `None` when it is neither.
pub fn retry_after(value: &str, max_backoff: Duration) -> Option<Duration> {
    let value = value.trim();
    let wait = if let Ok(seconds) = value.parse::<u64>() {
        Duration::from_secs(seconds)
    } else {
        let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
        let delta = when.with_timezone(&chrono::Utc) - chrono::Utc::now();
        delta.to_std().unwrap_or(Duration::ZERO)
    };
    Some(wait.min(max_backoff))
}

/// A per-connection rate limit: requests leave at most `rate` per second,
/// evenly spaced (no bursts). Waiting callers queue in order.
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl RateLimiter {
    /// `rate` must be positive and finite (checked by the caller).
    pub fn new(rate: f64) -> Self {
        RateLimiter {
            interval: Duration::from_secs_f64(1.0 / rate),
            next: Mutex::new(None),
        }
    }

    /// Wait for this request's slot.
    pub async fn acquire(&self) {
        let slot = {
            let mut next = self.next.lock().await;
            let now = Instant::now();
            let slot = match *next {
                Some(at) if at > now => at,
                _ => now,
            };
            *next = Some(slot + self.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// The longest a quota pause lasts, whatever the server's reset says (the
/// windows of the APIs that send these headers are a minute or an hour;
/// past this the request goes, and a 429 is retried as usual).
pub const MAX_QUOTA_PAUSE: Duration = Duration::from_secs(60);

/// The wait an `X-RateLimit-Reset` value asks for: a Unix time in seconds
/// (Clever, GitHub) or, for a small number, seconds from now; capped at
/// [`MAX_QUOTA_PAUSE`]. `None` when it is not a number.
pub fn quota_reset(value: &str, now_unix: i64) -> Option<Duration> {
    let n: i64 = value.trim().parse().ok()?;
    let seconds = if n > 1_000_000_000 { n - now_unix } else { n };
    Some(Duration::from_secs(seconds.max(0) as u64).min(MAX_QUOTA_PAUSE))
}

/// A connection's pause for a spent quota: a response that says no requests
/// remain (`X-RateLimit-Remaining: 0`) holds every request of the
/// connection until the quota resets, instead of spending retries on 429s.
#[derive(Debug, Default)]
pub struct QuotaPause {
    until: std::sync::Mutex<Option<Instant>>,
}

impl QuotaPause {
    /// Note what a response's quota headers say.
    pub fn observe(&self, remaining: Option<&str>, reset: Option<&str>) {
        let spent = remaining.and_then(|r| r.trim().parse::<u64>().ok()) == Some(0);
        let Some(wait) = reset
            .filter(|_| spent)
            .and_then(|r| quota_reset(r, chrono::Utc::now().timestamp()))
        else {
            return;
        };
        let at = Instant::now() + wait;
        let mut until = self.until.lock().unwrap_or_else(|p| p.into_inner());
        if until.is_none_or(|u| u < at) {
            *until = Some(at);
        }
    }

    /// Wait until the quota has reset, if a response said it was spent.
    pub async fn wait(&self) {
        let until = *self.until.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(at) = until.filter(|at| *at > Instant::now()) {
            tokio::time::sleep_until(at).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> HttpLimits {
        HttpLimits {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            ..HttpLimits::default()
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let l = limits();
        for _ in 0..20 {
            let b0 = backoff(&l, 0);
            assert!(
                b0 >= Duration::from_millis(90) && b0 <= Duration::from_millis(100),
                "{b0:?}"
            );
            let b2 = backoff(&l, 2);
            assert!(
                b2 >= Duration::from_millis(360) && b2 <= Duration::from_millis(400),
                "{b2:?}"
            );
            assert!(backoff(&l, 10) <= l.max_backoff);
            assert!(backoff(&l, u32::MAX) <= l.max_backoff);
        }
    }

    #[test]
    fn retry_after_seconds_dates_and_caps() {
        let cap = Duration::from_secs(30);
        assert_eq!(retry_after("2", cap), Some(Duration::from_secs(2)));
        assert_eq!(retry_after(" 3600 ", cap), Some(cap));
        assert_eq!(
            retry_after("Wed, 21 Oct 2015 07:28:00 GMT", cap),
            Some(Duration::ZERO)
        );
        let soon = (chrono::Utc::now() + chrono::Duration::seconds(10))
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let wait = retry_after(&soon, cap).unwrap();
        assert!(
            wait > Duration::from_secs(7) && wait <= Duration::from_secs(10),
            "{wait:?}"
        );
        assert_eq!(retry_after("soon", cap), None);
        assert_eq!(retry_after("-1", cap), None);
    }

    #[test]
    fn quota_resets_are_unix_times_or_seconds_and_capped() {
        let now = 1_722_515_405;
        assert_eq!(quota_reset("1722515410", now), Some(Duration::from_secs(5)));
        assert_eq!(quota_reset("1722515000", now), Some(Duration::ZERO));
        assert_eq!(quota_reset("30", now), Some(Duration::from_secs(30)));
        assert_eq!(quota_reset("86400", now), Some(MAX_QUOTA_PAUSE));
        assert_eq!(quota_reset("soon", now), None);
    }

    #[tokio::test]
    async fn a_spent_quota_holds_requests_until_it_resets() {
        let pause = QuotaPause::default();
        pause.observe(Some("5"), Some("1"));
        assert!(
            pause.until.lock().unwrap().is_none(),
            "requests remain: nothing waits"
        );
        let started = Instant::now();
        pause.observe(Some("0"), Some("1"));
        pause.wait().await;
        assert!(started.elapsed() >= Duration::from_millis(900));
    }

    #[test]
    fn which_statuses_are_retried() {
        assert!(retryable_status(Method::Get, 429));
        assert!(retryable_status(Method::Post, 429));
        assert!(retryable_status(Method::Post, 503));
        assert!(retryable_status(Method::Get, 500));
        assert!(retryable_status(Method::Put, 502));
        assert!(!retryable_status(Method::Post, 500));
        assert!(!retryable_status(Method::Patch, 502));
        assert!(!retryable_status(Method::Get, 404));
        assert!(!retryable_status(Method::Get, 401));
    }

    #[tokio::test]
    async fn rate_limiter_spaces_requests() {
        let limiter = RateLimiter::new(50.0); // 20 ms apart
        let start = Instant::now();
        for _ in 0..5 {
            limiter.acquire().await;
        }
        // The first goes at once, the next four 20 ms apart.
        assert!(
            start.elapsed() >= Duration::from_millis(75),
            "{:?}",
            start.elapsed()
        );
    }
}
