//! The process ABI: what the process manager gives every program it spawns
//! (docs/processes.md). A spawned program's CSpace holds exactly the caps
//! listed here, its address space the regions listed here, and nothing
//! else; the program's runtime ([`crate::program!`]) reads its arguments
//! from the [`ARGS`] page and reports its exit code to the process manager.
//!
//! The constants are the one home of these numbers: the process manager
//! builds processes from them and the runtime reads them.

/// log2 of the slots of a process's CNode (its only CNode).
pub const CNODE_BITS: u8 = 4;
/// The guard of that CNode: a CPtr is the slot number, resolved at depth 64.
pub const CNODE_GUARD_BITS: u8 = 64 - CNODE_BITS;

/// CSpace slots of a spawned process.
pub mod caps {
    /// The console session (an endpoint badged for this process): the
    /// console protocol ([`crate::console`]) through [`super::CONSOLE_BUFFER`].
    pub const CONSOLE: u64 = 1;
    /// The file-server session: the file protocol ([`crate::files`])
    /// through [`super::FILES_BUFFER`].
    pub const FILES: u64 = 2;
    /// The process manager (an endpoint badged for this process): the
    /// process protocol ([`crate::procs`]) through [`super::PROCS_BUFFER`],
    /// `exit` among others.
    pub const PROCS: u64 = 3;
    /// The fault endpoint the kernel sends this thread's faults through
    /// (to the process manager, badged as a fault of this process). The
    /// kernel looks it up in the thread's own CSpace (non-MCS seL4), so it
    /// must be here; a program that sends on it only reports itself as
    /// faulted.
    pub const FAULT: u64 = 4;
}

/// One past the top of the stack.
pub const STACK_TOP: u64 = 0x1000_0000;
/// Bytes of stack (below [`STACK_TOP`]; an unmapped guard page lies under
/// it).
pub const STACK_SIZE: u64 = 64 * 1024;
/// The IPC buffer (one page).
pub const IPC_BUFFER: u64 = 0x1000_1000;
/// The arguments page (one page, read-only): an [`ArgsHeader`] and the
/// arguments, each followed by a NUL byte.
pub const ARGS: u64 = 0x1000_3000;
/// The console session's buffer.
pub const CONSOLE_BUFFER: u64 = 0x3000_0000;
/// Its size in bytes.
pub const CONSOLE_BUFFER_SIZE: u64 = 4 * 1024;
/// The file-server session's buffer.
pub const FILES_BUFFER: u64 = 0x3001_0000;
/// Its size in bytes.
pub const FILES_BUFFER_SIZE: u64 = 64 * 1024;
/// The process-manager session's buffer (spawn paths and arguments,
/// listings).
pub const PROCS_BUFFER: u64 = 0x3003_0000;
/// Its size in bytes.
pub const PROCS_BUFFER_SIZE: u64 = 4 * 1024;
/// The lowest address a program's segments may use.
pub const IMAGE_BASE: u64 = 0x1000;
/// One past the highest address a program's segments may use: below the
/// stack and its guard page.
pub const IMAGE_END: u64 = STACK_TOP - STACK_SIZE - 4096;
/// The priority a process starts at (the policy server moves it from
/// there, docs/processes.md).
pub const DEFAULT_PRIORITY: u8 = 60;

// The regions do not overlap: image, guard page, stack, IPC buffer,
// arguments, the session buffers.
const _: () = assert!(IMAGE_END < STACK_TOP - STACK_SIZE);
const _: () = assert!(IPC_BUFFER >= STACK_TOP && ARGS > IPC_BUFFER);
const _: () = assert!(CONSOLE_BUFFER > ARGS && CONSOLE_BUFFER + CONSOLE_BUFFER_SIZE < FILES_BUFFER);
const _: () = assert!(FILES_BUFFER + FILES_BUFFER_SIZE < PROCS_BUFFER);

/// Bytes of the arguments page.
pub const ARGS_SIZE: usize = 4096;
/// Most bytes of argument text (NULs included) that fit after the header.
pub const ARGS_MAX_TEXT: usize = ARGS_SIZE - core::mem::size_of::<ArgsHeader>();

/// The head of the arguments page.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    zerocopy::FromBytes,
    zerocopy::IntoBytes,
    zerocopy::Immutable,
    zerocopy::KnownLayout,
)]
#[repr(C)]
pub struct ArgsHeader {
    /// This process's pid.
    pub pid: u32,
    /// The number of arguments (the program's name first).
    pub argc: u32,
    /// Bytes of argument text after the header.
    pub len: u32,
    /// Zero.
    pub reserved: u32,
}

/// Why arguments do not fit in the arguments page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArgsError {
    /// More text than [`ARGS_MAX_TEXT`].
    TooLong,
    /// An argument contains a NUL byte.
    ContainsNul,
}

/// Writes the arguments page for `pid` with `args` into `page` (at least
/// [`ARGS_SIZE`] bytes); the rest of the page is zeroed.
pub fn encode_args<'a>(
    pid: u32,
    args: impl IntoIterator<Item = &'a [u8]>,
    page: &mut [u8],
) -> Result<(), ArgsError> {
    use zerocopy::IntoBytes;
    let head = core::mem::size_of::<ArgsHeader>();
    let page = page.get_mut(..ARGS_SIZE).ok_or(ArgsError::TooLong)?;
    page.fill(0);
    let mut at = head;
    let mut argc = 0u32;
    for arg in args {
        if arg.contains(&0) {
            return Err(ArgsError::ContainsNul);
        }
        let end = at
            .checked_add(arg.len() + 1)
            .filter(|&e| e <= ARGS_SIZE)
            .ok_or(ArgsError::TooLong)?;
        page[at..end - 1].copy_from_slice(arg);
        at = end;
        argc += 1;
    }
    let header = ArgsHeader {
        pid,
        argc,
        len: (at - head) as u32,
        reserved: 0,
    };
    page[..head].copy_from_slice(header.as_bytes());
    Ok(())
}

/// The arguments read back from an arguments page.
#[derive(Clone, Copy, Debug)]
pub struct Args<'a> {
    header: ArgsHeader,
    text: &'a [u8],
}

impl<'a> Args<'a> {
    /// Decodes a page written by [`encode_args`]; a page that is not one
    /// (a length past the page) gives no arguments.
    pub fn decode(page: &'a [u8]) -> Self {
        use zerocopy::FromBytes;
        let head = core::mem::size_of::<ArgsHeader>();
        let header = ArgsHeader::read_from_prefix(page)
            .map(|(h, _)| h)
            .unwrap_or_default();
        let text = page
            .get(head..head + header.len as usize)
            .unwrap_or_default();
        Self { header, text }
    }

    /// This process's pid.
    pub fn pid(&self) -> u32 {
        self.header.pid
    }

    /// The number of arguments, the program's name included.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// No arguments at all (not even a name).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Argument `i` (0 is the program's name).
    pub fn get(&self, i: usize) -> Option<&'a [u8]> {
        self.iter().nth(i)
    }

    /// Argument `i` as UTF-8 text, if it is.
    pub fn str(&self, i: usize) -> Option<&'a str> {
        self.get(i).and_then(|a| core::str::from_utf8(a).ok())
    }

    /// Every argument, the program's name first.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + 'a {
        let text = self.text;
        // Empty text holds no argument (not even an empty one).
        let argc = if text.is_empty() {
            0
        } else {
            self.header.argc as usize
        };
        text.split(|&b| b == 0).take(argc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_round_trip() {
        let mut page = [0xAAu8; ARGS_SIZE];
        let args: [&[u8]; 3] = [b"wc", b"/etc/motd", b""];
        encode_args(7, args, &mut page).unwrap();
        let a = Args::decode(&page);
        assert_eq!(a.pid(), 7);
        assert_eq!(a.len(), 3);
        assert_eq!(a.str(0), Some("wc"));
        assert_eq!(a.str(1), Some("/etc/motd"));
        assert_eq!(a.str(2), Some(""));
        assert_eq!(a.get(3), None);
    }

    #[test]
    fn args_refused() {
        let mut page = [0u8; ARGS_SIZE];
        assert_eq!(
            encode_args(1, [&b"a\0b"[..]], &mut page),
            Err(ArgsError::ContainsNul)
        );
        let long = [b'x'; ARGS_MAX_TEXT];
        assert_eq!(
            encode_args(1, [&long[..]], &mut page),
            Err(ArgsError::TooLong)
        );
        let fits = [b'x'; ARGS_MAX_TEXT - 1];
        assert!(encode_args(1, [&fits[..]], &mut page).is_ok());
        assert_eq!(
            Args::decode(&page).get(0).map(<[u8]>::len),
            Some(fits.len())
        );
    }

    #[test]
    fn garbage_page_gives_nothing_out_of_range() {
        let mut page = [0xFFu8; ARGS_SIZE];
        page[..16].copy_from_slice(&[1, 0, 0, 0, 9, 0, 0, 0, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0]);
        let a = Args::decode(&page);
        assert_eq!(a.len(), 0);
    }

    #[test]
    fn layout_is_consistent() {
        assert_eq!(core::mem::size_of::<ArgsHeader>(), 16);
    }
}
