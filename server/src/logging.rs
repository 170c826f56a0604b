//! Structured logs: one JSON object per line on stderr.

use tracing::Level;

/// Installs the JSON logger at `level` for the whole process. A logger already installed (a host
/// that set its own) is kept.
pub(crate) fn init(level: Level) {
    let _ = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .try_init();
}
