"""The sandbox's seccomp filter: system calls that judged code never needs and that widen the
kernel surface it can reach (namespaces, mounts, io_uring, userfaultfd, BPF, perf, keyrings,
ptrace, System V and POSIX IPC, module loading).

Built on the host with libseccomp (through `pyseccomp`, ctypes over the system's libseccomp2) and
handed to bubblewrap as compiled BPF (`bwrap --seccomp FD`), which installs it in the sandbox
before the worker starts, so it binds every process there. Everything not listed is allowed:
an allow list would break on the next Python or glibc that uses a new call.
"""

from __future__ import annotations

import errno
import functools
import logging
import tempfile

logger = logging.getLogger(__name__)

DENIED = (
    # namespaces and mounts (nested user and network namespaces above all)
    "unshare setns mount umount2 pivot_root chroot open_tree move_mount fsopen fsconfig fsmount "
    "fspick mount_setattr "
    # large kernel interfaces with a record of local privilege escalations
    "io_uring_setup io_uring_enter io_uring_register userfaultfd bpf perf_event_open "
    # keyrings survive the process that made them
    "keyctl add_key request_key "
    # reading or steering other processes
    "ptrace process_vm_readv process_vm_writev pidfd_getfd kcmp "
    # System V and POSIX IPC objects outlive a run and sit outside its memory limit
    "shmget shmat shmdt shmctl msgget msgsnd msgrcv msgctl semget semop semtimedop semctl "
    "mq_open mq_unlink mq_timedsend mq_timedreceive mq_notify mq_getsetattr "
    # the machine itself
    "kexec_load kexec_file_load init_module finit_module delete_module reboot swapon swapoff "
    "acct syslog name_to_handle_at open_by_handle_at quotactl"
).split()
# clone() flags that create namespaces; clone3 passes them in memory that a filter cannot read,
# so it answers ENOSYS and glibc falls back to clone().
CLONE_NAMESPACE_FLAGS = (
    0x00020000,  # CLONE_NEWNS
    0x02000000,  # CLONE_NEWCGROUP
    0x04000000,  # CLONE_NEWUTS
    0x08000000,  # CLONE_NEWIPC
    0x10000000,  # CLONE_NEWUSER
    0x20000000,  # CLONE_NEWPID
    0x40000000,  # CLONE_NEWNET
    0x00000080,  # CLONE_NEWTIME
)


@functools.lru_cache(maxsize=1)
def seccomp_program() -> tuple[bytes | None, str]:
    """(compiled BPF, "") or (None, why it could not be built)."""
    try:
        import pyseccomp as sc
    except (ImportError, OSError) as e:  # the package, or libseccomp2 under it, is missing
        return None, f"pyseccomp is not usable ({e})"
    try:
        flt = sc.SyscallFilter(sc.ALLOW)
        for name in DENIED:
            _deny(flt, sc.ERRNO(errno.EPERM), name)
        _deny(flt, sc.ERRNO(errno.ENOSYS), "clone3")
        for flag in CLONE_NAMESPACE_FLAGS:
            flt.add_rule(sc.ERRNO(errno.EPERM), "clone", sc.Arg(0, sc.MASKED_EQ, flag, flag))
        with tempfile.TemporaryFile() as f:
            flt.export_bpf(f)
            f.seek(0)
            return f.read(), ""
    except Exception as e:  # noqa: BLE001 - libseccomp reports failures as several types
        return None, f"libseccomp could not build the filter ({type(e).__name__}: {e})"


def _deny(flt, action, name: str) -> None:
    try:
        flt.add_rule(action, name)
    except (ValueError, RuntimeError, OSError) as e:  # a call this architecture does not have
        logger.debug("seccomp: %s not denied (%s)", name, e)
