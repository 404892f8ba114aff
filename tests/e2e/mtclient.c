/* SPDX-License-Identifier: MIT */
/*
 * A multi-threaded client for the end-to-end tests.
 *
 *   mtclient HOST PORT THREADS ITERS
 *
 * THREADS threads start together; each makes ITERS connections: getaddrinfo
 * HOST, connect, getpeername, read the banner (the answering pod's IP) until
 * EOF. One line per connection, written with one write(2):
 *   ok <banner> peer=<ip>:<port>     or     err <what> <errno text>
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static const char *host, *port;
static int iters;
static pthread_barrier_t start;

static void out(const char *fmt, const char *a, const char *b)
{
	char line[512];
	int n = snprintf(line, sizeof(line), fmt, a, b);

	if (n > 0 && write(1, line, (size_t)n) < 0)
		_exit(3);
}

static void once(void)
{
	struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM };
	struct addrinfo *ai = NULL;
	struct sockaddr_in peer;
	socklen_t pl = sizeof(peer);
	struct timeval tv = { .tv_sec = 5 };
	char buf[256], ip[INET_ADDRSTRLEN], pstr[64];
	size_t got = 0;
	ssize_t n;
	int fd, rc;

	rc = getaddrinfo(host, port, &hints, &ai);
	if (rc) {
		out("err getaddrinfo %s%s\n", gai_strerror(rc), "");
		return;
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0) {
		out("err socket %s%s\n", strerror(errno), "");
		freeaddrinfo(ai);
		return;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		out("err connect %s%s\n", strerror(errno), "");
		goto done;
	}
	if (getpeername(fd, (struct sockaddr *)&peer, &pl) < 0) {
		out("err getpeername %s%s\n", strerror(errno), "");
		goto done;
	}
	inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof(ip));
	snprintf(pstr, sizeof(pstr), "%s:%u", ip, ntohs(peer.sin_port));
	while (got < sizeof(buf) - 1 &&
	       (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	while (got && (buf[got - 1] == '\n' || buf[got - 1] == '\r'))
		got--;
	buf[got] = 0;
	if (!got)
		out("err read %s%s\n", "empty", "");
	else
		out("ok %s peer=%s\n", buf, pstr);
done:
	close(fd);
	freeaddrinfo(ai);
}

static void *worker(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&start);
	for (int i = 0; i < iters; i++)
		once();
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[64];
	int n;

	if (argc != 5) {
		fprintf(stderr, "usage: mtclient HOST PORT THREADS ITERS\n");
		return 2;
	}
	host = argv[1];
	port = argv[2];
	n = atoi(argv[3]);
	iters = atoi(argv[4]);
	if (n < 1 || n > 64 || iters < 1)
		return 2;
	pthread_barrier_init(&start, NULL, (unsigned)n);
	for (int i = 0; i < n; i++)
		if (pthread_create(&th[i], NULL, worker, NULL))
			return 1;
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	return 0;
}
