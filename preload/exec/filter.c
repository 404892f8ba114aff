/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "filter.h"

#include <errno.h>
#include <stddef.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define FILTER_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define FILTER_ARCH AUDIT_ARCH_AARCH64
#else
#error "ldmesh-exec: unsupported architecture"
#endif

/* an argument's low 32 bits (little-endian): all of an int argument */
#define FILTER_ARG_LO(n) offsetof(struct seccomp_data, args[n])
#define FILTER_ARG4_HI (offsetof(struct seccomp_data, args[4]) + 4) /* little-endian */

static int filter__seccomp(struct sock_fprog *prog, unsigned long flags)
{
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, prog);
}

int filter_install(const char **why)
{
	/* Jump offsets count from the next instruction: ALLOW is 16, NOTIFY 17.
	 * getsockopt only for SOL_SOCKET/SO_ERROR: how a non-blocking connect
	 * ended, which counts toward a backend's ejection. */
	struct sock_filter code[] = {
		/* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		/* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, FILTER_ARCH, 0, 14),
		/* 2 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		/* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_connect, 13, 0),
		/* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_getpeername, 12, 0),
		/* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_sendmsg, 11, 0),
		/* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_getsockopt, 0, 4),
		/* 7 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, FILTER_ARG_LO(1)),
		/* 8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SOL_SOCKET, 0, 7),
		/* 9 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, FILTER_ARG_LO(2)),
		/* 10 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SO_ERROR, 6, 5),
		/* 11 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_sendto, 0, 4),
		/* 12 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, FILTER_ARG_LO(4)),
		/* 13 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 3),
		/* 14 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, FILTER_ARG4_HI),
		/* 15 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 1),
		/* 16 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		/* 17 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
	};
	struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };
	/* Once the supervisor has a call, only a fatal signal ends the wait
	 * (5.19): a handled signal would otherwise restart the call, and the
	 * supervisor would connect the socket twice. */
	unsigned long flags = SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
	int fd = filter__seccomp(&prog, flags);

	if (fd < 0 && errno == EINVAL) {
		flags &= ~(unsigned long)SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV;
		fd = filter__seccomp(&prog, flags);
	}
	/* Without CAP_SYS_ADMIN a filter needs no_new_privs (setuid programs
	 * then run without their privileges); root keeps them. */
	if (fd < 0 && errno == EACCES && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0)
		fd = filter__seccomp(&prog, flags);
	if (fd >= 0)
		return fd;
	switch (errno) {
	case ENOSYS:
		*why = "the kernel has no seccomp (CONFIG_SECCOMP_FILTER)";
		break;
	case EINVAL:
		*why = "the kernel has no seccomp user notification (needs Linux 5.0; "
		       "5.9 for pidfd_getfd)";
		break;
	case EACCES:
	case EPERM:
		*why = "seccomp filters are not permitted here (a container's own seccomp "
		       "profile may forbid them)";
		break;
	default:
		*why = "seccomp refused the filter";
	}
	return -errno;
}
