/* SPDX-License-Identifier: MIT */
/*
 * ldmesh-exec -- PROGRAM [ARGS...]: run any program (static, Go, dynamic)
 * with its connects to service VIPs redirected as libldmesh.so would, through
 * a seccomp user-notification filter instead of LD_PRELOAD. Meant as a
 * container's entrypoint wrapper, like tini: it forwards signals to the
 * program, reaps orphans, and exits with the program's status (128 + N
 * when signal N ended it) once neither the program nor anything it left
 * behind is running (unlike tini, which leaves with its child: what is
 * left still needs its calls answered). The program dies with it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
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

/*
 * The program must not outlive its supervisor: without it every call the
 * filter sends up fails ENOSYS for good, and a program limping on like
 * that is worse than one that ends (the container restarts). SIGKILL when
 * the parent goes; a parent already gone before this (the child then has
 * another one) is caught by comparing with its pid from before the fork.
 */
static void exec__die_with(pid_t supervisor)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != supervisor)
		_exit(EXEC_FAILED);
}

/* The child: filter itself, hand over the listener, wait for the go, exec. */
static void exec__child(int sock, const sigset_t *mask, char **argv, pid_t supervisor)
{
	const char *why = "";
	int listener;
	char go;

	exec__die_with(supervisor);
	listener = filter_install(&why);

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

/* Field `key` ("PPid:") of a /proc status text: its last number (NSpid
 * lists one per namespace, ours last), or -1. */
static long exec__status_field(const char *text, const char *key)
{
	const char *p = strstr(text, key), *end;
	long v = -1;

	if (!p)
		return -1;
	p += strlen(key);
	end = strchr(p, '\n');
	while (p && (!end || p < end)) {
		char *next;
		long n = strtol(p, &next, 10);
		if (next == p)
			break;
		v = n;
		p = next;
	}
	return v;
}

/*
 * Send `sig` to every process left to us (our children once the program
 * has exited: what it left behind, reparented to us as subreaper). From
 * /proc: any of our threads may be their parent, so no one children list
 * has them all. /proc may belong to an outer pid namespace (a container
 * that did not mount its own): parents are compared as /proc numbers them,
 * and the signal goes to the number in ours (NSpid's last).
 */
static void exec__signal_left(int sig)
{
	char self_buf[32] = "";
	long self;
	DIR *d = opendir("/proc");
	struct dirent *e;

	if (!d)
		return;
	if (readlink("/proc/self", self_buf, sizeof(self_buf) - 1) < 0) {
		closedir(d);
		return;
	}
	self = atol(self_buf);
	while ((e = readdir(d))) {
		char path[300], buf[2048];
		ssize_t n;
		long pid;
		int fd;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/status", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (n <= 0)
			continue;
		buf[n] = 0;
		if (exec__status_field(buf, "\nPPid:") == self &&
		    (pid = exec__status_field(buf, "\nNSpid:")) > 0)
			kill((pid_t)pid, sig);
	}
	closedir(d);
}

/*
 * Forward signals and reap until no descendant of the program is left: a
 * daemon it started (nginx's `daemon on`, a double fork) still makes calls
 * the filter sends here, so the supervisor stays while any of them lives.
 * Then the program's own status. While the program runs, signals go to it
 * alone; after it exits, to what it left.
 */
static int exec__wait(pid_t child, const sigset_t *all)
{
	int status = 0;
	bool program_done = false;

	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(all, &si), st;
		pid_t w;

		if (sig < 0)
			continue;
		/* reap first, whatever the signal: SIGTERM (15) is taken before
		 * a SIGCHLD (17) pending beside it, and a program that has just
		 * exited must not have it (lost on a zombie) */
		while ((w = waitpid(-1, &st, WNOHANG)) > 0)
			if (w == child) {
				status = exec__status(st);
				program_done = true;
			}
		/* ECHILD: nobody left; a subreaper inherits every orphan of
		 * the program's tree, so none can be out of our sight */
		if (w < 0 && errno == ECHILD && program_done)
			return status;
		if (sig == SIGCHLD)
			continue;
		if (!program_done)
			kill(child, sig);
		else
			exec__signal_left(sig);
	}
}

int main(int argc, char **argv)
{
	static struct supervisor sup;
	struct preload_config cfg;
	sigset_t all, old;
	int sv[2], listener, first = 1;
	pid_t child, self;

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
	self = getpid();
	child = fork();
	if (child < 0) {
		perror("ldmesh-exec: fork");
		return EXEC_FAILED;
	}
	if (child == 0) {
		close(sv[0]);
		exec__child(sv[1], &old, argv + first, self);
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

	return exec__wait(child, &all);
}
