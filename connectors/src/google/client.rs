//! Pages of the Directory API. Every request goes through the retry policy: Google's quota errors
//! (403 `rateLimitExceeded`/`userRateLimitExceeded`, 429) and 5xx wait and try again, a 401 fetches
//! a new token first, and anything else fails the run with Google's own message.

use std::time::Duration;

use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{StatusCode, Url};
use secrecy::ExposeSecret;
use serde_json::Value;

use super::auth::TokenSource;
use crate::ConnectorError;
use crate::retry::{Attempt, RetryPolicy, retry_after};

/// Reasons in a 403 that mean "slow down", not "not allowed".
const RATE_LIMIT_REASONS: [&str; 3] = ["rateLimitExceeded", "userRateLimitExceeded", "quotaExceeded"];

/// One page of a list: its elements and the token of the next page, if any.
pub(super) struct Page {
    pub items: Vec<Value>,
    pub next: Option<String>,
}

pub(super) struct DirectoryClient {
    http: reqwest::Client,
    base_url: Url,
    tokens: TokenSource,
    retry: RetryPolicy,
}

impl DirectoryClient {
    pub(super) fn new(
        http: reqwest::Client,
        base_url: &str,
        tokens: TokenSource,
        retry: RetryPolicy,
    ) -> Result<Self, ConnectorError> {
        let base_url = Url::parse(base_url).map_err(|error| {
            ConnectorError::Source(format!(
                "Google connector configuration: baseUrl {base_url:?} is not a URL: {error}"
            ))
        })?;
        Ok(Self { http, base_url, tokens, retry })
    }

    /// The page of `segments` (under the base URL) after `page_token`; `items` names the list in
    /// the reply (`users`, `groups`, `members`), absent when it is empty.
    pub(super) async fn page(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
        items: &str,
        page_token: Option<&str>,
    ) -> Result<Page, ConnectorError> {
        let mut url = self.base_url.clone();
        url.path_segments_mut()
            .map_err(|()| ConnectorError::Source("Google connector configuration: baseUrl cannot hold a path".into()))?
            .pop_if_empty()
            .extend(segments);
        {
            let mut pairs = url.query_pairs_mut();
            for (name, value) in query {
                pairs.append_pair(name, value);
            }
            if let Some(token) = page_token {
                pairs.append_pair("pageToken", token);
            }
        }
        let what = format!("GET {}", url.path());
        let mut reply = self.get(&what, url).await?;
        let next = reply.get("nextPageToken").and_then(Value::as_str).filter(|t| !t.is_empty()).map(str::to_owned);
        let items = match reply.get_mut(items).map(Value::take) {
            Some(Value::Array(items)) => items,
            None | Some(Value::Null) => Vec::new(),
            Some(other) => {
                return Err(ConnectorError::Source(format!("{what}: `{items}` is not a list but {other}")));
            }
        };
        Ok(Page { items, next })
    }

    async fn get(&self, what: &str, url: Url) -> Result<Value, ConnectorError> {
        self.retry
            .run(what, || async {
                let (token, generation) = match self.tokens.token().await {
                    Ok(token) => token,
                    Err(error) => return Attempt::Fail(error),
                };
                let Ok(mut bearer) = HeaderValue::from_str(&format!("Bearer {}", token.expose_secret())) else {
                    return Attempt::Fail(ConnectorError::Source("the token endpoint sent an unusable token".into()));
                };
                bearer.set_sensitive(true);
                let response = match self.http.get(url.clone()).header(AUTHORIZATION, bearer).send().await {
                    Ok(response) => response,
                    Err(error) => return Attempt::Retry { after: None, reason: error.without_url().to_string() },
                };
                let status = response.status();
                let after = retry_after(response.headers());
                let body = match response.bytes().await {
                    Ok(body) => body,
                    Err(error) => return Attempt::Retry { after: None, reason: error.without_url().to_string() },
                };
                if status.is_success() {
                    return match serde_json::from_slice(&body) {
                        Ok(value) => Attempt::Done(value),
                        Err(error) => {
                            Attempt::Fail(ConnectorError::Source(format!("{what}: the reply is not JSON: {error}")))
                        }
                    };
                }
                let error = ApiError::parse(status, &body);
                if status == StatusCode::UNAUTHORIZED {
                    self.tokens.rejected(generation).await;
                    return Attempt::Retry {
                        after: Some(Duration::ZERO),
                        reason: format!("{error}; a new token is fetched"),
                    };
                }
                if error.is_throttling() {
                    return Attempt::Retry { after, reason: error.to_string() };
                }
                Attempt::Fail(ConnectorError::Source(format!("{what}: {error}{}", error.hint())))
            })
            .await
    }
}

/// Google's error body: `{"error": {"code", "message", "errors": [{"domain", "reason", …}], "status"}}`.
struct ApiError {
    status: StatusCode,
    message: String,
    reason: Option<String>,
}

impl ApiError {
    fn parse(status: StatusCode, body: &[u8]) -> Self {
        let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let error = &value["error"];
        let message = error["message"].as_str().unwrap_or_default().to_owned();
        let reason = error["errors"][0]["reason"].as_str().or(error["status"].as_str()).map(str::to_owned);
        Self { status, message, reason }
    }

    fn is_throttling(&self) -> bool {
        match self.status.as_u16() {
            429 | 500 | 502 | 503 | 504 => true,
            403 => self.reason.as_deref().is_some_and(|reason| RATE_LIMIT_REASONS.contains(&reason)),
            _ => false,
        }
    }

    fn hint(&self) -> &'static str {
        match self.status.as_u16() {
            403 => {
                "; check that adminEmail is an administrator allowed to read users and groups, and that the \
                 service account's domain-wide delegation grants the read-only directory scopes"
            }
            400 => "; check customer and domain",
            404 => "; check baseUrl, customer and domain",
            _ => "",
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(reason) = &self.reason {
            write!(f, " {reason}")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use reqwest::StatusCode;
    use serde_json::json;

    use super::ApiError;

    fn error(status: u16, reason: &str) -> ApiError {
        let body = json!({"error": {"code": status, "message": "m", "errors": [{"domain": "usageLimits", "reason": reason}], "status": "PERMISSION_DENIED"}});
        ApiError::parse(StatusCode::from_u16(status).unwrap(), body.to_string().as_bytes())
    }

    #[test]
    fn only_quota_errors_and_server_errors_are_retried() {
        assert!(error(403, "rateLimitExceeded").is_throttling());
        assert!(error(403, "userRateLimitExceeded").is_throttling());
        assert!(error(429, "rateLimitExceeded").is_throttling());
        assert!(error(503, "backendError").is_throttling());
        assert!(!error(403, "forbidden").is_throttling());
        assert!(!error(400, "invalid").is_throttling());
        assert_eq!(error(403, "forbidden").to_string(), "HTTP 403 Forbidden forbidden: m");
        assert_eq!(ApiError::parse(StatusCode::BAD_GATEWAY, b"<html>").to_string(), "HTTP 502 Bad Gateway");
    }
}
