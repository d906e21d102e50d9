//! Raising the soft `RLIMIT_NOFILE` to the hard limit at startup.
//!
//! Every connection and upstream socket is a descriptor; distributions start services with a
//! soft limit of 1,024 while allowing far more. Two `libc` calls do it: a crate for them would
//! wrap the same two calls.

/// The soft and hard descriptor limits after trying to raise the soft one to the hard one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdLimit {
    pub before: u64,
    pub soft: u64,
    pub hard: u64,
}

/// Raises the soft limit to the hard limit; returns what it is now. On error (or on a
/// platform without rlimits) the current values are returned unchanged.
// `rlim_t` is u64 on Linux but not on every unix: the casts are not always no-ops.
#[cfg(unix)]
#[allow(clippy::unnecessary_cast)]
pub fn raise() -> std::io::Result<FdLimit> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let before = lim.rlim_cur as u64;
    if lim.rlim_cur < lim.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: lim.rlim_max,
            rlim_max: lim.rlim_max,
        };
        // SAFETY: setrlimit reads the struct we own.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            lim = raised;
        }
    }
    Ok(FdLimit {
        before,
        soft: lim.rlim_cur as u64,
        hard: lim.rlim_max as u64,
    })
}

#[cfg(not(unix))]
pub fn raise() -> std::io::Result<FdLimit> {
    Ok(FdLimit {
        before: 1024,
        soft: 1024,
        hard: 1024,
    })
}

/// The soft limit now, without changing it.
#[cfg(unix)]
#[allow(clippy::unnecessary_cast)]
pub fn current() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 1024;
    }
    lim.rlim_cur as u64
}

#[cfg(not(unix))]
pub fn current() -> u64 {
    1024
}
