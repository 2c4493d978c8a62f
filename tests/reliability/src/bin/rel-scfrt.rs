//! `scfrt` built as a binary of this package (see Cargo.toml), for subprocess tests.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(scfrt::cli::run(std::env::args_os()))
}
