//! Powering the machine off through PSCI, over the conduit the DTB names.

use cerne_plat::memmap::PsciConduit;
use core::sync::atomic::{AtomicU8, Ordering};

const CONDUIT_UNKNOWN: u8 = 0;
const CONDUIT_HVC: u8 = 1;
const CONDUIT_SMC: u8 = 2;

static CONDUIT: AtomicU8 = AtomicU8::new(CONDUIT_UNKNOWN);

/// Records the conduit read from the DTB's `/psci` node.
pub fn set_conduit(conduit: Option<PsciConduit>) {
    let value = match conduit {
        Some(PsciConduit::Hvc) => CONDUIT_HVC,
        Some(PsciConduit::Smc) => CONDUIT_SMC,
        None => CONDUIT_UNKNOWN,
    };
    CONDUIT.store(value, Ordering::Relaxed);
}

/// Powers the system off; if that is impossible, stops this CPU for good.
pub fn system_off() -> ! {
    // A PSCI call that returns has failed; either way we stop below.
    match CONDUIT.load(Ordering::Relaxed) {
        CONDUIT_HVC => {
            let _ = smccc::psci::system_off::<smccc::Hvc>();
        }
        CONDUIT_SMC => {
            let _ = smccc::psci::system_off::<smccc::Smc>();
        }
        _ => {}
    }
    super::halt_cpu()
}
