//! A lookup service and its two clients: the waiting half of the crate's work.
//!
//! [`Lookup`] is a server on 127.0.0.1 that answers each key with [`value_of`] after a fixed
//! latency, as a database or a remote cache would. [`Client`] asks it from async code (tokio),
//! [`BlockingClient`] from plain threads; both keep their connections open and reuse them, so
//! a client with many requests in flight holds as many connections, and one asking in turn
//! holds one.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the service answers for `key`: a mix of its bits, so that a wrong or swapped answer
/// shows.
///
/// ```
/// assert_ne!(parbench_example::value_of(1), parbench_example::value_of(2));
/// ```
pub fn value_of(key: u64) -> u64 {
    let mut x = key.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A lookup server on 127.0.0.1: a thread per connection, each request (a key of 8 bytes,
/// little-endian) answered with its value after `latency`. Stopped when dropped.
///
/// ```
/// use std::time::Duration;
/// use parbench_example::{value_of, BlockingClient, Lookup};
///
/// let server = Lookup::start(Duration::from_micros(100))?;
/// let client = BlockingClient::new(server.addr());
/// assert_eq!(client.get(7)?, value_of(7));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Lookup {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    connections: Connections,
    thread: Option<JoinHandle<()>>,
}

/// The open connections, by number: each connection's thread removes its own when it ends (a
/// long run opens thousands, and a kept copy holds a descriptor), and a stop shuts down those
/// left.
type Connections = Arc<Mutex<HashMap<u64, TcpStream>>>;

impl Lookup {
    /// Starts the server on a free port.
    pub fn start(latency: Duration) -> io::Result<Lookup> {
        let listener = listen(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let addr = listener.local_addr()?;
        let stopping = Arc::new(AtomicBool::new(false));
        let connections: Connections = Arc::default();
        let (stop, open) = (Arc::clone(&stopping), Arc::clone(&connections));
        let thread = std::thread::spawn(move || {
            for (number, stream) in (0u64..).zip(listener.incoming()) {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                // A copy to shut down on stop, which ends the connection's thread.
                let Ok(copy) = stream.try_clone() else {
                    continue;
                };
                lock(&open).insert(number, copy);
                let open = Arc::clone(&open);
                std::thread::spawn(move || {
                    serve(stream, latency);
                    lock(&open).remove(&number);
                });
            }
        });
        Ok(Lookup {
            addr,
            stopping,
            connections,
            thread: Some(thread),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// A listener whose queue of connections to accept holds a burst of 1,024 (the standard
/// library's holds 128): a client that opens hundreds at once would otherwise see some of them
/// dropped and retried by the kernel a second later, then 3, then 7...
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// Answers one connection's requests until it closes.
fn serve(mut stream: TcpStream, latency: Duration) {
    let _ = stream.set_nodelay(true);
    let mut key = [0u8; 8];
    while stream.read_exact(&mut key).is_ok() {
        std::thread::sleep(latency);
        let value = value_of(u64::from_le_bytes(key));
        if stream.write_all(&value.to_le_bytes()).is_err() {
            break;
        }
    }
}

impl Drop for Lookup {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wakes the accepting thread, which then sees it should stop.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        for (_, connection) in lock(&self.connections).drain() {
            let _ = connection.shutdown(Shutdown::Both);
        }
    }
}

/// A lock that a panicked holder did not spoil: the data (idle connections) stays valid.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An async client of a [`Lookup`] server: a request takes an idle connection or opens one,
/// and gives it back when answered.
///
/// ```
/// use std::time::Duration;
/// use parbench_example::{value_of, Client, Lookup};
///
/// let server = Lookup::start(Duration::from_millis(1))?;
/// let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// let client = Client::new(server.addr());
/// // Three requests at once, on three connections: about 1 ms in all, not 3.
/// let (a, b, c) = runtime.block_on(async { tokio::join!(client.get(1), client.get(2), client.get(3)) });
/// assert_eq!([a?, b?, c?], [value_of(1), value_of(2), value_of(3)]);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Client {
    addr: SocketAddr,
    idle: Mutex<Vec<tokio::net::TcpStream>>,
}

impl Client {
    /// A client of the server at `addr`, with no connection yet.
    pub fn new(addr: SocketAddr) -> Client {
        Client {
            addr,
            idle: Mutex::default(),
        }
    }

    /// The value of `key`.
    pub async fn get(&self, key: u64) -> io::Result<u64> {
        let idle = lock(&self.idle).pop();
        let mut stream = match idle {
            Some(stream) => stream,
            None => {
                let stream = tokio::net::TcpStream::connect(self.addr).await?;
                stream.set_nodelay(true)?;
                stream
            }
        };
        stream.write_all(&key.to_le_bytes()).await?;
        let mut value = [0u8; 8];
        stream.read_exact(&mut value).await?;
        lock(&self.idle).push(stream);
        Ok(u64::from_le_bytes(value))
    }
}

/// A blocking client of a [`Lookup`] server: the same protocol, each request blocking its
/// thread until the answer comes.
pub struct BlockingClient {
    addr: SocketAddr,
    idle: Mutex<Vec<TcpStream>>,
}

impl BlockingClient {
    /// A client of the server at `addr`, with no connection yet.
    pub fn new(addr: SocketAddr) -> BlockingClient {
        BlockingClient {
            addr,
            idle: Mutex::default(),
        }
    }

    /// The value of `key`.
    pub fn get(&self, key: u64) -> io::Result<u64> {
        let idle = lock(&self.idle).pop();
        let mut stream = match idle {
            Some(stream) => stream,
            None => {
                let stream = TcpStream::connect(self.addr)?;
                stream.set_nodelay(true)?;
                stream
            }
        };
        stream.write_all(&key.to_le_bytes())?;
        let mut value = [0u8; 8];
        stream.read_exact(&mut value)?;
        lock(&self.idle).push(stream);
        Ok(u64::from_le_bytes(value))
    }
}
