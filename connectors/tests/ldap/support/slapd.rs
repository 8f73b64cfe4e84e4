//! A throwaway OpenLDAP from `tests/ldap/slapd.sh`, stopped when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

const SLAPD: &str = "/usr/sbin/slapd";

pub struct Slapd {
    dir: tempfile::TempDir,
    pub url: String,
}

impl Slapd {
    /// Starts an instance holding the base entries and `ldif` (LDIF text, loaded with slapadd), or
    /// None when slapd is not installed and `SCIMD_TEST_REQUIRE_LDAP` is unset: the test then
    /// returns early.
    pub fn start(ldif: &str) -> Option<Self> {
        if !Path::new(SLAPD).exists() {
            assert!(
                std::env::var_os("SCIMD_TEST_REQUIRE_LDAP").is_none(),
                "SCIMD_TEST_REQUIRE_LDAP is set but {SLAPD} is missing: apt install slapd ldap-utils"
            );
            println!("skipped: slapd not installed (apt install slapd ldap-utils)");
            return None;
        }
        let dir = tempfile::tempdir().expect("a temporary directory");
        let instance = dir.path().join("slapd");
        let mut command = Command::new(script());
        command.arg("start").arg(&instance);
        if !ldif.is_empty() {
            let file = dir.path().join("data.ldif");
            std::fs::write(&file, ldif).expect("the LDIF file is written");
            command.arg(file);
        }
        let output = command.output().expect("slapd.sh runs");
        assert!(output.status.success(), "slapd.sh start failed: {}", String::from_utf8_lossy(&output.stderr));
        let url = String::from_utf8(output.stdout).expect("a UTF-8 URL").trim().to_owned();
        Some(Self { dir, url })
    }
}

impl Slapd {
    /// The instance's `ldaps://` URL (the `ldap://` one offers StartTLS too).
    pub fn ldaps_url(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("slapd/ldaps-url"))
            .expect("slapd.sh wrote the ldaps URL")
            .trim()
            .to_owned()
    }

    /// The self-signed certificate the instance presents, as a CA file for clients.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("slapd/tls/ca.pem")
    }

    /// Writes a file into the instance's temporary directory (a bind password file, say).
    pub fn write_file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("the file is written");
        path
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _status = Command::new(script()).arg("stop").arg(self.dir.path().join("slapd")).status();
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/ldap/slapd.sh")
}
