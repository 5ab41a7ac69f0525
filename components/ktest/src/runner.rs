//! The supervisor: the root thread runs every test in the driver thread
//! (priority [`DRIVER_PRIORITY`]) on fresh objects, waits for its verdict
//! — a result message, a fault of the driver (a panic raises one), or the
//! watchdog saying every thread of the test is blocked — and then reclaims
//! everything: it revokes the pool untyped and empties the slots the test
//! used. At the end it prints `N passed, M failed` and halts.

use crate::framework::{self, BootCaps, Env, Test, SHARED, SLOTS_USED};
use crate::threads::{self, Thread};
use cerne_abi::bootinfo::{BootInfo, UntypedDesc};
use cerne_abi::object::ObjectType;
use cerne_abi::rights::CapRights;
use cerne_abi::slots::*;
use cerne_abi::{CPtr, Word};
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use libcerne::bootinfo::untypeds;
use libcerne::println;
use libcerne::sel4::syscall::{debug_halt, yield_now};
use libcerne::sel4::*;

/// Priority of the driver thread; helpers run above or below it.
pub const DRIVER_PRIORITY: Word = 100;
/// MCP of the driver thread.
pub const DRIVER_MCP: Word = 254;
/// Priority of the watchdog: it runs only when every thread of the test
/// (all at priority 2 or above) is blocked.
const WATCHDOG_PRIORITY: Word = 1;
/// Yields the watchdog makes before it declares the test stuck.
const WATCHDOG_YIELDS: u32 = 20;

const BADGE_DONE: Word = 1;
const BADGE_WATCHDOG: Word = 2;
const BADGE_FAULT: Word = 3;

/// Verdict words of a result message.
const PASSED: Word = 0;
const FAILED: Word = 1;

// What the driver needs to rebuild the supervisor's Env (written before the
// driver starts, read only by it).
static BOOTINFO: AtomicUsize = AtomicUsize::new(0);
static POOL: AtomicU64 = AtomicU64::new(0);
static HUGE: AtomicU64 = AtomicU64::new(0);
static FIRST_SLOT: AtomicU64 = AtomicU64::new(0);
static END_SLOT: AtomicU64 = AtomicU64::new(0);
static DONE_EP: AtomicU64 = AtomicU64::new(0);
static WATCHDOG_EP: AtomicU64 = AtomicU64::new(0);
static DRIVER_TCB: AtomicU64 = AtomicU64::new(0);

/// The boot caps (docs/sel4-abi.md §8.5).
pub fn boot_caps() -> BootCaps {
    let c = |s: usize| s as CPtr;
    BootCaps {
        tcb: Cap::from_cptr(c(CAP_INIT_THREAD_TCB)),
        cnode: Cap::from_cptr(c(CAP_INIT_THREAD_CNODE)),
        vspace: Cap::from_cptr(c(CAP_INIT_THREAD_VSPACE)),
        irq_control: Cap::from_cptr(c(CAP_IRQ_CONTROL)),
        asid_control: Cap::from_cptr(c(CAP_ASID_CONTROL)),
        asid_pool: Cap::from_cptr(c(CAP_INIT_THREAD_ASID_POOL)),
        domain: Cap::from_cptr(c(CAP_DOMAIN)),
        ipc_buffer_frame: Cap::from_cptr(c(CAP_INIT_THREAD_IPC_BUFFER)),
        bootinfo_frame: Cap::from_cptr(c(CAP_BOOT_INFO_FRAME)),
    }
}

fn bootinfo() -> &'static BootInfo {
    let p = BOOTINFO.load(Ordering::SeqCst);
    // SAFETY: `run` stored the BootInfo address the kernel passed, which
    // stays mapped for the task's life.
    unsafe { libcerne::bootinfo::from_entry_arg(p) }
}

/// The untyped of BootInfo index `i` as (slot, descriptor).
fn untyped_at(bi: &BootInfo, i: usize) -> (CPtr, UntypedDesc) {
    (bi.untyped.start + i as CPtr, untypeds(bi)[i])
}

/// The RAM untyped chosen by `better` among those with `size_bits` in
/// `[min, max]`, skipping `skip`.
fn pick(bi: &BootInfo, min: u8, max: u8, skip: &[CPtr], smallest: bool) -> Option<(CPtr, u8)> {
    let mut best: Option<(CPtr, u8)> = None;
    for i in 0..untypeds(bi).len() {
        let (slot, d) = untyped_at(bi, i);
        if d.is_device != 0 || d.size_bits < min || d.size_bits > max || skip.contains(&slot) {
            continue;
        }
        let better = match best {
            None => true,
            Some((_, b)) => (smallest && d.size_bits < b) || (!smallest && d.size_bits > b),
        };
        if better {
            best = Some((slot, d.size_bits));
        }
    }
    best
}

/// Runs every test; never returns.
pub fn run(bi_addr: usize) -> ! {
    let areas = crate::tests::AREAS;
    BOOTINFO.store(bi_addr, Ordering::SeqCst);
    let bi = bootinfo();
    let boot = boot_caps();
    let root = boot.cnode;

    let huge = pick(bi, 30, 40, &[], true);
    let Some(pool) = pick(bi, 23, 29, &[], true).or_else(|| pick(bi, 21, 40, &[], false)) else {
        println!("[ktest] no RAM untyped of 2 MiB or more");
        debug_halt()
    };
    let huge = huge.filter(|h| h.0 != pool.0);
    let Some(sys) = pick(bi, 14, 22, &[pool.0], true) else {
        println!("[ktest] no small RAM untyped for the supervisor");
        debug_halt()
    };
    println!(
        "[ktest] pool untyped 2^{} bytes, huge-frame untyped {}",
        pool.1,
        match huge {
            Some((_, b)) => b as i64,
            None => -1,
        }
    );

    // Persistent objects: the result endpoint, driver and watchdog TCBs.
    let s = bi.empty.start;
    let sys_ut: Cap<Untyped> = Cap::from_cptr(sys.0);
    let ep: Cap<Endpoint> = Cap::from_cptr(s);
    let driver = Thread::new(Cap::from_cptr(s + 1), threads::DRIVER);
    let watchdog = Thread::new(Cap::from_cptr(s + 2), threads::WATCHDOG);
    let (done_ep, dog_ep, fault_ep) = (s + 3, s + 4, s + 5);
    let setup = sys_ut
        .retype(ObjectType::Endpoint, 0, root, 0, 0, s, 1)
        .and_then(|()| sys_ut.retype(ObjectType::Tcb, 0, root, 0, 0, s + 1, 2))
        .and_then(|()| root.mint(done_ep, 64, root, s, 64, CapRights::ALL, BADGE_DONE))
        .and_then(|()| root.mint(dog_ep, 64, root, s, 64, CapRights::ALL, BADGE_WATCHDOG))
        .and_then(|()| root.mint(fault_ep, 64, root, s, 64, CapRights::ALL, BADGE_FAULT))
        .and_then(|()| watchdog.configure(bi, &boot, 0))
        .and_then(|()| {
            watchdog
                .tcb
                .set_sched_params(boot.tcb, WATCHDOG_PRIORITY, WATCHDOG_PRIORITY)
        });
    if let Err(e) = setup {
        println!("[ktest] cannot set up the supervisor: {e:?}");
        debug_halt()
    }
    POOL.store(pool.0, Ordering::SeqCst);
    HUGE.store(huge.map_or(0, |h| h.0), Ordering::SeqCst);
    let first = s + 16;
    FIRST_SLOT.store(first, Ordering::SeqCst);
    END_SLOT.store(bi.empty.end, Ordering::SeqCst);
    DONE_EP.store(done_ep, Ordering::SeqCst);
    WATCHDOG_EP.store(dog_ep, Ordering::SeqCst);
    DRIVER_TCB.store(driver.tcb.cptr(), Ordering::SeqCst);

    let total: usize = areas.iter().map(|a| a.len()).sum();
    println!("[ktest] running {total} tests");
    let (mut passed, mut failed) = (0u32, 0u32);
    let mut index = 0;
    for area in areas {
        for test in area.iter() {
            let name = test.area.rsplit("::").next().unwrap_or(test.area);
            // Named before it runs, so a kernel crash points at the test.
            println!("[ktest] run {name}::{}", test.name);
            for w in SHARED.iter() {
                w.store(0, Ordering::SeqCst);
            }
            SLOTS_USED.store(0, Ordering::SeqCst);
            let start = driver
                .configure(bi, &boot, fault_ep)
                .and_then(|()| {
                    driver
                        .tcb
                        .set_sched_params(boot.tcb, DRIVER_MCP, DRIVER_PRIORITY)
                })
                .and_then(|()| watchdog.prepare(watchdog_main, 0, true))
                .and_then(|()| driver.prepare(driver_main, index as Word, true));
            let ok = match start {
                Err(e) => {
                    println!("    cannot start the driver: {e:?}");
                    false
                }
                Ok(()) => verdict(ep.recv()),
            };
            let _ = driver.tcb.suspend();
            let _ = watchdog.tcb.suspend();
            if ok {
                passed += 1;
            } else {
                failed += 1;
                println!("[ktest] FAIL {name}::{}", test.name);
            }
            reclaim(root, first);
            index += 1;
        }
    }
    println!("{passed} passed, {failed} failed");
    debug_halt()
}

/// Reads the supervisor's message: true when the test passed.
fn verdict(m: Message) -> bool {
    match m.badge {
        BADGE_DONE => m.mr(0) == PASSED,
        BADGE_WATCHDOG => {
            println!("    stuck: every thread of the test is blocked");
            false
        }
        BADGE_FAULT => {
            println!(
                "    the test thread faulted: fault type {}, MRs {:#x} {:#x} {:#x} {:#x}",
                m.label(),
                m.regs[0],
                m.regs[1],
                m.regs[2],
                m.regs[3]
            );
            false
        }
        other => {
            println!("    unexpected message with badge {other}");
            false
        }
    }
}

/// Deletes everything the test made: all objects from the pools (revoke)
/// and whatever is left in the slots it used.
fn reclaim(root: Cap<CNode>, first: CPtr) {
    for ut in [POOL.load(Ordering::SeqCst), HUGE.load(Ordering::SeqCst)] {
        if ut != 0 {
            if let Err(e) = root.revoke(ut, 64) {
                println!("[ktest] revoke of the pool failed: {e:?}");
            }
        }
    }
    let used = SLOTS_USED.load(Ordering::SeqCst);
    for slot in first..first + used {
        if let Err(e) = root.delete(slot, 64) {
            println!("[ktest] delete of slot {slot} failed: {e:?}");
        }
    }
}

/// The test with overall index `i`.
fn test_at(i: usize) -> Option<&'static Test> {
    crate::tests::AREAS.iter().flat_map(|a| a.iter()).nth(i)
}

/// The driver: runs test `index`, then reports.
fn driver_main(index: Word) {
    let bi = bootinfo();
    let huge = HUGE.load(Ordering::SeqCst);
    let mut env = Env::new(
        bi,
        boot_caps(),
        Cap::from_cptr(POOL.load(Ordering::SeqCst)),
        (huge != 0).then(|| Cap::from_cptr(huge)),
        Cap::from_cptr(DRIVER_TCB.load(Ordering::SeqCst)),
        index as usize,
        (
            FIRST_SLOT.load(Ordering::SeqCst),
            END_SLOT.load(Ordering::SeqCst),
        ),
    );
    let result = match test_at(index as usize) {
        Some(t) => (t.run)(&mut env),
        None => Err(framework::Fail),
    };
    let word = if result.is_ok() { PASSED } else { FAILED };
    libcerne::sel4::ipc::send(DONE_EP.load(Ordering::SeqCst), 0, &[word], &[]);
}

/// The watchdog: runs only when every thread of the test is blocked (it
/// has the lowest priority), so a few yields in a row mean the test is
/// stuck.
fn watchdog_main(_: Word) {
    for _ in 0..WATCHDOG_YIELDS {
        yield_now();
    }
    libcerne::sel4::ipc::send(WATCHDOG_EP.load(Ordering::SeqCst), 0, &[], &[]);
}
