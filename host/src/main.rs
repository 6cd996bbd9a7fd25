//! The `edgeseg` command line; everything lives in [`edgeseg_host::cli`] so tests can run it in-process.

fn main() -> std::process::ExitCode {
    edgeseg_host::cli::main()
}
