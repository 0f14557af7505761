//! The server's own request times, read from its Prometheus histogram (`http_request_duration_seconds`) before and
//! after a measured part: the difference is what the server spent on the part's requests, without the client's
//! queueing or the loopback.

use std::collections::BTreeMap;

/// Cumulative bucket counts of one route (summed over methods and statuses), by upper bound in seconds.
#[derive(Clone, Debug, Default)]
pub struct ServerTimes {
    buckets: BTreeMap<u64, f64>,
    count: f64,
}

/// Bucket bounds as integer nanoseconds, so they order and compare exactly.
fn key(le: f64) -> u64 {
    if le.is_infinite() { u64::MAX } else { (le * 1e9).round() as u64 }
}

impl ServerTimes {
    /// Reads the histogram of `route` (its pattern, e.g. `/api/v1/challenges/{id}/join`) from `/metrics`.
    pub async fn read(http: &reqwest::Client, base: &str, route: &str) -> ServerTimes {
        let text = match http.get(format!("{base}/metrics")).send().await {
            Ok(resp) => resp.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        Self::parse(&text, route)
    }

    fn parse(text: &str, route: &str) -> ServerTimes {
        let wanted = format!("route=\"{route}\"");
        let mut times = ServerTimes::default();
        for line in text.lines() {
            let Some(rest) = line.strip_prefix("http_request_duration_seconds_bucket{") else { continue };
            if !rest.contains(&wanted) {
                continue;
            }
            let Some((labels, value)) = rest.rsplit_once("} ") else { continue };
            let Some(le) = labels.split("le=\"").nth(1).and_then(|s| s.split('"').next()) else { continue };
            let le = if le == "+Inf" { f64::INFINITY } else { le.parse().unwrap_or(f64::INFINITY) };
            let n: f64 = value.trim().parse().unwrap_or(0.0);
            *times.buckets.entry(key(le)).or_default() += n;
            if le.is_infinite() {
                times.count += n;
            }
        }
        times
    }

    /// What was recorded between `before` and `self`.
    pub fn since(&self, before: &ServerTimes) -> ServerTimes {
        let buckets =
            self.buckets.iter().map(|(le, n)| (*le, n - before.buckets.get(le).copied().unwrap_or(0.0))).collect();
        ServerTimes { buckets, count: self.count - before.count }
    }

    /// The `q` quantile in ms, interpolated linearly within its bucket; None without samples. A quantile in the
    /// open top bucket is given as the highest finite bound.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        if self.count <= 0.0 {
            return None;
        }
        let rank = q * self.count;
        let (mut lower_le, mut lower_n) = (0u64, 0.0);
        for (le, n) in &self.buckets {
            if *n >= rank {
                if *le == u64::MAX {
                    return Some(lower_le as f64 / 1e6);
                }
                let within = if n - lower_n > 0.0 { (rank - lower_n) / (n - lower_n) } else { 1.0 };
                return Some((lower_le as f64 + (*le - lower_le) as f64 * within) / 1e6);
            }
            (lower_le, lower_n) = (*le, *n);
        }
        None
    }

    /// The share of requests answered within `seconds` (a bucket bound).
    pub fn share_within(&self, seconds: f64) -> Option<f64> {
        (self.count > 0.0).then(|| self.buckets.get(&key(seconds)).copied().unwrap_or(0.0) / self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_come_from_the_route_difference() {
        let before = ServerTimes::parse(
            "http_request_duration_seconds_bucket{method=\"POST\",route=\"/x\",status=\"200\",le=\"0.001\"} 0\n\
             http_request_duration_seconds_bucket{method=\"POST\",route=\"/x\",status=\"200\",le=\"0.005\"} 0\n\
             http_request_duration_seconds_bucket{method=\"POST\",route=\"/x\",status=\"200\",le=\"+Inf\"} 0\n",
            "/x",
        );
        let after = ServerTimes::parse(
            "http_request_duration_seconds_bucket{method=\"POST\",route=\"/x\",status=\"200\",le=\"0.001\"} 50\n\
             http_request_duration_seconds_bucket{method=\"POST\",route=\"/x\",status=\"200\",le=\"0.005\"} 90\n\
             http_request_duration_seconds_bucket{method=\"POST\",route=\"/x\",status=\"200\",le=\"+Inf\"} 90\n\
             http_request_duration_seconds_bucket{method=\"POST\",route=\"/x\",status=\"409\",le=\"0.001\"} 0\n\
             http_request_duration_seconds_bucket{method=\"POST\",route=\"/x\",status=\"409\",le=\"0.005\"} 0\n\
             http_request_duration_seconds_bucket{method=\"POST\",route=\"/x\",status=\"409\",le=\"+Inf\"} 10\n\
             http_request_duration_seconds_bucket{method=\"POST\",route=\"/y\",status=\"200\",le=\"+Inf\"} 7\n",
            "/x",
        );
        let t = after.since(&before);
        assert_eq!(t.count, 100.0);
        assert_eq!(t.quantile_ms(0.5), Some(1.0));
        assert_eq!(t.share_within(0.005), Some(0.9));
        // The 99th lies in the open top bucket: the highest finite bound is all that is known.
        assert_eq!(t.quantile_ms(0.99), Some(5.0));
        assert!((t.quantile_ms(0.7).unwrap_or(0.0) - 3.0).abs() < 1e-9);
    }
}
