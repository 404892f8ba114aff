/* SPDX-License-Identifier: MIT */
/*
 * The pods' server for tests/bench/compare/run.sh: one process, one thread
 * per port, bound to 0.0.0.0 so every pod IP on lo answers.
 *
 *   8080  accept, close                       (connect latency)
 *   8081  accept, write the local address, close   (which pod did I reach?)
 *   8082  accept, read a request, write a response, close  (requests/s)
 *   9000  accept, read and discard until EOF   (bulk throughput)
 *
 * usage: server READYFILE      (created once every port listens)
 * Runs until killed. Only ever listens inside the benchmark's namespace.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { P_CLOSE = 8080, P_BANNER = 8081, P_RR = 8082, P_BULK = 9000 };

static int listen_on(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 65535) < 0) {
		fprintf(stderr, "server: port %d: %s\n", port, strerror(errno));
		exit(1);
	}
	return fd;
}

static void *sink(void *arg)
{
	static char buf[1 << 18];
	int fd = (int)(intptr_t)arg;

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
	return NULL;
}

static void *serve(void *arg)
{
	int port = (int)(intptr_t)arg, lfd = listen_on(port);
	static const char resp[] = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok";

	for (;;) {
		struct sockaddr_in me;
		socklen_t ml = sizeof(me);
		char buf[512];
		pthread_t t;
		int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE)
				continue;
			fprintf(stderr, "server: accept %d: %s\n", port, strerror(errno));
			exit(1);
		}
		switch (port) {
		case P_BANNER:
			if (getsockname(fd, (struct sockaddr *)&me, &ml) == 0) {
				int n = snprintf(buf, sizeof(buf), "%s\n", inet_ntoa(me.sin_addr));
				if (write(fd, buf, (size_t)n) < 0)
					break;
			}
			break;
		case P_RR:
			if (read(fd, buf, sizeof(buf)) > 0 && write(fd, resp, sizeof(resp) - 1) < 0)
				break;
			break;
		case P_BULK:
			if (pthread_create(&t, NULL, sink, (void *)(intptr_t)fd) == 0) {
				pthread_detach(t);
				continue;
			}
			break;
		}
		close(fd);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	static const int ports[] = { P_CLOSE, P_BANNER, P_RR, P_BULK };
	pthread_t t[4];
	FILE *f;

	if (argc != 2) {
		fprintf(stderr, "usage: server READYFILE\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < 4; i++)
		if (pthread_create(&t[i], NULL, serve, (void *)(intptr_t)ports[i]))
			return 1;
	/* listening sockets exist once each thread got past listen_on(): poll */
	for (int tries = 0; tries < 200; tries++) {
		int ok = 1;
		for (int i = 0; i < 4 && ok; i++) {
			struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)ports[i]),
						 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
			int fd = socket(AF_INET, SOCK_STREAM, 0);
			ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
			if (fd >= 0)
				close(fd);
		}
		if (ok)
			break;
		usleep(10000);
	}
	f = fopen(argv[1], "w");
	if (f)
		fclose(f);
	pthread_join(t[0], NULL);
	return 0;
}
