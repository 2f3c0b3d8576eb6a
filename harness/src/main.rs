//! The `parbench` binary: the built-in workloads and strategies behind the command line.

fn main() -> std::process::ExitCode {
    parbench::main_with(parbench::Plugins::default())
}
