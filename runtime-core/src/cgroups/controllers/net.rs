//! net_cls and net_prio (v1 only): a class id for the container's packets, and per-interface
//! priorities.

use crate::cgroups::writes::Out;
use crate::error::{Error, Result};
use oci_spec::runtime::LinuxNetwork;

pub fn plan_cls(out: &mut Out, n: &LinuxNetwork) {
    if let Some(id) = n.class_id() {
        let field = "linux.resources.network.classID";
        out.value("net_cls.classid", id.to_string(), field);
    }
}

pub fn plan_prio(out: &mut Out, n: &LinuxNetwork) -> Result<()> {
    for (i, p) in n.priorities().iter().flatten().enumerate() {
        let field = format!("linux.resources.network.priorities[{i}]");
        if p.name().is_empty() || p.name().contains([' ', '/', '\n']) {
            return Err(Error::invalid(
                &field,
                format!("{:?} is not an interface name", p.name()),
            ));
        }
        let line = format!("{} {}", p.name(), p.priority());
        out.line(
            "net_prio.ifpriomap",
            line,
            &field,
            format!("{} 0", p.name()),
        );
    }
    Ok(())
}
