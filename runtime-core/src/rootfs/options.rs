//! OCI mount options, sorted into what the fd-based mount API wants: attribute bits for the
//! mount, propagation, and the rest as filesystem parameters for fsconfig.

use crate::error::{Error, Result};
use crate::sys::mount::*;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Attrs {
    pub set: u64,
    pub clr: u64,
}

impl Attrs {
    pub fn is_empty(&self) -> bool {
        self.set == 0 && self.clr == 0
    }

    fn apply(&mut self, bit: u64, on: bool, mask: u64) {
        if mask != 0 {
            // An atime mode is a value inside a field: the kernel wants the whole field in
            // attr_clr and the new value in attr_set.
            self.clr |= mask;
            self.set = (self.set & !mask) | bit;
        } else if on {
            self.set |= bit;
            self.clr &= !bit;
        } else {
            self.clr |= bit;
            self.set &= !bit;
        }
    }
}

/// A mount's options, parsed.
#[derive(Debug, Default, Clone)]
pub struct Options {
    pub bind: bool,
    pub recursive_bind: bool,
    /// Attributes for the mount itself.
    pub attrs: Attrs,
    /// Attributes for the mount and every mount below it (`rro`, `rnosuid`, …).
    pub rattrs: Attrs,
    /// `MS_SHARED`, `MS_SLAVE`, `MS_PRIVATE` or `MS_UNBINDABLE`, or 0.
    pub propagation: u64,
    pub propagation_recursive: bool,
    /// Filesystem parameters: `key=value`, or a flag with no value.
    pub data: Vec<(String, Option<String>)>,
}

/// One attribute option: (name, bit, on, atime-mask).
const ATTRS: &[(&str, u64, bool, u64)] = &[
    ("ro", MOUNT_ATTR_RDONLY, true, 0),
    ("rw", MOUNT_ATTR_RDONLY, false, 0),
    ("nosuid", MOUNT_ATTR_NOSUID, true, 0),
    ("suid", MOUNT_ATTR_NOSUID, false, 0),
    ("nodev", MOUNT_ATTR_NODEV, true, 0),
    ("dev", MOUNT_ATTR_NODEV, false, 0),
    ("noexec", MOUNT_ATTR_NOEXEC, true, 0),
    ("exec", MOUNT_ATTR_NOEXEC, false, 0),
    ("nodiratime", MOUNT_ATTR_NODIRATIME, true, 0),
    ("diratime", MOUNT_ATTR_NODIRATIME, false, 0),
    ("nosymfollow", MOUNT_ATTR_NOSYMFOLLOW, true, 0),
    ("symfollow", MOUNT_ATTR_NOSYMFOLLOW, false, 0),
    ("noatime", MOUNT_ATTR_NOATIME, true, MOUNT_ATTR__ATIME),
    ("atime", MOUNT_ATTR_RELATIME, true, MOUNT_ATTR__ATIME),
    ("relatime", MOUNT_ATTR_RELATIME, true, MOUNT_ATTR__ATIME),
    ("norelatime", MOUNT_ATTR_RELATIME, true, MOUNT_ATTR__ATIME),
    (
        "strictatime",
        MOUNT_ATTR_STRICTATIME,
        true,
        MOUNT_ATTR__ATIME,
    ),
    (
        "nostrictatime",
        MOUNT_ATTR_RELATIME,
        true,
        MOUNT_ATTR__ATIME,
    ),
];

const PROPAGATION: &[(&str, u64)] = &[
    ("shared", libc::MS_SHARED),
    ("slave", libc::MS_SLAVE),
    ("private", libc::MS_PRIVATE),
    ("unbindable", libc::MS_UNBINDABLE),
];

/// Superblock flags the kernel accepts as fsconfig flags for a new filesystem; for a bind
/// mount they mean nothing and are dropped, as runc does.
const SB_FLAGS: &[&str] = &[
    "sync",
    "async",
    "dirsync",
    "mand",
    "nomand",
    "lazytime",
    "nolazytime",
    "silent",
    "loud",
];

/// Parses `options` of the mount at `field`.
pub fn parse(options: &[String], field: &str) -> Result<Options> {
    let mut o = Options::default();
    for opt in options {
        let opt = opt.as_str();
        if parse_flag(&mut o, opt) {
            continue;
        }
        match opt {
            "bind" => o.bind = true,
            "rbind" => {
                o.bind = true;
                o.recursive_bind = true;
            }
            "defaults" | "remount" | "tmpcopyup" | "" => {}
            "idmap" | "ridmap" => {
                return Err(Error::Unsupported(format!(
                    "{field}: mount option {opt:?} (id-mapped mounts)"
                )))
            }
            _ if opt.starts_with("x-") || opt.starts_with("X-") => {}
            _ if SB_FLAGS.contains(&opt) => o.data.push((opt.to_string(), None)),
            _ => {
                let (k, v) = match opt.split_once('=') {
                    Some((k, v)) => (k, Some(v.to_string())),
                    None => (opt, None),
                };
                if k.is_empty() {
                    return Err(Error::invalid(field, format!("mount option {opt:?}")));
                }
                o.data.push((k.to_string(), v));
            }
        }
    }
    Ok(o)
}

/// Attribute and propagation options, plain or recursive (`r` prefix).
fn parse_flag(o: &mut Options, opt: &str) -> bool {
    for (recursive, name) in [(false, opt), (true, opt.strip_prefix('r').unwrap_or(""))] {
        if name.is_empty() {
            continue;
        }
        if let Some(&(_, bit, on, mask)) = ATTRS.iter().find(|a| a.0 == name) {
            // "ro"/"rw" begin with 'r' themselves: the plain reading wins.
            let target = if recursive {
                &mut o.rattrs
            } else {
                &mut o.attrs
            };
            target.apply(bit, on, mask);
            return true;
        }
        if let Some(&(_, flag)) = PROPAGATION.iter().find(|p| p.0 == name) {
            o.propagation = flag;
            o.propagation_recursive = recursive;
            return true;
        }
    }
    false
}

/// Classic `MS_*` propagation flags for `linux.rootfsPropagation`.
pub fn root_propagation(value: &str) -> Result<(u64, bool)> {
    let (recursive, name) = match value.strip_prefix('r') {
        Some(n) if PROPAGATION.iter().any(|p| p.0 == n) => (true, n),
        _ => (false, value),
    };
    PROPAGATION
        .iter()
        .find(|p| p.0 == name)
        .map(|p| (p.1, recursive))
        .ok_or_else(|| {
            Error::invalid(
                "linux.rootfsPropagation",
                format!("{value:?} is not one of shared, slave, private, unbindable (or r-)"),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(opts: &[&str]) -> Options {
        let v: Vec<String> = opts.iter().map(|s| s.to_string()).collect();
        parse(&v, "mounts[0]").unwrap()
    }

    #[test]
    fn attributes_and_data_are_split() {
        let o = p(&[
            "nosuid",
            "strictatime",
            "mode=755",
            "size=65536k",
            "rbind",
            "rro",
        ]);
        assert!(o.bind && o.recursive_bind);
        assert_eq!(o.attrs.set, MOUNT_ATTR_NOSUID | MOUNT_ATTR_STRICTATIME);
        assert_eq!(o.attrs.clr, MOUNT_ATTR__ATIME);
        assert_eq!(o.rattrs.set, MOUNT_ATTR_RDONLY);
        assert_eq!(
            o.data,
            vec![
                ("mode".to_string(), Some("755".to_string())),
                ("size".to_string(), Some("65536k".to_string()))
            ]
        );
    }

    #[test]
    fn ro_is_not_a_recursive_o() {
        let o = p(&["ro", "rw", "ro"]);
        assert_eq!(o.attrs.set, MOUNT_ATTR_RDONLY);
        assert!(o.rattrs.is_empty());
    }

    #[test]
    fn propagation_options() {
        let o = p(&["rslave"]);
        assert_eq!(
            (o.propagation, o.propagation_recursive),
            (libc::MS_SLAVE, true)
        );
        assert_eq!(
            root_propagation("private").unwrap(),
            (libc::MS_PRIVATE, false)
        );
        assert!(root_propagation("bogus").is_err());
    }

    #[test]
    fn idmap_is_refused_by_name() {
        let v = vec!["idmap".to_string()];
        let e = parse(&v, "mounts[2]").unwrap_err().to_string();
        assert!(e.contains("mounts[2]") && e.contains("idmap"), "{e}");
    }
}
