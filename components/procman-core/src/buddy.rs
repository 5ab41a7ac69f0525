//! Buddy bookkeeping of one power-of-two untyped pool, in the terms seL4
//! untyped memory works in.
//!
//! The pool is a binary tree of blocks numbered as a heap: the root (the
//! whole pool) is node 1, and node `n` has the children `2n` (the lower
//! half) and `2n + 1` (the upper half). A block is made by retyping its
//! parent's untyped into two half-size untypeds ([`Action::Split`]), and
//! unmade by revoking the parent, which deletes both children and leaves
//! the parent whole again ([`Action::Merge`]). Each node's untyped cap
//! lives in a slot the caller derives from the node number.
//!
//! [`Buddy`] only decides; it returns the [`Action`]s the caller must carry
//! out, in order, on the real caps.

use alloc::collections::BTreeMap;
use alloc::collections::BTreeSet;
use alloc::vec::Vec;
use core::fmt;

/// The node number of the whole pool.
pub const ROOT: u32 = 1;

/// The deepest a tree of `u32` node numbers can go below the root.
pub const MAX_DEPTH: u8 = 31;

/// A block of the pool: node `node` of the tree, `2^bits` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Block {
    /// The block's node number (the root, the whole pool, is 1).
    pub node: u32,
    /// The block's size bits: it spans `2^bits` bytes.
    pub bits: u8,
}

impl Block {
    /// How far below the root the node is (the root is at depth 0).
    pub fn depth(&self) -> u8 {
        depth_of(self.node)
    }

    /// The block's start, in bytes from the start of the pool.
    pub fn offset(&self) -> u64 {
        let index_in_level = self.node.saturating_sub(1u32 << self.depth());
        u64::from(index_in_level)
            .checked_shl(u32::from(self.bits))
            .unwrap_or(u64::MAX)
    }

    /// The block's size in bytes (`u64::MAX` for 64 bits or more, which
    /// no [`Buddy`] hands out).
    pub fn size(&self) -> u64 {
        1u64.checked_shl(u32::from(self.bits)).unwrap_or(u64::MAX)
    }
}

/// One step the caller carries out on the untyped caps, in the order given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Retype node `parent`'s untyped into two untypeds of `2^child_bits`
    /// bytes, placed in the slots of nodes `2 * parent` (the lower half)
    /// and `2 * parent + 1`.
    Split {
        /// The node whose untyped is retyped.
        parent: u32,
        /// The size bits of each of the two new untypeds.
        child_bits: u8,
    },
    /// Revoke node `node`'s untyped cap: every object made from it is
    /// destroyed, and the untyped can be retyped from its start again.
    Reset {
        /// The node whose cap is revoked.
        node: u32,
    },
    /// Revoke node `parent`'s untyped cap: its two child untypeds (both
    /// unused) are deleted and their slots become empty.
    Merge {
        /// The node whose cap is revoked.
        parent: u32,
    },
}

/// Why [`Buddy::alloc`] failed: no free block is large enough.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutOfMemory {
    /// The bytes asked for.
    pub requested: u64,
    /// The size of the block the request needs (a power of two, at least
    /// the minimum block), or `None` if it is larger than any `u64`.
    pub needed: Option<u64>,
    /// The size of the largest free block, 0 if none is free.
    pub largest_free: u64,
}

impl fmt::Display for OutOfMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "out of memory: asked for {} bytes", self.requested)?;
        if let Some(needed) = self.needed {
            write!(f, " (a block of {needed} bytes)")?;
        }
        write!(f, ", the largest free block is {} bytes", self.largest_free)
    }
}

/// A node of the tree that exists (its parent is split, or it is the root).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// A whole, unused untyped: free to allocate.
    Free,
    /// A whole untyped handed out as a block.
    Allocated,
    /// An untyped retyped into its two children.
    Split,
}

/// The buddy allocator's bookkeeping for a pool of `2^pool_bits` bytes
/// handed out in blocks of at least `2^min_bits` bytes.
#[derive(Clone, Debug)]
pub struct Buddy {
    pool_bits: u8,
    min_bits: u8,
    /// Every node that exists, by number.
    nodes: BTreeMap<u32, State>,
    /// The free nodes at each depth (index 0 is the root's level).
    free_by_depth: Vec<BTreeSet<u32>>,
    free_bytes: u64,
}

impl Buddy {
    /// A pool of `2^pool_bits` bytes, all free, handed out in blocks of at
    /// least `2^min_bits` bytes.
    ///
    /// # Panics
    /// If `min_bits > pool_bits`, `pool_bits > 63` (the pool's size must
    /// fit a `u64`) or the tree would be deeper than [`MAX_DEPTH`]: these
    /// are configuration errors, fixed when the process manager is built.
    pub fn new(pool_bits: u8, min_bits: u8) -> Self {
        assert!(
            min_bits <= pool_bits,
            "min_bits {min_bits} > pool_bits {pool_bits}"
        );
        assert!(
            pool_bits <= 63,
            "a pool of 2^{pool_bits} bytes does not fit a u64"
        );
        assert!(
            pool_bits - min_bits <= MAX_DEPTH,
            "2^{pool_bits} bytes in blocks of 2^{min_bits} is deeper than {MAX_DEPTH} levels"
        );
        let depths = usize::from(pool_bits - min_bits) + 1;
        let mut free_by_depth = alloc::vec![BTreeSet::new(); depths];
        free_by_depth[0].insert(ROOT);
        Buddy {
            pool_bits,
            min_bits,
            nodes: BTreeMap::from([(ROOT, State::Free)]),
            free_by_depth,
            free_bytes: 1u64 << pool_bits,
        }
    }

    /// The pool's size bits.
    pub fn pool_bits(&self) -> u8 {
        self.pool_bits
    }

    /// The smallest block's size bits.
    pub fn min_bits(&self) -> u8 {
        self.min_bits
    }

    /// The bytes in free blocks.
    pub fn free_bytes(&self) -> u64 {
        self.free_bytes
    }

    /// The size of the largest free block in bytes, 0 if none is free.
    pub fn largest_free(&self) -> u64 {
        self.free_by_depth
            .iter()
            .position(|free| !free.is_empty())
            .map_or(0, |depth| 1u64 << self.bits_at(depth))
    }

    /// Every free block, smallest first.
    pub fn free_blocks(&self) -> impl Iterator<Item = Block> + '_ {
        self.free_by_depth
            .iter()
            .enumerate()
            .rev()
            .flat_map(move |(depth, free)| {
                free.iter().map(move |&node| Block {
                    node,
                    bits: self.bits_at(depth),
                })
            })
    }

    /// Whether no node is split: the pool is one untyped, free or allocated.
    pub fn is_whole(&self) -> bool {
        self.nodes.len() == 1
    }

    /// Hands out the lowest-addressed of the smallest free blocks of
    /// `2^bits >= bytes` bytes (at least the minimum block), with the
    /// [`Action::Split`]s that make it, parent before child.
    ///
    /// # Errors
    /// [`OutOfMemory`] if no free block is large enough; nothing changes.
    pub fn alloc(&mut self, bytes: u64) -> Result<(Block, Vec<Action>), OutOfMemory> {
        let needed_bits = bits_for(bytes).max(self.min_bits);
        let out_of_memory = OutOfMemory {
            requested: bytes,
            needed: 1u64.checked_shl(u32::from(needed_bits)),
            largest_free: self.largest_free(),
        };
        if needed_bits > self.pool_bits {
            return Err(out_of_memory);
        }
        let target_depth = usize::from(self.pool_bits - needed_bits);
        let Some((mut depth, mut node)) = (0..=target_depth)
            .rev()
            .find_map(|depth| Some((depth, *self.free_by_depth[depth].first()?)))
        else {
            return Err(out_of_memory);
        };
        self.free_by_depth[depth].remove(&node);
        let mut actions = Vec::new();
        while depth < target_depth {
            let child_bits = self.bits_at(depth + 1);
            actions.push(Action::Split {
                parent: node,
                child_bits,
            });
            self.nodes.insert(node, State::Split);
            let (lower, upper) = (2 * node, 2 * node + 1);
            self.nodes.insert(upper, State::Free);
            self.free_by_depth[depth + 1].insert(upper);
            node = lower;
            depth += 1;
        }
        self.nodes.insert(node, State::Allocated);
        let block = Block {
            node,
            bits: needed_bits,
        };
        self.free_bytes -= block.size();
        Ok((block, actions))
    }

    /// Takes `block` back: an [`Action::Reset`] of the block itself, then
    /// an [`Action::Merge`] of each parent whose halves are now both free,
    /// from the bottom up.
    ///
    /// # Panics
    /// If `block` is not a block this allocator handed out and has not
    /// taken back (a double free would make the caps and the bookkeeping
    /// disagree).
    pub fn free(&mut self, block: Block) -> Vec<Action> {
        let depth = block.node.checked_ilog2().map(|d| d as usize);
        assert!(
            self.nodes.get(&block.node) == Some(&State::Allocated)
                && depth.is_some_and(|d| d < self.free_by_depth.len())
                && Some(block.bits) == depth.map(|d| self.bits_at(d)),
            "{block:?} is not an allocated block"
        );
        self.free_bytes += block.size();
        let mut actions = alloc::vec![Action::Reset { node: block.node }];
        let mut node = block.node;
        let mut depth = usize::from(block.depth());
        while node != ROOT && self.nodes.get(&(node ^ 1)) == Some(&State::Free) {
            let buddy = node ^ 1;
            self.free_by_depth[depth].remove(&buddy);
            self.nodes.remove(&buddy);
            self.nodes.remove(&node);
            node /= 2;
            depth -= 1;
            actions.push(Action::Merge { parent: node });
        }
        self.nodes.insert(node, State::Free);
        self.free_by_depth[depth].insert(node);
        actions
    }

    /// The size bits of a block at `depth`.
    fn bits_at(&self, depth: usize) -> u8 {
        // The depth is below the tree's depth count, which fits a u8.
        self.pool_bits - depth as u8
    }
}

/// The depth of a node number (the root, 1, is at depth 0; 0 is not a
/// node and reports depth 0).
fn depth_of(node: u32) -> u8 {
    node.checked_ilog2().unwrap_or(0) as u8
}

/// The smallest `bits` with `2^bits >= bytes` (0 for 0 and 1 bytes).
fn bits_for(bytes: u64) -> u8 {
    match bytes {
        0 | 1 => 0,
        // At most 64, which fits a u8.
        _ => (u64::BITS - (bytes - 1).leading_zeros()) as u8,
    }
}

#[cfg(test)]
mod tests;
