/* A program that closes every descriptor it did not open, the way daemons
 * and exec wrappers do, then reuses the numbers:
 *   closerange closefrom|range DATAFILE VIP PORT
 * 1. a pass-through connect (the preload opens its trace file);
 * 2. closefrom(3) or close_range(3, ~0U, 0);
 * 3. DATAFILE opened (it takes the lowest number, the trace file's old
 *    one), another connect, then "data" written: the file must hold only
 *    that;
 * 4. a TCP socket made and closed with close_range(n, n, 0), then a UDP
 *    socket made on the same number behind the preload's back (the raw
 *    syscall, as a descriptor received over SCM_RIGHTS would arrive) and
 *    connected to the UDP VIP:PORT: prints "udp connect 0" when it was
 *    redirected (a stale "TCP" memory would look the VIP up as TCP, miss,
 *    and fail with ENETUNREACH). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static void poke(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(1) };
	int s = socket(AF_INET, SOCK_STREAM, 0);

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (s >= 0) {
		(void)connect(s, (struct sockaddr *)&a, sizeof(a));
		close(s);
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in vip = { .sin_family = AF_INET };
	int fd, s, u, rc;

	if (argc != 5)
		return 2;
	poke();
	if (!strcmp(argv[1], "closefrom"))
		closefrom(3);
	else if (close_range(3, ~0U, 0) < 0)
		return perror("close_range"), 1;
	fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return perror("open"), 1;
	poke();
	if (write(fd, "data\n", 5) != 5)
		return perror("write"), 1;
	close(fd);

	s = socket(AF_INET, SOCK_STREAM, 0);
	if (s < 0 || close_range((unsigned)s, (unsigned)s, 0) < 0)
		return perror("tcp socket"), 1;
	u = (int)syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0);
	if (u != s)
		fprintf(stderr, "note: udp socket on %d, tcp was %d\n", u, s);
	vip.sin_port = htons((uint16_t)atoi(argv[4]));
	inet_pton(AF_INET, argv[3], &vip.sin_addr);
	rc = connect(u, (struct sockaddr *)&vip, sizeof(vip));
	printf("udp connect %d%s%s\n", rc, rc ? " " : "", rc ? strerror(errno) : "");
	return 0;
}
