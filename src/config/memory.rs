//! `BACKUP_MEMORY_LIMIT` and `BACKUP_THREADS`: one memory budget for the byte path of a backup or restore, and
//! how many threads compress and decompress. Both go to the pipeline, which shares them out.

use super::s3::parse_size;
use super::values::number;
use crate::error::ConfigError;
use crate::pipeline::Budget;

/// Reads both settings (defaults: 40 MiB, the cores this container may use) for `s3_destinations` S3
/// destinations, as the configuration's `budget` part.
pub fn budget(
    memory_limit: Option<&str>,
    threads: Option<&str>,
    s3_destinations: usize,
) -> Result<Budget, ConfigError> {
    let memory = match memory_limit {
        None => crate::pipeline::DEFAULT_MEMORY,
        Some(v) => {
            let bytes = parse_size("BACKUP_MEMORY_LIMIT", v)?;
            if bytes < crate::pipeline::MIN_MEMORY {
                return Err(ConfigError::new(
                    "BACKUP_MEMORY_LIMIT",
                    format!("{v:?} is too small: give at least 8MiB (the default is 40MiB)"),
                ));
            }
            bytes
        }
    };
    let threads = match threads {
        None => crate::pipeline::available_cores(),
        Some(v) => {
            let n: usize = number("BACKUP_THREADS", v, "a number of threads from 1 to 256")?;
            if !(1..=256).contains(&n) {
                return Err(ConfigError::new(
                    "BACKUP_THREADS",
                    format!("{v:?} is out of range: must be from 1 to 256"),
                ));
            }
            n
        }
    };
    Ok(Budget::new(memory, threads, s3_destinations))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_values_name_the_variable_and_good_ones_reach_the_budget() {
        let b = budget(Some("64MiB"), Some("16"), 2).unwrap();
        assert_eq!((b.memory, b.threads, b.s3_destinations), (64 << 20, 16, 2));
        assert_eq!(
            budget(None, None, 0).unwrap().memory,
            crate::pipeline::DEFAULT_MEMORY
        );
        for (mem, threads, var) in [
            (Some("1MiB"), None, "BACKUP_MEMORY_LIMIT"),
            (Some("lots"), None, "BACKUP_MEMORY_LIMIT"),
            (None, Some("0"), "BACKUP_THREADS"),
            (None, Some("four"), "BACKUP_THREADS"),
        ] {
            let err = budget(mem, threads, 0).unwrap_err();
            assert!(err.to_string().contains(var), "{err}");
        }
    }
}
