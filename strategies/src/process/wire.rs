//! The messages between a strategy and its worker processes, and their framing on a pipe.
//!
//! Messages are serialized with `postcard`: a compact, documented and stable wire format
//! (varint integers, length-prefixed bytes) driven by serde, so the messages are plain Rust
//! types; byte payloads go through `serde_bytes` as one length and one copy, not byte by byte,
//! and are borrowed from the receive buffer when decoded. Each frame is its length (8 bytes,
//! little-endian) followed by the message. The protocol is strictly request and reply: a
//! worker answers every message with one message, so neither side ever writes while the other
//! is blocked writing too.

use std::borrow::Cow;
use std::io::{self, Read, Write};

use parbench_workloads::Recipe;
use serde::{Deserialize, Serialize};

use crate::{FailurePolicy, Span, TaskOutcome};

/// The largest frame accepted: far above any input parbench generates, far below a corrupt
/// length read from a broken stream.
const MAX_FRAME: u64 = 1 << 40;

/// What the strategy sends a worker.
#[derive(Debug, Serialize, Deserialize)]
pub enum ToWorker<'a> {
    /// The first message: everything the worker needs to serve tasks.
    Hello(Hello),
    /// A run starts: reserve room for `capacity` spans (in the shared log when given).
    Begin {
        /// Tasks in the run: no worker records more spans.
        capacity: u32,
        /// Where to write the spans, for workers that share memory with the strategy.
        log: Option<LogPlace>,
    },
    /// Run one task.
    Task {
        /// Its position in the run's task list.
        index: u32,
        /// Its id.
        id: u32,
        /// Its first item.
        start: u64,
        /// One past its last item.
        end: u64,
        /// The items' bytes, when they travel with the task.
        #[serde(borrow, with = "serde_bytes")]
        bytes: &'a [u8],
        /// The items' absolute offsets (one more than items) for variable-size items that
        /// travel with the task; empty otherwise.
        #[serde(borrow)]
        offsets: Cow<'a, [u64]>,
    },
    /// The run is over: return the spans.
    End,
    /// Report your memory and exit.
    Shutdown,
}

/// The worker's configuration.
#[derive(Debug, Serialize, Deserialize)]
pub struct Hello {
    /// The strategy's process: the worker exits when it is gone.
    pub parent: u32,
    /// The worker's index, its lane in the spans.
    pub worker: u32,
    /// How to build the workload.
    pub recipe: Recipe,
    /// The seed tasks see.
    pub seed: u64,
    /// The failure policy (retries happen in the worker).
    pub policy: FailurePolicy,
    /// Whether the parent's clock reads the time-stamp counter.
    pub tsc: bool,
    /// Bytes per item of a fixed-size input, 0 for variable-size items.
    pub item_len: u64,
    /// Where the input and output live, for workers that share memory with the strategy.
    pub shared: Option<SharedPlace>,
}

/// A shared-memory segment holding the input, its offsets and the output buffer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SharedPlace {
    /// The segment's path.
    pub path: String,
    /// Its length in bytes.
    pub len: u64,
    /// The input's bytes within it.
    pub input: (u64, u64),
    /// The input's item offsets (8-byte aligned, `items + 1` of them) for variable-size items.
    pub offsets: Option<(u64, u64)>,
    /// Items in the input.
    pub items: u64,
    /// The output buffer within it.
    pub output: (u64, u64),
}

/// A worker's part of a shared span log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogPlace {
    /// The segment's path.
    pub path: String,
    /// Its length in bytes.
    pub len: u64,
    /// Where this worker's spans start.
    pub offset: u64,
}

/// What a worker sends back.
#[derive(Debug, Serialize, Deserialize)]
pub enum FromWorker<'a> {
    /// Hello received: the workload is built and the segment mapped.
    Ready,
    /// Begin received: the log is reserved.
    Began,
    /// A task's outcome, and its output when the output travels back.
    Done {
        /// The task's position in the run.
        index: u32,
        /// How it ended.
        outcome: TaskOutcome,
        /// Its part of the output buffer, unless the buffer is shared.
        #[serde(borrow, with = "serde_bytes")]
        output: &'a [u8],
    },
    /// The run's spans in raw clock ticks, or, with a shared log, how many it wrote there.
    Logged {
        /// The spans, when they travel back.
        spans: Vec<Span>,
        /// Spans written to the shared log.
        shared: u32,
        /// CPU time (user + system) the worker spent from `Begin` to `End`.
        cpu_ns: u64,
    },
    /// Shutdown received: the worker's memory, read just before it exits.
    Bye {
        /// `VmHWM`.
        peak_rss_bytes: u64,
        /// `RssShmem`.
        shared_rss_bytes: u64,
    },
    /// The worker cannot go on (e.g. the workload could not be built).
    Fatal(String),
}

/// Why a frame could not be sent or received.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The other side closed its end: at a frame boundary, it exited.
    #[error("the pipe was closed")]
    Closed,
    /// Reading or writing the pipe failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// A frame that does not decode.
    #[error("a malformed message: {0}")]
    Decode(#[from] postcard::Error),
    /// A length no frame has.
    #[error("a frame of {0} bytes")]
    Length(u64),
}

/// Writes frames to one pipe through a reused buffer.
#[derive(Debug)]
pub struct Sender<W> {
    pipe: W,
    buf: Vec<u8>,
}

impl<W: Write> Sender<W> {
    /// Frames messages into `pipe`.
    pub fn new(pipe: W) -> Self {
        Self {
            pipe,
            buf: Vec::new(),
        }
    }

    /// Sends `message`; returns the bytes written.
    pub fn send(&mut self, message: &impl Serialize) -> Result<u64, WireError> {
        self.buf.clear();
        self.buf.extend_from_slice(&[0; 8]);
        let mut buf = postcard::to_extend(message, std::mem::take(&mut self.buf))?;
        let len = (buf.len() - 8) as u64;
        buf[..8].copy_from_slice(&len.to_le_bytes());
        let written = self.pipe.write_all(&buf).and_then(|()| self.pipe.flush());
        self.buf = buf;
        match written {
            Ok(()) => Ok(self.buf.len() as u64),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Err(WireError::Closed),
            Err(e) => Err(e.into()),
        }
    }

    /// The pipe.
    #[cfg(test)]
    pub fn get_ref(&self) -> &W {
        &self.pipe
    }
}

/// Reads frames from one pipe into a reused buffer.
#[derive(Debug)]
pub struct Receiver<R> {
    pipe: R,
    buf: Vec<u8>,
}

impl<R: Read> Receiver<R> {
    /// Reads messages framed on `pipe`.
    pub fn new(pipe: R) -> Self {
        Self {
            pipe,
            buf: Vec::new(),
        }
    }

    /// Receives one message, borrowing its byte payloads from the buffer; also returns the
    /// bytes read.
    pub fn recv<'a, T: Deserialize<'a>>(&'a mut self) -> Result<(T, u64), WireError> {
        let mut header = [0u8; 8];
        read_all(&mut self.pipe, &mut header)?;
        let len = u64::from_le_bytes(header);
        if len > MAX_FRAME {
            return Err(WireError::Length(len));
        }
        // Grows once to the largest frame, then is reused without clearing.
        if self.buf.len() < len as usize {
            self.buf.resize(len as usize, 0);
        }
        let frame = &mut self.buf[..len as usize];
        read_all(&mut self.pipe, frame)?;
        Ok((postcard::from_bytes(frame)?, 8 + len))
    }

    /// The pipe.
    pub fn get_ref(&self) -> &R {
        &self.pipe
    }
}

/// `read_exact`, telling a pipe closed before the frame from a failed read.
fn read_all(pipe: &mut impl Read, buf: &mut [u8]) -> Result<(), WireError> {
    match pipe.read_exact(buf) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(WireError::Closed),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_count_their_bytes() {
        let mut sender = Sender::new(Vec::new());
        let bytes = [7u8; 300];
        let sent = sender
            .send(&ToWorker::Task {
                index: 3,
                id: 4,
                start: 10,
                end: 12,
                bytes: &bytes,
                offsets: Cow::Borrowed(&[0, 100, 300]),
            })
            .unwrap();
        sender.send(&ToWorker::End).unwrap();
        let wire = sender.get_ref().clone();
        // Header 8, tag 1, four small varints 4, length 2 + 300 bytes, offsets 1 + 1 + 1 + 2.
        assert_eq!(sent, 320);

        let mut receiver = Receiver::new(&wire[..]);
        let (message, read) = receiver.recv::<ToWorker<'_>>().unwrap();
        assert_eq!(read, sent);
        match message {
            ToWorker::Task {
                index,
                id,
                start,
                end,
                bytes,
                offsets,
            } => {
                assert_eq!((index, id, start, end), (3, 4, 10, 12));
                assert_eq!(bytes, &[7u8; 300][..]);
                assert_eq!(&*offsets, &[0, 100, 300]);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            receiver.recv::<ToWorker<'_>>().unwrap().0,
            ToWorker::End
        ));
        assert!(matches!(
            receiver.recv::<ToWorker<'_>>(),
            Err(WireError::Closed)
        ));
    }

    #[test]
    fn a_corrupt_length_is_refused() {
        let wire = u64::MAX.to_le_bytes();
        let mut receiver = Receiver::new(&wire[..]);
        assert!(matches!(
            receiver.recv::<FromWorker<'_>>(),
            Err(WireError::Length(u64::MAX))
        ));
    }
}
