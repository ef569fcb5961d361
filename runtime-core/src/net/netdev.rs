//! `linux.netDevices`: host interfaces moved (and optionally renamed) into the container's
//! network namespace by the runtime, after clone and before the container init continues.

use super::rtnl::{NetNs, Rtnl};
use crate::error::{Error, Result};
use oci_spec::runtime::LinuxNetDevice;
use std::collections::HashMap;
use std::ffi::CString;

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

pub fn move_all(list: &[NetDevicePlan], target: NetNs) -> Result<()> {
    if list.is_empty() {
        return Ok(());
    }
    let mut host = Rtnl::new()?;
    for d in list {
        host.move_link(d.index as u32, target, d.new_name.as_deref())
            .map_err(|e| match e {
                Error::Sys { errno, .. } => Error::Sys {
                    what: format!(
                        "linux.netDevices[{:?}]: moving into the container",
                        d.host_name
                    ),
                    syscall: "netlink RTM_NEWLINK",
                    errno,
                },
                e => e,
            })?;
    }
    Ok(())
}
