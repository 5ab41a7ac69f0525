//! The priority-policy server (docs/processes.md): holds the TCB caps of
//! the processes the process manager admits and decides their priorities,
//! within the authority of its own MCP. The kernel keeps only the
//! mechanism (fixed-priority round robin); which priority a process gets is
//! decided here, by the rule of `cerne_procman::policy`.
//!
//! Every [`PERIOD_US`] the supervisor, which owns the EL1 physical timer
//! (docs/supervisor.md), signals this server's `policy_tick` bit; it reads each process's CPU time with
//! seL4_BenchmarkGetThreadUtilisation and moves priorities as the rule
//! says. `enable` turns the rule off (every process at its highest: plain
//! round robin) and on again.
#![no_std]
#![no_main]

use core::fmt::Write;

use cerne_abi::tcb::DEFAULT_QUANTUM_US;
use cerne_abi::Word;
use cerne_procman::policy::{period, Entry};
use libcerne::generic_timer;
use libcerne::interface::{message_words, Reply, ServerError, MAX_WORDS};
use libcerne::policy::{self, PolicyError, PrioInfo};
use libcerne::sel4::benchmark::benchmark_get_thread_utilisation;
use libcerne::sel4::{ipc_buffer, CNode, Cap, Endpoint, Tcb};

include!(concat!(env!("OUT_DIR"), "/policy.rs"));

/// Processes the server can hold at once.
const MAX_ADMITTED: usize = 64;
/// How often the rule is applied, in microseconds.
const PERIOD_US: u64 = policy::PERIOD_US;

/// The slot of admitted process `i`'s TCB cap.
const fn tcb_slot(i: usize) -> Word {
    caps::FIRST_FREE + i as Word
}
const _: () = assert!(tcb_slot(MAX_ADMITTED) <= 1 << caps::CNODE_BITS);

struct Server {
    table: [Option<Entry>; MAX_ADMITTED],
    own: Cap<Tcb>,
    cnode: Cap<CNode>,
    enabled: bool,
    /// Counter ticks per period and per quantum.
    period_ticks: u64,
    quantum_ticks: u64,
}

/// The process's CPU time so far, in counter ticks (0 if unreadable).
fn cpu_time(i: usize) -> u64 {
    benchmark_get_thread_utilisation(Cap::from_cptr(tcb_slot(i)))
        .map(|u| u.thread_time)
        .unwrap_or(0)
}

/// The position among the sampled entries (`index`: their table slots)
/// of process `pid`.
fn entries_index(index: &[usize], table: &[Option<Entry>], pid: u64) -> Option<usize> {
    index
        .iter()
        .position(|&i| table[i].is_some_and(|e| e.pid == pid))
}

impl Server {
    fn find(&self, pid: u64) -> Option<usize> {
        self.table
            .iter()
            .position(|a| a.is_some_and(|a| a.pid == pid))
    }

    fn info(&self, i: usize) -> PrioInfo {
        let Some(e) = self.table[i] else {
            return PrioInfo::default();
        };
        PrioInfo {
            pid: e.pid,
            current: u64::from(e.current),
            max: u64::from(e.max),
            min: u64::from(e.min),
            cpu_permille: (e.last_used * 1000)
                .checked_div(self.period_ticks)
                .unwrap_or(0)
                .min(1000),
            demotions: e.demotions,
        }
    }

    /// Gives admitted process `i` its entry's current priority.
    fn apply(&self, i: usize) -> Result<(), PolicyError> {
        let Some(e) = self.table[i] else {
            return Err(PolicyError::NoSuchProcess);
        };
        let tcb: Cap<Tcb> = Cap::from_cptr(tcb_slot(i));
        tcb.set_priority(self.own, Word::from(e.current))
            .map_err(|_| PolicyError::BadPriority)
    }

    /// One period: sample every process, apply the rule.
    fn tick(&mut self) {
        if !self.enabled {
            return;
        }
        let mut entries = [Entry::new(0, 0, 0); MAX_ADMITTED];
        let mut times = [0u64; MAX_ADMITTED];
        let mut index = [0usize; MAX_ADMITTED];
        let mut n = 0;
        for (i, e) in self.table.iter().enumerate() {
            if let Some(e) = e {
                entries[n] = *e;
                times[n] = cpu_time(i);
                index[n] = i;
                n += 1;
            }
        }
        let mut moved = [false; MAX_ADMITTED];
        period(
            &mut entries[..n],
            &times[..n],
            self.quantum_ticks,
            |pid, _| {
                if let Some(k) = entries_index(&index[..n], &self.table, pid) {
                    moved[k] = true;
                }
            },
        );
        for k in 0..n {
            self.table[index[k]] = Some(entries[k]);
            if moved[k] {
                let _ = self.apply(index[k]);
            }
        }
    }

    fn request(&mut self, badge: Word, label: Word, words: &[Word], caps_received: usize) -> Reply {
        let request = match policy::protocol::Request::decode(label, words) {
            Ok(r) => r,
            Err(e) => return Reply::error(e.code()),
        };
        use policy::protocol::Request as R;
        let manager = badge == badges::POLICY_PROCS;
        let result = match request {
            R::Admit(r) if manager => {
                let Some(i) = self.table.iter().position(Option::is_none) else {
                    return Reply::error(PolicyError::NoRoom.code());
                };
                if caps_received == 0 {
                    return Reply::error(PolicyError::NoRoom.code());
                }
                let prio = u8::try_from(r.priority).unwrap_or(u8::MAX);
                self.table[i] = Some(Entry::new(r.pid, prio, cpu_time(i)));
                Ok(Reply::ok(&policy::Empty {}))
            }
            R::Leave(r) if manager => {
                if let Some(i) = self.find(r.pid) {
                    self.table[i] = None;
                    let _ = self.cnode.delete(tcb_slot(i), 64);
                }
                Ok(Reply::ok(&policy::Empty {}))
            }
            R::Admit(_) | R::Leave(_) => Err(PolicyError::NotPermitted),
            R::Get(r) => self
                .find(r.pid)
                .map(|i| Reply::ok(&self.info(i)))
                .ok_or(PolicyError::NoSuchProcess),
            R::Set(r) => match (self.find(r.pid), u8::try_from(r.max)) {
                (None, _) => Err(PolicyError::NoSuchProcess),
                (Some(_), Err(_)) | (Some(_), Ok(0)) => Err(PolicyError::BadPriority),
                (Some(i), Ok(max)) => {
                    let before = self.table[i];
                    if let Some(e) = self.table[i].as_mut() {
                        e.set_max(max);
                    }
                    // The kernel refuses a priority above this server's MCP:
                    // then nothing changes.
                    match self.apply(i) {
                        Ok(()) => Ok(Reply::ok(&self.info(i))),
                        Err(e) => {
                            self.table[i] = before;
                            Err(e)
                        }
                    }
                }
            },
            R::Enable(r) => {
                self.enabled = r.on != 0;
                if !self.enabled {
                    // Fixed priorities: every process at its highest.
                    for i in 0..MAX_ADMITTED {
                        if let Some(e) = self.table[i].as_mut() {
                            e.current = e.max;
                            let _ = self.apply(i);
                        }
                    }
                }
                Ok(Reply::ok(&policy::Empty {}))
            }
        };
        result.unwrap_or_else(|e| Reply::error(e.code()))
    }

    /// The slot the next admitted TCB cap is received into.
    fn receive_slot(&self) -> Word {
        let free = self
            .table
            .iter()
            .position(Option::is_none)
            .unwrap_or(MAX_ADMITTED - 1);
        // A slot left full (a refused admit) is emptied first.
        let _ = self.cnode.delete(tcb_slot(free), 64);
        tcb_slot(free)
    }
}

fn main(_arg: usize, cycles_at_entry: u64) -> ! {
    let mut console = libcerne::console!();
    let per_second = generic_timer::frequency();
    let mut server = Server {
        table: [None; MAX_ADMITTED],
        own: Cap::from_cptr(caps::TCB),
        cnode: Cap::from_cptr(caps::CNODE),
        enabled: true,
        period_ticks: per_second * PERIOD_US / 1_000_000,
        quantum_ticks: per_second * DEFAULT_QUANTUM_US / 1_000_000,
    };
    let _ = writeln!(
        console,
        "[policy] priority policy up: every {} ms, a quantum of {} ms, up to {MAX_ADMITTED} processes",
        PERIOD_US / 1000,
        DEFAULT_QUANTUM_US / 1000
    );
    if cfg!(feature = "boot-bench") {
        let _ = writeln!(
            console,
            "[policy] first instruction at cycle {cycles_at_entry}"
        );
    }
    let endpoint: Cap<Endpoint> = Cap::from_cptr(caps::POLICY);
    ipc_buffer::set_receive_path(caps::CNODE, server.receive_slot(), 64);
    let mut message = endpoint.recv();
    let mut words = [0; MAX_WORDS];
    loop {
        if message.badge & badges::POLICY_TICK != 0 {
            server.tick();
            message = endpoint.recv();
            continue;
        }
        let reply = match message_words(&message, &mut words) {
            Ok(len) => server.request(
                message.badge,
                message.label(),
                &words[..len],
                message.info.extra_caps() as usize,
            ),
            Err(e) => Reply::error(e.code()),
        };
        ipc_buffer::set_receive_path(caps::CNODE, server.receive_slot(), 64);
        message = endpoint.reply_recv(reply.label, reply.message(), &[]);
    }
}

// The spec gives the stack (the description's `stack`): no static one.
libcerne::entry!(main, static_stack = 0);
