//! Compiled filters, kept so that containers with the same profile skip compiling: in memory
//! for the life of the process (the shim starts many containers), and on disk under the
//! runtime's root for the CLI, which is a new process every time.
//!
//! The key is the compiler's identity, the machine family and the profile as JSON. A cache
//! file holds its whole key, compared byte for byte when it is read, so a hash collision or a
//! stale file can only cost a compile, never give a container another profile's filter.

use super::arch::Family;
use super::compile::{compile_for, Program};
use crate::error::{Error, Result};
use oci_spec::runtime::LinuxSeccomp;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

/// The cache's directory under `--root`; `@` cannot appear in a container id.
pub const DIR_NAME: &str = "@seccomp";
const MAGIC: &[u8; 10] = b"BERTHSCMP\x01";
/// Profiles per process are few; past this the memory cache starts over.
const MEMORY_ENTRIES: usize = 64;

type Memory = Mutex<HashMap<Vec<u8>, Arc<Program>>>;

fn memory() -> &'static Memory {
    static MEMORY: OnceLock<Memory> = OnceLock::new();
    MEMORY.get_or_init(Default::default)
}

/// The program for `s` on this machine, from the cache when it has it. `dir` is the runtime's
/// root; without one only the memory cache is used.
pub fn compiled(s: &LinuxSeccomp, root: Option<&Path>) -> Result<Arc<Program>> {
    let family = super::compile::native_family()?;
    let key = key(s, family)?;
    if let Some(p) = memory().lock().ok().and_then(|m| m.get(&key).cloned()) {
        return Ok(p);
    }
    let file = root.map(|r| r.join(DIR_NAME).join(format!("{:016x}", fnv(&key))));
    let program = match file.as_deref().and_then(|f| load(f, &key)) {
        Some(p) => Arc::new(p),
        None => {
            let p = Arc::new(compile_for(s, family)?);
            if let Some(f) = &file {
                // A cache that cannot be written only makes the next container slower.
                let _ = store(f, &key, &p);
            }
            p
        }
    };
    if let Ok(mut m) = memory().lock() {
        if m.len() >= MEMORY_ENTRIES {
            m.clear();
        }
        m.insert(key, program.clone());
    }
    Ok(program)
}

/// Empties the memory cache, so the next lookup goes to disk as a new process's would (for
/// benchmarks).
pub fn forget_memory() {
    if let Ok(mut m) = memory().lock() {
        m.clear();
    }
}

fn key(s: &LinuxSeccomp, family: Family) -> Result<Vec<u8>> {
    let mut key = format!("{}\n{family:?}\n", env!("BERTH_SECCOMP_COMPILER")).into_bytes();
    serde_json::to_writer(&mut key, s)
        .map_err(|e| Error::invalid("linux.seccomp", format!("cannot serialize: {e}")))?;
    Ok(key)
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// MAGIC, key length (u32 LE), key, flags (u32 LE), then the instructions (u64 LE each).
fn encode(key: &[u8], p: &Program) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAGIC.len() + 8 + key.len() + 8 * p.insns.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(&p.flags.to_le_bytes());
    p.insns
        .iter()
        .for_each(|i| out.extend_from_slice(&i.to_le_bytes()));
    out
}

fn decode(bytes: &[u8], key: &[u8]) -> Option<Program> {
    let rest = bytes.strip_prefix(MAGIC)?;
    let (len, rest) = rest.split_first_chunk::<4>()?;
    let rest = rest
        .strip_prefix(key)
        .filter(|_| u32::from_le_bytes(*len) as usize == key.len())?;
    let (flags, rest) = rest.split_first_chunk::<4>()?;
    if rest.is_empty() || rest.len() % 8 != 0 || rest.len() / 8 > 4096 {
        return None;
    }
    let insns = rest
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default()))
        .collect();
    Some(Program {
        insns,
        flags: u32::from_le_bytes(*flags),
    })
}

fn load(file: &Path, key: &[u8]) -> Option<Program> {
    decode(&std::fs::read(file).ok()?, key)
}

fn store(file: &Path, key: &[u8], p: &Program) -> Result<()> {
    if let Some(dir) = file.parent() {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .mode(0o700)
            .recursive(true)
            .create(dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    }
    crate::container::state::write_atomic(file, &encode(key, p))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(errno: u32) -> LinuxSeccomp {
        serde_json::from_value(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": errno,
            "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]
        }))
        .unwrap()
    }

    #[test]
    fn a_cached_program_is_the_compiled_one_and_only_for_its_own_profile() {
        let root = std::env::temp_dir().join(format!("berth-seccomp-cache-{}", std::process::id()));
        let (a, b) = (profile(1), profile(2));
        let first = compiled(&a, Some(&root)).unwrap();
        assert_eq!(*first, compile_for(&a, Family::native().unwrap()).unwrap());
        let files: Vec<_> = std::fs::read_dir(root.join(DIR_NAME)).unwrap().collect();
        assert_eq!(files.len(), 1, "one file per profile");
        // From disk, as a new process would read it.
        let key_a = key(&a, Family::native().unwrap()).unwrap();
        let path = files[0].as_ref().unwrap().path();
        assert_eq!(load(&path, &key_a).as_ref(), Some(&*first));
        // The same file never answers for another profile, even under its name.
        let key_b = key(&b, Family::native().unwrap()).unwrap();
        assert_eq!(load(&path, &key_b), None);
        let second = compiled(&b, Some(&root)).unwrap();
        assert_ne!(first.insns, second.insns);
        // A damaged file is a miss, not an error.
        std::fs::write(&path, &std::fs::read(&path).unwrap()[..40]).unwrap();
        assert_eq!(load(&path, &key_a), None);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
