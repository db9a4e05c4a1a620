//! Waiting for a condition with a deadline: the one way the tests and benchmarks wait.
//!
//! A check is polled at once, then after 5 ms, and after twice the last pause up to 50 ms,
//! until it holds or the deadline passes. The check says what it found by returning a
//! `bool`, an `Option` (whose value the wait hands back) or a `Result` of either (an error
//! ends the wait at once).

use std::{
    convert::Infallible,
    fmt,
    future::Future,
    time::{Duration, Instant},
};

/// The first pause between two polls.
const FIRST_PAUSE: Duration = Duration::from_millis(5);
/// The longest pause between two polls.
const LONGEST_PAUSE: Duration = Duration::from_millis(50);

/// What a check returns: whether the condition holds (and its value), or why it never will.
pub trait Check {
    /// What the wait returns once the condition holds.
    type Value;
    /// Why the condition can no longer hold.
    type Error;
    /// `Ok(Some(value))` when the condition holds, `Ok(None)` to poll again.
    fn outcome(self) -> Result<Option<Self::Value>, Self::Error>;
}

impl Check for bool {
    type Value = ();
    type Error = Infallible;
    fn outcome(self) -> Result<Option<()>, Infallible> {
        Ok(self.then_some(()))
    }
}

impl<T> Check for Option<T> {
    type Value = T;
    type Error = Infallible;
    fn outcome(self) -> Result<Option<T>, Infallible> {
        Ok(self)
    }
}

impl<C: Check<Error = Infallible>, E> Check for Result<C, E> {
    type Value = C::Value;
    type Error = E;
    fn outcome(self) -> Result<Option<C::Value>, E> {
        match self {
            Ok(check) => Ok(check.outcome().unwrap_or_else(|never| match never {})),
            Err(error) => Err(error),
        }
    }
}

/// Why a wait ended without the condition.
#[derive(Debug)]
pub enum WaitError<E = Infallible> {
    /// The deadline passed.
    TimedOut {
        /// What was awaited.
        what: String,
        /// How long the wait lasted.
        deadline: Duration,
    },
    /// The check failed.
    Failed {
        /// What was awaited.
        what: String,
        /// The check's error.
        error: E,
    },
}

impl<E: fmt::Display> fmt::Display for WaitError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TimedOut { what, deadline } => {
                write!(f, "timed out after {deadline:?} waiting for {what}")
            }
            Self::Failed { what, error } => write!(f, "failed waiting for {what}: {error}"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for WaitError<E> {}

/// The polling schedule of one wait.
struct Schedule<'a> {
    what: &'a str,
    deadline: Duration,
    start: Instant,
    pause: Duration,
}

impl<'a> Schedule<'a> {
    fn new(what: &'a str, deadline: Duration) -> Self {
        Self {
            what,
            deadline,
            start: Instant::now(),
            pause: FIRST_PAUSE,
        }
    }

    /// Judges one poll: the value, an error, or the pause before the next poll.
    fn judge<C: Check>(
        &mut self,
        check: C,
    ) -> Result<Result<C::Value, Duration>, WaitError<C::Error>> {
        match check.outcome() {
            Ok(Some(value)) => Ok(Ok(value)),
            Err(error) => Err(WaitError::Failed {
                what: self.what.to_owned(),
                error,
            }),
            Ok(None) => {
                let elapsed = self.start.elapsed();
                if elapsed >= self.deadline {
                    return Err(WaitError::TimedOut {
                        what: self.what.to_owned(),
                        deadline: self.deadline,
                    });
                }
                let pause = self.pause.min(self.deadline - elapsed);
                self.pause = (self.pause * 2).min(LONGEST_PAUSE);
                Ok(Err(pause))
            }
        }
    }
}

/// Polls the async `check` until it holds; fails after `deadline` naming `what`.
pub async fn wait_for<C, F, Fut>(
    what: &str,
    deadline: Duration,
    mut check: F,
) -> Result<C::Value, WaitError<C::Error>>
where
    C: Check,
    F: FnMut() -> Fut,
    Fut: Future<Output = C>,
{
    let mut schedule = Schedule::new(what, deadline);
    loop {
        match schedule.judge(check().await)? {
            Ok(value) => return Ok(value),
            Err(pause) => tokio::time::sleep(pause).await,
        }
    }
}

/// Polls `check` on this thread until it holds; fails after `deadline` naming `what`.
pub fn wait_for_blocking<C: Check>(
    what: &str,
    deadline: Duration,
    mut check: impl FnMut() -> C,
) -> Result<C::Value, WaitError<C::Error>> {
    let mut schedule = Schedule::new(what, deadline);
    loop {
        match schedule.judge(check())? {
            Ok(value) => return Ok(value),
            Err(pause) => std::thread::sleep(pause),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    #[test]
    fn a_check_that_comes_true_hands_back_its_value_after_that_many_polls() {
        let polls = Cell::new(0);
        let value = wait_for_blocking("the third poll", Duration::from_secs(10), || {
            polls.set(polls.get() + 1);
            (polls.get() == 3).then_some(polls.get() * 10)
        })
        .unwrap();
        assert_eq!((value, polls.get()), (30, 3));
    }

    #[test]
    fn a_check_that_never_holds_times_out_naming_what_was_awaited() {
        let polls = Cell::new(0);
        let error = wait_for_blocking("nothing", Duration::from_millis(30), || {
            polls.set(polls.get() + 1);
            false
        })
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "timed out after 30ms waiting for nothing"
        );
        // Polled at once, after 5, 10 and the 15 ms left: the deadline itself is polled.
        assert!(polls.get() >= 2, "polled {} times", polls.get());
    }

    #[test]
    fn a_failing_check_ends_the_wait_at_once_with_its_error() {
        let polls = Cell::new(0);
        let error = wait_for_blocking("a failure", Duration::from_secs(10), || {
            polls.set(polls.get() + 1);
            if polls.get() < 2 {
                Ok(false)
            } else {
                Err("gone")
            }
        })
        .unwrap_err();
        assert_eq!(error.to_string(), "failed waiting for a failure: gone");
        assert_eq!(polls.get(), 2);
    }

    #[test]
    fn the_async_wait_polls_the_same_way() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let polls = Cell::new(0);
        let value = runtime
            .block_on(wait_for("the second poll", Duration::from_secs(10), || {
                polls.set(polls.get() + 1);
                let polled = polls.get();
                async move { (polled == 2).then_some("done") }
            }))
            .unwrap();
        assert_eq!((value, polls.get()), ("done", 2));
        let timed_out = runtime
            .block_on(wait_for("never", Duration::from_millis(20), || async {
                false
            }))
            .unwrap_err();
        assert!(
            matches!(timed_out, WaitError::TimedOut { deadline, .. } if deadline == Duration::from_millis(20))
        );
    }
}
