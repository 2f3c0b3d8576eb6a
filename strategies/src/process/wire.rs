//! The messages between a strategy and its worker processes, and their framing on a pipe.
//!
//! Messages are serialized with `postcard`: a compact, documented and stable wire format
//! (varint integers, length-prefixed sequences) driven by serde, so the messages are plain Rust
//! types. A frame is the message's length and its payload's length (8 bytes each,
//! little-endian), the message, then the payload: the bulk bytes (a task's input, its output)
//! go to the pipe straight from where they lie and are read straight to where they belong,
//! so the only copies are the kernel's.
//!
//! A worker answers every message but `Cancel` with one message. The strategy may send a worker
//! several chunks of tasks before the first answer (tasks queued ahead), but never more bytes
//! than the worker's pipe holds, beyond the first message: so its writes never wait on a worker
//! that is itself waiting to write an answer, and neither side can block the other for good.

use std::io::{self, BufReader, Read, Write};
use std::os::fd::AsFd;

use parbench_workloads::Recipe;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{FailurePolicy, Span, TaskOutcome};

/// The largest frame accepted: far above any input parbench generates, far below a corrupt
/// length read from a broken stream.
const MAX_FRAME: u64 = 1 << 40;

/// Payload bytes up to which a frame is copied into one buffer and written at once.
const SMALL_FRAME: usize = 64 << 10;

/// What the strategy sends a worker.
#[derive(Debug, Serialize, Deserialize)]
pub enum ToWorker {
    /// The first message: everything the worker needs to serve tasks.
    Hello(Hello),
    /// A run starts: reserve room for `capacity` spans (in the shared log when given).
    Begin {
        /// Tasks in the run: no worker records more spans.
        capacity: u32,
        /// Where to write the spans, for workers that share memory with the strategy.
        log: Option<LogPlace>,
    },
    /// Run a chunk of tasks, in order; the payload is their items' bytes, one task after the
    /// other, when they travel with them.
    Tasks {
        /// The tasks.
        tasks: Vec<TaskHead>,
        /// For variable-size items that travel with the tasks: each task's absolute item
        /// offsets (one more than its items), one task after the other; empty otherwise.
        offsets: Vec<u64>,
    },
    /// A task failed under fail-fast: answer every chunk still queued with its tasks skipped,
    /// until the run ends. Not answered.
    Cancel,
    /// A round of a workload of rounds starts: the chunks that follow map their items under
    /// `state`. With `keep`, the worker keeps each chunk that follows (its tasks and the
    /// items that travelled with it) for [`ToWorker::Replay`]. Not answered.
    State {
        /// The round's state.
        state: Vec<u8>,
        /// Keep the round's chunks and their items.
        keep: bool,
    },
    /// Run every chunk kept since the last `State` with `keep` again, in the order they came,
    /// under the current state: each answered as a chunk sent now would be.
    Replay,
    /// The run is over: return the spans.
    End,
    /// Report your memory and exit.
    Shutdown,
}

/// One task of a chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskHead {
    /// Its position in the run's task list.
    pub index: u32,
    /// Its id.
    pub id: u32,
    /// Its first item.
    pub start: u64,
    /// One past its last item.
    pub end: u64,
}

/// The most bytes a `Tasks` frame takes with `tasks` tasks, `offsets` offsets and `payload`
/// bytes: its lengths, its tag, two sequence lengths and every varint at its widest.
pub fn tasks_frame_bound(tasks: usize, offsets: usize, payload: usize) -> u64 {
    (16 + 1 + 2 * 10 + tasks * (5 + 5 + 10 + 10) + offsets * 10 + payload) as u64
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
    /// Profile this worker at this rate from now to `Shutdown`.
    pub profile: Option<u32>,
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
pub enum FromWorker {
    /// Hello received: the workload is built and the segment mapped.
    Ready,
    /// Begin received: the log is reserved.
    Began,
    /// A chunk's outcomes, in its order; the payload is the output of each task that ran (was
    /// not skipped), one after the other, unless the buffer is shared.
    Done {
        /// The chunk's first task's position in the run.
        first: u32,
        /// How each task ended.
        outcomes: Vec<TaskOutcome>,
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
        /// The worker's profile, when `Hello` asked for one.
        profile: Option<crate::profile::Stacks>,
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
    /// A payload read into a buffer of another length, or left unread.
    #[error("a payload of {pending} bytes, read as {asked}")]
    Payload {
        /// The payload's length.
        pending: u64,
        /// The length the reader expected.
        asked: u64,
    },
}

/// Writes frames to one pipe.
#[derive(Debug)]
pub struct Sender<W> {
    pipe: W,
    /// The lengths and the message, reused from frame to frame.
    head: Vec<u8>,
}

impl<W: Write> Sender<W> {
    /// Frames messages into `pipe`.
    pub fn new(pipe: W) -> Self {
        Self {
            pipe,
            head: Vec::new(),
        }
    }

    /// Sends `message` without a payload; returns the bytes written.
    pub fn send(&mut self, message: &impl Serialize) -> Result<u64, WireError> {
        self.send_with(message, &[])
    }

    /// Sends `message` followed by `payload`; returns the bytes written.
    pub fn send_with(
        &mut self,
        message: &impl Serialize,
        payload: &[u8],
    ) -> Result<u64, WireError> {
        self.send_with_all(message, &[payload])
    }

    /// Sends `message` followed by a payload in `parts`, written one after the other;
    /// returns the bytes written.
    pub fn send_with_all(
        &mut self,
        message: &impl Serialize,
        parts: &[&[u8]],
    ) -> Result<u64, WireError> {
        let mut head = std::mem::take(&mut self.head);
        head.clear();
        head.extend_from_slice(&[0; 16]);
        let mut head = postcard::to_extend(message, head)?;
        let len = (head.len() - 16) as u64;
        let payload: usize = parts.iter().map(|p| p.len()).sum();
        head[..8].copy_from_slice(&len.to_le_bytes());
        head[8..16].copy_from_slice(&(payload as u64).to_le_bytes());
        // A small frame goes in one write, so its reader wakes once, to a whole message; a
        // large one is written from where its parts lie, without a copy.
        let written = if payload <= SMALL_FRAME {
            parts.iter().for_each(|part| head.extend_from_slice(part));
            self.pipe.write_all(&head)
        } else {
            self.pipe
                .write_all(&head)
                .and_then(|()| parts.iter().try_for_each(|part| self.pipe.write_all(part)))
        }
        .and_then(|()| self.pipe.flush());
        let bytes = (16 + len as usize + payload) as u64;
        self.head = head;
        match written {
            Ok(()) => Ok(bytes),
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

/// Reads frames from one pipe: a message, then its payload where the caller wants it.
#[derive(Debug)]
pub struct Receiver<R> {
    pipe: R,
    /// The last message's bytes, reused.
    head: Vec<u8>,
    /// Payload bytes of the last message not read yet.
    pending: u64,
}

impl<R: Read> Receiver<R> {
    /// Reads messages framed on `pipe`.
    pub fn new(pipe: R) -> Self {
        Self {
            pipe,
            head: Vec::new(),
            pending: 0,
        }
    }

    /// Receives one message; returns it, its payload's length (to be read next, with
    /// [`Receiver::payload_into`]) and the frame's length in bytes.
    pub fn recv<T: DeserializeOwned>(&mut self) -> Result<(T, u64, u64), WireError> {
        if self.pending > 0 {
            return Err(WireError::Payload {
                pending: self.pending,
                asked: 0,
            });
        }
        let mut lengths = [0u8; 16];
        read_all(&mut self.pipe, &mut lengths)?;
        let [len, payload] = [&lengths[..8], &lengths[8..]]
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or_default()));
        if len > MAX_FRAME || payload > MAX_FRAME {
            return Err(WireError::Length(len.max(payload)));
        }
        self.head.resize(len as usize, 0);
        read_all(&mut self.pipe, &mut self.head)?;
        let message = postcard::from_bytes(&self.head)?;
        self.pending = payload;
        Ok((message, payload, 16 + len + payload))
    }

    /// Reads the last message's payload into `dest`, which must be exactly its length.
    pub fn payload_into(&mut self, dest: &mut [u8]) -> Result<(), WireError> {
        if dest.len() as u64 != self.pending {
            return Err(WireError::Payload {
                pending: self.pending,
                asked: dest.len() as u64,
            });
        }
        self.pending = 0;
        read_all(&mut self.pipe, dest)
    }

    /// Reads the next `dest.len()` bytes of the pending payload into `dest`, which must not
    /// be more than is pending.
    pub fn payload_part_into(&mut self, dest: &mut [u8]) -> Result<(), WireError> {
        if dest.len() as u64 > self.pending {
            return Err(WireError::Payload {
                pending: self.pending,
                asked: dest.len() as u64,
            });
        }
        self.pending -= dest.len() as u64;
        read_all(&mut self.pipe, dest)
    }
}

impl<R: Read + AsFd> Receiver<BufReader<R>> {
    /// Reads messages framed on `pipe` through a buffer of `capacity` bytes: a small message
    /// takes one read, and [`Receiver::ready`] can tell whether one is waiting.
    pub fn buffered(pipe: R, capacity: usize) -> Self {
        Self::new(BufReader::with_capacity(capacity, pipe))
    }

    /// Whether some of a message is in the buffer already: then the pipe's readiness does
    /// not tell.
    pub fn has_buffered(&self) -> bool {
        !self.pipe.buffer().is_empty()
    }

    /// The pipe's end, to wait on.
    pub fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.pipe.get_ref().as_fd()
    }

    /// Whether a message can be read now: some of it is buffered or waiting in the pipe (or
    /// the pipe was closed, which reading then tells). Does not block.
    pub fn ready(&self) -> io::Result<bool> {
        use rustix::event::{poll, PollFd, PollFlags};
        if self.has_buffered() {
            return Ok(true);
        }
        let fd = self.fd();
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        let zero = rustix::time::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        loop {
            match poll(&mut fds, Some(&zero)) {
                Ok(n) => return Ok(n > 0),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
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
        let head = TaskHead {
            index: 3,
            id: 4,
            start: 10,
            end: 12,
        };
        let task = ToWorker::Tasks {
            tasks: vec![head],
            offsets: vec![0, 100, 300],
        };
        let sent = sender.send_with(&task, &bytes).unwrap();
        sender.send(&ToWorker::End).unwrap();
        let wire = sender.get_ref().clone();
        // Lengths 16, tag 1, one task 1 + 4 small varints, offsets 1 + 1 + 1 + 2, payload 300.
        assert_eq!(sent, 327);
        assert!(sent <= tasks_frame_bound(1, 3, 300));
        let widest = TaskHead {
            index: u32::MAX,
            id: u32::MAX,
            start: u64::MAX,
            end: u64::MAX,
        };
        let mut wide = Sender::new(Vec::new());
        let tasks = vec![widest; 300];
        let offsets = vec![u64::MAX; 200];
        let widest_sent = wide
            .send_with(&ToWorker::Tasks { tasks, offsets }, &bytes)
            .unwrap();
        assert!(widest_sent <= tasks_frame_bound(300, 200, 300));

        let mut receiver = Receiver::new(&wire[..]);
        let (message, payload, read) = receiver.recv::<ToWorker>().unwrap();
        assert_eq!((payload, read), (300, sent));
        match message {
            ToWorker::Tasks { tasks, offsets } => {
                assert_eq!(tasks, [head]);
                assert_eq!(offsets, [0, 100, 300]);
            }
            other => panic!("{other:?}"),
        }
        // The payload is read where the caller wants it, and only at its length.
        assert!(matches!(
            receiver.recv::<ToWorker>(),
            Err(WireError::Payload { pending: 300, .. })
        ));
        assert!(receiver.payload_into(&mut [0; 299]).is_err());
        let mut into = [0u8; 300];
        receiver.payload_into(&mut into).unwrap();
        assert_eq!(into, bytes);
        assert!(matches!(
            receiver.recv::<ToWorker>().unwrap().0,
            ToWorker::End
        ));
        assert!(matches!(
            receiver.recv::<ToWorker>(),
            Err(WireError::Closed)
        ));
    }

    #[test]
    fn a_corrupt_length_is_refused() {
        let wire = [u64::MAX.to_le_bytes(), [0; 8]].concat();
        let mut receiver = Receiver::new(&wire[..]);
        assert!(matches!(
            receiver.recv::<FromWorker>(),
            Err(WireError::Length(u64::MAX))
        ));
    }
}
