//! cgroupfs changes as one transaction. The controllers first plan every write, checking
//! every value and every file before anything is written; `Transaction::run` then writes them
//! in order, remembering what each file held, and on the first failure writes it all back in
//! reverse, so a failed `update` leaves the container's limits as they were.

use crate::cgroups::ebpf::Rule;
use crate::error::{Error, Result};
use std::io::Write as _;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

/// What the planners may ask of cgroupfs: is a file there, what does it hold.
pub trait CgroupFs {
    fn exists(&self, dir: &Path, file: &str) -> bool;
    fn read(&self, dir: &Path, file: &str) -> Option<String>;
    /// Whether `read` tells what a file holds: a check that needs it waits for a seam that can.
    fn reads(&self) -> bool {
        true
    }
}

/// The real cgroupfs.
pub struct Host;

impl CgroupFs for Host {
    fn exists(&self, dir: &Path, file: &str) -> bool {
        dir.join(file).exists()
    }

    fn read(&self, dir: &Path, file: &str) -> Option<String> {
        std::fs::read_to_string(dir.join(file)).ok()
    }
}

/// For checking values before anything is written, when a cgroup2 controller may not be
/// enabled yet (its files appear only then): every file is taken to exist, none can be read.
pub struct Unchecked;

impl CgroupFs for Unchecked {
    fn exists(&self, _: &Path, _: &str) -> bool {
        true
    }

    fn read(&self, _: &Path, _: &str) -> Option<String> {
        None
    }

    fn reads(&self) -> bool {
        false
    }
}

/// How a file's old value is found again, to be written back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undo {
    /// The file holds one value.
    Value,
    /// One line per key (`8:0 rbps=…`, `default 100`): the key's old line, or `absent`.
    Line { key: String, absent: String },
    /// `NAME VALUE` lines (memory.oom_control): the old value of NAME.
    Named(&'static str),
    /// This text, known in advance.
    Fixed(String),
    /// Left as written (a controller enabled on the way down, see `apply`).
    Never,
}

/// One write to one cgroup file, and the config field it comes from (for errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub dir: PathBuf,
    pub file: String,
    pub value: String,
    pub field: String,
    pub undo: Undo,
}

#[derive(Debug)]
pub enum Step {
    File(Write),
    /// Two writes the kernel may take only in one order (CFS period and quota against a
    /// parent's limit): the first, and if the kernel refuses it (EINVAL), the second first.
    EitherOrder(Write, Write),
    /// The v1 device controller: deny everything, then these `(file, line, field)` in order.
    DevicesV1 {
        dir: PathBuf,
        lines: Vec<(&'static str, String, String)>,
    },
    /// A cgroup2 device program made from these rules replaces those attached now.
    DevicesV2 {
        dir: PathBuf,
        rules: Vec<Rule>,
    },
}

/// Writes done so far, each with what puts it back.
enum Done {
    File(Write),
    DevicesV1 {
        dir: PathBuf,
        old: Vec<String>,
    },
    DevicesV2 {
        cgroup: OwnedFd,
        new: OwnedFd,
        old: Vec<OwnedFd>,
    },
}

/// Whether old values are read before each write, so that a failure can put them back.
/// A cgroup made moments ago by `create` is removed on failure instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    OldValues,
    Nothing,
}

#[must_use = "finish() completes a transaction, rollback() undoes it"]
pub struct Transaction {
    keep: Keep,
    done: Vec<Done>,
}

impl Transaction {
    pub fn new(keep: Keep) -> Transaction {
        Transaction {
            keep,
            done: Vec::new(),
        }
    }

    /// Runs `steps` in order. On the first failure everything this transaction wrote,
    /// here and in earlier calls, is put back, and the failure is returned.
    pub fn run(&mut self, steps: Vec<Step>) -> Result<()> {
        for step in steps {
            if let Err(e) = self.step(step) {
                self.undo_all();
                return Err(e);
            }
        }
        Ok(())
    }

    /// Puts back every write of this transaction, newest first.
    pub fn rollback(mut self) {
        self.undo_all();
    }

    /// Keeps every write; device programs that were replaced are detached now.
    pub fn finish(self) {
        for d in self.done {
            if let Done::DevicesV2 { cgroup, old, .. } = d {
                for prog in old {
                    let _ = crate::sys::bpf::detach_device_program(&cgroup, &prog);
                }
            }
        }
    }

    fn step(&mut self, step: Step) -> Result<()> {
        match step {
            Step::File(w) => self.file(w),
            Step::EitherOrder(a, b) => match self.file(a.clone()) {
                Err(Error::CgroupWrite { errno, .. }) if errno.0 == libc::EINVAL => {
                    self.file(b)?;
                    self.file(a)
                }
                Err(e) => Err(e),
                Ok(()) => self.file(b),
            },
            Step::DevicesV1 { dir, lines } => self.devices_v1(dir, lines),
            Step::DevicesV2 { dir, rules } => {
                let done = super::controllers::devices::replace_program(&dir, &rules)?;
                self.done.push(done.into());
                Ok(())
            }
        }
    }

    fn file(&mut self, w: Write) -> Result<()> {
        let old = match self.keep {
            Keep::OldValues => old_value(&w),
            Keep::Nothing => None,
        };
        write_named(&w.dir, &w.file, &w.value, &w.field)?;
        if let Some(value) = old {
            self.done.push(Done::File(Write { value, ..w }));
        }
        Ok(())
    }

    fn devices_v1(
        &mut self,
        dir: PathBuf,
        lines: Vec<(&'static str, String, String)>,
    ) -> Result<()> {
        let old = match self.keep {
            Keep::OldValues => Host.read(&dir, "devices.list"),
            Keep::Nothing => None,
        };
        if let Some(list) = old {
            let old = list.lines().map(str::to_string).collect();
            self.done.push(Done::DevicesV1 {
                dir: dir.clone(),
                old,
            });
        }
        let all = [(
            "devices.deny",
            "a".to_string(),
            "linux.resources.devices".to_string(),
        )];
        for (file, line, field) in all.into_iter().chain(lines) {
            write_named(&dir, file, &line, &field)?;
        }
        Ok(())
    }

    fn undo_all(&mut self) {
        while let Some(d) = self.done.pop() {
            match d {
                Done::File(w) => {
                    let _ = write_file(&w.dir, &w.file, &w.value);
                }
                Done::DevicesV1 { dir, old } => {
                    let _ = write_file(&dir, "devices.deny", "a");
                    for line in old {
                        let _ = write_file(&dir, "devices.allow", &line);
                    }
                }
                Done::DevicesV2 { cgroup, new, .. } => {
                    let _ = crate::sys::bpf::detach_device_program(&cgroup, &new);
                }
            }
        }
    }
}

/// A device program attached beside the ones it replaces.
pub struct Attached {
    pub cgroup: OwnedFd,
    pub new: OwnedFd,
    pub old: Vec<OwnedFd>,
}

impl From<Attached> for Done {
    fn from(a: Attached) -> Done {
        Done::DevicesV2 {
            cgroup: a.cgroup,
            new: a.new,
            old: a.old,
        }
    }
}

/// What to write back to undo `w`, read from the file as it is now.
fn old_value(w: &Write) -> Option<String> {
    if w.undo == Undo::Never {
        return None;
    }
    let text = Host.read(&w.dir, &w.file)?;
    match &w.undo {
        Undo::Value => Some(text.trim().to_string()),
        Undo::Fixed(s) => Some(s.clone()),
        Undo::Never => None,
        Undo::Named(name) => text.lines().find_map(|l| {
            let (k, v) = l.split_once(' ')?;
            (k == *name).then(|| v.trim().to_string())
        }),
        Undo::Line { key, absent } => Some(
            text.lines()
                .find(|l| l.split_whitespace().next() == Some(key))
                .map_or_else(|| absent.clone(), |l| l.trim().to_string()),
        ),
    }
}

/// Writes one value; the error names the config field, the value and the file.
fn write_named(dir: &Path, file: &str, value: &str, field: &str) -> Result<()> {
    write_file(dir, file, value).map_err(|errno| Error::CgroupWrite {
        field: field.to_string(),
        value: value.to_string(),
        path: dir.join(file),
        errno,
    })
}

/// Writes without O_CREAT: cgroupfs answers a create of a file it does not have with EACCES,
/// which would hide the real reason (the controller is not enabled).
fn write_file(dir: &Path, file: &str, value: &str) -> std::result::Result<(), crate::sys::Errno> {
    let errno = |e: std::io::Error| crate::sys::Errno(e.raw_os_error().unwrap_or(libc::EIO));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(dir.join(file))
        .map_err(errno)?;
    f.write_all(value.as_bytes()).map_err(errno)
}

/// Collects the writes of one controller directory.
pub struct Out<'a> {
    pub dir: &'a Path,
    pub steps: &'a mut Vec<Step>,
}

impl Out<'_> {
    pub fn write(&self, file: &str, value: impl Into<String>, field: &str) -> Write {
        Write {
            dir: self.dir.to_path_buf(),
            file: file.to_string(),
            value: value.into(),
            field: field.to_string(),
            undo: Undo::Value,
        }
    }

    /// A file holding one value.
    pub fn value(&mut self, file: &str, value: impl Into<String>, field: &str) {
        let w = self.write(file, value, field);
        self.steps.push(Step::File(w));
    }

    /// A file of keyed lines; `absent` undoes the line of a key that had none.
    pub fn line(&mut self, file: &str, value: String, field: &str, absent: String) {
        let key = value.split_whitespace().next().unwrap_or("").to_string();
        let mut w = self.write(file, value, field);
        w.undo = Undo::Line { key, absent };
        self.steps.push(Step::File(w));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(undo: Undo) -> Write {
        Write {
            dir: PathBuf::from("/nonexistent"),
            file: "f".into(),
            value: "v".into(),
            field: "x".into(),
            undo,
        }
    }

    #[test]
    fn old_values_are_found_the_way_each_file_lists_them() {
        let dir = std::env::temp_dir().join(format!("berth-writes-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let at = |text: &str, undo: Undo| {
            std::fs::write(dir.join("f"), text).unwrap();
            old_value(&Write {
                dir: dir.clone(),
                ..w(undo)
            })
        };
        assert_eq!(
            at("max 100000\n", Undo::Value).as_deref(),
            Some("max 100000")
        );
        let line = |key: &str| Undo::Line {
            key: key.into(),
            absent: format!("{key} 0"),
        };
        let list = "8:0 1048576\n8:16 2048\n";
        assert_eq!(at(list, line("8:16")).as_deref(), Some("8:16 2048"));
        assert_eq!(at(list, line("9:0")).as_deref(), Some("9:0 0"));
        let oom = "oom_kill_disable 1\nunder_oom 0\n";
        assert_eq!(
            at(oom, Undo::Named("oom_kill_disable")).as_deref(),
            Some("1")
        );
        assert_eq!(
            at("x", Undo::Fixed("-memory".into())).as_deref(),
            Some("-memory")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_write_puts_back_the_earlier_ones() {
        let dir = std::env::temp_dir().join(format!("berth-tx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a"), "1\n").unwrap();
        std::fs::write(dir.join("b"), "2\n").unwrap();
        let mut steps = Vec::new();
        let mut out = Out {
            dir: &dir,
            steps: &mut steps,
        };
        out.value("a", "10", "first");
        out.value("b", "20", "second");
        // No such file, and none is made: the transaction fails here.
        out.value("missing", "30", "third");
        let mut tx = Transaction::new(Keep::OldValues);
        let e = tx.run(steps).unwrap_err().to_string();
        assert!(e.contains("third") && e.contains("missing"), "{e}");
        assert_eq!(std::fs::read_to_string(dir.join("a")).unwrap(), "1");
        assert_eq!(std::fs::read_to_string(dir.join("b")).unwrap(), "2");
        assert!(!dir.join("missing").exists());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
