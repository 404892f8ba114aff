/* SPDX-License-Identifier: MIT */
/*
 * A forking client for the end-to-end tests.
 *
 *   forkclient HOST PORT CHILDREN     the parent connects once, then forks
 *                                     CHILDREN children; each connects 5
 *                                     times, then execs "forkclient exec
 *                                     HOST PORT" (LD_PRELOAD is inherited)
 *
 * Lines (one write each): "parent <banner>", "child <banner>",
 * "exec <banner>", or "err <who> <errno text>". The exit code is non-zero if
 * a child did not exit cleanly.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static void line(const char *who, const char *what)
{
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "%s %s\n", who, what);

	if (n > 0 && write(1, buf, (size_t)n) < 0)
		_exit(3);
}

static void once(const char *who, const char *host, const char *port)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL;
	struct timeval tv = { .tv_sec = 5 };
	char buf[256], err[300];
	size_t got = 0;
	ssize_t n;
	int fd, rc;

	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc) {
		snprintf(err, sizeof(err), "getaddrinfo %s", gai_strerror(rc));
		line("err", err);
		return;
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		snprintf(err, sizeof(err), "%s connect %s", who, strerror(errno));
		line("err", err);
	} else {
		while (got < sizeof(buf) - 1 &&
		       (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
			got += (size_t)n;
		while (got && buf[got - 1] == '\n')
			got--;
		buf[got] = 0;
		line(who, got ? buf : "(empty)");
	}
	close(fd);
	freeaddrinfo(ai);
}

int main(int argc, char **argv)
{
	int children, bad = 0, status;
	pid_t pid;

	if (argc == 4 && !strcmp(argv[1], "exec")) {
		once("exec", argv[2], argv[3]);
		return 0;
	}
	if (argc != 4) {
		fprintf(stderr, "usage: forkclient HOST PORT CHILDREN\n");
		return 2;
	}
	children = atoi(argv[3]);
	if (children < 1 || children > 32)
		return 2;
	once("parent", argv[1], argv[2]);
	for (int i = 0; i < children; i++) {
		pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0) {
			char *args[] = { argv[0], "exec", argv[1], argv[2], NULL };

			for (int k = 0; k < 5; k++)
				once("child", argv[1], argv[2]);
			execv("/proc/self/exe", args);
			line("err", "execv failed");
			_exit(1);
		}
	}
	for (int i = 0; i < children; i++) {
		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			bad++;
	}
	return bad ? 1 : 0;
}
