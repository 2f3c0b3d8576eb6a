//! A test hook of the regression gate: a known slowdown, injected into one build of two.
//!
//! With [`SLOWDOWN_VAR`] set, `spin` and every workload made from functions
//! ([`crate::FnWorkload`]) do that fraction more work (`0.25` is a quarter more): a slowdown
//! for the gate to find. Unset in any real measurement.

use crate::WorkloadError;

/// The fraction of extra work, between 0 and 10 (`0.05` is 5%).
pub const SLOWDOWN_VAR: &str = "PARBENCH_TEST_SLOWDOWN";

/// With [`SLOWDOWN_VAR`]: only a process of the binary of this file name slows down, so one
/// run can measure a slowed build beside an unchanged one (`parbench compare` runs its two
/// builds from copies named `new-NAME` and `base-NAME`).
pub const SLOWDOWN_IN_VAR: &str = "PARBENCH_TEST_SLOWDOWN_IN";

/// The slowdown [`SLOWDOWN_VAR`] asks of `workload`: 0 when it is unset, or when
/// [`SLOWDOWN_IN_VAR`] names another binary.
///
/// ```
/// assert_eq!(parbench_workloads::slowdown::injected("mine").ok(), Some(0.0));
/// ```
pub fn injected(workload: &str) -> Result<f64, WorkloadError> {
    let Some(text) = std::env::var_os(SLOWDOWN_VAR) else {
        return Ok(0.0);
    };
    if let Some(only) = std::env::var_os(SLOWDOWN_IN_VAR) {
        let this = std::env::current_exe().ok();
        if this.as_deref().and_then(std::path::Path::file_name) != Some(only.as_os_str()) {
            return Ok(0.0);
        }
    }
    let text = text.to_string_lossy();
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|f| (0.0..=10.0).contains(f))
        .ok_or_else(|| WorkloadError::Invalid {
            workload: workload.to_owned(),
            message: format!(
                "{SLOWDOWN_VAR}=`{text}`: not a fraction of extra work between 0 and 10 (0.05 \
                 is 5%)"
            ),
        })
}
