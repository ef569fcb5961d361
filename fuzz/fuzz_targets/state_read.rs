//! A container's state.json as every command reads it. The file lives in the root-owned
//! state directory, but a runtime must not panic on a damaged one either.

#![no_main]

use berth_core::container::state::Stored;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(stored) = Stored::parse(data, std::path::Path::new("state.json")) {
        let _ = serde_json::to_vec(&stored);
    }
});
