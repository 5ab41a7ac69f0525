//! What the file server needs from storage ([`BlockDevice`]), and an
//! in-memory implementation for tests and benchmarks ([`MemDisk`]).
//!
//! A block device is an array of 512-byte sectors. Reads are synchronous;
//! writes come in batches that the device may keep in flight together (the
//! real driver puts them all on its request ring before waiting), and a
//! flush is the only durability promise: data written before a `flush` that
//! returned `Ok` survives a power cut, anything else may not.

use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;

/// Bytes in one sector, the unit of every [`BlockDevice`] transfer.
pub const SECTOR_SIZE: usize = 512;

/// [`SECTOR_SIZE`] as a `u64`, for sector arithmetic.
const SECTOR_U64: u64 = SECTOR_SIZE as u64;

/// Why a device transfer failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IoError {
    /// The device reported a failure (media error, timeout, driver gone).
    Device,
    /// The transfer touched a sector at or past [`BlockDevice::sector_count`].
    OutOfRange,
    /// The buffer length is not a multiple of [`SECTOR_SIZE`].
    BadBuffer,
}

/// Storage as the file server sees it: 512-byte sectors, batched writes and
/// an explicit durability barrier.
pub trait BlockDevice {
    /// Number of sectors on the device; sectors `0..sector_count()` exist.
    fn sector_count(&self) -> u64;

    /// Reads `buf.len() / 512` sectors starting at `sector` into `buf`.
    /// `buf.len()` must be a multiple of [`SECTOR_SIZE`].
    ///
    /// # Errors
    /// [`IoError::BadBuffer`], [`IoError::OutOfRange`] or
    /// [`IoError::Device`].
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), IoError>;

    /// Writes every `(first_sector, data)` pair. The writes may all be in
    /// flight at once and complete in any order; the call returns when all
    /// of them completed. The entries never overlap. A failed batch may have
    /// written any subset of its entries.
    ///
    /// # Errors
    /// [`IoError::BadBuffer`], [`IoError::OutOfRange`] or
    /// [`IoError::Device`].
    fn write_batch(&mut self, writes: &[(u64, &[u8])]) -> Result<(), IoError>;

    /// Returns once the device has acknowledged that every write that
    /// completed before this call is durable.
    ///
    /// # Errors
    /// [`IoError::Device`].
    fn flush(&mut self) -> Result<(), IoError>;
}

impl<T: BlockDevice + ?Sized> BlockDevice for &mut T {
    fn sector_count(&self) -> u64 {
        (**self).sector_count()
    }
    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), IoError> {
        (**self).read(sector, buf)
    }
    fn write_batch(&mut self, writes: &[(u64, &[u8])]) -> Result<(), IoError> {
        (**self).write_batch(writes)
    }
    fn flush(&mut self) -> Result<(), IoError> {
        (**self).flush()
    }
}

/// What a [`MemDisk`] has been asked to do so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DiskCounters {
    /// Calls to [`BlockDevice::read`].
    pub read_calls: u64,
    /// Sectors transferred by those calls.
    pub sectors_read: u64,
    /// Calls to [`BlockDevice::write_batch`].
    pub write_batches: u64,
    /// Entries in all those batches (separate writes).
    pub write_entries: u64,
    /// Sectors written by those batches.
    pub sectors_written: u64,
    /// The largest number of entries seen in one batch.
    pub max_batch: u64,
    /// Calls to [`BlockDevice::flush`].
    pub flushes: u64,
}

/// Faults a [`MemDisk`] injects; every field off by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Every read fails with [`IoError::Device`].
    pub fail_reads: bool,
    /// Every write batch fails with [`IoError::Device`] and writes nothing.
    pub fail_writes: bool,
    /// Every flush fails with [`IoError::Device`].
    pub fail_flushes: bool,
    /// After this many further successful operations (reads, batches,
    /// flushes), every operation fails until the faults are cleared.
    pub fail_after: Option<u64>,
}

/// A `Vec<u8>`-backed [`BlockDevice`] for tests: it counts what it is asked
/// to do, can fail on command, can claim to be smaller than it is, and can
/// model a volatile write cache (writes become durable only at `flush`).
#[derive(Clone, Debug)]
pub struct MemDisk {
    /// The durable contents.
    data: Vec<u8>,
    /// With the volatile cache on: sectors written since the last flush.
    pending: BTreeMap<u64, Vec<u8>>,
    /// Whether writes wait in `pending` until a flush.
    volatile: bool,
    /// A smaller size to report than `data` holds.
    reported_sectors: Option<u64>,
    faults: Faults,
    counters: DiskCounters,
}

impl MemDisk {
    /// A zero-filled disk of `sectors` sectors.
    #[must_use]
    pub fn new(sectors: u64) -> Self {
        let len = usize::try_from(sectors.saturating_mul(SECTOR_U64)).unwrap_or(usize::MAX);
        Self::from_bytes(vec![0; len])
    }

    /// A disk holding `bytes`; a trailing partial sector is ignored.
    #[must_use]
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self {
            data: bytes,
            pending: BTreeMap::new(),
            volatile: false,
            reported_sectors: None,
            faults: Faults::default(),
            counters: DiskCounters::default(),
        }
    }

    /// Turns the volatile write cache model on or off. While on, written
    /// sectors are visible to reads but [`MemDisk::durable_bytes`] shows
    /// them only after a flush. Turning it off makes pending writes durable.
    pub fn set_volatile_cache(&mut self, on: bool) {
        if !on {
            self.apply_pending();
        }
        self.volatile = on;
    }

    /// Makes the disk report `sectors` (clamped to its real size) as its
    /// size, or its real size again with `None`. Transfers past the
    /// reported size fail with [`IoError::OutOfRange`].
    pub fn set_reported_sectors(&mut self, sectors: Option<u64>) {
        self.reported_sectors = sectors;
    }

    /// The faults currently injected.
    #[must_use]
    pub fn faults(&self) -> Faults {
        self.faults
    }

    /// Replaces the injected faults.
    pub fn set_faults(&mut self, faults: Faults) {
        self.faults = faults;
    }

    /// Stops injecting any fault.
    pub fn clear_faults(&mut self) {
        self.faults = Faults::default();
    }

    /// What the disk has been asked to do so far.
    #[must_use]
    pub fn counters(&self) -> DiskCounters {
        self.counters
    }

    /// Sets every counter back to zero.
    pub fn reset_counters(&mut self) {
        self.counters = DiskCounters::default();
    }

    /// The contents as of the last flush (the whole contents while the
    /// volatile cache model is off).
    #[must_use]
    pub fn durable_bytes(&self) -> &[u8] {
        &self.data
    }

    /// Takes the contents out, including writes not yet flushed (as if the
    /// device drained its cache).
    #[must_use]
    pub fn into_bytes(mut self) -> Vec<u8> {
        self.apply_pending();
        self.data
    }

    /// A copy of the contents including writes not yet flushed.
    #[must_use]
    pub fn current_bytes(&self) -> Vec<u8> {
        let mut copy = self.data.clone();
        for (sector, bytes) in &self.pending {
            if let Some(dst) = Self::sector_slice(&mut copy, *sector) {
                dst.copy_from_slice(bytes);
            }
        }
        copy
    }

    fn apply_pending(&mut self) {
        let pending = core::mem::take(&mut self.pending);
        for (sector, bytes) in pending {
            if let Some(dst) = Self::sector_slice(&mut self.data, sector) {
                dst.copy_from_slice(&bytes);
            }
        }
    }

    fn sector_slice(data: &mut [u8], sector: u64) -> Option<&mut [u8]> {
        let start = usize::try_from(sector.checked_mul(SECTOR_U64)?).ok()?;
        data.get_mut(start..start.checked_add(SECTOR_SIZE)?)
    }

    /// Real size in whole sectors.
    fn real_sectors(&self) -> u64 {
        self.data.len() as u64 / SECTOR_U64
    }

    /// Counts one operation against `fail_after`; `true` if it must fail.
    fn tick_fault(&mut self) -> bool {
        match self.faults.fail_after {
            Some(0) => true,
            Some(n) => {
                self.faults.fail_after = Some(n - 1);
                false
            }
            None => false,
        }
    }

    /// Checks that `len` bytes at `sector` are whole sectors on the disk.
    fn check_range(&self, sector: u64, len: usize) -> Result<u64, IoError> {
        if !len.is_multiple_of(SECTOR_SIZE) {
            return Err(IoError::BadBuffer);
        }
        let count = (len / SECTOR_SIZE) as u64;
        let end = sector.checked_add(count).ok_or(IoError::OutOfRange)?;
        if end > self.sector_count() {
            return Err(IoError::OutOfRange);
        }
        Ok(count)
    }
}

impl BlockDevice for MemDisk {
    fn sector_count(&self) -> u64 {
        let real = self.real_sectors();
        self.reported_sectors.map_or(real, |r| r.min(real))
    }

    fn read(&mut self, sector: u64, buf: &mut [u8]) -> Result<(), IoError> {
        let count = self.check_range(sector, buf.len())?;
        if self.faults.fail_reads || self.tick_fault() {
            return Err(IoError::Device);
        }
        for (i, chunk) in buf.chunks_exact_mut(SECTOR_SIZE).enumerate() {
            let s = sector + i as u64;
            if let Some(p) = self.pending.get(&s) {
                chunk.copy_from_slice(p);
            } else {
                let src = Self::sector_slice(&mut self.data, s).ok_or(IoError::OutOfRange)?;
                chunk.copy_from_slice(src);
            }
        }
        self.counters.read_calls += 1;
        self.counters.sectors_read += count;
        Ok(())
    }

    fn write_batch(&mut self, writes: &[(u64, &[u8])]) -> Result<(), IoError> {
        let mut total = 0;
        for (sector, data) in writes {
            total += self.check_range(*sector, data.len())?;
        }
        if self.faults.fail_writes || self.tick_fault() {
            return Err(IoError::Device);
        }
        for (sector, data) in writes {
            for (i, chunk) in data.chunks_exact(SECTOR_SIZE).enumerate() {
                let s = *sector + i as u64;
                if self.volatile {
                    self.pending.insert(s, chunk.to_vec());
                } else {
                    let dst = Self::sector_slice(&mut self.data, s).ok_or(IoError::OutOfRange)?;
                    dst.copy_from_slice(chunk);
                }
            }
        }
        self.counters.write_batches += 1;
        self.counters.write_entries += writes.len() as u64;
        self.counters.sectors_written += total;
        self.counters.max_batch = self.counters.max_batch.max(writes.len() as u64);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), IoError> {
        if self.faults.fail_flushes || self.tick_fault() {
            return Err(IoError::Device);
        }
        self.apply_pending();
        self.counters.flushes += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volatile_writes_become_durable_at_flush() {
        let mut d = MemDisk::new(4);
        d.set_volatile_cache(true);
        d.write_batch(&[(1, &[7u8; 512][..])]).unwrap();
        let mut buf = [0u8; 512];
        d.read(1, &mut buf).unwrap();
        assert_eq!(buf, [7u8; 512]);
        assert_eq!(d.durable_bytes()[512], 0);
        d.flush().unwrap();
        assert_eq!(d.durable_bytes()[512], 7);
        assert_eq!(d.counters().flushes, 1);
    }

    #[test]
    fn range_and_faults() {
        let mut d = MemDisk::new(4);
        let mut buf = [0u8; 1024];
        assert_eq!(d.read(3, &mut buf), Err(IoError::OutOfRange));
        assert_eq!(d.read(0, &mut buf[..100]), Err(IoError::BadBuffer));
        d.set_reported_sectors(Some(2));
        assert_eq!(d.sector_count(), 2);
        assert_eq!(d.read(1, &mut buf), Err(IoError::OutOfRange));
        d.set_faults(Faults {
            fail_after: Some(1),
            ..Faults::default()
        });
        assert!(d.read(0, &mut buf).is_ok());
        assert_eq!(d.read(0, &mut buf), Err(IoError::Device));
        assert_eq!(d.flush(), Err(IoError::Device));
        d.clear_faults();
        assert!(d.flush().is_ok());
    }
}
