//! Connector schedules: cron expressions (`croner`, with optional seconds) and the scheduler loop
//! every `scimd serve` runs beside the job worker. The claiming itself is `Store::claim_due_schedules`.

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds};

use super::Jobs;
use super::connector::lock_key;
use crate::store::ScheduledRun;

/// Parses a cron expression: five fields (minute to weekday) or six (with seconds first).
pub fn parse(expr: &str) -> Result<Cron, String> {
    let cron = CronParser::builder().seconds(Seconds::Optional).build().parse(expr).map_err(|e| e.to_string())?;
    match cron.find_next_occurrence(&Utc::now(), false) {
        Ok(_) => Ok(cron),
        Err(_) => Err("it never falls due".to_owned()),
    }
}

/// The first due time of `expr` after `after`, in the store's time format.
pub fn next_after(expr: &str, after: DateTime<Utc>) -> Option<String> {
    let next = parse(expr).ok()?.find_next_occurrence(&after, false).ok()?;
    Some(next.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

/// Runs until the process stops: claims due schedules, queues their runs and wakes the worker.
pub async fn run(jobs: Jobs) {
    let poll = std::time::Duration::from_millis(jobs.config.sync.schedule_poll_millis.max(10));
    let next = |expr: &str| next_after(expr, Utc::now());
    loop {
        match jobs.store.claim_due_schedules(&next, lock_key).await {
            Ok(runs) => {
                for run in &runs {
                    match run {
                        ScheduledRun::Queued(job) => {
                            tracing::info!(job = %job.id, connector = %job.connector_id, due = ?job.scheduled_for, "scheduled run queued");
                        }
                        ScheduledRun::Skipped { job, held } => {
                            tracing::warn!(job = %job.id, connector = %job.connector_id, due = ?job.scheduled_for, ?held, "scheduled run skipped: another run holds the connector's lock");
                        }
                    }
                }
                if runs.iter().any(|run| matches!(run, ScheduledRun::Queued(_))) {
                    jobs.queued.notify_one();
                }
            }
            Err(e) => tracing::error!(error = %e, "could not claim due schedules"),
        }
        tokio::time::sleep(poll).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_and_six_field_expressions_parse_and_nonsense_does_not() {
        assert!(parse("*/5 * * * *").is_ok());
        assert!(parse("*/2 * * * * *").is_ok());
        assert!(parse("every day").is_err());
        assert!(parse("61 * * * *").is_err());
    }

    #[test]
    fn the_next_due_time_follows_the_expression() {
        let after = DateTime::parse_from_rfc3339("2026-11-01T10:07:30Z").unwrap().with_timezone(&Utc);
        assert_eq!(next_after("*/15 * * * *", after).as_deref(), Some("2026-11-01T10:15:00.000000Z"));
        assert_eq!(next_after("*/2 * * * * *", after).as_deref(), Some("2026-11-01T10:07:32.000000Z"));
    }
}
