//! Container networking with traffic that really flows, only between namespaces the tests
//! make: each "host" is a network namespace where berth runs with its own state root.

use berth_tests::net::{get, get_within, serve_once, wire, Host, Netns};
use berth_tests::*;
use serde_json::json;
use std::time::Duration;

/// A bundle whose container joins `network` with `extra` annotations and runs `script`.
fn on_network(name: &str, network: &str, extra: &[(&str, &str)], script: &str) -> Bundle {
    let mut b = Bundle::new(name);
    let mut ann = serde_json::Map::new();
    ann.insert("berth.network".into(), json!(network));
    for (k, v) in extra {
        ann.insert(k.to_string(), json!(v));
    }
    b.config["annotations"] = serde_json::Value::Object(ann);
    b.sh(script);
    b.write();
    b
}

/// A container serving `text` over HTTP on port 80 (busybox httpd).
fn web_server(name: &str, network: &str, extra: &[(&str, &str)], text: &str) -> Bundle {
    let b = on_network(name, network, extra, "exec httpd -f -p 80 -h /www");
    std::fs::create_dir_all(b.rootfs().join("www")).unwrap();
    std::fs::write(b.rootfs().join("www/index.html"), text).unwrap();
    b
}

fn run_detached(h: &Host, b: &Bundle) {
    ok(h.berth(&["run", "-d", "--bundle", &b.bundle_arg(), b.id()]));
}

fn run_fg(h: &Host, b: &Bundle) -> std::process::Output {
    h.berth(&["run", "--bundle", &b.bundle_arg(), b.id()])
}

/// A simulated host with an "outside" namespace wired to it: the host is 198.51.100.1 on its
/// `uplink`, the outside 198.51.100.2 on its `wan`.
fn host_with_outside(name: &str) -> (Host, Netns) {
    let h = Host::new(name);
    let outside = Netns::new(&format!("{name}-out"));
    wire(
        &h.ns,
        "uplink",
        "198.51.100.1/24",
        &outside,
        "wan",
        "198.51.100.2/24",
    );
    (h, outside)
}

/// After delete: no veth of berth's left, no address held, no published port.
fn assert_released(h: &Host, network: &str) {
    let links = h.ns.ip_out(&["-br", "link"]);
    assert!(
        !links.lines().any(|l| l.starts_with("bv")),
        "veth left: {links}"
    );
    assert_eq!(h.leases(network), json!({}), "addresses still held");
    let ports = h.ns.nft(&["list", "map", "ip", "berth", "ports"]);
    assert!(
        !ports.contains("elements"),
        "ports still published: {ports}"
    );
    let records = std::fs::read_dir(h.root.join("@networks/attached"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(records, 0, "attachment records left");
}

#[test]
fn two_containers_on_one_bridge_reach_each_other() {
    let h = Host::new("bt-two");
    let srv = web_server(
        "net-two-srv",
        "bridge",
        &[("berth.network.ip", "10.77.0.10")],
        "from the server\n",
    );
    run_detached(&h, &srv);
    let cli = on_network(
        "net-two-cli",
        "bridge",
        &[("berth.network.mac", "02:42:0a:4d:00:99")],
        "ip -4 -o addr show eth0 | grep -o '10.77.0.[0-9]*/16'; cat /sys/class/net/eth0/address; \
         wget -qO- http://10.77.0.10/",
    );
    let out = ok(run_fg(&h, &cli));
    assert_eq!(
        out, "10.77.0.2/16\n02:42:0a:4d:00:99\nfrom the server\n",
        "the second got the next address and its MAC"
    );
    ok(h.berth(&["delete", "--force", srv.id()]));
    assert_released(&h, "bridge");
}

#[test]
fn nat_to_the_outside_and_a_published_port_from_outside_and_from_the_host() {
    let (h, outside) = host_with_outside("bt-nat");
    // Out through NAT: the server sees the host's address, not the container's.
    let server = serve_once(&outside, "198.51.100.2:8000");
    let cli = on_network(
        "net-nat-cli",
        "bridge",
        &[],
        "wget -qO- http://198.51.100.2:8000/",
    );
    assert_eq!(ok(run_fg(&h, &cli)), "hello from outside\n");
    let peer = server.join().unwrap().expect("nobody connected");
    assert_eq!(
        peer.ip().to_string(),
        "198.51.100.1",
        "translated to the host's address"
    );
    // In through a published port: from the outside, from the host's own address, from
    // 127.0.0.1 on the host.
    let web = web_server(
        "net-nat-web",
        "bridge",
        &[("berth.network.ports", "8080:80")],
        "published\n",
    );
    run_detached(&h, &web);
    assert_eq!(get(&outside, "198.51.100.1:8080").unwrap(), "published\n");
    assert_eq!(get(&h.ns, "198.51.100.1:8080").unwrap(), "published\n");
    assert_eq!(get(&h.ns, "127.0.0.1:8080").unwrap(), "published\n");
    let ports = h.ns.nft(&["list", "map", "ip", "berth", "ports"]);
    assert!(ports.contains("tcp . 8080 : 10.77.0."), "{ports}");
    ok(h.berth(&["delete", "--force", web.id()]));
    assert_released(&h, "bridge");
    let gone = get_within(&outside, "198.51.100.1:8080", Duration::ZERO);
    assert!(gone.is_err(), "still published after delete");
}

#[test]
fn a_macvlan_container_is_reached_from_a_peer_on_the_parent_link() {
    let h = Host::new("bt-mac");
    let lan = Netns::new("bt-mac-lan");
    wire(&h.ns, "lan0", "10.55.0.1/24", &lan, "peer0", "10.55.0.2/24");
    ok(h.berth(&[
        "network",
        "create",
        "lan",
        "--driver",
        "macvlan",
        "--parent",
        "lan0",
        "--subnet",
        "10.55.0.0/24",
    ]));
    let web = web_server(
        "net-mac-web",
        "lan",
        &[("berth.network.ip", "10.55.0.10")],
        "on the lan\n",
    );
    run_detached(&h, &web);
    assert_eq!(get(&lan, "10.55.0.10:80").unwrap(), "on the lan\n");
    ok(h.berth(&["delete", "--force", web.id()]));
    assert_eq!(h.leases("lan"), json!({}));
    assert!(get_within(&lan, "10.55.0.10:80", Duration::ZERO).is_err());
    ok(h.berth(&["network", "rm", "lan"]));
}

#[test]
fn containers_on_two_hosts_share_an_overlay() {
    let a = Host::new("bt-ova");
    let b = Host::new("bt-ovb");
    wire(&a.ns, "wire", "10.66.0.1/24", &b.ns, "wire", "10.66.0.2/24");
    for (h, local, peer, range) in [
        (&a, "10.66.0.1", "10.66.0.2", "10.90.0.0/25"),
        (&b, "10.66.0.2", "10.66.0.1", "10.90.0.128/25"),
    ] {
        ok(h.berth(&[
            "network",
            "create",
            "ov",
            "--driver",
            "overlay",
            "--subnet",
            "10.90.0.0/24",
            "--ip-range",
            range,
            "--vni",
            "42",
            "--local",
            local,
            "--peer",
            peer,
        ]));
    }
    let web = web_server("net-ov-web", "ov", &[], "across the overlay\n");
    run_detached(&a, &web);
    let addr = a.leases("ov");
    let ip = addr
        .as_object()
        .and_then(|m| m.keys().next().cloned())
        .unwrap();
    assert!(ip.starts_with("10.90.0."), "{ip}");
    let cli = on_network(
        "net-ov-cli",
        "ov",
        &[],
        &format!("ip -4 -o addr show eth0 | grep -o '10.90.0.[0-9]*'; wget -qO- http://{ip}/"),
    );
    let out = ok(run_fg(&b, &cli));
    let mut lines = out.lines();
    let own: u32 = lines
        .next()
        .unwrap()
        .rsplit('.')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(own >= 128, "host b hands out its own range: {out}");
    assert_eq!(lines.next(), Some("across the overlay"));
    ok(a.berth(&["delete", "--force", web.id()]));
    for h in [&a, &b] {
        ok(h.berth(&["network", "rm", "ov"]));
        let links = h.ns.ip_out(&["-br", "link"]);
        assert!(
            !links.contains("bx-42") && !links.contains("bb-ov"),
            "{links}"
        );
    }
}

#[test]
fn host_and_none_modes() {
    let h = Host::new("bt-modes");
    h.ns.ip(&["link", "add", "marker0", "type", "bridge"]);
    // The config itself shares the host's namespace; the annotation only agrees with it.
    let mut host = on_network("net-host", "host", &[], "ip -o link | grep -c marker0");
    let list = host.config["linux"]["namespaces"].as_array_mut().unwrap();
    list.retain(|n| n["type"] != "network");
    host.write();
    assert_eq!(ok(run_fg(&h, &host)), "1\n");
    let none = on_network(
        "net-none",
        "none",
        &[],
        "ip -o link | wc -l; ip -o link show lo | grep -c UP",
    );
    assert_eq!(ok(run_fg(&h, &none)), "1\n1\n", "only lo, and up");
}

#[test]
fn bad_network_requests_are_refused_and_leave_nothing() {
    let h = Host::new("bt-bad");
    let veths = || {
        let links = h.ns.ip_out(&["-br", "link"]);
        links.lines().filter(|l| l.starts_with("bv")).count()
    };
    let refused_here = |b: &Bundle, needles: &[&str]| {
        let before = veths();
        let out = h.berth(&["create", "--bundle", &b.bundle_arg(), b.id()]);
        let e = err(out);
        for n in needles {
            assert!(e.contains(n), "{n:?} not in: {e}");
        }
        assert!(!h.root.join(b.id()).exists(), "state left");
        assert!(cgroup_left(b.id()).is_empty(), "cgroup left");
        assert_eq!(veths(), before, "veth left");
    };
    // An overlapping subnet.
    ok(h.berth(&["network", "create", "small", "--subnet", "10.44.0.0/30"]));
    let e = err(h.berth(&["network", "create", "over", "--subnet", "10.44.0.0/24"]));
    assert!(e.contains("overlaps network small"), "{e}");
    // An exhausted pool: a /30 has room for one container.
    let first = on_network("net-bad-first", "small", &[], "sleep 30");
    run_detached(&h, &first);
    let second = on_network("net-bad-second", "small", &[], "true");
    refused_here(&second, &["no address left", "10.44.0.0/30"]);
    // A port already published.
    let p1 = on_network(
        "net-bad-p1",
        "bridge",
        &[("berth.network.ports", "9090:80")],
        "sleep 30",
    );
    run_detached(&h, &p1);
    let p2 = on_network(
        "net-bad-p2",
        "bridge",
        &[("berth.network.ports", "9090:80")],
        "true",
    );
    refused_here(&p2, &["berth.network.ports", "already published"]);
    assert_eq!(h.leases("bridge").as_object().map(|m| m.len()), Some(1));
    // A missing parent interface; an unknown network.
    ok(h.berth(&[
        "network",
        "create",
        "nolan",
        "--driver",
        "macvlan",
        "--parent",
        "nope0",
        "--subnet",
        "10.45.0.0/24",
    ]));
    let mac = on_network("net-bad-mac", "nolan", &[], "true");
    refused_here(&mac, &["parent interface", "nope0"]);
    assert_eq!(h.leases("nolan"), json!({}));
    let unknown = on_network("net-bad-unknown", "nosuch", &[], "true");
    refused_here(&unknown, &["no network named", "nosuch"]);
    // A network in use cannot go.
    let e = err(h.berth(&["network", "rm", "small"]));
    assert!(e.contains("in use"), "{e}");
}

#[test]
fn concurrent_creates_never_get_the_same_address() {
    let h = Host::new("bt-ipam");
    ok(h.berth(&["network", "create", "busy", "--subnet", "10.46.0.0/24"]));
    let bundles: Vec<Bundle> = (0..20)
        .map(|i| on_network(&format!("net-ipam-{i}"), "busy", &[], "sleep 30"))
        .collect();
    std::thread::scope(|s| {
        for b in &bundles {
            let h = &h;
            s.spawn(move || ok(h.berth(&["create", "--bundle", &b.bundle_arg(), b.id()])));
        }
    });
    let leases = h.leases("busy");
    let holders: std::collections::BTreeSet<&str> = leases
        .as_object()
        .unwrap()
        .values()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(leases.as_object().unwrap().len(), 20, "{leases}");
    assert_eq!(holders.len(), 20, "one address each: {leases}");
    for b in &bundles {
        ok(h.berth(&["delete", "--force", b.id()]));
    }
    assert_eq!(h.leases("busy"), json!({}));
}

#[test]
fn an_ipv6_network_carries_traffic_between_containers() {
    let h = Host::new("bt-v6");
    ok(h.berth(&["network", "create", "six", "--subnet", "fd00:77::/64"]));
    let srv = web_server(
        "net-v6-srv",
        "six",
        &[("berth.network.ip", "fd00:77::10")],
        "over v6\n",
    );
    run_detached(&h, &srv);
    let cli = on_network(
        "net-v6-cli",
        "six",
        &[],
        "ip -6 route show default | grep -o 'via fd00:77::1'; wget -qO- 'http://[fd00:77::10]/'",
    );
    assert_eq!(ok(run_fg(&h, &cli)), "via fd00:77::1\nover v6\n");
    ok(h.berth(&["delete", "--force", srv.id()]));
    assert_released(&h, "six");
}

#[test]
fn a_create_killed_while_joining_leaves_nothing_after_delete_force() {
    // The join makes a lease, a veth and published ports before the createRuntime hooks; the
    // container's state records them only at the end of create. A create killed anywhere in
    // between must give all of it back at delete --force: kill at growing delays after the
    // lease shows, through the join (first bridge and NAT table included) into the hook.
    let h = Host::new("bt-kill");
    let mut b = on_network(
        "net-kill",
        "bridge",
        &[("berth.network.ports", "8181:80")],
        "true",
    );
    b.config["hooks"] = json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "2"]}]});
    b.write();
    for delay_ms in [0, 1, 2, 3, 4, 6, 8, 11, 15, 20, 30, 50] {
        let mut create = h.spawn_berth(&["create", "--bundle", &b.bundle_arg(), b.id()], &[]);
        let end = std::time::Instant::now() + Duration::from_secs(10);
        let leased = || {
            h.leases("bridge")
                .as_object()
                .is_some_and(|m| !m.is_empty())
        };
        while !leased() {
            assert!(std::time::Instant::now() < end, "the create never joined");
            std::thread::sleep(Duration::from_micros(500));
        }
        std::thread::sleep(Duration::from_millis(delay_ms));
        create.kill().unwrap();
        create.wait().unwrap();
        ok(h.berth(&["delete", "--force", b.id()]));
        assert_released(&h, "bridge");
        assert!(!h.root.join(b.id()).exists(), "state left ({delay_ms} ms)");
    }
}

#[test]
fn a_bridge_left_half_made_is_finished_by_the_next_join() {
    // A runtime killed right after making the default bridge leaves it down, without the
    // gateway's address and without NAT; the next container must not settle for that.
    let (h, outside) = host_with_outside("bt-half");
    h.ns.ip(&["link", "add", "berth0", "type", "bridge"]);
    let server = serve_once(&outside, "198.51.100.2:8000");
    let cli = on_network(
        "net-half",
        "bridge",
        &[],
        "wget -qO- http://198.51.100.2:8000/",
    );
    assert_eq!(ok(run_fg(&h, &cli)), "hello from outside\n");
    assert!(server.join().unwrap().is_some(), "nobody connected");
    let addr = h.ns.ip_out(&["-br", "addr", "show", "berth0"]);
    assert!(addr.contains("10.77.0.1/16"), "{addr}");
    assert_released(&h, "bridge");
}

#[test]
fn a_create_killed_while_nft_publishes_leaves_no_port() {
    // nft is a program of its own and outlives a runtime killed while it runs: its publish
    // must not land after delete --force has looked. A slow nft first in PATH holds the
    // publish half a second; create is killed meanwhile.
    let h = Host::new("bt-slownft");
    let bin = h.root.with_extension("bin");
    let _ = std::fs::remove_dir_all(&bin);
    std::fs::create_dir_all(&bin).unwrap();
    let real = std::process::Command::new("sh")
        .args(["-c", "command -v nft"])
        .output()
        .unwrap();
    let real = String::from_utf8_lossy(&real.stdout).trim().to_string();
    let marker = bin.join("publishing");
    let wrapper = format!(
        "#!/bin/sh\n[ \"$1\" = -f ] || exec {real} \"$@\"\nscript=$(cat)\n\
         case $script in *'create element ip berth ports'*) touch {m}; sleep 0.5 ;; esac\n\
         printf '%s\\n' \"$script\" | exec {real} \"$@\"\n",
        m = marker.display()
    );
    std::fs::write(bin.join("nft"), wrapper).unwrap();
    std::fs::set_permissions(
        bin.join("nft"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let b = on_network(
        "net-slownft",
        "bridge",
        &[("berth.network.ports", "8282:80")],
        "true",
    );
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let create_args = ["create", "--bundle", &b.bundle_arg(), b.id()];
    let mut create = h.spawn_berth(&create_args, &[("PATH", &path)]);
    assert!(eventually(10, || marker.exists()), "create never published");
    create.kill().unwrap();
    create.wait().unwrap();
    ok(h.berth(&["delete", "--force", b.id()]));
    std::thread::sleep(Duration::from_millis(700)); // the slow nft is done either way
    assert_released(&h, "bridge");
    let _ = std::fs::remove_dir_all(&bin);
}
