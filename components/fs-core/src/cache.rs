//! A write-back block cache that turns a sector [`BlockDevice`] into the
//! byte-addressed, seekable stream starry-fatfs works on.
//!
//! fatfs touches the disk in tiny pieces (a 4-byte FAT entry, a 32-byte
//! directory entry), so every access goes through a fixed number of 4 KiB
//! pages (8 sectors each). Each page keeps two 8-bit masks: which of its
//! sectors hold valid data and which are dirty. A write that covers whole
//! sectors needs no read; a partial-sector write or a read of a sector not
//! yet valid fetches the whole page with one device read (sectors already
//! valid in the cache are kept, so unsaved data is never overwritten).
//!
//! Nothing reaches the device on a write. Dirty sectors go out when
//! * a page must be evicted (least recently used) and the victim is dirty:
//!   then *every* dirty page is written back in one batch, so the victim and
//!   the pages that would be evicted next are written together and the
//!   following evictions are free;
//! * [`BlockCache::sync`] is called: every dirty run of sectors is sent in a
//!   single [`BlockDevice::write_batch`] (all in flight together), and then
//!   [`BlockDevice::flush`] is called. When `sync` returns `Ok`, everything
//!   written to the cache before it is durable.
//!
//! **Order.** A write-back reaches the device in two steps when the cache
//! knows where the volume's data region starts
//! ([`BlockCache::set_data_start`]): first every dirty sector of the data
//! region (file data and directories), then a flush, then the sectors
//! before it (boot sector, FSInfo, the FATs). So a crash at any point of a
//! write-back leaves the FAT as it was before, or the directories and data
//! as they are now: an entry may point at clusters the FAT does not give
//! it yet, a cluster may be allocated that no entry reaches, never the
//! reverse (clusters a durable entry reaches freed or given to another
//! file). The repair at mount (`repair`) fixes exactly those two.
//!
//! If a write-back fails, the pages stay dirty (writing them again later is
//! harmless), so a device error never discards data held in the cache.
//!
//! The last page of a disk whose size is not a multiple of 8 sectors is
//! short: only its existing sectors are ever read or written. The byte
//! stream ends at `sector_count * 512`; reads there return 0 bytes and
//! writes there write 0 bytes.
//!
//! [`SharedCache`] is the same cache behind `Rc<RefCell<…>>`, so that the
//! file system can own one handle while the file server keeps another to
//! sync, read statistics and reach the device.

use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;

use fatfs::{IoBase, Read, Seek, SeekFrom, Write};

use crate::device::{BlockDevice, IoError, SECTOR_SIZE};

/// Bytes in one cache page.
pub const PAGE_SIZE: usize = 4096;

/// Sectors in one cache page.
pub const SECTORS_PER_PAGE: usize = PAGE_SIZE / SECTOR_SIZE;

/// [`SECTORS_PER_PAGE`] as a `u64`.
const SPP: u64 = SECTORS_PER_PAGE as u64;

/// Why a cache access failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheError {
    /// The device failed.
    Device(IoError),
    /// A read ended before the buffer was full (the volume is larger than
    /// the disk, or a structure is truncated).
    UnexpectedEof,
    /// A write could not place all its bytes (past the end of the disk).
    WriteZero,
    /// A negative or overflowing seek.
    BadSeek,
    /// The cache was already borrowed (re-entrant use of a [`SharedCache`];
    /// never happens in the file server, reported instead of panicking).
    Busy,
}

impl From<IoError> for CacheError {
    fn from(e: IoError) -> Self {
        CacheError::Device(e)
    }
}

impl fatfs::IoError for CacheError {
    fn is_interrupted(&self) -> bool {
        false
    }
    fn new_unexpected_eof_error() -> Self {
        CacheError::UnexpectedEof
    }
    fn new_write_zero_error() -> Self {
        CacheError::WriteZero
    }
}

/// Counters of a [`BlockCache`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Pages the cache can hold.
    pub capacity_pages: u64,
    /// Pages it holds now.
    pub cached_pages: u64,
    /// Pages with at least one dirty sector now.
    pub dirty_pages: u64,
    /// Page accesses served without a device read.
    pub hits: u64,
    /// Page accesses that needed a device read.
    pub misses: u64,
    /// Pages evicted to make room.
    pub evictions: u64,
    /// Device reads issued.
    pub device_reads: u64,
    /// Sectors read from the device.
    pub sectors_read: u64,
    /// `write_batch` calls issued.
    pub write_batches: u64,
    /// Sectors written to the device.
    pub sectors_written: u64,
    /// `flush` calls issued.
    pub flushes: u64,
}

/// One cache page's bookkeeping; its bytes live in `BlockCache::data`.
#[derive(Clone, Copy, Debug)]
struct Slot {
    /// Page number (first sector / 8).
    page: u64,
    /// Bit `i`: sector `i` of the page holds valid data.
    valid: u8,
    /// Bit `i`: sector `i` of the page differs from the device.
    dirty: u8,
    /// Value of the use clock at the last access, for LRU.
    last_use: u64,
}

/// A fixed-capacity write-back cache of 4 KiB pages over a [`BlockDevice`],
/// readable and writable as one byte stream (see the module doc).
pub struct BlockCache<D: BlockDevice> {
    dev: D,
    /// Device size in sectors, read once at construction.
    sectors: u64,
    capacity: usize,
    slots: Vec<Slot>,
    /// Page bytes, `PAGE_SIZE` per slot, grown as slots are first used.
    data: Vec<u8>,
    /// Page number → slot index.
    map: BTreeMap<u64, usize>,
    /// Buffer for filling a page from the device.
    scratch: Vec<u8>,
    /// The last page looked up and its slot: fatfs reads directories and
    /// FATs a few bytes at a time, mostly from the same page.
    last: Option<(u64, usize)>,
    /// Stream position for the fatfs `Seek`/`Read`/`Write` traits.
    pos: u64,
    clock: u64,
    stats: CacheStats,
    /// The first sector of the volume's data region (0: no order).
    data_start: u64,
    /// Sectors were written since the last flush.
    unflushed: bool,
}

/// Mask with the low `n` bits set (`n` ≤ 8).
fn low_bits(n: usize) -> u8 {
    if n >= 8 {
        0xFF
    } else {
        (1u8 << n) - 1
    }
}

impl<D: BlockDevice> BlockCache<D> {
    /// A cache of `capacity_pages` pages (at least 1) over `dev`.
    pub fn new(dev: D, capacity_pages: usize) -> Self {
        let capacity = capacity_pages.max(1);
        let sectors = dev.sector_count();
        Self {
            dev,
            sectors,
            capacity,
            slots: Vec::new(),
            data: Vec::new(),
            map: BTreeMap::new(),
            scratch: vec![0; PAGE_SIZE],
            last: None,
            pos: 0,
            clock: 0,
            stats: CacheStats {
                capacity_pages: capacity as u64,
                ..CacheStats::default()
            },
            data_start: 0,
            unflushed: false,
        }
    }

    /// Whether [`BlockCache::sync`] has anything to do: dirty sectors, or
    /// sectors written back but not yet flushed.
    pub fn needs_sync(&self) -> bool {
        self.unflushed || self.slots.iter().any(|sl| sl.dirty != 0)
    }

    /// Orders every later write-back: sectors from `sector` on (the data
    /// region) first, then a flush, then those before it (see the module
    /// doc). 0 turns the order off.
    pub fn set_data_start(&mut self, sector: u64) {
        self.data_start = sector;
    }

    /// Size of the byte stream: the device size in bytes.
    pub fn len_bytes(&self) -> u64 {
        self.sectors.saturating_mul(SECTOR_SIZE as u64)
    }

    /// The device.
    pub fn device(&self) -> &D {
        &self.dev
    }

    /// The device, mutably (for fault injection in tests). Writing to the
    /// device behind the cache's back makes the cache stale.
    pub fn device_mut(&mut self) -> &mut D {
        &mut self.dev
    }

    /// Gives the device back. Dirty pages are discarded: call
    /// [`BlockCache::sync`] first.
    pub fn into_device(self) -> D {
        self.dev
    }

    /// The counters, with the current page occupancy.
    pub fn stats(&self) -> CacheStats {
        let mut s = self.stats;
        s.cached_pages = self.map.len() as u64;
        s.dirty_pages = self.slots.iter().filter(|sl| sl.dirty != 0).count() as u64;
        s
    }

    /// Sectors in page `page` (8, or fewer for the disk's last page).
    fn page_sectors(&self, page: u64) -> usize {
        let first = page.saturating_mul(SPP);
        let left = self.sectors.saturating_sub(first);
        usize::try_from(left.min(SPP)).unwrap_or(0)
    }

    /// The slot holding `page`, making room (LRU) if it is not cached. The
    /// new slot starts with no valid sector.
    fn slot_for(&mut self, page: u64) -> Result<usize, CacheError> {
        self.clock += 1;
        if let Some((p, s)) = self.last {
            if p == page {
                if let Some(slot) = self.slots.get_mut(s) {
                    slot.last_use = self.clock;
                    return Ok(s);
                }
            }
        }
        if let Some(&s) = self.map.get(&page) {
            self.last = Some((page, s));
            if let Some(slot) = self.slots.get_mut(s) {
                slot.last_use = self.clock;
                return Ok(s);
            }
        }
        let fresh = Slot {
            page,
            valid: 0,
            dirty: 0,
            last_use: self.clock,
        };
        let s = if self.slots.len() < self.capacity {
            self.slots.push(fresh);
            self.data.resize(self.slots.len() * PAGE_SIZE, 0);
            self.slots.len() - 1
        } else {
            let victim = self
                .slots
                .iter()
                .enumerate()
                .min_by_key(|(_, sl)| sl.last_use)
                .map_or(0, |(i, _)| i);
            if self.slots.get(victim).is_some_and(|sl| sl.dirty != 0) {
                self.write_back()?;
            }
            if let Some(old) = self.slots.get(victim) {
                self.map.remove(&old.page);
            }
            if let Some(slot) = self.slots.get_mut(victim) {
                *slot = fresh;
            }
            self.stats.evictions += 1;
            victim
        };
        self.map.insert(page, s);
        self.last = Some((page, s));
        Ok(s)
    }

    /// Makes every sector in `need` of slot `s` valid, reading the page from
    /// the device if any is missing. Counts a hit or a miss.
    fn fill(&mut self, s: usize, need: u8) -> Result<(), CacheError> {
        let Some(slot) = self.slots.get(s).copied() else {
            return Err(CacheError::Busy);
        };
        if slot.valid & need == need {
            self.stats.hits += 1;
            return Ok(());
        }
        self.stats.misses += 1;
        let n = self.page_sectors(slot.page);
        let bytes = n * SECTOR_SIZE;
        let first = slot.page * SPP;
        self.dev.read(first, &mut self.scratch[..bytes])?;
        self.stats.device_reads += 1;
        self.stats.sectors_read += n as u64;
        let base = s * PAGE_SIZE;
        for i in 0..n {
            if slot.valid & (1 << i) == 0 {
                let off = i * SECTOR_SIZE;
                self.data[base + off..base + off + SECTOR_SIZE]
                    .copy_from_slice(&self.scratch[off..off + SECTOR_SIZE]);
            }
        }
        if let Some(sl) = self.slots.get_mut(s) {
            sl.valid = low_bits(n);
        }
        Ok(())
    }

    /// Reads from byte `pos` into `buf`; returns the bytes read (fewer only
    /// at the end of the disk, 0 at or past it).
    ///
    /// # Errors
    /// [`CacheError::Device`] if a page could not be read or a dirty page
    /// could not be written back to make room.
    pub fn read_at(&mut self, pos: u64, buf: &mut [u8]) -> Result<usize, CacheError> {
        let end = self.len_bytes();
        if pos >= end {
            return Ok(0);
        }
        let total = usize::try_from((end - pos).min(buf.len() as u64)).unwrap_or(0);
        let mut done = 0;
        while done < total {
            let at = pos + done as u64;
            let page = at / PAGE_SIZE as u64;
            let off = (at % PAGE_SIZE as u64) as usize;
            let len = (PAGE_SIZE - off).min(total - done);
            let first_sec = off / SECTOR_SIZE;
            let last_sec = (off + len - 1) / SECTOR_SIZE;
            let need = low_bits(last_sec + 1) & !low_bits(first_sec);
            let s = self.slot_for(page)?;
            self.fill(s, need)?;
            let base = s * PAGE_SIZE + off;
            buf[done..done + len].copy_from_slice(&self.data[base..base + len]);
            done += len;
        }
        Ok(total)
    }

    /// Writes `data` at byte `pos` into the cache; returns the bytes
    /// written (fewer only at the end of the disk, 0 at or past it).
    ///
    /// # Errors
    /// [`CacheError::Device`] if a page needed for a partial-sector write
    /// could not be read or a dirty page could not be written back.
    pub fn write_at(&mut self, pos: u64, data: &[u8]) -> Result<usize, CacheError> {
        let end = self.len_bytes();
        if pos >= end {
            return Ok(0);
        }
        let total = usize::try_from((end - pos).min(data.len() as u64)).unwrap_or(0);
        let mut done = 0;
        while done < total {
            let at = pos + done as u64;
            let page = at / PAGE_SIZE as u64;
            let off = (at % PAGE_SIZE as u64) as usize;
            let len = (PAGE_SIZE - off).min(total - done);
            let first_sec = off / SECTOR_SIZE;
            let last_sec = (off + len - 1) / SECTOR_SIZE;
            let touched = low_bits(last_sec + 1) & !low_bits(first_sec);
            // Sectors only partly overwritten must hold valid data first.
            let mut partial = 0u8;
            if !off.is_multiple_of(SECTOR_SIZE) {
                partial |= 1 << first_sec;
            }
            if !(off + len).is_multiple_of(SECTOR_SIZE) {
                partial |= 1 << last_sec;
            }
            let s = self.slot_for(page)?;
            if partial != 0 {
                self.fill(s, partial)?;
            } else {
                self.stats.hits += 1;
            }
            let base = s * PAGE_SIZE + off;
            self.data[base..base + len].copy_from_slice(&data[done..done + len]);
            if let Some(sl) = self.slots.get_mut(s) {
                sl.valid |= touched;
                sl.dirty |= touched;
            }
            done += len;
        }
        Ok(total)
    }

    /// Writes every dirty sector to the device without a final flush: in
    /// one `write_batch` (one entry per run of consecutive dirty sectors in
    /// a page, in disk order), or, when both the data region and the
    /// sectors before it are dirty and an order is set, the data region's
    /// batch, a flush, then the rest's batch. Pages stay cached, now clean.
    ///
    /// # Errors
    /// [`CacheError::Device`]; the pages not written then stay dirty.
    pub fn write_back(&mut self) -> Result<(), CacheError> {
        let split = self.data_start;
        if split == 0 {
            return self.write_back_range(0, u64::MAX);
        }
        let dirty_in = |c: &Self, lo: u64, hi: u64| {
            c.slots.iter().any(|sl| {
                (0..c.page_sectors(sl.page)).any(|k| {
                    let sector = sl.page * SPP + k as u64;
                    sl.dirty & (1 << k) != 0 && (lo..hi).contains(&sector)
                })
            })
        };
        if dirty_in(self, split, u64::MAX) && dirty_in(self, 0, split) {
            self.write_back_range(split, u64::MAX)?;
            self.dev.flush()?;
            self.stats.flushes += 1;
            self.write_back_range(0, split)
        } else {
            self.write_back_range(0, u64::MAX)
        }
    }

    /// Writes the dirty sectors in `lo..hi` in one batch.
    fn write_back_range(&mut self, lo: u64, hi: u64) -> Result<(), CacheError> {
        let in_range = |page: u64, k: usize| (lo..hi).contains(&(page * SPP + k as u64));
        let mut order: Vec<usize> = (0..self.slots.len())
            .filter(|&i| {
                let sl = self.slots[i];
                (0..self.page_sectors(sl.page))
                    .any(|k| sl.dirty & (1 << k) != 0 && in_range(sl.page, k))
            })
            .collect();
        if order.is_empty() {
            return Ok(());
        }
        order.sort_by_key(|&i| self.slots[i].page);
        let mut batch: Vec<(u64, &[u8])> = Vec::new();
        let mut cleaned: Vec<(usize, u8)> = Vec::new();
        let mut sectors = 0u64;
        for &i in &order {
            let slot = self.slots[i];
            let n = self.page_sectors(slot.page);
            let want = |k: usize| slot.dirty & (1 << k) != 0 && in_range(slot.page, k);
            let mut mask = 0u8;
            let mut k = 0;
            while k < n {
                if !want(k) {
                    k += 1;
                    continue;
                }
                let start = k;
                while k < n && want(k) {
                    mask |= 1 << k;
                    k += 1;
                }
                let base = i * PAGE_SIZE;
                batch.push((
                    slot.page * SPP + start as u64,
                    &self.data[base + start * SECTOR_SIZE..base + k * SECTOR_SIZE],
                ));
                sectors += (k - start) as u64;
            }
            cleaned.push((i, mask));
        }
        self.unflushed = true;
        self.dev.write_batch(&batch)?;
        drop(batch);
        for (i, mask) in cleaned {
            self.slots[i].dirty &= !mask;
        }
        self.stats.write_batches += 1;
        self.stats.sectors_written += sectors;
        Ok(())
    }

    /// Writes back every dirty page ([`BlockCache::write_back`]) and then
    /// flushes the device: on `Ok`, everything written to the cache so far
    /// is durable.
    ///
    /// # Errors
    /// [`CacheError::Device`] from the batch or the flush.
    pub fn sync(&mut self) -> Result<(), CacheError> {
        self.write_back()?;
        self.dev.flush()?;
        self.unflushed = false;
        self.stats.flushes += 1;
        Ok(())
    }

    /// The dirty sectors of the data region that remove a directory entry
    /// the device still holds: a 32-byte slot whose first byte is 0xE5
    /// (deleted) here and names a live entry on the device. Reads each
    /// dirty data-region sector from the device to compare, so it is meant
    /// for the few sectors one directory operation dirtied.
    ///
    /// # Errors
    /// [`CacheError::Device`] from a read.
    pub fn removal_sectors(&mut self) -> Result<Vec<u64>, CacheError> {
        let mut dirty = Vec::new();
        for (i, sl) in self.slots.iter().enumerate() {
            for k in 0..self.page_sectors(sl.page) {
                let sector = sl.page * SPP + k as u64;
                if sl.dirty & (1 << k) != 0 && sector >= self.data_start {
                    dirty.push((i, k, sector));
                }
            }
        }
        let mut on_device = [0u8; SECTOR_SIZE];
        let mut out = Vec::new();
        for (i, k, sector) in dirty {
            self.dev.read(sector, &mut on_device)?;
            self.stats.device_reads += 1;
            self.stats.sectors_read += 1;
            let base = i * PAGE_SIZE + k * SECTOR_SIZE;
            let here = &self.data[base..base + SECTOR_SIZE];
            let removes = here
                .chunks_exact(32)
                .zip(on_device.chunks_exact(32))
                .any(|(now, was)| now[0] == 0xE5 && was[0] != 0 && was[0] != 0xE5);
            if removes {
                out.push(sector);
            }
        }
        Ok(out)
    }

    /// [`BlockCache::sync`], except that the sectors `last` reach the
    /// device only after everything else is durable (FATs included): for
    /// a rename, whose new entry must be on the disk before the old one
    /// is removed. If a write-back fails, `last` stay dirty.
    ///
    /// # Errors
    /// [`CacheError::Device`] from a batch or a flush.
    pub fn sync_with_last(&mut self, last: &[u64]) -> Result<(), CacheError> {
        let mut held: Vec<(usize, u8)> = Vec::new();
        for &sector in last {
            let Some(&i) = self.map.get(&(sector / SPP)) else {
                continue;
            };
            let bit = 1u8 << (sector % SPP);
            if self.slots[i].dirty & bit != 0 {
                self.slots[i].dirty &= !bit;
                held.push((i, bit));
            }
        }
        let first = self.sync();
        for &(i, bit) in &held {
            self.slots[i].dirty |= bit;
        }
        first?;
        self.sync()
    }

    /// Forgets every change not yet written back (the sectors are read from
    /// the device again): for a device that refuses writes.
    pub fn drop_dirty(&mut self) {
        for slot in &mut self.slots {
            slot.valid &= !slot.dirty;
            slot.dirty = 0;
        }
    }

    /// Forgets every clean page (dirty pages stay), so that the next
    /// accesses go to the device: for cold-cache measurements.
    pub fn drop_clean(&mut self) {
        self.last = None;
        let mut keep_slots = Vec::new();
        let mut keep_data = Vec::new();
        self.map.clear();
        for (i, slot) in self.slots.iter().enumerate() {
            if slot.dirty != 0 {
                self.map.insert(slot.page, keep_slots.len());
                keep_slots.push(*slot);
                keep_data.extend_from_slice(&self.data[i * PAGE_SIZE..(i + 1) * PAGE_SIZE]);
            }
        }
        self.slots = keep_slots;
        self.data = keep_data;
    }
}

impl<D: BlockDevice> IoBase for BlockCache<D> {
    type Error = CacheError;
}

impl<D: BlockDevice> Read for BlockCache<D> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, CacheError> {
        let n = self.read_at(self.pos, buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl<D: BlockDevice> Write for BlockCache<D> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, CacheError> {
        let n = self.write_at(self.pos, buf)?;
        self.pos += n as u64;
        Ok(n)
    }

    /// Does nothing: fatfs calls this after every file operation, and
    /// durability is [`BlockCache::sync`]'s job.
    fn flush(&mut self) -> Result<(), CacheError> {
        Ok(())
    }
}

impl<D: BlockDevice> Seek for BlockCache<D> {
    fn seek(&mut self, pos: SeekFrom) -> Result<u64, CacheError> {
        let new = match pos {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::End(d) => self.len_bytes().checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = new.ok_or(CacheError::BadSeek)?;
        Ok(self.pos)
    }
}

/// A [`BlockCache`] shared between the file system and the file server.
/// Cloning gives another handle to the same cache.
pub struct SharedCache<D: BlockDevice> {
    inner: Rc<RefCell<BlockCache<D>>>,
}

impl<D: BlockDevice> Clone for SharedCache<D> {
    fn clone(&self) -> Self {
        Self {
            inner: Rc::clone(&self.inner),
        }
    }
}

impl<D: BlockDevice> SharedCache<D> {
    /// Wraps `cache`.
    pub fn new(cache: BlockCache<D>) -> Self {
        Self {
            inner: Rc::new(RefCell::new(cache)),
        }
    }

    /// Runs `f` on the cache.
    ///
    /// # Errors
    /// [`CacheError::Busy`] if the cache is already borrowed (a call from
    /// inside another `with`).
    pub fn with<R>(&self, f: impl FnOnce(&mut BlockCache<D>) -> R) -> Result<R, CacheError> {
        let mut c = self.inner.try_borrow_mut().map_err(|_| CacheError::Busy)?;
        Ok(f(&mut c))
    }

    /// The cache itself, if this is the last handle.
    pub fn try_into_inner(self) -> Option<BlockCache<D>> {
        Rc::try_unwrap(self.inner).ok().map(RefCell::into_inner)
    }
}

impl<D: BlockDevice> IoBase for SharedCache<D> {
    type Error = CacheError;
}

impl<D: BlockDevice> Read for SharedCache<D> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, CacheError> {
        self.with(|c| Read::read(c, buf))?
    }
}

impl<D: BlockDevice> Write for SharedCache<D> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, CacheError> {
        self.with(|c| Write::write(c, buf))?
    }

    /// Does nothing, like [`BlockCache`]'s.
    fn flush(&mut self) -> Result<(), CacheError> {
        Ok(())
    }
}

impl<D: BlockDevice> Seek for SharedCache<D> {
    fn seek(&mut self, pos: SeekFrom) -> Result<u64, CacheError> {
        self.with(|c| Seek::seek(c, pos))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::MemDisk;

    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    #[test]
    fn tiny_writes_stay_in_cache_until_sync() {
        let mut c = BlockCache::new(MemDisk::new(64), 4);
        for i in 0..100u64 {
            c.write_at(i * 4, &(i as u32).to_le_bytes()).unwrap();
        }
        assert_eq!(c.device().counters().write_batches, 0);
        c.sync().unwrap();
        let k = c.device().counters();
        assert_eq!((k.write_batches, k.flushes), (1, 1));
        let disk = c.into_device().into_bytes();
        for i in 0..100usize {
            assert_eq!(disk[i * 4..i * 4 + 4], (i as u32).to_le_bytes());
        }
    }

    #[test]
    fn sync_sends_every_dirty_page_in_one_batch() {
        let mut c = BlockCache::new(MemDisk::new(256), 16);
        for p in 0..10u64 {
            c.write_at(p * PAGE_SIZE as u64 * 2 + 100, b"x").unwrap();
        }
        c.sync().unwrap();
        let k = c.device().counters();
        assert_eq!(k.write_batches, 1);
        assert_eq!(k.write_entries, 10);
        assert_eq!(k.sectors_written, 10);
    }

    #[test]
    fn eviction_writes_back_and_reads_back() {
        let mut c = BlockCache::new(MemDisk::new(1024), 3);
        let data = pattern(20 * PAGE_SIZE + 123, 5);
        c.write_at(77, &data).unwrap();
        let mut back = vec![0; data.len()];
        assert_eq!(c.read_at(77, &mut back).unwrap(), data.len());
        assert_eq!(back, data);
        assert!(c.stats().evictions > 0);
        c.sync().unwrap();
        let disk = c.into_device().into_bytes();
        assert_eq!(&disk[77..77 + data.len()], &data[..]);
    }

    #[test]
    fn partial_sector_write_keeps_neighbours() {
        let mut bytes = pattern(16 * SECTOR_SIZE, 9);
        let mut c = BlockCache::new(MemDisk::from_bytes(bytes.clone()), 2);
        c.write_at(1000, b"hello").unwrap();
        c.sync().unwrap();
        bytes[1000..1005].copy_from_slice(b"hello");
        assert_eq!(c.into_device().into_bytes(), bytes);
    }

    #[test]
    fn last_partial_page() {
        // 11 sectors: page 1 holds only 3.
        let bytes = pattern(11 * SECTOR_SIZE, 3);
        let mut c = BlockCache::new(MemDisk::from_bytes(bytes.clone()), 2);
        assert_eq!(c.len_bytes(), 11 * SECTOR_SIZE as u64);
        let mut buf = vec![0; 4 * SECTOR_SIZE];
        let n = c.read_at(9 * SECTOR_SIZE as u64, &mut buf).unwrap();
        assert_eq!(n, 2 * SECTOR_SIZE);
        assert_eq!(&buf[..n], &bytes[9 * SECTOR_SIZE..]);
        assert_eq!(c.read_at(c.len_bytes(), &mut buf).unwrap(), 0);
        let n = c.write_at(c.len_bytes() - 10, &[1; 50]).unwrap();
        assert_eq!(n, 10);
        assert_eq!(c.write_at(c.len_bytes(), &[1; 50]).unwrap(), 0);
        c.sync().unwrap();
        let back = c.into_device().into_bytes();
        assert_eq!(back.len(), bytes.len());
        assert_eq!(&back[back.len() - 10..], &[1; 10]);
    }

    #[test]
    fn failed_write_back_keeps_data() {
        let mut c = BlockCache::new(MemDisk::new(64), 2);
        c.write_at(0, b"keep me").unwrap();
        c.device_mut().set_faults(crate::device::Faults {
            fail_writes: true,
            ..Default::default()
        });
        assert_eq!(c.sync(), Err(CacheError::Device(IoError::Device)));
        c.device_mut().clear_faults();
        c.sync().unwrap();
        assert_eq!(&c.into_device().into_bytes()[..7], b"keep me");
    }
}
