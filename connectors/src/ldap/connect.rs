//! Opening a bound connection, with messages that say what to check when it fails.

use std::path::Path;
use std::sync::Arc;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use secrecy::ExposeSecret;

use super::config::LdapConfig;
use crate::ConnectorError;

const INVALID_CREDENTIALS: u32 = 49;

/// A connection bound as `bindDn` (or anonymously), its operations timed out after `timeoutSeconds`.
pub(super) async fn connect(config: &LdapConfig) -> Result<Ldap, ConnectorError> {
    let mut settings = LdapConnSettings::new().set_conn_timeout(config.timeout).set_starttls(config.start_tls);
    if let Some(ca_file) = &config.tls_ca_file {
        settings = settings.set_config(Arc::new(tls_config(ca_file)?));
    }
    let opened = tokio::time::timeout(config.timeout, LdapConnAsync::with_settings(settings, &config.url)).await;
    let (connection, mut ldap) = match opened {
        Ok(Ok(opened)) => opened,
        Ok(Err(error)) => return Err(connect_error(config, &error)),
        Err(_elapsed) => return Err(no_answer(config)),
    };
    ldap3::drive!(connection);
    if let Some(bind) = &config.bind {
        let password = bind.password.read()?;
        let bound = ldap.with_timeout(config.timeout).simple_bind(&bind.dn, password.expose_secret()).await;
        match bound {
            Ok(result) if result.rc == 0 => {}
            Ok(result) if result.rc == INVALID_CREDENTIALS => {
                return Err(ConnectorError::Source(format!(
                    "{} refused the bind as {} (invalidCredentials): check bindDn and the password in {}",
                    config.url,
                    bind.dn,
                    bind.password.describe()
                )));
            }
            Ok(result) => {
                return Err(ConnectorError::Source(format!(
                    "{} refused the bind as {}: {result}; check bindDn and that the account may bind",
                    config.url, bind.dn
                )));
            }
            Err(error) => return Err(operation_error(config, "the bind", &error)),
        }
    }
    Ok(ldap)
}

fn tls_config(ca_file: &Path) -> Result<rustls::ClientConfig, ConnectorError> {
    let unusable = |problem: String| {
        ConnectorError::Source(format!(
            "tlsCaFile {}: {problem}; give a PEM file holding the CA certificate that signed the server's",
            ca_file.display()
        ))
    };
    let mut roots = rustls::RootCertStore::empty();
    for certificate in CertificateDer::pem_file_iter(ca_file).map_err(|error| unusable(error.to_string()))? {
        let certificate = certificate.map_err(|error| unusable(error.to_string()))?;
        roots.add(certificate).map_err(|error| unusable(error.to_string()))?;
    }
    if roots.is_empty() {
        return Err(unusable("no certificate in it".to_owned()));
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| unusable(error.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config)
}

fn connect_error(config: &LdapConfig, error: &LdapError) -> ConnectorError {
    let message = match error {
        LdapError::Rustls { .. } => format!(
            "TLS with {} failed: {error}; check tlsCaFile (the CA that signed the server certificate) and that the \
             URL's host name is in the certificate",
            config.url
        ),
        LdapError::Timeout { .. } => return no_answer(config),
        LdapError::UrlParsing { .. } | LdapError::UnknownScheme(_) => {
            format!("url {:?} is not an LDAP URL ({error}): use ldap://host:port or ldaps://host:port", config.url)
        }
        _ if config.start_tls || config.url.to_ascii_lowercase().starts_with("ldaps://") => format!(
            "cannot open a TLS connection to {}: {error}; check the host and port, that the server speaks TLS there, \
             and tlsCaFile",
            config.url
        ),
        _ => format!("cannot connect to {}: {error}; check the host and port and that the server is up", config.url),
    };
    ConnectorError::Source(message)
}

fn no_answer(config: &LdapConfig) -> ConnectorError {
    ConnectorError::Source(format!(
        "no answer from {} within {} s (timeoutSeconds): check the host and port and any firewall between",
        config.url,
        config.timeout.as_secs()
    ))
}

/// A failure of an operation on an open connection; `what` names it ("the search of users").
pub(super) fn operation_error(config: &LdapConfig, what: &str, error: &LdapError) -> ConnectorError {
    match error {
        LdapError::Timeout { .. } => ConnectorError::Source(format!(
            "{what} got no answer from {} within {} s (timeoutSeconds); raise timeoutSeconds if the server is slow",
            config.url,
            config.timeout.as_secs()
        )),
        _ => ConnectorError::Source(format!("{what} failed on {}: {error}", config.url)),
    }
}
