//! The service account: a throwaway RSA key pair made at start, the JSON key file Google would
//! hand out for it, and the checks Google's token endpoint makes on a JWT bearer assertion.

use std::collections::HashSet;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use rsa::pkcs1::EncodeRsaPublicKey;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use serde::Deserialize;
use serde_json::{Value, json};

pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// The scopes domain-wide delegation grants the client in the fake's admin console.
pub const GRANTED_SCOPES: [&str; 3] = [
    "https://www.googleapis.com/auth/admin.directory.user.readonly",
    "https://www.googleapis.com/auth/admin.directory.group.readonly",
    "https://www.googleapis.com/auth/admin.directory.group.member.readonly",
];

/// A service account's identity and private key.
pub struct ServiceAccount {
    pub client_email: String,
    pub private_key_id: String,
    private_key_pem: String,
    public_key_pem: String,
}

impl ServiceAccount {
    /// Makes a 2048-bit key pair (what Google issues, and the least RS256 signers accept).
    pub fn generate(client_email: &str) -> anyhow::Result<Self> {
        let key = rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)?;
        let private_key_pem = key.to_pkcs8_pem(LineEnding::LF)?.to_string();
        let public_key_pem = key.to_public_key().to_pkcs1_pem(LineEnding::LF)?;
        let private_key_id = format!("{:040x}", rand::random::<u128>());
        Ok(Self { client_email: client_email.to_owned(), private_key_id, private_key_pem, public_key_pem })
    }

    /// The JSON key file, with `token_uri` pointing where tokens are to be asked for.
    pub fn key_json(&self, token_uri: &str) -> Value {
        json!({
            "type": "service_account",
            "project_id": "scimd-fake",
            "private_key_id": self.private_key_id,
            "private_key": self.private_key_pem,
            "client_email": self.client_email,
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "universe_domain": "googleapis.com",
        })
    }

    fn decoding_key(&self) -> anyhow::Result<DecodingKey> {
        Ok(DecodingKey::from_rsa_pem(self.public_key_pem.as_bytes())?)
    }
}

#[derive(Deserialize)]
struct Claims {
    iss: String,
    sub: Option<String>,
    scope: Option<String>,
    iat: u64,
    exp: u64,
}

/// Why the token endpoint refuses: an HTTP status and Google's `error`/`error_description`.
#[derive(Debug)]
pub struct Refusal {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
}

fn refuse(status: u16, error: &'static str, description: impl Into<String>) -> Refusal {
    Refusal { status, error, description: description.into() }
}

/// Checks an assertion as Google's token endpoint does for `account`, acting as `admin_email`,
/// at `token_uri`.
pub fn check_assertion(
    account: &ServiceAccount,
    admin_email: &str,
    token_uri: &str,
    assertion: &str,
) -> Result<(), Refusal> {
    let key = account.decoding_key().map_err(|e| refuse(500, "internal_failure", e.to_string()))?;
    // Google finds the client by `iss` before it checks the signature with that client's key.
    let mut unverified = Validation::new(Algorithm::RS256);
    unverified.insecure_disable_signature_validation();
    unverified.validate_aud = false;
    unverified.validate_exp = false;
    unverified.set_required_spec_claims::<&str>(&[]);
    let issuer = jsonwebtoken::decode::<Claims>(assertion, &key, &unverified).map(|data| data.claims.iss);
    if issuer.as_deref().is_ok_and(|iss| iss != account.client_email) {
        return Err(refuse(401, "invalid_client", "The OAuth client was not found."));
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[token_uri]);
    validation.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
    validation.leeway = 60;
    let claims = match jsonwebtoken::decode::<Claims>(assertion, &key, &validation) {
        Ok(data) => data.claims,
        Err(error) => {
            let description = match error.kind() {
                ErrorKind::InvalidSignature => "Invalid JWT Signature.".to_owned(),
                ErrorKind::InvalidAudience => "Invalid JWT: Failed audience check.".to_owned(),
                ErrorKind::ExpiredSignature => "Invalid JWT: Token must be a short-lived token (60 minutes) and in a \
                                                reasonable timeframe. Check your iat and exp values in the JWT claim."
                    .to_owned(),
                ErrorKind::InvalidAlgorithm => "Invalid JWT: the algorithm must be RS256.".to_owned(),
                other => format!("Invalid JWT: {other:?}"),
            };
            return Err(refuse(400, "invalid_grant", description));
        }
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    if claims.iat > now + 60 || claims.exp <= claims.iat || claims.exp - claims.iat > 3600 {
        return Err(refuse(
            400,
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.",
        ));
    }
    if claims.sub.as_deref() != Some(admin_email) {
        return Err(refuse(400, "invalid_grant", "Invalid email or User ID"));
    }
    let asked: HashSet<&str> = claims.scope.as_deref().unwrap_or_default().split_whitespace().collect();
    if asked.is_empty() || !asked.iter().all(|scope| GRANTED_SCOPES.contains(scope)) {
        return Err(refuse(
            401,
            "unauthorized_client",
            "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of \
             the scopes requested.",
        ));
    }
    Ok(())
}
