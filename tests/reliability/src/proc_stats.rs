//! A process's resident memory and open descriptors, from `/proc`.

use std::fs;

/// `VmRSS` of `pid` in KiB (None once the process is gone).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// `VmHWM` (peak RSS) of `pid` in KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Number of open file descriptors of `pid`.
pub fn fd_count(pid: u32) -> Option<usize> {
    Some(fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// Whether signal `sig` is pending for process `pid` (process-wide `ShdPnd` or the main
/// thread's `SigPnd` in `/proc/PID/status`); `None` when the process is gone.
pub fn signal_pending(pid: u32, sig: i32) -> Option<bool> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let bit = 1u64 << (sig - 1);
    let pending = status
        .lines()
        .filter(|l| l.starts_with("ShdPnd:") || l.starts_with("SigPnd:"))
        .filter_map(|l| u64::from_str_radix(l.split_whitespace().nth(1)?, 16).ok())
        .any(|mask| mask & bit != 0);
    Some(pending)
}

/// The bytes waiting unread in the receive queue of the IPv4 TCP socket bound to local port
/// `port` (`/proc/net/tcp`'s rx_queue), or `None` when there is no such socket.
pub fn tcp_rx_queue(port: u16) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let want = format!(":{port:04X}");
    table.lines().skip(1).find_map(|line| {
        let mut cols = line.split_whitespace();
        let local = cols.nth(1)?;
        if !local.ends_with(&want) {
            return None;
        }
        // Columns: sl local_address rem_address st tx_queue:rx_queue ...
        let queues = cols.nth(2)?;
        u64::from_str_radix(queues.split(':').nth(1)?, 16).ok()
    })
}
