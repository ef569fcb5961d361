//! Making container processes: the plan computed before clone, the typed channel, the child's
//! setup sequence and the runtime's side of it.

pub mod channel;
pub mod comm;
pub mod execute;
pub mod fail;
pub mod init;
pub mod join;
pub mod namespaces;
pub mod parent;
pub mod plan;
pub mod setup;
