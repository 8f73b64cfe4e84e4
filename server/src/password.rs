//! Password hashing with argon2id (OWASP-recommended parameters are argon2's defaults). Hashing is
//! deliberately slow, so it runs off the async threads. Passwords are never logged or returned.

use argon2::password_hash::SaltString;
use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use rand::RngCore;
use scimd_schemas::ScimError;

pub async fn hash(password: String) -> Result<String, ScimError> {
    tokio::task::spawn_blocking(move || {
        let mut bytes = [0u8; 16];
        rand::rng().fill_bytes(&mut bytes);
        let salt = SaltString::encode_b64(&bytes).map_err(|e| e.to_string())?;
        Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(|e| e.to_string())
    })
    .await
    .map_err(|_| ScimError::new(500, None, "password hashing failed"))?
    .map_err(|e| ScimError::invalid_value(format!("password cannot be hashed: {e}")))
}

/// Hashes a password if one was sent.
pub async fn hash_if_given(password: Option<String>) -> Result<Option<String>, ScimError> {
    match password {
        Some(p) => Ok(Some(hash(p).await?)),
        None => Ok(None),
    }
}

pub fn verify(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let hash = super::hash("correct horse".into()).await.expect("hashes");
        assert!(hash.starts_with("$argon2id$"));
        assert!(super::verify("correct horse", &hash));
        assert!(!super::verify("wrong", &hash));
    }
}
