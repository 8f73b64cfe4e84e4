//! The service account's JSON key, as the Google Cloud console downloads it. Read at the start of
//! each run, so a rotated key is used from the next run on; the private key is held as a secret
//! and never shown.

use secrecy::SecretString;
use serde::Deserialize;

use super::config::KeySource;
use crate::ConnectorError;

#[derive(Clone)]
pub struct ServiceAccountKey {
    pub client_email: String,
    pub private_key_id: Option<String>,
    pub private_key: SecretString,
    /// Where the signed assertion is exchanged for an access token.
    pub token_uri: String,
}

impl std::fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("private_key_id", &self.private_key_id)
            .field("token_uri", &self.token_uri)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct RawKey {
    #[serde(rename = "type")]
    kind: Option<String>,
    client_email: Option<String>,
    private_key_id: Option<String>,
    private_key: Option<SecretString>,
    token_uri: Option<String>,
}

impl ServiceAccountKey {
    /// Reads the key where the configuration says.
    pub fn read(source: &KeySource) -> Result<Self, ConnectorError> {
        let (text, origin) = match source {
            KeySource::File(path) => {
                let origin = format!("the key file {} (keyFile)", path.display());
                let text = std::fs::read_to_string(path)
                    .map_err(|error| ConnectorError::Source(format!("cannot read {origin}: {error}")))?;
                (text, origin)
            }
            KeySource::Env(name) => {
                let value = std::env::var(name).map_err(|_| {
                    ConnectorError::Source(format!(
                        "the environment variable {name} (keyFileEnv) is not set or not UTF-8: set it for the scimd \
                         process to the key file's path or its JSON"
                    ))
                })?;
                if value.trim_start().starts_with('{') {
                    (value, format!("the key in the environment variable {name} (keyFileEnv)"))
                } else {
                    let origin = format!("the key file {value} (named by {name}, keyFileEnv)");
                    let text = std::fs::read_to_string(value.trim())
                        .map_err(|error| ConnectorError::Source(format!("cannot read {origin}: {error}")))?;
                    (text, origin)
                }
            }
        };
        Self::parse(&text, &origin)
    }

    /// `origin` names where the text came from, for the errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConnectorError> {
        let invalid = |why: &str| ConnectorError::Source(format!("{origin} is not a service account key: {why}"));
        // serde_json's error could quote the text, and so the private key: say only where.
        let raw: RawKey = serde_json::from_str(text)
            .map_err(|error| invalid(&format!("not JSON (line {}, column {})", error.line(), error.column())))?;
        if raw.kind.as_deref() != Some("service_account") {
            return Err(invalid("its type is not \"service_account\"; download a JSON key of the service account"));
        }
        let missing = |field: &str| invalid(&format!("it has no {field}"));
        let client_email = raw.client_email.filter(|email| !email.is_empty()).ok_or_else(|| missing("client_email"))?;
        let private_key = raw.private_key.ok_or_else(|| missing("private_key"))?;
        let token_uri = raw.token_uri.filter(|uri| uri.starts_with("http")).ok_or_else(|| missing("token_uri"))?;
        Ok(Self { client_email, private_key_id: raw.private_key_id, private_key, token_uri })
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;
    use serde_json::json;

    use super::{KeySource, ServiceAccountKey};

    fn key_json() -> serde_json::Value {
        json!({
            "type": "service_account", "project_id": "p", "private_key_id": "k1",
            "private_key": "-----BEGIN PRIVATE KEY-----\nSECRETBYTES\n-----END PRIVATE KEY-----\n",
            "client_email": "sync@p.iam.gserviceaccount.com", "client_id": "1",
            "token_uri": "https://oauth2.googleapis.com/token",
        })
    }

    #[test]
    fn reads_a_key_file_and_never_shows_the_private_key() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), key_json().to_string()).unwrap();
        let key = ServiceAccountKey::read(&KeySource::File(file.path().to_owned())).unwrap();
        assert_eq!(key.client_email, "sync@p.iam.gserviceaccount.com");
        assert_eq!(
            (key.private_key_id.as_deref(), key.token_uri.as_str()),
            (Some("k1"), "https://oauth2.googleapis.com/token")
        );
        assert!(key.private_key.expose_secret().contains("SECRETBYTES"));
        assert!(!format!("{key:?}").contains("SECRETBYTES"));
    }

    #[test]
    fn says_what_is_wrong_without_quoting_the_key() {
        let mut wrong_type = key_json();
        wrong_type["type"] = json!("authorized_user");
        let mut no_uri = key_json();
        no_uri.as_object_mut().unwrap().remove("token_uri");
        let broken = key_json().to_string().replace("\"type\"", "type");
        let cases =
            [(wrong_type.to_string(), "service_account"), (no_uri.to_string(), "token_uri"), (broken, "not JSON")];
        for (text, expected) in cases {
            let error = ServiceAccountKey::parse(&text, "the key file /k (keyFile)").unwrap_err().to_string();
            assert!(error.contains(expected) && error.contains("(keyFile)"), "{error}");
            assert!(!error.contains("SECRETBYTES"), "{error}");
        }
        let missing = ServiceAccountKey::read(&KeySource::File("/nonexistent/key.json".into())).unwrap_err();
        assert!(missing.to_string().contains("/nonexistent/key.json (keyFile)"), "{missing}");
        let unset = ServiceAccountKey::read(&KeySource::Env("SCIMD_TEST_SURELY_UNSET_KEY".into())).unwrap_err();
        assert!(unset.to_string().contains("SCIMD_TEST_SURELY_UNSET_KEY (keyFileEnv)"), "{unset}");
    }
}
