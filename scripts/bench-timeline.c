/*
 * bench-timeline: run a command and report when lines starting with given
 * markers first appear on its stdout, when it exits, and its peak RSS.
 *
 *   bench-timeline [-k] MARKER... -- COMMAND [ARG...]
 *
 * Prints one line: "t1=NS t2=NS ... exit=NS rss_kb=N status=N", times in
 * nanoseconds since just before the command was started (-1: never seen).
 * With -k the command gets SIGTERM once every marker has been seen, for
 * guests that do not end by themselves.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_MARKERS 8

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static pid_t spawn(char **argv, int *out_fd)
{
	int pipefd[2];
	pid_t pid;

	if (pipe(pipefd) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		close(pipefd[0]);
		close(pipefd[1]);
		freopen("/dev/null", "r", stdin);
		execvp(argv[0], argv);
		perror(argv[0]);
		_exit(127);
	}
	close(pipefd[1]);
	*out_fd = pipefd[0];
	return pid;
}

static bool all_seen(const long long *seen, int n)
{
	for (int m = 0; m < n; m++)
		if (seen[m] < 0)
			return false;
	return true;
}

int main(int argc, char **argv)
{
	const char *markers[MAX_MARKERS];
	long long seen[MAX_MARKERS];
	int nmarkers = 0, i = 1, fd, status;
	char line[4096];
	size_t len = 0;
	struct rusage ru;
	bool kill_when_seen = argc > 1 && strcmp(argv[1], "-k") == 0;

	if (kill_when_seen)
		i++;
	for (; i < argc && strcmp(argv[i], "--") != 0 && nmarkers < MAX_MARKERS; i++) {
		markers[nmarkers] = argv[i];
		seen[nmarkers++] = -1;
	}
	if (i + 1 >= argc) {
		fprintf(stderr, "usage: bench-timeline [-k] MARKER... -- COMMAND [ARG...]\n");
		return 2;
	}
	long long start = now_ns();
	pid_t pid = spawn(argv + i + 1, &fd);

	if (pid < 0)
		return perror("fork"), 1;
	for (;;) {
		char c;
		ssize_t n = read(fd, &c, 1);

		if (n <= 0)
			break;
		if (c != '\n' && len < sizeof(line) - 1) {
			line[len++] = c;
			continue;
		}
		line[len] = '\0';
		for (int m = 0; m < nmarkers; m++)
			if (seen[m] < 0 && strncmp(line, markers[m], strlen(markers[m])) == 0)
				seen[m] = now_ns() - start;
		len = 0;
		if (kill_when_seen && all_seen(seen, nmarkers)) {
			kill(pid, SIGTERM);
			kill_when_seen = false;
		}
	}
	wait4(pid, &status, 0, &ru);
	long long exit_ns = now_ns() - start;

	for (int m = 0; m < nmarkers; m++)
		printf("t%d=%lld ", m + 1, seen[m]);
	printf("exit=%lld rss_kb=%ld status=%d\n", exit_ns, ru.ru_maxrss,
	       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return 0;
}
