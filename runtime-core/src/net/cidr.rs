//! IPv4 and IPv6 subnets: parsing, membership, overlap, and the n-th address.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A subnet, kept normalised (host bits zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (a, p) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?} is not ADDRESS/PREFIX"))?;
        let addr: IpAddr = a.parse().map_err(|_| format!("{a:?} is not an address"))?;
        let prefix: u8 = p
            .parse()
            .map_err(|_| format!("{p:?} is not a prefix length"))?;
        if prefix > bits(addr) {
            return Err(format!("/{prefix} is too long for {addr}"));
        }
        let c = Cidr { addr, prefix };
        Ok(Cidr {
            addr: from_num(addr, to_num(addr) & c.mask()),
            prefix,
        })
    }

    fn mask(&self) -> u128 {
        let host = bits(self.addr) - self.prefix;
        let all = if bits(self.addr) == 128 {
            u128::MAX
        } else {
            (1u128 << bits(self.addr)) - 1
        };
        if host >= 128 {
            0
        } else {
            all & !((1u128 << host) - 1)
        }
    }

    /// How many addresses the subnet spans (capped for huge IPv6 subnets).
    pub fn size(&self) -> u128 {
        let host = (bits(self.addr) - self.prefix) as u32;
        1u128.checked_shl(host).unwrap_or(u128::MAX)
    }

    pub fn contains(&self, a: IpAddr) -> bool {
        bits(a) == bits(self.addr) && to_num(a) & self.mask() == to_num(self.addr)
    }

    pub fn overlaps(&self, o: &Cidr) -> bool {
        bits(o.addr) == bits(self.addr) && (self.contains(o.addr) || o.contains(self.addr))
    }

    /// The address `n` places after the network address, if inside the subnet.
    pub fn nth(&self, n: u128) -> Option<IpAddr> {
        (n < self.size()).then(|| from_num(self.addr, to_num(self.addr) + n))
    }

    /// Where `a` sits in the subnet.
    pub fn offset(&self, a: IpAddr) -> Option<u128> {
        self.contains(a).then(|| to_num(a) - to_num(self.addr))
    }

    pub fn is_v4(&self) -> bool {
        self.addr.is_ipv4()
    }
}

fn bits(a: IpAddr) -> u8 {
    if a.is_ipv4() {
        32
    } else {
        128
    }
}

fn to_num(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(a) => u32::from(a) as u128,
        IpAddr::V6(a) => u128::from(a),
    }
}

fn from_num(like: IpAddr, n: u128) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(n as u32)),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(n)),
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl TryFrom<String> for Cidr {
    type Error = String;
    fn try_from(s: String) -> Result<Cidr, String> {
        Cidr::parse(&s)
    }
}

impl From<Cidr> for String {
    fn from(c: Cidr) -> String {
        c.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_normalise_contain_overlap() {
        let c = Cidr::parse("10.77.3.9/16").unwrap();
        assert_eq!(c.to_string(), "10.77.0.0/16");
        assert!(c.contains("10.77.255.1".parse().unwrap()));
        assert!(!c.contains("10.78.0.1".parse().unwrap()));
        assert!(c.overlaps(&Cidr::parse("10.77.9.0/24").unwrap()));
        assert!(!c.overlaps(&Cidr::parse("10.76.0.0/16").unwrap()));
        assert_eq!(c.nth(2), Some("10.77.0.2".parse().unwrap()));
        assert_eq!(c.size(), 65536);
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("10.0.0.0").is_err());
        let v6 = Cidr::parse("fd00:77::5/64").unwrap();
        assert_eq!(v6.to_string(), "fd00:77::/64");
        assert_eq!(v6.nth(1), Some("fd00:77::1".parse().unwrap()));
        assert!(!v6.overlaps(&c));
        assert_eq!(Cidr::parse("0.0.0.0/0").unwrap().size(), 1 << 32);
    }
}
