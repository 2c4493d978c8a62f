//! One running bootstrap: the supervisor process that owns everything it starts, the thread that
//! learns how it ended, the memory sampler, and the registry that lets a signal handler kill
//! every group we started.
//!
//! # Supervision
//!
//! A bootstrap is not a child of scfrt: each instance gets a supervisor process of its own, a
//! fork of scfrt made in std's `pre_exec` hook, which makes itself a child subreaper
//! (`PR_SET_CHILD_SUBREAPER`) and forks the bootstrap (in a process group of its own), which
//! std then execs. A process the function starts, however it detaches (`setsid`, a double
//! fork, a new process group), stays a descendant of that supervisor: when its parent dies
//! it is reparented to the supervisor, never to init nor to scfrt. So the instance's
//! processes are exactly the supervisor's descendants, which tells them apart from another
//! instance's in `scfrt serve` without a marker a process could drop (an environment
//! variable) or a cgroup (this machine's /sys/fs/cgroup is cgroup v1, not a writable
//! cgroup2).
//!
//! The supervisor reaps every child it gets (the orphans too, so no zombies pile up in a long
//! `scfrt serve`) and reports the bootstrap's wait status on a pipe; scfrt reaps only the
//! supervisor, by its pid, so no exit status is ever taken from anybody else. When the
//! instance ends, scfrt closes its end of a second pipe: the supervisor then SIGKILLs its
//! children again and again (each killed one's orphans become its children) until it has
//! none, and exits. The same pipe closes when scfrt itself dies, however it dies (SIGKILL
//! included), so no function process outlives scfrt either. The instance's memory is the
//! supervisor's descendants' (the supervisor, a copy of scfrt, is not counted).
//!
//! What the supervisor runs after the fork is restricted as in a signal handler (the fork
//! copied one thread of a multi-threaded process): system calls on stack buffers only, no
//! allocation, no panic ([`supervisor`]).

use std::io::{PipeReader, PipeWriter, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::logs::{LogHub, LogReader};
use scf_runtime_api::RuntimeApi;
use scf_runtime_api::image::ImagePort;

/// How many process groups [`kill_all_process_groups`] can track at once.
const GROUP_SLOTS: usize = 64;
static GROUPS: [AtomicI32; GROUP_SLOTS] = [const { AtomicI32::new(0) }; GROUP_SLOTS];

fn register_group(pgid: i32) -> Option<usize> {
    GROUPS.iter().position(|slot| {
        slot.compare_exchange(0, pgid, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    })
}

/// Sends SIGKILL to the process group of every bootstrap this process has running.
///
/// Async-signal-safe (atomic loads and `kill(2)` only): meant for a SIGINT/SIGTERM handler, so an
/// interrupted `scfrt` leaves no bootstrap behind. The groups are not reaped here. Processes
/// that left the bootstrap's group are killed by the instance's supervisor once scfrt is gone
/// (see the module documentation).
pub fn kill_all_process_groups() {
    for slot in &GROUPS {
        let pgid = slot.load(Ordering::SeqCst);
        if pgid > 0 {
            // SAFETY: kill(2) has no memory-safety preconditions.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
}

/// How the bootstrap ended, from wait4(2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ExitInfo {
    /// The raw wait status; `None` when it is unknown (the supervisor died without saying).
    pub(crate) status: Option<i32>,
    /// ru_maxrss of the reaped process (its own peak, or its waited-for children's), in bytes.
    pub(crate) maxrss_bytes: u64,
}

impl ExitInfo {
    /// "exit code 3" or "killed by signal 9 (SIGKILL)".
    pub(crate) fn describe(&self) -> String {
        let Some(s) = self.status else {
            return "unknown status (its supervisor process was killed)".to_owned();
        };
        if libc::WIFEXITED(s) {
            format!("exit code {}", libc::WEXITSTATUS(s))
        } else if libc::WIFSIGNALED(s) {
            let sig = libc::WTERMSIG(s);
            match signal_name(sig) {
                Some(name) => format!("killed by signal {sig} ({name})"),
                None => format!("killed by signal {sig}"),
            }
        } else {
            format!("wait status {s:#x}")
        }
    }
}

fn signal_name(sig: i32) -> Option<&'static str> {
    Some(match sig {
        libc::SIGHUP => "SIGHUP",
        libc::SIGINT => "SIGINT",
        libc::SIGQUIT => "SIGQUIT",
        libc::SIGILL => "SIGILL",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGFPE => "SIGFPE",
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGPIPE => "SIGPIPE",
        libc::SIGALRM => "SIGALRM",
        libc::SIGTERM => "SIGTERM",
        _ => return None,
    })
}

/// How the platform side talks to a bootstrap.
pub(crate) enum Platform {
    /// A code package: the runtime API server it polls.
    RuntimeApi(Arc<RuntimeApi>),
    /// An image-deployed function: the port its HTTP server listens on.
    Image(Arc<ImagePort>),
}

impl Platform {
    /// Wake whoever waits on the bootstrap: it exited.
    fn abort(&self) {
        match self {
            Platform::RuntimeApi(api) => api.abort(),
            Platform::Image(port) => port.abort(),
        }
    }
}

/// The processes of one instance: the supervisor and, below it, the bootstrap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tree {
    /// The supervisor's pid (scfrt's child; every process of the instance descends from it).
    pub(crate) supervisor: i32,
    /// The bootstrap's pid, also its process group id.
    pub(crate) leader: i32,
}

impl Tree {
    /// The pids of the instance's live processes: the bootstrap and its descendants (not the
    /// supervisor).
    pub(crate) fn pids(self) -> Vec<i32> {
        tree_members(self.supervisor)
            .into_iter()
            .map(|m| m.pid)
            .collect()
    }
}

/// A running bootstrap together with its platform side.
pub(crate) struct Instance {
    pub(crate) platform: Arc<Platform>,
    /// The bootstrap's pid (and process group id).
    pub(crate) pid: i32,
    supervisor: i32,
    /// A pidfd of the supervisor, opened while it was our unreaped child: it names that
    /// process even once the waiter has reaped it and its pid is reused.
    supervisor_fd: Option<OwnedFd>,
    exit: Arc<Mutex<Option<ExitInfo>>>,
    waiter: Option<JoinHandle<()>>,
    /// The supervisor's status pipe, while no waiter thread reads it.
    status: Option<PipeReader>,
    /// Our end of the control pipe: closing it makes the supervisor kill every process of the
    /// instance.
    control: Option<PipeWriter>,
    reader: Option<LogReader>,
    slot: Option<usize>,
}

impl Instance {
    /// Starts `bootstrap` under a supervisor of its own (see the module documentation), in its
    /// own process group, with exactly `env`, cwd `code_dir`, stdin from /dev/null and
    /// stdout/stderr captured into `hub`. When it exits, `platform` is aborted.
    pub(crate) fn spawn(
        bootstrap: &Path,
        code_dir: &Path,
        env: &[(String, String)],
        platform: Platform,
        hub: &Arc<LogHub>,
    ) -> std::io::Result<Instance> {
        let platform = Arc::new(platform);
        let (out_r, out_w) = std::io::pipe()?;
        let (err_r, err_w) = std::io::pipe()?;
        // Both pipes are close-on-exec: the bootstrap never holds them, the supervisor keeps
        // its ends and closes every other descriptor.
        let (mut status_r, status_w) = std::io::pipe()?;
        let (control_r, control_w) = std::io::pipe()?;
        let reader = LogReader::start(Arc::clone(hub), out_r, err_r)?;
        let mut cmd = Command::new(bootstrap);
        cmd.current_dir(code_dir)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(out_w)
            .stderr(err_w);
        // The supervisor gets a process group of its own (so a terminal's Ctrl-C, meant for
        // scfrt, does not reach it); the bootstrap makes another one.
        cmd.process_group(0);
        let (status_fd, control_fd) = (status_w.as_raw_fd(), control_r.as_raw_fd());
        // SAFETY: the hook runs in the forked child before exec; `supervisor::start` only
        // makes system calls on stack memory (no allocation, no lock, no panic).
        unsafe {
            cmd.pre_exec(move || supervisor::start(status_fd, control_fd));
        }
        let child = cmd.spawn();
        // The write ends of the log pipes live in `cmd`, and the supervisor has its own copies
        // of its pipe ends: drop ours now, or the pipes never reach EOF.
        drop(cmd);
        drop(status_w);
        drop(control_r);
        let child = match child {
            Ok(child) => child,
            Err(e) => {
                reader.stop();
                return Err(e);
            }
        };
        let supervisor = i32::try_from(child.id()).unwrap_or(i32::MAX);
        // We reap it with waitpid(2) ourselves; std's Child has no Drop side effects.
        drop(child);
        let supervisor_fd = pidfd_open(supervisor);
        let pid = match read_record(&mut status_r) {
            Some(Record::Started(pid)) => pid,
            other => {
                drop(control_w);
                reap(supervisor);
                reader.stop();
                return Err(std::io::Error::other(format!(
                    "the supervisor of the bootstrap failed to start it ({other:?})"
                )));
            }
        };
        let slot = register_group(pid);
        let exit = Arc::new(Mutex::new(None));
        let mut instance = Instance {
            platform: Arc::clone(&platform),
            pid,
            supervisor,
            supervisor_fd,
            exit: Arc::clone(&exit),
            waiter: None,
            status: None,
            control: Some(control_w),
            reader: Some(reader),
            slot,
        };
        // The waiter thread takes the status pipe; without a thread, `teardown` reads it.
        let (tx, rx) = std::sync::mpsc::channel::<PipeReader>();
        let waiter = std::thread::Builder::new()
            .name(format!("scfrt-reap-{pid}"))
            .spawn(move || {
                let Ok(mut status_r) = rx.recv() else {
                    return;
                };
                let info = wait_exit(&mut status_r);
                *exit.lock().unwrap_or_else(PoisonError::into_inner) = Some(info);
                platform.abort();
                reap(supervisor);
            });
        match waiter {
            Ok(w) => {
                // The receiver lives until the thread got it: this send cannot fail.
                let _ = tx.send(status_r);
                instance.waiter = Some(w);
            }
            Err(e) => {
                instance.status = Some(status_r);
                instance.teardown();
                return Err(e);
            }
        }
        Ok(instance)
    }

    /// The instance's processes.
    pub(crate) fn tree(&self) -> Tree {
        Tree {
            supervisor: self.supervisor,
            leader: self.pid,
        }
    }

    /// How the bootstrap ended, if it has.
    pub(crate) fn exit_info(&self) -> Option<ExitInfo> {
        *self.exit.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until everything the bootstrap wrote so far is in the log.
    pub(crate) fn flush_logs(&mut self) {
        if let Some(r) = self.reader.as_mut() {
            r.flush();
        }
    }

    /// Kills every process of the instance (the bootstrap and whatever it started, however it
    /// detached), waits until they are gone (at most [`TEARDOWN_WAIT`]), drains the output and
    /// stops the runtime API threads (once the last reference to the platform side is gone).
    /// Idempotent. Returns how the bootstrap ended.
    pub(crate) fn teardown(&mut self) -> Option<ExitInfo> {
        // Even when the bootstrap already exited, what it started may live on: closing the
        // control pipe makes the supervisor kill them all, reap them, and exit.
        drop(self.control.take());
        if let Some(w) = self.waiter.take() {
            // The waiter returns once it has reaped the supervisor, which exits when the last
            // process of the instance is gone. One stuck in uninterruptible sleep can take
            // longer: go on then rather than hang (the thread reaps it later).
            if exited_within(self.supervisor_fd.as_ref(), TEARDOWN_WAIT) {
                let _ = w.join();
            }
        } else if let Some(mut status_r) = self.status.take() {
            let info = wait_exit(&mut status_r);
            *self.exit.lock().unwrap_or_else(PoisonError::into_inner) = Some(info);
            if exited_within(self.supervisor_fd.as_ref(), TEARDOWN_WAIT) {
                reap(self.supervisor);
            }
        }
        if let Some(r) = self.reader.take() {
            r.stop();
        }
        if let Some(slot) = self.slot.take() {
            GROUPS[slot].store(0, Ordering::SeqCst);
        }
        self.exit_info()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// What the supervisor says on its status pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Record {
    /// It started the bootstrap, with this pid.
    Started(i32),
    /// The bootstrap ended: its wait status and ru_maxrss in KiB.
    Exited(i32, i64),
}

/// One record from the status pipe; `None` at EOF (the supervisor exited or was killed) or on a
/// malformed one.
fn read_record(pipe: &mut PipeReader) -> Option<Record> {
    let mut buf = [0u8; supervisor::RECORD_LEN];
    pipe.read_exact(&mut buf).ok()?;
    let (tag, a, b) = supervisor::decode(&buf);
    match tag {
        supervisor::TAG_STARTED => Some(Record::Started(a)),
        supervisor::TAG_EXITED => Some(Record::Exited(a, b)),
        _ => None,
    }
}

/// Blocks until the supervisor reports the bootstrap's end (or dies without doing so).
fn wait_exit(pipe: &mut PipeReader) -> ExitInfo {
    loop {
        match read_record(pipe) {
            Some(Record::Exited(status, maxrss_kib)) => {
                return ExitInfo {
                    status: Some(status),
                    maxrss_bytes: u64::try_from(maxrss_kib).unwrap_or(0).saturating_mul(1024),
                };
            }
            Some(Record::Started(_)) => {}
            None => {
                return ExitInfo {
                    status: None,
                    maxrss_bytes: 0,
                };
            }
        }
    }
}

/// Reaps our child `pid` (a supervisor), blocking until it exits.
fn reap(pid: i32) {
    loop {
        let mut status = 0;
        // SAFETY: `status` is valid for writes.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        return;
    }
}

/// Whether the process of pidfd `fd` has exited or exits within `limit`.
fn exited_within(fd: Option<&OwnedFd>, limit: Duration) -> bool {
    let Some(fd) = fd else {
        // No pidfds (a kernel before 5.3): the wait for it cannot be bounded.
        return true;
    };
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = i32::try_from(left.as_millis().max(1)).unwrap_or(i32::MAX);
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, ms) };
        if r > 0 {
            return true;
        }
        if r < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return true;
        }
    }
}

/// Upper bound for an instance's processes to die after SIGKILL (only a process stuck in
/// uninterruptible sleep takes longer; we then go on rather than hang).
const TEARDOWN_WAIT: Duration = Duration::from_secs(5);

/// A pidfd for `pid`: it becomes readable when the process exits, whoever its parent is.
fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let fd = i32::try_from(fd).ok().filter(|fd| *fd >= 0)?;
    // SAFETY: the kernel just gave us this descriptor; nobody else owns it.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// One live process of an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Member {
    pid: i32,
    /// Its start time (field 22 of /proc/PID/stat): with the pid, it names the process even
    /// after the pid is reused.
    started: u64,
}

/// What /proc/PID/stat says about a process: (state, ppid, start time).
fn stat_of(pid: i32) -> Option<(char, i32, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the parenthesised command name: state (3), ppid (4), ... starttime (22).
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    let started = fields.nth(17)?.parse().ok()?;
    Some((state, ppid, started))
}

/// The live (not yet exited) descendants of `supervisor`, not counting it.
///
/// Walks down from the supervisor through each thread's `/proc/PID/task/TID/children`, so the
/// cost follows the instance's size, not the machine's: the sampler does this at the start of
/// every invocation, and a scan of all of `/proc` there cost more than the rest of a warm
/// `scfrt serve` Invoke (docs/benchmarks.md). Kernels built without `CONFIG_PROC_CHILDREN`
/// lack those files; there the whole of `/proc` is scanned.
fn tree_members(supervisor: i32) -> Vec<Member> {
    static CHILDREN_FILES: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if !*CHILDREN_FILES.get_or_init(|| std::path::Path::new("/proc/thread-self/children").exists())
    {
        return tree_members_by_scan(supervisor);
    }
    let mut members = Vec::new();
    let mut parents = vec![supervisor];
    // A pid listed twice (re-parented to the supervisor between two reads) is counted once.
    let mut seen = std::collections::HashSet::new();
    while let Some(parent) = parents.pop() {
        for pid in children_of(parent) {
            if members.len() >= MAX_TREE_MEMBERS || !seen.insert(pid) {
                continue;
            }
            let Some((state, ppid, started)) = stat_of(pid) else {
                continue; // already gone
            };
            if ppid == parent && !matches!(state, 'Z' | 'X' | 'x') {
                members.push(Member { pid, started });
                parents.push(pid);
            }
        }
    }
    members
}

/// A bound on the processes one instance is counted to have (the walk ends there).
const MAX_TREE_MEMBERS: usize = 65_536;

/// The children of every thread of `pid`, as the kernel lists them now.
fn children_of(pid: i32) -> Vec<i32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return Vec::new();
    };
    let mut children = Vec::new();
    for task in tasks.flatten() {
        let mut path = task.path();
        path.push("children");
        if let Ok(list) = std::fs::read_to_string(path) {
            children.extend(
                list.split_whitespace()
                    .filter_map(|p| p.parse::<i32>().ok()),
            );
        }
    }
    children
}

/// [`tree_members`] from a scan of every process in `/proc`.
fn tree_members_by_scan(supervisor: i32) -> Vec<Member> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut all: Vec<(i32, i32, Member)> = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Some((state, ppid, started)) = stat_of(pid) else {
            continue;
        };
        if !matches!(state, 'Z' | 'X' | 'x') {
            all.push((pid, ppid, Member { pid, started }));
        }
    }
    // Walk down from the supervisor: each pass adds the children of what was found.
    let mut parents = vec![supervisor];
    let mut members = Vec::new();
    while let Some(parent) = parents.pop() {
        for (pid, ppid, member) in &all {
            if *ppid == parent {
                members.push(*member);
                parents.push(*pid);
            }
        }
    }
    members
}

/// SIGKILLs `member` unless its pid now names another process.
fn kill_member(member: Member) {
    let Some(fd) = pidfd_open(member.pid) else {
        return;
    };
    // With the pidfd open the pid cannot be reused; check it is still the process we saw.
    if stat_of(member.pid).map(|s| s.2) != Some(member.started) {
        return;
    }
    // SAFETY: pidfd_send_signal takes a pidfd, a signal, a null siginfo and flags.
    unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            fd.as_raw_fd(),
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        );
    }
}

/// One look at an instance's memory.
struct TreeMemory {
    /// The sum of its live processes' resident set sizes, in bytes.
    rss: u64,
    /// Its live processes.
    members: Vec<Member>,
}

/// Resident set size in bytes of every live process of the instance.
fn tree_memory(tree: Tree) -> TreeMemory {
    // SAFETY: sysconf has no preconditions.
    let page = u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    let members = tree_members(tree.supervisor);
    let mut rss = 0u64;
    for m in &members {
        let Ok(statm) = std::fs::read_to_string(format!("/proc/{}/statm", m.pid)) else {
            continue;
        };
        let resident = statm
            .split_whitespace()
            .nth(1)
            .and_then(|r| r.parse::<u64>().ok())
            .unwrap_or(0);
        rss = rss.saturating_add(resident.saturating_mul(page));
    }
    TreeMemory { rss, members }
}

/// The memory `members` take together with every page counted once: the sum of their
/// proportional set sizes (`Pss` in `/proc/PID/smaps_rollup`, where a page mapped by n
/// processes counts 1/n in each). `None` when a member's figure cannot be read. Dearer than the
/// RSS (the kernel walks the page tables), so it is read only when the summed RSS passes the
/// limit.
fn pss_bytes(members: &[Member]) -> Option<u64> {
    let mut total = 0u64;
    for m in members {
        let rollup = std::fs::read_to_string(format!("/proc/{}/smaps_rollup", m.pid)).ok()?;
        let kib = rollup
            .lines()
            .find_map(|l| l.strip_prefix("Pss:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())?;
        total = total.saturating_add(kib.saturating_mul(1024));
    }
    Some(total)
}
/// What a [`Sampler`] saw of an instance's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MemoryPeak {
    /// The largest summed resident set size sampled, in bytes (what MemUsage reports).
    pub bytes: u64,
    /// The instance passed the sampler's limit and its processes were killed with SIGKILL: the
    /// memory they were counted to use then, in bytes.
    pub over_limit: Option<u64>,
}

/// How long a PSS reading stands in for the next ones while the instance stays below the limit.
const PSS_REREAD: Duration = Duration::from_millis(100);

/// Decides whether an instance's processes use more than a limit: its summed RSS for a single
/// process; with several, pages they share (after a fork, or of a library) are counted once, as
/// a memory cgroup counts them, so the sum of their PSS decides once the summed RSS passes the
/// limit. PSS costs a page-table walk, so while the instance stays over the limit by RSS and
/// under it by PSS, the last PSS plus the RSS grown since stands in for it, for at most
/// [`PSS_REREAD`] (a copy-on-write page copied grows PSS but not the summed RSS).
struct LimitCheck {
    limit: Option<u64>,
    /// When PSS was last read, the summed RSS then, and the PSS.
    last: Option<(Instant, u64, u64)>,
}

impl LimitCheck {
    /// The memory the instance is counted to use, when that is more than the limit.
    fn over(&mut self, sample: &TreeMemory) -> Option<u64> {
        let limit = self.limit?;
        if sample.rss <= limit {
            self.last = None;
            return None;
        }
        if sample.members.len() <= 1 {
            return Some(sample.rss);
        }
        if let Some((at, rss, pss)) = self.last {
            let estimate = pss.saturating_add(sample.rss.saturating_sub(rss));
            if estimate <= limit && at.elapsed() < PSS_REREAD {
                return None;
            }
        }
        let pss = pss_bytes(&sample.members).unwrap_or(sample.rss);
        self.last = Some((Instant::now(), sample.rss, pss));
        (pss > limit).then_some(pss)
    }
}

/// Samples an instance's resident memory (every process of its [`Tree`]) on an interval until
/// finished, keeping the peak; an instance that uses more than the limit has its processes
/// killed at once with SIGKILL, as the platform ends an instance over its memory size.
///
/// The first and the last look are taken by the caller, in [`start`](Self::start) and
/// [`finish`](Self::finish); the looks in between by one thread shared by every sampler of the
/// process, started with the first. A thread per invocation cost about 0.1 ms of a warm
/// `scfrt serve` Invoke in its creation and exit alone (docs/benchmarks.md).
pub(crate) struct Sampler {
    watch: Arc<Mutex<Watch>>,
    registered: bool,
}

/// One instance being sampled: what the looks so far have seen.
struct Watch {
    tree: Tree,
    check: LimitCheck,
    peak: u64,
    /// The processes of the last look (killed when it found the instance over the limit).
    members: Vec<Member>,
    over_limit: Option<u64>,
    interval: Duration,
    next: Instant,
    /// The sampler has finished: no more looks (the shared thread may still hold it).
    finished: bool,
}

impl Watch {
    /// Takes one look unless the limit was already passed or the sampler has finished.
    fn sample(&mut self) {
        if self.over_limit.is_some() || self.finished {
            return;
        }
        let now = tree_memory(self.tree);
        self.peak = self.peak.max(now.rss);
        self.over_limit = self.check.over(&now);
        self.members = now.members;
        self.next = Instant::now() + self.interval;
        if self.over_limit.is_some() {
            // The instance's teardown kills what starts after this look.
            for m in &self.members {
                kill_member(*m);
            }
        }
    }
}

/// The samplers running now, and the shared thread's wake-up time.
struct Watches {
    state: Mutex<WatchList>,
    changed: Condvar,
}

struct WatchList {
    list: Vec<Arc<Mutex<Watch>>>,
    /// When the thread wakes next on its own (`None`: only when notified).
    wakes_at: Option<Instant>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The shared sampling thread's list, the thread started on first use. `None` if the thread
/// could not be started: samplers then take only their first and last looks.
fn watches() -> Option<&'static Watches> {
    static WATCHES: std::sync::OnceLock<Option<&'static Watches>> = std::sync::OnceLock::new();
    *WATCHES.get_or_init(|| {
        let watches: &'static Watches = Box::leak(Box::new(Watches {
            state: Mutex::new(WatchList {
                list: Vec::new(),
                wakes_at: None,
            }),
            changed: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("scfrt-mem".into())
            .spawn(move || sample_forever(watches))
            .ok()
            .map(|_| watches)
    })
}

/// The shared thread: takes the looks that are due, then sleeps until the next one is.
fn sample_forever(watches: &Watches) {
    let mut st = lock(&watches.state);
    loop {
        let now = Instant::now();
        let mut due = Vec::new();
        let mut earliest: Option<Instant> = None;
        for w in &st.list {
            let next = lock(w).next;
            if next <= now {
                due.push(Arc::clone(w));
            } else {
                earliest = Some(earliest.map_or(next, |e| e.min(next)));
            }
        }
        if !due.is_empty() {
            drop(st);
            for w in due {
                lock(&w).sample();
            }
            st = lock(&watches.state);
            continue;
        }
        st.wakes_at = earliest;
        st = match earliest {
            Some(at) => {
                watches
                    .changed
                    .wait_timeout(st, at.saturating_duration_since(now))
                    .unwrap_or_else(PoisonError::into_inner)
                    .0
            }
            None => watches
                .changed
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner),
        };
    }
}

impl Sampler {
    /// Takes the first look now, then one every `interval`; `limit_bytes`: kill the processes
    /// when they use more (see [`MemoryPeak::over_limit`]).
    pub(crate) fn start(tree: Tree, interval: Duration, limit_bytes: Option<u64>) -> Sampler {
        let mut watch = Watch {
            tree,
            check: LimitCheck {
                limit: limit_bytes,
                last: None,
            },
            peak: 0,
            members: Vec::new(),
            over_limit: None,
            interval,
            next: Instant::now(),
            finished: false,
        };
        watch.sample();
        let next = watch.next;
        let watch = Arc::new(Mutex::new(watch));
        let mut registered = false;
        if let Some(watches) = watches() {
            let mut st = lock(&watches.state);
            st.list.push(Arc::clone(&watch));
            registered = true;
            // Wake the thread only if it would otherwise sleep past this sampler's next look.
            if st.wakes_at.is_none_or(|at| at > next) {
                st.wakes_at = Some(next);
                watches.changed.notify_one();
            }
        }
        Sampler { watch, registered }
    }

    /// Stops sampling, takes the last look and returns what was seen.
    pub(crate) fn finish(mut self) -> MemoryPeak {
        self.unregister();
        let mut w = lock(&self.watch);
        w.sample();
        w.finished = true;
        MemoryPeak {
            bytes: w.peak,
            over_limit: w.over_limit,
        }
    }

    fn unregister(&mut self) {
        if !std::mem::take(&mut self.registered) {
            return;
        }
        if let Some(watches) = watches() {
            lock(&watches.state)
                .list
                .retain(|w| !Arc::ptr_eq(w, &self.watch));
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.unregister();
    }
}

/// The supervisor's side, run in the child std forks for the bootstrap (see the module
/// documentation). Everything here is restricted as in a signal handler: system calls on stack
/// buffers, no allocation, no lock, no panic (slices are read through `get`).
mod supervisor {
    use std::io;

    /// The size of a record on the status pipe: tag (u32), a (i32), b (i64), little-endian.
    pub(super) const RECORD_LEN: usize = 16;
    /// "Started the bootstrap": a = its pid.
    pub(super) const TAG_STARTED: u32 = 1;
    /// "The bootstrap ended": a = its wait status, b = its ru_maxrss in KiB.
    pub(super) const TAG_EXITED: u32 = 2;
    /// How often a supervisor that is killing the instance looks for processes again, in ms:
    /// a process whose parent was not the supervisor's child is reparented without a SIGCHLD.
    const KILL_RESCAN_MS: i32 = 10;

    pub(super) fn encode(tag: u32, a: i32, b: i64) -> [u8; RECORD_LEN] {
        let mut r = [0u8; RECORD_LEN];
        r[..4].copy_from_slice(&tag.to_le_bytes());
        r[4..8].copy_from_slice(&a.to_le_bytes());
        r[8..].copy_from_slice(&b.to_le_bytes());
        r
    }

    pub(super) fn decode(r: &[u8; RECORD_LEN]) -> (u32, i32, i64) {
        (
            u32::from_le_bytes([r[0], r[1], r[2], r[3]]),
            i32::from_le_bytes([r[4], r[5], r[6], r[7]]),
            i64::from_le_bytes([r[8], r[9], r[10], r[11], r[12], r[13], r[14], r[15]]),
        )
    }

    fn errno() -> i32 {
        io::Error::last_os_error().raw_os_error().unwrap_or(0)
    }

    /// std's `pre_exec` hook: become the instance's supervisor and fork the bootstrap, which
    /// returns `Ok` so that std execs it. The supervisor never returns.
    pub(super) fn start(status_fd: i32, control_fd: i32) -> io::Result<()> {
        // SAFETY: prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: fork in a single-threaded child; both sides only make system calls.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        if pid == 0 {
            // The bootstrap (not a subreaper: fork does not pass that on), in a process group
            // of its own; std execs it next.
            // SAFETY: setpgid with integer arguments.
            if unsafe { libc::setpgid(0, 0) } != 0 {
                return Err(io::Error::last_os_error());
            }
            return Ok(());
        }
        // From this side too, so the group exists whichever of the two runs first (EACCES
        // once the bootstrap has exec'd is fine).
        // SAFETY: setpgid with integer arguments.
        unsafe { libc::setpgid(pid, pid) };
        supervise(pid, status_fd, control_fd)
    }

    fn supervise(leader: i32, status_fd: i32, control_fd: i32) -> ! {
        // Only the two pipes stay open: not the bootstrap's stdout/stderr (the log would never
        // reach EOF), not std's exec-error socket, not another instance's pipes.
        close_all_but(status_fd, control_fd);
        // SAFETY: prctl and signal with constant arguments.
        unsafe {
            libc::prctl(libc::PR_SET_NAME, c"scfrt-instance".as_ptr(), 0, 0, 0);
            // Only scfrt's pipe ends it (or SIGKILL); its writes to a gone scfrt fail quietly.
            for sig in [
                libc::SIGPIPE,
                libc::SIGINT,
                libc::SIGHUP,
                libc::SIGQUIT,
                libc::SIGTERM,
            ] {
                libc::signal(sig, libc::SIG_IGN);
            }
        }
        write_record(status_fd, TAG_STARTED, leader, 0);
        let sigchld = sigchld_fd();
        // SAFETY: getpid has no preconditions.
        let me = unsafe { libc::getpid() };
        let mut killing = false;
        let mut leader_reaped = false;
        loop {
            reap_all(leader, status_fd, &mut leader_reaped);
            if killing {
                if !leader_reaped {
                    // The group cannot be reused while its leader is unreaped.
                    // SAFETY: kill with integer arguments.
                    unsafe { libc::kill(-leader, libc::SIGKILL) };
                }
                kill_children(me);
            }
            let mut fds = [
                libc::pollfd {
                    fd: sigchld,
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: if killing { -1 } else { control_fd },
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            let timeout = if killing {
                KILL_RESCAN_MS
            } else if sigchld < 0 {
                100
            } else {
                -1
            };
            // SAFETY: `fds` is a valid array of two pollfd structs.
            let r = unsafe { libc::poll(fds.as_mut_ptr(), 2, timeout) };
            // Data or EOF (scfrt closed its end, or died): kill the instance.
            if r > 0 && fds[1].revents != 0 {
                killing = true;
            }
            drain(sigchld);
        }
    }

    /// Reaps every child that ended; reports the bootstrap's end. Exits once there is no child
    /// left: the bootstrap and everything it started are gone, and nothing can start again.
    fn reap_all(leader: i32, status_fd: i32, leader_reaped: &mut bool) {
        loop {
            let mut status = 0;
            // SAFETY: an all-zero rusage is a valid value.
            let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
            // SAFETY: both pointers are valid for writes.
            let r = unsafe { libc::wait4(-1, &mut status, libc::WNOHANG, &mut usage) };
            if r > 0 {
                if r == leader {
                    *leader_reaped = true;
                    // c_long: i64 here, i32 on 32-bit targets.
                    write_record(status_fd, TAG_EXITED, status, usage.ru_maxrss as i64);
                }
                continue;
            }
            if r == 0 {
                return;
            }
            if errno() == libc::EINTR {
                continue;
            }
            // SAFETY: _exit ends the process without running anything of the parent's.
            unsafe { libc::_exit(0) };
        }
    }

    fn write_record(fd: i32, tag: u32, a: i32, b: i64) {
        let rec = encode(tag, a, b);
        loop {
            // SAFETY: `rec` is valid for reads of its length. A pipe write of 16 bytes is
            // atomic and the pipe never holds more than two records: it cannot block.
            let r = unsafe { libc::write(fd, rec.as_ptr().cast(), rec.len()) };
            if r < 0 && errno() == libc::EINTR {
                continue;
            }
            // EPIPE: scfrt is gone, nobody to tell.
            return;
        }
    }

    /// A non-blocking signalfd for SIGCHLD (blocked first), or -1 (then the loop polls).
    fn sigchld_fd() -> i32 {
        // SAFETY: sigset operations on a local set; sigprocmask and signalfd with valid
        // pointers.
        unsafe {
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGCHLD);
            if libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
                return -1;
            }
            libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC)
        }
    }

    fn drain(fd: i32) {
        if fd < 0 {
            return;
        }
        let mut buf = [0u8; 1024];
        // SAFETY: `buf` is valid for writes of its length; the descriptor is non-blocking.
        while unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) } > 0 {}
    }

    fn close_all_but(a: i32, b: i32) {
        let (lo, hi) = (a.min(b).max(0) as u32, a.max(b).max(0) as u32);
        for (first, last) in [
            (0, lo.checked_sub(1)),
            (lo + 1, hi.checked_sub(1)),
            (hi + 1, Some(u32::MAX)),
        ] {
            let Some(last) = last.filter(|l| *l >= first) else {
                continue;
            };
            // SAFETY: close_range with integer arguments.
            let r = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0u32) };
            if r != 0 {
                // No close_range (Linux before 5.9): one by one, up to a bound.
                for fd in first..=last.min(65_535) {
                    // SAFETY: closing a descriptor nobody else uses in this process.
                    unsafe { libc::close(fd as i32) };
                }
            }
        }
    }

    /// `struct linux_dirent64` records land here; the kernel wants them 8-byte aligned.
    #[repr(C, align(8))]
    struct DirBuf([u8; 4096]);

    /// SIGKILLs every live child of `me`. They are our children, unreaped: their pids cannot
    /// name anybody else.
    fn kill_children(me: i32) {
        // SAFETY: open with a NUL-terminated path.
        let dir = unsafe {
            libc::open(
                c"/proc".as_ptr(),
                libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if dir < 0 {
            return;
        }
        let mut buf = DirBuf([0; 4096]);
        loop {
            // SAFETY: `buf` is valid for writes of its length.
            let n = unsafe {
                libc::syscall(libc::SYS_getdents64, dir, buf.0.as_mut_ptr(), buf.0.len())
            };
            let Some(filled) = usize::try_from(n)
                .ok()
                .filter(|n| *n > 0)
                .and_then(|n| buf.0.get(..n))
            else {
                break;
            };
            // d_ino (8), d_off (8), d_reclen (2), d_type (1), d_name (NUL-terminated).
            let mut off = 0usize;
            while let (Some(&r0), Some(&r1)) = (filled.get(off + 16), filled.get(off + 17)) {
                let reclen = usize::from(u16::from_ne_bytes([r0, r1]));
                if reclen == 0 {
                    break;
                }
                let name = filled.get(off + 19..off + reclen).unwrap_or(&[]);
                if let Some(pid) = parse_decimal(name.split(|&c| c == 0).next().unwrap_or(&[]))
                    && pid != me
                    && parent_of(pid) == Some(me)
                {
                    // SAFETY: kill with integer arguments.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
                off += reclen;
            }
        }
        // SAFETY: closing the descriptor opened above.
        unsafe { libc::close(dir) };
    }

    fn parse_decimal(digits: &[u8]) -> Option<i32> {
        if digits.is_empty() {
            return None;
        }
        let mut n: i32 = 0;
        for &d in digits {
            if !d.is_ascii_digit() {
                return None;
            }
            n = n.checked_mul(10)?.checked_add(i32::from(d - b'0'))?;
        }
        Some(n)
    }

    /// The parent of live process `pid`, from /proc/PID/stat (`None` for a zombie).
    fn parent_of(pid: i32) -> Option<i32> {
        let mut path = [0u8; 32];
        let mut len = 0usize;
        let mut push = |bytes: &[u8]| -> Option<()> {
            path.get_mut(len..len + bytes.len())?.copy_from_slice(bytes);
            len += bytes.len();
            Some(())
        };
        push(b"/proc/")?;
        let mut digits = [0u8; 10];
        let mut i = digits.len();
        let mut n = u32::try_from(pid).ok()?;
        loop {
            i -= 1;
            *digits.get_mut(i)? = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 || i == 0 {
                break;
            }
        }
        push(digits.get(i..)?)?;
        push(b"/stat\0")?;
        // SAFETY: `path` is NUL-terminated.
        let fd = unsafe { libc::open(path.as_ptr().cast(), libc::O_RDONLY | libc::O_CLOEXEC) };
        if fd < 0 {
            return None;
        }
        // The fields up to the parent come first; the command name is at most 64 bytes.
        let mut buf = [0u8; 256];
        // SAFETY: `buf` is valid for writes of its length; `fd` is ours to close.
        let n = unsafe {
            let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
            libc::close(fd);
            n
        };
        let text = buf.get(..usize::try_from(n).ok()?)?;
        let rest = text.get(text.iter().rposition(|&c| c == b')')? + 1..)?;
        let mut fields = rest.split(|&c| c == b' ').filter(|f| !f.is_empty());
        if matches!(fields.next()?.first(), Some(b'Z' | b'X' | b'x')) {
            return None;
        }
        parse_decimal(fields.next()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};

    /// The walk through the `children` files finds the same processes as the scan of `/proc`:
    /// a child, a grandchild and a great-grandchild.
    #[test]
    fn tree_members_walk_matches_the_scan() {
        // `inner` is printed once every process of the tree has been forked.
        let mut root = Command::new("sh")
            .args([
                "-c",
                "sleep 30 & sh -c 'sleep 30 & echo inner; wait' & wait",
            ])
            .stdout(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("sh runs");
        let mut line = String::new();
        let stdout = root.stdout.take().expect("piped");
        BufReader::new(stdout).read_line(&mut line).expect("reads");
        let pid = i32::try_from(root.id()).expect("pid fits");
        let mut walked: Vec<i32> = tree_members(pid).iter().map(|m| m.pid).collect();
        let mut scanned: Vec<i32> = tree_members_by_scan(pid).iter().map(|m| m.pid).collect();
        // SAFETY: kill takes a process group id (negated) and a signal.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
        let _ = root.wait();
        walked.sort_unstable();
        scanned.sort_unstable();
        assert_eq!(line.trim(), "inner");
        assert_eq!(walked.len(), 3, "walked {walked:?}");
        assert_eq!(walked, scanned);
        assert!(!walked.contains(&pid), "the root itself is not a member");
    }
}
