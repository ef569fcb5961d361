//! NAT in an nftables table of berth's own, `ip berth`: masquerade for the subnets of bridge
//! networks, and published ports as elements of one map (`protocol . host port` →
//! `container address . port`), so a container's ports come and go as map elements, in one
//! transaction each, without touching rules. Written with `nft -f -` (the nftables netlink
//! encoding is left for later); IPv4 only.

use super::cidr::Cidr;
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
        let proto = match self.proto {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        };
        format!("{proto} . {}", self.host)
    }
}

/// Makes the table, once (callers hold the network store's lock).
pub fn ensure_table() -> Result<()> {
    let present = Command::new("nft")
        .args(["list", "table", "ip", "berth"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| Error::io("running nft", e))?
        .success();
    if present {
        return Ok(());
    }
    nft(TABLE, "creating the nftables table ip berth")
}

/// Adds or removes `subnet` from the masqueraded ones.
pub fn masquerade(subnet: &Cidr, on: bool) -> Result<()> {
    if !subnet.is_v4() {
        return Ok(());
    }
    let verb = if on { "add" } else { "delete" };
    nft(
        &format!("{verb} element ip berth masq {{ {subnet} }}\n"),
        &format!("{verb} masquerading of {subnet}"),
    )
}

/// Publishes every port of a container at `addr`, all or none.
pub fn publish(ports: &[PortMap], addr: IpAddr, id: &str) -> Result<()> {
    if ports.is_empty() {
        return Ok(());
    }
    let IpAddr::V4(addr) = addr else {
        return Err(Error::Unsupported("published ports on IPv6".into()));
    };
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
    nft(&script, &format!("publishing the ports of {id}")).map_err(|e| match e {
        Error::Net(m) if m.contains("File exists") => Error::invalid(
            "berth.network.ports",
            "a port is already published by another container",
        ),
        e => e,
    })
}

/// Removes a container's ports; ports already gone are fine.
pub fn unpublish(ports: &[PortMap]) -> Result<()> {
    for p in ports {
        let _ = nft(
            &format!("delete element ip berth ports {{ {} }}\n", p.key()),
            "unpublishing a port",
        );
    }
    Ok(())
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

fn nft(script: &str, what: &str) -> Result<()> {
    let mut child = Command::new("nft")
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
}
