//! GET requests to Microsoft Graph: a bearer token, `Prefer: odata.maxpagesize`, every answer's
//! status checked, throttling (429 and 503 with `Retry-After`) and other server errors retried by
//! the shared [`RetryPolicy`], one token refresh on 401. Links Graph hands back (`@odata.nextLink`,
//! `@odata.deltaLink`) are followed only to the configured Graph host, which gets the token.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION};
use reqwest::{StatusCode, Url};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::config::AzureConfig;
use super::token::TokenSource;
use crate::ConnectorError;
use crate::retry::{Attempt, RetryPolicy, retry_after};

/// One page of a collection or delta query.
#[derive(Debug, Deserialize)]
pub(super) struct Page {
    #[serde(default)]
    pub value: Vec<Map<String, Value>>,
    #[serde(rename = "@odata.nextLink")]
    pub next_link: Option<String>,
    #[serde(rename = "@odata.deltaLink")]
    pub delta_link: Option<String>,
}

/// What a GET came to.
pub(super) enum Fetched {
    Page(Page),
    /// 410 Gone: the delta token expired or is unknown; a new round must start without it.
    Gone(String),
}

pub(super) struct Graph {
    http: reqwest::Client,
    tokens: TokenSource,
    retry: RetryPolicy,
    base: Url,
    prefer: String,
}

impl Graph {
    pub(super) fn new(config: &AzureConfig) -> Result<Self, ConnectorError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            // A redirect would carry the token, or the client secret, to where it points.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ConnectorError::Source(format!("cannot set up the HTTP client: {e}")))?;
        let base = Url::parse(&format!("{}/", config.graph_url))
            .map_err(|e| ConnectorError::Source(format!("graphUrl {} is not a URL: {e}", config.graph_url)))?;
        Ok(Self {
            tokens: TokenSource::new(config, http.clone())?,
            http,
            retry: config.retry,
            base,
            prefer: format!("odata.maxpagesize={}", config.page_size),
        })
    }

    /// `path` (`users/delta?$select=id`) under the configured Graph URL.
    pub(super) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GETs `url`, retrying what is transient; `what` names the request in errors.
    pub(super) async fn get(&self, url: &str, what: &str) -> Result<Fetched, ConnectorError> {
        let parsed = Url::parse(url).map_err(|e| ConnectorError::Source(format!("{what}: bad link {url:?}: {e}")))?;
        if parsed.origin() != self.base.origin() {
            return Err(ConnectorError::Source(format!(
                "{what}: Graph sent a link to {}, not to graphUrl's host {}; not following it",
                parsed.origin().ascii_serialization(),
                self.base.origin().ascii_serialization()
            )));
        }
        let refreshed = AtomicBool::new(false);
        self.retry.run(what, || self.attempt(parsed.clone(), what, &refreshed)).await
    }

    async fn attempt(&self, url: Url, what: &str, refreshed: &AtomicBool) -> Attempt<Fetched> {
        let token = match self.tokens.bearer().await {
            Ok(token) => token,
            Err(error) => return Attempt::Fail(error),
        };
        let request = self
            .http
            .get(url)
            .header(AUTHORIZATION, format!("Bearer {}", token.expose_secret()))
            .header(ACCEPT, "application/json")
            .header("Prefer", &self.prefer);
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return Attempt::Retry { after: None, reason: without_url(error).to_string() },
        };
        let status = response.status();
        if status.is_success() {
            return match response.bytes().await {
                Ok(body) => match serde_json::from_slice::<Page>(&body) {
                    Ok(page) => Attempt::Done(Fetched::Page(page)),
                    Err(error) => Attempt::Fail(ConnectorError::Source(format!(
                        "{what}: the answer is not a Graph collection page: {error}"
                    ))),
                },
                Err(error) => Attempt::Retry { after: None, reason: without_url(error).to_string() },
            };
        }
        let after = retry_after(response.headers());
        let detail = error_detail(response).await;
        match status {
            StatusCode::GONE => Attempt::Done(Fetched::Gone(detail)),
            StatusCode::UNAUTHORIZED if !refreshed.swap(true, Ordering::SeqCst) => {
                self.tokens.refuse(&token).await;
                Attempt::Retry { after: Some(Duration::ZERO), reason: format!("HTTP 401 ({detail}), new token") }
            }
            StatusCode::UNAUTHORIZED => Attempt::Fail(ConnectorError::Source(format!(
                "{what}: Graph refused a fresh token (HTTP 401: {detail}): check tenantId and the application's \
                 registration"
            ))),
            StatusCode::FORBIDDEN => Attempt::Fail(ConnectorError::Source(format!(
                "{what}: HTTP 403 ({detail}): grant the application User.Read.All and GroupMember.Read.All (and \
                 AuditLog.Read.All for signInActivity) with admin consent"
            ))),
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
                Attempt::Retry { after, reason: format!("HTTP {} ({detail})", status.as_u16()) }
            }
            _ if status.is_server_error() => {
                Attempt::Retry { after: None, reason: format!("HTTP {} ({detail})", status.as_u16()) }
            }
            _ => Attempt::Fail(ConnectorError::Source(format!("{what}: HTTP {} ({detail})", status.as_u16()))),
        }
    }
}

/// reqwest's errors name the URL, which holds delta and skip tokens: not for logs.
fn without_url(error: reqwest::Error) -> reqwest::Error {
    error.without_url()
}

/// `code: message` of Graph's error body `{"error": {"code", "message"}}`, or what the body starts with.
async fn error_detail(response: reqwest::Response) -> String {
    #[derive(Deserialize)]
    struct Body {
        error: Inner,
    }
    #[derive(Deserialize)]
    struct Inner {
        code: Option<String>,
        message: Option<String>,
    }
    let body = response.bytes().await.unwrap_or_default();
    match serde_json::from_slice::<Body>(&body) {
        Ok(Body { error }) => {
            format!("{}: {}", error.code.unwrap_or_default(), error.message.unwrap_or_default())
        }
        Err(_) => String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
    }
}

/// The path of a URL, for naming a request without its tokens.
pub(super) fn path_of(url: &str) -> String {
    Url::parse(url).map(|url| url.path().to_owned()).unwrap_or_else(|_| "?".to_owned())
}
