//! One memory budget for the byte path (`BACKUP_MEMORY_LIMIT`) and the number of compressing and
//! decompressing threads (`BACKUP_THREADS`): compression blocks in flight, zstd workers, gunzip members read
//! ahead and every S3 destination's part buffers are sized from it, so memory does not grow with cores,
//! destinations or database size. The configuration holds the budget (`Config::budget`); the code that sizes
//! threads, blocks and parts is handed it, as it is handed the stop token.

const MIB: usize = 1024 * 1024;
/// The default budget: with the program itself (~15 MiB) the peak stays under 64 MB.
pub const DEFAULT_MEMORY: usize = 40 * MIB;
/// The smallest budget accepted.
pub const MIN_MEMORY: usize = 8 * MIB;
/// S3's smallest part (all but the last).
const MIN_PART: usize = 5 * MIB;
/// A gzip member in flight: its 1 MiB of input and its output.
const PER_MEMBER: usize = 2 * MIB;
/// A compressing thread's own state (libdeflate's tables).
const PER_GZIP_WORKER: usize = MIB;
/// A zstd worker at 1 MiB jobs: its window, tables and buffers.
const PER_ZSTD_WORKER: usize = 4 * MIB;

/// How the budget is shared out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// `BACKUP_MEMORY_LIMIT` in bytes.
    pub memory: usize,
    /// `BACKUP_THREADS`.
    pub threads: usize,
    /// S3 destinations, each of which gets a share for its parts.
    pub s3_destinations: usize,
}

/// The cores this process may use, cgroup CPU limits (a container's `--cpus`) and affinity honoured.
pub fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The defaults: 40 MiB, the cores this process may use, no S3 destination.
impl Default for Budget {
    fn default() -> Budget {
        Budget::new(DEFAULT_MEMORY, available_cores(), 0)
    }
}

impl Budget {
    pub fn new(memory: usize, threads: usize, s3_destinations: usize) -> Budget {
        Budget {
            memory: memory.max(MIN_MEMORY),
            threads: threads.max(1),
            s3_destinations,
        }
    }

    /// Each S3 destination's part size (at most `configured`, at least S3's 5 MiB) and parts uploading at
    /// once (1 or 2): one part fills while the others upload.
    pub fn s3_parts(&self, configured: usize) -> (usize, usize) {
        let share = self.s3_share() / self.s3_destinations.max(1);
        let part = (share / 2)
            .clamp(MIN_PART, configured.max(MIN_PART))
            .min(configured.max(MIN_PART));
        let uploading = (share / part).saturating_sub(1).clamp(1, 2);
        (part, uploading)
    }

    /// Half the budget goes to S3 parts when there are S3 destinations.
    fn s3_share(&self) -> usize {
        if self.s3_destinations == 0 {
            0
        } else {
            self.memory / 2
        }
    }

    /// What compression (or decompression) may hold.
    fn codec_share(&self) -> usize {
        self.memory - self.s3_share()
    }

    /// Gzip: compressing threads and members in flight.
    pub fn gzip(&self) -> (usize, usize) {
        let share = self.codec_share();
        let workers = self
            .threads
            .min((share / (PER_MEMBER + PER_GZIP_WORKER)).max(1));
        let in_flight = ((share - workers * PER_GZIP_WORKER.min(share)) / PER_MEMBER)
            .clamp(workers, 2 * workers);
        (workers, in_flight)
    }

    /// Zstd: worker threads (0: compress on the calling thread).
    pub fn zstd_workers(&self) -> usize {
        let workers = self.threads.min(self.codec_share() / PER_ZSTD_WORKER);
        if workers <= 1 { 0 } else { workers }
    }

    /// Gunzip: inflating threads and members read ahead (restores hold no S3 parts).
    pub fn gunzip(&self) -> (usize, usize) {
        let in_flight = (self.memory / PER_MEMBER).clamp(1, 4 * self.threads);
        (self.threads.min(in_flight), in_flight)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_stay_within_the_budget_at_any_thread_count() {
        for threads in [1, 2, 4, 8, 16, 64] {
            for dests in [0, 1, 2, 3] {
                let b = Budget::new(DEFAULT_MEMORY, threads, dests);
                let (workers, in_flight) = b.gzip();
                let (part, uploading) = b.s3_parts(16 * MIB);
                let s3 = dests * part * (uploading + 1);
                let gzip = workers * PER_GZIP_WORKER + in_flight * PER_MEMBER;
                assert!(workers >= 1 && workers <= threads);
                assert!(part >= MIN_PART);
                // S3's 5 MiB parts are a floor: two destinations of one filling and one uploading part fit.
                if dests <= 2 {
                    assert!(
                        s3 + gzip <= DEFAULT_MEMORY,
                        "{threads} threads, {dests} S3: {s3} + {gzip}"
                    );
                }
                assert!(b.zstd_workers() * PER_ZSTD_WORKER <= DEFAULT_MEMORY);
            }
        }
        assert_eq!(Budget::new(DEFAULT_MEMORY, 16, 0).gunzip().0, 16);
    }
}
