//! The platform transport: the app's own HTTP stack sends the requests.
//!
//! On a phone the system's HTTP client (URLSession, HttpURLConnection or
//! OkHttp) already knows the proxy, the trust store, certificate pinning and
//! background transfer rules, and it costs the library nothing. With
//! `transport = "platform"` an `http` or `otlp_http` sink does not connect
//! itself: it hands each request to this queue and waits. The binding runs an
//! uploader loop that [`takes`](PlatformUploads::take) a request, sends it and
//! [`finishes`](PlatformUploads::finish) it with the status or the network error.
//!
//! The sink's outcome rules are unchanged: the result is classified like a
//! reply to the built-in client (2xx commit; 408, 429, 5xx and network errors
//! retry; 413 splits; other 4xx quarantine). A request nobody answers within
//! its timeout plus [`ANSWER_GRACE`] is a retry; a late answer is refused as
//! stale and the batch goes again under the same `X-Sluice-Batch`.

use super::client::Reply;
use super::Outcome;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long past its own timeout a request may stay unanswered before the sink gives up on it.
pub const ANSWER_GRACE: Duration = Duration::from_secs(10);

/// One request for the app's uploader.
#[derive(Debug, Clone)]
pub struct UploadTask {
    /// Names this attempt in [`PlatformUploads::finish`]; never reused.
    pub id: u64,
    /// Where to POST.
    pub url: String,
    /// Request headers (`Content-Type`, `X-Sluice-Batch`, `User-Agent`, auth, the sink's extras).
    pub headers: Vec<(String, String)>,
    /// The request body, already compressed when a `Content-Encoding` header says so.
    pub body: Vec<u8>,
    /// The sink's whole-request timeout: the uploader should give up after it.
    pub timeout: Duration,
}

/// What the app's uploader saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadResult {
    /// The upstream answered.
    Response {
        /// HTTP status.
        status: u16,
        /// Its `Retry-After` header, if any.
        retry_after: Option<String>,
        /// Its body (only the first 16 KiB are kept).
        body: String,
    },
    /// No answer: DNS, connection, TLS, timeout. Retried with backoff.
    Failed(String),
}

/// What [`PlatformUploads::take`] found.
#[derive(Debug)]
pub enum Taken {
    /// A request to send now.
    Task(UploadTask),
    /// Nothing arrived within the wait.
    Idle,
    /// The SDK is closing or closed: the uploader loop should end (after
    /// finishing the request it holds, if any).
    Closed,
}

/// Where the queue stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Phase {
    #[default]
    Open,
    /// No new requests; answers to requests already taken are still awaited.
    Closing,
    /// Nothing is awaited any more.
    Closed,
}

/// Where an attempt stands; `answer_by` is when its sink stops waiting.
enum Slot {
    Queued { answer_by: Instant },
    Sent { answer_by: Instant },
    Answered(UploadResult),
}

#[derive(Default)]
struct State {
    next_id: u64,
    /// Requests not yet taken, with when their sink's timeout runs out.
    queue: VecDeque<(UploadTask, Instant)>,
    slots: BTreeMap<u64, Slot>,
    phase: Phase,
    /// Why the phone's policy forbids uploads now (offline, low battery…), if it does.
    paused: Option<&'static str>,
}

/// The hand-over point between the sinks and the app's uploader; one per SDK instance.
pub struct PlatformUploads {
    state: Mutex<State>,
    /// How long past a request's timeout the sink waits for its answer.
    grace: Duration,
    /// Signalled when a request is queued or the queue closes (the uploader waits on it).
    queued: Condvar,
    /// Signalled when a request is answered or the queue closes (the sinks wait on it).
    answered: Condvar,
}

impl Default for PlatformUploads {
    fn default() -> PlatformUploads {
        PlatformUploads::with_grace(ANSWER_GRACE)
    }
}

impl std::fmt::Debug for PlatformUploads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformUploads").finish_non_exhaustive()
    }
}

/// Most of an answer's body kept (quarantine reasons, OTLP partial success);
/// the bindings read no more than this from the app.
pub const BODY_LIMIT: usize = 16 * 1024;

impl PlatformUploads {
    /// A queue whose sinks wait `grace` past a request's timeout for its answer.
    pub fn with_grace(grace: Duration) -> PlatformUploads {
        PlatformUploads { state: Mutex::default(), grace, queued: Condvar::new(), answered: Condvar::new() }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The next request, waiting up to `wait` for one (`None`: until one comes or
    /// the queue closes). Its `timeout` is what is left of the sink's (the time it
    /// spent queued is already gone), but at least half the grace: the sink then
    /// waits for that timeout plus the grace from now, so an answer within the
    /// timeout it was given always counts.
    pub fn take(&self, wait: Option<Duration>) -> Taken {
        let deadline = wait.map(|w| Instant::now() + w);
        let mut state = self.lock();
        loop {
            if state.phase != Phase::Open {
                return Taken::Closed;
            }
            if let Some((mut task, due)) = state.queue.pop_front().filter(|_| state.paused.is_none()) {
                let now = Instant::now();
                task.timeout = due.saturating_duration_since(now).max(self.grace / 2);
                state.slots.insert(task.id, Slot::Sent { answer_by: now + task.timeout + self.grace });
                return Taken::Task(task);
            }
            state = match deadline {
                None => self.queued.wait(state).unwrap_or_else(|p| p.into_inner()),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Taken::Idle;
                    }
                    self.queued.wait_timeout(state, left).unwrap_or_else(|p| p.into_inner()).0
                }
            };
        }
    }

    /// Reports what became of request `id`. `false` when nobody waits for it
    /// any more (it timed out, or the SDK closed): the result is dropped and the
    /// batch will be sent again.
    pub fn finish(&self, id: u64, mut result: UploadResult) -> bool {
        if let UploadResult::Response { body, .. } = &mut result {
            truncate_at_char(body, BODY_LIMIT);
        }
        let mut state = self.lock();
        match state.slots.get_mut(&id) {
            Some(slot @ Slot::Sent { .. }) => {
                *slot = Slot::Answered(result);
                drop(state);
                self.answered.notify_all();
                true
            }
            _ => false,
        }
    }

    /// The phone's policy forbids uploads (`Some(why)`) or allows them again
    /// (`None`). Once this returns with a reason, no request is handed to the
    /// app's uploader: those not yet taken fail as retries (nothing was sent)
    /// and new ones fail at once until uploads are allowed again.
    pub fn set_paused(&self, why: Option<&'static str>) {
        let mut state = self.lock();
        if state.paused == why {
            return;
        }
        state.paused = why;
        if let Some(why) = why {
            let withdrawn: Vec<u64> = state.queue.drain(..).map(|(task, _)| task.id).collect();
            for id in withdrawn {
                let failed = UploadResult::Failed(format!("uploads paused ({why}); the request was never sent"));
                state.slots.insert(id, Slot::Answered(failed));
            }
        }
        drop(state);
        self.queued.notify_all();
        self.answered.notify_all();
    }

    /// Starts closing: the uploader loop ends, new requests and those not yet
    /// taken fail at once (nothing was sent), answers to taken ones are still awaited.
    pub fn begin_close(&self) {
        self.set_phase(Phase::Closing);
    }

    /// Ends the uploader loop and fails every request still waiting (as retries).
    pub fn close(&self) {
        self.set_phase(Phase::Closed);
    }

    fn set_phase(&self, phase: Phase) {
        let mut state = self.lock();
        state.phase = phase;
        state.queue.clear();
        drop(state);
        self.queued.notify_all();
        self.answered.notify_all();
    }

    /// Queues one request and waits for the app's answer (the sink's side).
    ///
    /// # Errors
    /// No answer in time, a network failure or a closed SDK: as [`Outcome::Retry`].
    pub(crate) fn send(
        &self,
        url: &str,
        headers: Vec<(String, String)>,
        body: &[u8],
        timeout: Duration,
    ) -> Result<Reply, Outcome> {
        let retry = |reason: String| Outcome::Retry { after: None, reason: format!("{url}: {reason}") };
        let mut state = self.lock();
        if state.phase != Phase::Open {
            return Err(retry("the SDK is closing".into()));
        }
        if let Some(why) = state.paused {
            return Err(retry(format!("uploads paused ({why})")));
        }
        state.next_id += 1;
        let id = state.next_id;
        let task = UploadTask { id, url: url.to_string(), headers, body: body.to_vec(), timeout };
        let due = Instant::now() + timeout;
        state.queue.push_back((task, due));
        state.slots.insert(id, Slot::Queued { answer_by: due + self.grace });
        self.queued.notify_one();
        loop {
            if let Some(Slot::Answered(_)) = state.slots.get(&id) {
                return match state.slots.remove(&id) {
                    Some(Slot::Answered(UploadResult::Response { status, retry_after, body })) => {
                        Ok(Reply { status, retry_after, body })
                    }
                    Some(Slot::Answered(UploadResult::Failed(reason))) => Err(retry(reason)),
                    _ => Err(retry("lost its answer".into())),
                };
            }
            let (answer_by, queued) = match state.slots.get(&id) {
                Some(Slot::Queued { answer_by }) => (*answer_by, true),
                Some(Slot::Sent { answer_by }) => (*answer_by, false),
                _ => (Instant::now(), false),
            };
            let left = answer_by.saturating_duration_since(Instant::now());
            let phase = state.phase;
            if phase == Phase::Closed || (phase == Phase::Closing && queued) || left.is_zero() {
                state.slots.remove(&id);
                state.queue.retain(|(t, _)| t.id != id);
                return Err(retry(match (phase, queued) {
                    (Phase::Closed, _) => "the SDK closed before the app's uploader answered".into(),
                    (Phase::Closing, true) => "the SDK is closing; the request was never sent".into(),
                    (_, true) => "the app's uploader did not take the request (is it running?)".into(),
                    _ => format!("the app's uploader did not answer within its timeout plus {:?}", self.grace),
                }));
            }
            state = self.answered.wait_timeout(state, left).unwrap_or_else(|p| p.into_inner()).0;
        }
    }
}

/// Shortens `text` to at most `limit` bytes, on a character boundary.
fn truncate_at_char(text: &mut String, limit: usize) {
    if text.len() > limit {
        let mut end = limit;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::thread;

    fn send_in_thread(uploads: &Arc<PlatformUploads>, timeout: Duration) -> thread::JoinHandle<Result<Reply, Outcome>> {
        let uploads = uploads.clone();
        thread::spawn(move || uploads.send("http://up/x", vec![("X-Sluice-Batch".into(), "b1".into())], b"[]", timeout))
    }

    fn task(taken: Taken) -> UploadTask {
        match taken {
            Taken::Task(task) => task,
            other => panic!("expected a task, got {other:?}"),
        }
    }

    #[test]
    fn a_request_goes_to_the_uploader_and_its_answer_back_to_the_sink() {
        let uploads = Arc::new(PlatformUploads::default());
        let sender = send_in_thread(&uploads, Duration::from_secs(5));
        let got = task(uploads.take(None));
        assert_eq!((got.url.as_str(), got.body.as_slice()), ("http://up/x", &b"[]"[..]));
        assert_eq!(got.headers, vec![("X-Sluice-Batch".to_string(), "b1".to_string())]);
        let answer = UploadResult::Response { status: 503, retry_after: Some("7".into()), body: "busy".into() };
        assert!(uploads.finish(got.id, answer));
        let reply = sender.join().unwrap().ok().unwrap();
        assert_eq!((reply.status, reply.retry_after.as_deref(), reply.body.as_str()), (503, Some("7"), "busy"));
        assert!(!uploads.finish(got.id, UploadResult::Failed("again".into())), "an answered request is stale");
    }

    #[test]
    fn a_network_failure_is_a_retry_with_its_reason() {
        let uploads = Arc::new(PlatformUploads::default());
        let sender = send_in_thread(&uploads, Duration::from_secs(5));
        let got = task(uploads.take(Some(Duration::from_secs(5))));
        assert!(uploads.finish(got.id, UploadResult::Failed("connection refused".into())));
        assert!(retry_reason(sender.join().unwrap()).contains("connection refused"));
    }

    fn retry_reason(result: Result<Reply, Outcome>) -> String {
        match result {
            Err(Outcome::Retry { reason, .. }) => reason,
            Ok(_) | Err(_) => panic!("expected a retry"),
        }
    }

    #[test]
    fn an_unanswered_request_times_out_and_a_late_answer_is_stale() {
        let uploads = Arc::new(PlatformUploads::with_grace(Duration::from_millis(50)));
        let sender = send_in_thread(&uploads, Duration::from_millis(300));
        let got = task(uploads.take(Some(Duration::from_secs(5))));
        let reason = retry_reason(sender.join().unwrap());
        assert!(reason.contains("did not answer within"), "{reason}");
        assert!(!uploads.finish(got.id, UploadResult::Failed("late".into())));
    }

    #[test]
    fn a_request_taken_late_gets_time_to_answer_and_its_answer_counts() {
        let grace = Duration::from_millis(400);
        let uploads = Arc::new(PlatformUploads::with_grace(grace));
        let sender = send_in_thread(&uploads, Duration::from_millis(50));
        // Taken past the sink's own timeout, within the grace.
        thread::sleep(Duration::from_millis(300));
        let got = task(uploads.take(Some(Duration::ZERO)));
        assert_eq!(got.timeout, grace / 2, "a late request still gets half the grace to run");
        // Answered within that timeout, but after the sink's first deadline (its timeout plus the grace).
        thread::sleep(Duration::from_millis(180));
        let ok = UploadResult::Response { status: 200, retry_after: None, body: String::new() };
        assert!(uploads.finish(got.id, ok), "an answer within the timeout the uploader was given is stale");
        assert_eq!(sender.join().unwrap().ok().map(|r| r.status), Some(200));
    }

    #[test]
    fn a_request_nobody_takes_says_so_and_leaves_the_queue() {
        let uploads = Arc::new(PlatformUploads::with_grace(Duration::from_millis(10)));
        let reason = retry_reason(send_in_thread(&uploads, Duration::from_millis(10)).join().unwrap());
        assert!(reason.contains("is it running?"), "{reason}");
        assert!(matches!(uploads.take(Some(Duration::ZERO)), Taken::Idle), "the expired request was taken back");
    }

    #[test]
    fn closing_fails_waiting_requests_and_ends_the_uploader_loop() {
        let uploads = Arc::new(PlatformUploads::default());
        let sender = send_in_thread(&uploads, Duration::from_secs(30));
        let got = task(uploads.take(None));
        uploads.close();
        assert!(retry_reason(sender.join().unwrap()).contains("closed"));
        assert!(!uploads.finish(got.id, UploadResult::Failed("late".into())));
        assert!(matches!(uploads.take(None), Taken::Closed));
    }

    #[test]
    fn take_waits_only_as_long_as_asked() {
        let uploads = PlatformUploads::default();
        assert!(matches!(uploads.take(Some(Duration::from_millis(20))), Taken::Idle));
        assert!(!uploads.finish(12345, UploadResult::Failed("made up".into())));
    }

    #[test]
    fn closing_wakes_a_blocked_uploader() {
        let uploads = Arc::new(PlatformUploads::default());
        let waiting = {
            let uploads = uploads.clone();
            thread::spawn(move || uploads.take(None))
        };
        thread::sleep(Duration::from_millis(50));
        uploads.begin_close();
        assert!(matches!(waiting.join().unwrap(), Taken::Closed));
    }

    #[test]
    fn closing_fails_untaken_requests_at_once_and_still_takes_answers_to_sent_ones() {
        let uploads = Arc::new(PlatformUploads::default());
        let sent = send_in_thread(&uploads, Duration::from_secs(30));
        let in_flight = task(uploads.take(None));
        let untaken = send_in_thread(&uploads, Duration::from_secs(30));
        while uploads.lock().queue.is_empty() {
            thread::sleep(Duration::from_millis(1));
        }
        uploads.begin_close();
        assert!(retry_reason(untaken.join().unwrap()).contains("never sent"));
        assert!(matches!(uploads.take(None), Taken::Closed), "the loop ends once closing starts");
        let ok = UploadResult::Response { status: 200, retry_after: None, body: String::new() };
        assert!(uploads.finish(in_flight.id, ok), "an answer to a request already sent still counts");
        assert_eq!(sent.join().unwrap().ok().map(|r| r.status), Some(200));
    }

    #[test]
    fn answers_reach_their_own_senders_and_the_timeout_left_is_passed_on() {
        let uploads = Arc::new(PlatformUploads::default());
        let senders: Vec<_> = (0..4u16)
            .map(|i| {
                let uploads = uploads.clone();
                thread::spawn(move || {
                    let reply = uploads.send(&format!("http://up/{i}"), Vec::new(), b"", Duration::from_secs(30));
                    (i, reply.ok().map(|r| r.status))
                })
            })
            .collect();
        let mut taken: Vec<UploadTask> = (0..4).map(|_| task(uploads.take(None))).collect();
        taken.reverse();
        for t in &taken {
            assert!(t.timeout <= Duration::from_secs(30) && t.timeout > Duration::from_secs(20), "{:?}", t.timeout);
            // Each answer names the request it belongs to; answered in another order than sent.
            let i: u16 = t.url.rsplit('/').next().and_then(|n| n.parse().ok()).unwrap();
            assert!(uploads
                .finish(t.id, UploadResult::Response { status: 200 + i, retry_after: None, body: String::new() }));
        }
        for sender in senders {
            let (i, status) = sender.join().unwrap();
            assert_eq!(status, Some(200 + i), "sender {i} got another request's answer");
        }
        assert!(uploads.lock().slots.is_empty(), "every answered request left the table");
    }

    #[test]
    fn a_pause_withdraws_untaken_requests_and_hands_out_nothing_until_lifted() {
        let uploads = Arc::new(PlatformUploads::default());
        let untaken = send_in_thread(&uploads, Duration::from_secs(30));
        while uploads.lock().queue.is_empty() {
            thread::sleep(Duration::from_millis(1));
        }
        uploads.set_paused(Some("offline"));
        assert!(retry_reason(untaken.join().unwrap()).contains("never sent"));
        assert!(matches!(uploads.take(Some(Duration::ZERO)), Taken::Idle));
        let refused = uploads.send("http://up", Vec::new(), b"", Duration::from_secs(1));
        assert!(retry_reason(refused).contains("paused (offline)"));
        uploads.set_paused(None);
        let sender = send_in_thread(&uploads, Duration::from_secs(30));
        let got = task(uploads.take(Some(Duration::from_secs(5))));
        assert!(uploads.finish(got.id, UploadResult::Response { status: 200, retry_after: None, body: String::new() }));
        assert_eq!(sender.join().unwrap().ok().map(|r| r.status), Some(200));
    }

    #[test]
    fn a_closed_queue_refuses_new_requests() {
        let uploads = PlatformUploads::default();
        uploads.close();
        assert!(matches!(
            uploads.send("http://up", Vec::new(), b"", Duration::from_secs(1)),
            Err(Outcome::Retry { .. })
        ));
    }

    #[test]
    fn long_answers_are_cut_on_a_character_boundary() {
        let mut text = "é".repeat(BODY_LIMIT);
        truncate_at_char(&mut text, BODY_LIMIT + 1);
        assert_eq!(text.len(), BODY_LIMIT);
    }
}
