//! Secrets a connector's settings point at (an LDAP bind password, a Graph client secret): never in
//! the settings themselves, but in an environment variable or a file named there, read at the
//! start of each run so that a rotated secret is used from the next run on.

use std::path::PathBuf;

use secrecy::SecretString;

use crate::ConnectorError;

/// The settings keys that name a secret's source, and what the secret is, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecretKeys {
    /// `bindPasswordEnv`, `clientSecretEnv`.
    pub env: &'static str,
    /// `bindPasswordFile`, `clientSecretFile`.
    pub file: &'static str,
    /// `bind password`, `client secret`.
    pub what: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    Env { name: String, keys: SecretKeys },
    File { path: PathBuf, keys: SecretKeys },
}

impl SecretSource {
    /// The source the settings name under `keys`, if any; an error message if they name two or an
    /// empty variable.
    pub fn from_settings(keys: SecretKeys, env: Option<String>, file: Option<PathBuf>) -> Result<Option<Self>, String> {
        match (env, file) {
            (Some(_), Some(_)) => Err(format!("both {} and {} are set: keep one", keys.env, keys.file)),
            (Some(name), None) if name.trim().is_empty() => Err(format!("{} is empty: name a variable", keys.env)),
            (Some(name), None) => Ok(Some(SecretSource::Env { name, keys })),
            (None, Some(path)) => Ok(Some(SecretSource::File { path, keys })),
            (None, None) => Ok(None),
        }
    }

    /// Reads the secret now. A trailing newline in a file is not part of it.
    pub fn read(&self) -> Result<SecretString, ConnectorError> {
        let text = match self {
            SecretSource::Env { name, keys } => std::env::var(name).map_err(|_| {
                ConnectorError::Source(format!(
                    "the environment variable {name} ({}) is not set or not UTF-8: set it for the scimd process",
                    keys.env
                ))
            })?,
            SecretSource::File { path, keys } => std::fs::read_to_string(path).map_err(|error| {
                ConnectorError::Source(format!(
                    "cannot read the {} file {} ({}): {error}",
                    keys.what,
                    path.display(),
                    keys.file
                ))
            })?,
        };
        Ok(SecretString::from(text.trim_end_matches(['\r', '\n']).to_owned()))
    }

    /// Where the secret comes from, naming the settings key, for error messages.
    pub fn describe(&self) -> String {
        match self {
            SecretSource::Env { name, keys } => format!("the environment variable {name} ({})", keys.env),
            SecretSource::File { path, keys } => format!("the file {} ({})", path.display(), keys.file),
        }
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::{SecretKeys, SecretSource};

    const KEYS: SecretKeys = SecretKeys { env: "secretEnv", file: "secretFile", what: "test secret" };

    #[test]
    fn reads_secrets_without_the_trailing_newline_and_never_shows_them() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), "s3cret\n").unwrap();
        let source = SecretSource::File { path: file.path().to_owned(), keys: KEYS };
        let secret = source.read().unwrap();
        assert_eq!(secret.expose_secret(), "s3cret");
        assert!(!format!("{secret:?}").contains("s3cret"));
        assert!(source.describe().contains("(secretFile)"));
        let unset = SecretSource::Env { name: "SCIMD_TEST_SURELY_UNSET_SECRET".into(), keys: KEYS };
        let missing = unset.read().unwrap_err().to_string();
        assert!(missing.contains("SCIMD_TEST_SURELY_UNSET_SECRET (secretEnv)"), "{missing}");
    }

    #[test]
    fn settings_name_one_source() {
        let both = SecretSource::from_settings(KEYS, Some("A".into()), Some("/f".into())).unwrap_err();
        assert_eq!(both, "both secretEnv and secretFile are set: keep one");
        let empty = SecretSource::from_settings(KEYS, Some(" ".into()), None).unwrap_err();
        assert_eq!(empty, "secretEnv is empty: name a variable");
        assert_eq!(SecretSource::from_settings(KEYS, None, None), Ok(None));
    }
}
