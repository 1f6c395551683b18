//! Reading an upstream answer's body chunk by chunk within its idle timeout, with one timer
//! per answer instead of one per chunk: the timer is armed once, a chunk only notes when it
//! came, and a timer that fires while chunks keep coming is moved to the last one's deadline.
//! A stream of a thousand chunks registers and cancels the timer once, not a thousand times.

use super::exchange::{Cut, Timeouts};
use bytes::Bytes;
use pingora::protocols::http::client::HttpSession;
use std::pin::Pin;
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// The body of one answer, read within its idle timeout and the request's deadline.
pub(super) struct BodyChunks {
    timer: Pin<Box<Sleep>>,
    idle: Duration,
    request_deadline: Instant,
    /// When the last chunk came (or reading began).
    last: Instant,
}

impl BodyChunks {
    pub(super) fn new(timeouts: &Timeouts) -> Self {
        let now = Instant::now();
        let request_deadline = Instant::from_std(timeouts.request_deadline);
        Self {
            timer: Box::pin(tokio::time::sleep_until(
                (now + timeouts.idle).min(request_deadline),
            )),
            idle: timeouts.idle,
            request_deadline,
            last: now,
        }
    }

    /// The next chunk; `Ok(None)` at the body's end.
    pub(super) async fn next(&mut self, upstream: &mut HttpSession) -> Result<Option<Bytes>, Cut> {
        let read = upstream.read_response_body();
        tokio::pin!(read);
        loop {
            tokio::select! {
                biased;
                read = &mut read => {
                    self.last = Instant::now();
                    return read.map_err(|error| Cut {
                        message: error.to_string(),
                        expired: false,
                    });
                }
                () = self.timer.as_mut() => {
                    let now = Instant::now();
                    if now >= self.request_deadline {
                        return Err(expired(
                            "the request's deadline passed while waiting for body chunk".into(),
                        ));
                    }
                    let idle_due = self.last + self.idle;
                    if now >= idle_due {
                        return Err(expired(format!(
                            "no body chunk within {}s",
                            self.idle.as_secs_f32()
                        )));
                    }
                    self.timer.as_mut().reset(idle_due.min(self.request_deadline));
                }
            }
        }
    }
}

fn expired(message: String) -> Cut {
    Cut {
        message,
        expired: true,
    }
}
