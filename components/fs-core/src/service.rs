//! The file protocol served (`libcerne::files`): every request a client
//! can send, decoded by the interface mechanism, checked against the
//! buffer that client shares with the server, and carried out on the
//! [`FileServer`]. The server component only receives messages and hands
//! them to [`FileService::dispatch`]; everything that decides an answer is
//! here, where the host tests (and a property test of random requests)
//! reach it.

use alloc::vec;
use alloc::vec::Vec;

use libcerne::files::{self, protocol, FsError, MAX_PATH};
use libcerne::interface::{BufRange, Reply, SharedBuffer, Word};

use crate::device::BlockDevice;
use crate::path::path_from_bytes;
use crate::server::{FileServer, Handle, OpenFlags, SeekFrom};

/// The file server with its clients' buffers.
pub struct FileService<D: BlockDevice> {
    fs: FileServer<D>,
    /// (badge, the buffer that client shares with the server).
    buffers: Vec<(Word, SharedBuffer)>,
    /// Staging for data between a client's buffer and the file system.
    scratch: Vec<u8>,
    /// Requests dispatched.
    requests: u64,
    /// What the component adds to `stats`: (busy cycles, driver cycles,
    /// heap used, heap free).
    usage: fn() -> (u64, u64, u64, u64),
}

impl<D: BlockDevice> FileService<D> {
    /// Serves `fs` to the clients of `buffers`.
    pub fn new(fs: FileServer<D>, buffers: Vec<(Word, SharedBuffer)>) -> Self {
        let largest = buffers.iter().map(|(_, b)| b.len()).max().unwrap_or(0);
        Self {
            fs,
            buffers,
            scratch: vec![0; largest],
            requests: 0,
            usage: || (0, 0, 0, 0),
        }
    }

    /// Sets what `stats` reports of the component itself: (busy cycles,
    /// driver cycles, heap used, heap free).
    pub fn set_usage(&mut self, usage: fn() -> (u64, u64, u64, u64)) {
        self.usage = usage;
    }

    /// Tells the server which incarnation of the component it is: handles
    /// of another are answered with `Stale` (see
    /// [`FileServer::set_incarnation`]).
    pub fn set_incarnation(&mut self, incarnation: u64) {
        self.fs.set_incarnation(incarnation);
    }

    /// The file server.
    pub fn fs(&mut self) -> &mut FileServer<D> {
        &mut self.fs
    }

    /// Answers one message from the client of `badge`.
    pub fn dispatch(&mut self, badge: Word, label: Word, words: &[Word]) -> Reply {
        self.requests += 1;
        protocol::dispatch(self, badge, label, words)
    }

    fn buffer(&self, badge: Word) -> Result<SharedBuffer, FsError> {
        self.buffers
            .iter()
            .find(|(b, _)| *b == badge)
            .map(|(_, b)| *b)
            .ok_or(FsError::BadBuffer)
    }

    /// Runs `f` on the path at `range` of the client's buffer.
    fn with_path<R>(
        &mut self,
        badge: Word,
        range: BufRange,
        f: impl FnOnce(&mut FileServer<D>, &str) -> Result<R, FsError>,
    ) -> Result<R, FsError> {
        let buffer = self.buffer(badge)?;
        let range = buffer.check(range).map_err(|_| FsError::BadBuffer)?;
        if range.len() > MAX_PATH {
            return Err(FsError::PathTooLong);
        }
        let mut bytes = [0u8; MAX_PATH];
        let bytes = &mut bytes[..range.len()];
        buffer
            .read(range.start, bytes)
            .map_err(|_| FsError::BadBuffer)?;
        let path = path_from_bytes(bytes)?;
        f(&mut self.fs, path)
    }

    /// Checks `range` of the client's buffer for a transfer.
    fn transfer_range(
        &self,
        badge: Word,
        range: BufRange,
    ) -> Result<(SharedBuffer, core::ops::Range<usize>), FsError> {
        let buffer = self.buffer(badge)?;
        let range = buffer.check(range).map_err(|_| FsError::BadBuffer)?;
        Ok((buffer, range))
    }

    fn read_into(
        &mut self,
        badge: Word,
        handle: u64,
        at: Option<u64>,
        buf: BufRange,
    ) -> Result<files::Count, FsError> {
        let (buffer, range) = self.transfer_range(badge, buf)?;
        let scratch = &mut self.scratch[..range.len()];
        let h = Handle::from_raw(handle);
        let n = match at {
            Some(pos) => self.fs.read_at(badge, h, pos, scratch)?,
            None => self.fs.read(badge, h, scratch)?,
        };
        buffer
            .write(range.start, &scratch[..n])
            .map_err(|_| FsError::BadBuffer)?;
        Ok(files::Count { bytes: n as u64 })
    }

    fn write_from(
        &mut self,
        badge: Word,
        handle: u64,
        at: Option<u64>,
        buf: BufRange,
    ) -> Result<files::Count, FsError> {
        let (buffer, range) = self.transfer_range(badge, buf)?;
        let scratch = &mut self.scratch[..range.len()];
        buffer
            .read(range.start, scratch)
            .map_err(|_| FsError::BadBuffer)?;
        let h = Handle::from_raw(handle);
        let n = match at {
            None => self.fs.write(badge, h, scratch)?,
            Some(pos) => self.fs.write_at(badge, h, pos, scratch)?,
        };
        Ok(files::Count { bytes: n as u64 })
    }
}

fn stat_reply(s: crate::server::Stat) -> files::Stat {
    files::Stat {
        size: s.size,
        is_dir: u32::from(s.is_dir),
        reserved: 0,
    }
}

impl<D: BlockDevice> protocol::Server for FileService<D> {
    fn open(&mut self, badge: Word, r: files::Open) -> Result<files::Opened, FsError> {
        if r.reserved != 0 {
            return Err(FsError::InvalidArgument);
        }
        let flags = OpenFlags::from_bits(r.flags)?;
        let h = self.with_path(badge, r.path, |fs, path| fs.open(badge, path, flags))?;
        Ok(files::Opened { handle: h.raw() })
    }

    fn close(&mut self, badge: Word, r: files::HandleOnly) -> Result<files::Empty, FsError> {
        self.fs.close(badge, Handle::from_raw(r.handle))?;
        Ok(files::Empty {})
    }

    fn read(&mut self, badge: Word, r: files::Transfer) -> Result<files::Count, FsError> {
        self.read_into(badge, r.handle, None, r.buf)
    }

    fn write(&mut self, badge: Word, r: files::Transfer) -> Result<files::Count, FsError> {
        self.write_from(badge, r.handle, None, r.buf)
    }

    fn read_at(&mut self, badge: Word, r: files::TransferAt) -> Result<files::Count, FsError> {
        self.read_into(badge, r.handle, Some(r.position), r.buf)
    }

    fn write_at(&mut self, badge: Word, r: files::TransferAt) -> Result<files::Count, FsError> {
        self.write_from(badge, r.handle, Some(r.position), r.buf)
    }

    fn seek(&mut self, badge: Word, r: files::Seek) -> Result<files::Position, FsError> {
        let from = match (r.whence, r.reserved) {
            (files::whence::START, 0) => {
                SeekFrom::Start(u64::try_from(r.offset).map_err(|_| FsError::InvalidArgument)?)
            }
            (files::whence::CURRENT, 0) => SeekFrom::Current(r.offset),
            (files::whence::END, 0) => SeekFrom::End(r.offset),
            _ => return Err(FsError::InvalidArgument),
        };
        let offset = self.fs.seek(badge, Handle::from_raw(r.handle), from)?;
        Ok(files::Position { offset })
    }

    fn stat(&mut self, badge: Word, r: files::PathOnly) -> Result<files::Stat, FsError> {
        self.with_path(badge, r.path, |fs, path| fs.stat(badge, path))
            .map(stat_reply)
    }

    fn fstat(&mut self, badge: Word, r: files::HandleOnly) -> Result<files::Stat, FsError> {
        Ok(stat_reply(
            self.fs.fstat(badge, Handle::from_raw(r.handle))?,
        ))
    }

    fn read_dir(&mut self, badge: Word, r: files::ReadDir) -> Result<files::Listed, FsError> {
        let (buffer, out) = self.transfer_range(badge, r.out)?;
        let max = r.max as usize;
        let entries = if r.handle != 0 {
            self.fs
                .read_dir_handle(badge, Handle::from_raw(r.handle), u64::from(r.start), max)?
        } else {
            self.with_path(badge, r.path, |fs, path| {
                fs.read_dir(badge, path, u64::from(r.start), max)
            })?
        };
        let records = &mut self.scratch[..out.len()];
        let mut end = 0;
        let mut written = 0u32;
        for e in &entries {
            match files::put_record(records, end, e.size, e.is_dir, &e.name) {
                Some(next) => {
                    end = next;
                    written += 1;
                }
                None => break,
            }
        }
        buffer
            .write(out.start, &records[..end])
            .map_err(|_| FsError::BadBuffer)?;
        // Fewer than asked and all of them fitted: the directory ended.
        let at_end = entries.len() < max && written as usize == entries.len();
        Ok(files::Listed {
            entries: written,
            end: u32::from(at_end),
            bytes: end as u32,
            reserved: 0,
        })
    }

    fn mkdir(&mut self, badge: Word, r: files::PathOnly) -> Result<files::Empty, FsError> {
        self.with_path(badge, r.path, |fs, path| fs.mkdir(badge, path))?;
        Ok(files::Empty {})
    }

    fn unlink(&mut self, badge: Word, r: files::PathOnly) -> Result<files::Empty, FsError> {
        self.with_path(badge, r.path, |fs, path| fs.unlink(badge, path))?;
        Ok(files::Empty {})
    }

    fn rename(&mut self, badge: Word, r: files::Rename) -> Result<files::Empty, FsError> {
        let mut from = [0u8; MAX_PATH];
        let from_len = {
            let buffer = self.buffer(badge)?;
            let range = buffer.check(r.from).map_err(|_| FsError::BadBuffer)?;
            if range.len() > MAX_PATH {
                return Err(FsError::PathTooLong);
            }
            buffer
                .read(range.start, &mut from[..range.len()])
                .map_err(|_| FsError::BadBuffer)?;
            range.len()
        };
        let from = path_from_bytes(&from[..from_len])?;
        let from = alloc::string::String::from(from);
        self.with_path(badge, r.to, |fs, to| fs.rename(badge, &from, to))?;
        Ok(files::Empty {})
    }

    fn truncate(&mut self, badge: Word, r: files::Truncate) -> Result<files::Empty, FsError> {
        self.fs.truncate(badge, Handle::from_raw(r.handle), r.len)?;
        Ok(files::Empty {})
    }

    fn fsync(&mut self, badge: Word, r: files::HandleOnly) -> Result<files::Empty, FsError> {
        self.fs.fsync(badge, Handle::from_raw(r.handle))?;
        Ok(files::Empty {})
    }

    fn stats(&mut self, _badge: Word, _r: files::Empty) -> Result<files::ServerStats, FsError> {
        let s = self.fs.stats()?;
        let (busy_cycles, driver_cycles, heap_used, heap_free) = (self.usage)();
        Ok(files::ServerStats {
            requests: self.requests,
            busy_cycles,
            driver_cycles,
            cache_hits: s.cache.hits,
            cache_misses: s.cache.misses,
            heap_used,
            heap_free,
            free_bytes: s.free_bytes,
        })
    }

    fn close_all(&mut self, badge: Word, _r: files::Empty) -> Result<files::Count, FsError> {
        let closed = self.fs.close_session(badge);
        Ok(files::Count {
            bytes: closed as u64,
        })
    }

    fn statfs(&mut self, _badge: Word, _r: files::Empty) -> Result<files::FsInfo, FsError> {
        let s = self.fs.stats()?;
        Ok(files::FsInfo {
            total_bytes: s.total_bytes,
            free_bytes: s.free_bytes,
        })
    }
}
