//! The scheduler (docs/sel4-abi.md §11): one FIFO ready queue per priority with a
//! two-level bitmap, seL4's scheduler actions, round robin on the timer
//! tick, Yield, and the thread-state changes that (de)schedule.
#![forbid(unsafe_code)]

use crate::state::{SchedulerAction, NUM_PRIORITIES, TIME_SLICE};
use crate::tcb::{self, Field, ThreadState};
use crate::Kernel;

impl Kernel<'_> {
    fn prio(&self, t: u64) -> usize {
        (tcb::get(&self.mem, t, Field::PRIORITY) as usize) & (NUM_PRIORITIES - 1)
    }

    fn bitmap_set(&mut self, p: usize) {
        self.state.ready_l2[p / 64] |= 1 << (p % 64);
        self.state.ready_l1 |= 1 << (p / 64);
    }

    fn bitmap_clear(&mut self, p: usize) {
        self.state.ready_l2[p / 64] &= !(1 << (p % 64));
        if self.state.ready_l2[p / 64] == 0 {
            self.state.ready_l1 &= !(1 << (p / 64));
        }
    }

    /// Highest priority with a queued thread.
    pub fn highest_ready_priority(&self) -> Option<usize> {
        if self.state.ready_l1 == 0 {
            return None;
        }
        let i = 63 - self.state.ready_l1.leading_zeros() as usize;
        let j = 63 - self.state.ready_l2[i].leading_zeros() as usize;
        Some(i * 64 + j)
    }

    /// seL4 `tcbSchedEnqueue`: puts `t` at the head of its ready queue.
    pub fn sched_enqueue(&mut self, t: u64) {
        if tcb::get(&self.mem, t, Field::QUEUED) != 0 {
            return;
        }
        let p = self.prio(t);
        let head = self.state.ready_head[p];
        tcb::set(&self.mem, t, Field::QUEUED, 1);
        tcb::set(&self.mem, t, Field::SCHED_PREV, 0);
        tcb::set(&self.mem, t, Field::SCHED_NEXT, head);
        if head == 0 {
            self.state.ready_tail[p] = t;
        } else {
            tcb::set(&self.mem, head, Field::SCHED_PREV, t);
        }
        self.state.ready_head[p] = t;
        self.bitmap_set(p);
    }

    /// seL4 `tcbSchedAppend`: puts `t` at the tail of its ready queue.
    pub fn sched_append(&mut self, t: u64) {
        if tcb::get(&self.mem, t, Field::QUEUED) != 0 {
            return;
        }
        let p = self.prio(t);
        let tail = self.state.ready_tail[p];
        tcb::set(&self.mem, t, Field::QUEUED, 1);
        tcb::set(&self.mem, t, Field::SCHED_PREV, tail);
        tcb::set(&self.mem, t, Field::SCHED_NEXT, 0);
        if tail == 0 {
            self.state.ready_head[p] = t;
        } else {
            tcb::set(&self.mem, tail, Field::SCHED_NEXT, t);
        }
        self.state.ready_tail[p] = t;
        self.bitmap_set(p);
    }

    /// seL4 `tcbSchedDequeue`: removes `t` from its ready queue.
    pub fn sched_dequeue(&mut self, t: u64) {
        if tcb::get(&self.mem, t, Field::QUEUED) == 0 {
            return;
        }
        let prev = tcb::get(&self.mem, t, Field::SCHED_PREV);
        let next = tcb::get(&self.mem, t, Field::SCHED_NEXT);
        let p = self.prio(t);
        if prev == 0 {
            self.state.ready_head[p] = next;
        } else {
            tcb::set(&self.mem, prev, Field::SCHED_NEXT, next);
        }
        if next == 0 {
            self.state.ready_tail[p] = prev;
        } else {
            tcb::set(&self.mem, next, Field::SCHED_PREV, prev);
        }
        if self.state.ready_head[p] == 0 {
            self.bitmap_clear(p);
        }
        tcb::set(&self.mem, t, Field::QUEUED, 0);
        tcb::set(&self.mem, t, Field::SCHED_NEXT, 0);
        tcb::set(&self.mem, t, Field::SCHED_PREV, 0);
    }

    /// seL4 `rescheduleRequired`.
    pub fn reschedule_required(&mut self) {
        if let SchedulerAction::SwitchTo(t) = self.state.action {
            self.sched_enqueue(t);
        }
        self.state.action = SchedulerAction::ChooseNew;
    }

    /// seL4 `possibleSwitchTo`: `t` just became runnable.
    pub fn possible_switch_to(&mut self, t: u64) {
        if tcb::get(&self.mem, t, Field::DOMAIN) != self.state.current_domain {
            self.sched_enqueue(t);
        } else if self.state.action != SchedulerAction::ResumeCurrent {
            self.reschedule_required();
            self.sched_enqueue(t);
        } else {
            self.state.action = SchedulerAction::SwitchTo(t);
        }
    }

    /// seL4 `setThreadState`: sets the state and asks for a new choice when
    /// the current thread stops being runnable.
    pub fn set_thread_state(&mut self, t: u64, s: ThreadState) {
        tcb::set(&self.mem, t, Field::STATE, s as u64);
        if t == self.state.current
            && self.state.action == SchedulerAction::ResumeCurrent
            && !s.is_runnable()
        {
            self.reschedule_required();
        }
    }

    fn is_schedulable(&self, t: u64) -> bool {
        t != 0 && tcb::state(&self.mem, t).is_runnable()
    }

    fn is_highest_prio(&self, p: usize) -> bool {
        self.highest_ready_priority().is_none_or(|h| p >= h)
    }

    /// seL4 `switchToThread`: makes `t` current and takes it off its queue,
    /// charging the time since the last switch to the thread it replaces.
    pub fn switch_to_thread(&mut self, t: u64) {
        self.account_switch(self.state.current, t);
        self.sched_dequeue(t);
        self.state.current = t;
    }

    /// seL4 `switchToIdleThread`.
    fn switch_to_idle(&mut self) {
        self.account_switch(self.state.current, 0);
        self.state.current = 0;
    }

    fn choose_thread(&mut self) {
        match self.highest_ready_priority() {
            Some(p) => {
                let t = self.state.ready_head[p];
                self.switch_to_thread(t);
            }
            None => self.switch_to_idle(),
        }
    }

    /// seL4 `schedule`: applies the pending scheduler action. Afterwards
    /// `current_thread()` is the thread to run (`None` = idle).
    pub fn schedule(&mut self) {
        let action = self.state.action;
        if action != SchedulerAction::ResumeCurrent {
            let cur = self.state.current;
            let was_runnable = self.is_schedulable(cur);
            if was_runnable {
                self.sched_enqueue(cur);
            }
            match action {
                SchedulerAction::SwitchTo(cand) => {
                    let cp = self.prio(cand);
                    let fastfail = cur == 0 || cp < self.prio(cur);
                    if fastfail && !self.is_highest_prio(cp) {
                        self.sched_enqueue(cand);
                        self.state.action = SchedulerAction::ChooseNew;
                        self.choose_thread();
                    } else if was_runnable && cp == self.prio(cur) {
                        self.sched_append(cand);
                        self.state.action = SchedulerAction::ChooseNew;
                        self.choose_thread();
                    } else {
                        self.switch_to_thread(cand);
                    }
                }
                _ => self.choose_thread(),
            }
        }
        self.state.action = SchedulerAction::ResumeCurrent;
    }

    /// The thread to run, `None` for idle.
    pub fn current_thread(&self) -> Option<u64> {
        (self.state.current != 0).then_some(self.state.current)
    }

    /// Makes `t` the running thread at once (boot).
    pub fn set_current_thread(&mut self, t: u64) {
        self.sched_dequeue(t);
        self.state.current = t;
        self.state.action = SchedulerAction::ResumeCurrent;
    }

    /// The Yield system call for the current thread.
    pub fn yield_current(&mut self) {
        let cur = self.state.current;
        if cur != 0 {
            self.sched_dequeue(cur);
            self.sched_append(cur);
        }
        self.reschedule_required();
    }

    /// One timer tick: round robin within a priority (non-MCS timerTick).
    pub fn timer_tick(&mut self) {
        let cur = self.state.current;
        if cur == 0 || tcb::state(&self.mem, cur) != ThreadState::Running {
            return;
        }
        let slice = tcb::get(&self.mem, cur, Field::TIME_SLICE);
        if slice > 1 {
            tcb::set(&self.mem, cur, Field::TIME_SLICE, slice - 1);
        } else {
            tcb::set(&self.mem, cur, Field::TIME_SLICE, TIME_SLICE);
            self.sched_append(cur);
            self.reschedule_required();
        }
    }

    /// Makes a runnable thread schedulable: queue it (boot, Resume).
    pub fn make_ready(&mut self, t: u64) {
        if self.is_schedulable(t) && t != self.state.current {
            self.sched_append(t);
        }
    }

    /// The threads queued at priority `p`, head first, passed to `f`.
    pub fn for_each_ready(&self, p: usize, mut f: impl FnMut(u64)) {
        let mut t = self.state.ready_head[p & (NUM_PRIORITIES - 1)];
        let mut guard = 0u64;
        while t != 0 && guard < (1 << 40) {
            f(t);
            t = tcb::get(&self.mem, t, Field::SCHED_NEXT);
            guard += 1;
        }
    }
}
