//! The Docker workflow end to end on berth: an image built from a Dockerfile (buildah, RUN
//! steps on berth), pushed to a registry on loopback (skopeo), pulled by containerd and run
//! by Berth's shim, its layers unpacked by the overlay snapshotter under a copy-on-write
//! upper directory.

use berth_tests::containerd::{Containerd, Via};
use berth_tests::podman::Podman;
use berth_tests::registry::Registry;
use berth_tests::*;

fn out(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn errtext(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

const DOCKERFILE: &str = "FROM docker.io/library/berth-busybox:latest
WORKDIR /app
COPY greeting.txt ./
RUN echo made-by-run > made.txt
CMD [\"cat\", \"/app/greeting.txt\", \"/app/made.txt\"]
";

#[test]
fn built_pushed_pulled_and_run_on_berths_shim() {
    let p = Podman::start("reg");
    let ctx = p.dir.join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::write(ctx.join("Dockerfile"), DOCKERFILE).unwrap();
    std::fs::write(ctx.join("greeting.txt"), "pushed and pulled\n").unwrap();
    let o = p.bud(&runtime(), &ctx, "berth-reg:1");
    assert!(o.status.success(), "{}", errtext(&o));

    let reg = Registry::start("reg");
    let remote = format!("{}/berth/reg:1", reg.host);
    let o = std::process::Command::new("skopeo")
        .args(["copy", "--dest-tls-verify=false", "--policy", &p.policy()])
        .arg(p.storage_ref("localhost/berth-reg:1"))
        .arg(format!("docker://{remote}"))
        .output()
        .unwrap();
    assert!(o.status.success(), "skopeo: {}", errtext(&o));
    assert_eq!(reg.repositories(), ["berth"]);

    let c = Containerd::start("reg");
    let o = c.ctr(&["images", "pull", "--plain-http", &remote]);
    assert!(o.status.success(), "pull: {}", errtext(&o));
    let o = c.run_image(Via::Shim, &["--rm"], &remote, "r1", &[]);
    assert!(o.status.success(), "{}", errtext(&o));
    assert_eq!(out(&o), "pushed and pulled\nmade-by-run\n");

    // A write lands in the container's upper directory; the pulled layer keeps its file.
    let o = c.run_image(
        Via::Shim,
        &[],
        &remote,
        "r2",
        &["sh", "-c", "echo rewritten > /app/made.txt"],
    );
    assert!(o.status.success(), "{}", errtext(&o));
    let copies = c.snapshot_files("app/made.txt");
    let texts: Vec<String> = copies
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    assert_eq!(copies.len(), 2, "{copies:?}");
    assert!(texts.contains(&"made-by-run\n".to_string()), "{texts:?}");
    assert!(texts.contains(&"rewritten\n".to_string()), "{texts:?}");
    // A file the container did not touch exists once: in the image's layer, not copied up.
    assert_eq!(c.snapshot_files("app/greeting.txt").len(), 1);
    assert!(c.ctr(&["container", "rm", "r2"]).status.success());
}
