//! hugetlb: per page size limits.

use super::{limit, max_or, write, Version};
use crate::error::{Error, Result};
use oci_spec::runtime::LinuxHugepageLimit;
use std::path::Path;

pub fn apply(dir: &Path, v: Version, limits: &[LinuxHugepageLimit]) -> Result<()> {
    for (i, h) in limits.iter().enumerate() {
        let field = format!("linux.resources.hugepageLimits[{i}]");
        let size = h.page_size();
        let file = match v {
            Version::V1 => format!("hugetlb.{size}.limit_in_bytes"),
            Version::V2 => format!("hugetlb.{size}.max"),
        };
        if !dir.join(&file).exists() {
            return Err(Error::invalid(
                &field,
                format!("page size {size:?} is not one this host has"),
            ));
        }
        let l = limit(h.limit(), &field)?;
        let text = match v {
            Version::V1 => l.map_or("-1".to_string(), |n| n.to_string()),
            Version::V2 => max_or(l),
        };
        write(dir, &file, &text, &field)?;
        // Where the kernel has reservation accounting, limit reservations the same way, so a
        // reserved-but-unfaulted page cannot get around the limit (runc does the same).
        let rsvd = match v {
            Version::V1 => format!("hugetlb.{size}.rsvd.limit_in_bytes"),
            Version::V2 => format!("hugetlb.{size}.rsvd.max"),
        };
        if dir.join(&rsvd).exists() {
            write(dir, &rsvd, &text, &field)?;
        }
    }
    Ok(())
}
