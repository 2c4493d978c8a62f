//! Timer triggers that fire (docs/triggers.md, "Timer schedules"): one thread holds every
//! registered timer, sleeps until the next one is due, and hands its event to a callback.
//!
//! Each firing's event is [`crate::timer::event`] with the trigger's name and message and the
//! due time (not the time the thread woke). A firing that comes due while the callback still
//! runs for an earlier one is not lost, but ticks missed by more than one period (a suspended
//! machine) are skipped: the next firing is the next one after now, as the platform does not
//! replay missed timers either. The callback should only hand the event on (the invocation is
//! asynchronous, as a timer's is on the platform), since it runs on the timers' thread.

use std::collections::BTreeMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::schedule::Schedule;
use crate::timer::{TimerOptions, event};

/// One timer firing: which timer and its event.
#[derive(Debug, Clone)]
pub struct Firing {
    /// The id the timer was added under.
    pub id: String,
    /// When it was due.
    pub due: SystemTime,
    /// The timer event.
    pub event: Value,
}

struct Timer {
    name: String,
    message: String,
    schedule: Schedule,
    next: Option<SystemTime>,
}

#[derive(Default)]
struct State {
    timers: BTreeMap<String, Timer>,
    stop: bool,
}

type Shared = Arc<(Mutex<State>, Condvar)>;

/// The running timers; dropping it stops the thread (a firing in progress completes).
pub struct Timers {
    shared: Shared,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Timers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timers")
            .field("ids", &self.ids())
            .finish_non_exhaustive()
    }
}

fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    shared.0.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Timers {
    /// Starts the thread; `fire` is called with each firing, on it.
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub fn start(fire: impl Fn(Firing) + Send + 'static) -> std::io::Result<Timers> {
        let shared: Shared = Arc::new((Mutex::new(State::default()), Condvar::new()));
        let theirs = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("scfrt-timers".into())
            .spawn(move || run(&theirs, &fire))?;
        Ok(Timers {
            shared,
            thread: Some(thread),
        })
    }

    /// Adds a timer under `id` (replacing one with the same id): it first fires at the
    /// schedule's next time after now.
    pub fn add(&self, id: &str, name: &str, message: &str, schedule: Schedule) {
        let next = schedule.next_after(SystemTime::now());
        let mut st = lock(&self.shared);
        st.timers.insert(
            id.to_owned(),
            Timer {
                name: name.to_owned(),
                message: message.to_owned(),
                schedule,
                next,
            },
        );
        self.shared.1.notify_all();
    }

    /// Removes the timer `id`; whether there was one.
    pub fn remove(&self, id: &str) -> bool {
        let removed = lock(&self.shared).timers.remove(id).is_some();
        self.shared.1.notify_all();
        removed
    }

    /// Removes every timer whose id starts with `prefix`; how many.
    pub fn remove_prefix(&self, prefix: &str) -> usize {
        let mut st = lock(&self.shared);
        let before = st.timers.len();
        st.timers.retain(|id, _| !id.starts_with(prefix));
        self.shared.1.notify_all();
        before - st.timers.len()
    }

    /// The ids of the timers, in order.
    pub fn ids(&self) -> Vec<String> {
        lock(&self.shared).timers.keys().cloned().collect()
    }
}

impl Drop for Timers {
    fn drop(&mut self) {
        lock(&self.shared).stop = true;
        self.shared.1.notify_all();
        if let Some(t) = self.thread.take() {
            // Dropped by the callback itself (it held the last reference to its owner): the
            // thread ends on its own once the callback returns.
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

/// The thread: fire what is due, then wait for the earliest next time or a change.
fn run(shared: &Shared, fire: &dyn Fn(Firing)) {
    let mut st = lock(shared);
    while !st.stop {
        let now = SystemTime::now();
        let due: Vec<(String, SystemTime)> = st
            .timers
            .iter()
            .filter_map(|(id, t)| t.next.filter(|n| *n <= now).map(|n| (id.clone(), n)))
            .collect();
        if due.is_empty() {
            let earliest = st.timers.values().filter_map(|t| t.next).min();
            st = match earliest.map(|e| e.duration_since(now).unwrap_or_default()) {
                Some(wait) => {
                    shared
                        .1
                        .wait_timeout(st, wait)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => shared.1.wait(st).unwrap_or_else(PoisonError::into_inner),
            };
            continue;
        }
        let mut firings = Vec::new();
        for (id, at) in due {
            let Some(t) = st.timers.get_mut(&id) else {
                continue;
            };
            firings.push(Firing {
                id: id.clone(),
                due: at,
                event: event(&TimerOptions {
                    name: t.name.clone(),
                    message: t.message.clone(),
                    time: Some(crate::utc_iso8601(unix_seconds(at))),
                }),
            });
            // The next firing after this one, or after now when ticks were missed.
            t.next = t
                .schedule
                .next_after(at.max(now - std::time::Duration::from_secs(1)));
            if t.next.is_some_and(|n| n <= now) {
                t.next = t.schedule.next_after(now);
            }
        }
        drop(st);
        for f in firings {
            fire(f);
        }
        st = lock(shared);
    }
}

fn unix_seconds(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    /// Timers whose firings arrive on the receiver.
    fn recorded() -> (Timers, mpsc::Receiver<Firing>) {
        let (tx, rx) = mpsc::channel();
        let timers = Timers::start(move |f| {
            let _ = tx.send(f);
        })
        .expect("starts");
        (timers, rx)
    }

    #[test]
    fn a_per_second_timer_fires_each_second_with_its_event_until_removed() {
        let (timers, rx) = recorded();
        timers.add(
            "ns/f/tick",
            "tick",
            "hello",
            Schedule::parse("* * * * * * *").expect("cron"),
        );
        let a = rx.recv_timeout(Duration::from_secs(5)).expect("fires");
        let b = rx
            .recv_timeout(Duration::from_secs(5))
            .expect("fires again");
        assert_eq!(a.id, "ns/f/tick");
        assert_eq!(a.event["Type"], "Timer");
        assert_eq!(a.event["TriggerName"], "tick");
        assert_eq!(a.event["Message"], "hello");
        assert_eq!(a.event["Time"], crate::utc_iso8601(unix_seconds(a.due)));
        let gap = b.due.duration_since(a.due).expect("in order");
        assert_eq!(gap, Duration::from_secs(1), "one per second, on the second");
        assert_eq!(timers.ids(), ["ns/f/tick"]);
        assert_eq!(timers.remove_prefix("ns/f/"), 1);
        assert!(timers.ids().is_empty());
        // Drain a firing that raced the removal, then none: the channel closes when the
        // thread stops on drop, with nothing more sent.
        while rx.try_recv().is_ok() {}
        drop(timers);
        assert!(matches!(rx.recv(), Err(mpsc::RecvError)));
    }

    #[test]
    fn a_timer_in_the_past_never_fires_and_replacing_keeps_one() {
        let (timers, rx) = recorded();
        timers.add(
            "old",
            "old",
            "",
            Schedule::parse("0 0 0 1 1 * 2001").expect("cron"),
        );
        timers.add(
            "old",
            "old",
            "",
            Schedule::parse("0 0 0 1 1 * 2002").expect("cron"),
        );
        assert_eq!(timers.ids(), ["old"]);
        assert!(timers.remove("old"));
        assert!(!timers.remove("old"));
        drop(timers);
        assert!(rx.recv().is_err(), "nothing fired");
    }
}
