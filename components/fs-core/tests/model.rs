//! Property test: random operations from two clients run on the file
//! server and on a simple model (a map of path to bytes, a set of
//! directories, a list of handles); results and the whole visible tree are
//! compared after every step, the volume is checked, and after a remount
//! the tree is compared again.
//!
//! Positions and lengths reach past 64 clusters of 512 bytes, the stride at
//! which a handle's cursor remembers its file's clusters, and `ReadAt` jumps
//! around a file, so that cursors made stale by another handle's truncate
//! or rewrite would show as wrong bytes. The free cluster count the server
//! reports is compared with the independent checker's at every remount and
//! at the end (it is kept partly outside fatfs, see `chain`).
//!
//! The number of sequences is `common::cases()`: 48 by default,
//! `CERNE_FS_CASES` exactly, or `CERNE_PROOF_CASES` / 40 (so the knob of the
//! refinement tests in `proofs/` scales this test too).

mod common;
use std::collections::{BTreeMap, BTreeSet};

use cerne_fs::{FileServer, FsError, Handle, MemDisk, OpenFlags, SeekFrom};
use common::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Steps per sequence.
const STEPS: usize = 40;

/// The server's default handle limit per client.
const PER_CLIENT: usize = 32;

/// Every path the operations use; any of them may become a file or a
/// directory.
const PATHS: [&str; 10] = [
    "/a",
    "/b",
    "/Long File Name.txt",
    "/d",
    "/d/a",
    "/d/b",
    "/d/e",
    "/d/e/a",
    "/e",
    "/e/a",
];

/// Flag combinations tried by `Open` (the last two are invalid).
const FLAGS: [OpenFlags; 10] = [
    OpenFlags::READ,
    OpenFlags::WRITE,
    RW,
    CREATE,
    CREATE.union(OpenFlags::TRUNCATE),
    CREATE.union(OpenFlags::EXCLUSIVE),
    CREATE.union(OpenFlags::APPEND),
    OpenFlags::DIRECTORY,
    OpenFlags::TRUNCATE,
    OpenFlags::DIRECTORY.union(OpenFlags::WRITE),
];

#[derive(Clone, Debug)]
enum Op {
    Open {
        client: u64,
        path: usize,
        flags: usize,
    },
    Write {
        client: u64,
        slot: usize,
        len: usize,
        seed: u64,
    },
    Read {
        client: u64,
        slot: usize,
        len: usize,
    },
    ReadAt {
        client: u64,
        slot: usize,
        pos: u64,
        len: usize,
    },
    Seek {
        client: u64,
        slot: usize,
        pos: u64,
    },
    SeekEnd {
        client: u64,
        slot: usize,
        back: i64,
    },
    Truncate {
        client: u64,
        slot: usize,
        len: u64,
    },
    Close {
        client: u64,
        slot: usize,
    },
    Fsync {
        client: u64,
        slot: usize,
    },
    Foreign {
        client: u64,
        slot: usize,
    },
    CloseSession {
        client: u64,
    },
    Stat {
        path: usize,
    },
    Mkdir {
        path: usize,
    },
    Unlink {
        path: usize,
    },
    Rename {
        from: usize,
        to: usize,
    },
    Remount,
}

fn op() -> impl Strategy<Value = Op> {
    let client = 1..=2u64;
    let path = 0..PATHS.len();
    let slot = 0..8usize;
    prop_oneof![
        6 => (client.clone(), path.clone(), 0..FLAGS.len())
            .prop_map(|(client, path, flags)| Op::Open { client, path, flags }),
        6 => (client.clone(), slot.clone(), prop_oneof![0..600usize, 0..20_000usize], any::<u64>())
            .prop_map(|(client, slot, len, seed)| Op::Write { client, slot, len, seed }),
        4 => (client.clone(), slot.clone(), 0..12_000usize)
            .prop_map(|(client, slot, len)| Op::Read { client, slot, len }),
        3 => (client.clone(), slot.clone(), prop_oneof![0..25_000u64, 0..90_000u64], 0..6_000usize)
            .prop_map(|(client, slot, pos, len)| Op::ReadAt { client, slot, pos, len }),
        2 => (client.clone(), slot.clone(), prop_oneof![0..25_000u64, 0..80_000u64])
            .prop_map(|(client, slot, pos)| Op::Seek { client, slot, pos }),
        1 => (client.clone(), slot.clone(), -3_000..100i64)
            .prop_map(|(client, slot, back)| Op::SeekEnd { client, slot, back }),
        2 => (client.clone(), slot.clone(), prop_oneof![0..25_000u64, 0..80_000u64])
            .prop_map(|(client, slot, len)| Op::Truncate { client, slot, len }),
        2 => (client.clone(), slot.clone()).prop_map(|(client, slot)| Op::Close { client, slot }),
        1 => (client.clone(), slot.clone()).prop_map(|(client, slot)| Op::Fsync { client, slot }),
        1 => (client.clone(), slot.clone()).prop_map(|(client, slot)| Op::Foreign { client, slot }),
        1 => client.clone().prop_map(|client| Op::CloseSession { client }),
        1 => path.clone().prop_map(|path| Op::Stat { path }),
        3 => path.clone().prop_map(|path| Op::Mkdir { path }),
        2 => path.clone().prop_map(|path| Op::Unlink { path }),
        2 => (path.clone(), path).prop_map(|(from, to)| Op::Rename { from, to }),
        1 => Just(Op::Remount),
    ]
}

/// A handle as the model sees it.
#[derive(Clone, Debug)]
struct MHandle {
    client: u64,
    real: Handle,
    path: String,
    is_dir: bool,
    pos: u64,
    flags: OpenFlags,
    gone: bool,
}

#[derive(Default)]
struct Model {
    files: BTreeMap<String, Vec<u8>>,
    dirs: BTreeSet<String>,
    handles: Vec<MHandle>,
}

fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => &path[..i],
    }
}

fn under(path: &str, prefix: &str) -> bool {
    path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|r| r.starts_with('/'))
}

impl Model {
    /// The server's checks on the directories above `path`.
    fn walk(&self, path: &str) -> Result<(), FsError> {
        let mut chain = Vec::new();
        let mut p = parent(path);
        while p != "/" {
            chain.push(p);
            p = parent(p);
        }
        for d in chain.into_iter().rev() {
            if self.files.contains_key(d) {
                return Err(FsError::NotADirectory);
            }
            if !self.dirs.contains(d) {
                return Err(FsError::NotFound);
            }
        }
        Ok(())
    }

    fn exists(&self, path: &str) -> Option<bool> {
        if self.dirs.contains(path) {
            Some(true)
        } else if self.files.contains_key(path) {
            Some(false)
        } else {
            None
        }
    }

    fn handle_index(&self, client: u64, slot: usize) -> Option<usize> {
        let mine: Vec<usize> = (0..self.handles.len())
            .filter(|&i| self.handles[i].client == client)
            .collect();
        if mine.is_empty() {
            None
        } else {
            Some(mine[slot % mine.len()])
        }
    }

    fn flags_ok(f: OpenFlags) -> bool {
        let has = |x| f.contains(x);
        if has(OpenFlags::DIRECTORY) {
            return f.bits() & !(OpenFlags::DIRECTORY.bits() | OpenFlags::READ.bits()) == 0;
        }
        let needs_write =
            has(OpenFlags::CREATE) || has(OpenFlags::TRUNCATE) || has(OpenFlags::APPEND);
        (has(OpenFlags::READ) || has(OpenFlags::WRITE))
            && (!needs_write || has(OpenFlags::WRITE))
            && (!has(OpenFlags::EXCLUSIVE) || has(OpenFlags::CREATE))
    }

    /// Model of `open`: Ok(is_dir) on success (the caller adds the handle).
    fn open(&mut self, client: u64, path: &str, f: OpenFlags) -> Result<bool, FsError> {
        if !Self::flags_ok(f) {
            return Err(FsError::InvalidArgument);
        }
        if self.handles.iter().filter(|h| h.client == client).count() >= PER_CLIENT {
            return Err(FsError::TooManyHandles);
        }
        self.walk(path)?;
        let want_dir = f.contains(OpenFlags::DIRECTORY);
        match self.exists(path) {
            Some(is_dir) => {
                if f.contains(OpenFlags::CREATE) && f.contains(OpenFlags::EXCLUSIVE) {
                    return Err(FsError::AlreadyExists);
                }
                if is_dir != want_dir {
                    return Err(if want_dir {
                        FsError::NotADirectory
                    } else {
                        FsError::IsADirectory
                    });
                }
                if f.contains(OpenFlags::TRUNCATE) {
                    self.files.insert(path.to_string(), Vec::new());
                }
            }
            None => {
                if !f.contains(OpenFlags::CREATE) {
                    return Err(FsError::NotFound);
                }
                self.files.insert(path.to_string(), Vec::new());
            }
        }
        Ok(want_dir)
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<(), FsError> {
        self.walk(from)?;
        let is_dir = self.exists(from).ok_or(FsError::NotFound)?;
        self.walk(to)?;
        if is_dir && under(parent(to), from) {
            return Err(FsError::InvalidArgument);
        }
        if self.exists(to).is_some() {
            return if from == to {
                Ok(())
            } else {
                Err(FsError::AlreadyExists)
            };
        }
        let moved = |p: &str| format!("{to}{}", &p[from.len()..]);
        let files: Vec<String> = self
            .files
            .keys()
            .filter(|p| under(p, from))
            .cloned()
            .collect();
        for p in files {
            let data = self.files.remove(&p).unwrap();
            self.files.insert(moved(&p), data);
        }
        let dirs: Vec<String> = self
            .dirs
            .iter()
            .filter(|p| under(p, from))
            .cloned()
            .collect();
        for p in dirs {
            self.dirs.remove(&p);
            self.dirs.insert(moved(&p));
        }
        for h in &mut self.handles {
            if under(&h.path, from) {
                h.path = moved(&h.path);
            }
        }
        Ok(())
    }

    fn unlink(&mut self, path: &str) -> Result<(), FsError> {
        self.walk(path)?;
        let is_dir = self.exists(path).ok_or(FsError::NotFound)?;
        if is_dir {
            let busy = self
                .files
                .keys()
                .chain(self.dirs.iter())
                .any(|p| p != path && under(p, path));
            if busy {
                return Err(FsError::DirectoryNotEmpty);
            }
            self.dirs.remove(path);
        } else {
            self.files.remove(path);
        }
        for h in &mut self.handles {
            if h.path == path {
                h.gone = true;
            }
        }
        Ok(())
    }
}

struct World {
    real: Option<FileServer<MemDisk>>,
    model: Model,
}

fn fail(msg: String) -> Result<(), String> {
    Err(msg)
}

macro_rules! same {
    ($real:expr, $model:expr, $what:expr) => {{
        let (r, m) = ($real, $model);
        if r != m {
            return fail(format!("{}: server {:?}, model {:?}", $what, r, m));
        }
    }};
}

impl World {
    fn new() -> World {
        World {
            real: Some(fresh_server()),
            model: Model::default(),
        }
    }

    fn s(&mut self) -> &mut FileServer<MemDisk> {
        self.real.as_mut().expect("mounted")
    }

    /// The handle an op on (client, slot) uses: one of the client's, or a
    /// made-up value if it has none.
    fn pick(&self, client: u64, slot: usize) -> (Option<usize>, Handle) {
        match self.model.handle_index(client, slot) {
            Some(i) => (Some(i), self.model.handles[i].real),
            None => (None, Handle::from_raw(slot as u64 * 0x1_0001 + 3)),
        }
    }

    fn step(&mut self, op: &Op) -> Result<(), String> {
        match *op {
            Op::Open {
                client,
                path,
                flags,
            } => {
                let (p, f) = (PATHS[path], FLAGS[flags]);
                let got = self.s().open(client, p, f);
                let want = self.model.open(client, p, f);
                match (got, want) {
                    (Ok(h), Ok(is_dir)) => self.model.handles.push(MHandle {
                        client,
                        real: h,
                        path: p.to_string(),
                        is_dir,
                        pos: 0,
                        flags: f,
                        gone: false,
                    }),
                    (g, w) => same!(g.map(|_| ()), w.map(|_| ()), "open"),
                }
            }
            Op::Write {
                client,
                slot,
                len,
                seed,
            } => {
                let (i, h) = self.pick(client, slot);
                let data = pattern(len, seed);
                let got = self.s().write(client, h, &data);
                let want = match i {
                    None => Err(FsError::UnknownHandle),
                    Some(i) => {
                        let m = &mut self.model;
                        let mh = m.handles[i].clone();
                        if mh.is_dir {
                            Err(FsError::IsADirectory)
                        } else if !mh.flags.contains(OpenFlags::WRITE) {
                            Err(FsError::NotWritable)
                        } else if mh.gone {
                            Err(FsError::NotFound)
                        } else {
                            let file = m
                                .files
                                .get_mut(&mh.path)
                                .ok_or("handle on a missing file")?;
                            let pos = if mh.flags.contains(OpenFlags::APPEND) {
                                file.len()
                            } else {
                                mh.pos as usize
                            };
                            if !data.is_empty() {
                                if file.len() < pos + len {
                                    file.resize(pos + len, 0);
                                }
                                file[pos..pos + len].copy_from_slice(&data);
                                m.handles[i].pos = (pos + len) as u64;
                            }
                            Ok(len)
                        }
                    }
                };
                same!(got, want, "write");
            }
            Op::Read { client, slot, len } => {
                let (i, h) = self.pick(client, slot);
                let mut buf = vec![0u8; len];
                let got = self
                    .s()
                    .read(client, h, &mut buf)
                    .map(|n| buf[..n].to_vec());
                let want = match i {
                    None => Err(FsError::UnknownHandle),
                    Some(i) => {
                        let m = &mut self.model;
                        let mh = m.handles[i].clone();
                        if mh.is_dir {
                            Err(FsError::IsADirectory)
                        } else if !mh.flags.contains(OpenFlags::READ) {
                            Err(FsError::NotReadable)
                        } else if mh.gone {
                            Err(FsError::NotFound)
                        } else {
                            let file = m.files.get(&mh.path).ok_or("handle on a missing file")?;
                            let pos = mh.pos as usize;
                            if pos > file.len() {
                                Err(FsError::PastEnd)
                            } else {
                                let n = len.min(file.len() - pos);
                                m.handles[i].pos += n as u64;
                                Ok(file[pos..pos + n].to_vec())
                            }
                        }
                    }
                };
                same!(got, want, "read");
            }
            Op::ReadAt {
                client,
                slot,
                pos,
                len,
            } => {
                let (i, h) = self.pick(client, slot);
                let mut buf = vec![0u8; len];
                let got = self
                    .s()
                    .read_at(client, h, pos, &mut buf)
                    .map(|n| buf[..n].to_vec());
                let want = match i {
                    None => Err(FsError::UnknownHandle),
                    Some(i) => {
                        let mh = &self.model.handles[i];
                        if mh.is_dir {
                            Err(FsError::IsADirectory)
                        } else if !mh.flags.contains(OpenFlags::READ) {
                            Err(FsError::NotReadable)
                        } else if mh.gone {
                            Err(FsError::NotFound)
                        } else {
                            let file = self
                                .model
                                .files
                                .get(&mh.path)
                                .ok_or("handle on a missing file")?;
                            let pos = pos as usize;
                            if pos > file.len() {
                                Err(FsError::PastEnd)
                            } else {
                                let n = len.min(file.len() - pos);
                                Ok(file[pos..pos + n].to_vec())
                            }
                        }
                    }
                };
                same!(got, want, "read_at");
            }
            Op::Seek { client, slot, pos } => self.seek(client, slot, SeekFrom::Start(pos))?,
            Op::SeekEnd { client, slot, back } => self.seek(client, slot, SeekFrom::End(back))?,
            Op::Truncate { client, slot, len } => {
                let (i, h) = self.pick(client, slot);
                let got = self.s().truncate(client, h, len);
                let want = match i {
                    None => Err(FsError::UnknownHandle),
                    Some(i) => {
                        let mh = self.model.handles[i].clone();
                        if mh.is_dir {
                            Err(FsError::IsADirectory)
                        } else if !mh.flags.contains(OpenFlags::WRITE) {
                            Err(FsError::NotWritable)
                        } else if mh.gone {
                            Err(FsError::NotFound)
                        } else {
                            let file = self.model.files.get_mut(&mh.path).ok_or("missing file")?;
                            file.resize(len as usize, 0);
                            Ok(())
                        }
                    }
                };
                same!(got, want, "truncate");
            }
            Op::Close { client, slot } => {
                let (i, h) = self.pick(client, slot);
                let got = self.s().close(client, h);
                let want = match i {
                    None => Err(FsError::UnknownHandle),
                    Some(i) => {
                        self.model.handles.remove(i);
                        Ok(())
                    }
                };
                same!(got, want, "close");
                // A closed handle is dead.
                if i.is_some() {
                    same!(
                        self.s().close(client, h),
                        Err(FsError::UnknownHandle),
                        "close again"
                    );
                }
            }
            Op::Fsync { client, slot } => {
                let (i, h) = self.pick(client, slot);
                let flushes = self.s().with_device(|d| d.counters().flushes).unwrap();
                let got = self.s().fsync(client, h);
                let want = if i.is_some() {
                    Ok(())
                } else {
                    Err(FsError::UnknownHandle)
                };
                same!(got, want, "fsync");
                let after = self.s().with_device(|d| d.counters().flushes).unwrap();
                // One flush, or two: between the data region and the FATs.
                let flushed = after - flushes;
                same!(
                    (1..=2).contains(&flushed),
                    i.is_some(),
                    "flushes between 1 and 2"
                );
                same!(flushed == 0, i.is_none(), "no flush");
            }
            Op::Foreign { client, slot } => {
                let other = 3 - client;
                if let (Some(_), h) = self.pick(other, slot) {
                    let mut b = [0u8; 8];
                    same!(
                        self.s().read(client, h, &mut b),
                        Err(FsError::UnknownHandle),
                        "foreign read"
                    );
                    same!(
                        self.s().write(client, h, b"x"),
                        Err(FsError::UnknownHandle),
                        "foreign write"
                    );
                    same!(
                        self.s().close(client, h),
                        Err(FsError::UnknownHandle),
                        "foreign close"
                    );
                }
            }
            Op::CloseSession { client } => {
                let got = self.s().close_session(client);
                let before = self.model.handles.len();
                self.model.handles.retain(|h| h.client != client);
                same!(got, before - self.model.handles.len(), "close_session");
            }
            Op::Stat { path } => {
                let p = PATHS[path];
                let got = self.s().stat(9, p).map(|st| (st.size, st.is_dir));
                let want = self
                    .model
                    .walk(p)
                    .and_then(|()| match self.model.exists(p) {
                        Some(true) => Ok((0, true)),
                        Some(false) => Ok((self.model.files[p].len() as u64, false)),
                        None => Err(FsError::NotFound),
                    });
                same!(got, want, format!("stat {p}"));
            }
            Op::Mkdir { path } => {
                let p = PATHS[path];
                let got = self.s().mkdir(9, p);
                let want = self.model.walk(p).and_then(|()| {
                    if self.model.exists(p).is_some() {
                        Err(FsError::AlreadyExists)
                    } else {
                        self.model.dirs.insert(p.to_string());
                        Ok(())
                    }
                });
                same!(got, want, format!("mkdir {p}"));
            }
            Op::Unlink { path } => {
                let p = PATHS[path];
                let got = self.s().unlink(9, p);
                same!(got, self.model.unlink(p), format!("unlink {p}"));
            }
            Op::Rename { from, to } => {
                let (f, t) = (PATHS[from], PATHS[to]);
                let got = self.s().rename(9, f, t);
                same!(got, self.model.rename(f, t), format!("rename {f} {t}"));
            }
            Op::Remount => {
                let disk = self
                    .real
                    .take()
                    .expect("mounted")
                    .unmount()
                    .map_err(|e| format!("unmount: {e}"))?;
                let report = check_volume(disk.durable_bytes())?;
                self.real = Some(FileServer::mount(disk, 256).map_err(|e| format!("mount: {e}"))?);
                self.model.handles.clear();
                // A clean volume: the count comes from the FSInfo sector.
                let free = self.s().stats().unwrap().free_clusters;
                same!(free, report.free_clusters, "free clusters after remount");
            }
        }
        self.compare()
    }

    fn seek(&mut self, client: u64, slot: usize, from: SeekFrom) -> Result<(), String> {
        let (i, h) = self.pick(client, slot);
        let got = self.s().seek(client, h, from);
        let want = match i {
            None => Err(FsError::UnknownHandle),
            Some(i) => {
                let mh = self.model.handles[i].clone();
                if mh.is_dir {
                    Err(FsError::IsADirectory)
                } else if mh.gone {
                    Err(FsError::NotFound)
                } else {
                    let new = match from {
                        SeekFrom::Start(p) => Some(p),
                        SeekFrom::End(d) => {
                            (self.model.files[&mh.path].len() as u64).checked_add_signed(d)
                        }
                        SeekFrom::Current(d) => mh.pos.checked_add_signed(d),
                    };
                    match new {
                        Some(p) => {
                            self.model.handles[i].pos = p;
                            Ok(p)
                        }
                        None => Err(FsError::InvalidArgument),
                    }
                }
            }
        };
        same!(got, want, "seek");
        Ok(())
    }

    /// The whole visible tree: every file's bytes, every directory's
    /// listing, the handle count.
    fn compare(&mut self) -> Result<(), String> {
        let files: Vec<(String, Vec<u8>)> = self
            .model
            .files
            .iter()
            .map(|(p, d)| (p.clone(), d.clone()))
            .collect();
        for (path, data) in files {
            let s = self.s();
            let h = s
                .open(99, &path, OpenFlags::READ)
                .map_err(|e| format!("open {path}: {e}"))?;
            let mut buf = vec![0u8; data.len() + 10];
            let n = s
                .read(99, h, &mut buf)
                .map_err(|e| format!("read {path}: {e}"))?;
            s.close(99, h).map_err(|e| format!("close {path}: {e}"))?;
            if buf[..n] != data[..] {
                return fail(format!(
                    "{path}: server has {n} bytes, model {}",
                    data.len()
                ));
            }
        }
        let mut dirs: Vec<String> = self.model.dirs.iter().cloned().collect();
        dirs.push("/".into());
        for dir in dirs {
            let mut want: Vec<String> = self
                .model
                .files
                .keys()
                .chain(self.model.dirs.iter())
                .filter(|p| parent(p) == dir)
                .map(|p| p.rsplit('/').next().unwrap().to_string())
                .collect();
            want.sort();
            let mut got: Vec<String> = self
                .s()
                .read_dir(99, &dir, 0, 100)
                .map_err(|e| format!("read_dir {dir}: {e}"))?
                .into_iter()
                .map(|e| e.name)
                .collect();
            got.sort();
            same!(got, want, format!("listing of {dir}"));
        }
        let open = self.s().stats().unwrap().open_handles;
        same!(open, self.model.handles.len() as u64, "open handles");
        Ok(())
    }

    /// After the sequence: check the volume, remount, compare again.
    fn finish(&mut self) -> Result<(), String> {
        self.s().sync().map_err(|e| format!("sync: {e}"))?;
        let bytes = self.s().with_device(|d| d.current_bytes()).unwrap();
        let report = check_volume(&bytes)?;
        let free = self.s().stats().unwrap().free_clusters;
        same!(free, report.free_clusters, "free clusters");
        let want: BTreeMap<String, u64> = self
            .model
            .files
            .iter()
            .map(|(p, d)| (p.clone(), d.len() as u64))
            .collect();
        same!(report.files, want, "files on the volume");
        let disk = self
            .real
            .take()
            .unwrap()
            .unmount()
            .map_err(|e| format!("unmount: {e}"))?;
        self.real = Some(FileServer::mount(disk, 32).map_err(|e| format!("mount: {e}"))?);
        self.model.handles.clear();
        self.compare()
    }
}

fn run_seq(ops: &[Op]) -> Result<(), (usize, String)> {
    let mut w = World::new();
    for (i, o) in ops.iter().enumerate() {
        w.step(o).map_err(|e| (i, e))?;
    }
    w.finish().map_err(|e| (ops.len(), e))
}

#[test]
fn server_refines_the_model() {
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = proptest::collection::vec(op(), 1..=STEPS);
    let result = runner.run(&strategy, |ops| {
        run_seq(&ops).map_err(|(i, e)| {
            let at = ops
                .get(i)
                .map_or("finish".to_string(), |o| format!("{o:?}"));
            TestCaseError::fail(format!("step {i} {at}: {e}"))
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// A fixed sequence that walks through the interesting paths once, so that
/// the model itself is known to be exercised even with few random cases.
#[test]
fn model_smoke_sequence() {
    use Op::*;
    let ops = [
        Mkdir { path: 3 },
        Open {
            client: 1,
            path: 4,
            flags: 3,
        },
        Write {
            client: 1,
            slot: 0,
            len: 5000,
            seed: 1,
        },
        Open {
            client: 2,
            path: 4,
            flags: 0,
        },
        Read {
            client: 2,
            slot: 0,
            len: 100,
        },
        Truncate {
            client: 1,
            slot: 0,
            len: 50,
        },
        Read {
            client: 2,
            slot: 0,
            len: 10,
        },
        Foreign { client: 2, slot: 0 },
        Rename { from: 3, to: 8 },
        Write {
            client: 1,
            slot: 0,
            len: 10,
            seed: 2,
        },
        Unlink { path: 9 },
        Read {
            client: 2,
            slot: 0,
            len: 10,
        },
        Fsync { client: 1, slot: 0 },
        Remount,
        Open {
            client: 1,
            path: 0,
            flags: 6,
        },
        Write {
            client: 1,
            slot: 0,
            len: 30,
            seed: 3,
        },
        SeekEnd {
            client: 1,
            slot: 0,
            back: -5,
        },
        Write {
            client: 1,
            slot: 0,
            len: 3,
            seed: 4,
        },
        CloseSession { client: 1 },
        Stat { path: 0 },
    ];
    run_seq(&ops).unwrap_or_else(|(i, e)| panic!("step {i}: {e}"));
}
