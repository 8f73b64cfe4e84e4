//! The LDAP connector end to end: configured and run through the admin API of a real server,
//! reading a real OpenLDAP (`tests/ldap/slapd.sh`), on SQLite and PostgreSQL. Skipped, saying so,
//! when slapd is not installed (CI sets SCIMD_TEST_REQUIRE_LDAP, which makes it mandatory).

use std::collections::HashSet;
use std::time::Duration;

use ldap3::{LdapConnAsync, Mod};
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_databases;
use crate::fixture::TestApp;

#[path = "../../connectors/tests/ldap/support/slapd.rs"]
mod slapd;
use slapd::Slapd;

const PEOPLE: &str = "ou=people,dc=example,dc=com";
const GROUPS: &str = "ou=groups,dc=example,dc=com";

fn user(uid: &str, name: &str, groups: &[&str]) -> String {
    let member_of: String = groups.iter().map(|g| format!("memberOf: cn={g},{GROUPS}\n")).collect();
    format!(
        "dn: uid={uid},{PEOPLE}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: {name}\nsn: {name}\nmail: {uid}@example.com\ntitle: Engineer\n{member_of}\n"
    )
}

fn group(cn: &str, members: &[&str]) -> String {
    let members: String = members
        .iter()
        .map(|m| match m.strip_prefix("cn=") {
            Some(g) => format!("member: cn={g},{GROUPS}\n"),
            None => format!("member: uid={m},{PEOPLE}\n"),
        })
        .collect();
    format!("dn: cn={cn},{GROUPS}\nobjectClass: groupOfNames\ncn: {cn}\n{members}\n")
}

fn directory() -> String {
    [
        user("ana", "Ana Kim", &["staff"]),
        user("ben", "Ben Lee", &["staff"]),
        user("cho", "Cho Park", &["admins"]),
        group("staff", &["ana", "ben"]),
        group("admins", &["cho", "cn=staff"]),
    ]
    .concat()
}

fn connector_body(slapd: &Slapd, password: &str) -> Value {
    let password_file = slapd.write_file(&format!("password-{}", password.len()), password);
    json!({
        "name": "corp",
        "kind": "ldap",
        "missingPolicy": "deactivate",
        "config": {
            // Over TLS, as production directories are read.
            "url": slapd.ldaps_url(),
            "tlsCaFile": slapd.ca_file(),
            "bindDn": "cn=reader,dc=example,dc=com",
            "bindPasswordFile": password_file,
            "users": { "base": PEOPLE },
            "groups": { "base": GROUPS },
        },
    })
}

async fn admin_ldap(slapd: &Slapd) -> ldap3::Ldap {
    let (connection, mut ldap) = LdapConnAsync::new(&slapd.url).await.expect("slapd answers");
    ldap3::drive!(connection);
    ldap.simple_bind("cn=admin,dc=example,dc=com", "secret").await.unwrap().success().unwrap();
    ldap
}

impl TestApp {
    /// Starts a run of the connector and waits until its job ends.
    async fn run_connector(&self, id: &str, body: Value) -> Value {
        let reply =
            self.send(self.admin(Method::POST, &format!("/connectors/{id}/runs")).json(&body)).await.expect(202);
        self.wait_job(reply.body["id"].as_str().unwrap()).await
    }

    async fn one(&self, path: &str, filter: &str) -> Value {
        // members.display is `returned: request`.
        let attributes = if path == "Groups" {
            "displayName,members,members.display"
        } else {
            "userName,displayName,emails,active,title"
        };
        let reply = self.list(&format!("/{path}"), &[("filter", filter), ("attributes", attributes)]).await.expect(200);
        assert_eq!(reply.body["totalResults"], 1, "{filter}: {:#}", reply.body);
        reply.body["Resources"][0].clone()
    }
}

fn member_names(group: &Value) -> Vec<(String, String)> {
    let mut names: Vec<(String, String)> = group["members"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            (m["display"].as_str().unwrap_or_default().to_owned(), m["type"].as_str().unwrap_or_default().to_owned())
        })
        .collect();
    names.sort();
    names
}

fn pair(name: &str, kind: &str) -> (String, String) {
    (name.to_owned(), kind.to_owned())
}

const EXT: &str = "urn:ietf:params:scim:schemas:extension:scimd:2.0:User";

both_databases! {
    async fn a_directory_syncs_in_full_then_incrementally(app: TestApp) {
        let Some(slapd) = Slapd::start(&directory()) else { return };
        let created = app.send(app.admin(Method::POST, "/connectors").json(&connector_body(&slapd, "reader"))).await.expect(201);
        let id = created.body["id"].as_str().unwrap().to_owned();

        let job = app.run_connector(&id, json!({})).await;
        assert_eq!((job["status"].as_str(), job["createdCount"].as_i64(), job["fullRun"].as_bool()), (Some("completed"), Some(5), Some(true)), "{job:#}");
        let ana = app.one("Users", r#"userName eq "ana""#).await;
        assert_eq!(ana["displayName"], "Ana Kim");
        let managed = app.list("/Users", &[("filter", r#"userName eq "ana""#), ("attributes", &format!("{EXT}:managingEntity"))]).await;
        assert_eq!(ana["emails"][0]["value"], "ana@example.com");
        assert_eq!(managed.body["Resources"][0][EXT]["managingEntity"], "connector:corp");
        let admins = app.one("Groups", r#"displayName eq "admins""#).await;
        assert_eq!(member_names(&admins), [pair("Cho Park", "User"), pair("staff", "Group")]);

        // Changes: ben's title, ben leaves staff (only the group changes), cho is deleted.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let mut ldap = admin_ldap(&slapd).await;
        let ben = format!("uid=ben,{PEOPLE}");
        let no_title: HashSet<&str> = HashSet::new();
        ldap.modify(&ben, vec![Mod::Replace("cn", HashSet::from(["Ben Lee-Park"])), Mod::Delete("title", no_title)])
            .await.unwrap().success().unwrap();
        ldap.modify(&format!("cn=staff,{GROUPS}"), vec![Mod::Delete("member", HashSet::from([ben.as_str()]))])
            .await.unwrap().success().unwrap();
        ldap.delete(&format!("uid=cho,{PEOPLE}")).await.unwrap().success().unwrap();

        let job = app.run_connector(&id, json!({})).await;
        assert_eq!((job["status"].as_str(), job["fullRun"].as_bool()), (Some("completed"), Some(false)), "{job:#}");
        assert_eq!(job["deactivatedCount"], 0, "an incremental run finds no deletions on OpenLDAP: {job:#}");
        let ben = app.one("Users", r#"userName eq "ben""#).await;
        assert_eq!(ben["displayName"], "Ben Lee-Park");
        assert_eq!(ben.get("title"), None, "a value removed in the directory is removed here: {ben:#}");
        assert_eq!(app.one("Users", r#"userName eq "ana""#).await["title"], "Engineer");
        let staff = app.one("Groups", r#"displayName eq "staff""#).await;
        assert_eq!(member_names(&staff), [pair("Ana Kim", "User")]);

        let job = app.run_connector(&id, json!({"full": true})).await;
        assert_eq!((job["deactivatedCount"].as_i64(), job["createdCount"].as_i64()), (Some(1), Some(0)), "{job:#}");
        assert_eq!(app.one("Users", r#"userName eq "cho""#).await["active"], false);
        let admins = app.one("Groups", r#"displayName eq "admins""#).await;
        assert_eq!(member_names(&admins), [pair("staff", "Group")], "cho left the group with his entry");
    }
}

both_databases! {
    async fn a_run_that_cannot_bind_fails_and_changes_nothing(app: TestApp) {
        let Some(slapd) = Slapd::start(&directory()) else { return };
        let created = app.send(app.admin(Method::POST, "/connectors").json(&connector_body(&slapd, "wrong"))).await.expect(201);
        let id = created.body["id"].as_str().unwrap().to_owned();
        let job = app.run_connector(&id, json!({})).await;
        assert_eq!(job["status"], "failed", "{job:#}");
        let error = job["error"].as_str().unwrap_or_default();
        assert!(error.contains("bindDn") || error.contains("credentials"), "the error says what to check: {error}");
        assert!(!error.contains("wrong"), "the password is never shown: {error}");
        let users = app.get("/Users").await.expect(200);
        assert_eq!(users.body["totalResults"], 0);
        let connector = app.send(app.admin(Method::GET, &format!("/connectors/{id}"))).await.expect(200);
        assert_eq!(connector.body["cursor"], Value::Null, "no cursor without a committed run");
    }
}

both_databases! {
    async fn connector_settings_are_checked_and_managed(app: TestApp) {
        let mut body = json!({"name": "corp", "kind": "ldap", "config": {"url": "ldap://127.0.0.1:1", "users": {"base": PEOPLE}, "bindPassword": "x"}});
        let reply = app.send(app.admin(Method::POST, "/connectors").json(&body)).await.expect(400);
        assert_eq!(reply.body["name"], "CONNECTOR_CONFIG_INVALID");
        assert!(reply.body["message"].as_str().unwrap().contains("bindPasswordEnv"), "{:#}", reply.body);
        body["config"].as_object_mut().unwrap().remove("bindPassword");
        body["config"]["pageSise"] = json!(10);
        let reply = app.send(app.admin(Method::POST, "/connectors").json(&body)).await.expect(400);
        assert!(reply.body["message"].as_str().unwrap().contains("pageSise"), "names the key: {:#}", reply.body);
        body["config"].as_object_mut().unwrap().remove("pageSise");
        body["kind"] = json!("google");
        app.send(app.admin(Method::POST, "/connectors").json(&body)).await.expect(400);
        body["kind"] = json!("ldap");

        let created = app.send(app.admin(Method::POST, "/connectors").json(&body)).await.expect(201);
        let id = created.body["id"].as_str().unwrap().to_owned();
        assert_eq!(created.body["missingPolicy"], "deactivate");
        let taken = app.send(app.admin(Method::POST, "/connectors").json(&body)).await.expect(409);
        assert_eq!(taken.body["name"], "CONNECTOR_NAME_TAKEN");
        let list = app.send(app.admin(Method::GET, "/connectors?kind=ldap")).await.expect(200);
        assert_eq!(list.body["totalResults"], 1);

        body["missingPolicy"] = json!("keep");
        body["name"] = json!("corp-ldap");
        let replaced = app.send(app.admin(Method::PUT, &format!("/connectors/{id}")).json(&body)).await.expect(200);
        assert_eq!((replaced.body["name"].as_str(), replaced.body["missingPolicy"].as_str()), (Some("corp-ldap"), Some("keep")));
        app.send(app.admin(Method::GET, "/connectors/01a20000-0000-7000-8000-000000000000")).await.expect(404);
        app.send(app.admin(Method::DELETE, &format!("/connectors/{id}"))).await.expect(204);
        app.send(app.admin(Method::GET, &format!("/connectors/{id}"))).await.expect(404);
    }
}

/// The CLI: a connector created from a file, listed, and run here with `--wait`.
#[test]
fn the_cli_creates_lists_and_runs_a_connector() {
    use std::process::Command;
    let Some(slapd) = Slapd::start(&directory()) else { return };
    let dir = tempfile::tempdir().expect("temp dir");
    let scimd = |args: &[&str]| {
        let output = Command::new(&*crate::fixture::scimd_binary())
            .args(args)
            .current_dir(dir.path())
            .env_remove("SCIMD_DATABASE_URL")
            .env("LDAP_READER_PASSWORD", "reader")
            .output()
            .expect("scimd runs");
        let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "scimd {args:?}: {text}");
        text
    };
    scimd(&["tenant", "create", "acme"]);
    let mut config = connector_body(&slapd, "reader")["config"].clone();
    config.as_object_mut().unwrap().remove("bindPasswordFile");
    config["bindPasswordEnv"] = json!("LDAP_READER_PASSWORD");
    let file = dir.path().join("corp.json");
    std::fs::write(&file, config.to_string()).unwrap();
    let created = scimd(&[
        "connector",
        "create",
        "corp",
        "--tenant",
        "acme",
        "--kind",
        "ldap",
        "--settings",
        file.to_str().unwrap(),
    ]);
    assert!(created.contains("created ldap connector corp"), "{created}");
    assert!(scimd(&["connector", "list", "--tenant", "acme"]).starts_with("corp\tldap\t"));
    let run = scimd(&["connector", "run", "corp", "--tenant", "acme", "--wait"]);
    assert!(run.contains("completed: 5 records; created 5"), "{run}");
    let listed = scimd(&["connector", "list", "--tenant", "acme"]);
    assert!(listed.contains("cursor={\"modifyTimestamp\""), "the run's cursor is stored: {listed}");
    let help = scimd(&["connector", "run", "--help"]);
    assert!(help.contains("Examples:") && help.contains("--full"), "{help}");
}
