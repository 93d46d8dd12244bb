//! `agora-emulator`: the standalone emulator of Agora's Media Push and Cloud Transcoding REST
//! services. Prints one line `listening on http://127.0.0.1:PORT` and runs until killed.

use clap::Parser;

/// Local emulator of Agora's Media Push and Cloud Transcoding REST services.
#[derive(Debug, Parser)]
#[command(name = "agora-emulator", version)]
struct Cli {
    #[command(flatten)]
    args: agora_rest_emulator::cli::EmulatorArgs,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln_safe(&format!("agora-emulator: cannot start the runtime: {e}"));
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(agora_rest_emulator::cli::run(cli.args)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln_safe(&format!("agora-emulator: {e}"));
            std::process::ExitCode::from(2)
        }
    }
}

fn eprintln_safe(line: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{line}");
}
