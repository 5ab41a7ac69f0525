//! The test framework: what a test is, the assertion macros that print
//! `file:line` and what differed, and the [`Env`] a test gets — fresh
//! objects retyped from the pool untyped, fresh slots, and helper threads —
//! all of which the supervisor reclaims after the test.

use crate::threads;
use cerne_abi::bootinfo::BootInfo;
use cerne_abi::object::ObjectType;
use cerne_abi::rights::CapRights;
use cerne_abi::{CPtr, Word};
use core::sync::atomic::{AtomicU64, Ordering};
use libcerne::println;
use libcerne::sel4::*;

/// A failed test; what went wrong was printed where it was detected.
#[derive(Debug)]
pub struct Fail;

/// What a test returns.
pub type TestResult = core::result::Result<(), Fail>;

/// One test: its module, its name and its body.
pub struct Test {
    /// The module (area) it belongs to.
    pub area: &'static str,
    /// Its name.
    pub name: &'static str,
    /// The body.
    pub run: fn(&mut Env) -> TestResult,
}

/// Lists a module's tests as `pub const TESTS`.
#[macro_export]
macro_rules! tests {
    ($($name:ident),* $(,)?) => {
        /// The tests of this module, in the order they run.
        pub const TESTS: &[$crate::framework::Test] = &[
            $($crate::framework::Test {
                area: module_path!(),
                name: stringify!($name),
                run: $name,
            }),*
        ];
    };
}

/// Prints a failure at `file:line` and returns [`Fail`].
pub fn fail(file: &str, line: u32, what: core::fmt::Arguments<'_>) -> Fail {
    println!("    at {file}:{line}: {what}");
    Fail
}

/// Fails the test unless `cond` holds.
#[macro_export]
macro_rules! check {
    ($cond:expr) => {
        if !$cond {
            return Err($crate::framework::fail(file!(), line!(), format_args!("check failed: {}", stringify!($cond))));
        }
    };
    ($cond:expr, $($arg:tt)+) => {
        if !$cond {
            return Err($crate::framework::fail(file!(), line!(), format_args!($($arg)+)));
        }
    };
}

/// Fails the test unless the two values are equal; prints both.
#[macro_export]
macro_rules! check_eq {
    ($a:expr, $b:expr) => {
        match (&$a, &$b) {
            (a, b) => {
                if a != b {
                    return Err($crate::framework::fail(
                        file!(),
                        line!(),
                        format_args!(
                            "{} == {}: left {:x?}, right {:x?}",
                            stringify!($a),
                            stringify!($b),
                            a,
                            b
                        ),
                    ));
                }
            }
        }
    };
}

/// Unwraps an `Ok`, or fails the test printing the error.
#[macro_export]
macro_rules! check_ok {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => {
                return Err($crate::framework::fail(
                    file!(),
                    line!(),
                    format_args!("{} failed: {:x?}", stringify!($e), e),
                ))
            }
        }
    };
}

/// Fails the test unless the invocation failed with exactly this seL4
/// error and these error MRs.
#[macro_export]
macro_rules! check_err {
    ($e:expr, $code:ident) => {
        $crate::check_err!($e, $code, [])
    };
    ($e:expr, $code:ident, [$($mr:expr),* $(,)?]) => {
        match $e {
            Ok(_) => {
                return Err($crate::framework::fail(
                    file!(),
                    line!(),
                    format_args!("{}: expected {:?}{:x?}, got success", stringify!($e),
                        cerne_abi::error::Error::$code, [$($mr as u64),*] as [u64; _]),
                ))
            }
            Err(e) => {
                let want: &[u64] = &[$($mr as u64),*];
                if !e.is(cerne_abi::error::Error::$code, want) {
                    return Err($crate::framework::fail(
                        file!(),
                        line!(),
                        format_args!("{}: expected {:?}{:x?}, got {:x?}", stringify!($e),
                            cerne_abi::error::Error::$code, want, e),
                    ));
                }
            }
        }
    };
}

/// Words shared between a test and its helper threads, zeroed before each
/// test.
pub static SHARED: [AtomicU64; 32] = [const { AtomicU64::new(0) }; 32];

/// Reads shared word `i`.
pub fn shared(i: usize) -> Word {
    SHARED[i].load(Ordering::SeqCst)
}

/// Writes shared word `i`.
pub fn set_shared(i: usize, v: Word) {
    SHARED[i].store(v, Ordering::SeqCst);
}

/// Adds to shared word `i`.
pub fn add_shared(i: usize, v: Word) -> Word {
    SHARED[i].fetch_add(v, Ordering::SeqCst)
}

/// Slots the test used, so the supervisor can empty them afterwards.
pub static SLOTS_USED: AtomicU64 = AtomicU64::new(0);

/// The boot caps a test may use (never delete or revoke these).
#[derive(Clone, Copy)]
pub struct BootCaps {
    /// The root task's TCB (MCP 255): the usual priority authority.
    pub tcb: Cap<Tcb>,
    /// The root CNode (radix 12, guard size 52): cptr = slot index.
    pub cnode: Cap<CNode>,
    /// The root VSpace (ASID 1).
    pub vspace: Cap<VSpace>,
    /// IRQControl.
    pub irq_control: Cap<IrqControl>,
    /// ASIDControl.
    pub asid_control: Cap<AsidControl>,
    /// ASID pool 0.
    pub asid_pool: Cap<AsidPool>,
    /// DomainSet.
    pub domain: Cap<DomainSet>,
    /// The IPC buffer frame of the root task (mapped).
    pub ipc_buffer_frame: Cap<Frame>,
    /// The BootInfo frame (mapped).
    pub bootinfo_frame: Cap<Frame>,
}

/// What a test works with.
pub struct Env {
    /// BootInfo.
    pub bi: &'static BootInfo,
    /// The boot caps.
    pub boot: BootCaps,
    /// The untyped all of this test's objects come from (revoked after).
    pub pool: Cap<Untyped>,
    /// A RAM untyped of at least 2^30 bytes, for 1 GiB frames (revoked
    /// after), if the machine has one.
    pub huge: Option<Cap<Untyped>>,
    /// The TCB running this test.
    pub me: Cap<Tcb>,
    /// The test's overall index (gives it its own virtual address window).
    pub index: usize,
    /// First free slot of the test range.
    pub first_slot: CPtr,
    /// One past the last slot of the test range.
    pub end_slot: CPtr,
    next_slot: CPtr,
    next_thread: usize,
}

/// Start of the test windows of the root VSpace: 64 GiB, far above the
/// root task's image; test i maps only in [VA_BASE + i GiB, + 1 GiB).
pub const VA_BASE: Word = 64 << 30;

/// The union of some rights.
pub fn union(rights: &[CapRights]) -> CapRights {
    CapRights::from_word(rights.iter().fold(0, |w, r| w | r.word()))
}

/// Reads the word at `addr` (a test's own mapping, or an address whose
/// fault the test wants).
pub fn peek(addr: Word) -> Word {
    // SAFETY: tests read only frames they mapped into their own window, or
    // addresses that fault on purpose; a fault is delivered by the kernel
    // as a fault message and the access is re-executed or abandoned, so no
    // Rust object is ever read through a dangling pointer.
    unsafe { core::ptr::read_volatile(addr as *const Word) }
}

/// Writes the word at `addr` (as [`peek`]).
pub fn poke(addr: Word, value: Word) {
    // SAFETY: as in `peek`: the window holds no Rust objects.
    unsafe { core::ptr::write_volatile(addr as *mut Word, value) }
}

impl Env {
    /// A fresh environment for one test.
    pub fn new(
        bi: &'static BootInfo,
        boot: BootCaps,
        pool: Cap<Untyped>,
        huge: Option<Cap<Untyped>>,
        me: Cap<Tcb>,
        index: usize,
        slots: (CPtr, CPtr),
    ) -> Self {
        Self {
            index,
            bi,
            boot,
            pool,
            huge,
            me,
            first_slot: slots.0,
            end_slot: slots.1,
            next_slot: slots.0,
            next_thread: 0,
        }
    }

    /// The root CNode.
    pub fn root(&self) -> Cap<CNode> {
        self.boot.cnode
    }

    /// A fresh empty slot of the root CNode (its cptr).
    pub fn slot(&mut self) -> CPtr {
        assert!(self.next_slot < self.end_slot, "test slots exhausted");
        let s = self.next_slot;
        self.next_slot += 1;
        SLOTS_USED.store(self.next_slot - self.first_slot, Ordering::SeqCst);
        s
    }

    /// `n` consecutive fresh slots; returns the first.
    pub fn slots(&mut self, n: u64) -> CPtr {
        let first = self.slot();
        for _ in 1..n {
            self.slot();
        }
        first
    }

    /// Retypes one object of `ty` from the pool into a fresh slot.
    pub fn alloc<T>(
        &mut self,
        ty: ObjectType,
        size_bits: Word,
    ) -> core::result::Result<Cap<T>, Fail> {
        self.alloc_from(self.pool, ty, size_bits)
    }

    /// Retypes one object of `ty` from `untyped` into a fresh slot.
    pub fn alloc_from<T>(
        &mut self,
        untyped: Cap<Untyped>,
        ty: ObjectType,
        size_bits: Word,
    ) -> core::result::Result<Cap<T>, Fail> {
        let slot = self.slot();
        match untyped.retype(ty, size_bits, self.root(), 0, 0, slot, 1) {
            Ok(()) => Ok(Cap::from_cptr(slot)),
            Err(e) => Err(fail(
                file!(),
                line!(),
                format_args!("retype of {ty:?} failed: {e:?}"),
            )),
        }
    }

    /// A fresh endpoint.
    pub fn endpoint(&mut self) -> core::result::Result<Cap<Endpoint>, Fail> {
        self.alloc(ObjectType::Endpoint, 0)
    }

    /// A fresh notification.
    pub fn notification(&mut self) -> core::result::Result<Cap<Notification>, Fail> {
        self.alloc(ObjectType::Notification, 0)
    }

    /// A fresh (unconfigured, inactive) TCB.
    pub fn tcb(&mut self) -> core::result::Result<Cap<Tcb>, Fail> {
        self.alloc(ObjectType::Tcb, 0)
    }

    /// A fresh CNode of 2^`bits` slots.
    pub fn cnode(&mut self, bits: Word) -> core::result::Result<Cap<CNode>, Fail> {
        self.alloc(ObjectType::CapTable, bits)
    }

    /// A fresh untyped of 2^`bits` bytes.
    pub fn untyped(&mut self, bits: Word) -> core::result::Result<Cap<Untyped>, Fail> {
        self.alloc(ObjectType::Untyped, bits)
    }

    /// A fresh 4 KiB frame.
    pub fn frame(&mut self) -> core::result::Result<Cap<Frame>, Fail> {
        self.alloc(ObjectType::SmallPage, 0)
    }

    /// A fresh page table (unmapped).
    pub fn page_table(&mut self) -> core::result::Result<Cap<PageTable>, Fail> {
        self.alloc(ObjectType::PageTable, 0)
    }

    /// A fresh VSpace, assigned an ASID from pool 0.
    pub fn vspace(&mut self) -> core::result::Result<Cap<VSpace>, Fail> {
        let vs: Cap<VSpace> = self.alloc(ObjectType::VSpace, 0)?;
        if let Err(e) = self.boot.asid_pool.assign(vs) {
            return Err(fail(
                file!(),
                line!(),
                format_args!("ASID assign failed: {e:?}"),
            ));
        }
        Ok(vs)
    }

    /// Mints `src` (a root-CNode cptr) into a fresh slot with `rights` and
    /// `badge`.
    pub fn mint<T>(
        &mut self,
        src: Cap<T>,
        rights: CapRights,
        badge: Word,
    ) -> core::result::Result<Cap<T>, Fail> {
        let slot = self.slot();
        match self
            .root()
            .mint(slot, 64, self.root(), src.cptr(), 64, rights, badge)
        {
            Ok(()) => Ok(Cap::from_cptr(slot)),
            Err(e) => Err(fail(file!(), line!(), format_args!("mint failed: {e:?}"))),
        }
    }

    /// Copies `src` into a fresh slot with `rights`.
    pub fn copy<T>(
        &mut self,
        src: Cap<T>,
        rights: CapRights,
    ) -> core::result::Result<Cap<T>, Fail> {
        let slot = self.slot();
        match self
            .root()
            .copy(slot, 64, self.root(), src.cptr(), 64, rights)
        {
            Ok(()) => Ok(Cap::from_cptr(slot)),
            Err(e) => Err(fail(file!(), line!(), format_args!("copy failed: {e:?}"))),
        }
    }

    /// This test's own 1 GiB-aligned window of the root VSpace (no other
    /// test maps there, so a leftover mapping cannot mislead another test).
    pub fn va(&self) -> Word {
        VA_BASE + (self.index as Word) * (1 << cerne_abi::object::HUGE_PAGE_BITS)
    }

    /// Maps `frame` at `vaddr` of `vspace`, making the page tables the
    /// walk lacks (as sel4utils does): each FailedLookup from Page_Map
    /// gets one more table.
    pub fn map_in(
        &mut self,
        vspace: Cap<VSpace>,
        frame: Cap<Frame>,
        vaddr: Word,
        rights: CapRights,
        attr: Word,
    ) -> core::result::Result<(), Fail> {
        for _ in 0..4 {
            match frame.map(vspace, vaddr, rights, attr) {
                Ok(()) => return Ok(()),
                Err(e) if e.code() == Some(cerne_abi::error::Error::FailedLookup) => {
                    let pt = self.page_table()?;
                    if let Err(e) = pt.map(vspace, vaddr, attr) {
                        return Err(fail(
                            file!(),
                            line!(),
                            format_args!("PageTable_Map at {vaddr:#x} failed: {e:?}"),
                        ));
                    }
                }
                Err(e) => {
                    return Err(fail(
                        file!(),
                        line!(),
                        format_args!("Page_Map at {vaddr:#x} failed: {e:?}"),
                    ))
                }
            }
        }
        Err(fail(
            file!(),
            line!(),
            format_args!("Page_Map at {vaddr:#x}: still no table after 3"),
        ))
    }

    /// Maps `frame` into the root VSpace at `vaddr`.
    pub fn map(
        &mut self,
        frame: Cap<Frame>,
        vaddr: Word,
        rights: CapRights,
        attr: Word,
    ) -> core::result::Result<(), Fail> {
        self.map_in(self.boot.vspace, frame, vaddr, rights, attr)
    }

    /// A fresh 4 KiB frame mapped read-write at `vaddr` of the root VSpace.
    pub fn mapped_frame(&mut self, vaddr: Word) -> core::result::Result<Cap<Frame>, Fail> {
        let f = self.frame()?;
        self.map(
            f,
            vaddr,
            CapRights::READ_WRITE,
            cerne_abi::vm::DEFAULT_VM_ATTRIBUTES,
        )?;
        Ok(f)
    }

    /// A fresh VSpace (ASID from pool 0) in which the root task's image is
    /// mapped again at the same addresses, through copies of BootInfo's
    /// userImageFrames caps: code, data, stacks and IPC buffers are the very
    /// same memory, so threads of the suite run in it as in the root VSpace.
    /// Nothing else is mapped there.
    pub fn image_vspace(&mut self) -> core::result::Result<Cap<VSpace>, Fail> {
        self.image_vspace_in(self.boot.asid_pool)
    }

    /// As [`Env::image_vspace`], with an ASID from `pool`.
    pub fn image_vspace_in(
        &mut self,
        pool: Cap<AsidPool>,
    ) -> core::result::Result<Cap<VSpace>, Fail> {
        let vs: Cap<VSpace> = self.alloc(ObjectType::VSpace, 0)?;
        if let Err(e) = pool.assign(vs) {
            return Err(fail(
                file!(),
                line!(),
                format_args!("ASID assign failed: {e:?}"),
            ));
        }
        let frames = self.bi.user_image_frames;
        let base = threads::image_frame_vaddr(self.bi, frames.start);
        for (i, slot) in (frames.start..frames.end).enumerate() {
            let copy = self.copy(Cap::<Frame>::from_cptr(slot), CapRights::ALL)?;
            let va = base + (i as Word) * (1 << cerne_abi::object::PAGE_BITS);
            self.map_in(
                vs,
                copy,
                va,
                CapRights::READ_WRITE,
                cerne_abi::vm::DEFAULT_VM_ATTRIBUTES,
            )?;
        }
        Ok(vs)
    }

    /// A helper thread whose faults go to a fresh endpoint (returned), at
    /// `priority`, started.
    pub fn faulter(
        &mut self,
        entry: fn(Word),
        arg: Word,
        priority: Word,
    ) -> core::result::Result<(threads::Thread, Cap<Endpoint>), Fail> {
        let ep = self.endpoint()?;
        let t = self.thread(entry, arg, priority, ep.cptr())?;
        if let Err(e) = t.tcb.resume() {
            return Err(fail(file!(), line!(), format_args!("resume failed: {e:?}")));
        }
        Ok((t, ep))
    }

    /// A helper thread running `entry(arg)` at `priority` in the root
    /// CSpace and VSpace, with its own stack and IPC buffer and fault
    /// endpoint cptr `fault_ep` (0: none); configured but not started.
    pub fn thread(
        &mut self,
        entry: fn(Word),
        arg: Word,
        priority: Word,
        fault_ep: CPtr,
    ) -> core::result::Result<threads::Thread, Fail> {
        let tcb = self.tcb()?;
        self.thread_on(tcb, entry, arg, priority, fault_ep)
    }

    /// As [`Env::thread`], on a TCB the test made itself (from an untyped
    /// of its own, say).
    pub fn thread_on(
        &mut self,
        tcb: Cap<Tcb>,
        entry: fn(Word),
        arg: Word,
        priority: Word,
        fault_ep: CPtr,
    ) -> core::result::Result<threads::Thread, Fail> {
        let index = self.next_thread;
        if index >= threads::HELPERS {
            return Err(fail(
                file!(),
                line!(),
                format_args!("too many helper threads"),
            ));
        }
        self.next_thread += 1;
        let t = threads::Thread::new(tcb, threads::HELPER_BASE + index);
        t.configure(self.bi, &self.boot, fault_ep)
            .and_then(|()| tcb.set_sched_params(self.boot.tcb, priority, priority))
            .and_then(|()| t.prepare(entry, arg, false))
            .map_err(|e| {
                fail(
                    file!(),
                    line!(),
                    format_args!("thread set-up failed: {e:?}"),
                )
            })?;
        Ok(t)
    }

    /// As [`Env::thread`], and started.
    pub fn spawn(
        &mut self,
        entry: fn(Word),
        arg: Word,
        priority: Word,
    ) -> core::result::Result<threads::Thread, Fail> {
        let t = self.thread(entry, arg, priority, 0)?;
        if let Err(e) = t.tcb.resume() {
            return Err(fail(file!(), line!(), format_args!("resume failed: {e:?}")));
        }
        Ok(t)
    }
}
