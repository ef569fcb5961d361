//! buildah (Debian's) builds images from a Dockerfile with berth doing the RUN steps, and
//! podman runs the result on berth: the Docker build workflow, on this runtime.

use berth_tests::podman::Podman;
use berth_tests::*;
use std::path::PathBuf;

fn out(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn errtext(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// A build context: the Dockerfile and one file to COPY.
fn context(p: &Podman, dockerfile: &str) -> PathBuf {
    let ctx = p.dir.join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
    std::fs::write(ctx.join("greeting.txt"), "hello from the context\n").unwrap();
    ctx
}

/// A runtime that notes each command it is given, then is berth: proof that buildah's RUN
/// steps went through berth and not some other runtime on the machine.
fn noting_runtime(p: &Podman) -> (PathBuf, PathBuf) {
    let log = p.dir.join("calls.log");
    let wrapper = p.dir.join("berth-noting");
    let script = format!(
        "#!/bin/sh\necho \"$*\" >> {}\nexec {} \"$@\"\n",
        log.display(),
        runtime().display()
    );
    std::fs::write(&wrapper, script).unwrap();
    let exec = std::os::unix::fs::PermissionsExt::from_mode(0o755);
    std::fs::set_permissions(&wrapper, exec).unwrap();
    (wrapper, log)
}

const DOCKERFILE: &str = "FROM docker.io/library/berth-busybox:latest
ENV GREETING=built-on-berth
WORKDIR /app
COPY greeting.txt ./
RUN echo \"$GREETING\" > made-by-run.txt && pwd > where.txt && id -u > uid.txt
CMD [\"sh\", \"-c\", \"cat greeting.txt made-by-run.txt where.txt uid.txt; echo $GREETING\"]
";

#[test]
fn a_dockerfile_builds_with_berth_and_the_image_runs_on_podman() {
    let p = Podman::start("bud");
    let ctx = context(&p, DOCKERFILE);
    let (rt, calls) = noting_runtime(&p);
    let o = p.bud(&rt, &ctx, "berth-built:1");
    assert!(o.status.success(), "{}{}", out(&o), errtext(&o));
    let calls = std::fs::read_to_string(&calls).unwrap();
    for cmd in ["create ", "start ", "delete "] {
        assert!(
            calls.lines().any(|l| l.starts_with(cmd)),
            "no `{cmd}`:\n{calls}"
        );
    }

    // CMD, WORKDIR, ENV and the files of COPY and RUN, seen from a container of the image.
    let o = p.podman(&[
        "run",
        "--rm",
        "--network=none",
        &format!("--cgroup-parent={}", p.cgroup_parent),
        "localhost/berth-built:1",
    ]);
    assert!(o.status.success(), "{}", errtext(&o));
    assert_eq!(
        out(&o),
        "hello from the context\nbuilt-on-berth\n/app\n0\nbuilt-on-berth\n"
    );
    // The build added layers on top of the base image's two.
    let layers = out(&p.podman(&[
        "image",
        "inspect",
        "--format",
        "{{len .RootFS.Layers}}",
        "localhost/berth-built:1",
    ]));
    let n: usize = layers.trim().parse().unwrap();
    assert!(n > 2, "{layers}");
}

#[test]
fn a_failing_run_step_fails_the_build_with_its_exit_code() {
    let p = Podman::start("budfail");
    let ctx = context(
        &p,
        "FROM docker.io/library/berth-busybox:latest\nRUN echo before; exit 7\n",
    );
    let o = p.bud(&runtime(), &ctx, "never:1");
    assert!(!o.status.success());
    let err = errtext(&o);
    assert!(err.contains("exit status 7"), "{err}");
    // No image, no build container, no container left in berth.
    let images = out(&p.podman(&["images", "--format", "{{.Repository}}"]));
    assert!(!images.contains("never"), "{images}");
    let left = out(&p.buildah_cmd(&["containers", "--quiet"]).output().unwrap());
    assert_eq!(left.trim(), "", "build containers left: {left}");
    // buildah passes no `--root`: its containers are in berth's default root, with their
    // bundles in this test's TMPDIR (the other test's build may be running meanwhile).
    let o = std::process::Command::new(runtime())
        .args(["list", "--format", "json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", errtext(&o));
    let listed: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap_or_default();
    let ours = p.dir.display().to_string();
    let left: Vec<&serde_json::Value> = listed
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["bundle"].as_str().is_some_and(|b| b.starts_with(&ours)))
        .collect();
    assert!(left.is_empty(), "build containers left: {left:?}");
}
