//! The `db-backup` binary: everything happens in the library; this turns its result into an exit code.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(db_backup::cli::main_with_args(
        std::env::args_os().collect(),
    ))
}
