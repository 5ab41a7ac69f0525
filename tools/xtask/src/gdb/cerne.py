# Cerne's GDB helpers (docs/debugging.md). `cargo xtask gdb` sources this
# file from the script it generates under target/gdb/, which first sets
# CERNE: the kernel's virtual-to-physical offset, the TCB layout and every
# component's ELF.
#
# Every user component is linked at the same virtual addresses, each in an
# address space of its own, so GDB holds the kernel's symbols and one
# component's at a time:
#
#   cerne-components            the components and their programs
#   cerne-component NAME        use NAME's symbols (drops the previous one's)
#   cerne-break NAME LOCATION   NAME's symbols, and a hardware breakpoint at
#                               LOCATION that stops only while the kernel
#                               runs NAME's thread (another component running
#                               the same address goes on)
#   cerne-thread                the thread the kernel runs now
#   cerne-bt                    GDB's backtrace, then the user frames read
#                               from the frame records (the x29 chain): of
#                               the thread stopped at EL0, or stopped in the
#                               kernel, of the thread that entered it
#
# The running thread is read from the kernel's own state (its `current`
# TCB and the name the initializer gave it) through QEMU's physical-memory
# mode, which works from EL0 too, where the kernel's pages are closed to
# GDB's reads.

import re
import struct

import gdb

_loaded = None
_current_paddr = None
_MASK = (1 << 64) - 1


def _phys_read(addr, n):
    """n bytes at physical address addr (QEMU's gdbstub, PhyMemMode)."""
    gdb.execute("maintenance packet Qqemu.PhyMemMode:1", to_string=True)
    try:
        return bytes(gdb.selected_inferior().read_memory(addr, n))
    finally:
        gdb.execute("maintenance packet Qqemu.PhyMemMode:0", to_string=True)
        gdb.execute("maintenance flush dcache", to_string=True)


def _field_offset(t, path):
    off = 0
    for name in path:
        t = t.strip_typedefs()
        found = [f for f in t.fields() if f.name == name]
        if not found:
            raise gdb.GdbError("cerne: no field %s in %s" % (name, t))
        off += found[0].bitpos // 8
        t = found[0].type
    return off


def _current_slot():
    """Physical address of the kernel's `current` thread word."""
    global _current_paddr
    if _current_paddr is None:
        name = "cerne_kernel::sched::STATE"
        sym = gdb.lookup_static_symbol(name) or gdb.lookup_global_symbol(name)
        if sym is None:
            raise gdb.GdbError("cerne: no kernel symbol %s (is the kernel loaded?)" % name)
        info = gdb.execute("info address " + name, to_string=True)
        va = int(re.search(r"0x[0-9a-fA-F]+", info).group(0), 16)
        off = _field_offset(sym.type, ("inner", "data", "value", "current"))
        _current_paddr = (va + off - CERNE["kernel_phys_offset"]) & _MASK
    return _current_paddr


def current_thread():
    """(TCB physical address, name) of the thread the kernel runs; (0, "")
    for the idle thread."""
    tcb = struct.unpack("<Q", _phys_read(_current_slot(), 8))[0]
    if tcb == 0:
        return 0, ""
    raw = _phys_read(tcb + CERNE["tcb_name_offset"], 64)
    return tcb, raw.split(b"\0")[0].decode(errors="replace")


def load(name):
    """Use component `name`'s symbols, dropping the previous component's."""
    global _loaded
    path = CERNE["components"].get(name)
    if path is None:
        raise gdb.GdbError(
            "cerne: no component %s; the components are %s"
            % (name, ", ".join(sorted(CERNE["components"])))
        )
    if _loaded is not None and _loaded[0] == name:
        return
    if _loaded is not None:
        gdb.execute("remove-symbol-file " + _loaded[1], to_string=True)
    gdb.execute("add-symbol-file " + path, to_string=True)
    _loaded = (name, path)
    print("cerne: symbols of component %s (%s)" % (name, path))


class Components(gdb.Command):
    """List the components of the system and their programs."""

    def __init__(self):
        super().__init__("cerne-components", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        for name, path in sorted(CERNE["components"].items()):
            mark = "*" if _loaded is not None and _loaded[0] == name else " "
            print("%s %-16s %s" % (mark, name, path))


class Component(gdb.Command):
    """cerne-component NAME: use component NAME's symbols."""

    def __init__(self):
        super().__init__("cerne-component", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        load(arg.strip())


class ThreadBreakpoint(gdb.Breakpoint):
    """A hardware breakpoint that stops only in one component's thread."""

    def __init__(self, location, component):
        super().__init__(location, type=gdb.BP_HARDWARE_BREAKPOINT)
        self.component = component

    def stop(self):
        return current_thread()[1] == self.component


class Break(gdb.Command):
    """cerne-break NAME LOCATION: NAME's symbols, and a hardware breakpoint at
    LOCATION that stops only while NAME's thread runs."""

    def __init__(self):
        super().__init__("cerne-break", gdb.COMMAND_BREAKPOINTS)

    def invoke(self, arg, from_tty):
        words = arg.split(None, 1)
        if len(words) != 2:
            raise gdb.GdbError("usage: cerne-break COMPONENT LOCATION")
        load(words[0])
        b = ThreadBreakpoint(words[1], words[0])
        print("cerne: breakpoint %d at %s stops only in thread '%s'" % (b.number, words[1], words[0]))


def _in_kernel():
    return (int(gdb.parse_and_eval("$pc")) & _MASK) >= 1 << 63


class Thread(gdb.Command):
    """cerne-thread: the thread the kernel runs, and where the CPU is."""

    def __init__(self):
        super().__init__("cerne-thread", gdb.COMMAND_STATUS)

    def invoke(self, arg, from_tty):
        tcb, name = current_thread()
        where = "in the kernel" if _in_kernel() else "at EL0"
        if tcb == 0:
            print("cerne: the idle thread, %s" % where)
        else:
            print("cerne: thread '%s' (tcb %#x), %s" % (name, tcb, where))


def _describe(pc, is_return):
    """`function at file:line` for pc (a return address names its call),
    inline frames innermost first: `f, inlined into g`."""
    look = pc - 4 if is_return else pc
    try:
        block = gdb.block_for_pc(look)
    except RuntimeError:
        block = None
    names = []
    while block is not None and not block.is_static and not block.is_global:
        if block.function is not None and block.function.print_name not in names:
            names.append(block.function.print_name)
        block = block.superblock
    sal = gdb.find_pc_line(look)
    where = ""
    if sal.symtab is not None:
        where = " at %s:%d" % (sal.symtab.filename, sal.line)
    return "%s%s" % (", inlined into ".join(names) or "??", where)


def _at_function_entry(pc):
    """Whether pc is the first instruction of its (outermost) function."""
    try:
        block = gdb.block_for_pc(pc)
    except RuntimeError:
        return False
    start = None
    while block is not None and not block.is_static and not block.is_global:
        if block.function is not None:
            start = block.start
        block = block.superblock
    return start == pc


class Backtrace(gdb.Command):
    """cerne-bt: GDB's backtrace, then the user frames from the frame records
    (the x29 chain, which needs no unwind tables): of the thread stopped at
    EL0, or, stopped in the kernel, of the thread that entered it (its saved
    ELR and x29), named with its component's symbols."""

    def __init__(self):
        super().__init__("cerne-bt", gdb.COMMAND_STACK)

    def invoke(self, arg, from_tty):
        gdb.execute("bt")
        tcb, name = current_thread()
        if tcb == 0:
            print("--- the idle thread: no user frames")
            return
        if name in CERNE["components"]:
            load(name)
        if _in_kernel():
            ctx = _phys_read(tcb, CERNE["uc_size"])
            word = lambda off: struct.unpack_from("<Q", ctx, off)[0]
            pc = word(CERNE["uc_elr"])
            fp = word(CERNE["uc_x"] + 29 * 8)
            print("--- kernel entry from thread '%s' (tcb %#x); its user frames:" % (name, tcb))
        else:
            pc = int(gdb.parse_and_eval("$pc")) & _MASK
            fp = int(gdb.parse_and_eval("$x29")) & _MASK
            print("--- thread '%s' (tcb %#x); its frame records:" % (name, tcb))
        print("u#0  %#018x in %s" % (pc, _describe(pc, False)))
        first = 1
        if not _in_kernel() and _at_function_entry(pc):
            # Before its prologue a function has pushed no record yet: its
            # caller is only in x30.
            lr = int(gdb.parse_and_eval("$x30")) & _MASK
            print("u#1  %#018x in %s" % (lr, _describe(lr, True)))
            first = 2
        inferior = gdb.selected_inferior()
        for n in range(first, 17):
            if fp == 0 or fp % 8 != 0:
                break
            try:
                record = bytes(inferior.read_memory(fp, 16))
            except gdb.MemoryError:
                break
            next_fp, lr = struct.unpack("<QQ", record)
            if lr == 0:
                break
            print("u#%-2d %#018x in %s" % (n, lr, _describe(lr, True)))
            if next_fp <= fp:
                break
            fp = next_fp


Components()
Component()
Break()
Thread()
Backtrace()
