use std::process::ExitCode;

fn main() -> ExitCode {
    match songspace::cli::run(std::env::args_os()) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
