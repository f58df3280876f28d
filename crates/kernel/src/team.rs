//! The threads the fused CPU passes run their parallel tasks on: the calling thread plus
//! `n − 1` helpers that stay awake briefly between passes.
//!
//! An optimizer step through `ModuleOptimizer` is one parallel pass per parameter tensor, a
//! few microseconds apart. On rayon's pool each pass injects a job from outside the pool,
//! wakes a sleeping worker and puts the caller to sleep until the job is done: measured here
//! (2 cores), about 20 µs per pass, a third of an SGD step at 1M parameters. rayon's workers go
//! to sleep after a few dozen idle rounds and that is not configurable (rayon-rs/rayon#684 was
//! declined), so the passes run on this team instead, as PyTorch's run on OpenMP's: the caller
//! takes tasks itself, and the helpers stay awake for [`SPIN`] after each pass before parking
//! (spinning a few microseconds, then yielding the core between looks), so the next pass of
//! the same step starts without a wake-up (an empty pass of two tasks: 0.3–0.8 µs, against
//! 19.8 µs on rayon's pool; `cargo bench --bench bandwidth -- passes`).
//!
//! Tasks are taken one at a time from a shared counter, so a helper that the machine delays
//! takes fewer (work sharing, not a static split). The team has as many threads as rayon's
//! pool (`RAYON_NUM_THREADS`), and serves one pass at a time: a pass started while another
//! runs (another thread's step, or a pass inside a task) runs on rayon's pool as before, as do
//! all passes with `DESCENT_TEAM=off` or after [`set_enabled`]`(false)`.
//!
//! The protocol: one 64-bit word holds the pass's number (epoch), its task count and the next
//! task to take. A thread takes task `i` by a compare-and-swap of that word from
//! `(epoch, count, i)` to `(epoch, count, i + 1)`, so it runs a task only of the pass it read
//! the task function of; the caller returns once every task has finished, and only then can
//! another pass be published.

use std::any::Any;
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError, TryLockError};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use rayon::prelude::*;

/// How long a helper keeps looking for the next pass before it parks.
pub const SPIN: Duration = Duration::from_micros(50);

/// How long a waiting helper spins on the processor (`pause`) before it yields the core to
/// other threads between its looks at the pass word.
const PAUSING: Duration = Duration::from_micros(5);

/// Bits of the task counter and of the task count in the pass word.
const TASK_BITS: u32 = 20;
const TASK_MASK: u64 = (1 << TASK_BITS) - 1;

/// The most tasks one pass can have on the team (more run on rayon's pool).
pub const MAX_TASKS: usize = (1 << TASK_BITS) - 1;

/// A pass's task function, as the helpers reach it.
type Task<'a> = &'a (dyn Fn(usize) + Sync + 'a);

/// The team: the shared pass word and what the threads report.
struct Team {
    /// `epoch << 40 | count << 20 | next`.
    word: AtomicU64,
    /// The current pass's [`Task`], behind a pointer to it on the caller's stack.
    task: AtomicPtr<()>,
    /// Tasks of the current pass finished (or panicked).
    done: AtomicUsize,
    /// The first panic of the pass, resumed on the caller.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
    /// Held by the caller of a pass (one at a time); holds the last epoch.
    caller: Mutex<u64>,
    /// The helpers and whether each is parked.
    helpers: Vec<(Thread, AtomicBool)>,
}

static TEAM: OnceLock<Option<&'static Team>> = OnceLock::new();
static ENABLED: AtomicBool = AtomicBool::new(true);

thread_local! {
    /// Passes this thread ran on the team and on rayon's pool.
    static PASSES: Cell<[u64; 2]> = const { Cell::new([0, 0]) };
}

/// Turns the team on or off for the whole process (off: every pass on rayon's pool). For
/// comparisons and tests; `DESCENT_TEAM=off` does the same from the start.
pub fn set_enabled(on: bool) {
    ENABLED.store(on, SeqCst);
}

/// Parallel passes this thread has run `[on the team, on rayon's pool]` (a pass of one task
/// runs on the caller and counts in neither).
pub fn passes() -> [u64; 2] {
    PASSES.with(Cell::get)
}

fn count_pass(on_team: bool) {
    PASSES.with(|p| {
        let [team, rayon] = p.get();
        p.set(if on_team {
            [team + 1, rayon]
        } else {
            [team, rayon + 1]
        });
    });
}

/// Runs `f` on every task, each exactly once, in parallel, and returns the results in the
/// tasks' order.
///
/// # Panics
/// If a task panics: the first panic is resumed on the caller (on the team, once every other
/// task has finished).
pub fn map<T: Send, R: Send, F: Fn(T) -> R + Sync>(tasks: Vec<T>, f: F) -> Vec<R> {
    let n = tasks.len();
    if n <= 1 {
        return tasks.into_iter().map(f).collect();
    }
    let team = team();
    // A poisoned lock (a task panicked in an earlier pass, after the pass was over) is free.
    let caller = team.and_then(|team| match team.caller.try_lock() {
        Ok(guard) => Some((team, guard)),
        Err(TryLockError::Poisoned(poisoned)) => Some((team, poisoned.into_inner())),
        Err(TryLockError::WouldBlock) => None,
    });
    match caller {
        Some((team, guard)) if n <= MAX_TASKS && ENABLED.load(SeqCst) => {
            count_pass(true);
            let inputs: Vec<Mutex<Option<T>>> =
                tasks.into_iter().map(|t| Mutex::new(Some(t))).collect();
            let outputs: Vec<Mutex<Option<R>>> = (0..n).map(|_| Mutex::new(None)).collect();
            let task = |i: usize| {
                let t = lock(&inputs[i])
                    .take()
                    .expect("descent team: each task is taken once");
                let r = f(t);
                *lock(&outputs[i]) = Some(r);
            };
            team.run(guard, n, &task);
            outputs
                .into_iter()
                .map(|r| {
                    r.into_inner()
                        .unwrap_or_else(PoisonError::into_inner)
                        .expect("descent team: every task ran")
                })
                .collect()
        }
        _ => {
            count_pass(false);
            tasks.into_par_iter().map(&f).collect()
        }
    }
}

/// `m` locked; a poisoned lock (a panicked task) is taken over: the pass resumes the panic.
fn lock<X>(m: &Mutex<X>) -> MutexGuard<'_, X> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Runs `f` on every task, each exactly once, in parallel, and returns whether every call
/// returned `true` (all tasks run either way). Panics as [`map`].
pub fn all<T: Send, F: Fn(T) -> bool + Sync>(tasks: Vec<T>, f: F) -> bool {
    // Every task has run when `map` returns: only the results are short-circuited.
    map(tasks, f).into_iter().all(|ok| ok)
}

/// The team, started on first use: `None` where rayon's pool has one thread (the passes then
/// run on the caller) or the team is switched off by `DESCENT_TEAM=off`.
fn team() -> Option<&'static Team> {
    *TEAM.get_or_init(|| {
        if std::env::var("DESCENT_TEAM").is_ok_and(|v| v == "off") {
            ENABLED.store(false, SeqCst);
        }
        let helpers = rayon::current_num_threads().saturating_sub(1);
        if helpers == 0 {
            return None;
        }
        let started: Vec<_> = (0..helpers)
            .map(|k| {
                thread::Builder::new()
                    .name(format!("descent-team-{k}"))
                    .spawn(move || helper(k))
                    .expect("descent team: spawning a helper thread")
            })
            .collect();
        let team: &'static Team = Box::leak(Box::new(Team {
            word: AtomicU64::new(0),
            task: AtomicPtr::new(std::ptr::null_mut()),
            done: AtomicUsize::new(0),
            panic: Mutex::new(None),
            caller: Mutex::new(0),
            helpers: started
                .into_iter()
                .map(|h| (h.thread().clone(), AtomicBool::new(false)))
                .collect(),
        }));
        Some(team)
    })
}

fn epoch(word: u64) -> u64 {
    word >> (2 * TASK_BITS)
}

fn count(word: u64) -> u64 {
    (word >> TASK_BITS) & TASK_MASK
}

fn next(word: u64) -> u64 {
    word & TASK_MASK
}

/// A helper's life: wait for a pass, take its tasks, wait again.
fn helper(k: usize) {
    // The team is published after the helpers are spawned: wait for it.
    let team = loop {
        if let Some(team) = TEAM.get() {
            break team.expect("helpers exist only in a team");
        }
        thread::park_timeout(Duration::from_millis(1));
    };
    let mut seen = 0;
    loop {
        let word = team.wait(k, seen);
        seen = epoch(word);
        team.work(seen);
    }
}

impl Team {
    /// Publishes a pass of `count` tasks, works on it and waits for it.
    fn run(&self, mut last: MutexGuard<'_, u64>, count: usize, task: Task<'_>) {
        let epoch = (*last + 1) & ((1 << (64 - 2 * TASK_BITS)) - 1);
        *last = epoch;
        self.done.store(0, SeqCst);
        self.task.store(&task as *const Task<'_> as *mut (), SeqCst);
        self.word.store(
            epoch << (2 * TASK_BITS) | (count as u64) << TASK_BITS,
            SeqCst,
        );
        for (thread, parked) in &self.helpers {
            if parked.load(SeqCst) {
                thread.unpark();
            }
        }
        self.work(epoch);
        let start = Instant::now();
        while self.done.load(SeqCst) < count {
            if start.elapsed() < SPIN {
                std::hint::spin_loop();
            } else {
                // A helper holding the last task was descheduled: let it run.
                thread::yield_now();
            }
        }
        // No thread can take a task of this pass any more: `task` may go, and another pass
        // may start.
        drop(last);
        if let Some(panic) = self
            .panic
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            resume_unwind(panic);
        }
    }

    /// Takes and runs tasks of pass `epoch` until none is left.
    fn work(&self, epoch_seen: u64) {
        // The task function of the pass this thread saw published (or of a later one, whose
        // tasks the epoch test below then refuses).
        let task = self.task.load(SeqCst) as *const Task<'static>;
        let mut word = self.word.load(SeqCst);
        loop {
            if epoch(word) != epoch_seen || next(word) >= count(word) {
                return;
            }
            match self
                .word
                .compare_exchange_weak(word, word + 1, SeqCst, SeqCst)
            {
                Ok(_) => {
                    // SAFETY: task `next(word)` of pass `epoch_seen` is taken by this thread
                    // alone, and that pass's caller waits in `run`, its task function alive,
                    // until this task is counted done.
                    let f = unsafe { *task };
                    if let Err(panic) = catch_unwind(AssertUnwindSafe(|| f(next(word) as usize))) {
                        let mut first = self.panic.lock().unwrap_or_else(PoisonError::into_inner);
                        first.get_or_insert(panic);
                    }
                    self.done.fetch_add(1, SeqCst);
                    word = self.word.load(SeqCst);
                }
                Err(now) => word = now,
            }
        }
    }

    /// Helper `k` waits for a pass after `seen`: spins for [`SPIN`], then parks.
    fn wait(&self, k: usize, seen: u64) -> u64 {
        let mut start = Instant::now();
        let mut rounds = 0u32;
        loop {
            let word = self.word.load(SeqCst);
            if epoch(word) != seen {
                return word;
            }
            rounds = rounds.wrapping_add(1);
            let waited = if rounds.is_multiple_of(16) {
                start.elapsed()
            } else {
                Duration::ZERO
            };
            if waited < PAUSING {
                std::hint::spin_loop();
                continue;
            }
            if waited < SPIN {
                // Another thread wanting this core (rayon's, between the passes) gets it.
                thread::yield_now();
                continue;
            }
            let parked = &self.helpers[k].1;
            parked.store(true, SeqCst);
            // A pass published after this store finds the flag and unparks; one published
            // before it is seen here.
            if epoch(self.word.load(SeqCst)) == seen {
                thread::park();
            }
            parked.store(false, SeqCst);
            start = Instant::now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two tests here take turns: each holds the team for most of its run, and the other's
    /// passes would then all run on rayon's pool.
    static SERIAL: Mutex<()> = Mutex::new(());

    fn serial() -> MutexGuard<'static, ()> {
        SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every task runs once and the results are combined, over many passes in a row (the
    /// helpers awake or parked between them), on the team at least once.
    #[test]
    fn every_task_runs_once_and_the_results_are_combined() {
        let _serial = serial();
        let seen: Vec<AtomicUsize> = (0..1000).map(|_| AtomicUsize::new(0)).collect();
        let before = passes();
        for round in 0..200 {
            let bad = round % 7 == 0;
            if round % 50 == 0 {
                // Long enough for the helpers to park.
                thread::sleep(SPIN * 4);
            }
            let all = all((0..1000usize).collect(), |i| {
                seen[i].fetch_add(1, SeqCst);
                !(bad && i == 999)
            });
            assert_eq!(all, !bad, "round {round}");
        }
        assert!(seen.iter().all(|s| s.load(SeqCst) == 200));
        let after = passes();
        assert_eq!(after[0] + after[1] - before[0] - before[1], 200);
        // Another test's pass can hold the team for a moment (rayon then runs this one).
        assert!(after[0] > before[0], "no pass ran on the team");
    }

    /// A task's panic reaches the caller once every task has finished, and the team serves
    /// the next pass.
    #[test]
    fn a_panicking_task_panics_the_caller_and_the_team_goes_on() {
        let _serial = serial();
        let mut on_team = 0;
        for _ in 0..20 {
            let finished = AtomicUsize::new(0);
            let before = passes();
            let panic = catch_unwind(AssertUnwindSafe(|| {
                all((0..64usize).collect(), |i| {
                    if i == 10 {
                        panic!("task {i} failed");
                    }
                    thread::sleep(Duration::from_micros(20));
                    finished.fetch_add(1, SeqCst);
                    true
                })
            }))
            .expect_err("the pass must panic");
            assert_eq!(
                panic.downcast_ref::<String>().map(String::as_str),
                Some("task 10 failed")
            );
            if passes()[0] > before[0] {
                assert_eq!(
                    finished.load(SeqCst),
                    63,
                    "the other tasks ran before the panic"
                );
            }
            let before = passes();
            assert!(all((0..64usize).collect(), |_| true));
            on_team += passes()[0] - before[0];
        }
        assert!(on_team > 0, "the team served no pass after a panic");
    }
}
