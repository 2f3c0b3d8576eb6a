//! `http`: GET requests against a real HTTP/1.1 server on 127.0.0.1 with a set latency.
//! IO-bound.
//!
//! The server (hyper on a single-threaded tokio runtime) is the `http-server` environment: the
//! harness starts it once per run on a port the OS picks free, outside the measured workers, and
//! every cell of the run shares it. Each item is a path; the server answers after
//! `latency_ms` with a body that starts with the BLAKE3 hex digest of the path, so the client
//! verifies every response. The blocking path uses one `ureq` agent (a keep-alive pool shared by
//! the worker threads, like a `requests.Session`); the async path uses a `reqwest` client per
//! runtime and keeps a bounded number of requests in flight (the aiohttp pattern).

use std::convert::Infallible;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::{oneshot, Semaphore};

use crate::{
    AsyncSession, AsyncWorkload, BoxFuture, EnvVars, Environment, EnvironmentSpec, Input, Items,
    Layout, ParamKind, ParamSpec, Params, Partial, Scope, SplitMix64, TaskContext, TaskError,
    WorkKind, Workload, WorkloadError, WorkloadSpec,
};

/// The variable the server publishes: its `ip:port`.
pub const ADDR: &str = "http.addr";

/// Registration of `http`.
pub const SPEC: WorkloadSpec = WorkloadSpec {
    name: "http",
    description: "GETs against a local HTTP server that answers after latency_ms; IO-bound",
    kind: WorkKind::Io,
    default_size: 200,
    params: &[
        ParamSpec {
            name: "latency_ms",
            help:
                "server-side wait per request, in milliseconds (tokio's timer resolution is 1 ms)",
            kind: ParamKind::Int {
                default: 1,
                min: 0,
                max: 60_000,
            },
        },
        ParamSpec {
            name: "body_bytes",
            help: "response body size, in bytes",
            kind: ParamKind::Int {
                default: 1024,
                min: 80,
                max: 1 << 20,
            },
        },
    ],
    environment: Some(SERVER),
    build: &build,
};

/// The shared server `http` needs.
pub const SERVER: EnvironmentSpec = EnvironmentSpec {
    name: "http-server",
    start: &start_server,
    scope: Scope::Run,
};

fn build(params: &Params, env: &EnvVars) -> Result<Arc<dyn Workload>, WorkloadError> {
    let missing = || WorkloadError::MissingEnvironment {
        workload: SPEC.name.to_owned(),
        environment: SERVER.name.to_owned(),
        var: ADDR.to_owned(),
    };
    let addr: SocketAddr = env
        .get(ADDR)
        .ok_or_else(missing)?
        .parse()
        .map_err(|_| missing())?;
    let agent = ureq::Agent::config_builder()
        .proxy(None)
        .max_idle_connections(1024)
        .max_idle_connections_per_host(1024)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into();
    Ok(Arc::new(Http {
        addr,
        latency_ms: params.int("latency_ms"),
        body_bytes: params.int("body_bytes") as usize,
        agent,
    }))
}

/// Fetches one URL per item and verifies every response.
#[derive(Debug)]
pub struct Http {
    addr: SocketAddr,
    latency_ms: u64,
    body_bytes: usize,
    agent: ureq::Agent,
}

impl Http {
    fn url(&self, path: &[u8]) -> Result<String, TaskError> {
        let path =
            std::str::from_utf8(path).map_err(|_| TaskError::error("request path is not UTF-8"))?;
        Ok(format!(
            "http://{}{path}?delay_ms={}&bytes={}",
            self.addr, self.latency_ms, self.body_bytes
        ))
    }

    /// Checks a response against the body the server must send for `path`, and returns the
    /// item's output: the first 8 bytes of the body's BLAKE3 hash.
    fn check(&self, path: &[u8], body: &[u8]) -> Result<[u8; 8], TaskError> {
        if body != expected_body(path, self.body_bytes).as_slice() {
            return Err(TaskError::error(format!(
                "wrong response for {}: {} bytes, starting {:?}",
                String::from_utf8_lossy(path),
                body.len(),
                String::from_utf8_lossy(&body[..body.len().min(16)])
            )));
        }
        let mut word = [0u8; 8];
        word.copy_from_slice(&blake3::hash(body).as_bytes()[..8]);
        Ok(word)
    }
}

/// The body the server sends for `path`: the path's BLAKE3 hex digest, a newline, then the path
/// repeated up to `len` bytes.
pub fn expected_body(path: &[u8], len: usize) -> Vec<u8> {
    let mut body = Vec::with_capacity(len);
    body.extend_from_slice(blake3::hash(path).to_hex().as_bytes());
    body.push(b'\n');
    body.extend(path.iter().cycle().take(len.saturating_sub(body.len())));
    body.truncate(len);
    body
}

impl Workload for Http {
    fn name(&self) -> &str {
        SPEC.name
    }

    fn generate(&self, size: usize, seed: u64) -> Input {
        let mut rng = SplitMix64::new(seed);
        let paths: Vec<String> = (0..size)
            .map(|_| format!("/item/{:016x}", rng.next_u64()))
            .collect();
        Input::new(
            paths.concat().into_bytes(),
            Layout::from_lengths(paths.iter().map(String::len)),
        )
    }

    fn output_len(&self) -> usize {
        8
    }

    fn run_task(
        &self,
        _: &TaskContext,
        items: Items<'_>,
        out: &mut [u8],
    ) -> Result<Partial, TaskError> {
        for (path, out) in items.iter().zip(out.chunks_exact_mut(8)) {
            let url = self.url(path)?;
            let mut response = self
                .agent
                .get(&url)
                .call()
                .map_err(|e| TaskError::error(format!("GET {url}: {e}")))?;
            let body = response
                .body_mut()
                .read_to_vec()
                .map_err(|e| TaskError::error(format!("GET {url}: reading the body: {e}")))?;
            out.copy_from_slice(&self.check(path, &body)?);
        }
        Ok(Partial::new())
    }

    fn as_async(&self) -> Option<&dyn AsyncWorkload> {
        Some(self)
    }
}

impl AsyncWorkload for Http {
    fn session(&self) -> Result<Arc<dyn AsyncSession>, WorkloadError> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .tcp_nodelay(true)
            .pool_max_idle_per_host(usize::MAX)
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| WorkloadError::Environment {
                name: SERVER.name.to_owned(),
                source: io::Error::other(e),
            })?;
        Ok(Arc::new(HttpSession {
            http: Http {
                agent: self.agent.clone(),
                ..*self
            },
            client,
        }))
    }
}

struct HttpSession {
    http: Http,
    client: reqwest::Client,
}

impl HttpSession {
    async fn fetch(&self, path: &[u8], in_flight: &Semaphore) -> Result<[u8; 8], TaskError> {
        let url = self.http.url(path)?;
        let failed = |e: reqwest::Error| TaskError::error(format!("GET {url}: {e}"));
        let body = {
            let _permit = in_flight
                .acquire()
                .await
                .map_err(|_| TaskError::error("the in-flight limit was closed"))?;
            let response = self.client.get(&url).send().await.map_err(failed)?;
            response
                .error_for_status()
                .map_err(failed)?
                .bytes()
                .await
                .map_err(failed)?
        };
        self.http.check(path, &body)
    }
}

impl AsyncSession for HttpSession {
    fn run_task<'a>(
        &'a self,
        _: &'a TaskContext,
        items: Items<'a>,
        out: &'a mut [u8],
        in_flight: &'a Semaphore,
    ) -> BoxFuture<'a, Result<Partial, TaskError>> {
        Box::pin(async move {
            let fetches = items.iter().map(|path| self.fetch(path, in_flight));
            let words = futures_util::future::join_all(fetches).await;
            for (word, out) in words.into_iter().zip(out.chunks_exact_mut(8)) {
                out.copy_from_slice(&word?);
            }
            Ok(Partial::new())
        })
    }
}

/// The local HTTP server: hyper on a single-threaded tokio runtime in its own thread.
///
/// Dropping it (or [`Environment::stop`]) stops accepting, closes every connection and joins the
/// thread; the port is free again afterwards.
pub struct HttpServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl HttpServer {
    /// Starts a server on 127.0.0.1 on a port the OS picks free.
    pub fn start() -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("parbench-http-server".to_owned())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                // Returning drops the runtime, which cancels every connection task and so
                // closes their sockets.
                runtime.block_on(serve(listener, stopped))
            })?;
        Ok(Self {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn shutdown(&mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .map_err(|_| io::Error::other("the HTTP server thread panicked"))?,
            None => Ok(()),
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

impl Environment for HttpServer {
    fn vars(&self) -> EnvVars {
        EnvVars::from([(ADDR.to_owned(), self.addr.to_string())])
    }

    fn stop(mut self: Box<Self>) -> Result<(), WorkloadError> {
        self.shutdown()
            .map_err(|source| WorkloadError::Environment {
                name: SERVER.name.to_owned(),
                source,
            })
    }
}

fn start_server() -> Result<Box<dyn Environment>, WorkloadError> {
    HttpServer::start()
        .map(|server| Box::new(server) as Box<dyn Environment>)
        .map_err(|source| WorkloadError::Environment {
            name: SERVER.name.to_owned(),
            source,
        })
}

async fn serve(listener: TcpListener, mut stopped: oneshot::Receiver<()>) -> io::Result<()> {
    let listener = tokio::net::TcpListener::from_std(listener)?;
    loop {
        tokio::select! {
            _ = &mut stopped => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    tokio::spawn(async move {
                        // A client that goes away mid-request is its own business.
                        let _ = http1::Builder::new()
                            .keep_alive(true)
                            .serve_connection(TokioIo::new(stream), service_fn(respond))
                            .await;
                    });
                }
                // Out of descriptors or a connection reset before accept: back off, go on.
                Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
            },
        }
    }
}

fn query_value(query: &str, key: &str) -> Option<u64> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.parse().ok())
}

async fn respond(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let uri = request.uri();
    let query = uri.query().unwrap_or("");
    let (Some(delay_ms), Some(len)) = (query_value(query, "delay_ms"), query_value(query, "bytes"))
    else {
        let mut response = Response::new(Full::new(Bytes::from_static(
            b"expected ?delay_ms=N&bytes=N\n",
        )));
        *response.status_mut() = StatusCode::BAD_REQUEST;
        return Ok(response);
    };
    if delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    }
    let len = (len as usize).min(1 << 20);
    Ok(Response::new(Full::new(Bytes::from(expected_body(
        uri.path().as_bytes(),
        len,
    )))))
}
