//! Errors to stderr, and to `--log` in runc's text or JSON line format.

use std::io::Write;

pub struct Log {
    file: Option<std::fs::File>,
    json: bool,
}

impl Log {
    pub fn open(path: Option<&std::path::Path>, format: &str) -> Log {
        let file = path.and_then(|p| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .ok()
        });
        Log {
            file,
            json: format == "json",
        }
    }

    pub fn error(&mut self, msg: &str) {
        eprintln!("berth: {msg}");
        self.write("error", msg);
    }

    pub fn warn(&mut self, msg: &str) {
        self.write("warning", msg);
    }

    fn write(&mut self, level: &str, msg: &str) {
        let Some(f) = self.file.as_mut() else { return };
        let time = berth_core::container::state::rfc3339_now();
        let line = if self.json {
            serde_json::json!({"level": level, "msg": msg, "time": time}).to_string()
        } else {
            format!("time={time:?} level={level} msg={msg:?}")
        };
        let _ = writeln!(f, "{line}");
    }
}
