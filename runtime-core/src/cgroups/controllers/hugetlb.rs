//! hugetlb: per page size limits.

use super::Version;
use crate::cgroups::writes::{CgroupFs, Out};
use crate::error::{Error, Result};
use oci_spec::runtime::LinuxHugepageLimit;

pub fn plan(
    fs: &dyn CgroupFs,
    out: &mut Out,
    v: Version,
    limits: &[LinuxHugepageLimit],
) -> Result<()> {
    for (i, h) in limits.iter().enumerate() {
        let field = format!("linux.resources.hugepageLimits[{i}]");
        let size = h.page_size();
        let (file, rsvd) = match v {
            Version::V1 => (
                format!("hugetlb.{size}.limit_in_bytes"),
                format!("hugetlb.{size}.rsvd.limit_in_bytes"),
            ),
            Version::V2 => (
                format!("hugetlb.{size}.max"),
                format!("hugetlb.{size}.rsvd.max"),
            ),
        };
        if !fs.exists(out.dir, &file) {
            return Err(Error::invalid(
                &field,
                format!("page size {size:?} is not one this host has"),
            ));
        }
        // Zero is a real limit here (no huge pages at all); -1 is none.
        let text = match (h.limit(), v) {
            (-1, Version::V1) => "-1".to_string(),
            (-1, Version::V2) => "max".to_string(),
            (n, _) if n < 0 => {
                return Err(Error::invalid(
                    &field,
                    format!("{n} is negative (only -1, meaning unlimited, is allowed)"),
                ))
            }
            (n, _) => n.to_string(),
        };
        out.value(&file, text.clone(), &field);
        // Where the kernel has reservation accounting, limit reservations the same way, so a
        // reserved-but-unfaulted page cannot get around the limit (runc does the same).
        if fs.exists(out.dir, &rsvd) {
            out.value(&rsvd, text, &field);
        }
    }
    Ok(())
}
