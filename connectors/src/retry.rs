//! Retrying HTTP calls to throttling APIs (Microsoft Graph, Google Directory): wait what the
//! server asks (`Retry-After`), else back off exponentially up to a cap, and give up after a
//! number of attempts so a dead source fails the run instead of hanging it.

use std::future::Future;
use std::time::{Duration, SystemTime};

use reqwest::header::{HeaderMap, RETRY_AFTER};

use crate::ConnectorError;

/// How long to keep trying. Configurable per connector (`maxRetries`, `maxBackoffSeconds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first backoff; each further one doubles, up to `max_backoff`.
    pub base_backoff: Duration,
    /// The longest wait, for backoff and for a server's `Retry-After` alike.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { max_retries: 8, base_backoff: Duration::from_millis(500), max_backoff: Duration::from_secs(60) }
    }
}

/// What one attempt came to.
#[derive(Debug)]
pub enum Attempt<T> {
    Done(T),
    /// A transient failure: try again after `after` if the server said, else after the backoff.
    Retry {
        after: Option<Duration>,
        reason: String,
    },
    Fail(ConnectorError),
}

impl RetryPolicy {
    /// The wait before retry number `retry` (0-based) when the server did not say.
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX);
        self.base_backoff.saturating_mul(factor).min(self.max_backoff)
    }

    /// Runs `attempt` until it is done, fails, or the retries are spent; `what` names the call in
    /// the error ("GET /users/delta").
    pub async fn run<T, F, Fut>(&self, what: &str, mut attempt: F) -> Result<T, ConnectorError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Attempt<T>>,
    {
        let mut retry = 0;
        loop {
            match attempt().await {
                Attempt::Done(value) => return Ok(value),
                Attempt::Fail(error) => return Err(error),
                Attempt::Retry { after, reason } => {
                    if retry >= self.max_retries {
                        return Err(ConnectorError::Source(format!(
                            "{what}: gave up after {} attempts, the last one: {reason}",
                            retry + 1
                        )));
                    }
                    let wait = after.unwrap_or_else(|| self.backoff(retry)).min(self.max_backoff);
                    tracing::warn!(call = what, %reason, wait_ms = wait.as_millis() as u64, "retrying");
                    tokio::time::sleep(wait).await;
                    retry += 1;
                }
            }
        }
    }
}

/// The wait a `Retry-After` header asks for: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn quick() -> RetryPolicy {
        RetryPolicy { max_retries: 3, base_backoff: Duration::from_millis(1), max_backoff: Duration::from_millis(4) }
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy {
            max_retries: 50,
            base_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(5),
        };
        let waits: Vec<_> = (0..6).map(|n| policy.backoff(n).as_millis()).collect();
        assert_eq!(waits, [500, 1000, 2000, 4000, 5000, 5000]);
        assert_eq!(policy.backoff(40), Duration::from_secs(5));
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        headers.insert(RETRY_AFTER, HeaderValue::from_str(&later).unwrap());
        let wait = retry_after(&headers).unwrap();
        assert!(wait > Duration::from_secs(100) && wait <= Duration::from_secs(120), "{wait:?}");
        headers.insert(RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }

    #[tokio::test]
    async fn retries_until_done() {
        let calls = AtomicU32::new(0);
        let value = quick()
            .run("GET /x", || async {
                match calls.fetch_add(1, Ordering::SeqCst) {
                    0 => Attempt::Retry { after: Some(Duration::from_millis(1)), reason: "429".into() },
                    1 => Attempt::Retry { after: None, reason: "503".into() },
                    n => Attempt::Done(n),
                }
            })
            .await
            .unwrap();
        assert_eq!(value, 2);
    }

    #[tokio::test]
    async fn gives_up_after_the_retries_naming_the_call_and_the_last_reason() {
        let calls = AtomicU32::new(0);
        let error = quick()
            .run("GET /users/delta", || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Attempt::<()>::Retry { after: None, reason: "HTTP 503".into() }
            })
            .await
            .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        assert_eq!(error.to_string(), "GET /users/delta: gave up after 4 attempts, the last one: HTTP 503");
    }

    #[tokio::test]
    async fn a_failure_is_not_retried() {
        let calls = AtomicU32::new(0);
        let error = quick()
            .run("GET /x", || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Attempt::<()>::Fail(ConnectorError::Source("401 from the token endpoint".into()))
            })
            .await
            .unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(error.to_string().contains("401"));
    }
}
