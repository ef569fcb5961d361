//! A container joins a network at create, once its init exists (in its own network namespace)
//! and before its program starts, and leaves it at delete. What it asks for comes from
//! annotations in config.json:
//!
//! - `berth.network`: a network name (`bridge` is the default network, made on first use),
//!   `none` (loopback only, up) or `host` (the host's network namespace);
//! - `berth.network.ip`: a fixed address on that network;
//! - `berth.network.ports`: published ports, `HOST:CONTAINER[/tcp|/udp]`, comma-separated;
//! - `berth.network.mac`: the MAC address of the container's `eth0`.

use super::cidr::Cidr;
use super::nat::{self, PortMap};
use super::network::{short_name, Driver, Locked, Network, Store, VXLAN_PORT};
use super::rtnl::{Kind, Rtnl};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::IpAddr;
use std::os::fd::AsFd;
use std::path::Path;

pub const NETWORK: &str = "berth.network";
pub const IP: &str = "berth.network.ip";
pub const PORTS: &str = "berth.network.ports";
pub const MAC: &str = "berth.network.mac";

/// What the container asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Host,
    None,
    Join {
        network: String,
        ip: Option<IpAddr>,
        ports: Vec<PortMap>,
        mac: Option<[u8; 6]>,
    },
}

/// What the container holds on a network, kept in its state until delete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attachment {
    pub network: String,
    pub address: IpAddr,
    pub prefix: u8,
    /// The host's end of the veth pair (bridge and overlay networks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_if: Option<String>,
    /// Its interface index, known once this create made it: only a link with this index
    /// and that name is ever removed, never one that merely has the name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_index: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortMap>,
}

/// Reads the annotations; `None` when the container leaves networking to its config.
pub fn request(annotations: &HashMap<String, String>) -> Result<Option<Request>> {
    let Some(net) = annotations.get(NETWORK) else {
        for key in [IP, PORTS, MAC] {
            if annotations.contains_key(key) {
                return Err(Error::invalid(
                    format!("annotations[{key:?}]"),
                    format!("needs {NETWORK:?} too"),
                ));
            }
        }
        return Ok(None);
    };
    let ip = match annotations.get(IP) {
        Some(s) => Some(s.parse::<IpAddr>().map_err(|_| {
            Error::invalid(
                format!("annotations[{IP:?}]"),
                format!("{s:?} is not an address"),
            )
        })?),
        None => None,
    };
    let ports = match annotations.get(PORTS) {
        Some(s) => s
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|p| PortMap::parse(p, &format!("annotations[{PORTS:?}]")))
            .collect::<Result<Vec<_>>>()?,
        None => Vec::new(),
    };
    check_ports(&ports)?;
    let mac = match annotations.get(MAC) {
        Some(s) => Some(parse_mac(s).ok_or_else(|| {
            Error::invalid(
                format!("annotations[{MAC:?}]"),
                format!("{s:?} is not a unicast MAC address like 02:42:0a:4d:00:02"),
            )
        })?),
        None => None,
    };
    let plain = |mode| {
        if ip.is_some() || !ports.is_empty() || mac.is_some() {
            return Err(Error::invalid(
                format!("annotations[{NETWORK:?}]"),
                format!("{net:?} takes no address and no ports"),
            ));
        }
        Ok(Some(mode))
    };
    match net.as_str() {
        "host" => plain(Request::Host),
        "none" => plain(Request::None),
        name => Ok(Some(Request::Join {
            network: name.to_string(),
            ip,
            ports,
            mac,
        })),
    }
}

/// At most this many published ports per container: each is one map element, published and
/// removed in one nft transaction, but hundreds of DNAT entries are a mistake, not a service.
pub const MAX_PORTS: usize = 256;

fn check_ports(ports: &[PortMap]) -> Result<()> {
    let field = || format!("annotations[{PORTS:?}]");
    if ports.len() > MAX_PORTS {
        return Err(Error::invalid(
            field(),
            format!(
                "{} ports; at most {MAX_PORTS} may be published",
                ports.len()
            ),
        ));
    }
    for (i, p) in ports.iter().enumerate() {
        if ports[..i]
            .iter()
            .any(|q| q.host == p.host && q.proto == p.proto)
        {
            return Err(Error::invalid(
                field(),
                format!("host port {} is published twice", p.host),
            ));
        }
    }
    Ok(())
}

/// Six colon-separated hex bytes, not multicast (the low bit of the first byte clear).
fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = s.split(':');
    for b in mac.iter_mut() {
        let p = parts.next().filter(|p| p.len() == 2)?;
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    (parts.next().is_none() && mac[0] & 1 == 0 && mac != [0; 6]).then_some(mac)
}

/// Joins what `req` asks for; `pid` is the container's init, in its own network namespace.
pub fn attach(root: &Path, id: &str, req: &Request, pid: i32) -> Result<Option<Attachment>> {
    let (network, ip, ports, mac) = match req {
        Request::Host => return Ok(None),
        Request::None => {
            let mut inside = Rtnl::in_netns(netns_of(pid)?.as_fd())?;
            loopback_up(&mut inside)?;
            return Ok(None);
        }
        Request::Join {
            network,
            ip,
            ports,
            mac,
        } => (network, *ip, ports, *mac),
    };
    let store = Store::new(root);
    let locked = store.lock()?;
    let net = locked.get_or_default(network)?;
    let host_if = match net.driver {
        Driver::Bridge | Driver::Overlay => Some(veth_name()?),
        Driver::Macvlan => None, // born in the container's namespace, gone with it
    };
    // Written before anything is taken, with the ports asked for: a runtime killed from here
    // on leaves a record naming all it may hold (see `forget`).
    let planned = Record {
        network: net.name.clone(),
        host_if: host_if.clone(),
        host_index: None,
        ports: ports.to_vec(),
    };
    record(&store, id, &planned)?;
    let address = match locked.allocate(&net, id, ip) {
        Ok(a) => a,
        Err(e) => {
            let _ = std::fs::remove_file(store.record_path(id));
            return Err(e);
        }
    };
    let mut att = Attachment {
        network: net.name.clone(),
        address,
        prefix: net.subnet.prefix,
        host_if,
        host_index: None,
        ports: Vec::new(),
    };
    match join(&locked, &net, id, pid, &mut att, ports, mac) {
        Ok(()) => Ok(Some(att)),
        Err(e) => {
            undo(&locked, id, &att);
            Err(e)
        }
    }
}

/// What a container may hold on a network, written down before it takes any of it.
#[derive(Serialize, Deserialize)]
struct Record {
    network: String,
    host_if: Option<String>,
    /// Written once the veth exists; without it the veth, if made at all, goes with the
    /// container's network namespace (a veth pair dies with either end).
    #[serde(default)]
    host_index: Option<u32>,
    /// Asked for; published or not, the record cannot tell.
    ports: Vec<PortMap>,
}

/// Everything after the address is leased; `held` is the store's lock, held throughout so
/// that two containers never make the same bridge at once.
fn join(
    held: &Locked,
    net: &Network,
    id: &str,
    pid: i32,
    att: &mut Attachment,
    ports: &[PortMap],
    mac: Option<[u8; 6]>,
) -> Result<()> {
    let netns = netns_of(pid)?;
    let mut host = Rtnl::new()?;
    let gateway = net.gateway;
    match net.driver {
        Driver::Bridge | Driver::Overlay => {
            let bridge = ensure_bridge(held, &mut host, net)?;
            let host_if = att.host_if.clone().unwrap_or_default();
            let kind = Kind::Veth {
                peer: "eth0",
                peer_netns: std::os::fd::AsRawFd::as_raw_fd(&netns),
                mac,
            };
            // The name is fresh and the kernel refuses one that exists (NLM_F_EXCL): a link
            // found under it now is the one just made.
            host.add_link(&host_if, kind, net.mtu)?;
            let index = host
                .link_index(&host_if)?
                .ok_or_else(|| Error::Net(format!("{host_if} vanished after its creation")))?;
            att.host_index = Some(index);
            let made = Record {
                network: net.name.clone(),
                host_if: Some(host_if.clone()),
                host_index: Some(index),
                ports: ports.to_vec(),
            };
            record(held.store(), id, &made)?;
            host.set_link(index, None, Some(bridge))?;
        }
        Driver::Macvlan => {
            let parent_name = net.parent.as_deref().unwrap_or("");
            let parent = host.link_index(parent_name)?.ok_or_else(|| {
                Error::invalid(
                    format!("network {}", net.name),
                    format!("the parent interface {parent_name:?} does not exist"),
                )
            })?;
            let name = short_name("mv", id);
            let kind = Kind::MacVlan {
                parent,
                netns: std::os::fd::AsRawFd::as_raw_fd(&netns),
                mac,
            };
            host.add_link(&name, kind, net.mtu)?;
            let mut inside = Rtnl::in_netns(netns.as_fd())?;
            let index = inside
                .link_index(&name)?
                .ok_or_else(|| Error::Net(format!("{name} did not reach the container")))?;
            inside.set_link(index, Some("eth0"), None)?;
        }
    }
    let mut inside = Rtnl::in_netns(netns.as_fd())?;
    configure_inside(&mut inside, att, gateway)?;
    if !ports.is_empty() {
        nat::ensure_table(held)?;
        nat::enable_forwarding()?;
        nat::publish(held, ports, att.address, id)?;
        att.ports = ports.to_vec();
    }
    Ok(())
}

/// lo and eth0 up, eth0's address, the default route through the gateway.
fn configure_inside(inside: &mut Rtnl, att: &Attachment, gateway: Option<IpAddr>) -> Result<()> {
    loopback_up(inside)?;
    let eth0 = inside
        .link_index("eth0")?
        .ok_or_else(|| Error::Net("eth0 did not reach the container".into()))?;
    inside.add_address(eth0, att.address, att.prefix)?;
    inside.set_link(eth0, None, None)?;
    if let Some(g) = gateway {
        inside.add_route(None, g, eth0)?;
    }
    Ok(())
}

fn loopback_up(inside: &mut Rtnl) -> Result<()> {
    let lo = inside
        .link_index("lo")?
        .ok_or_else(|| Error::Net("the container has no lo".into()))?;
    inside.set_link(lo, None, None)
}

/// The network's bridge (with its VXLAN device on an overlay, and NAT when asked), made
/// the first time a container needs it, and finished when an earlier runtime died making it:
/// every step below may find its work already done.
fn ensure_bridge(held: &Locked, host: &mut Rtnl, net: &Network) -> Result<u32> {
    let name = net.bridge.as_deref().unwrap_or("");
    let existing = host.link_index(name)?;
    if let Some(i) = existing.filter(|i| held.bridge_ready(&net.name) == Some(*i)) {
        return Ok(i);
    }
    let index = match existing {
        Some(i) => i,
        None => {
            host.add_link(name, Kind::Bridge, net.mtu)?;
            host.link_index(name)?
                .ok_or_else(|| Error::Net(format!("{name} vanished after its creation")))?
        }
    };
    if let Some(g) = net.gateway {
        host.add_address(index, g, net.subnet.prefix)?;
    }
    host.set_link(index, None, None)?;
    if net.driver == Driver::Overlay {
        ensure_vxlan(host, net, index)?;
    }
    if net.nat && net.subnet.is_v4() {
        nat::ensure_table(held)?;
        let _ = nat::masquerade(held, &net.subnet, true);
        nat::enable_forwarding()?;
        nat::allow_localhost(name)?;
    }
    held.set_bridge_ready(&net.name, index)?;
    Ok(index)
}

fn ensure_vxlan(host: &mut Rtnl, net: &Network, bridge: u32) -> Result<()> {
    let (Some(vni), Some(local)) = (net.vni, net.local) else {
        return Err(Error::Net(format!(
            "network {}: no VXLAN id or local address",
            net.name
        )));
    };
    let name = vxlan_name(vni);
    if host.link_index(&name)?.is_none() {
        let kind = Kind::Vxlan {
            vni,
            local,
            port: VXLAN_PORT,
        };
        host.add_link(&name, kind, net.mtu)?;
    }
    let index = host
        .link_index(&name)?
        .ok_or_else(|| Error::Net(format!("{name} vanished after its creation")))?;
    for peer in &net.peers {
        host.add_flood_peer(index, IpAddr::V4(*peer))?;
    }
    host.set_link(index, None, Some(bridge))
}

/// A host veth name no container id can steer: "bv" and 13 random hex digits (52 bits).
/// Names derived from ids collided (a short id could spell a long id's hash).
fn veth_name() -> Result<String> {
    let mut b = [0u8; 8];
    // SAFETY: the buffer is ours and 8 bytes long.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), b.len(), 0) };
    if n != b.len() as isize {
        return Err(Error::io(
            "getrandom for a veth name",
            std::io::Error::last_os_error(),
        ));
    }
    let hex = format!("{:016x}", u64::from_ne_bytes(b));
    Ok(format!("bv{}", &hex[..13]))
}

fn vxlan_name(vni: u32) -> String {
    format!("bx-{vni}")
}

/// Leaves the network: ports, the host's veth end, the address.
pub fn detach(root: &Path, id: &str, att: &Attachment) -> Result<()> {
    let store = Store::new(root);
    let locked = store.lock()?;
    undo(&locked, id, att);
    Ok(())
}

/// Writes down what container `id` holds, so that a runtime killed before the container's
/// own state records it can still give it back (`forget`).
fn record(store: &Store, id: &str, rec: &Record) -> Result<()> {
    let path = store.record_path(id);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }
    let bytes =
        serde_json::to_vec(rec).map_err(|e| Error::io("encoding an attachment", e.into()))?;
    crate::container::state::write_atomic(&path, &bytes)
}

fn undo(locked: &Locked, id: &str, att: &Attachment) {
    let _ = nat::unpublish(locked, &att.ports, att.address);
    if let (Some(name), Some(index)) = (&att.host_if, att.host_index) {
        if let Ok(mut host) = Rtnl::new() {
            if host.link_index(name).ok().flatten() == Some(index) {
                let _ = host.del_link(index);
            }
        }
    }
    let _ = locked.release(&att.network, id);
    // Last, so that a runtime killed in the middle leaves the record for the next delete.
    let _ = std::fs::remove_file(locked.store().record_path(id));
}

/// Gives back what container `id` held, for a container whose own state never recorded its
/// attachment (a create killed between the join and its last state save), from the record
/// the join wrote. Without networks, one stat and nothing more.
pub fn forget(root: &Path, id: &str) -> Result<()> {
    let store = Store::new(root);
    if !store.exists() {
        return Ok(());
    }
    let locked = store.lock()?;
    let Ok(text) = std::fs::read(store.record_path(id)) else {
        return Ok(());
    };
    let Ok(rec) = serde_json::from_slice::<Record>(&text) else {
        let _ = std::fs::remove_file(store.record_path(id));
        return Ok(());
    };
    // The lease is the truth about the address; without one, nothing was published either
    // (ports are published after the lease is taken and unpublished before it is given back).
    let leases = store.leases(&rec.network).unwrap_or_default();
    let address = leases
        .iter()
        .find(|(_, holder)| *holder == id)
        .map(|(a, _)| *a);
    let att = Attachment {
        network: rec.network,
        address: address.unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
        prefix: 0,
        host_if: rec.host_if,
        host_index: rec.host_index,
        ports: if address.is_some() {
            rec.ports
        } else {
            Vec::new()
        },
    };
    undo(&locked, id, &att);
    Ok(())
}

/// `network rm`: forgets the network and removes its interfaces and NAT.
pub fn remove_network(root: &Path, name: &str) -> Result<Network> {
    let store = Store::new(root);
    let locked = store.lock()?;
    let net = locked.remove(name)?;
    let mut host = Rtnl::new()?;
    let mut names: Vec<String> = net.bridge.iter().cloned().collect();
    if let Some(vni) = net.vni {
        names.push(vxlan_name(vni));
    }
    for n in names {
        if let Some(i) = host.link_index(&n)? {
            host.del_link(i)?;
        }
    }
    if net.nat && net.subnet.is_v4() {
        let _ = nat::masquerade(&locked, &net.subnet, false);
    }
    Ok(net)
}

/// `network create`.
pub fn create_network(root: &Path, n: Network) -> Result<Network> {
    let store = Store::new(root);
    let locked = store.lock()?;
    locked.create(n)
}

fn netns_of(pid: i32) -> Result<std::fs::File> {
    let path = format!("/proc/{pid}/ns/net");
    std::fs::File::open(&path).map_err(|e| Error::io(format!("opening {path}"), e))
}

/// A subnet given on the command line.
pub fn parse_subnet(s: &str, field: &str) -> Result<Cidr> {
    Cidr::parse(s).map_err(|m| Error::invalid(field, m))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ann(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn requests_from_annotations() {
        assert_eq!(request(&ann(&[])).unwrap(), None);
        assert_eq!(
            request(&ann(&[(NETWORK, "none")])).unwrap(),
            Some(Request::None)
        );
        let r = request(&ann(&[
            (NETWORK, "front"),
            (IP, "10.1.0.9"),
            (PORTS, "80:8080, 53:53/udp"),
        ]));
        let Some(Request::Join {
            network, ip, ports, ..
        }) = r.unwrap()
        else {
            panic!("not a join")
        };
        assert_eq!(
            (network.as_str(), ip, ports.len()),
            ("front", "10.1.0.9".parse().ok(), 2)
        );
        assert!(request(&ann(&[(IP, "10.1.0.9")])).is_err());
        assert!(request(&ann(&[(NETWORK, "host"), (PORTS, "80:80")])).is_err());
        assert!(request(&ann(&[(NETWORK, "x"), (IP, "nope")])).is_err());
        assert_eq!(
            parse_mac("02:42:0a:4d:00:02"),
            Some([2, 0x42, 10, 0x4d, 0, 2])
        );
        for bad in [
            "01:00:5e:00:00:01",
            "02:42:0a:4d:00",
            "02:42:0a:4d:00:02:03",
            "zz:4",
        ] {
            assert_eq!(parse_mac(bad), None, "{bad}");
        }
    }
}
