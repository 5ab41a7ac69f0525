//! Untyped_Retype (docs/sel4-abi.md §4.3): argument checks in seL4's order,
//! reset of an untyped without children (zeroing its used range top-down in
//! 256-byte chunks), aligned placement, and creation of the new objects with
//! their caps as derivation-tree children of the untyped.
#![forbid(unsafe_code)]

use crate::cap::{Cap, FrameSize};
use crate::cdt;
use crate::cspace::{cnode_slot, lookup_slot_for_cnode_op};
use crate::error::{SysResult, SyscallError};
use crate::tcb;
use crate::Kernel;
use crate::WORK_UNITS_PER_PREEMPTION;
use cerne_abi::invocation::InvocationLabel;
use cerne_abi::lookup::LookupFailure;
use cerne_abi::object::{
    ObjectType, MAX_UNTYPED_BITS, MIN_UNTYPED_BITS, UNTYPED_FREE_GRANULE,
    UNTYPED_RETYPE_MAX_OBJECTS,
};
use cerne_abi::rights::CapRights;
use cerne_abi::vm::VmRights;

/// log2 of the reset chunk (CONFIG_RESET_CHUNK_BITS).
pub const RESET_CHUNK_BITS: u32 = 8;

impl Kernel<'_> {
    /// Decodes and performs Untyped_Retype on the untyped cap in `slot`.
    /// `extra` holds the caps of the resolved extra-cap slots (cap 0 is the
    /// root CNode), `extra_slots` their slots.
    pub fn invoke_untyped(
        &mut self,
        label: u64,
        slot: u64,
        mrs: &[u64],
        extra: &[Cap],
        extra_slots: &[u64],
    ) -> SysResult<()> {
        if label != InvocationLabel::UntypedRetype.word() {
            return Err(SyscallError::IllegalOperation);
        }
        if mrs.len() < 6 || extra.is_empty() || extra_slots.is_empty() {
            return Err(SyscallError::TruncatedMessage);
        }
        let (ty, user_size, node_index, node_depth, node_offset, n) =
            (mrs[0], mrs[1], mrs[2], mrs[3], mrs[4], mrs[5]);
        let Some(ty) = ObjectType::from_word(ty) else {
            return Err(SyscallError::InvalidArgument(0));
        };
        let obj_bits = ty.size_bits(user_size);
        if user_size >= 64 || obj_bits > MAX_UNTYPED_BITS as u64 {
            return Err(SyscallError::RangeError(0, MAX_UNTYPED_BITS as u64));
        }
        if ty == ObjectType::CapTable && user_size == 0 {
            return Err(SyscallError::InvalidArgument(1));
        }
        if ty == ObjectType::Untyped && user_size < MIN_UNTYPED_BITS as u64 {
            return Err(SyscallError::InvalidArgument(1));
        }
        let dest_slot = if node_depth == 0 {
            extra_slots[0]
        } else {
            lookup_slot_for_cnode_op(&self.mem, false, extra[0], node_index, node_depth)?
        };
        let Cap::CNode {
            paddr: cnode,
            radix,
            ..
        } = cdt::cap(&self.mem, dest_slot)
        else {
            return Err(SyscallError::FailedLookup {
                source: false,
                failure: LookupFailure::MissingCapability {
                    bits_left: node_depth,
                },
            });
        };
        let node_size = 1u64 << radix;
        if node_offset > node_size - 1 {
            return Err(SyscallError::RangeError(0, node_size - 1));
        }
        if !(1..=UNTYPED_RETYPE_MAX_OBJECTS).contains(&n) {
            return Err(SyscallError::RangeError(1, UNTYPED_RETYPE_MAX_OBJECTS));
        }
        if n > node_size - node_offset {
            return Err(SyscallError::RangeError(1, node_size - node_offset));
        }
        for i in node_offset..node_offset + n {
            self.ensure_empty(cnode_slot(cnode, i))?;
        }
        let Cap::Untyped {
            paddr: base,
            size_bits,
            is_device,
            free_index,
        } = cdt::cap(&self.mem, slot)
        else {
            return Err(SyscallError::InvalidCapability(0));
        };
        let reset = !cdt::has_children(&self.mem, slot);
        let free = if reset { 0 } else { free_index };
        let free_bytes = (1u64 << size_bits).saturating_sub(free);
        if free_bytes >> obj_bits < n {
            return Err(SyscallError::NotEnoughMemory(free_bytes));
        }
        if is_device && !ty.is_frame() && ty != ObjectType::Untyped {
            return Err(SyscallError::InvalidArgument(1));
        }
        let start = (base + free).next_multiple_of(1 << obj_bits);
        if reset && !self.reset_untyped(slot) {
            // Preempted: the reset's progress is in the cap's free index; the
            // thread re-executes this invocation after the interrupt.
            return Ok(());
        }
        let new_free = start + (n << obj_bits) - base;
        cdt::set_cap(
            &self.mem,
            slot,
            Cap::Untyped {
                paddr: base,
                size_bits,
                is_device,
                free_index: new_free,
            },
        );
        for i in 0..n {
            let obj = start + (i << obj_bits);
            let c = self.create_object(ty, obj, user_size as u8, is_device);
            cdt::insert_new_child(&self.mem, slot, cnode_slot(cnode, node_offset + i), c);
        }
        Ok(())
    }

    /// seL4 `resetUntypedCap`: zeroes the used part of a non-device untyped
    /// (rounded up to the 256-byte chunk, or all of a smaller untyped) top
    /// down, chunk by chunk, and brings its free index down to 0. Returns
    /// false if it stopped at a preemption point; the free index then says
    /// how far it got (everything above it is zero), and a later call goes
    /// on from there.
    fn reset_untyped(&mut self, slot: u64) -> bool {
        let Cap::Untyped {
            paddr,
            size_bits,
            is_device,
            free_index,
        } = cdt::cap(&self.mem, slot)
        else {
            return true;
        };
        if free_index == 0 {
            return true;
        }
        let set_free = |k: &mut Self, free_index: u64| {
            cdt::set_cap(
                &k.mem,
                slot,
                Cap::Untyped {
                    paddr,
                    size_bits,
                    is_device,
                    free_index,
                },
            );
        };
        let size = 1u64 << size_bits;
        if is_device || (size_bits as u32) < RESET_CHUNK_BITS {
            if !is_device {
                self.mem.zero(paddr, size);
            }
            set_free(self, 0);
            return true;
        }
        // Chunks are zeroed a preemption interval at a time (one call, the
        // same bytes as chunk by chunk), top down.
        let chunk = 1u64 << RESET_CHUNK_BITS;
        let interval = chunk * u64::from(WORK_UNITS_PER_PREEMPTION);
        let mut offset = free_index.next_multiple_of(chunk).min(size);
        while offset > 0 {
            let step = interval.min(offset);
            offset -= step;
            self.mem.zero(paddr + offset, step);
            if offset > 0 && self.preemption_point(WORK_UNITS_PER_PREEMPTION) {
                set_free(self, offset);
                return false;
            }
        }
        set_free(self, 0);
        true
    }

    /// seL4 `createObject`: initialises the (zeroed) memory at `p` as a new
    /// object of type `ty` and returns its original cap.
    fn create_object(&mut self, ty: ObjectType, p: u64, user_size: u8, is_device: bool) -> Cap {
        let frame = |size| Cap::Frame {
            paddr: p,
            size,
            rights: VmRights::ReadWrite,
            is_device,
            mapping: None,
        };
        match ty {
            ObjectType::Untyped => Cap::Untyped {
                paddr: p,
                size_bits: user_size,
                is_device,
                free_index: 0,
            },
            ObjectType::Tcb => {
                tcb::init(&self.mem, p, self.state.current_domain);
                self.thread_list_add(p);
                Cap::Thread { tcb: p }
            }
            ObjectType::Endpoint => Cap::Endpoint {
                paddr: p,
                badge: 0,
                rights: CapRights::ALL,
            },
            ObjectType::Notification => Cap::Notification {
                paddr: p,
                badge: 0,
                rights: CapRights::READ_WRITE,
            },
            ObjectType::CapTable => Cap::CNode {
                paddr: p,
                radix: user_size,
                guard_size: 0,
                guard: 0,
            },
            ObjectType::SmallPage => frame(FrameSize::Small),
            ObjectType::LargePage => frame(FrameSize::Large),
            ObjectType::HugePage => frame(FrameSize::Huge),
            ObjectType::PageTable => Cap::PageTable {
                paddr: p,
                mapping: None,
            },
            ObjectType::VSpace => Cap::VSpace {
                paddr: p,
                asid: None,
            },
        }
    }
}

/// Free-index granularity, re-exported for checkers.
pub const FREE_GRANULE: u64 = UNTYPED_FREE_GRANULE;
