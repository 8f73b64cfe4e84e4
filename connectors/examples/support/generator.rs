//! What the file generators share: their command-line frame and their randomness.

use std::process::ExitCode;

/// A generator's `main`: prints the usage for --help (`parsed` is Ok(None)) or after a bad
/// argument (exit 2), else writes; `write` returns the line to print or what went wrong.
pub fn run<O>(
    name: &str,
    usage: &str,
    parsed: Result<Option<O>, String>,
    write: impl FnOnce(&O) -> Result<String, String>,
) -> ExitCode {
    let options = match parsed {
        Ok(Some(options)) => options,
        Ok(None) => {
            println!("{usage}");
            return ExitCode::SUCCESS;
        }
        Err(problem) => {
            eprintln!("{name}: {problem}\n\n{usage}");
            return ExitCode::from(2);
        }
    };
    match write(&options) {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(problem) => {
            eprintln!("{name}: {problem}");
            ExitCode::FAILURE
        }
    }
}

/// A small deterministic generator (Steele, Lea and Flood's SplitMix64): a generated file depends
/// on the seed alone, whatever the platform or crate versions.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in 0..`bound` (`bound` > 0); the modulo bias is irrelevant for test data.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}
