//! The work of a crate that wants to know how to spread it over cores: two functions, one
//! over plain numbers and one over text, and a lookup in a service that answers after a
//! latency, with an async client and a blocking one ([`lookup`]). `benches/strategies.rs`
//! measures each under every parbench strategy.

use serde::{Deserialize, Serialize};

pub mod lookup;

pub use lookup::{value_of, BlockingClient, Client, Lookup};

/// The iterations a point of the complex plane takes to leave the circle of radius 2 under
/// `z = z² + c`, up to `limit`: the Mandelbrot set's escape time, plain arithmetic on plain data.
///
/// ```
/// assert_eq!(parbench_example::escape_time(&[0.0, 0.0], 100), 100); // inside the set
/// assert_eq!(parbench_example::escape_time(&[2.0, 2.0], 100), 1);
/// ```
pub fn escape_time(c: &[f64; 2], limit: u32) -> u32 {
    let (mut x, mut y) = (0.0f64, 0.0f64);
    for i in 0..limit {
        if x * x + y * y > 4.0 {
            return i;
        }
        (x, y) = (x * x - y * y + c[0], 2.0 * x * y + c[1]);
    }
    limit
}

/// One line of an access log, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, without its query.
    pub path: String,
    /// The HTTP status.
    pub status: u16,
    /// Bytes sent.
    pub bytes: u64,
}

/// Why a line is not a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ParseError {
    /// A field is missing.
    Missing(&'static str),
    /// A number is not one.
    NotANumber(String),
}

/// Parses `METHOD PATH?QUERY STATUS BYTES` (fields separated by spaces).
///
/// ```
/// use parbench_example::{parse, Request};
///
/// assert_eq!(
///     parse("GET /items/7?full=1 200 5120"),
///     Ok(Request { method: "GET".into(), path: "/items/7".into(), status: 200, bytes: 5120 })
/// );
/// assert!(parse("GET /").is_err());
/// ```
pub fn parse(line: &str) -> Result<Request, ParseError> {
    let mut fields = line.split(' ');
    let mut next = |name| {
        fields
            .next()
            .filter(|f| !f.is_empty())
            .ok_or(ParseError::Missing(name))
    };
    let method = next("method")?.to_owned();
    let target = next("path")?;
    let path = target
        .split_once('?')
        .map_or(target, |(path, _)| path)
        .to_owned();
    let number = |text: &str| {
        text.parse::<u64>()
            .map_err(|_| ParseError::NotANumber(text.to_owned()))
    };
    let status = number(next("status")?)? as u16;
    let bytes = number(next("bytes")?)?;
    Ok(Request {
        method,
        path,
        status,
        bytes,
    })
}

/// What a log adds up to: requests, server errors and bytes sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Lines that parsed.
    pub requests: u64,
    /// Requests answered with a 5xx status.
    pub server_errors: u64,
    /// Bytes sent.
    pub bytes: u64,
}

impl Summary {
    /// Counts one parsed line (or one that did not parse, which counts nothing).
    pub fn add(&mut self, parsed: &Result<Request, ParseError>) {
        if let Ok(request) = parsed {
            self.requests += 1;
            self.server_errors += u64::from(request.status >= 500);
            self.bytes += request.bytes;
        }
    }

    /// Adds another part of the log.
    pub fn merge(&mut self, other: Summary) {
        self.requests += other.requests;
        self.server_errors += other.server_errors;
        self.bytes += other.bytes;
    }
}
