//! The Samba AD domain controller from `tests/ldap/samba-ad.sh`. It listens on the fixed port
//! 389, so the test binary starts (or reuses) one for all its tests and leaves it running for the
//! next run; each test keeps its entries in an OU of its own, emptied when the test starts.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use ldap3::controls::RawControl;
use ldap3::{Ldap, LdapConnAsync, Mod, Scope, SearchEntry};
use scimd_connectors::ldap::LdapConfig;
use serde_json::{Value, json};

const SAMBA: &str = "/usr/sbin/samba";
/// Fixed, like the port: every test binary on the machine shares the one DC.
const DIR: &str = "/tmp/scimd-samba-ad";
pub const NAMING_CONTEXT: &str = "DC=example,DC=test";
const ADMIN: &str = "Administrator@EXAMPLE.TEST";
const ADMIN_PASSWORD: &str = "Passw0rd!scimd";
const TREE_DELETE_OID: &str = "1.2.840.113556.1.4.805";

/// userAccountControl: NORMAL_ACCOUNT, and NORMAL_ACCOUNT | ACCOUNTDISABLE.
pub const ENABLED: &str = "512";
pub const DISABLED: &str = "514";

pub struct SambaAd {
    pub url: String,
    password_file: PathBuf,
}

/// The running DC, or None when Samba is not installed and `SCIMD_TEST_REQUIRE_LDAP` is unset: the
/// test then returns early.
pub fn samba_ad() -> Option<&'static SambaAd> {
    static DC: OnceLock<Option<SambaAd>> = OnceLock::new();
    DC.get_or_init(start).as_ref()
}

fn start() -> Option<SambaAd> {
    if !Path::new(SAMBA).exists() {
        assert!(
            std::env::var_os("SCIMD_TEST_REQUIRE_LDAP").is_none(),
            "SCIMD_TEST_REQUIRE_LDAP is set but {SAMBA} is missing: apt install samba samba-ad-dc samba-ad-provision \
             winbind krb5-user ldap-utils"
        );
        println!("skipped: samba not installed (apt install samba samba-ad-dc samba-ad-provision winbind krb5-user)");
        return None;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/ldap/samba-ad.sh");
    let output = Command::new(script).arg("start").arg(DIR).output().expect("samba-ad.sh runs");
    assert!(output.status.success(), "samba-ad.sh start failed: {}", String::from_utf8_lossy(&output.stderr));
    let url = String::from_utf8(output.stdout).expect("a UTF-8 URL").trim().to_owned();
    let password_file = Path::new(DIR).join("scimd-test-bind-password");
    std::fs::write(&password_file, ADMIN_PASSWORD).expect("the password file is written");
    Some(SambaAd { url, password_file })
}

impl SambaAd {
    /// A connection bound as the domain administrator, for changing entries.
    pub async fn admin(&self) -> Ldap {
        let (connection, mut ldap) = LdapConnAsync::new(&self.url).await.expect("the DC answers");
        ldap3::drive!(connection);
        ldap.simple_bind(ADMIN, ADMIN_PASSWORD).await.unwrap().success().unwrap();
        ldap
    }

    /// The OU named `name` directly under the naming context, as a previous run may have left it.
    pub async fn ou(&self, name: &str) -> Ou {
        Ou { dn: format!("OU={name},{NAMING_CONTEXT}"), ldap: self.admin().await }
    }

    /// An empty OU named `name` directly under the naming context; what a previous run left in
    /// it is deleted first.
    pub async fn fresh_ou(&self, name: &str) -> Ou {
        let Ou { dn, mut ldap } = self.ou(name).await;
        let tree_delete = RawControl { ctype: TREE_DELETE_OID.to_owned(), crit: true, val: None };
        let deleted = ldap.with_controls(tree_delete).delete(&dn).await.unwrap();
        assert!(matches!(deleted.rc, 0 | 32), "deleting {dn}: {deleted}");
        let add = vec![("objectClass", HashSet::from(["organizationalUnit"]))];
        ldap.add(&dn, add).await.unwrap().success().unwrap();
        Ou { dn, ldap }
    }

    /// The AD-flavour configuration reading users and groups under `ou`, `overrides` merged over it.
    pub fn config(&self, ou: &Ou, overrides: Value) -> LdapConfig {
        let mut config = json!({
            "url": self.url,
            "flavor": "activeDirectory",
            "bindDn": ADMIN,
            "bindPasswordFile": self.password_file,
            "users": {"base": ou.dn},
            "groups": {"base": ou.dn},
            "timeoutSeconds": 30,
        });
        for (key, value) in overrides.as_object().expect("overrides are an object") {
            config[key] = value.clone();
        }
        LdapConfig::from_value(config).expect("a valid configuration")
    }

    /// The objectGUID of the user `sam_account_name` as Samba's own tool prints it.
    pub fn guid_shown_by_samba_tool(&self, sam_account_name: &str) -> String {
        let database = Path::new(DIR).join("private/sam.ldb");
        let output = Command::new("samba-tool")
            .args(["user", "show", sam_account_name, "--attributes=objectGUID", "-H"])
            .arg(database)
            .output()
            .expect("samba-tool runs");
        let text = String::from_utf8_lossy(&output.stdout);
        text.lines()
            .find_map(|line| line.strip_prefix("objectGUID: "))
            .unwrap_or_else(|| {
                panic!("samba-tool shows no objectGUID: {text} {}", String::from_utf8_lossy(&output.stderr))
            })
            .to_owned()
    }
}

/// A test's OU, with the administrator's connection that fills it.
pub struct Ou {
    pub dn: String,
    pub ldap: Ldap,
}

impl Ou {
    pub fn dn_of(&self, cn: &str) -> String {
        format!("CN={cn},{}", self.dn)
    }

    /// A user whose sAMAccountName is `cn` and userPrincipalName `cn@example.test`.
    pub async fn add_user(&mut self, cn: &str, account_control: &str) -> String {
        let dn = self.dn_of(cn);
        let principal = format!("{cn}@example.test");
        let display_name = format!("User {cn}");
        let user = vec![
            ("objectClass", HashSet::from(["user"])),
            ("sAMAccountName", HashSet::from([cn])),
            ("userPrincipalName", HashSet::from([principal.as_str()])),
            ("displayName", HashSet::from([display_name.as_str()])),
            ("userAccountControl", HashSet::from([account_control])),
        ];
        self.ldap.add(&dn, user).await.unwrap().success().unwrap();
        dn
    }

    pub async fn add_group(&mut self, cn: &str, member_dns: &[String]) -> String {
        let dn = self.dn_of(cn);
        let mut group = vec![("objectClass", HashSet::from(["group"])), ("sAMAccountName", HashSet::from([cn]))];
        if !member_dns.is_empty() {
            group.push(("member", member_dns.iter().map(String::as_str).collect()));
        }
        self.ldap.add(&dn, group).await.unwrap().success().unwrap();
        dn
    }

    /// One entry's attributes as the administrator sees them, or None when it does not exist.
    pub async fn read(&mut self, dn: &str, attributes: &[&str]) -> Option<SearchEntry> {
        let ldap3::SearchResult(entries, result) =
            self.ldap.search(dn, Scope::Base, "(objectClass=*)", attributes).await.unwrap();
        assert!(matches!(result.rc, 0 | 32), "reading {dn}: {result}");
        entries.into_iter().next().map(SearchEntry::construct)
    }

    pub async fn modify(&mut self, dn: &str, attribute: &str, value: &str) {
        let change = Mod::Replace(attribute, HashSet::from([value]));
        self.ldap.modify(dn, vec![change]).await.unwrap().success().unwrap();
    }

    pub async fn delete(&mut self, dn: &str) {
        self.ldap.delete(dn).await.unwrap().success().unwrap();
    }
}
