//! `/Bulk` (RFC 7644 §3.7): many operations in one request, run through the same domain functions
//! as `/Users` and `/Groups`, so each behaves as its single request would.
//!
//! Operations run in the plan's order (a POST before what references its bulkId). Each gets its
//! own outcome; a failure does not undo the others. After `failOnErrors` failures the rest do not
//! run. Consecutive user creates that reference nothing are written in batches (see `batch`).

mod batch;

use std::collections::{HashMap, HashSet};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use scimd_schemas::ScimError;
use scimd_schemas::bulk::{
    BULK_RESPONSE_SCHEMA, BulkMethod, BulkOperation, BulkRequest, plan, resolve_references, resolve_str,
};
use scimd_schemas::schema::ResourceKind;
use serde::Serialize;
use serde_json::Value;

use super::BaseUrl;
use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use super::json::{ScimBytes, scim_text_response};
use super::render::etag;
use super::resources::{self, create_resource, delete_resource, patch_resource, replace_resource, version_of};
use crate::http::AppState;
use crate::store::ResourceRow;
use batch::{Batch, Entry};

pub async fn bulk(
    State(state): State<AppState>,
    caller: Caller,
    BaseUrl(base): BaseUrl,
    ScimBytes(body): ScimBytes,
) -> ApiResult<Response> {
    caller.require_scim()?;
    let _slot =
        state.bulk_slots.acquire().await.map_err(|_| ScimError::new(503, None, "the server is shutting down"))?;
    let body =
        std::str::from_utf8(&body).map_err(|e| ScimError::invalid_syntax(format!("the body is not UTF-8: {e}")))?;
    let request = BulkRequest::parse(body, state.config.scim.bulk.max_operations)?;
    let mut run = Run::new(&state, &caller, &request);
    run.execute().await;
    Ok(scim_text_response(StatusCode::OK, run.response(&base)))
}

/// What happened to one operation.
struct Outcome {
    status: StatusCode,
    /// The resource it acted on, for `location`; `None` for a POST that failed.
    target: Option<(ResourceKind, String)>,
    version: Option<i64>,
    error: Option<ScimError>,
}

impl Outcome {
    fn failed(error: ApiError, target: Option<(ResourceKind, String)>) -> Outcome {
        let status = StatusCode::from_u16(error.0.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Outcome { status, target, version: None, error: Some(error.0) }
    }

    fn user_created(row: ResourceRow) -> Outcome {
        Outcome {
            status: StatusCode::CREATED,
            version: Some(row.version),
            target: Some((ResourceKind::User, row.id)),
            error: None,
        }
    }
}

struct Run<'a> {
    state: &'a AppState,
    caller: &'a Caller,
    managing_entity: String,
    ops: &'a [BulkOperation<'a>],
    fail_on_errors: Option<u64>,
    /// bulkIds of the request's POSTs: a reference to another is a client error.
    declared: HashSet<&'a str>,
    /// The ids of the resources the request's POSTs created, by bulkId.
    created: HashMap<&'a str, String>,
    outcomes: Vec<Option<Outcome>>,
    errors: u64,
    batch: Batch,
}

impl<'a> Run<'a> {
    fn new(state: &'a AppState, caller: &'a Caller, request: &'a BulkRequest<'a>) -> Run<'a> {
        let ops = &request.operations[..];
        let declared =
            ops.iter().filter(|op| op.method == BulkMethod::Post).filter_map(|op| op.bulk_id.as_deref()).collect();
        Run {
            state,
            caller,
            managing_entity: caller.managing_entity(),
            ops,
            fail_on_errors: request.fail_on_errors,
            declared,
            created: HashMap::new(),
            outcomes: ops.iter().map(|_| None).collect(),
            errors: 0,
            batch: Batch::default(),
        }
    }

    fn stopped(&self) -> bool {
        self.fail_on_errors.is_some_and(|n| self.errors >= n)
    }

    async fn execute(&mut self) {
        let plan = plan(self.ops);
        for index in plan.order {
            let op = &self.ops[index];
            if Batch::accepts(op) {
                let new = match self.data(op) {
                    Ok(data) => resources::prepare_create(self.state, ResourceKind::User, data).await,
                    Err(e) => Err(e),
                };
                self.batch.add(index, new);
                let budget_reached = self.fail_on_errors.is_some_and(|n| self.errors + self.batch.failures() >= n);
                if self.batch.is_full() || budget_reached {
                    self.flush().await;
                }
            } else {
                self.flush().await;
                if self.stopped() {
                    break;
                }
                let outcome = self.run_one(op, plan.circular[index]).await;
                self.finish(index, outcome);
            }
            if self.stopped() {
                break;
            }
        }
        self.flush().await;
    }

    fn finish(&mut self, index: usize, outcome: Outcome) {
        let op = &self.ops[index];
        if outcome.error.is_some() {
            self.errors += 1;
        } else if let (BulkMethod::Post, Some(bulk_id), Some((_, id))) = (op.method, &op.bulk_id, &outcome.target) {
            self.created.insert(bulk_id, id.clone());
        }
        self.outcomes[index] = Some(outcome);
    }

    async fn run_one(&self, op: &BulkOperation<'_>, circular: bool) -> Outcome {
        let (kind, id) = match op.target() {
            Ok(target) => target,
            Err(e) => return Outcome::failed(e.into(), None),
        };
        let id = match id.map(|id| self.resolve_id(id)).transpose() {
            Ok(id) => id,
            Err(e) => return Outcome::failed(e.into(), None),
        };
        let target = id.clone().map(|id| (kind, id));
        if circular {
            let detail = format!(
                "{} is part of a circular bulkId reference: no operation of the cycle can run first",
                op.bulk_id.as_deref().map_or_else(|| "this operation".to_owned(), |id| format!("bulkId {id:?}"))
            );
            return Outcome::failed(ScimError::new(409, None, detail).into(), target);
        }
        match self.apply(op, kind, id.as_deref()).await {
            Ok(Some(row)) => {
                let status = if op.method == BulkMethod::Post { StatusCode::CREATED } else { StatusCode::OK };
                Outcome { status, version: Some(row.version), target: Some((kind, row.id)), error: None }
            }
            Ok(None) => Outcome { status: StatusCode::NO_CONTENT, target, version: None, error: None },
            Err(e) => Outcome::failed(e, target.filter(|_| op.method != BulkMethod::Post)),
        }
    }

    /// Runs one operation through the domain function of its single request.
    async fn apply(
        &self,
        op: &BulkOperation<'_>,
        kind: ResourceKind,
        id: Option<&str>,
    ) -> ApiResult<Option<ResourceRow>> {
        let (state, caller) = (self.state, self.caller);
        let version = || version_of(op.version.as_deref());
        Ok(match (op.method, id) {
            (BulkMethod::Post, _) => Some(create_resource(state, caller, kind, self.data(op)?).await?),
            (BulkMethod::Put, Some(id)) => {
                Some(replace_resource(state, caller, kind, id, self.data(op)?, version()?).await?)
            }
            (BulkMethod::Patch, Some(id)) => {
                Some(patch_resource(state, caller, kind, id, self.data(op)?, version()?).await?)
            }
            (BulkMethod::Delete, Some(id)) => {
                delete_resource(state, caller, kind, id, version()?).await?;
                None
            }
            (_, None) => return Err(ScimError::new(405, None, "this operation needs a resource id in its path").into()),
        })
    }

    /// The operation's data with its bulkId references resolved.
    fn data(&self, op: &BulkOperation<'_>) -> ApiResult<Value> {
        let Some(raw) = op.data else { return Ok(Value::Null) };
        let mut data: Value = serde_json::from_str(raw.get())
            .map_err(|e| ScimError::invalid_syntax(format!("\"data\" is not valid JSON: {e}")))?;
        if !op.references.is_empty() {
            resolve_references(&mut data, &|bulk_id| self.lookup(bulk_id))?;
        }
        Ok(data)
    }

    fn resolve_id(&self, id: &str) -> Result<String, ScimError> {
        Ok(resolve_str(id, &|bulk_id| self.lookup(bulk_id))?.unwrap_or_else(|| id.to_owned()))
    }

    fn lookup(&self, bulk_id: &str) -> Result<String, ScimError> {
        match self.created.get(bulk_id) {
            Some(id) => Ok(id.clone()),
            None if self.declared.contains(bulk_id) => Err(ScimError::new(
                409,
                None,
                format!("\"bulkId:{bulk_id}\" cannot be resolved: the POST with that bulkId failed"),
            )),
            None => Err(ScimError::invalid_value(format!(
                "\"bulkId:{bulk_id}\" cannot be resolved: no POST of this request has that bulkId"
            ))),
        }
    }

    /// Writes the pending user creates: in one transaction when all succeed, else row by row, so
    /// each operation gets the outcome its single request would.
    async fn flush(&mut self) {
        let entries = self.batch.take();
        if entries.is_empty() {
            return;
        }
        let written = {
            let writes: Vec<_> = entries
                .iter()
                .filter_map(|entry| entry.new.as_ref().ok())
                .map(|new| new.write(&self.managing_entity))
                .collect();
            self.state.store.create_users(&self.caller.tenant_id, &writes, &self.caller.audit("scim")).await
        };
        match written {
            Ok(rows) => {
                let mut rows = rows.into_iter();
                for Entry { index, new } in entries {
                    let outcome = match new {
                        Ok(_) => rows.next().map(Outcome::user_created),
                        Err(e) => Some(Outcome::failed(e, None)),
                    };
                    if let Some(outcome) = outcome {
                        self.finish(index, outcome);
                    }
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, rows = entries.len(), "a batch of bulk creates failed; writing it row by row");
                for Entry { index, new } in entries {
                    if self.stopped() {
                        break;
                    }
                    let result = match new {
                        Ok(new) => resources::insert_resource(self.state, self.caller, ResourceKind::User, &new).await,
                        Err(e) => Err(e),
                    };
                    self.finish(index, result.map_or_else(|e| Outcome::failed(e, None), Outcome::user_created));
                }
            }
        }
    }

    /// The `BulkResponse`: the outcome of each operation that ran, in request order.
    /// The BulkResponse, serialised from borrowed parts: 10,000 results as `serde_json::Value`s
    /// took about 25 MB at once (measured with heaptrack), as text they take about 2 MB.
    fn response(&self, base: &str) -> String {
        let operations: Vec<OperationResponse<'_>> = self
            .ops
            .iter()
            .zip(&self.outcomes)
            .filter_map(|(op, outcome)| outcome.as_ref().map(|outcome| OperationResponse::new(base, op, outcome)))
            .collect();
        let body = BulkResponse { schemas: [BULK_RESPONSE_SCHEMA], operations };
        serde_json::to_string(&body).expect("a bulk response serialises")
    }
}

#[derive(Serialize)]
struct BulkResponse<'a> {
    schemas: [&'static str; 1],
    #[serde(rename = "Operations")]
    operations: Vec<OperationResponse<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OperationResponse<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    location: Option<String>,
    method: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    bulk_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version: Option<String>,
    status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    response: Option<Value>,
}

impl<'a> OperationResponse<'a> {
    fn new(base: &str, op: &'a BulkOperation<'_>, outcome: &Outcome) -> Self {
        OperationResponse {
            location: outcome.target.as_ref().map(|(kind, id)| format!("{base}{}/{id}", kind.endpoint())),
            method: op.method.as_str(),
            bulk_id: op.bulk_id.as_deref(),
            version: outcome.version.map(etag),
            status: outcome.status.as_u16().to_string(),
            response: outcome.error.as_ref().map(ScimError::body),
        }
    }
}
