//! The table of bootable systems: which kernel features and which root task
//! make up each image `target/images/<system>.elf`.
//!
//! A new system (the in-guest test suite, a capDL-described system) is one
//! more row here.

use crate::error::{Error, Result};

/// The root task that a system's loader carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RootTask {
    /// Cargo package that builds it.
    pub package: &'static str,
    /// Binary target inside the package.
    pub bin: &'static str,
    /// Cargo features of the package.
    pub features: &'static [&'static str],
}

/// One bootable system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct System {
    /// Name on the command line and of the image file.
    pub name: &'static str,
    /// One line for `--help`.
    pub about: &'static str,
    /// Cargo features of `cerne-kernel`.
    pub kernel_features: &'static [&'static str],
    /// Numeric kernel build options (`kernel/build.rs`), as environment
    /// variables for the kernel's build.
    pub kernel_env: &'static [(&'static str, &'static str)],
    /// The root task.
    pub root_task: RootTask,
    /// A system description (TOML, relative to the workspace root) that the
    /// root task builds as a capDL initializer; `None` for a root task that
    /// is the whole system.
    pub description: Option<&'static str>,
    /// Cargo features for the component programs of `description`.
    pub component_features: &'static [&'static str],
    /// The disk the system boots with: the directory under `disk/` whose
    /// files go on its image (`target/disk/<system>.img`, docs/disk.md),
    /// attached as a virtio-blk device; `None` for no disk.
    pub disk: Option<&'static str>,
}

/// The package of the kernel binary.
pub const KERNEL_PACKAGE: &str = "cerne-kernel";
/// The package of the loader that carries kernel and root task.
pub const LOADER_PACKAGE: &str = "cerne-loader";

/// The package of the default system's component programs (linted with
/// each described system's component features).
pub const COMPONENTS_PACKAGE: &str = "system-components";

/// The system `cargo xtask run` and `build` use when none is named.
pub const DEFAULT: &str = "default";
/// The plain root task that reports BootInfo and halts (the boot checks).
pub const BOOTINFO: &str = "bootinfo";
/// The root task's package, which is the capDL initializer.
pub const ROOT_TASK: RootTask = RootTask {
    package: "root-task",
    bin: "root-task",
    features: &[],
};

/// Kernel options of every system built from a description: a root CNode
/// of 2^[`crate::sysimage::ROOT_CNODE_BITS`] slots, since the initializer
/// keeps a slot per object (the default system's process sessions alone are
/// over a thousand frames). seL4 leaves this size to the build too
/// (sel4test uses 13, sel4bench 15).
pub const DESCRIBED_KERNEL_ENV: &[(&str, &str)] = &[("CERNE_ROOT_CNODE_SIZE_BITS", "14")];

/// Every system, in the order `build --all` builds them.
pub const SYSTEMS: &[System] = &[
    System {
        name: "default",
        about: "systems/default.toml through capDL: user-level PL011 console driver, echo client, ping/pong",
        kernel_features: &[],
        kernel_env: DESCRIBED_KERNEL_ENV,
        root_task: ROOT_TASK,
        description: Some("systems/default.toml"),
        component_features: &[],
        disk: Some("default"),
    },
    System {
        name: "tutorial",
        about: "systems/tutorial.toml: the first-component tutorial's tally server and adder client (docs/tutorial.md); the server faults on purpose, then the kernel halts when idle",
        kernel_features: &["idle-halt"],
        kernel_env: DESCRIBED_KERNEL_ENV,
        root_task: ROOT_TASK,
        description: Some("systems/tutorial.toml"),
        component_features: &[],
        disk: None,
    },
    System {
        name: "default-bench",
        about: "the default system reporting each component's first instruction (run under icount)",
        kernel_features: &["pmu-user"],
        kernel_env: DESCRIBED_KERNEL_ENV,
        root_task: RootTask {
            package: "root-task",
            bin: "root-task",
            features: &["boot-bench"],
        },
        description: Some("systems/default.toml"),
        component_features: &["system-components/boot-bench"],
        disk: Some("default"),
    },
    System {
        name: "storage",
        about: "the default system with fs-check halting the machine when the storage checks are done (the storage checks boot it twice on one disk)",
        kernel_features: &[],
        kernel_env: DESCRIBED_KERNEL_ENV,
        root_task: ROOT_TASK,
        description: Some("systems/default.toml"),
        component_features: &["system-components/halt-when-done"],
        disk: Some("default"),
    },
    System {
        name: "storage-bench",
        about: "the default system with fs-check running the storage benchmark (16 MiB sequential, 4 KiB random) and counting cycles per component (run under icount)",
        kernel_features: &["pmu-user"],
        kernel_env: DESCRIBED_KERNEL_ENV,
        root_task: ROOT_TASK,
        description: Some("systems/default.toml"),
        component_features: &["system-components/storage-bench"],
        disk: Some("default"),
    },
    System {
        name: "reliability",
        about: "the default system running the fault-injection campaign (`cargo xtask reliability`; run under icount)",
        kernel_features: &[],
        kernel_env: DESCRIBED_KERNEL_ENV,
        root_task: ROOT_TASK,
        description: Some("systems/default.toml"),
        component_features: &["system-components/reliability"],
        disk: Some("default"),
    },
    System {
        name: "restart-storm",
        about: "the default system with pong faulting at every start: the supervisor backs off, holds it after its restart limit, and the rest carries on",
        kernel_features: &[],
        kernel_env: DESCRIBED_KERNEL_ENV,
        root_task: ROOT_TASK,
        description: Some("systems/default.toml"),
        component_features: &["system-components/pong-faults-at-start"],
        disk: Some("default"),
    },
    System {
        name: "capdl-boot-error",
        about: "a description the tools accept but an EL2 boot cannot build (a device at the GIC's hypervisor interface): the root task names the object",
        kernel_features: &[],
        kernel_env: DESCRIBED_KERNEL_ENV,
        root_task: ROOT_TASK,
        description: Some("tools/xtask/testdata/gich-device.toml"),
        component_features: &[],
        disk: None,
    },
    System {
        name: "bootinfo",
        about: "the kernel and a root task that prints its untyped memory, checks its boot caps and halts",
        kernel_features: &[],
        kernel_env: &[],
        root_task: RootTask {
            package: "root-task",
            bin: "root-task",
            features: &[],
        },
        description: None,
        component_features: &[],
        disk: None,
    },
    System {
        name: "el0-fault",
        about: "a root task that makes a deliberate EL0 data abort",
        kernel_features: &["idle-halt"],
        kernel_env: &[],
        root_task: RootTask {
            package: "boot-tests",
            bin: "el0-fault",
            features: &[],
        },
        description: None,
        component_features: &[],
        disk: None,
    },
    System {
        name: "boot-bench",
        about: "the default root task reporting the PMU cycle counter (run under icount)",
        kernel_features: &["pmu-user"],
        kernel_env: &[],
        root_task: RootTask {
            package: "root-task",
            bin: "root-task",
            features: &["boot-bench"],
        },
        description: None,
        component_features: &[],
        disk: None,
    },
    System {
        name: "ktest",
        about:
            "the in-guest test suite: every syscall and invocation, ends with `N passed, M failed`",
        kernel_features: &[],
        kernel_env: &[],
        root_task: RootTask {
            package: "ktest",
            bin: "ktest",
            features: &[],
        },
        description: None,
        component_features: &[],
        disk: None,
    },
    System {
        name: "syscall-fuzz",
        about: "a hostile root task: a victim thread issues 20,000 random syscalls; authority checks; ends with DebugHalt",
        kernel_features: &["idle-halt"],
        kernel_env: &[],
        root_task: RootTask {
            package: "syscall-fuzz",
            bin: "syscall-fuzz",
            features: &[],
        },
        description: None,
        component_features: &[],
        disk: None,
    },
    System {
        name: "syscall-fuzz-long",
        about: "syscall-fuzz with 1,000,000 random syscalls (`cargo xtask test --long`)",
        kernel_features: &["idle-halt"],
        kernel_env: &[],
        root_task: RootTask {
            package: "syscall-fuzz",
            bin: "syscall-fuzz",
            features: &["long"],
        },
        description: None,
        component_features: &[],
        disk: None,
    },
    System {
        name: "panic-test",
        about: "a kernel that panics on purpose after printing its memory map",
        kernel_features: &["boot-panic-test"],
        kernel_env: &[],
        root_task: RootTask {
            package: "root-task",
            bin: "root-task",
            features: &[],
        },
        description: None,
        component_features: &[],
        disk: None,
    },
    System {
        name: "cnode-13",
        about: "the default system with a 2^13-slot root CNode (sel4test's setting)",
        kernel_features: &[],
        kernel_env: &[("CERNE_ROOT_CNODE_SIZE_BITS", "13")],
        root_task: RootTask {
            package: "root-task",
            bin: "root-task",
            features: &[],
        },
        description: None,
        component_features: &[],
        disk: None,
    },
    System {
        name: "cnode-15",
        about: "the default system with a 2^15-slot root CNode (sel4bench's setting)",
        kernel_features: &[],
        kernel_env: &[("CERNE_ROOT_CNODE_SIZE_BITS", "15")],
        root_task: RootTask {
            package: "root-task",
            bin: "root-task",
            features: &[],
        },
        description: None,
        component_features: &[],
        disk: None,
    },
    System {
        name: "irq-uart",
        about: "a user-level PL011 receive interrupt through a notification; echoes typed lines until `quit`",
        kernel_features: &[],
        kernel_env: &[],
        root_task: RootTask {
            package: "boot-tests",
            bin: "irq-uart",
            features: &[],
        },
        description: None,
        component_features: &[],
        disk: None,
    },
    System {
        name: "ipc-bench",
        about: "IPC round trips in instructions, fast path (run under icount; `cargo xtask bench`)",
        kernel_features: &["pmu-user"],
        kernel_env: &[],
        root_task: RootTask {
            package: "boot-tests",
            bin: "ipc-bench",
            features: &[],
        },
        description: None,
        component_features: &[],
        disk: None,
    },
    System {
        name: "ipc-bench-slowpath",
        about: "the IPC benchmark on a kernel built without the fast path",
        kernel_features: &["pmu-user", "no-fastpath"],
        kernel_env: &[],
        root_task: RootTask {
            package: "boot-tests",
            bin: "ipc-bench",
            features: &[],
        },
        description: None,
        component_features: &[],
        disk: None,
    },
    System {
        name: "debug-dump",
        about: "DebugDumpScheduler and DebugSnapshot (a capDL description of the root task's CSpace)",
        kernel_features: &[],
        kernel_env: &[],
        root_task: RootTask {
            package: "boot-tests",
            bin: "debug-dump",
            features: &[],
        },
        description: None,
        component_features: &[],
        disk: None,
    },
    System {
        name: "stack-overflow-test",
        about: "a kernel that overflows its stack on purpose: the guard page catches it",
        kernel_features: &["boot-stack-overflow-test"],
        kernel_env: &[],
        root_task: RootTask {
            package: "root-task",
            bin: "root-task",
            features: &[],
        },
        description: None,
        component_features: &[],
        disk: None,
    },
    System {
        name: "kernel-fault-test",
        about: "a kernel that takes a data abort on purpose after its memory map",
        kernel_features: &["boot-fault-test"],
        kernel_env: &[],
        root_task: RootTask {
            package: "root-task",
            bin: "root-task",
            features: &[],
        },
        description: None,
        component_features: &[],
        disk: None,
    },
];

/// The system called `name`, or an error that lists the valid names.
pub fn find(name: &str) -> Result<&'static System> {
    SYSTEMS.iter().find(|s| s.name == name).ok_or_else(|| {
        Error::new(format!(
            "no system called `{name}`; the systems are: {}",
            names().join(", ")
        ))
    })
}

/// The names of all systems.
pub fn names() -> Vec<&'static str> {
    SYSTEMS.iter().map(|s| s.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn described_systems_get_the_root_cnode_the_checks_assume() {
        let bits = crate::sysimage::ROOT_CNODE_BITS.to_string();
        assert_eq!(
            DESCRIBED_KERNEL_ENV,
            &[("CERNE_ROOT_CNODE_SIZE_BITS", bits.as_str())]
        );
        for s in SYSTEMS.iter().filter(|s| s.description.is_some()) {
            assert_eq!(s.kernel_env, DESCRIBED_KERNEL_ENV, "{}", s.name);
        }
    }

    #[test]
    fn names_are_unique() {
        let mut names = names();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), SYSTEMS.len());
    }

    #[test]
    fn default_exists() {
        assert_eq!(find(DEFAULT).map(|s| s.name), Ok(DEFAULT));
    }

    #[test]
    fn unknown_name_lists_the_valid_ones() {
        let err = find("nope").unwrap_err();
        for s in SYSTEMS {
            assert!(err.0.contains(s.name), "{err}");
        }
    }
}
