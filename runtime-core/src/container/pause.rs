//! `pause` and `resume`: freeze and thaw every process of the container through its cgroup.

use super::state::Status;
use super::Container;
use crate::error::Result;

impl Container {
    pub fn pause(&self) -> Result<()> {
        match self.status() {
            Status::Running | Status::Created => self.stored.cgroup.freeze(true),
            s => Err(self.wrong_state(s, "container not running")),
        }
    }

    pub fn resume(&self) -> Result<()> {
        match self.status() {
            Status::Paused => self.stored.cgroup.freeze(false),
            s => Err(self.wrong_state(s, "container not paused")),
        }
    }
}
