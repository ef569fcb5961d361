//! berth next to crun, runc and youki (whichever are installed) on one busybox rootfs,
//! interleaved round by round so that noise hits every runtime alike. Prints medians with
//! min–max and ratios against crun, the host's idle share, and writes the table to
//! target/berth-bench/runtimes.md.
//!
//! Run: scripts/build-release.sh && cargo bench -p berth-benches --bench runtimes
//! (BERTH_BENCH_ROUNDS=N changes the number of rounds, 30 by default.)

mod measure;
mod peers;

use measure::{ms, run, stats, Idle};
use peers::{base_config, Runtime, BASE};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// One line of the table: what is measured, in which unit, and how often.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Scenario {
    Startup,
    RunDelete,
    Lifecycle,
    Create,
    Exec,
    Parallel,
    Cold,
    Seccomp,
    CreateRss,
}

impl Scenario {
    fn label(self) -> String {
        match self {
            Scenario::Startup => "start-up (`--version`), ms".into(),
            Scenario::RunDelete => "`run /bin/true` then `delete --force`, ms".into(),
            Scenario::Lifecycle => "create, start, wait for exit, delete, ms".into(),
            Scenario::Create => "`create` alone, ms".into(),
            Scenario::Exec => "`exec /bin/true` into a running container, ms".into(),
            Scenario::Parallel => format!("{PARALLEL} containers run in parallel, total ms"),
            Scenario::Cold => "cold `run` + `delete` (1 s pause before), ms".into(),
            Scenario::Seccomp => "`run` + `delete` with a Docker-like seccomp profile, ms".into(),
            Scenario::CreateRss => "peak RSS of `create`, MiB".into(),
        }
    }
}

const PARALLEL: usize = 50;

struct Bench {
    rts: Vec<Runtime>,
    plain: Value,
    seccomp: Value,
    samples: BTreeMap<(Scenario, usize), Vec<f64>>,
    failures: Vec<String>,
    /// Scenarios a runtime hung in once: not run again for it (each hang costs the deadline).
    hung: BTreeSet<(Scenario, usize)>,
}

fn main() {
    let view = measure::private_mounts();
    measure::become_subreaper();
    let rounds: usize = std::env::var("BERTH_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let _ = std::fs::remove_dir_all(BASE);
    let rootfs_holder = berth_tests::Bundle::new("bench-rootfs");
    let rootfs = rootfs_holder.rootfs();
    let mut b = Bench {
        rts: Runtime::all(),
        plain: base_config(&rootfs, false),
        seccomp: base_config(&rootfs, true),
        samples: BTreeMap::new(),
        failures: Vec::new(),
        hung: BTreeSet::new(),
    };
    b.check_each_runs();
    b.start_sleepers();
    let idle_before = Idle::now();
    let started = Instant::now();
    for round in 0..rounds {
        b.round(round, rounds);
    }
    let idle = Idle::now().share_since(&idle_before);
    let syscalls = b.count_syscalls();
    let hangs = b.thousand_runs();
    b.cleanup();
    let report = b.report(rounds, started.elapsed(), idle, &syscalls, &hangs, view);
    println!("{report}");
    let out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/berth-bench");
    let _ = std::fs::create_dir_all(&out);
    let _ = std::fs::write(out.join("runtimes.md"), &report);
}

impl Bench {
    /// A runtime that cannot run the bundle at all is left out, with its error shown.
    fn check_each_runs(&mut self) {
        let mut kept = Vec::new();
        for rt in std::mem::take(&mut self.rts) {
            let bundle = rt.bundle("check", &self.plain, &["true"]);
            let mut cmd = rt.cmd(&["run", "--bundle", bundle.to_str().unwrap(), "check"]);
            cmd.stderr(std::process::Stdio::piped());
            let o = cmd.output().expect("running a runtime");
            let _ = rt.cmd(&["delete", "--force", "check"]).status();
            measure::reap();
            if o.status.success() {
                kept.push(rt);
            } else {
                let err = String::from_utf8_lossy(&o.stderr);
                self.failures
                    .push(format!("{} left out: {}", rt.name, err.trim()));
            }
        }
        self.rts = kept;
    }

    fn record(&mut self, s: Scenario, rt: usize, value: f64) {
        self.samples.entry((s, rt)).or_default().push(value);
    }

    fn fail(&mut self, s: Scenario, rt: usize, code: i32) {
        if code == measure::HUNG {
            self.hung.insert((s, rt));
        }
        let how = match code {
            measure::HUNG => format!("hung (killed after {} s)", measure::DEADLINE.as_secs()),
            c => format!("exited {c}"),
        };
        let msg = format!("{}: {} {how}", self.rts[rt].name, s.label());
        if !self.failures.contains(&msg) {
            self.failures.push(msg);
        }
    }

    /// One round: every scenario, each runtime in turn; the order of runtimes rotates.
    fn round(&mut self, round: usize, rounds: usize) {
        let n = self.rts.len();
        let order: Vec<usize> = (0..n).map(|k| (k + round) % n).collect();
        for &k in &order {
            self.startup(k);
        }
        for &k in &order {
            self.run_delete(k, Scenario::RunDelete, &format!("r{round}"));
        }
        for &k in &order {
            self.lifecycle(k, round);
        }
        for &k in &order {
            self.create(k, round);
        }
        for &k in &order {
            self.exec(k);
        }
        for &k in &order {
            self.run_delete(k, Scenario::Seccomp, &format!("s{round}"));
        }
        // The slow scenarios run in a third of the rounds.
        if round % 3 == 0 || rounds < 3 {
            for &k in &order {
                std::thread::sleep(Duration::from_secs(1));
                self.run_delete(k, Scenario::Cold, &format!("c{round}"));
            }
            for &k in &order {
                self.parallel(k, round);
            }
        }
        measure::reap();
    }

    fn startup(&mut self, k: usize) {
        let mut cmd = std::process::Command::new(&self.rts[k].bin);
        cmd.arg("--version").stdout(std::process::Stdio::null());
        let r = run(&mut cmd);
        self.record(Scenario::Startup, k, ms(r.took));
    }

    fn run_delete(&mut self, k: usize, s: Scenario, id: &str) {
        let config = if s == Scenario::Seccomp {
            &self.seccomp
        } else {
            &self.plain
        };
        let rt = &self.rts[k];
        let bundle = rt.bundle(id, config, &["true"]);
        let a = run(&mut rt.cmd(&["run", "--bundle", bundle.to_str().unwrap(), id]));
        // `run` removes the container when its process exits (runc's contract): this
        // `delete` finds nothing to do, as after `docker run --rm`.
        let d = run(&mut rt.cmd(&["delete", "--force", id]));
        if a.code != 0 {
            return self.fail(s, k, a.code);
        }
        self.record(s, k, ms(a.took + d.took));
    }

    fn lifecycle(&mut self, k: usize, round: usize) {
        let rt = &self.rts[k];
        let id = format!("l{round}");
        let bundle = rt.bundle(&id, &self.plain, &["true"]);
        let pid_file = bundle.join("pid");
        let start = Instant::now();
        let c = run(&mut rt.cmd(&[
            "create",
            "--bundle",
            bundle.to_str().unwrap(),
            "--pid-file",
            pid_file.to_str().unwrap(),
            &id,
        ]));
        let pid: i32 = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or(0);
        let s = run(&mut rt.cmd(&["start", &id]));
        let exit = if pid > 0 { measure::wait_exit(pid) } else { -1 };
        let d = run(&mut rt.cmd(&["delete", &id]));
        let took = start.elapsed();
        if c.code != 0 || s.code != 0 || exit != 0 || d.code != 0 {
            let code = [c.code, s.code, exit, d.code].into_iter().find(|c| *c != 0);
            return self.fail(Scenario::Lifecycle, k, code.unwrap_or(-1));
        }
        self.record(Scenario::Lifecycle, k, ms(took));
    }

    fn create(&mut self, k: usize, round: usize) {
        let rt = &self.rts[k];
        let id = format!("n{round}");
        let bundle = rt.bundle(&id, &self.plain, &["true"]);
        let c = run(&mut rt.cmd(&["create", "--bundle", bundle.to_str().unwrap(), &id]));
        let _ = run(&mut rt.cmd(&["delete", "--force", &id]));
        if c.code != 0 {
            return self.fail(Scenario::Create, k, c.code);
        }
        self.record(Scenario::Create, k, ms(c.took));
        self.record(Scenario::CreateRss, k, c.max_rss_kib as f64 / 1024.0);
    }

    fn exec(&mut self, k: usize) {
        let r = run(&mut self.rts[k].cmd(&["exec", "sleeper", "true"]));
        if r.code != 0 {
            return self.fail(Scenario::Exec, k, r.code);
        }
        self.record(Scenario::Exec, k, ms(r.took));
    }

    fn parallel(&mut self, k: usize, round: usize) {
        if self.hung.contains(&(Scenario::Parallel, k)) {
            return;
        }
        let rt = &self.rts[k];
        let ids: Vec<String> = (0..PARALLEL).map(|i| format!("p{round}-{i}")).collect();
        let bundles: Vec<PathBuf> = ids
            .iter()
            .map(|id| rt.bundle(id, &self.plain, &["true"]))
            .collect();
        let start = Instant::now();
        let children: Vec<_> = ids
            .iter()
            .zip(&bundles)
            .map(|(id, b)| {
                rt.cmd(&["run", "--bundle", b.to_str().unwrap(), id])
                    .spawn()
            })
            .collect();
        let until = start + 2 * measure::DEADLINE;
        let mut worst = 0;
        for c in children {
            let code = match c {
                Ok(c) => measure::finish(c, start, until).code,
                Err(_) => 127,
            };
            worst = if code == measure::HUNG || worst == measure::HUNG {
                measure::HUNG
            } else {
                worst.max(code)
            };
        }
        let took = start.elapsed();
        for id in &ids {
            let _ = run(&mut rt.cmd(&["delete", "--force", id]));
        }
        if worst != 0 {
            return self.fail(Scenario::Parallel, k, worst);
        }
        self.record(Scenario::Parallel, k, ms(took));
    }

    /// One running container per runtime for the exec scenario (`cleanup` removes them).
    fn start_sleepers(&self) {
        for rt in &self.rts {
            let bundle = rt.bundle("sleeper", &self.plain, &["sleep", "1000"]);
            let r =
                run(&mut rt.cmd(&["run", "-d", "--bundle", bundle.to_str().unwrap(), "sleeper"]));
            assert_eq!(r.code, 0, "{}: run -d sleeper", rt.name);
        }
    }

    fn count_syscalls(&self) -> Vec<Option<u64>> {
        self.rts
            .iter()
            .map(|rt| {
                let bundle = rt.bundle("strace", &self.plain, &["true"]);
                let mut args: Vec<std::ffi::OsString> = vec![
                    rt.bin.clone().into(),
                    "--root".into(),
                    rt.root.clone().into(),
                ];
                for a in ["run", "--bundle", bundle.to_str().unwrap(), "strace"] {
                    args.push(a.into());
                }
                let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
                let n = measure::syscalls(&refs);
                let _ = run(&mut rt.cmd(&["delete", "--force", "strace"]));
                measure::reap();
                n
            })
            .collect()
    }

    /// berth `run` + `delete` 1,000 times, each with a deadline: the longest run, and how
    /// many did not finish in 10 s (a hang) or failed.
    fn thousand_runs(&self) -> String {
        let rt = &self.rts[0];
        let bundle = rt.bundle("thousand", &self.plain, &["true"]);
        let (mut longest, mut hung, mut failed) = (Duration::ZERO, 0, 0);
        for _ in 0..1000 {
            let r = run(&mut rt.cmd(&["run", "--bundle", bundle.to_str().unwrap(), "thousand"]));
            longest = longest.max(r.took);
            hung += usize::from(r.code == measure::HUNG);
            let d = run(&mut rt.cmd(&["delete", "--force", "thousand"]));
            if r.code != 0 || d.code != 0 {
                failed += 1;
            }
            measure::reap();
        }
        format!("berth `run` + `delete` 1,000 times: {hung} hung (> 10 s), {failed} failed, longest run {:.1} ms", ms(longest))
    }

    fn cleanup(&self) {
        for rt in &self.rts {
            rt.clean();
        }
        measure::reap();
        berth_tests::remove_cgroup_tree("berth-bench");
        let _ = std::fs::remove_dir_all(BASE);
    }
}

impl Bench {
    fn report(
        &self,
        rounds: usize,
        took: Duration,
        idle: f64,
        syscalls: &[Option<u64>],
        hangs: &str,
        view: Option<String>,
    ) -> String {
        let mut r = String::from("\n## berth next to its peers\n\n");
        r += "Medians (min–max) of interleaved rounds; lower is better.\n\n";
        r += &self.table(syscalls);
        r += &format!("\n{rounds} rounds in {:.0} s; the host was idle {:.0}% of the time (other work on it skews every column alike).\n", took.as_secs_f64(), idle * 100.0);
        r += &format!("{hangs}.\n");
        let versions: Vec<String> = self
            .rts
            .iter()
            .map(|rt| format!("{}: {}", rt.name, rt.version()))
            .collect();
        r += &format!("Versions: {}.\n", versions.join("; "));
        if let Some(v) = view {
            r += &format!("Mount view of every runtime: {v}.\n");
        }
        for f in &self.failures {
            r += &format!("Note: {f}\n");
        }
        r
    }

    /// The markdown table: a row per scenario, a column per runtime, the ratio to crun.
    fn table(&self, syscalls: &[Option<u64>]) -> String {
        let crun = self.rts.iter().position(|r| r.name == "crun");
        let mut t = String::new();
        let names: Vec<&str> = self.rts.iter().map(|r| r.name).collect();
        t += &format!("| scenario | {} | berth / crun |\n", names.join(" | "));
        t += &format!("|---|{}---|\n", "---|".repeat(names.len()));
        let scenarios = [
            Scenario::Startup,
            Scenario::RunDelete,
            Scenario::Lifecycle,
            Scenario::Create,
            Scenario::Exec,
            Scenario::Parallel,
            Scenario::Cold,
            Scenario::Seccomp,
            Scenario::CreateRss,
        ];
        for s in scenarios {
            let cells: Vec<Option<measure::Stats>> = (0..self.rts.len())
                .map(|k| stats(self.samples.get(&(s, k)).map(Vec::as_slice).unwrap_or(&[])))
                .collect();
            let text: Vec<String> = cells
                .iter()
                .map(|c| match c {
                    Some(c) => format!("{:.1} ({:.1}–{:.1})", c.median, c.min, c.max),
                    None => "–".into(),
                })
                .collect();
            let ratio = ratio(
                cells.first().and_then(|c| c.as_ref().map(|c| c.median)),
                crun.and_then(|k| cells[k].as_ref().map(|c| c.median)),
            );
            t += &format!("| {} | {} | {ratio} |\n", s.label(), text.join(" | "));
        }
        let counts: Vec<String> = syscalls
            .iter()
            .map(|n| n.map(|n| n.to_string()).unwrap_or("–".into()))
            .collect();
        let ratio = ratio(
            syscalls.first().copied().flatten().map(|n| n as f64),
            crun.and_then(|k| syscalls[k]).map(|n| n as f64),
        );
        t += &format!(
            "| syscalls in one `run` (strace -f -c) | {} | {ratio} |\n",
            counts.join(" | ")
        );
        t
    }
}

fn ratio(berth: Option<f64>, crun: Option<f64>) -> String {
    match (berth, crun) {
        (Some(b), Some(c)) if c > 0.0 => format!("{:.2}", b / c),
        _ => "–".into(),
    }
}
