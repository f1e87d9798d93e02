// SPDX-License-Identifier: MIT
/*
 * seccomp.c - the workers' system-call allow-list (`seccomp = true`), with libseccomp.
 *
 * A worker makes few system calls of its own: io_uring_enter for all socket I/O, a few
 * socket calls around it (socket options, the first-bytes peek, close, the hand-over to
 * kernel TLS), memory management for OpenSSL and glibc, logging. Anything else a worker
 * thread asks for is refused with EPERM and logged by the kernel's audit: nothing is
 * killed. io_uring's own operations are not system calls, so the filter does not see
 * them; what it bounds is what a compromised worker could call directly (exec, fork,
 * ptrace, mount, module loading, ...). The main and control threads are not filtered.
 */
#include <errno.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <seccomp.h>

#include "runtime.h"

static const int seccomp_worker_syscalls[] = {
	/* the ring, the worker's eventfd, logging */
	SCMP_SYS(io_uring_enter),
	SCMP_SYS(io_uring_register),
	SCMP_SYS(read),
	SCMP_SYS(write),
	SCMP_SYS(writev),
	SCMP_SYS(close),
	SCMP_SYS(lseek),
	/* sockets beside the ring: backend socket, options, peek, half-close, kTLS */
	SCMP_SYS(socket),
	SCMP_SYS(setsockopt),
	SCMP_SYS(getsockopt),
	SCMP_SYS(getpeername),
	SCMP_SYS(getsockname),
	SCMP_SYS(shutdown),
	SCMP_SYS(recvfrom),
	SCMP_SYS(recvmsg),
	SCMP_SYS(sendto),
	SCMP_SYS(sendmsg),
	SCMP_SYS(connect),
	SCMP_SYS(ioctl),
	SCMP_SYS(pipe2),
	SCMP_SYS(fcntl),
	SCMP_SYS(splice),
	/* memory: OpenSSL, glibc's malloc and malloc_trim (which reads a /proc file) */
	SCMP_SYS(mmap),
	SCMP_SYS(munmap),
	SCMP_SYS(mprotect),
	SCMP_SYS(madvise),
	SCMP_SYS(mremap),
	SCMP_SYS(brk),
	SCMP_SYS(openat),
	SCMP_SYS(newfstatat),
	SCMP_SYS(fstat),
	/* threads, time, randomness, signals, the end */
	SCMP_SYS(futex),
	SCMP_SYS(getpid),
	SCMP_SYS(gettid),
	SCMP_SYS(clock_gettime),
	SCMP_SYS(clock_nanosleep),
	SCMP_SYS(nanosleep),
	SCMP_SYS(sched_yield),
	SCMP_SYS(getrandom),
	SCMP_SYS(rt_sigprocmask),
	SCMP_SYS(rt_sigreturn),
	SCMP_SYS(rseq),
	SCMP_SYS(set_robust_list),
	SCMP_SYS(restart_syscall),
	SCMP_SYS(sigaltstack), /* a thread's signal stack, at its start and end (sanitizers too) */
	SCMP_SYS(exit),
	SCMP_SYS(exit_group),
};

/**
 * seccomp_worker_apply() - load the allow-list into the calling worker thread, then show
 * that a call outside it is refused, not fatal.
 * Return: 0, or -errno (logged): the worker must not serve unfiltered when it was asked.
 */
int seccomp_worker_apply(unsigned worker_idx)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
	int ret = ctx ? 0 : -ENOMEM;
	long probe;

	if (ctx && seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1) < 0)
		log_debug("seccomp: the kernel does not log refused calls");
	for (size_t i = 0; !ret && i < sizeof(seccomp_worker_syscalls) / sizeof(int); i++)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, seccomp_worker_syscalls[i], 0);
	if (!ret)
		ret = seccomp_load(ctx);
	seccomp_release(ctx);
	if (ret < 0) {
		log_err("worker %u: seccomp: %s", worker_idx, strerror(-ret));
		return ret;
	}
	/* getppid is not on the list: refused with EPERM, and the worker goes on. */
	probe = syscall(SYS_getppid);
	if (probe != -1 || errno != EPERM) {
		log_err("worker %u: seccomp: the filter did not refuse getppid", worker_idx);
		return -EPERM;
	}
	log_info("worker %u: seccomp allow-list loaded (%zu system calls; getppid refused with "
		 "EPERM as a check)",
		 worker_idx, sizeof(seccomp_worker_syscalls) / sizeof(int));
	return 0;
}
