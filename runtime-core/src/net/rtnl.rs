//! rtnetlink, synchronously: the one module that speaks netlink-packet-route and netlink-sys.
//!
//! A netlink socket belongs to the network namespace it was opened in, whatever the thread
//! that uses it later. `Rtnl::in_netns` opens one inside another namespace from a short-lived
//! thread of its own, so no thread of the caller ever changes namespace: the shim calls this
//! from a threaded process.

use crate::error::{Error, Result};
use crate::sys::Errno;
use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_DUMP,
    NLM_F_DUMP_INTR, NLM_F_EXCL, NLM_F_MULTIPART, NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressHeaderFlags, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoMacVlan, InfoVeth, InfoVxlan, LinkAttribute, LinkFlags, LinkInfo,
    LinkMessage, MacVlanMode,
};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};

/// A dump interrupted by a concurrent change is asked again, up to this many times.
const DUMP_TRIES: usize = 5;

pub struct Rtnl {
    sock: Socket,
    seq: u32,
}

/// A network namespace, by a process in it or by an fd of it.
#[derive(Debug, Clone, Copy)]
pub enum NetNs {
    Pid(i32),
    Fd(RawFd),
}

/// What a new link is.
pub enum Kind<'a> {
    Bridge,
    /// A veth pair whose peer is born, under `peer` (with `mac`, if given), in the namespace
    /// `peer_netns`.
    Veth {
        peer: &'a str,
        peer_netns: RawFd,
        mac: Option<[u8; 6]>,
    },
    /// A macvlan (bridge mode) on `parent`, born in `netns`.
    MacVlan {
        parent: u32,
        netns: RawFd,
        mac: Option<[u8; 6]>,
    },
    /// A VXLAN device with id `vni` from `local`, on UDP `port`.
    Vxlan {
        vni: u32,
        local: Ipv4Addr,
        port: u16,
    },
}

impl Rtnl {
    /// A socket in the caller's network namespace.
    pub fn new() -> Result<Rtnl> {
        let mut sock = Socket::new(NETLINK_ROUTE).map_err(|e| io("opening a netlink socket", e))?;
        sock.bind_auto()
            .map_err(|e| io("binding a netlink socket", e))?;
        sock.connect(&SocketAddr::new(0, 0))
            .map_err(|e| io("connecting a netlink socket", e))?;
        Ok(Rtnl { sock, seq: 0 })
    }

    /// A socket in the network namespace `netns`, opened from a thread of its own.
    pub fn in_netns(netns: BorrowedFd) -> Result<Rtnl> {
        let fd = netns.as_raw_fd();
        std::thread::scope(|s| {
            s.spawn(|| {
                // The thread is ours and ends here: its namespace change ends with it.
                crate::sys::process::setns(fd, libc::CLONE_NEWNET).map_err(|errno| Error::Sys {
                    what: "entering the container's network namespace".into(),
                    syscall: "setns",
                    errno,
                })?;
                Rtnl::new()
            })
            .join()
            .unwrap_or_else(|_| Err(Error::Init("the netlink thread panicked".into())))
        })
    }

    /// Sends one request and collects the answer: an acknowledgement, or every message of a
    /// dump. `what` names the request in errors.
    fn request(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
        what: &dyn Fn() -> String,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        let dump = flags & NLM_F_DUMP == NLM_F_DUMP;
        for _ in 0..DUMP_TRIES {
            match self.exchange(msg.clone(), flags, dump) {
                Ok(Some(out)) => return Ok(out),
                Ok(None) => continue,
                Err(errno) => {
                    return Err(Error::Sys {
                        what: what(),
                        syscall: "netlink",
                        errno,
                    })
                }
            }
        }
        Err(Error::Sys {
            what: format!("{}: the dump kept changing under us", what()),
            syscall: "netlink",
            errno: Errno(libc::EINTR),
        })
    }

    /// One request and its answer; `None` when a dump was interrupted.
    fn exchange(
        &mut self,
        msg: RouteNetlinkMessage,
        flags: u16,
        dump: bool,
    ) -> std::result::Result<Option<Vec<RouteNetlinkMessage>>, Errno> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(msg));
        packet.finalize();
        let mut buf = vec![0u8; packet.buffer_len()];
        packet.serialize(&mut buf);
        self.sock.send(&buf, 0).map_err(errno)?;
        let mut out = Vec::new();
        let mut interrupted = false;
        let mut rx = vec![0u8; 64 * 1024];
        loop {
            let n = self.sock.recv(&mut &mut rx[..], 0).map_err(errno)?;
            let mut at = 0;
            while at < n {
                let m = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&rx[at..n])
                    .map_err(|_| Errno(libc::EPROTO))?;
                let len = m.header.length as usize;
                if m.header.sequence_number == self.seq {
                    interrupted |= m.header.flags & NLM_F_DUMP_INTR != 0;
                    match m.payload {
                        NetlinkPayload::Done(_) => return Ok((!interrupted).then_some(out)),
                        NetlinkPayload::Error(e) => {
                            return match e.code {
                                Some(code) => Err(Errno(-code.get())),
                                None => Ok(Some(out)),
                            };
                        }
                        NetlinkPayload::InnerMessage(inner) => out.push(inner),
                        _ => {}
                    }
                    if !dump && m.header.flags & NLM_F_MULTIPART == 0 {
                        return Ok(Some(out));
                    }
                }
                if len == 0 {
                    break;
                }
                at += (len + 3) & !3;
            }
        }
    }

    /// The index of the link called `name`, if there is one.
    pub fn link_index(&mut self, name: &str) -> Result<Option<u32>> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        let what = || format!("looking up interface {name}");
        match self.request(RouteNetlinkMessage::GetLink(m), 0, &what) {
            Ok(found) => Ok(found.into_iter().find_map(|r| match r {
                RouteNetlinkMessage::NewLink(l) => Some(l.header.index),
                _ => None,
            })),
            Err(Error::Sys {
                errno: Errno(libc::ENODEV),
                ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every link: (index, name, controller index).
    pub fn links(&mut self) -> Result<Vec<(u32, String, Option<u32>)>> {
        let what = || "listing interfaces".to_string();
        let all = self.request(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            NLM_F_DUMP,
            &what,
        )?;
        Ok(all
            .into_iter()
            .filter_map(|r| match r {
                RouteNetlinkMessage::NewLink(l) => Some(l),
                _ => None,
            })
            .map(|l| {
                let name = l.attributes.iter().find_map(|a| match a {
                    LinkAttribute::IfName(n) => Some(n.clone()),
                    _ => None,
                });
                let controller = l.attributes.iter().find_map(|a| match a {
                    LinkAttribute::Controller(c) => Some(*c),
                    _ => None,
                });
                (l.header.index, name.unwrap_or_default(), controller)
            })
            .collect())
    }

    /// Creates link `name` of `kind` (with `mtu`, if given). Fails with EEXIST if it is there.
    pub fn add_link(&mut self, name: &str, kind: Kind, mtu: Option<u32>) -> Result<()> {
        let mut m = LinkMessage::default();
        m.attributes.push(LinkAttribute::IfName(name.to_string()));
        if let Some(mtu) = mtu {
            m.attributes.push(LinkAttribute::Mtu(mtu));
        }
        let info = match kind {
            Kind::Bridge => vec![LinkInfo::Kind(InfoKind::Bridge)],
            Kind::Veth {
                peer,
                peer_netns,
                mac,
            } => {
                let mut p = LinkMessage::default();
                p.attributes.push(LinkAttribute::IfName(peer.to_string()));
                p.attributes.push(LinkAttribute::NetNsFd(peer_netns));
                if let Some(mac) = mac {
                    p.attributes.push(LinkAttribute::Address(mac.to_vec()));
                }
                if let Some(mtu) = mtu {
                    p.attributes.push(LinkAttribute::Mtu(mtu));
                }
                vec![
                    LinkInfo::Kind(InfoKind::Veth),
                    LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(p))),
                ]
            }
            Kind::MacVlan { parent, netns, mac } => {
                if let Some(mac) = mac {
                    m.attributes.push(LinkAttribute::Address(mac.to_vec()));
                }
                m.attributes.push(LinkAttribute::Link(parent));
                m.attributes.push(LinkAttribute::NetNsFd(netns));
                vec![
                    LinkInfo::Kind(InfoKind::MacVlan),
                    LinkInfo::Data(InfoData::MacVlan(vec![InfoMacVlan::Mode(
                        MacVlanMode::Bridge,
                    )])),
                ]
            }
            Kind::Vxlan { vni, local, port } => vec![
                LinkInfo::Kind(InfoKind::Vxlan),
                LinkInfo::Data(InfoData::Vxlan(vec![
                    InfoVxlan::Id(vni),
                    InfoVxlan::Local(local),
                    InfoVxlan::Port(port),
                    InfoVxlan::Learning(true),
                ])),
            ],
        };
        m.attributes.push(LinkAttribute::LinkInfo(info));
        let what = || format!("creating interface {name}");
        let flags = NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL;
        self.request(RouteNetlinkMessage::NewLink(m), flags, &what)
            .map(drop)
    }

    /// Sets link `index` up, and optionally renames it and puts it under `controller`.
    pub fn set_link(
        &mut self,
        index: u32,
        rename: Option<&str>,
        controller: Option<u32>,
    ) -> Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        m.header.flags = LinkFlags::Up;
        m.header.change_mask = LinkFlags::Up;
        if let Some(n) = rename {
            m.attributes.push(LinkAttribute::IfName(n.to_string()));
        }
        if let Some(c) = controller {
            m.attributes.push(LinkAttribute::Controller(c));
        }
        let what = || format!("setting up interface #{index}");
        self.request(RouteNetlinkMessage::SetLink(m), NLM_F_ACK, &what)
            .map(drop)
    }

    /// Moves link `index` into another network namespace, renaming it on the way.
    pub fn move_link(&mut self, index: u32, to: NetNs, rename: Option<&str>) -> Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        m.attributes.push(match to {
            NetNs::Pid(pid) => LinkAttribute::NetNsPid(pid as u32),
            NetNs::Fd(fd) => LinkAttribute::NetNsFd(fd),
        });
        if let Some(n) = rename {
            m.attributes.push(LinkAttribute::IfName(n.to_string()));
        }
        let what = || format!("moving interface #{index} into the container");
        self.request(RouteNetlinkMessage::SetLink(m), NLM_F_ACK, &what)
            .map(drop)
    }

    pub fn del_link(&mut self, index: u32) -> Result<()> {
        let mut m = LinkMessage::default();
        m.header.index = index;
        let what = || format!("removing interface #{index}");
        self.request(RouteNetlinkMessage::DelLink(m), NLM_F_ACK, &what)
            .map(drop)
    }

    /// Adds `addr/prefix` to link `index` (an existing one is fine).
    pub fn add_address(&mut self, index: u32, addr: IpAddr, prefix: u8) -> Result<()> {
        let mut m = AddressMessage::default();
        m.header.family = family(addr);
        m.header.prefix_len = prefix;
        m.header.index = index;
        if addr.is_ipv6() {
            // Addresses are handed out by berth, not guessed: no duplicate detection, which
            // would keep a new address unusable for a second or two.
            m.header.flags = AddressHeaderFlags::Nodad;
        }
        m.attributes.push(AddressAttribute::Local(addr));
        m.attributes.push(AddressAttribute::Address(addr));
        let what = || format!("adding address {addr}/{prefix} to interface #{index}");
        match self.request(
            RouteNetlinkMessage::NewAddress(m),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            &what,
        ) {
            Err(Error::Sys {
                errno: Errno(libc::EEXIST),
                ..
            }) => Ok(()),
            other => other.map(drop),
        }
    }

    /// Adds a route to `dest` (the default route if `None`) via `gateway` on link `index`.
    pub fn add_route(
        &mut self,
        dest: Option<(IpAddr, u8)>,
        gateway: IpAddr,
        index: u32,
    ) -> Result<()> {
        let mut m = RouteMessage::default();
        m.header.address_family = family(gateway);
        m.header.table = RouteHeader::RT_TABLE_MAIN;
        m.header.protocol = RouteProtocol::Static;
        m.header.scope = RouteScope::Universe;
        m.header.kind = RouteType::Unicast;
        if let Some((d, len)) = dest {
            m.header.destination_prefix_length = len;
            m.attributes
                .push(RouteAttribute::Destination(route_address(d)));
        }
        m.attributes
            .push(RouteAttribute::Gateway(route_address(gateway)));
        m.attributes.push(RouteAttribute::Oif(index));
        let what = || format!("adding a route via {gateway}");
        self.request(
            RouteNetlinkMessage::NewRoute(m),
            NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL,
            &what,
        )
        .map(drop)
    }

    /// A permanent all-zeros forwarding entry on VXLAN link `index`: flood to `peer` (an
    /// existing one is fine).
    pub fn add_flood_peer(&mut self, index: u32, peer: IpAddr) -> Result<()> {
        let mut m = NeighbourMessage::default();
        m.header.family = AddressFamily::Bridge;
        m.header.ifindex = index;
        m.header.state = NeighbourState::Permanent;
        m.header.flags = NeighbourFlags::Own;
        m.attributes
            .push(NeighbourAttribute::LinkLayerAddress(vec![0; 6]));
        m.attributes
            .push(NeighbourAttribute::Destination(match peer {
                IpAddr::V4(a) => NeighbourAddress::Inet(a),
                IpAddr::V6(a) => NeighbourAddress::Inet6(a),
            }));
        let what = || format!("adding VXLAN peer {peer}");
        let flags = NLM_F_ACK | NLM_F_CREATE | netlink_packet_core::NLM_F_APPEND;
        match self.request(RouteNetlinkMessage::NewNeighbour(m), flags, &what) {
            Err(Error::Sys {
                errno: Errno(libc::EEXIST),
                ..
            }) => Ok(()),
            other => other.map(drop),
        }
    }
}

fn family(a: IpAddr) -> AddressFamily {
    match a {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

fn route_address(a: IpAddr) -> RouteAddress {
    match a {
        IpAddr::V4(a) => RouteAddress::Inet(a),
        IpAddr::V6(a) => RouteAddress::Inet6(a),
    }
}

fn errno(e: std::io::Error) -> Errno {
    Errno(e.raw_os_error().unwrap_or(libc::EIO))
}

fn io(what: &str, e: std::io::Error) -> Error {
    Error::io(what.to_string(), e)
}
