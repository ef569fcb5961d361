//! runc's command line, flag for flag.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "berth",
    about = "berth: an OCI container runtime, a drop-in for runc",
    disable_version_flag = true
)]
pub struct Cli {
    /// Root directory for the state of containers.
    #[arg(long, global = false, default_value = "/run/berth")]
    pub root: PathBuf,
    /// Also write errors to this file.
    #[arg(long)]
    pub log: Option<PathBuf>,
    /// text or json.
    #[arg(long = "log-format", default_value = "text")]
    pub log_format: String,
    #[arg(long)]
    pub debug: bool,
    /// Accepted for compatibility; refused where a cgroup would be made.
    #[arg(long = "systemd-cgroup")]
    pub systemd_cgroup: bool,
    /// true, false or auto.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub rootless: Option<String>,
    /// Accepted for compatibility (checkpointing is not implemented).
    #[arg(long, hide = true)]
    pub criu: Option<String>,
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a container from a bundle; it waits for `start`.
    Create(CreateArgs),
    /// Start a created container.
    Start { id: String },
    /// Create and start a container; without -d, wait for it and exit with its code.
    Run(RunArgs),
    /// Print the state of a container as JSON.
    State { id: String },
    /// Send a signal to a container's init (or, with --all, to all its processes).
    Kill {
        id: String,
        #[arg(default_value = "SIGTERM")]
        signal: String,
        #[arg(short, long)]
        all: bool,
    },
    /// Delete a container and everything it holds.
    Delete {
        id: String,
        #[arg(short, long)]
        force: bool,
    },
    /// List containers.
    List {
        #[arg(short, long, default_value = "table")]
        format: String,
        #[arg(short, long)]
        quiet: bool,
    },
    /// Show the processes running in a container.
    Ps {
        id: String,
        #[arg(short, long, default_value = "table")]
        format: String,
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Run a new process in a running container.
    Exec(Box<ExecArgs>),
    /// Freeze every process of a container.
    Pause { id: String },
    /// Thaw a paused container.
    Resume { id: String },
    /// Write a default config.json to the bundle.
    Spec {
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
        #[arg(long)]
        rootless: bool,
    },
    /// Describe, as JSON, what this runtime implements.
    Features,
    /// Change the resource limits of a running container.
    Update(Box<UpdateArgs>),
    /// Print the container's events as JSON lines: stats every interval and OOM kills as they
    /// happen; with --stats, one stats event.
    Events {
        id: String,
        #[arg(long)]
        stats: bool,
        /// Go-style duration: 5s, 500ms, 1m.
        #[arg(long, default_value = "5s")]
        interval: String,
    },
    /// Named networks for containers (annotation berth.network): create, ls, inspect, rm.
    #[command(subcommand)]
    Network(NetworkCommand),
    /// Not implemented: checkpointing needs CRIU support.
    Checkpoint {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        rest: Vec<String>,
    },
    /// Not implemented: restoring needs CRIU support.
    Restore {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        rest: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum NetworkCommand {
    /// Make a network: a bridge (with NAT to the outside), a macvlan on a parent interface,
    /// or an overlay (VXLAN to a static list of peers, over a bridge on each host).
    Create(Box<NetworkCreateArgs>),
    /// List the networks.
    Ls,
    /// Print a network and the addresses its containers hold, as JSON.
    Inspect { name: String },
    /// Remove a network nobody uses, with its interfaces and NAT.
    Rm { name: String },
}

#[derive(Args, Debug)]
pub struct NetworkCreateArgs {
    pub name: String,
    /// bridge, macvlan or overlay.
    #[arg(long, short, default_value = "bridge")]
    pub driver: String,
    /// The network's subnet, CIDR (required).
    #[arg(long)]
    pub subnet: String,
    /// The bridge's address (default: the subnet's first), or the LAN's router for macvlan.
    #[arg(long)]
    pub gateway: Option<String>,
    /// Hand out addresses from this part of the subnet only (CIDR).
    #[arg(long = "ip-range")]
    pub ip_range: Option<String>,
    /// macvlan: the host interface to sit on.
    #[arg(long)]
    pub parent: Option<String>,
    /// bridge and overlay: the bridge interface's name (default bb-NAME).
    #[arg(long)]
    pub bridge: Option<String>,
    /// overlay: the VXLAN id.
    #[arg(long)]
    pub vni: Option<u32>,
    /// overlay: this host's address on the underlay.
    #[arg(long)]
    pub local: Option<String>,
    /// overlay: another host's address; repeat for each.
    #[arg(long = "peer")]
    pub peers: Vec<String>,
    #[arg(long)]
    pub mtu: Option<u32>,
    /// bridge: no masquerading of traffic leaving the subnet.
    #[arg(long = "no-nat")]
    pub no_nat: bool,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    pub id: String,
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    #[arg(short, long)]
    pub detach: bool,
    /// Keep the container's state after it exits.
    #[arg(long)]
    pub keep: bool,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    pub id: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
    #[arg(short, long)]
    pub detach: bool,
    #[arg(short, long)]
    pub tty: bool,
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// A process.json to run instead of the command line.
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    #[arg(short, long)]
    pub env: Vec<String>,
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// uid[:gid]
    #[arg(short, long)]
    pub user: Option<String>,
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    #[arg(short, long)]
    pub cap: Vec<String>,
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    #[arg(long)]
    pub apparmor: Option<String>,
    #[arg(long)]
    pub cgroup: Vec<String>,
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    pub id: String,
    /// A LinuxResources JSON file, or - for stdin.
    #[arg(short, long)]
    pub resources: Option<String>,
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    #[arg(long = "cpu-quota")]
    pub cpu_quota: Option<i64>,
    #[arg(long = "cpu-share")]
    pub cpu_share: Option<u64>,
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    #[arg(long = "cpu-rt-runtime")]
    pub cpu_rt_runtime: Option<i64>,
    #[arg(long = "cpu-idle")]
    pub cpu_idle: Option<i64>,
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Bytes, or with a unit: 512m, 1g.
    #[arg(long)]
    pub memory: Option<String>,
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    /// Memory plus swap, as in runc.
    #[arg(long = "memory-swap")]
    pub memory_swap: Option<String>,
    #[arg(long = "kernel-memory", hide = true)]
    pub kernel_memory: Option<String>,
    #[arg(long = "kernel-memory-tcp", hide = true)]
    pub kernel_memory_tcp: Option<String>,
    #[arg(long = "pids-limit")]
    pub pids_limit: Option<i64>,
    #[arg(long = "l3-cache-schema", hide = true)]
    pub l3_cache_schema: Option<String>,
    #[arg(long = "mem-bw-schema", hide = true)]
    pub mem_bw_schema: Option<String>,
}
