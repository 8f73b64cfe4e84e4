//! Structured logs. `RUST_LOG` overrides `log.level`; `log.format = "json"` writes JSON lines.

use std::io::{BufWriter, IsTerminal};

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Installs the subscriber. Lines go to stderr from a background thread through a buffer, so a busy
/// server does not make one write system call per request (measured: about a tenth of a GET's cost).
/// Keep the guard until shutdown: dropping it flushes what is still buffered.
pub fn init(config: &LogConfig) -> WorkerGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.level));
    // Not lossy: under a flood of requests, logging slows the server rather than dropping lines.
    let (writer, guard) = NonBlockingBuilder::default().lossy(false).finish(BufWriter::new(std::io::stderr()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(std::io::stderr().is_terminal());
    let result = match config.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
    // A second init (tests start several servers in one process) keeps the first subscriber.
    drop(result);
    guard
}
