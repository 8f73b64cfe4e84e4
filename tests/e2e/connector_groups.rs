//! The sync engine with group records, references between users, deletions and cursors, driven by a
//! scripted source (the LDAP, Graph and Google connectors yield the same items), on SQLite and
//! PostgreSQL.

use std::sync::{Arc, Mutex};

use scimd::config::Config;
use scimd::store::{ConnectorRow, ConnectorSettings, GroupKeyColumn, JobRow, MemberDelta, ResourceChange, Store};
use scimd::sync::csv::Actor;
use scimd::sync::{Jobs, connector, run_claimed_from};
use scimd_connectors::{
    Connector, ConnectorError, Correlation, Field, ItemStream, MemberRef, Record, RecordKind, Reference, SourceItem,
};
use scimd_schemas::schema::ResourceKind;
use serde_json::{Value, json};

use crate::fixture::{Db, TestDb};

/// Yields its items, then the error if any; remembers the cursor each read was given.
struct Scripted {
    items: Vec<SourceItem>,
    fail_after: Option<usize>,
    next_cursor: Option<String>,
    given: Arc<Mutex<Vec<Option<String>>>>,
}

impl Connector for Scripted {
    fn kind(&self) -> &'static str {
        "ldap"
    }

    fn read(&mut self, cursor: Option<&str>) -> ItemStream<'_> {
        self.given.lock().unwrap().push(cursor.map(str::to_owned));
        let mut items: Vec<Result<SourceItem, ConnectorError>> = self.items.iter().cloned().map(Ok).collect();
        if let Some(at) = self.fail_after {
            items.truncate(at);
            items.push(Err(ConnectorError::Source("the directory went away".into())));
        }
        Box::pin(futures_util::stream::iter(items))
    }

    fn next_cursor(&self) -> Option<String> {
        self.next_cursor.clone()
    }
}

fn user(uid: &str) -> SourceItem {
    SourceItem::Record(Record {
        kind: RecordKind::User,
        key: format!("key-{uid}"),
        name: Some(format!("uid={uid},ou=people,dc=example,dc=com")),
        fields: vec![
            Field { name: "uid".into(), path: "userName".into(), value: json!(uid) },
            Field {
                name: "mail".into(),
                path: r#"emails[type eq "work"].value"#.into(),
                value: json!(format!("{uid}@example.com")),
            },
        ],
        correlate: vec![Correlation::Email(format!("{uid}@example.com")), Correlation::UserName(uid.into())],
        references: Vec::new(),
        groups: None,
        members: None,
        origin: None,
    })
}

const MANAGER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value";

/// A user whose manager is the user `manager` of the source (by its key), or no one.
fn managed(uid: &str, manager: Option<&str>) -> SourceItem {
    let SourceItem::Record(mut record) = user(uid) else { unreachable!("user() makes a record") };
    let key = manager.map(|m| format!("key-{m}"));
    record.references.push(Reference { name: "manager".into(), path: MANAGER.into(), key });
    SourceItem::Record(record)
}

fn group(cn: &str, members: &[&str]) -> SourceItem {
    let members = members
        .iter()
        .map(|m| match m.strip_prefix("cn=") {
            Some(group) => MemberRef::SourceName(format!("cn={group},ou=groups,dc=example,dc=com")),
            None => MemberRef::SourceName(format!("uid={m},ou=people,dc=example,dc=com")),
        })
        .collect();
    SourceItem::Record(Record {
        kind: RecordKind::Group,
        key: format!("key-{cn}"),
        name: Some(format!("cn={cn},ou=groups,dc=example,dc=com")),
        fields: vec![Field { name: "cn".into(), path: "displayName".into(), value: json!(cn) }],
        correlate: Vec::new(),
        references: Vec::new(),
        groups: None,
        members: Some(members),
        origin: None,
    })
}

struct Harness {
    jobs: Jobs,
    tenant: String,
    connector: ConnectorRow,
    given: Arc<Mutex<Vec<Option<String>>>>,
    _db: TestDb,
    _files: tempfile::TempDir,
}

impl Harness {
    async fn new(db: Db, missing_policy: &str) -> Option<Harness> {
        let test_db = TestDb::new(db).await?;
        let mut config = Config::load(Some(std::path::Path::new("/dev/null")), Some(&test_db.url)).expect("config");
        let files = tempfile::tempdir().expect("temp dir");
        config.sync.files_dir = files.path().to_path_buf();
        config.sync.batch_size = 2;
        // Runs are driven by hand here; a queued retry would hold the connector's lock.
        config.sync.retry_attempts = 0;
        // These directories are tiny: one deletion is a third of them (the guard has its own tests).
        config.sync.guard_percent = 100;
        let store = Store::open(&config.database_url).await.expect("store");
        let registry = Arc::new(scimd::serve::registry(&config).expect("registry"));
        let tenant = store.create_tenant("acme", &crate::fixture::cli()).await.expect("tenant").id;
        let settings =
            ConnectorSettings { name: "corp", kind: "ldap", config: "{}", missing_policy, run: &Default::default() };
        let connector = store.create_connector(&tenant, &settings, &crate::fixture::cli()).await.expect("connector");
        let jobs = Jobs { store, registry, config: Arc::new(config), queued: Default::default() };
        Some(Harness { jobs, tenant, connector, given: Default::default(), _db: test_db, _files: files })
    }

    fn store(&self) -> &Store {
        &self.jobs.store
    }

    /// Queues a run and runs it with `items` as the source.
    async fn run(&mut self, full: bool, items: Vec<SourceItem>, fail_after: Option<usize>, cursor: &str) -> JobRow {
        self.connector = self.store().connector_by_id(&self.tenant, &self.connector.id).await.unwrap().unwrap();
        let actor = Actor { trigger: "cli", token_id: None, name: Some("test") };
        let request = connector::RunRequest { connector: &self.connector, full, dry_run: false, actor };
        let job = connector::queue_run(&self.jobs, &request).await.expect("queued");
        let claimed = self.store().claim_job(Some(&job.id), "test", 60).await.unwrap().expect("claimed");
        let source = Scripted { items, fail_after, next_cursor: Some(cursor.into()), given: self.given.clone() };
        let jobs = &self.jobs;
        run_claimed_from(&jobs.store, &jobs.registry, &jobs.config, claimed, "test", Some(Box::new(source))).await
    }

    async fn group_id(&self, name: &str) -> Option<String> {
        let found = self.store().groups_by(&self.tenant, GroupKeyColumn::DisplayName, &[name.to_lowercase()]).await;
        found.unwrap().pop().map(|g| g.id)
    }

    /// The group's members as (userName or group displayName, type), sorted.
    async fn members(&self, name: &str) -> Vec<(String, String)> {
        let id = self.group_id(name).await.expect("the group exists");
        let rows = self.store().members_of(&self.tenant, &[id]).await.unwrap();
        let mut members: Vec<(String, String)> =
            rows.into_iter().map(|m| (m.display.unwrap_or(m.value), m.kind)).collect();
        members.sort();
        members
    }

    /// The user's id, stored document and version.
    async fn user(&self, user_name: &str) -> (String, Value, i64) {
        let found = self.store().users_by(&self.tenant, scimd::store::UserKey::UserName, &[user_name.into()]).await;
        let user = found.unwrap().pop().expect("the user exists");
        (user.id, serde_json::from_str(&user.doc).unwrap(), user.version)
    }

    async fn manager_of(&self, user_name: &str) -> Option<String> {
        let (_, doc, _) = self.user(user_name).await;
        let manager = doc.pointer("/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User/manager/value");
        manager.and_then(Value::as_str).map(str::to_owned)
    }

    /// The job's outcomes in source order, as (status, changed fields, error).
    async fn outcomes(&self, job: &JobRow) -> Vec<(String, Option<String>, Option<String>)> {
        let rows = self.store().outcomes(&job.id, false, 0, 100).await.unwrap();
        rows.into_iter().map(|o| (o.status, o.changed_fields, o.error)).collect()
    }

    async fn cursor(&self) -> Option<String> {
        self.store().connector_by_id(&self.tenant, &self.connector.id).await.unwrap().unwrap().cursor
    }
}

fn m(name: &str, kind: &str) -> (String, String) {
    (name.to_owned(), kind.to_owned())
}

fn directory() -> Vec<SourceItem> {
    // g1 lists g2 before g2 itself comes: nested groups resolve whatever the order.
    vec![user("ann"), user("bob"), user("cid"), group("g1", &["ann", "bob", "cn=g2"]), group("g2", &["cid"])]
}

async fn groups_members_and_resyncs(db: Db) {
    let Some(mut h) = Harness::new(db, "delete").await else { return };
    let job = h.run(true, directory(), None, "c1").await;
    assert_eq!((job.status.as_str(), job.created_count, job.processed), ("completed", 5, 5), "{job:?}");
    assert_eq!(h.members("g1").await, [m("ann", "User"), m("bob", "User"), m("g2", "Group")]);
    assert_eq!(h.members("g2").await, [m("cid", "User")]);
    assert_eq!(h.cursor().await.as_deref(), Some("c1"));

    let job = h.run(true, directory(), None, "c2").await;
    assert_eq!(
        (job.status.as_str(), job.unchanged_count, job.created_count, job.updated_count),
        ("completed", 5, 0, 0)
    );

    // A member an admin added stays; the source's own memberships follow the source.
    let g2 = h.group_id("g2").await.unwrap();
    let ann =
        h.store().users_by(&h.tenant, scimd::store::UserKey::UserName, &["ann".into()]).await.unwrap()[0].id.clone();
    let add = [scimd_schemas::resource::MemberRef { value: ann, kind: None }];
    let change =
        ResourceChange { doc: None, password_hash: None, members: MemberDelta { add: &add, ..Default::default() } };
    let ctx = crate::fixture::cli();
    let record = scimd::store::ChangeAudit { ctx: &ctx, action: "group.patch", changes: serde_json::json!({}) };
    h.store().change_resource(ResourceKind::Group, &h.tenant, &g2, change, None, record).await.unwrap();
    let job = h.run(false, vec![group("g1", &["ann", "cid"]), group("g2", &["cid"])], None, "c3").await;
    assert_eq!(h.given.lock().unwrap().last().unwrap().as_deref(), Some("c2"), "an incremental run gets the cursor");
    assert_eq!((job.updated_count, job.unchanged_count, job.deleted_count), (1, 1, 0), "{job:?}");
    assert_eq!(h.members("g1").await, [m("ann", "User"), m("cid", "User")]);
    assert_eq!(h.members("g2").await, [m("ann", "User"), m("cid", "User")]);

    // A full run without g2: the missing policy deletes it, and its membership in g1 goes with it.
    let job = h
        .run(true, vec![user("ann"), user("bob"), user("cid"), group("g1", &["ann", "cid", "cn=g2"])], None, "c4")
        .await;
    assert_eq!(job.deleted_count, 1, "{job:?}");
    assert_eq!(h.group_id("g2").await, None);
    assert_eq!(h.members("g1").await, [m("ann", "User"), m("cid", "User")]);
    // A full run without bob deletes him. Each deletion's audit event keeps what was deleted.
    let job = h.run(true, vec![user("ann"), user("cid"), group("g1", &["ann", "cid"])], None, "c5").await;
    assert_eq!(job.deleted_count, 1, "{job:?}");
    let deleted = |action: &str| {
        let filter = scimd::store::AuditFilter { action: Some(action.into()), ..Default::default() };
        let (store, tenant) = (h.store(), h.tenant.clone());
        async move {
            let events = store.audit_events(&tenant, &filter, 0, 10).await.unwrap();
            events.iter().map(|e| serde_json::from_str::<Value>(&e.changes).unwrap()).collect::<Vec<_>>()
        }
    };
    let groups = deleted("sync.group.delete").await;
    assert_eq!((groups.len(), &groups[0]["displayName"]), (1, &json!({"old": "g2"})), "{groups:?}");
    let users = deleted("sync.user.delete").await;
    assert_eq!((users.len(), &users[0]["userName"]), (1, &json!({"old": "bob"})), "{users:?}");
    assert_eq!(users[0]["emails"]["old"][0]["value"], "bob@example.com");
}

async fn failed_runs_keep_the_cursor_and_deletions_apply(db: Db) {
    let Some(mut h) = Harness::new(db, "deactivate").await else { return };
    h.run(true, directory(), None, "c1").await;
    let job = h.run(false, vec![group("g1", &["ann"]), group("g2", &[])], Some(1), "c2").await;
    assert_eq!(job.status, "failed");
    assert!(job.error.as_deref().unwrap_or_default().contains("the directory went away"), "{job:?}");
    assert_eq!(h.cursor().await.as_deref(), Some("c1"), "a failed run leaves the previous cursor");

    // A deletion of a key never linked (created and deleted between runs) changes nothing, before
    // other records of its batch or last.
    let never_synced = |key: &str| SourceItem::Deleted { kind: RecordKind::User, key: key.into() };
    let deleted = vec![
        never_synced("key-never-synced"),
        user("ann"),
        SourceItem::Deleted { kind: RecordKind::User, key: "key-bob".into() },
        SourceItem::Deleted { kind: RecordKind::Group, key: "key-g2".into() },
        never_synced("key-also-never-synced"),
    ];
    let job = h.run(false, deleted, None, "c3").await;
    assert_eq!(job.status, "completed", "{job:?}");
    assert_eq!((job.unchanged_count, job.deactivated_count, job.deleted_count), (1, 1, 1), "{job:?}");
    let bob = h.store().users_by(&h.tenant, scimd::store::UserKey::UserName, &["bob".into()]).await.unwrap();
    assert_eq!(bob[0].active, Some(false));
    assert_eq!(h.group_id("g2").await, None);
    assert_eq!(h.cursor().await.as_deref(), Some("c3"));
}

async fn unknown_members_and_foreign_groups(db: Db) {
    let Some(mut h) = Harness::new(db, "keep").await else { return };
    let other =
        ConnectorSettings { name: "hr", kind: "ldap", config: "{}", missing_policy: "keep", run: &Default::default() };
    let hr = h.store().create_connector(&h.tenant, &other, &crate::fixture::cli()).await.unwrap();
    let mine = std::mem::replace(&mut h.connector, hr);
    h.run(true, vec![group("shared", &[])], None, "x").await;
    h.connector = mine;

    let items = vec![user("ann"), group("g1", &["ann", "ghost"]), group("shared", &["ann"])];
    let job = h.run(true, items, None, "c1").await;
    assert_eq!((job.status.as_str(), job.created_count, job.invalid_count), ("partial", 2, 1), "{job:?}");
    assert_eq!(h.members("g1").await, [m("ann", "User")]);
    assert_eq!(h.members("shared").await, Vec::<(String, String)>::new(), "another source's group is left alone");
    let outcomes = h.store().outcomes(&job.id, true, 0, 10).await.unwrap();
    assert!(
        outcomes[0].error.as_deref().unwrap().starts_with("MANAGED_BY_OTHER_SOURCE (connector:hr)"),
        "{outcomes:?}"
    );
    let all = h.store().outcomes(&job.id, false, 0, 10).await.unwrap();
    let g1 = all.iter().find(|o| o.error.is_some()).expect("g1 notes its unknown member");
    assert!(g1.error.as_deref().unwrap().contains("uid=ghost,ou=people"), "{g1:?}");
}

fn outcome(status: &str, changed: Option<&str>, error: Option<&str>) -> (String, Option<String>, Option<String>) {
    (status.to_owned(), changed.map(str::to_owned), error.map(str::to_owned))
}

async fn managers_are_the_scimd_ids_of_linked_users(db: Db) {
    let Some(mut h) = Harness::new(db, "keep").await else { return };
    // Batches of two: emp waits for boss, listed two batches later; lost's manager is no user.
    let directory = || {
        vec![managed("emp", Some("boss")), user("x"), user("y"), managed("boss", None), managed("lost", Some("ghost"))]
    };
    let job = h.run(true, directory(), None, "c1").await;
    assert_eq!((job.status.as_str(), job.created_count, job.processed), ("completed", 5, 5), "{job:?}");
    let (boss, _, _) = h.user("boss").await;
    assert_eq!(h.manager_of("emp").await, Some(boss.clone()));
    assert_eq!(h.manager_of("lost").await, None);
    let created = outcome("CREATED", None, None);
    let lost = outcome("CREATED", None, Some("MANAGER_NOT_FOUND (key-ghost)"));
    assert_eq!(h.outcomes(&job).await, [created.clone(), created.clone(), created.clone(), created, lost]);

    // Nothing changed: nothing is written, and lost's manager is still not found.
    let (_, _, emp_version) = h.user("emp").await;
    let (_, _, lost_version) = h.user("lost").await;
    let job = h.run(true, directory(), None, "c2").await;
    assert_eq!((job.unchanged_count, job.updated_count, job.processed), (5, 0, 5), "{job:?}");
    assert_eq!(h.outcomes(&job).await[4], outcome("UNCHANGED", None, Some("MANAGER_NOT_FOUND (key-ghost)")));
    assert_eq!((h.user("emp").await.2, h.user("lost").await.2), (emp_version, lost_version));

    // emp gets a new manager listed after him; ghost arrives after lost.
    let items = vec![managed("emp", Some("new")), managed("lost", Some("ghost")), user("new"), user("ghost")];
    let job = h.run(false, items, None, "c3").await;
    assert_eq!((job.updated_count, job.created_count), (2, 2), "{job:?}");
    let updated = outcome("UPDATED", Some("manager"), None);
    assert_eq!(h.outcomes(&job).await[..2], [updated.clone(), updated.clone()]);
    assert_eq!(h.manager_of("emp").await, Some(h.user("new").await.0));
    assert_eq!(h.manager_of("lost").await, Some(h.user("ghost").await.0));

    // A manager already linked is resolved as the batch is planned; a removed one clears.
    let job = h.run(false, vec![managed("emp", Some("boss")), managed("lost", None)], None, "c4").await;
    assert_eq!(h.outcomes(&job).await, [updated.clone(), updated]);
    assert_eq!(h.manager_of("emp").await, Some(boss));
    assert_eq!(h.manager_of("lost").await, None);
    let job = h.run(false, vec![managed("emp", Some("boss")), managed("lost", None)], None, "c5").await;
    assert_eq!((job.unchanged_count, job.updated_count), (2, 0), "{job:?}");
}

macro_rules! on_both {
    ($($name:ident),*) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::$name(super::Db::Sqlite).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::$name(super::Db::Postgres).await })*
        }
    };
}

on_both!(
    groups_members_and_resyncs,
    failed_runs_keep_the_cursor_and_deletions_apply,
    unknown_members_and_foreign_groups,
    managers_are_the_scimd_ids_of_linked_users
);
