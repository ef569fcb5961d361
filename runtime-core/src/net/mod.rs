//! Container networking over netlink. For now: `linux.netDevices`, moving host interfaces into
//! the container's network namespace.

pub mod netdev;
pub mod rtnl;
