//! Crash safety of sync jobs with a real process kill: `scimd serve` is SIGKILLed in the middle of
//! a CSV sync. Every committed batch is whole (users, outcomes and the job's counters agree); after
//! a restart the job is `interrupted` once its lease expires, its lock is released, and the same
//! file run again converges.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::Connection;

use crate::fixture::{Db, ScimdProcess, TestDb, scimd_cli};

const ROWS: usize = 20_000;
const LEASE_SECONDS: &str = "2";

fn start(dir: &Path, database: &str) -> ScimdProcess {
    let env = [("SCIMD_SYNC__LEASE_SECONDS", LEASE_SECONDS), ("SCIMD_SYNC__BATCH_SIZE", "250")];
    ScimdProcess::start(dir, database, &env, None)
}

async fn until<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn job(client: &reqwest::Client, server: &ScimdProcess, token: &str, id: &str) -> Option<Value> {
    let reply = client.get(format!("{}/admin/v1/jobs/{id}", server.base)).bearer_auth(token).send().await.ok()?;
    reply.json().await.ok()
}

async fn upload(client: &reqwest::Client, server: &ScimdProcess, token: &str, file: &str) -> String {
    let reply = until("the server to take the upload", async || {
        let form = reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::text(file.to_owned()).file_name("users.csv").mime_str("text/csv").ok()?,
        );
        let reply = client
            .post(format!("{}/admin/v1/csv-sync?missing=keep", server.base))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .ok()?;
        Some(reply)
    })
    .await;
    assert_eq!(reply.status(), 202);
    let body: Value = reply.json().await.expect("json");
    body["id"].as_str().expect("job id").to_owned()
}

/// (users, CREATED outcomes, the job's created count, processed, status) as the database holds them.
async fn stored(db: Db, database: &str, job_id: &str) -> (i64, i64, i64, i64, String) {
    let outcomes = format!("SELECT count(*) FROM sync_outcomes WHERE job_id = '{job_id}' AND status = 'CREATED'");
    let job = format!("SELECT created_count, processed, status FROM sync_jobs WHERE id = '{job_id}'");
    macro_rules! read {
        ($conn:expr) => {{
            let mut conn = $conn.await.expect("open the database");
            let users: i64 =
                sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(&mut conn).await.expect("users");
            let outcomes: i64 =
                sqlx::query_scalar(sqlx::AssertSqlSafe(outcomes)).fetch_one(&mut conn).await.expect("outcomes");
            let (created, processed, status): (i64, i64, String) =
                sqlx::query_as(sqlx::AssertSqlSafe(job)).fetch_one(&mut conn).await.expect("job");
            (users, outcomes, created, processed, status)
        }};
    }
    match db {
        Db::Sqlite => read!(sqlx::SqliteConnection::connect(database)),
        Db::Postgres => read!(sqlx::PgConnection::connect(database)),
    }
}

async fn killed_mid_job_then_rerun(db: Db) {
    let Some(test_db) = TestDb::new(db).await else { return };
    let database = test_db.url.as_str();
    let dir = tempfile::tempdir().expect("temp dir");
    scimd_cli(dir.path(), database, &["tenant", "create", "acme"]);
    let token = scimd_cli(dir.path(), database, &["token", "create", "--tenant", "acme", "--role", "admin"]);
    let mut file = String::from("UserName,Email,UserId,GroupIdList,ActiveStatus\n");
    for n in 0..ROWS {
        file.push_str(&format!("User {n},user{n}@example.com,user{n}@example.com,,ACTIVE\n"));
    }
    let client = reqwest::Client::new();

    let mut server = start(dir.path(), database);
    let id = upload(&client, &server, &token, &file).await;
    until("a few batches to commit", async || {
        let job = job(&client, &server, &token, &id).await?;
        (job["status"] == "running" && job["progress"]["processed"].as_i64()? >= 1_000).then_some(())
    })
    .await;
    server.child.kill().expect("SIGKILL");
    server.child.wait().expect("the process ends");

    let (users, outcomes, created, processed, status) = stored(db, database, &id).await;
    assert_eq!(status, "running", "nobody has noticed the crash yet");
    assert!(processed < ROWS as i64, "killed before the end ({processed} of {ROWS})");
    assert_eq!((users, outcomes, created), (processed, processed, processed), "only whole batches were committed");

    let server = start(dir.path(), database);
    let interrupted = until("the expired lease to mark the job", async || {
        let job = job(&client, &server, &token, &id).await?;
        (job["status"] != "running").then_some(job)
    })
    .await;
    assert_eq!(interrupted["status"], "interrupted", "{interrupted:#}");

    let again = upload(&client, &server, &token, &file).await;
    let done = until("the rerun to end", async || {
        let job = job(&client, &server, &token, &again).await?;
        (job["status"] != "running" && job["status"] != "pending").then_some(job)
    })
    .await;
    assert_eq!(done["status"], "completed", "{done:#}");
    assert_eq!(
        (done["unchangedCount"].as_i64(), done["createdCount"].as_i64()),
        (Some(users), Some(ROWS as i64 - users))
    );
    let (users, ..) = stored(db, database, &again).await;
    assert_eq!(users, ROWS as i64, "the rerun converged");
    drop(server);
}

#[tokio::test]
async fn a_killed_sync_commits_whole_batches_and_a_rerun_converges_sqlite() {
    killed_mid_job_then_rerun(Db::Sqlite).await;
}

#[tokio::test]
async fn a_killed_sync_commits_whole_batches_and_a_rerun_converges_postgres() {
    killed_mid_job_then_rerun(Db::Postgres).await;
}
