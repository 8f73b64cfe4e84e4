//! Several replicas on one PostgreSQL (issue 7; DESIGN.md §4, §8). Two `scimd serve` processes
//! share a database and a files folder; one connector, reading the fake Microsoft Graph, is due
//! every three seconds, and each of its runs outlasts that. For a minute every due time gets exactly
//! one job (a run, or a `skipped` record while the previous run holds the connector's lock), each
//! run starts on exactly one replica, and no two runs overlap. Then the replica running a job is
//! killed (SIGKILL): once the job's lease has expired the other replica marks it `interrupted` and
//! goes on running the schedule.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use scimd::sync::schedule::next_after;
use scimd_fakes::graph::{self, Directory, FakeGraph};
use serde_json::{Value, json};
use sqlx::Connection;

use crate::fixture::{Db, ScimdProcess, TestDb, scimd_cli, until};

const SCHEDULE: &str = "*/3 * * * * *";
const LEASE_SECONDS: &str = "4";
/// Every Graph answer waits this long: a run (a token, then a delta page or two) takes 4 to 6 s, so
/// a due time falls inside each run and is skipped.
const LATENCY: Duration = Duration::from_secs(2);
/// Long enough to find and kill the replica running a job before the job's first answer.
const SLOW_LATENCY: Duration = Duration::from_secs(10);
/// How long both replicas run the schedule before one is killed.
const OBSERVED: Duration = Duration::from_secs(60);
const SKIPPED: &str = "skipped: another run of this connector held its lock when this run was due";

struct Replica {
    process: ScimdProcess,
    log: PathBuf,
}

impl Replica {
    fn start(dir: &Path, database: &str, env: &[(&str, &str)], n: usize) -> Self {
        let log = dir.join(format!("replica-{n}.log"));
        Replica { process: ScimdProcess::start(dir, database, env, Some(&log)), log }
    }

    /// Whether this replica's worker started job `id`, as its log says.
    fn started(&self, id: &str) -> bool {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        log.lines().any(|line| line.contains("job started") && line.contains(id))
    }
}

/// The admin API of one replica.
struct Admin<'a> {
    client: &'a reqwest::Client,
    token: &'a str,
    base: &'a str,
}

impl Admin<'_> {
    /// The tenant's jobs, newest first; None while the replica does not answer.
    async fn jobs(&self) -> Option<Vec<Value>> {
        let url = format!("{}/admin/v1/jobs?count=500", self.base);
        let reply = self.client.get(url).bearer_auth(self.token).send().await.ok()?;
        assert_eq!(reply.status(), 200);
        let body: Value = reply.json().await.ok()?;
        body["Resources"].as_array().cloned()
    }

    async fn job(&self, id: &str) -> Option<Value> {
        self.jobs().await?.into_iter().find(|job| job["id"] == id)
    }
}

fn text<'a>(job: &'a Value, key: &str) -> &'a str {
    job[key].as_str().unwrap_or_else(|| panic!("{key} of {job:#}"))
}

fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).expect("an RFC 3339 time").with_timezone(&Utc)
}

/// Due times of `SCHEDULE` strictly between `from` and `to`.
fn due_times_between(from: &str, to: &str) -> Vec<String> {
    let mut between = Vec::new();
    let mut at = from.to_owned();
    loop {
        at = next_after(SCHEDULE, time(&at)).expect("the schedule goes on");
        if at.as_str() >= to {
            return between;
        }
        between.push(at.clone());
    }
}

/// Checks the whole history of the schedule: each due time once, missed ones only while no replica
/// claimed, skips only while a run held the lock, and runs one after the other. Returns how many
/// due times were missed (none unless both replicas were held up for a whole period).
fn check_history(history: &[Value]) -> usize {
    let mut missed_times = 0;
    let mut jobs: Vec<&Value> = history.iter().collect();
    jobs.sort_by_key(|job| text(job, "scheduledFor"));
    for pair in jobs.windows(2) {
        let (earlier, later) = (pair[0], pair[1]);
        assert!(text(earlier, "scheduledFor") < text(later, "scheduledFor"), "one job per due time: {pair:#?}");
        // A due time with no job is fine only if it had passed when the earlier one was claimed
        // (a scheduler that claims late runs once, not once per missed time).
        for missed in due_times_between(text(earlier, "scheduledFor"), text(later, "scheduledFor")) {
            assert!(missed.as_str() <= text(earlier, "requested"), "due time {missed} has no job: {pair:#?}");
            missed_times += 1;
        }
    }
    // A skip while the previous run held the lock: it was still unfinished at the due time.
    let mut holder: Option<&Value> = None;
    for job in &jobs {
        if job["status"] == "skipped" {
            assert_eq!(job["error"], SKIPPED, "{job:#}");
            let holder = holder.unwrap_or_else(|| panic!("a skip with no run before it: {job:#}"));
            let finished = holder["finished"].as_str().unwrap_or("9");
            assert!(
                finished >= text(job, "scheduledFor"),
                "skipped after the run it waited for ended: {holder:#} {job:#}"
            );
        } else {
            holder = Some(job);
        }
    }
    // Runs, by start: each ends before the next one starts.
    let mut runs: Vec<&Value> = jobs.iter().copied().filter(|job| job["started"].is_string()).collect();
    runs.sort_by_key(|job| text(job, "started"));
    for pair in runs.windows(2) {
        let finished =
            pair[0]["finished"].as_str().unwrap_or_else(|| panic!("an unfinished run before another: {pair:#?}"));
        assert!(finished <= text(pair[1], "started"), "two runs overlap: {pair:#?}");
    }
    missed_times
}

#[tokio::test]
async fn two_replicas_run_each_due_time_once_and_one_takes_over_from_a_killed_one() {
    let Some(test_db) = TestDb::new(Db::Postgres).await else { return };
    let database = test_db.url.as_str();
    let dir = tempfile::tempdir().expect("temp dir");
    scimd_cli(dir.path(), database, &["tenant", "create", "acme"]);
    let token = scimd_cli(dir.path(), database, &["token", "create", "--tenant", "acme", "--role", "admin"]);
    let mut directory = Directory::default();
    for n in 0..4 {
        let user = json!({"userPrincipalName": format!("user{n}@contoso.example"), "accountEnabled": true});
        directory.create_user(user.as_object().cloned().expect("an object"));
    }
    let fake = FakeGraph::start(directory).await.expect("the fake starts");
    fake.set_latency(LATENCY);
    let secret = dir.path().join("graph-secret");
    std::fs::write(&secret, graph::CLIENT_SECRET).expect("write");

    let files = dir.path().join("files").display().to_string();
    let env = [
        ("SCIMD_SYNC__FILES_DIR", files.as_str()),
        ("SCIMD_SYNC__LEASE_SECONDS", LEASE_SECONDS),
        ("SCIMD_SYNC__SCHEDULE_POLL_MILLIS", "200"),
    ];
    let mut replicas: Vec<Replica> = (0..2).map(|n| Replica::start(dir.path(), database, &env, n)).collect();
    let bases: Vec<String> = replicas.iter().map(|replica| replica.process.base.clone()).collect();
    let client = reqwest::Client::new();
    let admin = |n: usize| Admin { client: &client, token: &token, base: &bases[n] };
    for n in 0..2 {
        until(30, "the replica to answer", async || admin(n).jobs().await).await;
    }
    let body = json!({
        "name": "entra", "kind": "azure", "missingPolicy": "deactivate", "schedule": SCHEDULE, "retryAttempts": 0,
        "config": {
            "tenantId": graph::TENANT, "clientId": graph::CLIENT_ID, "clientSecretFile": secret,
            "authority": fake.base_url, "graphUrl": fake.graph_url(), "readGroups": false, "pageSize": 2,
        },
    });
    let reply = client.post(format!("{}/admin/v1/connectors", bases[0])).bearer_auth(&token).json(&body);
    assert_eq!(reply.send().await.expect("the connector is created").status(), 201);

    tokio::time::sleep(OBSERVED).await;
    let observed = admin(1).jobs().await.expect("the history");
    let count = |status: &str| observed.iter().filter(|job| job["status"] == status).count();
    let (completed, skipped) = (count("completed"), count("skipped"));
    assert_eq!(completed + skipped + count("running") + count("pending"), observed.len(), "{observed:#?}");
    assert!(completed >= 5 && skipped >= 5, "{completed} runs and {skipped} skips in a minute: {observed:#?}");
    let started = |job: &Value| replicas.iter().filter(|replica| replica.started(text(job, "id"))).count();
    let runs: Vec<&Value> = observed.iter().filter(|job| job["status"] == "completed").collect();
    assert!(runs.iter().all(|job| started(job) == 1), "each run started on exactly one replica");
    let on_first = runs.iter().filter(|job| replicas[0].started(text(job, "id"))).count();
    eprintln!("{completed} runs ({on_first} on replica 0, {} on replica 1), {skipped} skips", completed - on_first);

    // A run caught in the middle: the next one to start after the Graph fake slows right down.
    until(30, "a moment between runs", async || {
        admin(1).jobs().await?.iter().all(|job| job["status"] != "running").then_some(())
    })
    .await;
    fake.set_latency(SLOW_LATENCY);
    let earlier: HashSet<String> =
        admin(1).jobs().await.expect("jobs").iter().map(|job| text(job, "id").to_owned()).collect();
    let caught = until(30, "a run to start", async || {
        admin(1).jobs().await?.into_iter().find(|job| job["status"] == "running" && !earlier.contains(text(job, "id")))
    })
    .await;
    let id = text(&caught, "id").to_owned();
    let victim = until(10, "the log of the replica running it", async || {
        replicas.iter().position(|replica| replica.started(&id))
    })
    .await;
    let survivor = 1 - victim;
    replicas[victim].process.child.kill().expect("SIGKILL");
    replicas[victim].process.child.wait().expect("the process ends");
    let mut db = sqlx::PgConnection::connect(database).await.expect("the database");
    let (status, lease_expires): (String, Option<String>) =
        sqlx::query_as("SELECT status, lease_expires FROM sync_jobs WHERE id = $1")
            .bind(&id)
            .fetch_one(&mut db)
            .await
            .expect("the job");
    assert_eq!(status, "running", "nobody has noticed the kill yet");
    let lease_expires = lease_expires.expect("a running job has a lease");
    fake.set_latency(LATENCY);

    let interrupted = until(30, "the survivor to notice the expired lease", async || {
        admin(survivor).job(&id).await.filter(|job| job["status"] != "running")
    })
    .await;
    assert_eq!(interrupted["status"], "interrupted", "{interrupted:#}");
    assert!(text(&interrupted, "finished") > lease_expires.as_str(), "interrupted only once the lease expired");
    let takeover = until(30, "a later run to complete", async || {
        let jobs = admin(survivor).jobs().await?;
        jobs.into_iter()
            .find(|job| job["status"] == "completed" && job["scheduledFor"].as_str() > caught["scheduledFor"].as_str())
    })
    .await;
    assert!(replicas[survivor].started(text(&takeover, "id")), "the survivor ran it");

    let history = admin(survivor).jobs().await.expect("the history");
    assert!(history.iter().all(|job| job["trigger"] == "schedule"), "{history:#?}");
    let skipped_meanwhile = history.iter().filter(|job| {
        job["status"] == "skipped"
            && job["scheduledFor"].as_str() > caught["scheduledFor"].as_str()
            && job["scheduledFor"].as_str() < takeover["scheduledFor"].as_str()
    });
    assert!(skipped_meanwhile.count() >= 1, "the dead replica's job held the lock until interrupted: {history:#?}");
    let missed = check_history(&history);
    eprintln!("{} jobs in all, {missed} due times missed while no replica claimed", history.len());
}
