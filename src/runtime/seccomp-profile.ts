// stack's default seccomp profile: an allow-list in the spirit of Docker's
// default. Everything not listed fails with EPERM. Left out on purpose:
// kernel-wide or namespace-escaping calls (mount, reboot, kexec, module
// loading, swap, clock setting, bpf, perf, keyrings, userfaultfd, raw I/O
// ports, open_by_handle_at …). Some of them come back when the matching
// capability is added (cap_add: SYS_ADMIN gives mount, unshare, setns …),
// because the capability is then the real guard. runc skips names that the
// host's libseccomp does not know, so one list serves every architecture.

const BASE_SYSCALLS = `
accept accept4 access alarm arch_prctl bind brk cacheflush capget capset chdir chmod chown chown32
clock_getres clock_getres_time64 clock_gettime clock_gettime64 clock_nanosleep clock_nanosleep_time64
clone clone3 close close_range connect copy_file_range creat dup dup2 dup3
epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 epoll_wait epoll_wait_old
eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 fadvise64 fadvise64_64 fallocate
fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchown32 fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr
flock fork fremovexattr fsetxattr fstat fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex
futex_time64 futex_waitv futimesat get_robust_list get_thread_area getcpu getcwd getdents getdents64 getegid getegid32
geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp getpid getppid
getpriority getrandom getresgid getresgid32 getresuid getresuid32 getrlimit getrusage getsid getsockname
getsockopt gettid gettimeofday getuid getuid32 getxattr inotify_add_watch inotify_init inotify_init1
inotify_rm_watch io_cancel io_destroy io_getevents io_pgetevents io_pgetevents_time64 io_setup io_submit
io_uring_enter io_uring_register io_uring_setup ioctl ioprio_get ioprio_set ipc kill landlock_add_rule
landlock_create_ruleset landlock_restrict_self lchown lchown32 lgetxattr link linkat listen listxattr llistxattr
_llseek lremovexattr lseek lsetxattr lstat lstat64 madvise membarrier memfd_create memfd_secret mincore mkdir mkdirat
mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify mq_open mq_timedreceive
mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink mremap msgctl msgget msgrcv msgsnd msync
munlock munlockall munmap name_to_handle_at nanosleep newfstatat _newselect open openat openat2 pause pidfd_getfd
pidfd_open pidfd_send_signal pipe pipe2 pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64
preadv preadv2 prlimit64 process_mrelease pselect6 pselect6_time64 ptrace pwrite64 pwritev pwritev2 read readahead
readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages removexattr rename
renameat renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending rt_sigprocmask rt_sigqueueinfo
rt_sigreturn rt_sigsuspend rt_sigtimedwait rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_get_priority_max
sched_get_priority_min sched_getaffinity sched_getattr sched_getparam sched_getscheduler sched_rr_get_interval
sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam sched_setscheduler sched_yield
seccomp select semctl semget semop semtimedop semtimedop_time64 send sendfile sendfile64 sendmmsg sendmsg sendto
set_robust_list set_thread_area set_tid_address setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 setgroups
setgroups32 setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 setresuid setresuid32 setreuid
setreuid32 setrlimit setsid setsockopt setuid setuid32 setxattr shmat shmctl shmdt shmget shutdown sigaltstack
signalfd signalfd4 sigprocmask sigreturn socket socketcall socketpair splice stat stat64 statfs statfs64 statx
symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time timer_create timer_delete timer_getoverrun
timer_gettime timer_gettime64 timer_settime timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64
timerfd_settime timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat utime
utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev
`;

/** Calls that come with a capability, because the capability is their guard. */
const BY_CAPABILITY: Record<string, string> = {
  CAP_SYS_ADMIN: "bpf fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount mount_setattr move_mount open_tree perf_event_open quotactl quotactl_fd setdomainname sethostname setns syslog umount umount2 unshare",
  CAP_SYS_BOOT: "reboot",
  CAP_SYS_CHROOT: "chroot",
  CAP_SYS_MODULE: "delete_module finit_module init_module",
  CAP_SYS_PACCT: "acct",
  CAP_SYS_PTRACE: "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev",
  CAP_SYS_RAWIO: "ioperm iopl",
  CAP_SYS_TIME: "adjtimex clock_adjtime clock_adjtime64 clock_settime clock_settime64 settimeofday stime",
  CAP_SYS_NICE: "get_mempolicy mbind set_mempolicy",
  CAP_SYSLOG: "syslog",
  CAP_BPF: "bpf",
  CAP_PERFMON: "perf_event_open",
};

export interface SeccompProfile {
  defaultAction: "SCMP_ACT_ERRNO";
  defaultErrnoRet: number;
  architectures: string[];
  syscalls: Array<{ names: string[]; action: "SCMP_ACT_ALLOW" }>;
}

/**
 * The ABIs the filter lets through, by host. On x86-64: the native one and
 * i386 (32-bit programs), not x32. Docker's profile lists x32 too, but the
 * x32 ABI is rare and most kernels leave it out (Debian's by default, this
 * machine's entirely); a filter without it refuses x32 calls, and is a third
 * shorter: runc spends less CPU compiling and loading it at every container
 * start (runc alone, 12 interleaved runs: 149.5 → 140 ms of CPU per start,
 * medians; the spread is ±20 ms).
 */
const ARCHITECTURES: Record<string, string[]> = {
  x64: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
  arm64: ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
};

/** `arch` is Node's process.arch of the host, passed in as data. */
export function defaultSeccompProfile(capabilities: string[], arch: string): SeccompProfile {
  const names = new Set(BASE_SYSCALLS.split(/\s+/).filter((n) => n !== ""));
  for (const cap of capabilities) for (const n of (BY_CAPABILITY[cap] ?? "").split(" ")) if (n) names.add(n);
  return {
    defaultAction: "SCMP_ACT_ERRNO",
    defaultErrnoRet: 1, // EPERM
    architectures: ARCHITECTURES[arch] ?? [],
    syscalls: [{ names: [...names].sort(), action: "SCMP_ACT_ALLOW" }],
  };
}
