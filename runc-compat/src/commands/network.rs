//! `berth network`: named networks under `--root`, for the annotation `berth.network`.

use super::{fail, CliResult};
use crate::cli::{NetworkCommand, NetworkCreateArgs};
use berth_core::net::attach::{self, parse_subnet};
use berth_core::net::network::{Driver, Network, Store};
use berth_core::Runtime;
use std::net::{IpAddr, Ipv4Addr};

pub fn network(rt: &Runtime, cmd: NetworkCommand) -> CliResult<()> {
    match cmd {
        NetworkCommand::Create(a) => {
            let n = attach::create_network(rt.root(), from_args(*a)?)?;
            println!("{}", n.name);
        }
        NetworkCommand::Ls => {
            println!(
                "{:<20} {:<8} {:<20} {:<16} BRIDGE/PARENT",
                "NAME", "DRIVER", "SUBNET", "GATEWAY"
            );
            for n in Store::new(rt.root()).list()? {
                let gw = n.gateway.map(|g| g.to_string()).unwrap_or_default();
                let dev = n.bridge.as_deref().or(n.parent.as_deref()).unwrap_or("");
                let driver = serde_json::to_value(n.driver).unwrap_or_default();
                let driver = driver.as_str().unwrap_or("");
                println!(
                    "{:<20} {driver:<8} {:<20} {gw:<16} {dev}",
                    n.name,
                    n.subnet.to_string()
                );
            }
        }
        NetworkCommand::Inspect { name } => {
            let store = Store::new(rt.root());
            let n = store.get(&name)?;
            let mut v = serde_json::to_value(&n).map_err(|e| super::CliError(e.to_string()))?;
            v["containers"] = serde_json::to_value(store.leases(&name)?)
                .map_err(|e| super::CliError(e.to_string()))?;
            let text =
                serde_json::to_string_pretty(&v).map_err(|e| super::CliError(e.to_string()))?;
            println!("{text}");
        }
        NetworkCommand::Rm { name } => {
            attach::remove_network(rt.root(), &name)?;
        }
    }
    Ok(())
}

fn from_args(a: NetworkCreateArgs) -> CliResult<Network> {
    let driver = match a.driver.as_str() {
        "bridge" => Driver::Bridge,
        "macvlan" => Driver::Macvlan,
        "overlay" => Driver::Overlay,
        d => return fail(format!("--driver {d:?}: use bridge, macvlan or overlay")),
    };
    let ip = |s: &str, flag: &str| {
        s.parse::<IpAddr>()
            .map_err(|_| super::CliError(format!("{flag} {s:?} is not an address")))
    };
    let v4 = |s: &str, flag: &str| {
        s.parse::<Ipv4Addr>()
            .map_err(|_| super::CliError(format!("{flag} {s:?} is not an IPv4 address")))
    };
    let mtu = match (a.mtu, driver) {
        // VXLAN costs 50 bytes of each 1500-byte frame.
        (None, Driver::Overlay) => Some(1450),
        (m, _) => m,
    };
    Ok(Network {
        name: a.name,
        driver,
        subnet: parse_subnet(&a.subnet, "--subnet")?,
        gateway: a
            .gateway
            .as_deref()
            .map(|g| ip(g, "--gateway"))
            .transpose()?,
        bridge: a.bridge,
        parent: a.parent,
        vni: a.vni,
        local: a.local.as_deref().map(|l| v4(l, "--local")).transpose()?,
        peers: a
            .peers
            .iter()
            .map(|p| v4(p, "--peer"))
            .collect::<CliResult<_>>()?,
        range: a
            .ip_range
            .as_deref()
            .map(|r| parse_subnet(r, "--ip-range"))
            .transpose()?,
        mtu,
        nat: driver == Driver::Bridge && !a.no_nat,
    })
}
