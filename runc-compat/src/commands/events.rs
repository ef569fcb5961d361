//! `events`: runc's `{type, id, data}` JSON lines: stats, and OOM kills as they happen.

use super::{fail, CliError, CliResult};
use berth_core::{Runtime, Status};
use serde_json::json;
use std::io::Write;
use std::time::{Duration, Instant};

/// How often the OOM-kill counter is read between stats.
const OOM_POLL: Duration = Duration::from_millis(100);

pub fn events(rt: &Runtime, id: &str, stats_only: bool, interval: &str) -> CliResult<()> {
    let interval = parse_duration(interval)?;
    let c = rt.observe(id)?;
    if c.status() == Status::Stopped {
        return fail(format!("container {id:?} is not running"));
    }
    let stats = || json!({"type": "stats", "id": id, "data": c.cgroup().stats()});
    if stats_only {
        println!("{}", stats());
        return Ok(());
    }
    let mut out = std::io::stdout();
    let mut ooms = c.cgroup().oom_kills();
    let mut next = Instant::now();
    while c.status() != Status::Stopped {
        if Instant::now() >= next {
            writeln!(out, "{}", stats()).map_err(|e| CliError(e.to_string()))?;
            next = Instant::now() + interval;
        }
        let now = c.cgroup().oom_kills();
        for _ in ooms..now {
            writeln!(out, "{}", json!({"type": "oom", "id": id}))
                .map_err(|e| CliError(e.to_string()))?;
        }
        ooms = now;
        out.flush().map_err(|e| CliError(e.to_string()))?;
        std::thread::sleep(OOM_POLL.min(interval));
    }
    Ok(())
}

/// Go's duration syntax for the values people pass: 5s, 500ms, 1m30s, 2h.
fn parse_duration(s: &str) -> CliResult<Duration> {
    let bad = || CliError(format!("--interval {s:?}: not a duration like 5s or 500ms"));
    let mut total = Duration::ZERO;
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .ok_or_else(bad)?;
        let n: f64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_len] {
            "ns" => n / 1e9,
            "us" | "µs" => n / 1e6,
            "ms" => n / 1e3,
            "s" => n,
            "m" => n * 60.0,
            "h" => n * 3600.0,
            _ => return Err(bad()),
        };
        total += Duration::from_secs_f64(secs);
        rest = &rest[unit_len..];
    }
    if total.is_zero() {
        return Err(bad());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(super::parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(
            super::parse_duration("500ms").unwrap(),
            Duration::from_millis(500)
        );
        assert_eq!(
            super::parse_duration("1m30s").unwrap(),
            Duration::from_secs(90)
        );
        assert!(super::parse_duration("5").is_err());
        assert!(super::parse_duration("0s").is_err());
    }
}
