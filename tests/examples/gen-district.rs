//! Write a synthetic district as a OneRoster CSV package:
//! `cargo run -p homeroom-tests --example gen-district -- --students 360 --out examples/sample-district`
//! (`--seed N` and `--version 1.1|1.2` are optional; `--defects` mixes in
//! the defects of real exports, see `homeroom_tests::defects`).

use homeroom_tests::{defects, district};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match district::parse_args(&args) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("gen-district: {e}");
            eprintln!(
                "usage: gen-district --students N --out DIR [--seed N] [--version 1.1|1.2] [--defects]"
            );
            std::process::exit(2);
        }
    };
    let (options, out) = (&args.options, &args.out);
    let started = std::time::Instant::now();
    let written = if args.defects {
        defects::write_package(options, out).map(|(summary, defects)| (summary, Some(defects)))
    } else {
        district::write_package(options, out).map(|summary| (summary, None))
    };
    match written {
        Ok((summary, defects)) => {
            print!("{}", district::describe(&summary));
            if let Some(defects) = &defects {
                print!("{}", defects::describe(defects));
            }
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
