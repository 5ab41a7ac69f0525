//! Where everything goes, decided before anything is written (seL4's
//! elfloader order, docs/sel4-abi.md §10.1 and §10.4):
//!
//! 1. the kernel at its ELF physical addresses (p_paddr, from the start
//!    of RAM);
//! 2. the DTB right after the kernel image, page aligned;
//! 3. the root task right after the DTB, page aligned, its segments keeping
//!    their relative virtual layout;
//! 4. one page holding the root task's ELF program headers.
//!
//! Everything must fit in the RAM below the loader's own image.

use cerne_plat::pagetable::{coverage, PAGE_SIZE};
use cerne_plat::region::Region;

use crate::elf::Image;
use crate::error::Error;

/// Bytes of one 2 MiB block (a level-2 entry).
const BLOCK_2M: u64 = coverage(2);
/// Bytes of the kernel's virtual slot (a level-1 entry).
const SLOT_1G: u64 = coverage(1);
/// One past the highest user virtual address (seL4_UserTop + 1, §9.2).
const USER_TOP: u64 = 1 << 47;
/// Size of the page holding the root task's program headers.
const HEADERS_PAGE: u64 = PAGE_SIZE;

/// The physical layout and the hand-off values derived from it.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// The kernel image's physical range.
    pub kernel: Region,
    /// The kernel image's virtual range.
    pub kernel_virtual: Region,
    /// The kernel's entry point (virtual).
    pub kernel_entry: u64,
    /// TTBR1 mapping: first virtual address (2 MiB aligned) ...
    pub kernel_map_virtual: u64,
    /// ... its physical address ...
    pub kernel_map_physical: u64,
    /// ... and bytes to the end of the 1 GiB slot.
    pub kernel_map_size: u64,
    /// Where QEMU left the DTB.
    pub dtb_from: u64,
    /// Where the DTB goes (size = its `totalsize`).
    pub dtb: Region,
    /// The root task's physical range: [ui_p_reg_start, ui_p_reg_end).
    pub root_task: Region,
    /// The lowest root-task virtual address (page aligned).
    pub root_task_virtual: u64,
    /// pv_offset = ui_p_reg_start − lowest root-task vaddr (two's complement).
    pub pv_offset: u64,
    /// The root task's entry point (virtual).
    pub root_task_entry: u64,
    /// The page after the root task holding its program headers.
    pub program_headers: Region,
}

const fn align_up(value: u64, align: u64) -> Option<u64> {
    match value.checked_add(align - 1) {
        Some(v) => Some(v & !(align - 1)),
        None => None,
    }
}

/// Plans the layout inside `room` (RAM below the loader).
pub fn plan(
    room: Region,
    dtb_from: u64,
    dtb_size: u64,
    kernel: &Image<'_>,
    root_task: &Image<'_>,
) -> Result<Layout, Error> {
    let fits = |what: &'static str, range: Region| {
        if room.contains(&range) && range.base.checked_add(range.size).is_some() {
            Ok(())
        } else {
            Err(Error::Placement { what, range, room })
        }
    };
    let kernel_err = |what| Error::Elf {
        image: "kernel",
        what,
    };
    let user_err = |what| Error::Elf {
        image: "root task",
        what,
    };
    let overflow = Error::Placement {
        what: "image",
        range: Region::default(),
        room,
    };

    // The kernel.
    let kernel_phys = kernel.physical_bounds();
    let kernel_virt = kernel.virtual_bounds();
    let pv = kernel_virt.base.wrapping_sub(kernel_phys.base);
    if kernel
        .segments()
        .iter()
        .any(|s| s.vaddr.wrapping_sub(s.paddr) != pv)
    {
        return Err(kernel_err(
            "segments do not share one virtual-to-physical offset",
        ));
    }
    if kernel_virt.base / SLOT_1G != (kernel_virt.end() - 1) / SLOT_1G {
        return Err(Error::KernelSlot {
            first: kernel_virt.base,
            end: kernel_virt.end(),
        });
    }
    if !pv.is_multiple_of(BLOCK_2M) {
        return Err(kernel_err(
            "virtual and physical addresses differ by a non-multiple of 2 MiB",
        ));
    }
    if !(kernel_virt.base..kernel_virt.end()).contains(&kernel.entry()) {
        return Err(kernel_err("entry point outside the image"));
    }
    fits("kernel", kernel_phys)?;
    let kernel_map_virtual = kernel_virt.base & !(BLOCK_2M - 1);
    let slot_end = (kernel_virt.base | (SLOT_1G - 1)).wrapping_add(1);

    // The DTB.
    let dtb_base = align_up(kernel_phys.end(), PAGE_SIZE).ok_or(overflow)?;
    let dtb = Region {
        base: dtb_base,
        size: dtb_size,
    };
    fits("DTB", dtb)?;

    // The root task.
    let user_virt = root_task.virtual_bounds();
    let root_task_virtual = user_virt.base & !(PAGE_SIZE - 1);
    let user_end = align_up(user_virt.end(), PAGE_SIZE).ok_or(user_err("image too high"))?;
    if user_end > USER_TOP {
        return Err(user_err("virtual range above seL4_UserTop"));
    }
    if !(user_virt.base..user_virt.end()).contains(&root_task.entry()) {
        return Err(user_err("entry point outside the image"));
    }
    let ui_start = align_up(dtb.end(), PAGE_SIZE).ok_or(overflow)?;
    let user = Region {
        base: ui_start,
        size: user_end - root_task_virtual,
    };
    fits("root task", user)?;

    // The program-header page.
    let (count, entry_size, _) = root_task.program_headers()?;
    let needed = 8 + u64::from(count) * u64::from(entry_size);
    if needed > HEADERS_PAGE {
        return Err(Error::ProgramHeaders(needed));
    }
    let program_headers = Region {
        base: user.end(),
        size: HEADERS_PAGE,
    };
    fits("root task program headers", program_headers)?;

    Ok(Layout {
        kernel: kernel_phys,
        kernel_virtual: kernel_virt,
        kernel_entry: kernel.entry(),
        kernel_map_virtual,
        kernel_map_physical: kernel_map_virtual.wrapping_sub(pv),
        kernel_map_size: slot_end.wrapping_sub(kernel_map_virtual),
        dtb_from,
        dtb,
        root_task: user,
        root_task_virtual,
        pv_offset: ui_start.wrapping_sub(root_task_virtual),
        root_task_entry: root_task.entry(),
        program_headers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{elf, Seg};
    use std::vec::Vec;

    const KERNEL_BASE: u64 = 0xFFFF_FFFF_C000_0000;
    const RAM: Region = Region {
        base: 0x4000_0000,
        size: 0x400_0000, // up to the loader at 0x4400_0000
    };
    const DTB_SIZE: u64 = 7512;

    fn kernel(size: u64, bss: u64) -> Vec<u8> {
        let text = std::vec![0u8; size as usize];
        elf(
            KERNEL_BASE,
            &[
                Seg {
                    vaddr: KERNEL_BASE,
                    paddr: 0x4000_0000,
                    data: &text,
                    mem_size: size,
                },
                Seg {
                    vaddr: KERNEL_BASE + size,
                    paddr: 0x4000_0000 + size,
                    data: &[],
                    mem_size: bss,
                },
            ],
        )
    }

    fn root_task(vaddr: u64, entry: u64, size: u64) -> Vec<u8> {
        elf(
            entry,
            &[
                Seg {
                    vaddr,
                    paddr: vaddr,
                    data: &[0xC3; 0x100],
                    mem_size: 0x100,
                },
                Seg {
                    vaddr: vaddr + 0x2000,
                    paddr: vaddr + 0x2000,
                    data: &[],
                    mem_size: size - 0x2000,
                },
            ],
        )
    }

    fn plan_with(kernel_elf: &[u8], user_elf: &[u8], room: Region) -> Result<Layout, Error> {
        let k = Image::parse("kernel", kernel_elf).unwrap();
        let u = Image::parse("root task", user_elf).unwrap();
        plan(room, 0x4000_0000, DTB_SIZE, &k, &u)
    }

    #[test]
    fn sel4_order_and_handoff_values() {
        let k = kernel(0xA554, 0x2_0000);
        let u = root_task(0x40_0000, 0x40_0000, 0x1_3800);
        let l = plan_with(&k, &u, RAM).unwrap();
        assert_eq!(l.kernel, Region::from_bounds(0x4000_0000, 0x4002_A554));
        assert_eq!(l.kernel_entry, KERNEL_BASE);
        assert_eq!(
            l.dtb,
            Region {
                base: 0x4002_B000,
                size: DTB_SIZE
            }
        );
        assert_eq!(l.dtb_from, 0x4000_0000);
        // Root task after the DTB, page aligned, its size rounded to pages.
        assert_eq!(l.root_task, Region::from_bounds(0x4002_D000, 0x4004_1000));
        assert_eq!(l.root_task_virtual, 0x40_0000);
        assert_eq!(l.pv_offset, 0x4002_D000 - 0x40_0000);
        assert_eq!(l.root_task_entry, 0x40_0000);
        assert_eq!(
            l.program_headers,
            Region {
                base: 0x4004_1000,
                size: 0x1000
            }
        );
        // TTBR1: from the kernel's first vaddr to the end of its 1 GiB slot.
        assert_eq!(l.kernel_map_virtual, KERNEL_BASE);
        assert_eq!(l.kernel_map_physical, 0x4000_0000);
        assert_eq!(l.kernel_map_size, 1 << 30);
    }

    #[test]
    fn root_task_below_pv_wraps_as_twos_complement() {
        // A root task linked above its physical placement: pv_offset is
        // negative, as a two's-complement word.
        let k = kernel(0x1000, 0);
        let u = root_task(0x1_0000_0000, 0x1_0000_0000, 0x3000);
        let l = plan_with(&k, &u, RAM).unwrap();
        assert_eq!(l.pv_offset, l.root_task.base.wrapping_sub(0x1_0000_0000));
        assert_eq!(l.root_task.base.wrapping_sub(l.pv_offset), 0x1_0000_0000);
    }

    #[test]
    fn unaligned_user_start_rounds_down_to_a_page() {
        let k = kernel(0x1000, 0);
        let u = root_task(0x40_0800, 0x40_0800, 0x3000);
        let l = plan_with(&k, &u, RAM).unwrap();
        assert_eq!(l.root_task_virtual, 0x40_0000);
        assert_eq!(l.root_task.size, 0x4000);
    }

    #[test]
    fn too_big_for_the_room() {
        let k = kernel(0x1000, 0);
        let u = root_task(0x40_0000, 0x40_0000, 0x400_0000);
        match plan_with(&k, &u, RAM) {
            Err(Error::Placement { what, room, .. }) => {
                assert_eq!(what, "root task");
                assert_eq!(room, RAM);
            }
            other => panic!("{other:?}"),
        }
        // Exactly filling the room (image + program-header page) fits.
        let used = 0x4000_3000 - RAM.base; // kernel page, DTB pages
        let u = root_task(0x40_0000, 0x40_0000, RAM.size - used - 0x1000);
        assert!(plan_with(&k, &u, RAM).is_ok());
        let u = root_task(0x40_0000, 0x40_0000, RAM.size - used);
        assert!(plan_with(&k, &u, RAM).is_err());
    }

    #[test]
    fn kernel_rules() {
        let u = root_task(0x40_0000, 0x40_0000, 0x3000);
        // Not at a 2 MiB-congruent physical address.
        let text = [0u8; 0x100];
        let shifted = elf(
            KERNEL_BASE,
            &[Seg {
                vaddr: KERNEL_BASE,
                paddr: 0x4000_1000,
                data: &text,
                mem_size: 0x100,
            }],
        );
        assert!(matches!(
            plan_with(&shifted, &u, RAM),
            Err(Error::Elf {
                image: "kernel",
                ..
            })
        ));
        // Crossing a 1 GiB slot.
        let crossing = elf(
            0xFFFF_FFFF_8000_0000 - 0x1000,
            &[Seg {
                vaddr: 0xFFFF_FFFF_8000_0000 - 0x1000,
                paddr: 0x4000_0000 - 0x1000 + (2 << 20),
                data: &text,
                mem_size: 0x2000,
            }],
        );
        let k = Image::parse("kernel", &crossing).unwrap();
        let uu = Image::parse("root task", &u).unwrap();
        assert!(matches!(
            plan(RAM, 0x4000_0000, DTB_SIZE, &k, &uu),
            Err(Error::KernelSlot { .. })
        ));
        // Two segments with different offsets.
        let split = elf(
            KERNEL_BASE,
            &[
                Seg {
                    vaddr: KERNEL_BASE,
                    paddr: 0x4000_0000,
                    data: &text,
                    mem_size: 0x100,
                },
                Seg {
                    vaddr: KERNEL_BASE + 0x1000,
                    paddr: 0x4000_2000,
                    data: &text,
                    mem_size: 0x100,
                },
            ],
        );
        assert!(matches!(
            plan_with(&split, &u, RAM),
            Err(Error::Elf {
                image: "kernel",
                ..
            })
        ));
        // Entry outside the image.
        let mut k = kernel(0x1000, 0);
        k[24..32].copy_from_slice(&0xFFFF_FFFF_D000_0000u64.to_le_bytes());
        assert!(matches!(
            plan_with(&k, &u, RAM),
            Err(Error::Elf {
                image: "kernel",
                what: "entry point outside the image"
            })
        ));
    }

    #[test]
    fn user_rules() {
        let k = kernel(0x1000, 0);
        let high = root_task(0x7FFF_FFFF_F000, 0x7FFF_FFFF_F000, 0x3000);
        assert!(matches!(
            plan_with(&k, &high, RAM),
            Err(Error::Elf {
                image: "root task",
                what: "virtual range above seL4_UserTop"
            })
        ));
        let wrong_entry = root_task(0x40_0000, 0x10_0000, 0x3000);
        assert!(matches!(
            plan_with(&k, &wrong_entry, RAM),
            Err(Error::Elf {
                image: "root task",
                what: "entry point outside the image"
            })
        ));
    }
}
