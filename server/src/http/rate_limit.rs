//! Per-token request rate limit (GCRA through `governor`). Identity providers back off on 429 with
//! `Retry-After`; one misbehaving client then cannot starve the others.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::config::AuthConfig;

pub struct RateLimit {
    limiter: Option<DefaultKeyedRateLimiter<String>>,
}

impl RateLimit {
    pub fn new(config: &AuthConfig) -> RateLimit {
        let limiter = NonZeroU32::new(config.rate_limit_per_second).map(|rate| {
            let burst = NonZeroU32::new(config.rate_limit_burst).unwrap_or(rate).max(rate);
            DefaultKeyedRateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        RateLimit { limiter }
    }

    /// `Err(wait)`: the token is over its rate; it may send again after `wait`.
    pub fn check(&self, token_id: &str) -> Result<(), Duration> {
        let Some(limiter) = &self.limiter else { return Ok(()) };
        limiter
            .check_key(&token_id.to_owned())
            // The limiter's own clock: building a new one calibrates it, too slow for every 429.
            .map_err(|not_until| not_until.wait_time_from(limiter.clock().now()))
    }
}

/// `Retry-After` is whole seconds (RFC 9110 §10.2.3): round up, so a client never retries too early.
pub fn retry_after_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limit(per_second: u32, burst: u32) -> RateLimit {
        RateLimit::new(&AuthConfig {
            token_cache_seconds: 0,
            rate_limit_per_second: per_second,
            rate_limit_burst: burst,
        })
    }

    #[test]
    fn a_token_gets_its_burst_then_waits() {
        let limit = limit(1, 3);
        for _ in 0..3 {
            assert_eq!(limit.check("a"), Ok(()));
        }
        let wait = limit.check("a").expect_err("over the burst");
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1), "{wait:?}");
        assert_eq!(limit.check("b"), Ok(()), "tokens are limited separately");
    }

    #[test]
    fn zero_turns_the_limit_off() {
        let limit = limit(0, 0);
        for _ in 0..10_000 {
            assert_eq!(limit.check("a"), Ok(()));
        }
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_secs(2)), 2);
        assert_eq!(retry_after_seconds(Duration::from_millis(2001)), 3);
    }
}
