//! list and ps.

use super::{fail, CliError, CliResult};
use berth_core::Runtime;

pub fn list(rt: &Runtime, format: &str, quiet: bool) -> CliResult<()> {
    let all = rt.list()?;
    if quiet {
        all.iter().for_each(|s| println!("{}", s.id));
        return Ok(());
    }
    match format {
        "json" => {
            // runc prints `null` for no containers (a nil Go slice).
            let v = if all.is_empty() {
                serde_json::Value::Null
            } else {
                serde_json::to_value(&all).map_err(|e| CliError(e.to_string()))?
            };
            println!("{v}");
        }
        "table" => {
            let mut rows = vec![["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
                .map(String::from)
                .to_vec()];
            for s in &all {
                let owner = if s.owner.is_empty() {
                    "root".to_string()
                } else {
                    s.owner.clone()
                };
                rows.push(vec![
                    s.id.clone(),
                    s.pid.to_string(),
                    s.status.clone(),
                    s.bundle.display().to_string(),
                    s.created.clone(),
                    owner,
                ]);
            }
            print_table(&rows);
        }
        other => {
            return fail(format!(
                "invalid format option {other:?}: use table or json"
            ))
        }
    }
    Ok(())
}

/// Columns padded like Go's tabwriter with runc's settings (min width 12, padding 3).
fn print_table(rows: &[Vec<String>]) {
    let cols = rows[0].len();
    let width: Vec<usize> = (0..cols)
        .map(|c| rows.iter().map(|r| r[c].len()).max().unwrap_or(0).max(9) + 3)
        .collect();
    for r in rows {
        let mut line = String::new();
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == cols {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}", w = width[c]));
            }
        }
        println!("{}", line.trim_end());
    }
}

pub fn ps(rt: &Runtime, id: &str, format: &str, args: &[String]) -> CliResult<()> {
    let pids = rt.load(id)?.pids()?;
    match format {
        "json" => {
            println!(
                "{}",
                serde_json::to_string(&pids).map_err(|e| CliError(e.to_string()))?
            );
            Ok(())
        }
        "table" => ps_table(&pids, args),
        other => fail(format!(
            "invalid format option {other:?}: use table or json"
        )),
    }
}

fn ps_table(pids: &[i32], args: &[String]) -> CliResult<()> {
    let args: Vec<String> = if args.is_empty() {
        vec!["-ef".into()]
    } else {
        args.to_vec()
    };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .map_err(|e| CliError(format!("running ps: {e}")))?;
    if !out.status.success() {
        return fail(format!(
            "ps {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    let Some(col) = header.split_whitespace().position(|h| h == "PID") else {
        return fail("ps output has no PID column");
    };
    println!("{header}");
    for l in lines {
        let pid = l
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            println!("{l}");
        }
    }
    Ok(())
}
