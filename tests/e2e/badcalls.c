/* SPDX-License-Identifier: MIT */
/*
 * badcalls: socket calls in the shapes a buggy or hostile program makes
 * (bad pointers, a sockaddr whose tail is unmapped, lengths the kernel
 * refuses, a name buffer shorter than the address), each in a child of its
 * own, so a crash is an outcome like any other. One line per call:
 *
 *     <case> rc=<n> errno=<name> sig=<n> [len=<n>]
 *
 * and, where the call answers an address, a line `info <case> port=<n>`
 * (the port in the bytes the call wrote). test_bad_calls.sh runs it without
 * ldmesh against the pods and under the preload or ldmesh-exec against the
 * services: the first lines must be the same, byte for byte (the kernel's
 * answer), and the ports must be the services' under ldmesh.
 *
 *     badcalls TCP_IP TCP_PORT UDP_IP UDP_PORT
 *
 * TCP_IP:TCP_PORT is an HTTP server; UDP_IP:UDP_PORT echoes datagrams.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MSG_FASTOPEN
#define MSG_FASTOPEN 0x20000000
#endif

#define HTTP_GET "GET / HTTP/1.0\r\n\r\n"

static struct sockaddr_in tcp_to, udp_to;
/* An address no mapping can have (below mmap_min_addr), hidden from the
 * compiler so it cannot reason about it. */
static volatile uintptr_t bad_addr = 16;
#define BAD(type) ((type)bad_addr)

static char *edge; /* the last byte of a readable page; the next is PROT_NONE */

/* `n` bytes that end where the readable page ends. */
static void *at_edge(size_t n)
{
	return edge + 1 - n;
}

static const char *errname(int e)
{
	switch (e) {
	case 0: return "0";
	case EFAULT: return "EFAULT";
	case EINVAL: return "EINVAL";
	case EAGAIN: return "EAGAIN";
	case ECONNREFUSED: return "ECONNREFUSED";
	case ENETUNREACH: return "ENETUNREACH";
	case EINPROGRESS: return "EINPROGRESS";
	case ENOSYS: return "ENOSYS";
	case EISCONN: return "EISCONN";
	case ENOTCONN: return "ENOTCONN";
	case EAFNOSUPPORT: return "EAFNOSUPPORT";
	default: return strerror(e);
	}
}

/* What a case reports to its parent through a pipe. */
struct outcome {
	long rc;
	int err;
	int has_len;
	unsigned len;
	int has_port;
	unsigned port;
};

static int tcp_socket(void)
{
	return socket(AF_INET, SOCK_STREAM, 0);
}

static int udp_socket(void)
{
	return socket(AF_INET, SOCK_DGRAM, 0);
}

static int connected_tcp(void)
{
	int s = tcp_socket();

	if (connect(s, (struct sockaddr *)&tcp_to, sizeof(tcp_to)) < 0) {
		perror("badcalls: connect");
		_exit(90);
	}
	return s;
}

/* A UDP socket that sent one datagram to the echo service and has its
 * echo waiting. */
static int udp_with_echo(void)
{
	int u = udp_socket();
	struct pollfd p = { .fd = u, .events = POLLIN };

	if (sendto(u, "ping", 4, 0, (struct sockaddr *)&udp_to, sizeof(udp_to)) != 4) {
		perror("badcalls: sendto");
		_exit(91);
	}
	if (poll(&p, 1, 20000) != 1) {
		fprintf(stderr, "badcalls: no echo\n");
		_exit(92);
	}
	return u;
}

static unsigned port_of(const void *sa)
{
	uint16_t p;

	memcpy(&p, (const char *)sa + 2, 2);
	return ntohs(p);
}

#define RESULT(expr) (o->rc = (long)(expr), o->err = o->rc < 0 ? errno : 0)

static void c_connect_null16(struct outcome *o)
{
	RESULT(connect(tcp_socket(), BAD(struct sockaddr *), 16));
}

static void c_connect_tail_unmapped(struct outcome *o)
{
	/* the family, port and address readable, sin_zero not */
	void *sa = at_edge(8);

	memcpy(sa, &tcp_to, 8);
	RESULT(connect(tcp_socket(), sa, sizeof(tcp_to)));
}

static void connect_len(struct outcome *o, socklen_t len)
{
	static struct sockaddr_storage big[40]; /* 5,120 bytes, all readable */

	memcpy(big, &tcp_to, sizeof(tcp_to));
	RESULT(connect(tcp_socket(), (struct sockaddr *)big, len));
}

static void c_connect_len200(struct outcome *o) { connect_len(o, 200); }
static void c_connect_len4096(struct outcome *o) { connect_len(o, 4096); }
static void c_connect_lenmax(struct outcome *o) { connect_len(o, (socklen_t)-1); }
static void c_connect_len100(struct outcome *o) { connect_len(o, 100); }
static void c_connect_len8(struct outcome *o) { connect_len(o, 8); }

static void c_getpeername_badaddr(struct outcome *o)
{
	socklen_t len = sizeof(struct sockaddr_in);

	RESULT(getpeername(connected_tcp(), BAD(struct sockaddr *), &len));
}

static void c_getpeername_badlen(struct outcome *o)
{
	struct sockaddr_storage ss;

	RESULT(getpeername(connected_tcp(), (struct sockaddr *)&ss, BAD(socklen_t *)));
}

static void c_getpeername_lenmax(struct outcome *o)
{
	struct sockaddr_storage ss;
	socklen_t len = (socklen_t)-1;

	RESULT(getpeername(connected_tcp(), (struct sockaddr *)&ss, &len));
}

/* Room for 4 bytes at the end of a page: the family and the port. */
static void c_getpeername_short(struct outcome *o)
{
	socklen_t len = 4;
	int s = connected_tcp();

	RESULT(getpeername(s, at_edge(4), &len));
	o->has_len = 1;
	o->len = len;
	o->has_port = o->rc == 0;
	o->port = port_of(at_edge(4));
}

static void c_sendto_badaddr(struct outcome *o)
{
	RESULT(sendto(udp_socket(), "x", 1, 0, BAD(struct sockaddr *), 16));
}

static void c_sendto_tail_unmapped(struct outcome *o)
{
	void *sa = at_edge(8);

	memcpy(sa, &udp_to, 8);
	RESULT(sendto(udp_socket(), "x", 1, 0, sa, sizeof(udp_to)));
}

static void c_sendto_len200(struct outcome *o)
{
	static struct sockaddr_storage big[2];

	memcpy(big, &udp_to, sizeof(udp_to));
	RESULT(sendto(udp_socket(), "x", 1, 0, (struct sockaddr *)big, 200));
}

static void c_sendmsg_badmsg(struct outcome *o)
{
	RESULT(sendmsg(udp_socket(), BAD(struct msghdr *), 0));
}

static void c_sendmsg_badname(struct outcome *o)
{
	struct iovec v = { .iov_base = "x", .iov_len = 1 };
	struct msghdr m = { .msg_name = BAD(void *), .msg_namelen = 16, .msg_iov = &v, .msg_iovlen = 1 };

	RESULT(sendmsg(udp_socket(), &m, 0));
}

static void c_sendmsg_tail_unmapped(struct outcome *o)
{
	struct iovec v = { .iov_base = "x", .iov_len = 1 };
	struct msghdr m = { .msg_name = at_edge(8), .msg_namelen = sizeof(udp_to),
			    .msg_iov = &v, .msg_iovlen = 1 };

	memcpy(m.msg_name, &udp_to, 8);
	RESULT(sendmsg(udp_socket(), &m, 0));
}

static void c_recvmsg_badmsg(struct outcome *o)
{
	RESULT(recvmsg(udp_with_echo(), BAD(struct msghdr *), MSG_DONTWAIT));
}

static void c_recvfrom_badlen(struct outcome *o)
{
	struct sockaddr_storage ss;
	char buf[16];

	RESULT(recvfrom(udp_with_echo(), buf, sizeof(buf), MSG_DONTWAIT,
			(struct sockaddr *)&ss, BAD(socklen_t *)));
}

static void c_recvfrom_badaddr(struct outcome *o)
{
	socklen_t len = sizeof(struct sockaddr_in);
	char buf[16];

	RESULT(recvfrom(udp_with_echo(), buf, sizeof(buf), MSG_DONTWAIT, BAD(struct sockaddr *), &len));
}

static void c_recvfrom_lenmax(struct outcome *o)
{
	struct sockaddr_storage ss;
	socklen_t len = (socklen_t)-1;
	char buf[16];

	RESULT(recvfrom(udp_with_echo(), buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&ss, &len));
}

static void c_recvfrom_short(struct outcome *o)
{
	socklen_t len = 4;
	char buf[16];
	int u = udp_with_echo();

	RESULT(recvfrom(u, buf, sizeof(buf), 0, at_edge(4), &len));
	o->has_len = 1;
	o->len = len;
	o->has_port = o->rc >= 0;
	o->port = port_of(at_edge(4));
}

static void c_recvmsg_short(struct outcome *o)
{
	char buf[16];
	struct iovec v = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct msghdr m = { .msg_name = at_edge(4), .msg_namelen = 4, .msg_iov = &v, .msg_iovlen = 1 };
	int u = udp_with_echo();

	RESULT(recvmsg(u, &m, 0));
	o->has_len = 1;
	o->len = m.msg_namelen;
	o->has_port = o->rc >= 0;
	o->port = port_of(at_edge(4));
}

static void c_recvmmsg_short(struct outcome *o)
{
	char buf[16];
	struct iovec v = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct mmsghdr m = { .msg_hdr = { .msg_name = at_edge(4), .msg_namelen = 4,
					  .msg_iov = &v, .msg_iovlen = 1 } };
	int u = udp_with_echo();

	RESULT(recvmmsg(u, &m, 1, 0, NULL));
	o->has_len = 1;
	o->len = m.msg_hdr.msg_namelen;
	o->has_port = o->rc >= 0;
	o->port = port_of(at_edge(4));
}

static void c_recvmmsg_badvec(struct outcome *o)
{
	RESULT(recvmmsg(udp_with_echo(), BAD(struct mmsghdr *), 1, MSG_DONTWAIT, NULL));
}

/* TCP Fast Open: the connect is made by the first send, an HTTP request
 * here; the server's answer proves the connection reached a pod. */
static void fastopen_reply(struct outcome *o, int s)
{
	struct sockaddr_in peer;
	socklen_t len = sizeof(peer);
	struct pollfd p = { .fd = s, .events = POLLIN };
	char line[64];
	unsigned port;

	if (o->rc < 0)
		return;
	port = getpeername(s, (struct sockaddr *)&peer, &len) == 0 ? ntohs(peer.sin_port) : 0;
	o->has_port = poll(&p, 1, 20000) == 1 && read(s, line, sizeof(line)) > 0;
	o->port = port;
}

static void c_sendto_fastopen(struct outcome *o)
{
	int s = tcp_socket();

	RESULT(sendto(s, HTTP_GET, sizeof(HTTP_GET) - 1, MSG_FASTOPEN, (struct sockaddr *)&tcp_to, sizeof(tcp_to)));
	fastopen_reply(o, s);
}

static void c_sendmsg_fastopen(struct outcome *o)
{
	struct iovec v = { .iov_base = HTTP_GET, .iov_len = sizeof(HTTP_GET) - 1 };
	struct msghdr m = { .msg_name = &tcp_to, .msg_namelen = sizeof(tcp_to),
			    .msg_iov = &v, .msg_iovlen = 1 };
	int s = tcp_socket();

	RESULT(sendmsg(s, &m, MSG_FASTOPEN));
	fastopen_reply(o, s);
}

static const struct {
	const char *name;
	void (*run)(struct outcome *);
} cases[] = {
	{ "connect_null16", c_connect_null16 },
	{ "connect_tail_unmapped", c_connect_tail_unmapped },
	{ "connect_len200", c_connect_len200 },
	{ "connect_len4096", c_connect_len4096 },
	{ "connect_lenmax", c_connect_lenmax },
	{ "connect_len100", c_connect_len100 },
	{ "connect_len8", c_connect_len8 },
	{ "getpeername_badaddr", c_getpeername_badaddr },
	{ "getpeername_badlen", c_getpeername_badlen },
	{ "getpeername_lenmax", c_getpeername_lenmax },
	{ "getpeername_short", c_getpeername_short },
	{ "sendto_badaddr", c_sendto_badaddr },
	{ "sendto_tail_unmapped", c_sendto_tail_unmapped },
	{ "sendto_len200", c_sendto_len200 },
	{ "sendmsg_badmsg", c_sendmsg_badmsg },
	{ "sendmsg_badname", c_sendmsg_badname },
	{ "sendmsg_tail_unmapped", c_sendmsg_tail_unmapped },
	{ "recvmsg_badmsg", c_recvmsg_badmsg },
	{ "recvfrom_badlen", c_recvfrom_badlen },
	{ "recvfrom_badaddr", c_recvfrom_badaddr },
	{ "recvfrom_lenmax", c_recvfrom_lenmax },
	{ "recvfrom_short", c_recvfrom_short },
	{ "recvmsg_short", c_recvmsg_short },
	{ "recvmmsg_short", c_recvmmsg_short },
	{ "recvmmsg_badvec", c_recvmmsg_badvec },
	{ "sendto_fastopen", c_sendto_fastopen },
	{ "sendmsg_fastopen", c_sendmsg_fastopen },
};

static void run_case(unsigned i)
{
	struct outcome o;
	int fds[2], status, sig = 0;
	pid_t pid;

	memset(&o, 0, sizeof(o));
	if (pipe(fds) < 0 || (pid = fork()) < 0) {
		perror("badcalls: pipe/fork");
		exit(2);
	}
	if (pid == 0) {
		close(fds[0]);
		cases[i].run(&o);
		if (write(fds[1], &o, sizeof(o)) != (ssize_t)sizeof(o))
			_exit(93);
		_exit(0);
	}
	close(fds[1]);
	if (read(fds[0], &o, sizeof(o)) != (ssize_t)sizeof(o))
		memset(&o, 0, sizeof(o));
	close(fds[0]);
	waitpid(pid, &status, 0);
	if (WIFSIGNALED(status))
		sig = WTERMSIG(status);
	else if (WEXITSTATUS(status))
		sig = 1000 + WEXITSTATUS(status); /* the case itself could not run */
	if (sig)
		printf("%s rc=- errno=- sig=%d\n", cases[i].name, sig);
	else if (o.has_len)
		printf("%s rc=%ld errno=%s sig=0 len=%u\n", cases[i].name, o.rc, errname(o.err), o.len);
	else
		printf("%s rc=%ld errno=%s sig=0\n", cases[i].name, o.rc, errname(o.err));
	if (!sig && o.has_port)
		printf("info %s port=%u\n", cases[i].name, o.port);
	fflush(stdout);
}

static void parse(struct sockaddr_in *sa, const char *ip, const char *port)
{
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(port));
	if (inet_pton(AF_INET, ip, &sa->sin_addr) != 1) {
		fprintf(stderr, "badcalls: bad address %s\n", ip);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	char *page;

	if (argc != 5) {
		fprintf(stderr, "usage: badcalls TCP_IP TCP_PORT UDP_IP UDP_PORT\n");
		return 2;
	}
	parse(&tcp_to, argv[1], argv[2]);
	parse(&udp_to, argv[3], argv[4]);
	page = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED || mprotect(page + 4096, 4096, PROT_NONE) < 0) {
		perror("badcalls: mmap");
		return 2;
	}
	edge = page + 4095;
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(i);
	return 0;
}
