//! Container networking over rtnetlink: named networks (bridge, macvlan, VXLAN overlay) with
//! address management, NAT and published ports, attached between create and start; and
//! `linux.netDevices`, host interfaces moved into the container.

pub mod attach;
pub mod cidr;
pub mod nat;
pub mod netdev;
pub mod network;
pub mod rtnl;
