//! What Linux's `/proc/<pid>/stat` tells of a process (tests and benchmarks watch the
//! processes they start, and their own CPU time).

use std::fs;

/// The fields of `/proc/<pid>/stat` after the command name: the process state first
/// (field 3 of the line). `None` when the process does not exist or the file is not there.
/// The command name, in parentheses, may itself hold spaces: the fields start after the
/// last `)`.
pub fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// CPU time (user + system, every thread) process `pid` has used, in seconds; zero where
/// that cannot be read. `/proc` counts in ticks of 1/100 s (Linux's `USER_HZ`).
pub fn cpu_seconds(pid: u32) -> f64 {
    let Some(fields) = stat_fields(pid) else {
        return 0.0;
    };
    // utime and stime are fields 14 and 15 of the line: 12 and 13 after the name.
    let ticks = |index: usize| {
        fields
            .get(index)
            .and_then(|field| field.parse::<f64>().ok())
    };
    match (ticks(11), ticks(12)) {
        (Some(user), Some(system)) => (user + system) / 100.0,
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let pid = std::process::id();
        // This test is running: its state is R (running) or S (sleeping between slices).
        let state = stat_fields(pid).expect("this process's stat")[0].clone();
        assert!(matches!(state.as_str(), "R" | "S"), "state {state}");
        let before = cpu_seconds(pid);
        let started = std::time::Instant::now();
        let mut spin = 0u64;
        while started.elapsed() < std::time::Duration::from_millis(300) {
            spin = spin.wrapping_add(1);
        }
        assert!(spin > 0);
        // 300 ms of spinning shows as CPU time (ticks are 10 ms; a busy machine may give
        // this thread less than all of it).
        assert!(
            cpu_seconds(pid) > before,
            "{before} then {}",
            cpu_seconds(pid)
        );
    }

    #[test]
    fn a_process_that_does_not_exist_has_no_fields() {
        // Linux pids stay below 2^22.
        assert_eq!(stat_fields(u32::MAX), None);
        assert_eq!(cpu_seconds(u32::MAX), 0.0);
    }
}
