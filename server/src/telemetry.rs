//! Structured logs. `RUST_LOG` overrides `log.level`; `log.format = "json"` writes JSON lines.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::config::{LogConfig, LogFormat};

/// How long a line may wait in the buffer before it reaches stderr.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// A buffer this full is written at once, by the thread that filled it.
const FLUSH_AT: usize = 64 * 1024;

/// Installs the subscriber. Keep the returned guard until shutdown: dropping it writes out what is
/// still buffered.
pub fn init(config: &LogConfig) -> FlushOnDrop {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.level));
    let buffer = LogBuffer::default();
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(buffer.clone())
        .with_ansi(std::io::stderr().is_terminal());
    let result = match config.format {
        LogFormat::Json => builder.json().try_init(),
        LogFormat::Text => builder.try_init(),
    };
    // A second init (tests start several servers in one process) keeps the first subscriber.
    drop(result);
    let flusher = buffer.clone();
    std::thread::Builder::new()
        .name("log-flush".into())
        .spawn(move || flusher.flush_periodically())
        .expect("a thread for flushing logs");
    FlushOnDrop(buffer)
}

/// Log lines collected in memory and written to stderr in chunks. A busy server logs a line per
/// request; one `write` per line, or waking a writer thread per line (tracing-appender), cost about
/// a tenth of a request's CPU in perf profiles of GET and group PATCH. Here a line is a copy into a
/// shared buffer, which a background thread writes out every 100 ms.
#[derive(Clone, Default)]
pub struct LogBuffer {
    lines: Arc<Mutex<Vec<u8>>>,
}

impl LogBuffer {
    fn lock(&self) -> MutexGuard<'_, Vec<u8>> {
        self.lines.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn flush_periodically(&self) {
        loop {
            std::thread::sleep(FLUSH_EVERY);
            self.flush_now();
        }
    }

    fn flush_now(&self) {
        let pending = std::mem::take(&mut *self.lock());
        write_out(&pending);
    }
}

fn write_out(bytes: &[u8]) {
    if !bytes.is_empty() {
        let mut stderr = std::io::stderr().lock();
        // Nowhere to report a failure to write logs.
        let _ = stderr.write_all(bytes).and_then(|()| stderr.flush());
    }
}

impl Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut buffer = self.lock();
        buffer.extend_from_slice(bytes);
        if buffer.len() >= FLUSH_AT {
            let pending = std::mem::take(&mut *buffer);
            drop(buffer);
            write_out(&pending);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Writes out the buffered lines when dropped (at shutdown).
pub struct FlushOnDrop(LogBuffer);

impl Drop for FlushOnDrop {
    fn drop(&mut self) {
        self.0.flush_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_wait_in_the_buffer_until_flushed() {
        let mut buffer = LogBuffer::default();
        buffer.write_all(b"one line\n").expect("write");
        assert_eq!(buffer.lock().as_slice(), b"one line\n");
        buffer.flush_now();
        assert!(buffer.lock().is_empty());
    }
}
