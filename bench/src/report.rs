//! What a scenario reports: throughput, latency percentiles, errors, the process's peak memory, the correctness
//! check, and the bare database's figure for the same writes.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latencies of one measured run.
pub struct Latencies(Histogram<u64>);

impl Default for Latencies {
    fn default() -> Self {
        // Microseconds from 1 µs to 2 minutes at 3 significant figures: fixed, valid bounds.
        #[allow(clippy::expect_used)]
        Latencies(Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid histogram bounds"))
    }
}

impl FromIterator<Duration> for Latencies {
    fn from_iter<I: IntoIterator<Item = Duration>>(durations: I) -> Latencies {
        let mut lat = Latencies::default();
        for d in durations {
            lat.record(d);
        }
        lat
    }
}

impl Latencies {
    pub fn record(&mut self, d: Duration) {
        let micros = u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1);
        let _ = self.0.record(micros.min(self.0.high()));
    }

    fn ms(&self, q: f64) -> f64 {
        self.0.value_at_quantile(q) as f64 / 1000.0
    }
}

#[derive(Debug, Serialize)]
pub struct Row {
    pub scenario: String,
    pub database: String,
    pub requests: u64,
    pub errors: u64,
    pub seconds: f64,
    pub per_second: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Peak resident memory during the measured part, in MB: of the server's own process when it runs in one
    /// (`memory_of` = "server"), else of the whole bench process (server, load generator and sandboxes).
    pub peak_rss_mb: f64,
    pub memory_of: String,
    /// The server's own time for the measured route (its request-duration histogram, read from `/metrics` before
    /// and after, interpolated within buckets as Prometheus' `histogram_quantile` does).
    pub server_p50_ms: Option<f64>,
    pub server_p99_ms: Option<f64>,
    /// Share of the measured requests the server answered within 5 ms (the histogram's bucket bound).
    pub server_within_5ms: Option<f64>,
    /// The bare database doing the same writes: one client in a loop, and many at once (per second).
    pub bare_one_client_per_second: Option<f64>,
    pub bare_many_clients_per_second: Option<f64>,
    /// per_second ÷ the better bare figure.
    pub ratio_to_bare: Option<f64>,
    pub check: String,
    pub check_ok: bool,
}

impl Row {
    pub fn new(scenario: &str, database: &str, requests: u64, errors: u64, elapsed: Duration, lat: &Latencies) -> Row {
        let seconds = elapsed.as_secs_f64();
        Row {
            scenario: scenario.into(),
            database: database.into(),
            requests,
            errors,
            seconds,
            per_second: if seconds > 0.0 { requests as f64 / seconds } else { 0.0 },
            p50_ms: lat.ms(0.50),
            p95_ms: lat.ms(0.95),
            p99_ms: lat.ms(0.99),
            max_ms: lat.0.max() as f64 / 1000.0,
            peak_rss_mb: peak_rss_mb(),
            memory_of: "bench process".into(),
            server_p50_ms: None,
            server_p99_ms: None,
            server_within_5ms: None,
            bare_one_client_per_second: None,
            bare_many_clients_per_second: None,
            ratio_to_bare: None,
            check: String::new(),
            check_ok: true,
        }
    }

    pub fn with_bare(mut self, one: f64, many: f64) -> Row {
        self.bare_one_client_per_second = Some(one);
        self.bare_many_clients_per_second = Some(many);
        let best = one.max(many);
        self.ratio_to_bare = (best > 0.0).then(|| self.per_second / best);
        self
    }

    /// The server's memory, measured in its own process or in the bench's.
    pub fn with_memory(mut self, memory: crate::target::Memory, placement: crate::target::Placement) -> Row {
        self.peak_rss_mb = memory.peak_mb;
        self.memory_of = match placement {
            crate::target::Placement::OwnProcess => "server process".into(),
            crate::target::Placement::InProcess => "bench process".into(),
        };
        self
    }

    pub fn with_server_times(mut self, times: &crate::metrics::ServerTimes) -> Row {
        self.server_p50_ms = times.quantile_ms(0.50);
        self.server_p99_ms = times.quantile_ms(0.99);
        self.server_within_5ms = times.share_within(0.005);
        self
    }

    pub fn checked(mut self, ok: bool, what: impl Into<String>) -> Row {
        self.check_ok = ok;
        self.check = what.into();
        self
    }
}

/// VmHWM of this process (Linux), in MB: the whole bench process, for scenarios that run everything in it.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// The report as a table on standard output (this program's product).
pub fn print_table(rows: &[Row]) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{:<26} {:<8} {:>8} {:>6} {:>10} {:>8} {:>8} {:>8} {:>8} {:>9} {:>9} {:>9} {:>10} {:>7}  check",
        "scenario",
        "db",
        "requests",
        "errors",
        "per sec",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "max ms",
        "srv p50",
        "srv p99",
        "RSS MB",
        "bare/s",
        "ratio"
    );
    for r in rows {
        let bare = r.bare_one_client_per_second.zip(r.bare_many_clients_per_second).map(|(a, b)| a.max(b));
        let _ = writeln!(
            out,
            "{:<26} {:<8} {:>8} {:>6} {:>10.0} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>9} {:>9} {:>8.1}{} {:>10} {:>7}  {} {}",
            r.scenario,
            r.database,
            r.requests,
            r.errors,
            r.per_second,
            r.p50_ms,
            r.p95_ms,
            r.p99_ms,
            r.max_ms,
            r.server_p50_ms.map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into()),
            r.server_p99_ms.map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into()),
            r.peak_rss_mb,
            if r.memory_of == "server process" { "s" } else { "*" },
            bare.map(|b| format!("{b:.0}")).unwrap_or_else(|| "-".into()),
            r.ratio_to_bare.map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into()),
            if r.check_ok { "ok" } else { "FAILED" },
            r.check,
        );
    }
    let _ = writeln!(out, "RSS MB: s = the server's own process during the measured part; * = the whole bench process");
}
