//! The wait for a database server that is not up yet: pauses that double up to 5 s until `DB_WAIT_TIMEOUT`
//! runs out, announced once.

use std::fmt::Display;
use std::time::{Duration, Instant};

/// One connection attempt's wait, shared by the engines' `wait_for`.
pub struct ServerWait {
    server: String,
    engine: &'static str,
    timeout: Duration,
    deadline: Instant,
    delay: Duration,
    announced: bool,
}

impl ServerWait {
    /// A wait of at most `timeout` for `server` (its label in messages), run by `engine`.
    pub fn new(server: String, engine: &'static str, timeout: Duration) -> ServerWait {
        ServerWait::since(server, engine, timeout, Instant::now())
    }

    /// The same wait, counted from `start` (a connect step that began earlier).
    pub fn since(
        server: String,
        engine: &'static str,
        timeout: Duration,
        start: Instant,
    ) -> ServerWait {
        ServerWait {
            server,
            engine,
            timeout,
            deadline: start + timeout,
            delay: Duration::from_millis(250),
            announced: false,
        }
    }

    /// After a failure that may pass (`error`): the pause before the next try, or `None` when it would end
    /// past the deadline.
    pub fn pause(&mut self, error: &dyn Display) -> Option<Duration> {
        if Instant::now() + self.delay >= self.deadline {
            return None;
        }
        if !self.announced {
            tracing::info!(
                server = %self.server,
                wait_seconds = self.timeout.as_secs(),
                error = %error,
                "{} is not reachable yet; waiting for it to start",
                self.engine
            );
            self.announced = true;
        }
        let pause = self.delay;
        self.delay = (self.delay * 2).min(Duration::from_secs(5));
        Some(pause)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_five_seconds_and_stop_at_the_deadline() {
        let mut wait = ServerWait::new("db".into(), "Test", Duration::from_secs(60));
        let pauses: Vec<u64> = (0..7)
            .map(|_| wait.pause(&"down").map_or(0, |p| p.as_millis() as u64))
            .collect();
        assert_eq!(pauses, [250, 500, 1000, 2000, 4000, 5000, 5000]);
        let mut short = ServerWait::new("db".into(), "Test", Duration::from_millis(100));
        assert_eq!(short.pause(&"down"), None);
    }
}
