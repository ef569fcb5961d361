//! net_cls and net_prio (v1 only): a class id for the container's packets, and per-interface
//! priorities.

use super::write;
use crate::error::{Error, Result};
use oci_spec::runtime::LinuxNetwork;
use std::path::Path;

pub fn apply_cls(dir: &Path, n: &LinuxNetwork) -> Result<()> {
    match n.class_id() {
        Some(id) => write(
            dir,
            "net_cls.classid",
            &id.to_string(),
            "linux.resources.network.classID",
        ),
        None => Ok(()),
    }
}

pub fn apply_prio(dir: &Path, n: &LinuxNetwork) -> Result<()> {
    for (i, p) in n.priorities().iter().flatten().enumerate() {
        let field = format!("linux.resources.network.priorities[{i}]");
        if p.name().is_empty() || p.name().contains([' ', '/']) {
            return Err(Error::invalid(
                &field,
                format!("{:?} is not an interface name", p.name()),
            ));
        }
        write(
            dir,
            "net_prio.ifpriomap",
            &format!("{} {}", p.name(), p.priority()),
            &field,
        )?;
    }
    Ok(())
}
