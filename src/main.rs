use std::process::ExitCode;

fn main() -> ExitCode {
    // Before any thread starts: training's freed buffers are reused, not faulted in again.
    songspace::model::reuse_freed_memory();
    quiet_panic_reports();
    match songspace::cli::run(std::env::args_os()) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Two panics are not reported as panics:
/// - `songspace info LIB | head`: once the reader has gone, printing fails with a broken pipe
///   and `println!` panics. Like other command-line tools, end then, quietly.
/// - a decoder's panic on a malformed file, which the audio code catches and reports as that
///   file's error (with the panic's message): a backtrace would only alarm.
///
/// Every other panic is reported as before.
fn quiet_panic_reports() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if songspace::audio::panic_is_isolated_here() {
            return;
        }
        let message = songspace::error::panic_message(info.payload());
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            // As ripgrep does: the reader has what it wanted, so this is success.
            std::process::exit(0);
        }
        report(info);
    }));
}
