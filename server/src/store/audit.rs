//! Appending to the audit log (DESIGN.md §5), inside the transaction of the change it records.
//!
//! Each tenant's events form a hash chain: an event's hash is SHA-256 of the previous event's hash
//! (as hex) followed by the canonical JSON of its own content. The chain's head (its number, last
//! seq and hash) is a row of `audit_heads` that the appending transaction reads with an UPDATE,
//! which on PostgreSQL also takes the row's lock until commit: concurrent writers of one tenant
//! append in turn, from any connection or replica. SQLite has one writer, so the same statements
//! serialise there too. An event's key is `chain << 40 | seq` (`event_id`): a tenant's events are
//! one range of the table's primary key.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::params::{Param, bind};
use super::writer_handle::with_handle;
use super::{Dialect, StoreResult};

/// The hash before a tenant's first event.
pub const GENESIS: Hash = [0; 32];

/// A SHA-256 hash, stored as 32 bytes and shown as hex.
pub type Hash = [u8; 32];

/// Events a chain can hold: an event's key is its chain's number times this, plus its seq.
pub const CHAIN_SPAN: i64 = 1 << 40;

/// The key of event `seq` of chain `chain`.
pub fn event_id(chain: i64, seq: i64) -> i64 {
    chain * CHAIN_SPAN + seq
}

/// Who made a change, through which interface, in which request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditContext {
    /// The token id, `cli` or `system`.
    pub actor: String,
    /// The token's role (`scim`, `admin`); None for the CLI and the system.
    pub role: Option<String>,
    /// The SCIM client's name, the CLI user, or the name of whoever triggered a job.
    pub name: Option<String>,
    /// The sync job a change belongs to.
    pub job_id: Option<String>,
    /// `scim`, `admin`, `cli`, `connector:<name>` or `csv`.
    pub source: String,
    /// The HTTP request's `X-Request-Id`.
    pub request_id: Option<String>,
}

impl AuditContext {
    /// A change made from the command line by `user` (the login name, when known).
    pub fn cli(user: Option<String>) -> AuditContext {
        AuditContext {
            actor: "cli".to_owned(),
            role: None,
            name: user,
            job_id: None,
            source: "cli".to_owned(),
            request_id: None,
        }
    }
}

/// One change to record.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    /// `user.create`, `member.add`, `sync.user.update`, `token.create`, …
    pub action: String,
    /// `User`, `Group`, `Token`, `Tenant`, `Connector`, `Link`.
    pub resource_type: Option<&'static str>,
    pub resource_id: Option<String>,
    /// Top-level attributes with their old and new values (`crate::audit::diff`), as canonical
    /// JSON: written when the event is made, by the request or the sync planner, so that the
    /// single writer only numbers and hashes it.
    pub changes: String,
}

impl AuditEvent {
    pub fn new(action: impl Into<String>, resource_type: &'static str, resource_id: &str, changes: Value) -> Self {
        AuditEvent {
            action: action.into(),
            resource_type: Some(resource_type),
            resource_id: Some(resource_id.to_owned()),
            changes: canonical(&changes),
        }
    }
}

/// A chain's head: the chain's number, and the last event's seq and hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    pub chain: i64,
    pub seq: i64,
    pub hash: Hash,
}

/// Reads and, on PostgreSQL, locks the tenant's head (no row: the tenant has no chain yet). An
/// UPDATE rather than an upsert: PostgreSQL would draw a chain number for every upsert.
pub(super) const LOCK_HEAD_SQL: &str =
    "UPDATE audit_heads SET seq = seq WHERE tenant_id = $1 RETURNING chain, seq, hash";

/// Starts the tenant's chain at the genesis, numbering it (a concurrent start wins harmlessly).
pub(super) const NEW_HEAD_SQL: &str =
    "INSERT INTO audit_heads (tenant_id, seq, hash) VALUES ($1, 0, $2) ON CONFLICT (tenant_id) DO NOTHING";

pub(super) const MOVE_HEAD_SQL: &str = "UPDATE audit_heads SET seq = $2, hash = $3 WHERE tenant_id = $1";

const COLUMNS: usize = 13;

/// The INSERT of `rows` sealed events, binding `Sealed::params` in order.
pub(super) fn insert_sql(d: Dialect, rows: usize) -> String {
    format!(
        "INSERT INTO audit_events (id, event_time, actor, actor_role, actor_name, job_id, action, resource_type, \
         resource_id, changes, request_id, source, hash) VALUES {}",
        d.value_rows(rows, COLUMNS, "")
    )
}

/// Events numbered and hashed after a head, ready to insert.
pub(super) struct Sealed {
    pub params: Vec<Param>,
    pub rows: usize,
    pub head: Head,
}

/// The stored form of one event, as `verify` reads it back; the content its hash covers.
#[derive(Clone, Copy)]
pub struct EventContent<'a> {
    pub tenant: &'a str,
    pub seq: i64,
    pub time: &'a str,
    pub actor: &'a str,
    pub role: Option<&'a str>,
    pub name: Option<&'a str>,
    pub job_id: Option<&'a str>,
    pub action: &'a str,
    pub resource_type: Option<&'a str>,
    pub resource_id: Option<&'a str>,
    /// The stored `changes` text.
    pub changes: &'a str,
    pub request_id: Option<&'a str>,
    pub source: &'a str,
}

impl EventContent<'_> {
    /// SHA-256 of `prev` (as hex) followed by the canonical JSON of this content.
    /// `changes` is parsed and re-written canonically, so the hash does not depend on how a
    /// database returns the text.
    pub fn hash(&self, prev: &Hash) -> Hash {
        let changes = match serde_json::from_str::<Value>(self.changes) {
            Ok(changes) => canonical(&changes),
            Err(_) => canonical(&Value::String(self.changes.to_owned())),
        };
        EventContent { changes: &changes, ..*self }.hash_canonical(prev)
    }

    /// `hash` of content whose `changes` is canonical JSON already (as `seal` writes it): the
    /// canonical JSON of the whole is written directly, keys in sorted order, on the writer's
    /// critical path without parsing anything again.
    fn hash_canonical(&self, prev: &Hash) -> Hash {
        fn text(out: &mut Vec<u8>, value: Option<&str>) {
            match value {
                Some(value) => write_json(out, value),
                None => out.extend_from_slice(b"null"),
            }
        }
        let mut out = Vec::with_capacity(self.changes.len() + 512);
        let fields: [(&str, Option<&str>); 12] = [
            ("action", Some(self.action)),
            ("actor", Some(self.actor)),
            ("actorName", self.name),
            ("actorRole", self.role),
            ("changes", None),
            ("jobId", self.job_id),
            ("requestId", self.request_id),
            ("resourceId", self.resource_id),
            ("resourceType", self.resource_type),
            ("seq", None),
            ("source", Some(self.source)),
            ("tenant", Some(self.tenant)),
        ];
        out.push(b'{');
        for (key, value) in fields {
            write_json(&mut out, key);
            out.push(b':');
            match key {
                "changes" => out.extend_from_slice(self.changes.as_bytes()),
                "seq" => write_json(&mut out, &self.seq),
                _ => text(&mut out, value),
            }
            out.push(b',');
        }
        out.extend_from_slice(b"\"time\":");
        text(&mut out, Some(self.time));
        out.push(b'}');
        let mut prev_hex = [0u8; 64];
        hex::encode_to_slice(prev, &mut prev_hex).expect("64 bytes hold 32 in hex");
        let mut digest = Sha256::new();
        digest.update(prev_hex);
        digest.update(&out);
        digest.finalize().into()
    }
}

/// Numbers `events` after `head` and chains their hashes.
pub(super) fn seal(tenant: &str, ctx: &AuditContext, events: &[AuditEvent], head: Head, time: &str) -> Sealed {
    let mut params = Vec::with_capacity(events.len() * COLUMNS);
    let mut head = head;
    for event in events {
        let seq = head.seq + 1;
        let hash = EventContent {
            tenant,
            seq,
            time,
            actor: &ctx.actor,
            role: ctx.role.as_deref(),
            name: ctx.name.as_deref(),
            job_id: ctx.job_id.as_deref(),
            action: &event.action,
            resource_type: event.resource_type,
            resource_id: event.resource_id.as_deref(),
            changes: &event.changes,
            request_id: ctx.request_id.as_deref(),
            source: &ctx.source,
        }
        .hash_canonical(&head.hash);
        params.extend([
            Param::Int(event_id(head.chain, seq)),
            Param::Text(time.to_owned()),
            Param::Text(ctx.actor.clone()),
            Param::OptText(ctx.role.clone()),
            Param::OptText(ctx.name.clone()),
            Param::OptText(ctx.job_id.clone()),
            Param::Text(event.action.clone()),
            Param::OptText(event.resource_type.map(str::to_owned)),
            Param::OptText(event.resource_id.clone()),
            Param::Text(event.changes.clone()),
            Param::OptText(ctx.request_id.clone()),
            Param::Text(ctx.source.clone()),
            Param::Bytes(hash.to_vec()),
        ]);
        head = Head { seq, hash, ..head };
    }
    Sealed { params, rows: events.len(), head }
}

/// Appends the events of `writes` (tenant, who, events), in order, inside the current SQLite
/// transaction of `db`: per tenant one head read and one head move, and per event a cached one-row
/// INSERT.
pub(super) fn append_sqlite<'a>(
    db: &rusqlite::Connection,
    writes: impl IntoIterator<Item = (&'a str, &'a AuditContext, &'a [AuditEvent])>,
) -> rusqlite::Result<()> {
    if cfg!(feature = "bench-without-audit") {
        return Ok(());
    }
    let time = super::tenants::now();
    let mut heads: Vec<(&str, Head)> = Vec::new();
    let mut insert = db.prepare_cached(&insert_sql(Dialect::Sqlite, 1))?;
    for (tenant, ctx, events) in writes {
        let at = match heads.iter().position(|(t, _)| *t == tenant) {
            Some(at) => at,
            None => {
                heads.push((tenant, head_sqlite(db, tenant)?));
                heads.len() - 1
            }
        };
        let sealed = seal(tenant, ctx, events, heads[at].1.clone(), &time);
        for row in sealed.params.chunks(COLUMNS) {
            insert.execute(rusqlite::params_from_iter(row))?;
        }
        heads[at].1 = sealed.head;
    }
    let mut move_head = db.prepare_cached(&Dialect::Sqlite.placeholders(MOVE_HEAD_SQL))?;
    for (tenant, head) in heads {
        move_head.execute(rusqlite::params![tenant, head.seq, head.hash])?;
    }
    Ok(())
}

/// The tenant's head, its chain started if need be.
fn head_sqlite(db: &rusqlite::Connection, tenant: &str) -> rusqlite::Result<Head> {
    use rusqlite::OptionalExtension;
    let lock = || {
        db.prepare_cached(&Dialect::Sqlite.placeholders(LOCK_HEAD_SQL))?
            .query_row([tenant], |row| Ok(Head { chain: row.get(0)?, seq: row.get(1)?, hash: row.get(2)? }))
            .optional()
    };
    if let Some(head) = lock()? {
        return Ok(head);
    }
    db.prepare_cached(&Dialect::Sqlite.placeholders(NEW_HEAD_SQL))?.execute(rusqlite::params![tenant, GENESIS])?;
    lock()?.ok_or(rusqlite::Error::QueryReturnedNoRows)
}

/// JSON with object keys sorted at every level and no insignificant whitespace: the same value
/// always gives the same text (serde_json here keeps insertion order).
pub fn canonical(value: &Value) -> String {
    let mut out = Vec::new();
    write_canonical(&mut out, value);
    String::from_utf8(out).expect("JSON is UTF-8")
}

/// A string or a number, as serde_json writes it.
fn write_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    serde_json::to_writer(out, value).expect("writing to memory cannot fail");
}

fn write_canonical(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by_key(|(key, _)| *key);
            out.push(b'{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_json(out, key);
                out.push(b':');
                write_canonical(out, value);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(out, item);
            }
            out.push(b']');
        }
        scalar => write_json(out, scalar),
    }
}

/// The audit events of one write-queue batch (`batch`), appended together after its last write:
/// one head read and one head move per tenant and a cached one-row INSERT per event, instead of
/// three statements inside each write's savepoint. Events of a write that was undone are dropped
/// with it, so the chain holds exactly what commits, in the order the writes ran.
#[derive(Default)]
pub(super) struct BatchAudit {
    writes: Vec<(String, AuditContext, Vec<AuditEvent>)>,
}

impl BatchAudit {
    /// Records the events of the current write.
    pub fn record(&mut self, tenant: String, ctx: AuditContext, events: Vec<AuditEvent>) {
        if !events.is_empty() {
            self.writes.push((tenant, ctx, events));
        }
    }

    /// Where the next write's events start, for `undo_to`.
    pub fn mark(&self) -> usize {
        self.writes.len()
    }

    /// Drops the events of writes recorded since `mark` (their savepoint was rolled back).
    pub fn undo_to(&mut self, mark: usize) {
        self.writes.truncate(mark);
    }

    /// Numbers, chains and inserts every recorded event, inside the batch's transaction.
    pub fn append(self, db: &rusqlite::Connection) -> rusqlite::Result<()> {
        append_sqlite(db, self.writes.iter().map(|(tenant, ctx, events)| (tenant.as_str(), ctx, events.as_slice())))
    }
}

/// Appending inside a sqlx transaction (`tx.append_audit(…)` on either backend's transaction): on
/// SQLite through the transaction's own handle (`append_sqlite`), on PostgreSQL as multi-row INSERTs.
pub(crate) trait AppendAudit {
    fn append_audit(
        &mut self,
        tenant: &str,
        ctx: &AuditContext,
        events: &[AuditEvent],
    ) -> impl std::future::Future<Output = StoreResult<()>> + Send;
}

impl AppendAudit for sqlx::SqliteConnection {
    async fn append_audit(&mut self, tenant: &str, ctx: &AuditContext, events: &[AuditEvent]) -> StoreResult<()> {
        if events.is_empty() {
            return Ok(());
        }
        with_handle(self, |db| Ok(append_sqlite(db, [(tenant, ctx, events)])?)).await
    }
}

impl AppendAudit for sqlx::PgConnection {
    async fn append_audit(&mut self, tenant: &str, ctx: &AuditContext, events: &[AuditEvent]) -> StoreResult<()> {
        if events.is_empty() || cfg!(feature = "bench-without-audit") {
            return Ok(());
        }
        let d = Dialect::Postgres;
        let lock = sqlx::query_as::<_, (i64, i64, Hash)>(LOCK_HEAD_SQL).bind(tenant);
        let (chain, seq, hash) = match lock.fetch_optional(&mut *self).await? {
            Some(head) => head,
            None => {
                sqlx::query(NEW_HEAD_SQL).bind(tenant).bind(&GENESIS[..]).execute(&mut *self).await?;
                sqlx::query_as(LOCK_HEAD_SQL).bind(tenant).fetch_one(&mut *self).await?
            }
        };
        let mut head = Head { chain, seq, hash };
        let time = super::tenants::now();
        for chunk in events.chunks(EVENTS_PER_STATEMENT) {
            let sealed = seal(tenant, ctx, chunk, head, &time);
            bind!(sqlx::query(sqlx::AssertSqlSafe(insert_sql(d, sealed.rows))), &sealed.params)
                .execute(&mut *self)
                .await?;
            head = sealed.head;
        }
        sqlx::query(MOVE_HEAD_SQL).bind(tenant).bind(head.seq).bind(&head.hash[..]).execute(&mut *self).await?;
        Ok(())
    }
}

/// Events per INSERT: at 13 parameters a row, under SQLite's 32,766 and PostgreSQL's 65,535.
pub(super) const EVENTS_PER_STATEMENT: usize = 1000;

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ctx() -> AuditContext {
        AuditContext::cli(Some("root".into()))
    }

    #[test]
    fn canonical_sorts_keys_at_every_level() {
        let value = json!({"b": 1, "a": {"d": [{"y": 1, "x": 2}], "c": "é\""}});
        assert_eq!(canonical(&value), r#"{"a":{"c":"é\"","d":[{"x":2,"y":1}]},"b":1}"#);
    }

    #[test]
    fn seal_chains_each_event_to_the_one_before() {
        let events = vec![
            AuditEvent::new("user.create", "User", "u1", json!({"userName": {"new": "a"}})),
            AuditEvent::new("user.delete", "User", "u1", json!({})),
        ];
        let head = Head { chain: 3, seq: 7, hash: GENESIS };
        let sealed = seal("t", &ctx(), &events, head, "2026-01-01T00:00:00.000000Z");
        assert_eq!(sealed.rows, 2);
        assert_eq!((sealed.head.chain, sealed.head.seq), (3, 9));
        let row = |i: usize| &sealed.params[i * COLUMNS..(i + 1) * COLUMNS];
        assert_eq!(row(0)[0], Param::Int(3 * CHAIN_SPAN + 8));
        assert_eq!(row(1)[0], Param::Int(3 * CHAIN_SPAN + 9));
        // Each hash covers the one before it, and the head is the last hash.
        let hash = |i: usize| match &row(i)[12] {
            Param::Bytes(hash) => Hash::try_from(hash.as_slice()).expect("32 bytes"),
            other => panic!("a hash, not {other:?}"),
        };
        let content = |i: usize, seq: i64| EventContent {
            tenant: "t",
            seq,
            time: "2026-01-01T00:00:00.000000Z",
            actor: "cli",
            role: None,
            name: Some("root"),
            job_id: None,
            action: &events[i].action,
            resource_type: Some("User"),
            resource_id: Some("u1"),
            changes: &events[i].changes,
            request_id: None,
            source: "cli",
        };
        assert_eq!(hash(0), content(0, 8).hash(&GENESIS));
        assert_eq!(hash(1), content(1, 9).hash(&hash(0)));
        assert_eq!(sealed.head.hash, hash(1));
    }

    #[test]
    fn the_hash_covers_every_field_and_the_previous_hash() {
        let content = EventContent {
            tenant: "t",
            seq: 1,
            time: "2026-01-01T00:00:00.000000Z",
            actor: "cli",
            role: None,
            name: None,
            job_id: None,
            action: "tenant.create",
            resource_type: Some("Tenant"),
            resource_id: Some("t"),
            changes: r#"{"name":{"new":"acme"}}"#,
            request_id: None,
            source: "cli",
        };
        let base = content.hash(&GENESIS);
        assert_ne!(content.hash(&[1; 32]), base);
        assert_ne!(EventContent { changes: r#"{"name":{"new":"acme2"}}"#, ..content }.hash(&GENESIS), base);
        assert_ne!(EventContent { actor: "system", ..content }.hash(&GENESIS), base);
        // Written directly, the content is the canonical JSON of the whole.
        let whole = json!({"tenant": "t", "seq": 1, "time": "2026-01-01T00:00:00.000000Z", "actor": "cli",
            "actorRole": null, "actorName": null, "jobId": null, "action": "tenant.create", "resourceType": "Tenant",
            "resourceId": "t", "changes": {"name": {"new": "acme"}}, "requestId": null, "source": "cli"});
        let mut digest = Sha256::new();
        digest.update("0".repeat(64).as_bytes());
        digest.update(canonical(&whole).as_bytes());
        assert_eq!(base, <Hash>::from(digest.finalize()));
        // The same changes written differently hash the same.
        assert_eq!(EventContent { changes: r#"{ "name" : { "new" : "acme" } }"#, ..content }.hash(&GENESIS), base);
    }
}
