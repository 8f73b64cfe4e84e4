//! `result.csv` and `errors.csv` of a job, streamed from its stored outcomes a page at a time, with
//! the values each record had in the upload, exactly.

use axum::body::Body;
use futures_util::stream;
use scimd_connectors::csv::REPORT_COLUMNS;

use crate::store::{OutcomeRow, Store};

const PAGE: i64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// CREATED, UPDATED (with CHANGED_FIELDS), UNCHANGED, DEACTIVATED, DELETED, MAINTAINED.
    Result,
    /// FAILED with the error codes.
    Errors,
}

fn header(kind: Kind) -> Vec<u8> {
    let last = if kind == Kind::Result { "CHANGED_FIELDS" } else { "ERROR" };
    let mut line = REPORT_COLUMNS.join(",");
    line.push_str(",STATUS,");
    line.push_str(last);
    line.push_str("\r\n");
    line.into_bytes()
}

/// One page of rows as CSV (RFC 4180 quoting where a value needs it).
pub fn rows(kind: Kind, outcomes: &[OutcomeRow]) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    for outcome in outcomes {
        let mut values: Vec<String> =
            outcome.report.as_deref().and_then(|r| serde_json::from_str(r).ok()).unwrap_or_default();
        values.resize(REPORT_COLUMNS.len(), String::new());
        match kind {
            Kind::Result => {
                values.push(outcome.status.clone());
                values.push(outcome.changed_fields.clone().unwrap_or_default());
            }
            Kind::Errors => {
                values.push("FAILED".to_owned());
                values.push(outcome.error.clone().unwrap_or_default());
            }
        }
        writer.write_record(&values).expect("writing to memory cannot fail");
    }
    writer.into_inner().expect("writing to memory cannot fail")
}

/// The whole file as a response body.
pub fn stream(store: Store, job_id: String, kind: Kind) -> Body {
    let pages = stream::unfold(Some(-1i64), move |after| {
        let (store, job_id) = (store.clone(), job_id.clone());
        async move {
            let after = after?;
            if after < 0 {
                return Some((Ok(header(kind)), Some(0)));
            }
            match store.outcomes(&job_id, kind == Kind::Errors, after, PAGE).await {
                Ok(page) if page.is_empty() => None,
                Ok(page) => {
                    let next = page.last().map(|o| o.seq);
                    Some((Ok(rows(kind, &page)), next))
                }
                Err(e) => {
                    tracing::error!(job = %job_id, error = %e, "result file cut short");
                    Some((Err(std::io::Error::other(e.to_string())), None))
                }
            }
        }
    });
    Body::from_stream(pages)
}
