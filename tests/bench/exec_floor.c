/* SPDX-License-Identifier: MIT */
/*
 * exec_floor PROG [ARG...]: run PROG with every connect stopped by a seccomp
 * user notification that a supervisor answers CONTINUE at once, reading
 * nothing: the notification round trip alone, the floor under anything
 * ldmesh-exec does per connect (tests/bench/bench_exec.sh runs exec_client
 * under it). Same set-up as ldmesh-exec: the filter installed by the child,
 * its listener handed to the parent, the synchronous wake-up asked for
 * (Linux 6.6), one receiver; EXEC_FLOOR_RECEIVERS=2 two waiting at once, as
 * ldmesh-exec keeps (each notification then wakes both). EXEC_FLOOR_READ=1
 * also reads the destination as ldmesh-exec must (process_vm_readv), =2
 * and checks the call is still waiting (SECCOMP_IOCTL_NOTIF_ID_VALID).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define FLOOR_SET_FLAGS SECCOMP_IOW(4, uint64_t) /* 6.6's uapi */

static int floor_install(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_connect, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER,
			    &prog);
}

static int floor_send_fd(int sock, int fd)
{
	char c = 0, buf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { &c, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = buf,
			    .msg_controllen = sizeof(buf) };
	struct cmsghdr *h = CMSG_FIRSTHDR(&m);

	h->cmsg_level = SOL_SOCKET;
	h->cmsg_type = SCM_RIGHTS;
	h->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(h), &fd, sizeof(int));
	return sendmsg(sock, &m, 0) == 1 ? 0 : -1;
}

static int floor_recv_fd(int sock)
{
	char c, buf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &c, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = buf,
			    .msg_controllen = sizeof(buf) };
	struct cmsghdr *h;
	int fd;

	if (recvmsg(sock, &m, 0) != 1 || !(h = CMSG_FIRSTHDR(&m)) || h->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(h), sizeof(int));
	return fd;
}

static int floor_read; /* EXEC_FLOOR_READ */

/* What every call costs ldmesh-exec before it can decide: the address
 * read, and the check that the call is still waiting. */
static void floor_inspect(int listener, const struct seccomp_notif *n)
{
	struct sockaddr_storage ss;
	size_t len = n->data.args[2] < sizeof(ss) ? n->data.args[2] : sizeof(ss);
	struct iovec local = { &ss, len }, remote = { (void *)(uintptr_t)n->data.args[1], len };
	uint64_t id = n->id;

	(void)process_vm_readv((pid_t)n->pid, &local, 1, &remote, 1, 0);
	if (floor_read >= 2)
		(void)ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id);
}

/* Answers every call CONTINUE; the process ends with the child. */
static void *floor_receiver(void *arg)
{
	int listener = *(int *)arg;

	for (;;) {
		struct seccomp_notif n;
		struct seccomp_notif_resp r;

		memset(&n, 0, sizeof(n));
		if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &n) < 0)
			continue; /* EINTR, or ENOENT: the caller died first */
		if (floor_read)
			floor_inspect(listener, &n);
		r = (struct seccomp_notif_resp){ .id = n.id, .flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE };
		(void)ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &r);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const char *env = getenv("EXEC_FLOOR_RECEIVERS");
	int receivers = env && atoi(env) > 1 && atoi(env) <= 16 ? atoi(env) : 1;
	const char *rd = getenv("EXEC_FLOOR_READ");
	pthread_t t;
	uint64_t sync = 1;
	int sv[2], listener, status;
	pid_t child;

	if (argc < 2) {
		fprintf(stderr, "usage: exec_floor PROG [ARG...]\n");
		return 2;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 || (child = fork()) < 0) {
		perror("exec_floor");
		return 1;
	}
	if (child == 0) {
		int fd = floor_install();

		if (fd < 0 || floor_send_fd(sv[1], fd) < 0) {
			perror("exec_floor: seccomp");
			_exit(1);
		}
		close(fd);
		execvp(argv[1], argv + 1);
		perror("exec_floor: exec");
		_exit(127);
	}
	close(sv[1]);
	if ((listener = floor_recv_fd(sv[0])) < 0) {
		waitpid(child, &status, 0);
		return 1;
	}
	(void)ioctl(listener, FLOOR_SET_FLAGS, sync);
	floor_read = rd ? atoi(rd) : 0;
	for (int i = 0; i < receivers; i++)
		if (pthread_create(&t, NULL, floor_receiver, &listener) != 0)
			return 1;
	if (waitpid(child, &status, 0) < 0)
		return 1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
