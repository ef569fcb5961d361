//! pids: the most processes the container may have.

use crate::cgroups::writes::Out;
use oci_spec::runtime::LinuxPids;

/// runc: a negative limit means none (`max`); zero leaves the limit as it is.
pub fn plan(out: &mut Out, p: &LinuxPids) {
    let value = match p.limit() {
        0 => return,
        n if n < 0 => "max".to_string(),
        n => n.to_string(),
    };
    out.value("pids.max", value, "linux.resources.pids.limit");
}
