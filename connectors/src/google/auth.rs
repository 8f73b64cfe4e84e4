//! Access tokens for the Directory API: the service account signs a JWT (RS256) naming the
//! administrator it acts as (`sub`), and the key's `token_uri` exchanges it for a bearer token
//! (RFC 7523, Google's domain-wide delegation). The token is kept until shortly before it expires,
//! or until the API answers 401, and shared by the requests of a run.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use super::SCOPES;
use super::key::ServiceAccountKey;
use crate::ConnectorError;
use crate::retry::{Attempt, RetryPolicy, retry_after};

pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Google accepts assertions valid for at most an hour.
const ASSERTION_LIFETIME: Duration = Duration::from_secs(3600);
/// A token this close to its expiry is replaced before use, so it cannot expire mid-request.
const EXPIRY_MARGIN: Duration = Duration::from_secs(60);

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    scope: String,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

#[derive(Deserialize)]
struct TokenReply {
    access_token: SecretString,
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct TokenError {
    error: Option<String>,
    error_description: Option<String>,
}

struct Token {
    value: SecretString,
    expires: Instant,
    /// Tells a token apart from the one that replaced it, so a late 401 does not drop the new one.
    generation: u64,
}

pub(super) struct TokenSource {
    http: reqwest::Client,
    key: ServiceAccountKey,
    signing_key: EncodingKey,
    subject: String,
    retry: RetryPolicy,
    current: Mutex<Option<Token>>,
    fetched: std::sync::atomic::AtomicU64,
}

impl TokenSource {
    pub(super) fn new(
        http: reqwest::Client,
        key: ServiceAccountKey,
        subject: &str,
        retry: RetryPolicy,
    ) -> Result<Self, ConnectorError> {
        let signing_key = EncodingKey::from_rsa_pem(key.private_key.expose_secret().as_bytes()).map_err(|error| {
            ConnectorError::Source(format!(
                "the private_key of the service account {} is not an RSA key in PEM ({error}); download a new JSON key",
                key.client_email
            ))
        })?;
        Ok(Self {
            http,
            key,
            signing_key,
            subject: subject.to_owned(),
            retry,
            current: Mutex::new(None),
            fetched: Default::default(),
        })
    }

    /// A token valid for a while yet, and its generation for [`TokenSource::rejected`].
    pub(super) async fn token(&self) -> Result<(SecretString, u64), ConnectorError> {
        let mut current = self.current.lock().await;
        if let Some(token) = current.as_ref().filter(|token| token.expires > Instant::now() + EXPIRY_MARGIN) {
            return Ok((token.value.clone(), token.generation));
        }
        let (value, lifetime) = self.fetch().await?;
        let generation = self.fetched.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        *current = Some(Token { value: value.clone(), expires: Instant::now() + lifetime, generation });
        Ok((value, generation))
    }

    /// The API refused the token of `generation` (401): the next request fetches a new one.
    pub(super) async fn rejected(&self, generation: u64) {
        let mut current = self.current.lock().await;
        if current.as_ref().is_some_and(|token| token.generation == generation) {
            *current = None;
        }
    }

    fn assertion(&self) -> Result<String, ConnectorError> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let claims = Claims {
            iss: &self.key.client_email,
            sub: &self.subject,
            scope: SCOPES.join(" "),
            aud: &self.key.token_uri,
            iat: now,
            exp: now + ASSERTION_LIFETIME.as_secs(),
        };
        let mut header = Header::new(Algorithm::RS256);
        header.kid = self.key.private_key_id.clone();
        jsonwebtoken::encode(&header, &claims, &self.signing_key)
            .map_err(|error| ConnectorError::Source(format!("cannot sign the token request: {error}")))
    }

    async fn fetch(&self) -> Result<(SecretString, Duration), ConnectorError> {
        let what = format!("POST {} (access token)", self.key.token_uri);
        self.retry
            .run(&what, || async {
                let assertion = match self.assertion() {
                    Ok(assertion) => assertion,
                    Err(error) => return Attempt::Fail(error),
                };
                let form = [("grant_type", JWT_BEARER_GRANT), ("assertion", assertion.as_str())];
                let response = match self.http.post(&self.key.token_uri).form(&form).send().await {
                    Ok(response) => response,
                    Err(error) => return Attempt::Retry { after: None, reason: error.without_url().to_string() },
                };
                let status = response.status();
                if status.as_u16() == 429 || status.is_server_error() {
                    let after = retry_after(response.headers());
                    return Attempt::Retry { after, reason: format!("HTTP {status}") };
                }
                let body = response.bytes().await.unwrap_or_default();
                if !status.is_success() {
                    return Attempt::Fail(self.refused(status, &body));
                }
                match serde_json::from_slice::<TokenReply>(&body) {
                    Ok(reply) => {
                        Attempt::Done((reply.access_token, Duration::from_secs(reply.expires_in.unwrap_or(3600))))
                    }
                    Err(error) => Attempt::Fail(ConnectorError::Source(format!(
                        "{what}: the token endpoint answered without an access token ({error})"
                    ))),
                }
            })
            .await
    }

    fn refused(&self, status: reqwest::StatusCode, body: &[u8]) -> ConnectorError {
        let reply: Option<TokenError> = serde_json::from_slice(body).ok();
        let error = reply.as_ref().and_then(|reply| reply.error.clone()).unwrap_or_else(|| format!("HTTP {status}"));
        let description =
            reply.and_then(|reply| reply.error_description).map(|d| format!(" ({d})")).unwrap_or_default();
        ConnectorError::Source(format!(
            "the token endpoint {} refused the service account {} acting as {} (adminEmail): {error}{description}; \
             check that the key (keyFile/keyFileEnv) is current, that the client has domain-wide delegation for \
             the scopes {}, and that adminEmail is an administrator",
            self.key.token_uri,
            self.key.client_email,
            self.subject,
            SCOPES.join(", ")
        ))
    }
}
