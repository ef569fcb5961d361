//! `linux.netDevices`: host interfaces moved (and optionally renamed) into the container's
//! network namespace by the runtime, after clone and before the container init continues.

use super::netlink::{Message, RTM_NEWLINK};
use crate::error::{Error, Result};
use oci_spec::runtime::LinuxNetDevice;
use std::collections::HashMap;
use std::ffi::CString;

const IFLA_IFNAME: u16 = 3;
const IFLA_NET_NS_PID: u16 = 19;
const IFLA_NET_NS_FD: u16 = 28;

#[derive(Debug, Clone)]
pub struct NetDevicePlan {
    pub host_name: String,
    pub index: i32,
    pub new_name: Option<String>,
}

/// Checks every device exists on the host now and that names are valid interface names.
pub fn plan(devices: &HashMap<String, LinuxNetDevice>) -> Result<Vec<NetDevicePlan>> {
    let mut names: Vec<&String> = devices.keys().collect();
    names.sort();
    names
        .into_iter()
        .map(|host| {
            let field = format!("linux.netDevices[{host:?}]");
            let new_name = devices[host].name().clone().filter(|n| !n.is_empty());
            for n in std::iter::once(host).chain(new_name.as_ref()) {
                if n.is_empty()
                    || n.len() > 15
                    || n.contains(['/', ' ', ':'])
                    || n == "."
                    || n == ".."
                {
                    return Err(Error::invalid(
                        &field,
                        format!("{n:?} is not a valid interface name"),
                    ));
                }
            }
            let c = CString::new(host.as_str()).map_err(|_| Error::invalid(&field, "NUL byte"))?;
            let index = crate::sys::socket::if_index(&c);
            if index == 0 {
                return Err(Error::invalid(&field, "no such interface on the host"));
            }
            Ok(NetDevicePlan {
                host_name: host.clone(),
                index,
                new_name,
            })
        })
        .collect()
}

/// Where the devices go: the network namespace of a pid, or a namespace fd.
pub enum Target {
    Pid(i32),
    Fd(i32),
}

pub fn move_all(list: &[NetDevicePlan], target: Target) -> Result<()> {
    for d in list {
        let mut body = [0u8; 16];
        body[4..8].copy_from_slice(&d.index.to_ne_bytes());
        let mut msg = Message::new(RTM_NEWLINK, &body);
        msg = match target {
            Target::Pid(pid) => msg.attr(IFLA_NET_NS_PID, &(pid as u32).to_ne_bytes()),
            Target::Fd(fd) => msg.attr(IFLA_NET_NS_FD, &(fd as u32).to_ne_bytes()),
        };
        if let Some(name) = &d.new_name {
            let mut bytes = name.as_bytes().to_vec();
            bytes.push(0);
            msg = msg.attr(IFLA_IFNAME, &bytes);
        }
        msg.send().map_err(|errno| Error::Sys {
            what: format!(
                "linux.netDevices[{:?}]: moving into the container",
                d.host_name
            ),
            syscall: "netlink RTM_NEWLINK",
            errno,
        })?;
    }
    Ok(())
}
