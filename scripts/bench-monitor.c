/*
 * bench-monitor: time monitor commands over a Unix socket, for `make bench`.
 * Works with minivmm's monitor and with QEMU's HMP alike: both answer a
 * line with some output and then a prompt.
 *
 *   bench-monitor SOCKET PROMPT COMMAND...
 *
 * Connects (retrying for up to 10 s while the socket is not there yet),
 * waits for the first PROMPT, then sends each COMMAND and waits for the
 * next PROMPT ("quit" waits for the monitor to hang up instead). Prints
 * one line per command: "NS COMMAND", the nanoseconds from sending the
 * line to the end of the prompt. Exits 1 if an answer
 * held "Error" (both monitors start failures with it), or on any I/O
 * failure or after 600 s without a prompt; the answers go to stderr.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define ANSWER_MAX	(1 << 16)
#define PROMPT_WAIT_MS	600000

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int connect_retrying(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	if (strlen(path) >= sizeof(addr.sun_path))
		return -1;
	strcpy(addr.sun_path, path);
	for (int tries = 0; tries < 1000; tries++) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return -1;
		if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
			return fd;
		close(fd);
		if (errno != ENOENT && errno != ECONNREFUSED)
			return -1;
		usleep(10000);
	}
	return -1;
}

/* Read into buf until it holds prompt; 0 on success, -1 on EOF/error/timeout. */
static int read_to_prompt(int fd, char *buf, size_t *len, const char *prompt)
{
	long long deadline = now_ns() + PROMPT_WAIT_MS * 1000000LL;

	while (!strstr(buf, prompt)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left_ms = (int)((deadline - now_ns()) / 1000000);
		ssize_t n;

		if (left_ms <= 0 || poll(&p, 1, left_ms) <= 0)
			return -1;
		if (*len + 1 >= ANSWER_MAX)	/* keep the tail, where the prompt comes */
			*len = 0;
		n = read(fd, buf + *len, ANSWER_MAX - 1 - *len);
		if (n <= 0)
			return -1;
		*len += (size_t)n;
		buf[*len] = '\0';
	}
	return 0;
}

int main(int argc, char **argv)
{
	static char answer[ANSWER_MAX];
	size_t len = 0;
	int fd, status = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: bench-monitor SOCKET PROMPT COMMAND...\n");
		return 2;
	}
	fd = connect_retrying(argv[1]);
	if (fd < 0 || read_to_prompt(fd, answer, &len, argv[2]) < 0) {
		fprintf(stderr, "bench-monitor: %s: no monitor prompt\n", argv[1]);
		return 1;
	}
	for (int i = 3; i < argc; i++) {
		long long t0 = now_ns();

		len = 0;
		answer[0] = '\0';
		if (dprintf(fd, "%s\n", argv[i]) < 0)
			return perror("bench-monitor: write"), 1;
		if (strcmp(argv[i], "quit") == 0) {
			while (read(fd, answer, sizeof(answer)) > 0)
				;
			printf("%lld quit\n", now_ns() - t0);
			continue;
		}
		if (read_to_prompt(fd, answer, &len, argv[2]) < 0) {
			fprintf(stderr, "bench-monitor: %s: no answer to '%s'\n", argv[1], argv[i]);
			return 1;
		}
		printf("%lld %s\n", now_ns() - t0, argv[i]);
		fprintf(stderr, "%s", answer);
		if (strstr(answer, "Error"))
			status = 1;
	}
	return status;
}
