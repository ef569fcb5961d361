//! What containerd hands over with Create besides the bundle: the rootfs mounts of the
//! snapshot, and runtime options.

use crate::task::status;
use containerd_shim::api;
use containerd_shim::api::Options as RuncOptions;
use containerd_shim::protos::protobuf::Message;
use containerd_shim::protos::ttrpc::Code;
use containerd_shim::TtrpcResult;
use std::path::Path;

/// Mounts containerd's rootfs (the snapshot: usually one overlay of the image layers and a
/// writable upper) at BUNDLE/rootfs. Returns whether anything was mounted.
pub fn mount_rootfs(
    mounts: &[containerd_shim::protos::types::mount::Mount],
    bundle: &Path,
) -> TtrpcResult<bool> {
    if mounts.is_empty() {
        return Ok(false);
    }
    let target = bundle.join("rootfs");
    std::fs::create_dir_all(&target)
        .map_err(|e| status(Code::INVALID_ARGUMENT, format!("{}: {e}", target.display())))?;
    for (i, m) in mounts.iter().enumerate() {
        let r = containerd_shim::mount::mount_rootfs(
            Some(m.type_.as_str()),
            Some(m.source.as_str()),
            &m.options,
            &target,
        );
        if let Err(e) = r {
            unmount_rootfs(bundle);
            let what = format!("rootfs[{i}] ({} {}): mount: {e}", m.type_, m.source);
            return Err(status(Code::INVALID_ARGUMENT, what));
        }
    }
    Ok(true)
}

/// Detaches everything mounted at BUNDLE/rootfs.
pub fn unmount_rootfs(bundle: &Path) {
    let Ok(target) =
        std::ffi::CString::new(bundle.join("rootfs").into_os_string().into_encoded_bytes())
    else {
        return;
    };
    // SAFETY: a NUL-terminated path; stops once nothing is mounted there any more.
    while unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) } == 0 {}
}

/// The runtime options containerd may send: runc's, of which only what applies here is
/// taken; anything else is refused by name.
pub fn options(req: &api::CreateTaskRequest) -> TtrpcResult<(bool, bool)> {
    let Some(any) = req.options.as_ref() else {
        return Ok((false, false));
    };
    if any.type_url.is_empty() {
        return Ok((false, false));
    }
    if !any.type_url.ends_with("containerd.runc.v1.Options") {
        let msg = format!("unknown runtime options type {:?}", any.type_url);
        return Err(status(Code::INVALID_ARGUMENT, msg));
    }
    let o = RuncOptions::parse_from_bytes(&any.value)
        .map_err(|e| status(Code::INVALID_ARGUMENT, format!("runtime options: {e}")))?;
    if o.systemd_cgroup {
        let msg = "runtime option SystemdCgroup: the systemd cgroup driver is not implemented";
        return Err(status(Code::UNIMPLEMENTED, msg));
    }
    if !o.binary_name.is_empty() {
        let msg = format!(
            "runtime option BinaryName {:?}: the berth shim runs containers itself; \
             BinaryName belongs to containerd's runc shim",
            o.binary_name
        );
        return Err(status(Code::INVALID_ARGUMENT, msg));
    }
    Ok((o.no_pivot_root, o.no_new_keyring))
}
