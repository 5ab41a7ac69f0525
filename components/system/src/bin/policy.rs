//! The priority-policy server (docs/processes.md): holds the TCB caps of
//! the processes the process manager admits and sets their priorities,
//! within the authority of its own MCP. The kernel keeps only the
//! mechanism (fixed-priority round robin); which priority a process gets
//! is decided here.
//!
//! This first version applies the priorities it is told (`set`) and
//! reports them (`get`).
#![no_std]
#![no_main]

use core::fmt::Write;

use cerne_abi::Word;
use libcerne::interface::{message_words, Reply, ServerError, MAX_WORDS};
use libcerne::policy::{self, PolicyError, PrioInfo};
use libcerne::sel4::{ipc_buffer, CNode, Cap, Endpoint, Tcb};

include!(concat!(env!("OUT_DIR"), "/policy.rs"));

/// Processes the server can hold at once.
const MAX_ADMITTED: usize = 64;
/// The slot of admitted process `i`'s TCB cap.
const fn tcb_slot(i: usize) -> Word {
    caps::FIRST_FREE + i as Word
}
const _: () = assert!(tcb_slot(MAX_ADMITTED) <= 1 << caps::CNODE_BITS);

/// The lowest priority the policy gives.
const FLOOR: u64 = 1;

/// One admitted process.
#[derive(Clone, Copy)]
struct Admitted {
    pid: u64,
    current: u64,
    max: u64,
    min: u64,
    demotions: u64,
}

struct Server {
    table: [Option<Admitted>; MAX_ADMITTED],
    own: Cap<Tcb>,
    cnode: Cap<CNode>,
}

impl Server {
    fn find(&self, pid: u64) -> Option<usize> {
        self.table
            .iter()
            .position(|a| a.is_some_and(|a| a.pid == pid))
    }

    fn info(&self, i: usize) -> PrioInfo {
        let a = self.table[i].unwrap_or(Admitted {
            pid: 0,
            current: 0,
            max: 0,
            min: 0,
            demotions: 0,
        });
        PrioInfo {
            pid: a.pid,
            current: a.current,
            max: a.max,
            min: a.min,
            cpu_permille: 0,
            demotions: a.demotions,
        }
    }

    /// Gives admitted process `i` priority `prio`.
    fn apply(&mut self, i: usize, prio: u64) -> Result<(), PolicyError> {
        let tcb: Cap<Tcb> = Cap::from_cptr(tcb_slot(i));
        tcb.set_priority(self.own, prio)
            .map_err(|_| PolicyError::BadPriority)?;
        if let Some(a) = self.table[i].as_mut() {
            a.current = prio;
        }
        Ok(())
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
                self.table[i] = Some(Admitted {
                    pid: r.pid,
                    current: r.priority,
                    max: r.priority,
                    min: r.priority.saturating_sub(policy_span()).max(FLOOR),
                    demotions: 0,
                });
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
            R::Set(r) => match self.find(r.pid) {
                None => Err(PolicyError::NoSuchProcess),
                // The kernel refuses priorities above this server's MCP.
                Some(_) if r.max < FLOOR || r.max > 255 => Err(PolicyError::BadPriority),
                Some(i) => {
                    if let Some(a) = self.table[i].as_mut() {
                        a.max = r.max;
                        a.min = r.max.saturating_sub(policy_span()).max(FLOOR);
                    }
                    self.apply(i, r.max).map(|()| Reply::ok(&self.info(i)))
                }
            },
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

/// Levels a process may drop below its highest priority.
const fn policy_span() -> u64 {
    8
}

fn main(_arg: usize, _cycles: u64) -> ! {
    let mut console = libcerne::console!();
    let mut server = Server {
        table: [None; MAX_ADMITTED],
        own: Cap::from_cptr(caps::TCB),
        cnode: Cap::from_cptr(caps::CNODE),
    };
    let _ = writeln!(
        console,
        "[policy] priority policy up: up to {MAX_ADMITTED} processes"
    );
    let endpoint: Cap<Endpoint> = Cap::from_cptr(caps::POLICY);
    ipc_buffer::set_receive_path(caps::CNODE, server.receive_slot(), 64);
    let mut message = endpoint.recv();
    let mut words = [0; MAX_WORDS];
    loop {
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
