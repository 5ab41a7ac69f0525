//! The process manager (docs/processes.md): spawns ELF programs read from
//! the file server at run time, out of the untyped memory the system
//! description gives it, and reaps them when they exit, are killed or
//! fault.
//!
//! Memory: the `untyped` is split buddy-fashion (`cerne_procman::buddy`)
//! into one power-of-two block per process; every object of a process —
//! its CNode, VSpace and tables, TCB, frames, and a CNode of the manager's
//! own that keeps the caps it must not delete (a mapped frame cap deleted
//! is a frame unmapped) — is retyped from its block, so revoking the
//! block's cap destroys the process whole and leaves the block as new.
//!
//! Caps a process gets (libcerne::process): a console and a file-server
//! session of its own (the description's `sessions`), an endpoint to this
//! manager badged with its slot, and its fault endpoint. Nothing else.
#![no_std]
#![no_main]

extern crate alloc;

use alloc::collections::{BTreeSet, VecDeque};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt::Write;

use cerne_abi::console::{PROCESS_FAULT_MARK, PROCESS_FAULT_PREFIX};
use cerne_abi::object::{ObjectType, PAGE_BITS, SLOT_BITS, TCB_BITS, VSPACE_BITS};
use cerne_abi::rights::CapRights;
use cerne_abi::vm::{DEFAULT_VM_ATTRIBUTES, EXECUTE_NEVER};
use cerne_abi::Word;
use cerne_procman::buddy::{Action, Block, Buddy, ROOT};
use cerne_procman::{budget, elf};
use libcerne::console::Console;
use libcerne::files::{self, FsError};
use libcerne::interface::{message_words, Error, Reply, ServerError, SharedBuffer, MAX_WORDS};
use libcerne::policy;
use libcerne::process::{self, encode_args};
use libcerne::procs::{self, how, ProcError, ProcessRecord, Status};
use libcerne::sel4::{
    ipc, CNode, Cap, Endpoint, Frame, Message, PageTable, Tcb, Untyped, UserContext, VSpace,
};

include!(concat!(env!("OUT_DIR"), "/procman.rs"));

/// Processes alive at once: one per session of the console and files.
const MAX_PROCESSES: usize = caps::CONSOLE_SESSION_COUNT as usize;
const _: () = assert!(
    caps::FILES_SESSION_COUNT == caps::CONSOLE_SESSION_COUNT
        && caps::PROCS_SESSION_COUNT == caps::CONSOLE_SESSION_COUNT,
    "one session of each channel per process slot"
);
/// The smallest block a process gets.
const MIN_BLOCK_BITS: u8 = 16;
/// The largest program file read.
const MAX_PROGRAM_FILE: usize = 3 << 19;
/// The most exit statuses kept for processes nobody waited for yet.
const MAX_ZOMBIES: usize = 64;

/// Badge bit of a process's endpoint to this manager (low bits: its slot).
const PROCESS_BADGE: Word = 1 << 20;
/// Badge bit of a process's fault endpoint (low bits: its slot).
const FAULT_BADGE: Word = 1 << 21;
/// The low bits of those badges: the slot.
const SLOT_MASK: Word = 0xffff;

/// The buddy tree's node `n` lives in slot `NODE_BASE + n` (the root is the
/// description's untyped cap).
const NODE_BASE: Word = caps::FIRST_FREE;
/// Nodes of a tree of depth UNTYPED_BITS - MIN_BLOCK_BITS.
const NODES: Word = 2 << (caps::UNTYPED_BITS - MIN_BLOCK_BITS as u64);
/// Per-process slots: TCB, VSpace, CNode, the manager's CNode, the IPC
/// buffer frame, a waiter's reply cap.
const PROC_BASE: Word = NODE_BASE + NODES;
const PROC_SLOTS: Word = 8;
const SLOT_TCB: Word = 0;
const SLOT_VSPACE: Word = 1;
const SLOT_CNODE: Word = 2;
const SLOT_KEEP: Word = 3;
const SLOT_IPC: Word = 4;
const SLOT_WAITER: Word = 5;
/// Where new objects are retyped before they are used and moved away.
const STAGING: Word = PROC_BASE + PROC_SLOTS * MAX_PROCESSES as Word;
const STAGING_SLOTS: Word = 64;
/// A scratch slot for probing an untyped's free bytes.
const PROBE: Word = STAGING + STAGING_SLOTS;
const _: () = assert!(PROBE < 1 << caps::CNODE_BITS, "the CNode is too small");

/// A page of this manager's own address space, never mapped otherwise:
/// frames are mapped here to be filled. It lies beside the IPC buffer, in
/// the page table the description made for it.
const WINDOW: Word = addrs::IPC_BUFFER as Word + 0x1000;

/// Frame cap rights for a page's permissions, and its VM attributes (W^X:
/// only read-only pages may execute).
fn mapping(perms: elf::Perms) -> (CapRights, Word) {
    match (perms.write, perms.execute) {
        (_, true) => (CapRights::READ, DEFAULT_VM_ATTRIBUTES),
        (true, false) => (CapRights::READ_WRITE, DEFAULT_VM_ATTRIBUTES | EXECUTE_NEVER),
        (false, false) => (CapRights::READ, DEFAULT_VM_ATTRIBUTES | EXECUTE_NEVER),
    }
}

/// The slot of buddy node `n`.
fn node_slot(n: u32) -> Word {
    if n == ROOT {
        caps::UNTYPED
    } else {
        NODE_BASE + Word::from(n)
    }
}

/// Slot `which` of process slot `p`.
fn proc_slot(p: usize, which: Word) -> Word {
    PROC_BASE + PROC_SLOTS * p as Word + which
}

/// A live process.
struct Process {
    pid: u32,
    block: Block,
    name: [u8; 24],
    priority: u8,
    /// Caps moved into the manager's CNode of this process so far.
    kept: Word,
    /// log2 of that CNode's slots.
    keep_bits: u8,
    /// Someone waits for it (a reply cap in SLOT_WAITER).
    waited: bool,
}

/// A failed kernel operation during construction: what it was.
struct Failed(&'static str, Option<libcerne::sel4::InvocationError>);

/// What the kernel said, for the console.
impl core::fmt::Display for Failed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match &self.1 {
            Some(e) => write!(f, "{}: {e:?}", self.0),
            None => f.write_str(self.0),
        }
    }
}

fn step<T>(what: &'static str, r: libcerne::sel4::Result<T>) -> Result<T, Failed> {
    r.map_err(|e| Failed(what, Some(e)))
}

struct Manager {
    console: Console,
    files: files::Files<Cap<Endpoint>>,
    cnode: Cap<CNode>,
    buddy: Buddy,
    slots: Vec<Option<Process>>,
    zombies: VecDeque<Status>,
    next_pid: u32,
    spawned: u64,
    reaped: u64,
}

/// The NUL-terminated name in a record.
fn record_name(name: &[u8]) -> [u8; 24] {
    let mut out = [0u8; 24];
    let n = name.len().min(23);
    out[..n].copy_from_slice(&name[..n]);
    out
}

impl Manager {
    fn say(&mut self, args: core::fmt::Arguments<'_>) {
        let _ = self.console.write_fmt(args);
    }

    /// Untyped bytes free, as the kernel reports them: for each free block,
    /// what a retype too large for it says is left (seL4_NotEnoughMemory
    /// carries the bytes available).
    fn kernel_free_bytes(&self) -> u64 {
        let mut total = 0;
        for block in self.buddy.free_blocks() {
            let ut: Cap<Untyped> = Cap::from_cptr(node_slot(block.node));
            let too_big = Word::from(block.bits) + 1;
            match ut.retype(ObjectType::Untyped, too_big, self.cnode, 0, 0, PROBE, 1) {
                Err(e) => total += e.mrs().first().copied().unwrap_or(0),
                Ok(()) => {
                    // Cannot happen (the untyped is smaller); undo it.
                    let _ = self.cnode.delete(PROBE, 64);
                }
            }
        }
        total
    }

    fn stats(&self) -> procs::MemStats {
        procs::MemStats {
            total_bytes: 1 << caps::UNTYPED_BITS,
            free_bytes: self.kernel_free_bytes(),
            largest_free: self.buddy.largest_free(),
            processes: self.slots.iter().flatten().count() as u64,
            spawned: self.spawned,
            reaped: self.reaped,
        }
    }

    /// Carries out the buddy's actions on the untyped caps.
    fn carry_out(&self, actions: &[Action]) -> Result<(), Failed> {
        for &a in actions {
            match a {
                Action::Split { parent, child_bits } => {
                    let ut: Cap<Untyped> = Cap::from_cptr(node_slot(parent));
                    step(
                        "splitting an untyped",
                        ut.retype(
                            ObjectType::Untyped,
                            Word::from(child_bits),
                            self.cnode,
                            0,
                            0,
                            node_slot(parent * 2),
                            2,
                        ),
                    )?;
                }
                Action::Reset { node } | Action::Merge { parent: node } => {
                    step(
                        "revoking an untyped",
                        self.cnode.revoke(node_slot(node), 64),
                    )?;
                }
            }
        }
        Ok(())
    }

    /// Reads the whole program file at `path`.
    fn read_program(&mut self, path: &str) -> Result<Vec<u8>, ProcError> {
        let handle = self
            .files
            .open(path, files::flags::READ)
            .map_err(|e| match e {
                Error::Server(FsError::NotFound | FsError::NotADirectory) => {
                    ProcError::NoSuchProgram
                }
                Error::Server(FsError::IsADirectory | FsError::InvalidName) => {
                    ProcError::NoSuchProgram
                }
                _ => ProcError::Io,
            })?;
        let size = self
            .files
            .raw()
            .fstat(files::HandleOnly { handle })
            .map(|s| s.size);
        let result = match size {
            Ok(size) if size as usize > MAX_PROGRAM_FILE => {
                self.say(format_args!(
                    "[procs] {path}: {size} bytes, more than the {MAX_PROGRAM_FILE} a program may have\n"
                ));
                Err(ProcError::BadProgram)
            }
            Ok(size) => {
                let mut bytes = vec![0u8; size as usize];
                match self.files.read(handle, &mut bytes) {
                    Ok(n) if n == bytes.len() => Ok(bytes),
                    _ => Err(ProcError::Io),
                }
            }
            Err(_) => Err(ProcError::Io),
        };
        let _ = self.files.close(handle);
        result
    }

    /// Loads `path` and starts it with `args` (NUL-separated, name first).
    fn spawn(&mut self, path: &str, args: &[u8]) -> Result<u32, ProcError> {
        let p = self
            .slots
            .iter()
            .position(Option::is_none)
            .ok_or(ProcError::TooManyProcesses)?;
        let file = self.read_program(path)?;
        let limits = elf::Limits {
            user_base: process::IMAGE_BASE,
            user_end: process::IMAGE_END,
            reserved: &[],
            max_bytes: 1 << caps::UNTYPED_BITS,
        };
        let plan = match elf::plan(&file, &limits) {
            Ok(plan) => plan,
            Err(e) => {
                self.say(format_args!("[procs] {path} refused: {e}\n"));
                return Err(ProcError::BadProgram);
            }
        };
        let pid = self.next_pid;
        let mut args_page = vec![0u8; process::ARGS_SIZE];
        let arg_list = args
            .strip_suffix(&[0])
            .unwrap_or(args)
            .split(|&b| b == 0)
            .filter(|_| !args.is_empty());
        encode_args(pid, arg_list, &mut args_page).map_err(|_| ProcError::BadArguments)?;
        let name = args.split(|&b| b == 0).next().unwrap_or(b"?");

        // What the process takes: its pages, their tables, its objects.
        let stack_pages = process::STACK_SIZE >> PAGE_BITS;
        let image_pages = plan.pages().count() as u64;
        let mut tables: BTreeSet<u64> = plan.pages().map(|pg| pg.vaddr >> 21).collect();
        for v in [
            process::STACK_TOP - process::STACK_SIZE,
            process::STACK_TOP - 1,
            process::IPC_BUFFER,
            process::ARGS,
            process::CONSOLE_BUFFER,
            process::FILES_BUFFER,
            process::FILES_BUFFER + process::FILES_BUFFER_SIZE - 1,
            process::PROCS_BUFFER,
        ] {
            tables.insert(v >> 21);
        }
        let frames = image_pages + stack_pages + 1;
        let kept = frames + tables.len() as u64 + 2;
        let keep_bits = (64 - kept.leading_zeros()).max(7) as u8;
        let mut bits: Vec<u8> = Vec::new();
        bits.push(keep_bits + SLOT_BITS as u8);
        bits.extend(core::iter::repeat_n(VSPACE_BITS as u8, 3 + tables.len()));
        bits.extend(core::iter::repeat_n(PAGE_BITS as u8, frames as usize + 1));
        bits.push(TCB_BITS as u8);
        bits.push(process::CNODE_BITS + SLOT_BITS as u8);
        let bytes = budget::bytes_for(&bits);

        let (block, actions) = self.buddy.alloc(bytes).map_err(|e| {
            self.say(format_args!("[procs] {path}: {e}\n"));
            ProcError::OutOfMemory
        })?;
        let mut proc = Process {
            pid,
            block,
            name: record_name(name),
            priority: process::DEFAULT_PRIORITY,
            kept: 0,
            keep_bits,
            waited: false,
        };
        let built = self
            .carry_out(&actions)
            .and_then(|()| self.build(p, &mut proc, &plan, &file, &tables, &args_page));
        match built {
            Ok(()) => {
                self.slots[p] = Some(proc);
                self.next_pid += 1;
                self.spawned += 1;
                Ok(pid)
            }
            Err(e) => {
                self.say(format_args!(
                    "[procs] {path}: building it failed ({e}); nothing kept\n"
                ));
                self.destroy(p, &proc);
                Err(ProcError::OutOfMemory)
            }
        }
    }

    /// Keeps the cap in `from` in the process's own CNode of the manager's.
    fn keep(&self, p: usize, proc: &mut Process, from: Word) -> Result<(), Failed> {
        let keep: Cap<CNode> = Cap::from_cptr(proc_slot(p, SLOT_KEEP));
        step(
            "keeping a cap",
            keep.move_(proc.kept, proc.keep_bits, self.cnode, from, 64),
        )?;
        proc.kept += 1;
        Ok(())
    }

    /// Retypes one object of the process's block into `slot`.
    fn make(
        &self,
        proc: &Process,
        kind: ObjectType,
        size: Word,
        slot: Word,
        n: Word,
    ) -> Result<(), Failed> {
        let ut: Cap<Untyped> = Cap::from_cptr(node_slot(proc.block.node));
        step(
            "retyping the process's memory",
            ut.retype(kind, size, self.cnode, 0, 0, slot, n),
        )
    }

    /// Fills a fresh frame through the window.
    fn fill(&self, frame: Cap<Frame>, at: usize, bytes: &[u8]) -> Result<(), Failed> {
        let own: Cap<VSpace> = Cap::from_cptr(caps::VSPACE);
        step(
            "mapping a frame to fill it",
            frame.map(
                own,
                WINDOW,
                CapRights::READ_WRITE,
                DEFAULT_VM_ATTRIBUTES | EXECUTE_NEVER,
            ),
        )?;
        // SAFETY: WINDOW is a page of this address space mapped to `frame`
        // just now and unmapped below; nothing else uses it.
        let page = unsafe { SharedBuffer::new(WINDOW as usize, 1 << PAGE_BITS) };
        let written = page.write(at, bytes);
        step("unmapping the window", frame.unmap())?;
        written.map_err(|_| Failed("filling a frame: bytes past the page", None))
    }

    /// Makes and maps everything of process slot `p`.
    fn build(
        &self,
        p: usize,
        proc: &mut Process,
        plan: &elf::LoadPlan,
        file: &[u8],
        tables: &BTreeSet<u64>,
        args_page: &[u8],
    ) -> Result<(), Failed> {
        // Largest first: the retypes leave no gap (budget::bytes_for).
        self.make(
            proc,
            ObjectType::CapTable,
            Word::from(proc.keep_bits),
            proc_slot(p, SLOT_KEEP),
            1,
        )?;
        self.make(proc, ObjectType::VSpace, 0, proc_slot(p, SLOT_VSPACE), 1)?;
        let vspace: Cap<VSpace> = Cap::from_cptr(proc_slot(p, SLOT_VSPACE));
        step(
            "assigning an ASID",
            Cap::<libcerne::sel4::AsidPool>::from_cptr(caps::ASID_POOL).assign(vspace),
        )?;
        // The upper tables (one each: everything lies below 1 GiB) and one
        // page table per 2 MiB used.
        let tables: Vec<u64> = tables.iter().copied().collect();
        let count = 2 + tables.len() as Word;
        self.make(proc, ObjectType::PageTable, 0, STAGING, count)?;
        for (i, vaddr) in [0u64, 0]
            .into_iter()
            .chain(tables.iter().map(|t| t << 21))
            .enumerate()
        {
            let table: Cap<PageTable> = Cap::from_cptr(STAGING + i as Word);
            step(
                "mapping a page table",
                table.map(vspace, vaddr, DEFAULT_VM_ATTRIBUTES),
            )?;
            self.keep(p, proc, STAGING + i as Word)?;
        }
        // The image, a staging-full of frames at a time.
        let pages: Vec<elf::Page> = plan.pages().collect();
        for chunk in pages.chunks(STAGING_SLOTS as usize) {
            self.make(proc, ObjectType::SmallPage, 0, STAGING, chunk.len() as Word)?;
            for (i, page) in chunk.iter().enumerate() {
                let slot = STAGING + i as Word;
                let frame: Cap<Frame> = Cap::from_cptr(slot);
                if let Some((at, range)) = &page.copy {
                    self.fill(frame, *at, &file[range.clone()])?;
                }
                let (rights, attr) = mapping(page.perms);
                step(
                    "mapping the image",
                    frame.map(vspace, page.vaddr, rights, attr),
                )?;
                if page.perms.execute {
                    step(
                        "making the code visible to instruction fetch",
                        frame.unify_instruction(0, 1 << PAGE_BITS),
                    )?;
                }
                self.keep(p, proc, slot)?;
            }
        }
        // Stack, arguments, IPC buffer.
        let stack_pages = process::STACK_SIZE >> PAGE_BITS;
        self.make(proc, ObjectType::SmallPage, 0, STAGING, stack_pages + 1)?;
        let data = DEFAULT_VM_ATTRIBUTES | EXECUTE_NEVER;
        for i in 0..stack_pages {
            let frame: Cap<Frame> = Cap::from_cptr(STAGING + i);
            let vaddr = process::STACK_TOP - process::STACK_SIZE + (i << PAGE_BITS);
            step(
                "mapping the stack",
                frame.map(vspace, vaddr, CapRights::READ_WRITE, data),
            )?;
            self.keep(p, proc, STAGING + i)?;
        }
        let args: Cap<Frame> = Cap::from_cptr(STAGING + stack_pages);
        self.fill(args, 0, args_page)?;
        step(
            "mapping the arguments",
            args.map(vspace, process::ARGS, CapRights::READ, data),
        )?;
        self.keep(p, proc, STAGING + stack_pages)?;
        self.make(proc, ObjectType::SmallPage, 0, proc_slot(p, SLOT_IPC), 1)?;
        let ipc_frame: Cap<Frame> = Cap::from_cptr(proc_slot(p, SLOT_IPC));
        step(
            "mapping the IPC buffer",
            ipc_frame.map(vspace, process::IPC_BUFFER, CapRights::READ_WRITE, data),
        )?;
        // The sessions' buffers: this slot's frames of each channel.
        self.map_sessions(p, vspace)?;
        // Start the file session clean (a previous process may have left
        // handles open).
        let session = files::protocol::Client::new(Cap::<Endpoint>::from_cptr(
            caps::FILES_SESSIONS + p as Word,
        ));
        let _ = session.close_all(files::Empty {});

        // TCB and CSpace.
        self.make(proc, ObjectType::Tcb, 0, proc_slot(p, SLOT_TCB), 1)?;
        self.make(
            proc,
            ObjectType::CapTable,
            Word::from(process::CNODE_BITS),
            proc_slot(p, SLOT_CNODE),
            1,
        )?;
        let cspace: Cap<CNode> = Cap::from_cptr(proc_slot(p, SLOT_CNODE));
        let depth = process::CNODE_BITS;
        let call = CapRights::from_word(CapRights::WRITE.word() | CapRights::GRANT_REPLY.word());
        step(
            "giving the console session",
            cspace.copy(
                process::caps::CONSOLE,
                depth,
                self.cnode,
                caps::CONSOLE_SESSIONS + p as Word,
                64,
                call,
            ),
        )?;
        step(
            "giving the file session",
            cspace.copy(
                process::caps::FILES,
                depth,
                self.cnode,
                caps::FILES_SESSIONS + p as Word,
                64,
                call,
            ),
        )?;
        step(
            "giving the manager's endpoint",
            cspace.mint(
                process::caps::PROCS,
                depth,
                self.cnode,
                caps::PROCS,
                64,
                call,
                PROCESS_BADGE | p as Word,
            ),
        )?;
        step(
            "giving the fault endpoint",
            cspace.mint(
                process::caps::FAULT,
                depth,
                self.cnode,
                caps::PROCS,
                64,
                call,
                FAULT_BADGE | p as Word,
            ),
        )?;
        let tcb: Cap<Tcb> = Cap::from_cptr(proc_slot(p, SLOT_TCB));
        step(
            "configuring the thread",
            tcb.configure(
                process::caps::FAULT,
                cspace,
                Word::from(process::CNODE_GUARD_BITS),
                vspace,
                0,
                process::IPC_BUFFER,
                ipc_frame,
            ),
        )?;
        let own: Cap<Tcb> = Cap::from_cptr(caps::TCB);
        step(
            "setting the priority",
            tcb.set_priority(own, Word::from(proc.priority)),
        )?;
        let mut regs = UserContext::default();
        regs.set_pc(plan.entry);
        regs.set_sp(process::STACK_TOP);
        regs.set_x(0, process::ARGS);
        step(
            "setting the registers",
            tcb.write_registers(
                false,
                0,
                (UserContext::SPSR + 1).max(UserContext::x_index(0) + 1) as Word,
                &regs,
            ),
        )?;
        let name = core::str::from_utf8(&proc.name)
            .unwrap_or("process")
            .trim_end_matches('\0');
        libcerne::sel4::syscall::debug_name_thread(tcb.cptr(), name);
        self.admit(proc, proc_slot(p, SLOT_TCB));
        step("starting the thread", tcb.resume())
    }

    /// Maps slot `p`'s session buffers into `vspace`.
    fn map_sessions(&self, p: usize, vspace: Cap<VSpace>) -> Result<(), Failed> {
        let data = DEFAULT_VM_ATTRIBUTES | EXECUTE_NEVER;
        for (first, pages, at) in self.session_frames(p) {
            for k in 0..pages {
                let frame: Cap<Frame> = Cap::from_cptr(first + k);
                step(
                    "mapping a session buffer",
                    frame.map(vspace, at + (k << PAGE_BITS), CapRights::READ_WRITE, data),
                )?;
            }
        }
        Ok(())
    }

    /// (first frame cap, pages, vaddr in the process) of slot `p`'s
    /// session buffers.
    fn session_frames(&self, p: usize) -> [(Word, Word, Word); 3] {
        let p = p as Word;
        [
            (
                caps::CONSOLE_SESSION_FRAMES + p * caps::CONSOLE_SESSION_PAGES,
                caps::CONSOLE_SESSION_PAGES.min(process::CONSOLE_BUFFER_SIZE >> PAGE_BITS),
                process::CONSOLE_BUFFER,
            ),
            (
                caps::FILES_SESSION_FRAMES + p * caps::FILES_SESSION_PAGES,
                caps::FILES_SESSION_PAGES.min(process::FILES_BUFFER_SIZE >> PAGE_BITS),
                process::FILES_BUFFER,
            ),
            (
                caps::PROCS_SESSION_FRAMES + p * caps::PROCS_SESSION_PAGES,
                caps::PROCS_SESSION_PAGES.min(process::PROCS_BUFFER_SIZE >> PAGE_BITS),
                process::PROCS_BUFFER,
            ),
        ]
    }

    /// Hands the process's TCB to the policy server.
    fn admit(&self, proc: &Process, tcb: Word) {
        let request = policy::protocol::Request::Admit(policy::Admit {
            pid: u64::from(proc.pid),
            priority: u64::from(proc.priority),
        });
        let mut words = [0; MAX_WORDS];
        let (label, len) = request.encode(&mut words);
        let reply = ipc::call(caps::POLICY, label, &words[..len], &[tcb]);
        if reply.label() != 0 {
            let _ = writeln!(
                &mut self.console.clone(),
                "[procs] the policy server refused pid {} (label {}); its priority stays {}",
                proc.pid,
                reply.label(),
                proc.priority
            );
        }
    }

    /// Destroys everything of slot `p` and returns its block.
    fn destroy(&mut self, p: usize, proc: &Process) {
        let tcb: Cap<Tcb> = Cap::from_cptr(proc_slot(p, SLOT_TCB));
        let _ = tcb.suspend();
        // The session frames are the manager's: unmap them while the
        // address space they are mapped in still exists.
        for (first, pages, _) in self.session_frames(p) {
            for k in 0..pages {
                let _ = Cap::<Frame>::from_cptr(first + k).unmap();
            }
        }
        let session = files::protocol::Client::new(Cap::<Endpoint>::from_cptr(
            caps::FILES_SESSIONS + p as Word,
        ));
        let _ = session.close_all(files::Empty {});
        let leave = policy::protocol::Client::new(Cap::<Endpoint>::from_cptr(caps::POLICY));
        let _ = leave.leave(policy::PidOnly {
            pid: u64::from(proc.pid),
        });
        let actions = self.buddy.free(proc.block);
        if let Err(e) = self.carry_out(&actions) {
            self.say(format_args!("[procs] reaping pid {}: {e}\n", proc.pid));
        }
        // Slots outside the block (none should hold anything now).
        for which in [SLOT_TCB, SLOT_VSPACE, SLOT_CNODE, SLOT_KEEP, SLOT_IPC] {
            let _ = self.cnode.delete(proc_slot(p, which), 64);
        }
    }

    /// Ends the process in slot `p` with `status`; answers its waiter.
    fn reap(&mut self, p: usize, mut status: Status) {
        let Some(proc) = self.slots[p].take() else {
            return;
        };
        status.pid = u64::from(proc.pid);
        self.destroy(p, &proc);
        self.reaped += 1;
        if proc.waited {
            let reply = Reply::ok(&status);
            ipc::nb_send(proc_slot(p, SLOT_WAITER), reply.label, reply.message(), &[]);
            let _ = self.cnode.delete(proc_slot(p, SLOT_WAITER), 64);
        } else {
            if self.zombies.len() == MAX_ZOMBIES {
                self.zombies.pop_front();
            }
            self.zombies.push_back(status);
        }
    }

    fn slot_of(&self, pid: u64) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.as_ref().is_some_and(|p| u64::from(p.pid) == pid))
    }

    /// A fault from the process in slot `p`: report, reap.
    fn fault(&mut self, p: usize, message: &Message) {
        let label = message.label();
        let mut mr = [0; MAX_WORDS];
        let n = message_words(message, &mut mr).unwrap_or(0);
        let mr = &mr[..n];
        let (pid, name) = match &self.slots[p] {
            Some(proc) => (proc.pid, proc.name),
            None => return,
        };
        let name = core::str::from_utf8(&name)
            .unwrap_or("?")
            .trim_end_matches('\0');
        let (cause, address, pc) = libcerne::supervisor::fault_cause(label, mr);
        self.say(format_args!(
            "{PROCESS_FAULT_PREFIX}{pid} ({name}{PROCESS_FAULT_MARK}{cause} at {address:#x}, pc {pc:#x} (seL4 fault label {label}); reaped\n"
        ));
        self.reap(
            p,
            Status {
                pid: 0,
                how: how::FAULTED,
                code: label as i64,
                address,
            },
        );
    }
}

/// The procs buffer of the caller of `badge`: a static client's, or the
/// session buffer of a process's slot.
fn buffer_of(badge: Word) -> Option<SharedBuffer> {
    let badge = if badge & PROCESS_BADGE != 0 {
        badges::PROCS_FIRST_SESSION + (badge & SLOT_MASK)
    } else {
        badge
    };
    buffers::PROCS
        .iter()
        .find(|(b, _)| *b == badge)
        // SAFETY: the description maps each client's buffer read-write here
        // for the whole run; it is reached only through SharedBuffer.
        .map(|&(_, vaddr)| unsafe { SharedBuffer::new(vaddr, buffers::PROCS_SIZE) })
}

/// What to do after a request.
enum Answer {
    /// Reply now.
    Now(Reply),
    /// No reply now (a wait, an exit or a fault).
    Later,
}

fn error(e: ProcError) -> Answer {
    Answer::Now(Reply::error(e.code()))
}

impl Manager {
    fn request(&mut self, badge: Word, message: &Message) -> Answer {
        if badge & FAULT_BADGE != 0 {
            let p = (badge & SLOT_MASK) as usize;
            if p < MAX_PROCESSES {
                self.fault(p, message);
            }
            return Answer::Later;
        }
        let mut words = [0; MAX_WORDS];
        let request = message_words(message, &mut words)
            .and_then(|len| procs::protocol::Request::decode(message.label(), &words[..len]));
        let request = match request {
            Ok(r) => r,
            Err(e) => return Answer::Now(Reply::error(e.code())),
        };
        let caller = (badge & PROCESS_BADGE != 0).then_some((badge & SLOT_MASK) as usize);
        use procs::protocol::Request as R;
        match request {
            R::Spawn(r) => {
                let Some(buffer) = buffer_of(badge) else {
                    return error(ProcError::BadBuffer);
                };
                let (Ok(path), Ok(args)) = (buffer.check(r.path), buffer.check(r.args)) else {
                    return error(ProcError::BadBuffer);
                };
                if path.len() > 256 || args.len() > process::ARGS_MAX_TEXT {
                    return error(ProcError::BadArguments);
                }
                let mut text = vec![0u8; path.len()];
                let mut arg_bytes = vec![0u8; args.len()];
                if buffer.read(path.start, &mut text).is_err()
                    || buffer.read(args.start, &mut arg_bytes).is_err()
                {
                    return error(ProcError::BadBuffer);
                }
                let Ok(path) = core::str::from_utf8(&text) else {
                    return error(ProcError::NoSuchProgram);
                };
                match self.spawn(path, &arg_bytes) {
                    Ok(pid) => Answer::Now(Reply::ok(&procs::Spawned {
                        pid: u64::from(pid),
                    })),
                    Err(e) => error(e),
                }
            }
            R::Exit(r) => match caller {
                Some(p) if p < MAX_PROCESSES => {
                    self.reap(
                        p,
                        Status {
                            pid: 0,
                            how: how::EXITED,
                            code: r.code,
                            address: 0,
                        },
                    );
                    Answer::Later
                }
                _ => error(ProcError::NoSuchProcess),
            },
            R::Wait(r) => {
                if let Some(i) = self.zombies.iter().position(|s| s.pid == r.pid) {
                    let status = self.zombies.remove(i).unwrap_or_default();
                    return Answer::Now(Reply::ok(&status));
                }
                let Some(p) = self.slot_of(r.pid) else {
                    return error(ProcError::NoSuchProcess);
                };
                if caller == Some(p) {
                    return error(ProcError::BadArguments);
                }
                let waited = self.slots[p].as_ref().is_some_and(|s| s.waited);
                if waited {
                    return error(ProcError::AlreadyWaiting);
                }
                if self
                    .cnode
                    .save_caller(proc_slot(p, SLOT_WAITER), 64)
                    .is_err()
                {
                    return error(ProcError::AlreadyWaiting);
                }
                if let Some(s) = self.slots[p].as_mut() {
                    s.waited = true;
                }
                Answer::Later
            }
            R::Kill(r) => {
                let Some(p) = self.slot_of(r.pid) else {
                    return error(ProcError::NoSuchProcess);
                };
                self.say(format_args!("[procs] pid {} killed\n", r.pid));
                self.reap(
                    p,
                    Status {
                        pid: 0,
                        how: how::KILLED,
                        code: 0,
                        address: 0,
                    },
                );
                if caller == Some(p) {
                    return Answer::Later;
                }
                Answer::Now(Reply::ok(&procs::Empty {}))
            }
            R::List(r) => {
                let Some(buffer) = buffer_of(badge) else {
                    return error(ProcError::BadBuffer);
                };
                let Ok(out) = buffer.check(r.out) else {
                    return error(ProcError::BadBuffer);
                };
                let size = core::mem::size_of::<ProcessRecord>();
                let mut entries = 0u64;
                let mut at = out.start;
                for proc in self.slots.iter().flatten() {
                    if at + size > out.end {
                        break;
                    }
                    let record = ProcessRecord {
                        pid: proc.pid,
                        priority: u32::from(proc.priority),
                        bytes: proc.block.size(),
                        name: proc.name,
                    };
                    use zerocopy::IntoBytes;
                    if buffer.write(at, record.as_bytes()).is_err() {
                        return error(ProcError::BadBuffer);
                    }
                    at += size;
                    entries += 1;
                }
                Answer::Now(Reply::ok(&procs::Listed { entries }))
            }
            R::Stats(_) => Answer::Now(Reply::ok(&self.stats())),
        }
    }
}

fn main(_arg: usize, cycles_at_entry: u64) -> ! {
    // SAFETY: the description maps the heap region read-write for this
    // component alone, and this is the one call.
    unsafe { libcerne::heap::init(addrs::HEAP, addrs::HEAP_SIZE) };
    let console = libcerne::console!();
    let mut manager = Manager {
        console,
        files: libcerne::files!(),
        cnode: Cap::from_cptr(caps::CNODE),
        buddy: Buddy::new(caps::UNTYPED_BITS as u8, MIN_BLOCK_BITS),
        slots: (0..MAX_PROCESSES).map(|_| None).collect(),
        zombies: VecDeque::new(),
        next_pid: 1,
        spawned: 0,
        reaped: 0,
    };
    let free = manager.kernel_free_bytes();
    manager.say(format_args!(
        "[procs] process manager up: {} KiB of untyped for up to {MAX_PROCESSES} processes, {} KiB free\n",
        (1u64 << caps::UNTYPED_BITS) >> 10,
        free >> 10
    ));
    if cfg!(feature = "boot-bench") {
        manager.say(format_args!(
            "[procs] first instruction at cycle {cycles_at_entry}\n"
        ));
    }
    let endpoint: Cap<Endpoint> = Cap::from_cptr(caps::PROCS);
    let mut message = endpoint.recv();
    loop {
        let answer = manager.request(message.badge, &message);
        message = match answer {
            Answer::Now(reply) => endpoint.reply_recv(reply.label, reply.message(), &[]),
            Answer::Later => endpoint.recv(),
        };
    }
}

// The spec gives the stack (the description's `stack`): no static one.
libcerne::entry!(main, static_stack = 0);
