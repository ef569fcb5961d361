//! Which cgroup hierarchies the host has mounted: pure v2, v1, or hybrid (v1 controllers plus a
//! cgroup2 mount that holds whatever v1 left over). One read of /proc/self/mountinfo.

use crate::error::{Error, IoContext, Result};
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct Hierarchy {
    pub mountpoint: PathBuf,
    /// The superblock options that select this hierarchy: `cpu`, `name=systemd` …
    pub options: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Layout {
    /// Where cgroup2 is mounted, if at all.
    pub unified: Option<PathBuf>,
    pub v1: Vec<Hierarchy>,
}

impl Layout {
    pub fn detect() -> Result<Layout> {
        let text = std::fs::read_to_string("/proc/self/mountinfo")
            .ctx(|| "reading /proc/self/mountinfo".into())?;
        let layout = parse(&text);
        if layout.unified.is_none() && layout.v1.is_empty() {
            return Err(Error::Cgroup(
                "no cgroup filesystem is mounted on this host".into(),
            ));
        }
        Ok(layout)
    }

    pub fn is_pure_v2(&self) -> bool {
        self.v1.is_empty()
    }

    pub fn v1_with(&self, controller: &str) -> Option<&Hierarchy> {
        self.v1
            .iter()
            .find(|h| h.options.iter().any(|o| o == controller))
    }
}

const NOT_CONTROLLERS: &[&str] = &[
    "rw",
    "ro",
    "relatime",
    "noatime",
    "nosuid",
    "nodev",
    "noexec",
    "xattr",
    "clone_children",
    "nsdelegate",
    "memory_recursiveprot",
    "memory_localevents",
    "favordynmods",
    "cpuset_v2_mode",
    "noprefix",
];

pub fn parse(mountinfo: &str) -> Layout {
    let mut layout = Layout {
        unified: None,
        v1: Vec::new(),
    };
    for line in mountinfo.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let fields: Vec<&str> = pre.split(' ').collect();
        let post: Vec<&str> = post.split(' ').collect();
        if fields.len() < 5 || post.len() < 3 || fields[3] != "/" {
            continue;
        }
        let mountpoint = PathBuf::from(unescape(fields[4]));
        match post[0] {
            "cgroup2" if layout.unified.is_none() => layout.unified = Some(mountpoint),
            "cgroup" => {
                let options: Vec<String> = post[2]
                    .split(',')
                    .filter(|o| !NOT_CONTROLLERS.contains(o) && !o.starts_with("release_agent="))
                    .map(str::to_string)
                    .collect();
                if !layout.v1.iter().any(|h| h.options == options) {
                    layout.v1.push(Hierarchy {
                        mountpoint,
                        options,
                    });
                }
            }
            _ => {}
        }
    }
    layout
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 4], 8) {
                out.push(v as char);
                i += 4;
                continue;
            }
        }
        out.push(b[i] as char);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
36 31 0:33 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    #[test]
    fn hybrid_host() {
        let l = parse(HYBRID);
        assert_eq!(l.unified, Some(PathBuf::from("/sys/fs/cgroup/unified")));
        assert_eq!(l.v1.len(), 3);
        assert_eq!(l.v1[2].options, vec!["name=systemd".to_string()]);
        assert!(l.v1_with("memory").is_some() && !l.is_pure_v2());
    }

    #[test]
    fn pure_v2_host() {
        let l = parse("30 23 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n");
        assert!(l.is_pure_v2());
    }
}
