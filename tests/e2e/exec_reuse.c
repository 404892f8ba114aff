/* SPDX-License-Identifier: MIT */
/*
 * exec_reuse: what ldmesh-exec's caches must not get wrong (test_exec_cache.sh).
 *
 *   exec_reuse tid VIP PORT
 *     A thread connects to VIP:PORT 8 times (each receiver caches a pidfd
 *     for its tid) and exits; a new process is made with that same tid
 *     (clone3 set_tid) and connects 8 times from a descriptor its parent
 *     does not have. Prints "reused <tid>" and "child <n> of 8 <answers>";
 *     a supervisor that reached into the dead thread's process would find
 *     no such descriptor and let the connect go to the unroutable VIP.
 *   exec_reuse fd VIP PORT POD POD_PORT
 *     One descriptor number, three sockets one after another: TCP to the
 *     VIP (redirected, remembered), TCP straight to POD:POD_PORT, UDP
 *     connected there; prints what getpeername and getsockopt(SO_ERROR)
 *     answer for each: a cache keyed by the number, or a socket type kept
 *     past its socket, would answer the VIP for the later two.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 8

static struct sockaddr_in to;
static pid_t thread_tid;

static struct sockaddr_in sin_of(const char *ip, const char *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };

	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
		fprintf(stderr, "exec_reuse: bad address %s\n", ip);
		exit(2);
	}
	return a;
}

/* One connect to `to` and the banner (the pod's IP) read, or the error. */
static void dial_once(char *out, size_t len)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ssize_t n;

	if (fd < 0 || connect(fd, (struct sockaddr *)&to, sizeof(to)) < 0) {
		snprintf(out, len, "error:%s", strerror(errno));
	} else if ((n = read(fd, out, len - 1)) <= 0) {
		snprintf(out, len, "error:read");
	} else {
		out[n] = 0;
		out[strcspn(out, "\r\n")] = 0;
	}
	if (fd >= 0)
		close(fd);
}

/* How many of ROUNDS connects reached a pod; their answers appended to line. */
static int dial_rounds(char *line, size_t len)
{
	int ok = 0;

	for (int i = 0; i < ROUNDS; i++) {
		char one[64];
		size_t used = strlen(line);

		dial_once(one, sizeof(one));
		ok += strncmp(one, "10.244.", 7) == 0;
		snprintf(line + used, len - used, " %s", one);
	}
	return ok;
}

static void *thread_main(void *arg)
{
	char *line = arg;

	thread_tid = (pid_t)syscall(SYS_gettid);
	(void)dial_rounds(line, 1024);
	return NULL;
}

/* A process with pid `tid` (fork-like), or -errno. Retried while the
 * number is still held by the thread being reaped (bounded). */
static pid_t clone_with_tid(pid_t tid)
{
	pid_t set[1] = { tid };
	struct clone_args args = { .exit_signal = SIGCHLD, .set_tid = (uint64_t)(uintptr_t)set,
				   .set_tid_size = 1 };

	for (int i = 0; i < 500; i++) {
		long rc = syscall(SYS_clone3, &args, sizeof(args));

		if (rc >= 0)
			return (pid_t)rc;
		if (errno != EEXIST)
			return -errno;
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return -EEXIST;
}

static int mode_tid(void)
{
	static char line[1024];
	pthread_t t;
	pid_t child;
	int st;

	if (pthread_create(&t, NULL, thread_main, line) != 0 || pthread_join(t, NULL) != 0)
		return 1;
	printf("thread %d:%s\n", (int)thread_tid, line);
	fflush(stdout);
	child = clone_with_tid(thread_tid);
	if (child < 0) {
		printf("skip: clone3 set_tid: %s\n", strerror(-child));
		return 77;
	}
	if (child == 0) {
		char out[1024] = "";
		int ok = dial_rounds(out, sizeof(out));

		dprintf(1, "reused %d\nchild %d of %d%s\n", (int)syscall(SYS_getpid), ok, ROUNDS, out);
		_exit(0);
	}
	return waitpid(child, &st, 0) == child && WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

static void peer(const char *what, int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	char ip[INET_ADDRSTRLEN] = "?";
	int err = -1;
	socklen_t el = sizeof(err);

	if (getpeername(fd, (struct sockaddr *)&a, &len) < 0) {
		printf("%s fd=%d getpeername error:%s\n", what, fd, strerror(errno));
		return;
	}
	inet_ntop(AF_INET, &a.sin_addr, ip, sizeof(ip));
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
		err = -errno;
	printf("%s fd=%d peer %s:%d so_error %d\n", what, fd, ip, ntohs(a.sin_port), err);
}

/* The same descriptor number for a redirected TCP socket, then a TCP
 * socket straight to the pod, then a UDP one connected to the pod. */
static int mode_fd(const char *pod, const char *port)
{
	struct sockaddr_in direct = sin_of(pod, port);
	int types[3] = { SOCK_STREAM, SOCK_STREAM, SOCK_DGRAM };
	const char *names[3] = { "vip-tcp", "pod-tcp", "pod-udp" };
	int first = -1;

	for (int i = 0; i < 3; i++) {
		int fd = socket(AF_INET, types[i], 0);
		const struct sockaddr_in *dst = i == 0 ? &to : &direct;

		if (fd < 0 || (first >= 0 && fd != first)) {
			printf("%s: descriptor %d, not %d\n", names[i], fd, first);
			return 1;
		}
		first = fd;
		if (connect(fd, (const struct sockaddr *)dst, sizeof(*dst)) < 0) {
			printf("%s connect error:%s\n", names[i], strerror(errno));
			return 1;
		}
		peer(names[i], fd);
		close(fd);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4)
		to = sin_of(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "tid"))
		return mode_tid();
	if (argc == 6 && !strcmp(argv[1], "fd"))
		return mode_fd(argv[4], argv[5]);
	fprintf(stderr, "usage: exec_reuse tid VIP PORT | fd VIP PORT POD POD_PORT\n");
	return 2;
}
