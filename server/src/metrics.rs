//! Prometheus metrics in the text exposition format, kept in atomics: recording a decision takes
//! no lock and allocates nothing.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use tollgate::ErrorCode;

/// Upper bounds of the decision latency buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005,
    0.01, 0.025, 0.05, 0.1,
];

/// What became of one forwarded request, for the decisions counter: a decision of the engine,
/// or one the service made itself before asking the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The engine decided, with this reason (its status is the reason's).
    Engine(ErrorCode),
    /// The forwarded request was malformed: 400 `invalid_request`.
    Malformed,
    /// The forwarded request had too many or too large headers: 431 `invalid_request`.
    TooLarge,
    /// The service failed (a panic, or a decision it could not put into a response): 500.
    Internal,
}

/// Reload outcomes of one file.
#[derive(Default)]
struct Reloads {
    ok: AtomicU64,
    error: AtomicU64,
}

/// The service's metrics.
pub(crate) struct Metrics {
    /// One counter per `ErrorCode::ALL` entry, then 431 `invalid_request`.
    decisions: Vec<AtomicU64>,
    /// Non-cumulative bucket counts; the last one is `+Inf`.
    latency_buckets: [AtomicU64; BUCKETS.len() + 1],
    latency_sum_ns: AtomicU64,
    latency_count: AtomicU64,
    policy_reloads: Reloads,
    key_refreshes: Reloads,
    refresh_hints: AtomicU64,
    panics: AtomicU64,
    ready: AtomicBool,
    /// Store lookups: found, absent, failed.
    store_lookups: [AtomicU64; 3],
}

impl Metrics {
    pub(crate) fn new() -> Metrics {
        Metrics {
            decisions: (0..=ErrorCode::ALL.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            latency_buckets: Default::default(),
            latency_sum_ns: AtomicU64::new(0),
            latency_count: AtomicU64::new(0),
            policy_reloads: Reloads::default(),
            key_refreshes: Reloads::default(),
            refresh_hints: AtomicU64::new(0),
            panics: AtomicU64::new(0),
            ready: AtomicBool::new(false),
            store_lookups: Default::default(),
        }
    }

    fn index(outcome: Outcome) -> usize {
        let code = match outcome {
            Outcome::Engine(code) => code,
            Outcome::Malformed => ErrorCode::InvalidRequest,
            Outcome::Internal => ErrorCode::Internal,
            Outcome::TooLarge => return ErrorCode::ALL.len(),
        };
        ErrorCode::ALL
            .iter()
            .position(|c| *c == code)
            .unwrap_or(ErrorCode::ALL.len())
    }

    /// Counts one forwarded request and how long it took.
    pub(crate) fn record(&self, outcome: Outcome, elapsed: Duration) {
        if let Some(c) = self.decisions.get(Self::index(outcome)) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        let secs = elapsed.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|&b| secs <= b)
            .unwrap_or(BUCKETS.len());
        if let Some(b) = self.latency_buckets.get(bucket) {
            b.fetch_add(1, Ordering::Relaxed);
        }
        let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.latency_sum_ns.fetch_add(ns, Ordering::Relaxed);
        self.latency_count.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn policy_reload(&self, ok: bool) {
        let r = &self.policy_reloads;
        if ok { &r.ok } else { &r.error }.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn key_refresh(&self, ok: bool) {
        let r = &self.key_refreshes;
        if ok { &r.ok } else { &r.error }.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn refresh_hint(&self) {
        self.refresh_hints.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one lookup in the record store: `Ok(found)`, or `Err` when it did not answer.
    pub(crate) fn store_lookup<E>(&self, result: Result<bool, E>) {
        let i = match result {
            Ok(true) => 0,
            Ok(false) => 1,
            Err(_) => 2,
        };
        if let Some(c) = self.store_lookups.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn panic(&self) {
        self.panics.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Relaxed);
    }

    pub(crate) fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// The metrics in the Prometheus text format (version 0.0.4); `ready` is the service's
    /// readiness, which also depends on what the metrics do not know.
    pub(crate) fn render(&self, policy_name: &str, ready: bool) -> String {
        let mut out = String::with_capacity(4096);
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);

        out.push_str(
            "# HELP tollgate_decisions_total Forwarded requests answered, by status and reason.\n\
             # TYPE tollgate_decisions_total counter\n",
        );
        let rows = ErrorCode::ALL
            .iter()
            .map(|c| (c.http_status(), c.name()))
            .chain([(431, ErrorCode::InvalidRequest.name())]);
        for ((status, reason), count) in rows.zip(&self.decisions) {
            let n = load(count);
            if n > 0 {
                let _ = writeln!(
                    out,
                    "tollgate_decisions_total{{status=\"{status}\",reason=\"{reason}\"}} {n}"
                );
            }
        }

        out.push_str(
            "# HELP tollgate_decision_duration_seconds Time to answer a forwarded request.\n\
             # TYPE tollgate_decision_duration_seconds histogram\n",
        );
        let mut cumulative = 0u64;
        for (i, b) in self.latency_buckets.iter().enumerate() {
            cumulative = cumulative.saturating_add(load(b));
            match BUCKETS.get(i) {
                Some(le) => {
                    let _ = writeln!(
                        out,
                        "tollgate_decision_duration_seconds_bucket{{le=\"{le}\"}} {cumulative}"
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "tollgate_decision_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
                    );
                }
            }
        }
        let sum = Duration::from_nanos(load(&self.latency_sum_ns)).as_secs_f64();
        let _ = writeln!(out, "tollgate_decision_duration_seconds_sum {sum}");
        let _ = writeln!(
            out,
            "tollgate_decision_duration_seconds_count {}",
            load(&self.latency_count)
        );

        out.push_str(
            "# HELP tollgate_store_lookups_total Records read from the shared store, by result.\n\
             # TYPE tollgate_store_lookups_total counter\n",
        );
        for (result, n) in ["found", "absent", "error"].iter().zip(&self.store_lookups) {
            let _ = writeln!(
                out,
                "tollgate_store_lookups_total{{result=\"{result}\"}} {}",
                load(n)
            );
        }
        out.push_str(
            "# HELP tollgate_policy_reloads_total Policy reloads, by result.\n\
             # TYPE tollgate_policy_reloads_total counter\n",
        );
        for (result, n) in [
            ("ok", &self.policy_reloads.ok),
            ("error", &self.policy_reloads.error),
        ] {
            let _ = writeln!(
                out,
                "tollgate_policy_reloads_total{{result=\"{result}\"}} {}",
                load(n)
            );
        }
        out.push_str(
            "# HELP tollgate_key_refreshes_total Key snapshot loads, by source and result.\n\
             # TYPE tollgate_key_refreshes_total counter\n",
        );
        for (result, n) in [
            ("ok", &self.key_refreshes.ok),
            ("error", &self.key_refreshes.error),
        ] {
            let _ = writeln!(
                out,
                "tollgate_key_refreshes_total{{source=\"file\",result=\"{result}\"}} {}",
                load(n)
            );
        }
        let _ = write!(
            out,
            "# HELP tollgate_key_refresh_hints_total Tokens naming a kid the keys lack.\n\
             # TYPE tollgate_key_refresh_hints_total counter\n\
             tollgate_key_refresh_hints_total {}\n\
             # HELP tollgate_handler_panics_total Handler panics answered with 500.\n\
             # TYPE tollgate_handler_panics_total counter\n\
             tollgate_handler_panics_total {}\n\
             # HELP tollgate_ready Whether the service is ready (keys loaded, not draining).\n\
             # TYPE tollgate_ready gauge\n\
             tollgate_ready {}\n\
             # HELP tollgate_build_info The running version and policy.\n\
             # TYPE tollgate_build_info gauge\n\
             tollgate_build_info{{version=\"{}\",policy=\"{}\"}} 1\n",
            load(&self.refresh_hints),
            load(&self.panics),
            u8::from(ready),
            tollgate::VERSION,
            escape_label(policy_name),
        );
        out
    }
}

/// A label value escaped as the text format requires.
pub(crate) fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_buckets_and_labels() {
        let m = Metrics::new();
        m.record(
            Outcome::Engine(ErrorCode::Expired),
            Duration::from_micros(3),
        );
        m.record(Outcome::Engine(ErrorCode::Allowed), Duration::from_secs(1));
        m.record(Outcome::TooLarge, Duration::from_micros(30));
        m.record(Outcome::Malformed, Duration::from_micros(30));
        m.policy_reload(false);
        let text = m.render("a \"b\"", true);
        assert!(text.contains("tollgate_decisions_total{status=\"401\",reason=\"expired\"} 1"));
        assert!(text.contains("tollgate_decisions_total{status=\"200\",reason=\"ok\"} 1"));
        assert!(text.contains("{status=\"431\",reason=\"invalid_request\"} 1"));
        assert!(text.contains("{status=\"400\",reason=\"invalid_request\"} 1"));
        assert!(text.contains("tollgate_decision_duration_seconds_bucket{le=\"0.000005\"} 1"));
        assert!(text.contains("tollgate_decision_duration_seconds_bucket{le=\"0.1\"} 3"));
        assert!(text.contains("tollgate_decision_duration_seconds_bucket{le=\"+Inf\"} 4"));
        assert!(text.contains("tollgate_decision_duration_seconds_count 4"));
        assert!(text.contains("tollgate_policy_reloads_total{result=\"error\"} 1"));
        assert!(text.contains("policy=\"a \\\"b\\\"\""));
    }
}
