//! NAT in an nftables table of berth's own, `ip berth`: masquerade for the subnets of bridge
//! networks, and published ports as elements of one map (`protocol . host port` →
//! `container address . port`), so a container's ports come and go as map elements, in one
//! transaction each, without touching rules. Written with `nft -f -` (the nftables netlink
//! encoding is left for later); IPv4 only.

use super::cidr::Cidr;
use super::network::Locked;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::net::IpAddr;
use std::process::{Command, Stdio};

const TABLE: &str = "table ip berth {
  map ports { type inet_proto . inet_service : ipv4_addr . inet_service ; }
  set masq { type ipv4_addr ; flags interval ; }
  chain prerouting { type nat hook prerouting priority -100 ; fib daddr type local dnat ip to meta l4proto . th dport map @ports ; }
  chain output { type nat hook output priority -100 ; fib daddr type local dnat ip to meta l4proto . th dport map @ports ; }
  chain postrouting { type nat hook postrouting priority 100 ; ip saddr @masq ip daddr != @masq masquerade ; ip saddr 127.0.0.0/8 ct status dnat masquerade ; }
}
";

/// route_localnet=1 on a bridge (see `allow_localhost`) would also route a container's
/// crafted packets for 127.0.0.0/8 to the host's loopback-only services (the pattern of
/// CVE-2020-8558). Such packets are martians from anywhere but lo: they are dropped before
/// conntrack, where replies to the host's own NATed connections still carry the bridge's
/// address.
const GUARD: &str = "table ip berth {
  chain localnet { type filter hook prerouting priority -300 ; iifname != \"lo\" ip daddr 127.0.0.0/8 drop ; }
}
";

/// `HOST:CONTAINER[/tcp|/udp]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortMap {
    pub host: u16,
    pub container: u16,
    pub proto: Proto,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Proto {
    Tcp,
    Udp,
}

impl PortMap {
    pub fn parse(s: &str, field: &str) -> Result<PortMap> {
        let bad = || Error::invalid(field, format!("{s:?} is not HOST:CONTAINER[/tcp|/udp]"));
        let (ports, proto) = match s.split_once('/') {
            Some((p, "tcp")) => (p, Proto::Tcp),
            Some((p, "udp")) => (p, Proto::Udp),
            Some(_) => return Err(bad()),
            None => (s, Proto::Tcp),
        };
        let (h, c) = ports.split_once(':').ok_or_else(bad)?;
        let port = |p: &str| p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(bad);
        Ok(PortMap {
            host: port(h)?,
            container: port(c)?,
            proto,
        })
    }

    fn key(&self) -> String {
        format!("{} . {}", self.proto.name(), self.host)
    }
}

impl Proto {
    /// As nft writes it.
    fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// Makes the table, once, with its guard; a table made before the guard existed gets it.
pub fn ensure_table(held: &Locked) -> Result<()> {
    if listed(&["chain", "ip", "berth", "localnet"])? {
        return Ok(());
    }
    let table = if listed(&["table", "ip", "berth"])? {
        GUARD.to_string()
    } else {
        format!("{TABLE}{GUARD}")
    };
    nft(held, &table, "creating the nftables table ip berth")
}

/// Whether `nft list WHAT` finds it.
fn listed(what: &[&str]) -> Result<bool> {
    Ok(Command::new("nft")
        .arg("list")
        .args(what)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| Error::io("running nft", e))?
        .success())
}

/// Adds or removes `subnet` from the masqueraded ones.
pub fn masquerade(held: &Locked, subnet: &Cidr, on: bool) -> Result<()> {
    if !subnet.is_v4() {
        return Ok(());
    }
    let verb = if on { "add" } else { "delete" };
    nft(
        held,
        &format!("{verb} element ip berth masq {{ {subnet} }}\n"),
        &format!("{verb} masquerading of {subnet}"),
    )
}

/// Publishes every port of a container at `addr`, all or none.
pub fn publish(held: &Locked, ports: &[PortMap], addr: IpAddr, id: &str) -> Result<()> {
    if ports.is_empty() {
        return Ok(());
    }
    let IpAddr::V4(addr) = addr else {
        return Err(Error::Unsupported("published ports on IPv6".into()));
    };
    for p in ports {
        check_free(p)?;
    }
    let script: String = ports
        .iter()
        .map(|p| {
            format!(
                "create element ip berth ports {{ {} : {addr} . {} }}\n",
                p.key(),
                p.container
            )
        })
        .collect();
    nft(held, &script, &format!("publishing the ports of {id}")).map_err(|e| match e {
        Error::Net(m) if m.contains("File exists") => Error::invalid(
            "berth.network.ports",
            "a port is already published by another container",
        ),
        e => e,
    })
}

/// Removes those of `ports` that still lead to `addr`, in one transaction. A runtime that
/// died around its publish cannot tell whether its own publish happened, and a port
/// published by another container (the reason a publish fails) leads elsewhere, since no
/// two hold one address: so the map is read first, and only this container's elements go.
pub fn unpublish(held: &Locked, ports: &[PortMap], addr: IpAddr) -> Result<()> {
    if ports.is_empty() {
        return Ok(());
    }
    let out = Command::new("nft")
        .args(["-j", "list", "map", "ip", "berth", "ports"])
        .stderr(Stdio::null())
        .output()
        .map_err(|e| Error::io("listing published ports: running nft", e))?;
    if !out.status.success() {
        return Ok(()); // no table, nothing published
    }
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| Error::Net(format!("listing published ports: nft's JSON: {e}")))?;
    let ours: Vec<String> = ports
        .iter()
        .filter(|p| published_at(&listed, p).is_some_and(|a| a == addr.to_string()))
        .map(PortMap::key)
        .collect();
    if ours.is_empty() {
        return Ok(());
    }
    let script = format!("delete element ip berth ports {{ {} }}\n", ours.join(", "));
    nft(held, &script, "unpublishing ports")
}

/// The address `p`'s host port leads to in `nft -j list map` output, if it is published.
fn published_at<'a>(listed: &'a serde_json::Value, p: &PortMap) -> Option<&'a str> {
    let proto = p.proto.name();
    let elems = listed["nftables"]
        .as_array()?
        .iter()
        .find_map(|o| o["map"]["elem"].as_array())?;
    elems.iter().find_map(|e| {
        let key = e[0]["concat"].as_array()?;
        let hit =
            key.first()?.as_str() == Some(proto) && key.get(1)?.as_u64() == Some(p.host.into());
        hit.then(|| e[1]["concat"][0].as_str()).flatten()
    })
}

/// Refuses a host port that a host service holds: DNAT would silently take its traffic (from
/// outside, from the host's addresses and from 127.0.0.1) to the container. The probe binds
/// the wildcard address with SO_REUSEADDR, so a service on any one address (127.0.0.1
/// included) conflicts, and a TCP port left in TIME_WAIT does not.
fn check_free(p: &PortMap) -> Result<()> {
    let ty = match p.proto {
        Proto::Tcp => libc::SOCK_STREAM,
        Proto::Udp => libc::SOCK_DGRAM,
    };
    // SAFETY: plain socket(2); the fd is owned at once.
    let fd = unsafe { libc::socket(libc::AF_INET, ty | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        let e = std::io::Error::last_os_error();
        return Err(Error::io("a socket to probe a host port", e));
    }
    // SAFETY: fd was just returned by socket(2) and nothing else owns it.
    let sock = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let one: libc::c_int = 1;
    // SAFETY: fd is a socket we own; the option value is a live c_int.
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as u32,
        )
    };
    let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    sa.sin_family = libc::AF_INET as u16;
    sa.sin_port = p.host.to_be();
    // SAFETY: sa is a complete sockaddr_in of the size given.
    let r = unsafe {
        libc::bind(
            fd,
            (&sa as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as u32,
        )
    };
    let e = std::io::Error::last_os_error();
    drop(sock);
    if r == 0 {
        return Ok(());
    }
    if e.raw_os_error() == Some(libc::EADDRINUSE) {
        return Err(Error::invalid(
            "berth.network.ports",
            format!(
                "host port {}/{} is in use by a service on the host",
                p.host,
                p.proto.name()
            ),
        ));
    }
    Err(Error::io(
        format!("probing host port {}/{}", p.host, p.proto.name()),
        e,
    ))
}

/// Turns on IPv4 forwarding in this network namespace, if it is off.
pub fn enable_forwarding() -> Result<()> {
    let path = "/proc/sys/net/ipv4/ip_forward";
    if std::fs::read_to_string(path).is_ok_and(|v| v.trim() == "1") {
        return Ok(());
    }
    std::fs::write(path, "1").map_err(|e| Error::io(format!("writing {path}"), e))
}

/// Lets the host reach published ports on 127.0.0.1: loopback sources may leave through
/// `bridge` (they are masqueraded on the way).
pub fn allow_localhost(bridge: &str) -> Result<()> {
    let path = format!("/proc/sys/net/ipv4/conf/{bridge}/route_localnet");
    std::fs::write(&path, "1").map_err(|e| Error::io(format!("writing {path}"), e))
}

/// Runs `nft -f -` on `script`. nft holds the network store's lock as long as it runs: a
/// runtime killed while nft writes leaves the lock held until nft has committed or died, so
/// the next runtime (`delete --force`) sees the table as nft leaves it, not before.
fn nft(held: &Locked, script: &str, what: &str) -> Result<()> {
    let mut cmd = Command::new("nft");
    crate::sys::process::inherit_fd(&mut cmd, held.fd());
    let mut child = cmd
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::io(format!("{what}: running nft"), e))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .map_err(|e| Error::io(format!("{what}: writing to nft"), e))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::io(format!("{what}: waiting for nft"), e))?;
    if out.status.success() {
        return Ok(());
    }
    let msg = String::from_utf8_lossy(&out.stderr);
    let first = msg.lines().next().unwrap_or("").trim();
    Err(Error::Net(format!("{what}: nft: {first}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_maps() {
        let p = PortMap::parse("8080:80", "f").unwrap();
        assert_eq!((p.host, p.container, p.proto), (8080, 80, Proto::Tcp));
        assert_eq!(
            PortMap::parse("53:5353/udp", "f").unwrap().proto,
            Proto::Udp
        );
        for bad in ["80", "0:80", "80:x", "80:80/sctp", "70000:80"] {
            assert!(PortMap::parse(bad, "f").is_err(), "{bad}");
        }
    }

    #[test]
    fn published_ports_are_read_from_nfts_json() {
        let listed: serde_json::Value = serde_json::from_str(
            r#"{"nftables": [{"metainfo": {"version": "1.0.6"}}, {"map": {"family": "ip",
            "name": "ports", "table": "berth", "elem": [
            [{"concat": ["udp", 53]}, {"concat": ["10.77.0.3", 5353]}],
            [{"concat": ["tcp", 8181]}, {"concat": ["10.77.0.2", 80]}]]}}]}"#,
        )
        .unwrap();
        let at = |s| published_at(&listed, &PortMap::parse(s, "f").unwrap());
        assert_eq!(at("8181:80"), Some("10.77.0.2"));
        assert_eq!(at("53:1/udp"), Some("10.77.0.3"));
        assert_eq!(at("53:1"), None);
        assert_eq!(at("8182:80"), None);
    }
}
