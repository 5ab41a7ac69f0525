//! The allocator against examples, and random alloc/free sequences against
//! a model of seL4 untyped caps that checks every action is legal.

use super::*;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use proptest::prelude::*;

#[test]
fn first_alloc_splits_down_the_lower_halves() {
    let mut buddy = Buddy::new(20, 12);
    let (block, actions) = buddy.alloc(5000).unwrap();
    assert_eq!(
        block,
        Block {
            node: 128,
            bits: 13
        }
    );
    assert_eq!(block.offset(), 0);
    assert_eq!(block.size(), 8192);
    assert_eq!(
        actions,
        [19, 18, 17, 16, 15, 14, 13]
            .iter()
            .enumerate()
            .map(|(i, &child_bits)| Action::Split {
                parent: 1 << i,
                child_bits
            })
            .collect::<Vec<_>>()
    );
    assert_eq!(buddy.free_bytes(), (1 << 20) - 8192);
    assert_eq!(buddy.largest_free(), 1 << 19);
}

#[test]
fn the_buddy_is_used_next_then_everything_merges_back() {
    let mut buddy = Buddy::new(14, 12);
    let (a, _) = buddy.alloc(4096).unwrap();
    let (b, actions) = buddy.alloc(1).unwrap();
    assert_eq!((a.node, b.node), (4, 5));
    assert_eq!((a.offset(), b.offset()), (0, 4096));
    assert!(actions.is_empty());
    let (c, _) = buddy.alloc(0).unwrap();
    assert_eq!((c.node, c.offset()), (6, 8192));
    assert_eq!(buddy.free(a), vec![Action::Reset { node: 4 }]);
    assert_eq!(
        buddy.free(c),
        vec![Action::Reset { node: 6 }, Action::Merge { parent: 3 }]
    );
    assert_eq!(
        buddy.free(b),
        vec![
            Action::Reset { node: 5 },
            Action::Merge { parent: 2 },
            Action::Merge { parent: 1 }
        ]
    );
    assert!(buddy.is_whole());
    assert_eq!(buddy.free_bytes(), 1 << 14);
}

#[test]
fn the_whole_pool_can_be_one_block() {
    let mut buddy = Buddy::new(16, 12);
    let (block, actions) = buddy.alloc(1 << 16).unwrap();
    assert_eq!(
        block,
        Block {
            node: ROOT,
            bits: 16
        }
    );
    assert!(actions.is_empty());
    assert_eq!(buddy.free_bytes(), 0);
    assert_eq!(buddy.free(block), vec![Action::Reset { node: ROOT }]);
}

#[test]
fn out_of_memory_says_what_was_asked_and_what_is_left() {
    let mut buddy = Buddy::new(16, 12);
    let err = buddy.alloc((1 << 16) + 1).unwrap_err();
    assert_eq!(
        err,
        OutOfMemory {
            requested: 65537,
            needed: Some(1 << 17),
            largest_free: 1 << 16
        }
    );
    assert_eq!(
        format!("{err}"),
        "out of memory: asked for 65537 bytes (a block of 131072 bytes), \
         the largest free block is 65536 bytes"
    );
    buddy.alloc(1 << 15).unwrap();
    buddy.alloc(1 << 14).unwrap();
    let err = buddy.alloc(1 << 15).unwrap_err();
    assert_eq!(err.largest_free, 1 << 14);
    assert_eq!(buddy.free_bytes(), 1 << 14);
    let err = buddy.alloc(u64::MAX).unwrap_err();
    assert_eq!(err.needed, None);
    assert!(format!("{err}").contains("18446744073709551615 bytes, the largest"));
}

#[test]
#[should_panic(expected = "is not an allocated block")]
fn a_double_free_panics() {
    let mut buddy = Buddy::new(16, 12);
    let (block, _) = buddy.alloc(1).unwrap();
    buddy.free(block);
    buddy.free(block);
}

#[test]
fn bits_for_rounds_up() {
    assert_eq!(bits_for(0), 0);
    assert_eq!(bits_for(1), 0);
    assert_eq!(bits_for(2), 1);
    assert_eq!(bits_for(4097), 13);
    assert_eq!(bits_for(1 << 63), 63);
    assert_eq!(bits_for((1 << 63) + 1), 64);
    assert_eq!(bits_for(u64::MAX), 64);
}

/// A node's untyped cap as seL4 would hold it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cap {
    /// A whole untyped; `used` once objects have been retyped from it.
    Whole { bits: u8, used: bool },
    /// An untyped retyped into the two half-size untypeds of its children.
    Split { bits: u8 },
}

/// The caps of the pool's nodes (absent nodes have no entry), and the
/// checks seL4 would make on each action.
struct UntypedCaps {
    caps: BTreeMap<u32, Cap>,
}

impl UntypedCaps {
    fn new(pool_bits: u8) -> Self {
        UntypedCaps {
            caps: BTreeMap::from([(
                ROOT,
                Cap::Whole {
                    bits: pool_bits,
                    used: false,
                },
            )]),
        }
    }

    fn apply(&mut self, action: Action) -> Result<(), String> {
        match action {
            Action::Split { parent, child_bits } => match self.caps.get(&parent) {
                Some(&Cap::Whole { bits, used: false }) if child_bits + 1 == bits => {
                    self.caps.insert(parent, Cap::Split { bits });
                    for child in [2 * parent, 2 * parent + 1] {
                        let old = self.caps.insert(
                            child,
                            Cap::Whole {
                                bits: child_bits,
                                used: false,
                            },
                        );
                        if old.is_some() {
                            return Err(format!("split {parent}: child {child} slot is full"));
                        }
                    }
                    Ok(())
                }
                other => Err(format!(
                    "split {parent} into 2^{child_bits}: cap is {other:?}"
                )),
            },
            Action::Reset { node } => match self.caps.get_mut(&node) {
                Some(Cap::Whole { used, .. }) => {
                    *used = false;
                    Ok(())
                }
                other => Err(format!("reset {node}: cap is {other:?}")),
            },
            Action::Merge { parent } => {
                let children = [2 * parent, 2 * parent + 1].map(|c| self.caps.get(&c).copied());
                match (self.caps.get(&parent), children) {
                    (
                        Some(&Cap::Split { bits }),
                        [Some(Cap::Whole { used: false, .. }), Some(Cap::Whole { used: false, .. })],
                    ) => {
                        self.caps.remove(&(2 * parent));
                        self.caps.remove(&(2 * parent + 1));
                        self.caps.insert(parent, Cap::Whole { bits, used: false });
                        Ok(())
                    }
                    (cap, children) => Err(format!(
                        "merge {parent}: cap {cap:?}, children {children:?}"
                    )),
                }
            }
        }
    }

    /// The caller retypes objects from a block it was handed.
    fn use_block(&mut self, block: Block) -> Result<(), String> {
        match self.caps.get_mut(&block.node) {
            Some(Cap::Whole { bits, used }) if *bits == block.bits && !*used => {
                *used = true;
                Ok(())
            }
            other => Err(format!("handed out {block:?}: cap is {other:?}")),
        }
    }

    /// The largest whole, unused untyped.
    fn largest_unused(&self) -> u64 {
        self.caps
            .values()
            .filter_map(|cap| match cap {
                Cap::Whole { bits, used: false } => Some(1u64 << bits),
                _ => None,
            })
            .max()
            .unwrap_or(0)
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// Allocate this many bytes.
    Alloc(u64),
    /// Free the live block at this index (modulo the number live).
    Free(usize),
}

fn op(pool_bits: u8) -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u64..=(1u64 << pool_bits) + 1).prop_map(Op::Alloc),
        // Small requests too, so that deep trees are common.
        2 => (0u64..=1 << 14).prop_map(Op::Alloc),
        3 => any::<usize>().prop_map(Op::Free),
    ]
}

fn scenario() -> impl Strategy<Value = (u8, u8, Vec<Op>)> {
    (12u8..=22, 0u8..=10).prop_flat_map(|(min_bits, extra)| {
        let pool_bits = min_bits + extra;
        (
            Just(pool_bits),
            Just(min_bits),
            proptest::collection::vec(op(pool_bits), 1..80),
        )
    })
}

fn check_live(pool_bits: u8, live: &[Block]) -> Result<(), TestCaseError> {
    let mut spans: Vec<(u64, u64)> = live
        .iter()
        .map(|b| (b.offset(), b.offset() + b.size()))
        .collect();
    spans.sort_unstable();
    for &(start, end) in &spans {
        prop_assert!(
            end <= 1 << pool_bits,
            "block {start:#x}..{end:#x} outside the pool"
        );
        prop_assert_eq!(start % (end - start), 0, "block is not naturally aligned");
    }
    for pair in spans.windows(2) {
        prop_assert!(pair[0].1 <= pair[1].0, "blocks overlap: {:?}", pair);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_sequences_keep_the_books_and_the_caps_straight((pool_bits, min_bits, ops) in scenario()) {
        let mut buddy = Buddy::new(pool_bits, min_bits);
        let mut caps = UntypedCaps::new(pool_bits);
        let mut live: Vec<Block> = Vec::new();
        let pool = 1u64 << pool_bits;
        for op in ops {
            match op {
                Op::Alloc(bytes) => {
                    let wanted = 1u64 << bits_for(bytes).max(min_bits).min(63);
                    let largest_before = buddy.largest_free();
                    prop_assert_eq!(largest_before, caps.largest_unused());
                    match buddy.alloc(bytes) {
                        Ok((block, actions)) => {
                            prop_assert!(bytes <= block.size() && block.size() == wanted);
                            prop_assert!(block.bits >= min_bits);
                            for action in actions {
                                caps.apply(action).map_err(TestCaseError::fail)?;
                            }
                            caps.use_block(block).map_err(TestCaseError::fail)?;
                            live.push(block);
                        }
                        Err(err) => {
                            prop_assert_eq!(err.requested, bytes);
                            prop_assert_eq!(err.largest_free, largest_before);
                            prop_assert!(bits_for(bytes) > pool_bits || largest_before < wanted);
                        }
                    }
                }
                Op::Free(index) => {
                    if live.is_empty() {
                        continue;
                    }
                    let block = live.swap_remove(index % live.len());
                    for action in buddy.free(block) {
                        caps.apply(action).map_err(TestCaseError::fail)?;
                    }
                }
            }
            check_live(pool_bits, &live)?;
            let used: u64 = live.iter().map(Block::size).sum();
            prop_assert_eq!(buddy.free_bytes(), pool - used);
            prop_assert_eq!(buddy.largest_free(), caps.largest_unused());
            // The free blocks are exactly the model's whole, unused caps.
            let free: Vec<Block> = buddy.free_blocks().collect();
            prop_assert_eq!(free.iter().map(Block::size).sum::<u64>(), pool - used);
            for b in &free {
                prop_assert_eq!(
                    caps.caps.get(&b.node),
                    Some(&Cap::Whole { bits: b.bits, used: false })
                );
                prop_assert!(live.iter().all(|l| l.node != b.node));
            }
        }
        for block in live.drain(..) {
            for action in buddy.free(block) {
                caps.apply(action).map_err(TestCaseError::fail)?;
            }
        }
        prop_assert_eq!(buddy.free_bytes(), pool);
        prop_assert!(buddy.is_whole());
        prop_assert_eq!(caps.caps.len(), 1);
        prop_assert_eq!(caps.caps.get(&ROOT), Some(&Cap::Whole { bits: pool_bits, used: false }));
    }
}
