//! Write a synthetic district as a OneRoster CSV package:
//! `cargo run -p homeroom-tests --example gen-district -- --students 360 --out examples/sample-district`
//! (`--seed N` and `--version 1.1|1.2` are optional).

use homeroom_tests::district;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (options, out) = match district::parse_args(&args) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("gen-district: {e}");
            eprintln!("usage: gen-district --students N --out DIR [--seed N] [--version 1.1|1.2]");
            std::process::exit(2);
        }
    };
    let started = std::time::Instant::now();
    match district::write_package(&options, &out) {
        Ok(summary) => {
            print!("{}", district::describe(&summary));
            println!(
                "OneRoster {} package written to {} in {:.2?}",
                options.version.label(),
                out.display(),
                started.elapsed()
            );
        }
        Err(e) => {
            eprintln!("gen-district: cannot write {}: {e}", out.display());
            std::process::exit(1);
        }
    }
}
