//! One running bootstrap: its process group, the thread that reaps it, the memory sampler, and the
//! registry that lets a signal handler kill every group we started.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::image::ImagePort;
use crate::logs::{LogHub, LogReader};
use crate::runtime_api::RuntimeApi;

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
/// interrupted `scfrt` leaves no bootstrap behind. The groups are not reaped here.
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
    /// The raw wait status.
    pub(crate) status: i32,
    /// ru_maxrss of the reaped process (its own peak, or its waited-for children's), in bytes.
    pub(crate) maxrss_bytes: u64,
}

impl ExitInfo {
    /// "exit code 3" or "killed by signal 9 (SIGKILL)".
    pub(crate) fn describe(&self) -> String {
        let s = self.status;
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

/// A running bootstrap together with its platform side.
pub(crate) struct Instance {
    pub(crate) platform: Arc<Platform>,
    pub(crate) pid: i32,
    exit: Arc<Mutex<Option<ExitInfo>>>,
    waiter: Option<JoinHandle<()>>,
    reader: Option<LogReader>,
    slot: Option<usize>,
}

impl Instance {
    /// Starts `bootstrap` in its own process group with exactly `env`, cwd `code_dir`, stdin from
    /// /dev/null and stdout/stderr captured into `hub`. When it exits, `platform` is aborted.
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
        let reader = LogReader::start(Arc::clone(hub), out_r, err_r)?;
        let mut cmd = Command::new(bootstrap);
        cmd.current_dir(code_dir)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(out_w)
            .stderr(err_w);
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn();
        // The write ends live in `cmd`: drop them now, or the pipes never reach EOF.
        drop(cmd);
        let child = match child {
            Ok(child) => child,
            Err(e) => {
                reader.stop();
                return Err(e);
            }
        };
        let pid = i32::try_from(child.id()).unwrap_or(i32::MAX);
        // We reap with wait4(2) ourselves (for ru_maxrss); std's Child has no Drop side effects.
        drop(child);
        let slot = register_group(pid);
        let exit = Arc::new(Mutex::new(None));
        let waiter = {
            let exit = Arc::clone(&exit);
            let platform = Arc::clone(&platform);
            std::thread::Builder::new()
                .name(format!("scfrt-reap-{pid}"))
                .spawn(move || {
                    let info = reap(pid);
                    *exit.lock().unwrap_or_else(PoisonError::into_inner) = Some(info);
                    platform.abort();
                })
        };
        let mut instance = Instance {
            platform,
            pid,
            exit,
            waiter: None,
            reader: Some(reader),
            slot,
        };
        match waiter {
            Ok(w) => instance.waiter = Some(w),
            Err(e) => {
                // `teardown` reaps synchronously when there is no waiter thread.
                instance.teardown();
                return Err(e);
            }
        }
        Ok(instance)
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

    /// SIGKILLs the whole process group, reaps the bootstrap, drains its output and stops the
    /// runtime API threads (once the last reference to the platform side is gone). Idempotent.
    /// Returns how the bootstrap ended.
    pub(crate) fn teardown(&mut self) -> Option<ExitInfo> {
        // Even when the leader already exited, members of its group may live on.
        kill_group_and_wait(self.pid, TEARDOWN_WAIT);
        match self.waiter.take() {
            Some(w) => {
                let _ = w.join();
            }
            None => {
                if self.exit_info().is_none() {
                    let info = reap(self.pid);
                    *self.exit.lock().unwrap_or_else(PoisonError::into_inner) = Some(info);
                }
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

fn reap(pid: i32) -> ExitInfo {
    loop {
        let mut status = 0;
        // SAFETY: zeroed rusage is a valid value; both pointers are valid for writes.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: see above.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            return ExitInfo {
                status,
                maxrss_bytes: u64::try_from(usage.ru_maxrss)
                    .unwrap_or(0)
                    .saturating_mul(1024),
            };
        }
        if r < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        // ECHILD: someone else reaped it; nothing more to learn.
        return ExitInfo {
            status: 0,
            maxrss_bytes: 0,
        };
    }
}

/// Upper bound for the group's processes to die after SIGKILL (only a process stuck in
/// uninterruptible sleep takes longer; we then go on rather than hang).
const TEARDOWN_WAIT: Duration = Duration::from_secs(5);

/// The live (not yet exited) processes of process group `pgid`.
fn group_members(pgid: i32) -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut members = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the parenthesised command name: state, ppid, pgrp, ...
        let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next();
        if fields.nth(1).and_then(|g| g.parse::<i32>().ok()) == Some(pgid)
            && !matches!(state, Some("Z" | "X" | "x"))
        {
            members.push(pid);
        }
    }
    members
}

/// A pidfd for `pid`: it becomes readable when the process exits, whoever its parent is.
fn pidfd_open(pid: i32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let fd = i32::try_from(fd).ok().filter(|fd| *fd >= 0)?;
    // SAFETY: the kernel just gave us this descriptor; nobody else owns it.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// SIGKILLs process group `pgid` and waits (up to `limit`) until every member has exited, so
/// "killed" means gone when we report it. The leader is reaped by its waiter thread; the other
/// members are reaped by whoever inherits them.
fn kill_group_and_wait(pgid: i32, limit: Duration) {
    let deadline = Instant::now() + limit;
    // A member may fork between our scan and the kill: scan again until the group is empty.
    for _ in 0..16 {
        let members = group_members(pgid);
        // Open the pidfds before killing so a recycled pid cannot fool us.
        let fds: Vec<OwnedFd> = members.iter().filter_map(|&pid| pidfd_open(pid)).collect();
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        if members.is_empty() {
            return;
        }
        let mut pfds: Vec<libc::pollfd> = fds
            .iter()
            .map(|fd| libc::pollfd {
                fd: fd.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        while pfds.iter().any(|p| p.fd >= 0) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            let ms = i32::try_from(left.as_millis().max(1)).unwrap_or(i32::MAX);
            let n = pfds.len() as libc::nfds_t;
            // SAFETY: `pfds` is a valid array of `n` pollfd structs.
            let r = unsafe { libc::poll(pfds.as_mut_ptr(), n, ms) };
            if r < 0 && std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
                break;
            }
            for p in pfds.iter_mut().filter(|p| p.revents != 0) {
                // poll ignores negative descriptors: this member is done.
                p.fd = -1;
                p.revents = 0;
            }
        }
        if fds.len() < members.len() {
            // No pidfd for some members (no kernel support, or they just exited): let the
            // kernel run them to their death before scanning again.
            std::thread::yield_now();
        }
        if Instant::now() >= deadline {
            return;
        }
    }
}

/// One look at a process group's memory.
struct GroupMemory {
    /// The sum of its live members' resident set sizes, in bytes.
    rss: u64,
    /// Its live members.
    members: Vec<i32>,
}

/// Resident set size in bytes of every live process in process group `pgid`.
fn group_memory(pgid: i32) -> GroupMemory {
    // SAFETY: sysconf has no preconditions.
    let page = u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
    let members = group_members(pgid);
    let mut rss = 0u64;
    for pid in &members {
        let Ok(statm) = std::fs::read_to_string(format!("/proc/{pid}/statm")) else {
            continue;
        };
        let resident = statm
            .split_whitespace()
            .nth(1)
            .and_then(|r| r.parse::<u64>().ok())
            .unwrap_or(0);
        rss = rss.saturating_add(resident.saturating_mul(page));
    }
    GroupMemory { rss, members }
}

/// The memory `pids` take together with every page counted once: the sum of their proportional
/// set sizes (`Pss` in `/proc/PID/smaps_rollup`, where a page mapped by n processes counts 1/n
/// in each). `None` when a member's figure cannot be read. Dearer than the RSS (the kernel walks
/// the page tables), so it is read only when the summed RSS passes the limit.
fn pss_bytes(pids: &[i32]) -> Option<u64> {
    let mut total = 0u64;
    for pid in pids {
        let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
        let kib = rollup
            .lines()
            .find_map(|l| l.strip_prefix("Pss:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())?;
        total = total.saturating_add(kib.saturating_mul(1024));
    }
    Some(total)
}

/// What a [`Sampler`] saw of a process group's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MemoryPeak {
    /// The largest summed resident set size sampled, in bytes (what MemUsage reports).
    pub bytes: u64,
    /// The group passed the sampler's limit and was killed with SIGKILL: the memory it was
    /// counted to use then, in bytes.
    pub over_limit: Option<u64>,
}

/// How long a PSS reading stands in for the next ones while the group stays below the limit.
const PSS_REREAD: Duration = Duration::from_millis(100);

/// Decides whether a process group uses more than a limit: its summed RSS for a single
/// process; with several, pages they share (after a fork, or of a library) are counted once, as
/// a memory cgroup counts them, so the sum of their PSS decides once the summed RSS passes the
/// limit. PSS costs a page-table walk, so while the group stays over the limit by RSS and
/// under it by PSS, the last PSS plus the RSS grown since stands in for it, for at most
/// [`PSS_REREAD`] (a copy-on-write page copied grows PSS but not the summed RSS).
struct LimitCheck {
    limit: Option<u64>,
    /// When PSS was last read, the summed RSS then, and the PSS.
    last: Option<(Instant, u64, u64)>,
}

impl LimitCheck {
    /// The memory the group is counted to use, when that is more than the limit.
    fn over(&mut self, sample: &GroupMemory) -> Option<u64> {
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

/// Samples a process group's resident memory on an interval until finished, keeping the peak;
/// a group that uses more than the limit is killed at once with SIGKILL, as the platform ends
/// an instance over its memory size.
pub(crate) struct Sampler {
    stop: Arc<(Mutex<bool>, Condvar)>,
    thread: Option<JoinHandle<MemoryPeak>>,
}

impl Sampler {
    /// Starts sampling at once, then every `interval`; `limit_bytes`: kill the group when it
    /// uses more (see [`MemoryPeak::over_limit`]).
    pub(crate) fn start(pgid: i32, interval: Duration, limit_bytes: Option<u64>) -> Sampler {
        let stop = Arc::new((Mutex::new(false), Condvar::new()));
        let thread_stop = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("scfrt-mem".into())
            .spawn(move || {
                let (lock, cond) = &*thread_stop;
                let mut peak = 0;
                let mut check = LimitCheck {
                    limit: limit_bytes,
                    last: None,
                };
                let mut sample = |peak: &mut u64| {
                    let now = group_memory(pgid);
                    *peak = (*peak).max(now.rss);
                    check.over(&now)
                };
                let mut over_limit = sample(&mut peak);
                let mut next = Instant::now() + interval;
                let mut stopped = lock.lock().unwrap_or_else(PoisonError::into_inner);
                while !*stopped && over_limit.is_none() {
                    let now = Instant::now();
                    if now >= next {
                        drop(stopped);
                        over_limit = sample(&mut peak);
                        next = Instant::now() + interval;
                        stopped = lock.lock().unwrap_or_else(PoisonError::into_inner);
                        continue;
                    }
                    stopped = cond
                        .wait_timeout(stopped, next - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                drop(stopped);
                if over_limit.is_none() {
                    over_limit = sample(&mut peak);
                }
                if over_limit.is_some() {
                    // SAFETY: killpg has no memory-safety preconditions; the group is the
                    // instance's own, whose leader is not reaped while the sampler runs.
                    unsafe { libc::killpg(pgid, libc::SIGKILL) };
                }
                MemoryPeak {
                    bytes: peak,
                    over_limit,
                }
            })
            .ok();
        Sampler { stop, thread }
    }

    /// Stops sampling and returns what was seen.
    pub(crate) fn finish(mut self) -> MemoryPeak {
        self.stop_thread()
    }

    fn stop_thread(&mut self) -> MemoryPeak {
        let (lock, cond) = &*self.stop;
        *lock.lock().unwrap_or_else(PoisonError::into_inner) = true;
        cond.notify_all();
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or(MemoryPeak {
                bytes: 0,
                over_limit: None,
            })
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.stop_thread();
    }
}
