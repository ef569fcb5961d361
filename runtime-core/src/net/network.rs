//! Named networks, as Docker has them, kept under `<root>/@networks/`: one `NAME.json` per
//! network (what `network create` was given), `leases/NAME.json` (address → container id)
//! and `bridges/NAME` (the bridge's index once it is fully made). A name never contains
//! '/', so no network's files can be another's. Every change takes the directory's lock,
//! so concurrent creates never get the same address.

use super::cidr::Cidr;
use crate::error::{Error, IoContext, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::File;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

const LEASES: &str = "leases";
const BRIDGES: &str = "bridges";

/// The network a container gets when it asks for `bridge`, made on first use.
pub const DEFAULT_NAME: &str = "bridge";
const DEFAULT_SUBNET: &str = "10.77.0.0/16";
const DEFAULT_BRIDGE: &str = "berth0";
/// The IANA port for VXLAN.
pub const VXLAN_PORT: u16 = 4789;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    Bridge,
    Macvlan,
    Overlay,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Network {
    pub name: String,
    pub driver: Driver,
    pub subnet: Cidr,
    /// The bridge's own address (bridge, overlay), or the LAN's router (macvlan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<IpAddr>,
    /// The bridge interface (bridge, overlay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<String>,
    /// The host interface a macvlan network sits on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Overlay: the VXLAN id, this host's address for it, and the other hosts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vni: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local: Option<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<Ipv4Addr>,
    /// Addresses are handed out from `[first, last]` only (a range per host on an overlay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range: Option<Cidr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// Masquerade traffic that leaves the subnet (bridge networks).
    pub nat: bool,
}

impl Network {
    /// The default bridge network.
    pub fn default_bridge() -> Network {
        let subnet = Cidr::parse(DEFAULT_SUBNET).unwrap_or(Cidr {
            addr: IpAddr::V4(Ipv4Addr::new(10, 77, 0, 0)),
            prefix: 16,
        });
        Network {
            name: DEFAULT_NAME.into(),
            driver: Driver::Bridge,
            gateway: subnet.nth(1),
            subnet,
            bridge: Some(DEFAULT_BRIDGE.into()),
            parent: None,
            vni: None,
            local: None,
            peers: Vec::new(),
            range: None,
            mtu: None,
            nat: true,
        }
    }

    /// Checks a network on its own, filling in what has a default.
    pub fn complete(mut self) -> Result<Network> {
        check_name(&self.name)?;
        let field = |f: &str| format!("network {}: {f}", self.name);
        // An overlay's bridges on several hosts would all claim a default gateway address.
        if self.gateway.is_none() && self.driver == Driver::Bridge {
            self.gateway = self.subnet.nth(1);
        }
        if let Some(g) = self.gateway {
            if !self.subnet.contains(g) {
                return Err(Error::invalid(
                    field("--gateway"),
                    format!("{g} is outside {}", self.subnet),
                ));
            }
        }
        if let Some(r) = self.range {
            if !self.subnet.contains(r.addr) || r.prefix < self.subnet.prefix {
                return Err(Error::invalid(
                    field("--ip-range"),
                    format!("{r} is not inside {}", self.subnet),
                ));
            }
        }
        if self.subnet.size() < 4 {
            return Err(Error::invalid(
                field("--subnet"),
                "needs room for at least two containers",
            ));
        }
        match self.driver {
            Driver::Bridge | Driver::Overlay => {
                let name = self
                    .bridge
                    .take()
                    .unwrap_or_else(|| short_name("bb-", &self.name));
                check_ifname(&name, &field("bridge"))?;
                self.bridge = Some(name);
            }
            Driver::Macvlan => {
                let p = self.parent.as_deref().ok_or_else(|| {
                    Error::invalid(field("--parent"), "a macvlan network needs a parent")
                })?;
                check_ifname(p, &field("--parent"))?;
            }
        }
        if self.driver == Driver::Overlay {
            if self.vni.is_none_or(|v| v == 0 || v > 0xff_ffff) {
                return Err(Error::invalid(
                    field("--vni"),
                    "needs an id from 1 to 16777215",
                ));
            }
            if self.local.is_none() {
                return Err(Error::invalid(
                    field("--local"),
                    "an overlay needs this host's address",
                ));
            }
        }
        Ok(self)
    }

    /// The next free address to hand out, skipping the network, gateway and broadcast.
    fn free_address(&self, taken: &BTreeMap<IpAddr, String>) -> Option<IpAddr> {
        let pool = self.range.unwrap_or(self.subnet);
        let last = self.subnet.nth(self.subnet.size() - 1);
        (0..pool.size().min(1 << 20))
            .filter_map(|n| pool.nth(n))
            .filter(|a| Some(*a) != self.subnet.nth(0) && Some(*a) != self.gateway)
            .filter(|a| !(self.subnet.is_v4() && Some(*a) == last))
            .find(|a| !taken.contains_key(a))
    }
}

/// Network names become file names and interface names.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && !name.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "network name",
            format!("{name:?}: use 1 to 64 letters, digits, '-', '_' or '.'"),
        ))
    }
}

/// The kernel's rules for a name (`dev_valid_name`: 1 to 15 bytes, not `.` or `..`, no
/// '/', ':' or whitespace), and no '%': the kernel reads `a%d` as a pattern and makes `a0`,
/// a link berth would then never find by the name it asked for.
pub fn check_ifname(name: &str, field: &str) -> Result<()> {
    let bad = name.is_empty()
        || name.len() > 15
        || name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| matches!(c, '/' | ':' | '%') || c.is_whitespace() || c.is_control());
    if bad {
        return Err(Error::invalid(
            field,
            format!(
                "{name:?} is not an interface name the kernel keeps as given (1 to 15 bytes, \
                 not . or .., no '/', ':', '%' or whitespace)"
            ),
        ));
    }
    Ok(())
}

/// `prefix` plus a short, stable token of `name`, within the 15 bytes of an interface name.
pub fn short_name(prefix: &str, name: &str) -> String {
    let room = 15 - prefix.len();
    if name.len() <= room && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        return format!("{prefix}{name}");
    }
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
    }
    format!("{prefix}{:0width$x}", h, width = room)[..prefix.len() + room].to_string()
}

/// The networks under one runtime root.
pub struct Store {
    dir: PathBuf,
}

/// The store's lock, held while networks or leases change.
pub struct Locked<'a> {
    store: &'a Store,
    lock: File,
}

impl Store {
    pub fn new(root: &Path) -> Store {
        Store {
            dir: root.join("@networks"),
        }
    }

    /// Where what container `id` holds is recorded between its join and its delete.
    pub fn record_path(&self, id: &str) -> PathBuf {
        self.dir.join("attached").join(format!("{id}.json"))
    }

    /// Whether any network was ever made under this root.
    pub fn exists(&self) -> bool {
        self.dir.is_dir()
    }

    fn network_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.json"))
    }

    fn leases_path(&self, name: &str) -> PathBuf {
        self.dir.join(LEASES).join(format!("{name}.json"))
    }

    fn bridge_path(&self, name: &str) -> PathBuf {
        self.dir.join(BRIDGES).join(name)
    }

    pub fn lock(&self) -> Result<Locked<'_>> {
        let old_layout = self.dir.is_dir() && !self.dir.join(LEASES).exists();
        for d in [self.dir.join(LEASES), self.dir.join(BRIDGES)] {
            std::fs::create_dir_all(&d).ctx(|| format!("creating {}", d.display()))?;
        }
        if old_layout {
            self.migrate();
        }
        let path = self.dir.join(".lock");
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .ctx(|| format!("opening {}", path.display()))?;
        crate::sys::fs::flock_exclusive(f.as_raw_fd())
            .map_err(|e| Error::io(format!("locking {}", path.display()), e.into()))?;
        Ok(Locked {
            store: self,
            lock: f,
        })
    }

    /// Moves a store of the old layout (`NAME.leases.json` and `NAME.bridge` beside
    /// `NAME.json`, where a network named `front.leases` was front's leases) to this one,
    /// once. Bridge markers are dropped: the next join finishes each bridge again, which
    /// also installs what older runtimes did not (the loopback guard).
    fn migrate(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for name in entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
        {
            let from = self.dir.join(&name);
            if let Some(net) = name.strip_suffix(".leases.json") {
                let _ = std::fs::rename(&from, self.leases_path(net));
            } else if name.ends_with(".bridge") {
                let _ = std::fs::remove_file(&from);
            }
        }
    }

    /// Every network, in name order (read without the lock: files are replaced atomically).
    pub fn list(&self) -> Result<Vec<Network>> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Ok(Vec::new());
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter_map(|n| n.strip_suffix(".json").map(str::to_string))
            .collect();
        names.sort();
        names.iter().map(|n| self.get(n)).collect()
    }

    pub fn get(&self, name: &str) -> Result<Network> {
        check_name(name)?;
        let path = self.network_path(name);
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::invalid(
                    "network",
                    format!("no network named {name:?}"),
                ))
            }
            Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
        };
        serde_json::from_slice(&text).map_err(|e| Error::Config {
            path,
            msg: e.to_string(),
        })
    }

    /// Which container holds which address on network `name`.
    pub fn leases(&self, name: &str) -> Result<BTreeMap<IpAddr, String>> {
        let path = self.leases_path(name);
        match std::fs::read(&path) {
            Ok(t) => serde_json::from_slice(&t).map_err(|e| Error::Config {
                path,
                msg: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(Error::io(format!("reading {}", path.display()), e)),
        }
    }
}

impl Locked<'_> {
    pub fn store(&self) -> &Store {
        self.store
    }

    /// The lock's fd, for a helper program that must hold the lock as long as it runs.
    pub fn fd(&self) -> std::os::fd::RawFd {
        self.lock.as_raw_fd()
    }

    /// Saves a new network after checking it against the others.
    pub fn create(&self, n: Network) -> Result<Network> {
        let n = n.complete()?;
        let field = format!("network {}", n.name);
        for other in self.store.list()? {
            if other.name == n.name {
                return Err(Error::invalid(field, "a network of that name exists"));
            }
            if other.subnet.overlaps(&n.subnet)
                && !(n.driver == Driver::Overlay
                    && other.driver == Driver::Overlay
                    && other.vni == n.vni)
            {
                return Err(Error::invalid(
                    format!("{field}: --subnet"),
                    format!(
                        "{} overlaps network {} ({})",
                        n.subnet, other.name, other.subnet
                    ),
                ));
            }
            if n.bridge.is_some() && other.bridge == n.bridge {
                return Err(Error::invalid(
                    format!("{field}: bridge"),
                    format!(
                        "{:?} is network {}'s bridge",
                        n.bridge.as_deref().unwrap_or(""),
                        other.name
                    ),
                ));
            }
        }
        self.save(&n)?;
        Ok(n)
    }

    /// The network, making the default one on first use.
    pub fn get_or_default(&self, name: &str) -> Result<Network> {
        match self.store.get(name) {
            Err(_) if name == DEFAULT_NAME && !self.exists(name) => {
                self.create(Network::default_bridge())
            }
            other => other,
        }
    }

    fn exists(&self, name: &str) -> bool {
        self.store.network_path(name).exists()
    }

    fn save(&self, n: &Network) -> Result<()> {
        let bytes =
            serde_json::to_vec_pretty(n).map_err(|e| Error::io("encoding network", e.into()))?;
        let path = self.store.network_path(&n.name);
        crate::container::state::write_atomic(&path, &bytes)
    }

    /// The interface index of network `name`'s bridge when it was last configured in full:
    /// a runtime killed halfway through making a bridge leaves none, and the next join
    /// finishes the job instead of using a bridge without its address or NAT.
    pub fn bridge_ready(&self, name: &str) -> Option<u32> {
        let text = std::fs::read_to_string(self.store.bridge_path(name)).ok()?;
        text.trim().parse().ok()
    }

    pub fn set_bridge_ready(&self, name: &str, index: u32) -> Result<()> {
        let path = self.store.bridge_path(name);
        crate::container::state::write_atomic(&path, index.to_string().as_bytes())
    }

    /// Forgets network `name`; refused while a container holds an address on it.
    pub fn remove(&self, name: &str) -> Result<Network> {
        let n = self.store.get(name)?;
        let leases = self.store.leases(name)?;
        if let Some((addr, id)) = leases.iter().next() {
            return Err(Error::invalid(
                format!("network {name}"),
                format!("in use: container {id} has {addr}"),
            ));
        }
        let files = [
            self.store.network_path(name),
            self.store.leases_path(name),
            self.store.bridge_path(name),
        ];
        for f in files {
            match std::fs::remove_file(&f) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::io(format!("removing {}", f.display()), e))
                }
                _ => {}
            }
        }
        Ok(n)
    }

    /// Hands container `id` an address on `n`: `fixed` if free, else the next free one.
    pub fn allocate(&self, n: &Network, id: &str, fixed: Option<IpAddr>) -> Result<IpAddr> {
        let mut leases = self.store.leases(&n.name)?;
        let field = format!("network {}", n.name);
        let addr = match fixed {
            Some(a) => {
                let reserved = Some(a) == n.gateway || Some(a) == n.subnet.nth(0);
                if !n.subnet.contains(a) || reserved {
                    return Err(Error::invalid(
                        field,
                        format!("{a} is not an address containers can have in {}", n.subnet),
                    ));
                }
                if let Some(holder) = leases.get(&a) {
                    return Err(Error::invalid(
                        field,
                        format!("{a} is taken by container {holder}"),
                    ));
                }
                a
            }
            None => n.free_address(&leases).ok_or_else(|| {
                Error::invalid(
                    field,
                    format!("no address left in {}", n.range.unwrap_or(n.subnet)),
                )
            })?,
        };
        leases.insert(addr, id.to_string());
        self.save_leases(&n.name, &leases)?;
        Ok(addr)
    }

    pub fn release(&self, network: &str, id: &str) -> Result<()> {
        let mut leases = self.store.leases(network)?;
        let before = leases.len();
        leases.retain(|_, holder| holder != id);
        if leases.len() != before {
            self.save_leases(network, &leases)?;
        }
        Ok(())
    }

    fn save_leases(&self, name: &str, leases: &BTreeMap<IpAddr, String>) -> Result<()> {
        let bytes =
            serde_json::to_vec(leases).map_err(|e| Error::io("encoding leases", e.into()))?;
        let path = self.store.leases_path(name);
        crate::container::state::write_atomic(&path, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(subnet: &str) -> Network {
        Network {
            name: "t".into(),
            subnet: Cidr::parse(subnet).unwrap(),
            gateway: None,
            ..Network::default_bridge()
        }
        .complete()
        .unwrap()
    }

    #[test]
    fn addresses_skip_network_gateway_and_broadcast() {
        let n = net("10.1.2.0/30");
        let mut taken = BTreeMap::new();
        assert_eq!(n.gateway, Some("10.1.2.1".parse().unwrap()));
        let a = n.free_address(&taken).unwrap();
        assert_eq!(a, "10.1.2.2".parse::<IpAddr>().unwrap());
        taken.insert(a, "c1".into());
        assert_eq!(n.free_address(&taken), None, "10.1.2.3 is the broadcast");
    }

    #[test]
    fn short_names_fit_an_interface() {
        assert_eq!(short_name("bb-", "front"), "bb-front");
        let long = short_name("bb-", "a-network-with-a-long-name");
        assert_eq!(long.len(), 15);
        assert_ne!(long, short_name("bb-", "a-network-with-a-long-name2"));
    }
}
