//! The `scfrt` binary; see [`scfrt::cli`].

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(scfrt::cli::run(std::env::args_os()))
}
