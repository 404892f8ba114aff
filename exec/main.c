/* SPDX-License-Identifier: MIT */
/*
 * ldmesh-exec -- PROGRAM [ARGS...]: run any program (static, Go, dynamic)
 * with its connects to service VIPs redirected as libldmesh.so would, through
 * a seccomp user-notification filter instead of LD_PRELOAD. Meant as a
 * container's entrypoint wrapper, like tini: it forwards signals to the
 * program, reaps orphans, and exits with the program's status (128 + N
 * when signal N ended it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "filter.h"
#include "ldmesh/snapshot.h"
#include "ldmesh/version.h"
#include "real.h"
#include "remote.h"
#include "rng.h"
#include "supervise.h"
#include "trace.h"

#define EXEC_FAILED 126  /* as a shell: found but could not run */
#define EXEC_NOT_FOUND 127

static void usage(FILE *f)
{
	fputs("usage: ldmesh-exec [--] PROGRAM [ARGS...]\n"
	      "\n"
	      "Runs PROGRAM with its connects to service VIPs redirected to live\n"
	      "backends (seccomp user notification; static and Go programs too).\n"
	      "Reads the same variables as libldmesh.so (LDMESH_TABLE, LDMESH_TRACE,\n"
	      "LDMESH_NAMESPACE, LDMESH_DISABLE, ...). Forwards signals, reaps, and\n"
	      "exits with PROGRAM's status.\n"
	      "\n"
	      "  -h, --help     this text\n"
	      "      --version  print the version and exit\n", f);
}

/*
 * The child tells the parent its listener's number (or -errno) with a plain
 * write: once the filter is on, its sendmsg would stop for a supervisor
 * that is not listening yet, so the parent takes the descriptor itself
 * (pidfd_getfd).
 */
static void exec__send_listener(int sock, int listener)
{
	while (write(sock, &listener, sizeof(listener)) < 0 && errno == EINTR)
		;
}

/* The listener from the child: >= 0, or -errno. */
static int exec__recv_listener(int sock, pid_t child)
{
	int n = 0;
	ssize_t got;

	do
		got = read(sock, &n, sizeof(n));
	while (got < 0 && errno == EINTR);
	if (got != sizeof(n))
		return -EPIPE;
	if (n < 0)
		return n; /* the child said why */
	int fd = remote_getfd(child, n);
	if (fd < 0)
		fprintf(stderr, "ldmesh-exec: cannot take the seccomp listener from the program: "
			"pidfd_getfd: %s (needs Linux 5.6, and ptrace access to the child)\n",
			strerror(-fd));
	return fd;
}

static int exec__status(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : 1;
}

/* The child: filter itself, hand over the listener, wait for the go, exec. */
static void exec__child(int sock, const sigset_t *mask, char **argv)
{
	const char *why = "";
	int listener = filter_install(&why);
	char go;

	exec__send_listener(sock, listener);
	if (listener < 0) {
		fprintf(stderr, "ldmesh-exec: cannot supervise %s: %s\n", argv[0], why);
		_exit(EXEC_FAILED);
	}
	/* open until the parent has taken its copy (the go) */
	if (read(sock, &go, 1) != 1)
		_exit(EXEC_FAILED); /* the supervisor is gone */
	close(listener);
	close(sock);
	sigprocmask(SIG_SETMASK, mask, NULL);
	execvp(argv[0], argv);
	fprintf(stderr, "ldmesh-exec: %s: %s\n", argv[0], strerror(errno));
	_exit(errno == ENOENT ? EXEC_NOT_FOUND : EXEC_FAILED);
}

int main(int argc, char **argv)
{
	static struct supervisor sup;
	struct preload_config cfg;
	sigset_t all, old;
	int sv[2], listener, first = 1;
	pid_t child;

	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage(stdout);
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--version")) {
		printf("ldmesh-exec %s (table format %d.%d)\n", LDMESH_VERSION,
		       LDMESH_SNAP_VERSION_MAJOR, LDMESH_SNAP_VERSION_MINOR);
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "--"))
		first = 2;
	if (first >= argc) {
		usage(stderr);
		return 2;
	}
	real_init_unhooked();
	config_load(&cfg);
	if (cfg.disabled) {
		execvp(argv[first], argv + first);
		fprintf(stderr, "ldmesh-exec: %s: %s\n", argv[first], strerror(errno));
		return errno == ENOENT ? EXEC_NOT_FOUND : EXEC_FAILED;
	}
	/* The supervisor's own stack says nothing about the program's call
	 * (and a static binary should not dlopen libunwind): plain lines. */
	if (cfg.trace == CONFIG_TRACE_STACK)
		cfg.trace = CONFIG_TRACE_ON;
	trace_init(&cfg);
	rng_init();

	/* Signals wait for sigwaitinfo below, to be forwarded; the child
	 * restores the mask the program would have had. */
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		perror("ldmesh-exec: socketpair");
		return EXEC_FAILED;
	}
	/* Orphans of the program are ours to reap, as under tini -s. */
	(void)prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	child = fork();
	if (child < 0) {
		perror("ldmesh-exec: fork");
		return EXEC_FAILED;
	}
	if (child == 0) {
		close(sv[0]);
		exec__child(sv[1], &old, argv + first);
	}
	close(sv[1]);
	listener = exec__recv_listener(sv[0], child);
	if (listener < 0 || supervise_init(&sup, listener, &cfg) < 0 ||
	    supervise_start(&sup) < 0) {
		int st = 0;
		close(sv[0]);
		waitpid(child, &st, 0);
		return listener < 0 ? exec__status(st) : EXEC_FAILED;
	}
	if (write(sv[0], "g", 1) != 1) {
		perror("ldmesh-exec: starting the program");
		return EXEC_FAILED;
	}
	close(sv[0]);

	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&all, &si), st;
		pid_t w;

		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			kill(child, sig);
			continue;
		}
		while ((w = waitpid(-1, &st, WNOHANG)) > 0)
			if (w == child)
				return exec__status(st);
	}
}
