//! The `http` workload against its real server on 127.0.0.1.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{build, run};
use parbench_workloads::builtin::http::{expected_body, HttpServer};
use parbench_workloads::{plan_tasks, Environment, Registry, TaskContext, Value};
use tokio::sync::Semaphore;

fn get(addr: std::net::SocketAddr, target: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn the_server_answers_on_a_free_port_and_is_gone_after_stop() {
    let server = HttpServer::start().unwrap();
    let addr = server.addr();
    assert!(addr.ip().is_loopback());
    assert_ne!(addr.port(), 0);
    let response = get(addr, "/item/abc?delay_ms=0&bytes=100");
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    let body = response.split("\r\n\r\n").nth(1).unwrap();
    assert_eq!(body.as_bytes(), expected_body(b"/item/abc", 100).as_slice());
    assert!(get(addr, "/item/abc").starts_with("HTTP/1.1 400"));

    // A second server gets another free port.
    let other = HttpServer::start().unwrap();
    assert_ne!(other.addr(), addr);

    Box::new(server).stop().unwrap();
    let refused = TcpStream::connect_timeout(&addr, Duration::from_secs(1));
    assert!(
        refused.is_err(),
        "the port still accepts connections after stop"
    );
    drop(other);
}

#[test]
fn the_latency_is_applied_per_request() {
    let server = HttpServer::start().unwrap();
    let vars = server.vars();
    let slow = build("http", &[("latency_ms", Value::Int(20))], &vars);
    let input = slow.generate(5, 3);
    let started = Instant::now();
    let sample = run(slow.as_ref(), &input, 1, 3, 1);
    assert_eq!(sample.failures, []);
    // Five sequential requests, each held at least 20 ms by the server.
    assert!(
        started.elapsed() >= Duration::from_millis(100),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_thousand_requests_in_flight_on_the_async_path() {
    let server = HttpServer::start().unwrap();
    let vars = server.vars();
    let http = build("http", &[("latency_ms", Value::Int(200))], &vars);
    let input = http.generate(1_000, 5);
    // The bodies do not depend on the latency: the blocking path without it is the reference.
    let quick = build("http", &[("latency_ms", Value::Int(0))], &vars);
    let expected = run(quick.as_ref(), &input, 10, 5, 1).answer(quick.as_ref());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let len = http.output_len();
    let mut output = vec![0u8; 1_000 * len];
    let tasks = plan_tasks(1_000, 1).unwrap();
    let started = Instant::now();
    runtime.block_on(async {
        let session = http.as_async().unwrap().session().unwrap();
        let in_flight = Semaphore::new(1_000);
        let context = TaskContext {
            task: tasks[0].clone(),
            attempt: 1,
            seed: 5,
        };
        session
            .run_task(&context, input.view(), &mut output, &in_flight)
            .await
            .unwrap();
    });
    let elapsed = started.elapsed();
    let answer = parbench_workloads::Answer::compute(
        http.as_ref(),
        &output,
        &tasks,
        &[Some(Vec::new())],
        Vec::new(),
    );
    assert_eq!(
        answer, expected,
        "the async path disagrees with the blocking one"
    );
    // 1,000 requests held 200 ms each take 200 s one after another; under 10 s means more
    // than 20 were in flight at every moment on average (all 1,000 take well under 2 s).
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    drop(runtime);
}

#[test]
fn a_missing_server_is_a_clear_error_and_a_dead_one_fails_tasks() {
    let registry = Registry::builtin();
    let spec = registry.get("http").unwrap();
    let params = spec.resolve(&Default::default()).unwrap();
    let err = spec
        .instantiate(&params, &Default::default())
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "workload `http` needs the `http-server` environment, which is not running \
         (missing `http.addr`)"
    );
    let server = HttpServer::start().unwrap();
    let vars = server.vars();
    drop(server);
    let http = spec.instantiate(&params, &vars).unwrap();
    let input = http.generate(4, 1);
    let sample = run(http.as_ref(), &input, 2, 1, 1);
    assert_eq!(
        sample.failures.len(),
        2,
        "requests to a stopped server must fail"
    );
}
