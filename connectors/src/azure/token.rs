//! Access tokens by the OAuth 2.0 client credentials grant (the `oauth2` crate) from
//! `{authority}/{tenant}/oauth2/v2.0/token`, cached until shortly before they expire and fetched
//! again when Graph answers 401 (a token revoked or expired early).

use std::time::{Duration, Instant};

use oauth2::basic::{BasicClient, BasicErrorResponse};
use oauth2::{
    AuthType, ClientId, ClientSecret, HttpRequest, HttpResponse, RequestTokenError, Scope, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;

use super::config::AzureConfig;
use crate::ConnectorError;
use crate::retry::{Attempt, RetryPolicy, retry_after};

pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
/// A token is replaced this long before it expires, so a request never carries one that expires
/// on the way.
const EXPIRY_MARGIN: Duration = Duration::from_secs(300);

/// What the token endpoint's HTTP exchange can fail with before OAuth reads the answer.
#[derive(Debug, thiserror::Error)]
enum TokenHttpError {
    #[error("{0}")]
    Transport(#[from] reqwest::Error),
    #[error("HTTP {status}")]
    Unavailable { status: u16, after: Option<Duration> },
    #[error("unreadable response: {0}")]
    Response(#[from] oauth2::http::Error),
}

struct Cached {
    token: SecretString,
    refresh_at: Instant,
}

pub(super) struct TokenSource {
    http: reqwest::Client,
    client_id: String,
    secret: SecretString,
    secret_source: String,
    token_url: String,
    retry: RetryPolicy,
    cached: Mutex<Option<Cached>>,
}

impl TokenSource {
    /// Reads the client secret now, from where the configuration says.
    pub(super) fn new(config: &AzureConfig, http: reqwest::Client) -> Result<Self, ConnectorError> {
        Ok(Self {
            http,
            client_id: config.client_id.clone(),
            secret: config.client_secret.read()?,
            secret_source: config.client_secret.describe(),
            token_url: config.token_url(),
            retry: config.retry,
            cached: Mutex::new(None),
        })
    }

    /// A token valid for a while yet: the cached one, or a new one.
    pub(super) async fn bearer(&self) -> Result<SecretString, ConnectorError> {
        let mut cached = self.cached.lock().await;
        if let Some(token) = cached.as_ref().filter(|c| c.refresh_at > Instant::now()) {
            return Ok(token.token.clone());
        }
        let fresh = self.fetch().await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// Drops `used` from the cache (Graph refused it), unless another request replaced it already.
    pub(super) async fn refuse(&self, used: &SecretString) {
        let mut cached = self.cached.lock().await;
        if cached.as_ref().is_some_and(|c| c.token.expose_secret() == used.expose_secret()) {
            *cached = None;
        }
    }

    async fn fetch(&self) -> Result<Cached, ConnectorError> {
        let token_url = TokenUrl::new(self.token_url.clone())
            .map_err(|e| ConnectorError::Source(format!("the token URL {} is not valid: {e}", self.token_url)))?;
        let client = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_client_secret(ClientSecret::new(self.secret.expose_secret().to_owned()))
            .set_auth_type(AuthType::RequestBody)
            .set_token_uri(token_url);
        let http = self.http.clone();
        let send = move |request: HttpRequest| {
            let http = http.clone();
            async move { exchange(&http, request).await }
        };
        let what = format!("POST {}", self.token_url);
        self.retry
            .run(&what, || async {
                let started = Instant::now();
                let request = client.exchange_client_credentials().add_scope(Scope::new(GRAPH_SCOPE.to_owned()));
                match request.request_async(&send).await {
                    Ok(response) => {
                        let lifetime = response.expires_in().unwrap_or(Duration::from_secs(3600));
                        let margin = EXPIRY_MARGIN.min(lifetime / 2);
                        let token = SecretString::from(response.access_token().secret().to_owned());
                        Attempt::Done(Cached { token, refresh_at: started + lifetime - margin })
                    }
                    Err(error) => self.judge(error),
                }
            })
            .await
    }

    fn judge(&self, error: RequestTokenError<TokenHttpError, BasicErrorResponse>) -> Attempt<Cached> {
        match error {
            RequestTokenError::Request(TokenHttpError::Unavailable { status, after }) => {
                Attempt::Retry { after, reason: format!("the token endpoint answered HTTP {status}") }
            }
            RequestTokenError::Request(error) => {
                Attempt::Retry { after: None, reason: format!("the token endpoint: {error}") }
            }
            RequestTokenError::ServerResponse(refusal) => {
                let code = refusal.error().as_ref().to_owned();
                let description = refusal.error_description().map(|d| format!(": {d}")).unwrap_or_default();
                let hint = match code.as_str() {
                    "invalid_client" | "unauthorized_client" => {
                        format!("check clientId and the secret in {} (it may be wrong or expired)", self.secret_source)
                    }
                    "invalid_request" => "check tenantId and authority".to_owned(),
                    _ => "check tenantId, clientId and the application's registration".to_owned(),
                };
                Attempt::Fail(ConnectorError::Source(format!(
                    "the token endpoint refused the client credentials ({code}{description}): {hint}"
                )))
            }
            RequestTokenError::Parse(error, _) => Attempt::Fail(ConnectorError::Source(format!(
                "the token endpoint {} did not answer with a token ({error}): check authority and tenantId",
                self.token_url
            ))),
            RequestTokenError::Other(message) => Attempt::Fail(ConnectorError::Source(format!(
                "the token endpoint {} answered unexpectedly ({message}): check authority and tenantId",
                self.token_url
            ))),
        }
    }
}

/// One HTTP exchange for `oauth2`; throttling and server errors are turned into errors here, where
/// the status and `Retry-After` are still known.
async fn exchange(http: &reqwest::Client, request: HttpRequest) -> Result<HttpResponse, TokenHttpError> {
    let response = http.execute(reqwest::Request::try_from(request)?).await?;
    let status = response.status();
    if status.as_u16() == 429 || status.is_server_error() {
        return Err(TokenHttpError::Unavailable { status: status.as_u16(), after: retry_after(response.headers()) });
    }
    let mut answer = oauth2::http::Response::builder().status(status);
    for (name, value) in response.headers() {
        answer = answer.header(name, value);
    }
    let body = response.bytes().await?;
    Ok(answer.body(body.to_vec())?)
}
