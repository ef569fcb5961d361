//! rdma: per-device limits on HCA handles and objects (same file on v1 and v2).

use crate::cgroups::writes::Out;
use crate::error::{Error, Result};
use oci_spec::runtime::LinuxRdma;
use std::collections::HashMap;

pub fn plan(out: &mut Out, limits: &HashMap<String, LinuxRdma>) -> Result<()> {
    let mut names: Vec<&String> = limits.keys().collect();
    names.sort();
    for dev in names {
        let field = format!("linux.resources.rdma[{dev:?}]");
        if dev.is_empty() || dev.contains([' ', '\n', '=']) {
            return Err(Error::invalid(&field, "not an RDMA device name"));
        }
        let l = &limits[dev];
        let mut line = dev.clone();
        if let Some(h) = l.hca_handles() {
            line.push_str(&format!(" hca_handle={h}"));
        }
        if let Some(o) = l.hca_objects() {
            line.push_str(&format!(" hca_object={o}"));
        }
        let none = format!("{dev} hca_handle=max hca_object=max");
        out.line("rdma.max", line, &field, none);
    }
    Ok(())
}
