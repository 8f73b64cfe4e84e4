//! The audit log exported as CSV or JSON Lines, by `GET /admin/v1/audit/export` and
//! `scimd audit export` alike: the matching events are read a page at a time, so an export of any
//! size holds one page in memory.

use futures_util::{Stream, stream};
use serde_json::{Value, json};

use crate::store::{AuditFilter, AuditRow, Store, StoreResult};

/// Events read per query while an export runs.
const PAGE: i64 = 1000;

const CSV_HEADER: &str = "seq,time,actor,actorRole,actorName,jobId,action,resourceType,resourceId,changes,requestId,\
source,prevHash,hash\r\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One header line, then a line per event (`changes` as JSON text).
    Csv,
    /// One JSON object per line.
    Jsonl,
}

impl Format {
    pub fn parse(name: &str) -> Option<Format> {
        match name {
            "csv" => Some(Format::Csv),
            "jsonl" => Some(Format::Jsonl),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Csv => "text/csv; charset=utf-8",
            Format::Jsonl => "application/x-ndjson",
        }
    }

    /// What comes before the first event.
    pub fn header(self) -> &'static [u8] {
        match self {
            Format::Csv => CSV_HEADER.as_bytes(),
            Format::Jsonl => b"",
        }
    }

    /// Events in this format.
    pub fn render(self, rows: &[AuditRow]) -> Vec<u8> {
        match self {
            Format::Csv => csv_rows(rows),
            Format::Jsonl => jsonl_rows(rows),
        }
    }
}

/// An event as the API and the JSON Lines export show it.
pub fn event_json(row: &AuditRow) -> Value {
    json!({
        "seq": row.seq,
        "time": row.event_time,
        "actor": row.actor,
        "actorRole": row.actor_role,
        "actorName": row.actor_name,
        "jobId": row.job_id,
        "action": row.action,
        "resourceType": row.resource_type,
        "resourceId": row.resource_id,
        "changes": serde_json::from_str::<Value>(&row.changes).unwrap_or(Value::Null),
        "requestId": row.request_id,
        "source": row.source,
        "prevHash": row.prev_hash,
        "hash": row.hash,
    })
}

fn csv_rows(rows: &[AuditRow]) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    for row in rows {
        let optional = |v: &Option<String>| v.clone().unwrap_or_default();
        let record = [
            row.seq.to_string(),
            row.event_time.clone(),
            row.actor.clone(),
            optional(&row.actor_role),
            optional(&row.actor_name),
            optional(&row.job_id),
            row.action.clone(),
            optional(&row.resource_type),
            optional(&row.resource_id),
            row.changes.clone(),
            optional(&row.request_id),
            row.source.clone(),
            row.prev_hash.clone(),
            row.hash.clone(),
        ];
        writer.write_record(&record).expect("writing to memory cannot fail");
    }
    writer.into_inner().expect("writing to memory cannot fail")
}

fn jsonl_rows(rows: &[AuditRow]) -> Vec<u8> {
    let mut out = Vec::new();
    for row in rows {
        out.extend(event_json(row).to_string().into_bytes());
        out.push(b'\n');
    }
    out
}

/// The tenant's events that pass `filter`, oldest first, a page at a time; ends after an error.
pub fn pages(store: Store, tenant: String, filter: AuditFilter) -> impl Stream<Item = StoreResult<Vec<AuditRow>>> {
    stream::unfold(Some(0i64), move |after| {
        let (store, tenant, filter) = (store.clone(), tenant.clone(), filter.clone());
        async move {
            match store.audit_events(&tenant, &filter, after?, PAGE).await {
                Ok(rows) if rows.is_empty() => None,
                Ok(rows) => {
                    let next = rows.last().filter(|_| rows.len() as i64 == PAGE).map(|row| row.seq);
                    Some((Ok(rows), next))
                }
                Err(e) => Some((Err(e), None)),
            }
        }
    })
}
