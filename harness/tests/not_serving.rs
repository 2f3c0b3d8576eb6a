//! `parbench::run` in a binary that does not serve the hidden commands (this test binary, with
//! libtest's `main`): it refuses before doing anything, and says what to do.

use parbench::{Error, Plugins, Quiet, RunOptions, Suite, WorkloadEntry};

#[test]
fn run_refuses_clearly_in_a_binary_that_does_not_serve_the_hidden_commands() {
    let plugins = Plugins::default();
    let suite = Suite::builder("refused")
        .workload(WorkloadEntry::new("square").sizes([1_000]))
        .build(&plugins)
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("never");
    let err = parbench::run(&suite, &RunOptions::new(&dir), &mut Quiet).unwrap_err();
    assert!(matches!(err, Error::NotServing), "{err:?}");
    assert_eq!(err.exit_code(), 2);
    assert_eq!(
        err.to_string(),
        "this binary cannot run cells: parbench starts each cell by running the current binary \
         again with a hidden command (`cell`, `worker`, `timely-node`), and this one does not \
         serve them. Call `parbench::serve_hidden_commands(&plugins)` first thing in `main` (or \
         hand `main` to `parbench::main_with`)"
    );
    // Nothing was started or written.
    assert!(!dir.exists());
}

#[test]
fn a_built_suite_gets_the_errors_of_a_suite_file() {
    let plugins = Plugins::default();
    let err = Suite::builder("bad")
        .workload(WorkloadEntry::new("square").sizes([5]).tasks([6]))
        .build(&plugins)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "builder:bad: workload[0].tasks: cannot split 5 items into 6 tasks: tasks must be in 1..=5"
    );
    assert_eq!((err.line, err.column), (None, None));
    let err = Suite::builder("bad")
        .strategies(["tokio[in_fligth=2]"])
        .workload(WorkloadEntry::new("square"))
        .build(&plugins)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "builder:bad: strategies: `tokio[in_fligth=2]`: `tokio` has no parameter `in_fligth`; \
         valid: in_flight, cpu, blocking"
    );
    let err = Suite::builder("bad")
        .strategy_param("tokio", "in_flight", 0u64)
        .workload(WorkloadEntry::new("square"))
        .build(&plugins)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "builder:bad: strategy_params.tokio: parameter `in_flight` of `tokio` must be in \
         1..=100000, got 0"
    );
    let err = Suite::builder("bad")
        .ci_target(2.0)
        .workload(WorkloadEntry::new("square"))
        .build(&plugins)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "builder:bad: ci_target: must be a fraction of the median between 0 and 1 (0.02 is ±2%), \
         not 2"
    );
    let err = Suite::builder("bad")
        .workload(WorkloadEntry::new("http").param("latency_ms", u64::MAX))
        .build(&plugins)
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("builder:bad: workload[0].params: parameter `latency_ms` of `http`"),
        "{err}"
    );
    assert!(err.to_string().contains("18446744073709551615"), "{err}");
    let err = Suite::builder("empty").build(&plugins).unwrap_err();
    assert_eq!(
        err.to_string(),
        "builder:empty: workload: the suite has no [[workload]] entry"
    );
}

#[test]
fn a_built_suite_equals_the_same_suite_written_in_toml() {
    let plugins = Plugins::default();
    let built = Suite::builder("same")
        .seed(7)
        .policy(parbench_strategies::FailurePolicy::Retry(2))
        .strategies(["sequential", "tokio"])
        .strategy_param("tokio", "in_flight", 8u64)
        .workers([1, 2])
        .samples(8)
        .time_budget(std::time::Duration::from_millis(750))
        .memory_limit(512 << 20)
        .profile_time(std::time::Duration::from_secs(2))
        .workload(
            WorkloadEntry::new("http")
                .param("latency_ms", 3u64)
                .sizes([10, 20])
                .tasks_sweep("1..=10 x10"),
        )
        .build(&plugins)
        .unwrap();
    let written = Suite::parse(
        "name = \"same\"\nseed = 7\npolicy = \"retry(2)\"\nstrategies = [\"sequential\", \"tokio\"]\n\
         workers = [1, 2]\nsamples = 8\ntime_budget = \"750ms\"\nmemory_limit = \"512MiB\"\n\
         profile_time = \"2s\"\n[strategy_params.tokio]\nin_flight = 8\n\
         [[workload]]\nname = \"http\"\nparams = { latency_ms = 3 }\nsizes = [10, 20]\n\
         tasks = \"1..=10 x10\"\n",
        "same.toml",
        "same",
        &plugins,
    )
    .unwrap();
    assert_eq!(
        format!("{:?}", built.groups),
        format!("{:?}", written.groups)
    );
    assert_eq!(built.sampling, written.sampling);
    assert_eq!(built.profiling, written.profiling);
    assert_eq!(
        (
            built.seed,
            built.policy,
            built.memory_limit,
            built.cell_timeout
        ),
        (
            written.seed,
            written.policy,
            written.memory_limit,
            written.cell_timeout
        )
    );
    assert_eq!(built.source, "builder:same");
}
