//! One event, as `GET /runtime/invocation/next` or image mode's `POST /event-invoke` delivered it.

use std::time::{Duration, Instant};

use crate::FunctionMetadata;

/// One invocation: the event and what the platform said about it.
///
/// Built by [`Transport::next`](crate::Transport::next) or, in image mode, from a
/// `POST /event-invoke` request; the body is the raw event bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Invocation {
    /// The `request_id` header (image mode: `X-Scf-Request-Id`): the platform's id of this
    /// invocation.
    pub request_id: String,
    /// The raw event body (JSON for most triggers, but any bytes are possible).
    pub body: Vec<u8>,
    /// The `memory_limit_in_mb` header (image mode: `X-Scf-Memory`): the function's configured
    /// memory.
    pub memory_limit_mb: u32,
    /// The `time_limit_in_ms` header (image mode: `X-Scf-Timeout`): the function's configured
    /// timeout, a duration.
    pub time_limit: Duration,
    /// When the event arrived; the deadline counts from here.
    pub received_at: Instant,
    /// Image mode: the function metadata and credentials of this event's other `X-Scf-*`
    /// headers. `None` in runtime-API mode, where they are in the environment, read once into
    /// [`Config::metadata`].
    ///
    /// [`Config::metadata`]: crate::Config::metadata
    pub metadata: Option<FunctionMetadata>,
}

impl Invocation {
    /// Build an invocation by hand (tests, other transports).
    pub fn new(
        request_id: impl Into<String>,
        body: Vec<u8>,
        memory_limit_mb: u32,
        time_limit: Duration,
    ) -> Invocation {
        Invocation {
            request_id: request_id.into(),
            body,
            memory_limit_mb,
            time_limit,
            received_at: Instant::now(),
            metadata: None,
        }
    }

    /// The same invocation with `metadata` (as image mode delivers it).
    pub fn with_metadata(mut self, metadata: FunctionMetadata) -> Invocation {
        self.metadata = Some(metadata);
        self
    }

    /// The moment the platform stops waiting: arrival plus the time limit.
    pub fn deadline(&self) -> Instant {
        self.received_at + self.time_limit
    }

    /// Time left until [`deadline`](Self::deadline); zero once it has passed.
    pub fn remaining(&self) -> Duration {
        self.deadline().saturating_duration_since(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_counts_down_from_arrival() {
        let mut inv = Invocation::new("id", Vec::new(), 128, Duration::from_secs(3));
        assert!(inv.remaining() <= Duration::from_secs(3));
        assert!(inv.remaining() > Duration::from_secs(2));
        inv.received_at -= Duration::from_secs(10);
        assert_eq!(inv.remaining(), Duration::ZERO);
        assert_eq!(inv.deadline(), inv.received_at + Duration::from_secs(3));
    }
}
