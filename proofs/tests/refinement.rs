//! Refinement property test: random operation sequences run on the object
//! model and on the executable specification must agree after every step,
//! with every invariant holding. `CERNE_PROOF_CASES` sets the number of
//! sequences (default 2000); each has `STEPS` steps after the fixed setup.

use cerne_proofs::harness::World;
use cerne_proofs::ops::{op, Op};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Steps per sequence.
const STEPS: usize = 60;

fn cases() -> u32 {
    std::env::var("CERNE_PROOF_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

/// Runs a sequence; on failure returns the index of the failing step and
/// the reason.
fn run_seq(ops: &[Op]) -> Result<(), (usize, String)> {
    let mut w = World::new().map_err(|e| (0, e))?;
    for (i, o) in ops.iter().enumerate() {
        w.step(o).map_err(|e| (i, e))?;
    }
    Ok(())
}

fn run(ops: &[Op]) -> Result<(), TestCaseError> {
    run_seq(ops).map_err(|(i, e)| TestCaseError::fail(format!("step {i} {:?}: {e}", ops[i])))
}

/// Greedy minimisation after proptest's shrinking: cut everything after
/// the failing step, then drop single steps while the sequence still fails.
fn minimise(mut ops: Vec<Op>) -> (Vec<Op>, String) {
    let Err((i, mut why)) = run_seq(&ops) else {
        return (ops, "no longer fails".into());
    };
    ops.truncate(i + 1);
    let mut k = 0;
    while k < ops.len() {
        let mut shorter = ops.clone();
        shorter.remove(k);
        match run_seq(&shorter) {
            Err((j, w)) => {
                shorter.truncate(j + 1);
                ops = shorter;
                why = w;
            }
            Ok(()) => k += 1,
        }
    }
    (ops, why)
}

#[test]
fn object_model_refines_the_spec() {
    let config = Config {
        cases: cases(),
        failure_persistence: None,
        max_shrink_iters: 1024,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&proptest::collection::vec(op(), STEPS), |ops| run(&ops));
    if let Err(proptest::test_runner::TestError::Fail(_, ops)) = result {
        let (ops, why) = minimise(ops);
        let mut msg = format!(
            "refinement failed after {} steps (after the fixed setup):\n",
            ops.len()
        );
        for (i, o) in ops.iter().enumerate() {
            msg += &format!("  {i:2}: {o:?}\n");
        }
        panic!("{msg}{why}");
    } else if let Err(e) = result {
        panic!("{e}");
    }
}

#[test]
fn setup_alone_agrees() {
    World::new().unwrap();
}

/// The generator reaches the interesting paths: this counts what random
/// sequences actually did and fails if a required behaviour never happens.
#[test]
fn sequences_cover_the_operation_kinds() {
    use cerne_abi::error::Error;
    use cerne_abi::message::MessageInfo;
    use cerne_objects::ThreadState as S;
    use std::collections::BTreeMap;
    // A fixed seed: the coverage figures are reproducible, not flaky.
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        proptest::test_runner::TestRng::deterministic_rng(
            proptest::test_runner::RngAlgorithm::ChaCha,
        ),
    );
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    let strategy = proptest::collection::vec(op(), STEPS);
    for _ in 0..200 {
        let ops = proptest::strategy::ValueTree::current(&strategy.new_tree(&mut runner).unwrap());
        let mut w = World::new().unwrap();
        for o in &ops {
            let Some((actor, before, after)) = w.step_observed(o).unwrap() else {
                continue;
            };
            let mut hit = |k: String| *seen.entry(k).or_default() += 1;
            if let Op::Sys { sys, label, .. } = o {
                hit(format!("{sys:?}"));
                if let (Some(b), Some(a)) = (before.threads.get(&actor), after.threads.get(&actor))
                {
                    if format!("{sys:?}").contains("Call")
                        && a.state == S::Running
                        && b.state == S::Running
                    {
                        let info = MessageInfo::from_word(a.ctx.x[1]);
                        let l = cerne_abi::invocation::InvocationLabel::from_word(*label);
                        match Error::from_word(info.label()) {
                            Some(Error::NoError) => {
                                if l == Some(cerne_abi::invocation::InvocationLabel::CNodeRevoke)
                                    && after.caps.len() < before.caps.len()
                                {
                                    hit("revoke deleted descendants".into());
                                }
                                if l == Some(cerne_abi::invocation::InvocationLabel::CNodeRevoke)
                                    && before
                                        .caps
                                        .values()
                                        .any(|c| matches!(c, cerne_objects::Cap::Untyped { .. }))
                                    && after.caps.len() + 1 < before.caps.len()
                                {
                                    hit("revoke of an untyped with live objects".into());
                                }
                                hit(format!("ok {l:?}"))
                            }
                            Some(e) => hit(format!("error {e:?}")),
                            None => {}
                        }
                    }
                }
            }
            for (t, a) in &after.threads {
                let Some(b) = before.threads.get(t) else {
                    continue;
                };
                let info = MessageInfo::from_word(a.ctx.x[1]);
                match (b.state, a.state) {
                    (S::BlockedOnReceive, S::Running) if info.extra_caps() > 0 => {
                        hit("received caps".into())
                    }
                    (S::BlockedOnReceive, S::Running) if a.ctx.x[0] != 0 => {
                        hit("received badged message".into())
                    }
                    (S::BlockedOnNotification, S::Running) => hit("woken by signal".into()),
                    (S::BlockedOnReply, S::Running) => hit("got reply".into()),
                    (S::BlockedOnReply, S::Restart) => hit("fault handled, restarted".into()),
                    (
                        S::BlockedOnSend | S::BlockedOnReceive | S::BlockedOnNotification,
                        S::Restart,
                    ) => hit("restarted by deletion/cancel".into()),
                    (s, S::Inactive) if s != S::Inactive => hit(format!("{s:?} -> Inactive")),
                    (S::Running | S::Restart, S::BlockedOnReply) => hit("called".into()),
                    _ => {}
                }
            }
            for (t, a) in &after.threads {
                if before.threads.contains_key(t)
                    && !after
                        .caps
                        .values()
                        .any(|c| *c == cerne_objects::Cap::Thread { tcb: *t })
                {
                    let _ = a;
                }
            }
            if after.caps.len() < before.caps.len() {
                hit("caps deleted".into());
            }
            if before.threads.len() > after.threads.len() {
                hit("thread destroyed".into());
            }
        }
    }
    for (k, v) in &seen {
        println!("{v:8} {k}");
    }
    for must in [
        "ok Some(UntypedRetype)",
        "ok Some(CNodeCopy)",
        "ok Some(CNodeMint)",
        "ok Some(CNodeMove)",
        "ok Some(CNodeDelete)",
        "ok Some(CNodeRevoke)",
        "received badged message",
        "got reply",
        "woken by signal",
        "called",
        "thread destroyed",
        "revoke deleted descendants",
        "received caps",
        "fault handled, restarted",
        "restarted by deletion/cancel",
    ] {
        assert!(
            seen.get(must).copied().unwrap_or(0) > 0,
            "no sequence did: {must}"
        );
    }
}
