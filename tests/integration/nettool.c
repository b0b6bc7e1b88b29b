/*
 * nettool: the host side of minitest's network tests (test=net, netbench).
 * Protocol and data stream: guest/minitest/netproto.h.
 *
 *   nettool [-w WINDOW] [-t SECONDS] [-l LOSS%] send IP PORT MIB
 *   nettool [-w WINDOW] [-t SECONDS] [-l LOSS%] recv [IP] PORT MIB
 *                                                      (IP 10.77.0.2)
 *   nettool quit IP PORT
 *   nettool bench-tx IP PORT FRAMES SIZE    guest -> host blast
 *   nettool bench-rx IP PORT FRAMES SIZE    host -> guest blast
 *   nettool rtt IP PORT COUNT [SIZE]        UDP echo round trips
 *
 * Transfers: cumulative acks (every 16 chunks, after each socket drain,
 * and at once for a chunk out of order, which is kept if within 1024 of
 * the next expected one); the sender keeps -w chunks in flight (default
 * 128, at most 1024) and resends the first unacked one after 3 duplicate
 * acks, on each partial ack until the recovery point, and on a timeout
 * (RFC 6298, 200 ms .. 5 s, doubling to 10 s); it gives up after -t
 * seconds (default 30) without progress.
 *
 * -l drops that percentage of the datagrams nettool sends and receives
 * (a test of the recovery: no netem needed).
 *
 * Exit status 0 on success, 1 on failure or timeout, 2 on usage errors.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../guest/minitest/netproto.h"

#define MIB		(1024 * 1024)
#define RTO_MIN		0.2
#define RTO_MAX		5.0
#define RTO_BACKOFF_MAX	10.0
#define ACK_EVERY	16
#define RX_WIN		1024		/* chunks kept out of order */

static unsigned window = 128;
static double loss;			/* -l: percent dropped each way */
static double give_up = 30;		/* seconds without progress */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: nettool [-w WINDOW] [-t SECONDS] [-l LOSS%%] send IP PORT MIB\n"
		"       nettool [-w WINDOW] [-t SECONDS] [-l LOSS%%] recv [IP] PORT MIB\n"
		"       nettool quit IP PORT\n"
		"       nettool bench-tx IP PORT FRAMES SIZE\n"
		"       nettool bench-rx IP PORT FRAMES SIZE\n"
		"       nettool rtt IP PORT COUNT [SIZE]\n");
	exit(2);
}

static unsigned long num(const char *s, unsigned long max)
{
	char *end;
	unsigned long v = strtoul(s, &end, 0);

	if (!*s || *end || v > max) {
		fprintf(stderr, "nettool: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

/* A UDP socket connected to IP:PORT, non-blocking, big buffers. */
static int open_peer(const char *ip, const char *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0), sz = 8 << 20;

	a.sin_port = htons((uint16_t)num(port, 65535));
	if (fd < 0 || inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
		fprintf(stderr, "nettool: bad address %s\n", ip);
		exit(2);
	}
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)))
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		perror("nettool: connect");
		exit(1);
	}
	return fd;
}

static void wait_in(int fd, double seconds)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int ms = seconds <= 0 ? 0 : (int)(seconds * 1000) + 1;

	poll(&p, 1, ms);
}

/* -l testing aid: drop this datagram? */
static bool lose(void)
{
	return loss > 0 && drand48() * 100 < loss;
}

/* send() that waits for room; ECONNREFUSED (no guest yet) is ignored. */
static void xsend(int fd, const void *d, size_t n)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };

	if (lose())
		return;
	while (send(fd, d, n, 0) < 0) {
		if (errno != EAGAIN && errno != ENOBUFS && errno != EINTR)
			return;
		poll(&p, 1, 10);
	}
}

static void send_text(int fd, const char *s)
{
	xsend(fd, s, strlen(s));
}

static ssize_t recv1(int fd, uint8_t *buf, size_t n)
{
	ssize_t r;

	while ((r = recv(fd, buf, n, 0)) >= 0 && lose())
		;
	return r < 0 ? -1 : r;
}

static uint32_t new_session(void)
{
	return (uint32_t)(getpid() * 2654435761u ^ (uint32_t)(now() * 1e6));
}

/* ---- send: host -> guest stream ---- */

struct sender {
	int fd;
	uint32_t session, nchunks, base, hi, dups, recover;
	uint64_t total, hash;
	double rto, rto_at, progress, srtt, rttvar;
	double *sent_at;	/* first transmission, 0 once resent (Karn) */
	bool recovering, retx;
	unsigned timeouts, fast, resent;
};

/* RFC 6298 from the newest chunk an ack covers. */
static void sender_rtt(struct sender *s, uint32_t chunk)
{
	double r;

	if (s->sent_at[chunk] <= 0)
		return;
	r = now() - s->sent_at[chunk];
	if (s->srtt <= 0) {
		s->srtt = r;
		s->rttvar = r / 2;
	} else {
		s->rttvar = 0.75 * s->rttvar + 0.25 * fabs(s->srtt - r);
		s->srtt = 0.875 * s->srtt + 0.125 * r;
	}
}

static double sender_rto(const struct sender *s)
{
	double rto = s->srtt + 4 * s->rttvar;

	return rto < RTO_MIN ? RTO_MIN : rto > RTO_MAX ? RTO_MAX : rto;
}

static bool send_chunk(struct sender *s, uint32_t seq)
{
	uint8_t b[NP_MAX_UDP];
	uint32_t n = np_chunk_len(s->total, seq);

	memcpy(b, "DATA", 4);
	np_put32(b + 4, s->session);
	np_put32(b + 8, seq);
	np_put32(b + 12, (uint32_t)s->total);
	np_fill(b + NP_HDR, (uint64_t)seq * NP_CHUNK, n);
	if (!lose() && send(s->fd, b, NP_HDR + n, 0) < 0 &&
	    errno != ECONNREFUSED)	/* refused: counts as sent, and lost */
		return false;
	if (seq == s->hi) {
		s->hash = np_fnv(s->hash, b + NP_HDR, n);
		s->sent_at[seq] = now();
		s->hi++;
	} else {
		s->sent_at[seq] = 0;
		s->resent++;
	}
	return true;
}

static void sender_progress(struct sender *s, uint32_t next)
{
	sender_rtt(s, next - 1);
	s->base = next;
	s->dups = 0;
	s->rto = sender_rto(s);
	s->progress = now();
	s->rto_at = s->progress + s->rto;
	if (s->recovering && next < s->recover)
		s->retx = true;		/* partial ack: the next hole */
	else
		s->recovering = false;
}

static void sender_ack(struct sender *s, const uint8_t *b, ssize_t n)
{
	uint32_t next;

	if (n < 12 || memcmp(b, "ACK ", 4) || np_get32(b + 4) != s->session)
		return;
	next = np_get32(b + 8);
	if (next > s->hi)
		return;
	if (next > s->base) {
		sender_progress(s, next);
	} else if (next == s->base && next < s->hi && ++s->dups >= 3 &&
		   !s->recovering) {
		s->recovering = s->retx = true;
		s->recover = s->hi;
		s->fast++;
	}
}

static void sender_timers(struct sender *s)
{
	double t = now();

	if (t - s->progress > give_up) {
		fprintf(stderr, "nettool: send: no progress for %.0f s at "
			"chunk %u of %u\n", give_up, s->base, s->nchunks);
		exit(1);
	}
	if (t >= s->rto_at) {
		s->retx = s->recovering = true;
		s->recover = s->hi;
		s->rto = s->rto * 2 > RTO_BACKOFF_MAX ? RTO_BACKOFF_MAX :
			 s->rto * 2;
		s->rto_at = t + s->rto;
		s->timeouts++;
	}
}

/*
 * One chunk until the first ack: the host's neighbour table holds only
 * ~200 KB for an address it is still resolving, and drops the rest.
 */
static void sender_pump(struct sender *s)
{
	uint32_t w = s->base ? window : 1;

	if (s->retx && send_chunk(s, s->base))
		s->retx = false;
	while (s->hi < s->nchunks && s->hi < s->base + w &&
	       send_chunk(s, s->hi))
		;
}

static int cmd_send(const char *ip, const char *port, const char *mib)
{
	struct sender s = { .fd = open_peer(ip, port), .session = new_session(),
			    .hash = NP_FNV_INIT, .rto = RTO_MIN };
	uint8_t b[2048];
	double t0 = now();
	ssize_t n;

	s.total = num(mib, 4095) * MIB;
	s.nchunks = np_chunks(s.total);
	s.sent_at = calloc(s.nchunks, sizeof(double));
	if (!s.sent_at)
		return 1;
	s.progress = t0;
	s.rto_at = t0 + s.rto;
	while (s.base < s.nchunks) {
		sender_pump(&s);
		wait_in(s.fd, s.rto_at - now());
		while ((n = recv1(s.fd, b, sizeof(b))) >= 0)
			sender_ack(&s, b, n);
		sender_timers(&s);
	}
	fprintf(stderr, "nettool: sent %" PRIu64 " bytes in %.3f s, %u resent,"
		" %u timeouts, %u fast retransmits, srtt %.1f ms\n", s.total,
		now() - t0, s.resent, s.timeouts, s.fast, s.srtt * 1e3);
	printf("nettool sent %" PRIu64 " fnv %016" PRIx64 "\n", s.total, s.hash);
	return 0;
}

/* ---- recv: guest -> host stream ---- */

struct receiver {
	int fd;
	uint32_t session, nchunks, next, unacked;
	uint64_t total, hash;
	bool started;
	double progress;
	uint8_t *store;		/* RX_WIN x NP_CHUNK early chunks */
	uint32_t have[RX_WIN];	/* seq + 1 held in each slot, or 0 */
};

static void recv_ack(struct receiver *r)
{
	uint8_t a[12] = { 'A', 'C', 'K', ' ' };

	np_put32(a + 4, r->session);
	np_put32(a + 8, r->next);
	xsend(r->fd, a, sizeof(a));
	r->unacked = 0;
}

static void recv_keep(struct receiver *r, uint32_t seq, const uint8_t *p,
		      uint32_t n)
{
	uint32_t slot = seq % RX_WIN;

	if (seq <= r->next || seq - r->next >= RX_WIN)
		return;
	memcpy(r->store + (size_t)slot * NP_CHUNK, p, n);
	r->have[slot] = seq + 1;
}

static void recv_consume(struct receiver *r, const uint8_t *p, uint32_t n)
{
	r->hash = np_fnv(r->hash, p, n);
	r->next++;
	r->unacked++;
	r->progress = now();
}

static void recv_data(struct receiver *r, const uint8_t *b, ssize_t n)
{
	uint32_t seq, slot;

	if (n <= NP_HDR || memcmp(b, "DATA", 4) ||
	    np_get32(b + 4) != r->session)
		return;
	r->started = true;
	seq = np_get32(b + 8);
	if (np_get32(b + 12) != r->total || seq >= r->nchunks ||
	    (uint32_t)n - NP_HDR != np_chunk_len(r->total, seq))
		return;
	if (seq != r->next) {			/* duplicate ack at once */
		recv_keep(r, seq, b + NP_HDR, (uint32_t)n - NP_HDR);
		recv_ack(r);
		return;
	}
	recv_consume(r, b + NP_HDR, (uint32_t)n - NP_HDR);
	while (r->have[slot = r->next % RX_WIN] == r->next + 1) {
		r->have[slot] = 0;
		recv_consume(r, r->store + (size_t)slot * NP_CHUNK,
			     np_chunk_len(r->total, r->next));
	}
	if (r->unacked >= ACK_EVERY || r->next == r->nchunks)
		recv_ack(r);
}

/* Drain the socket; ack what arrived.  False if nothing did. */
static bool recv_batch(struct receiver *r)
{
	uint8_t b[2048];
	bool any = false;
	ssize_t n;

	while ((n = recv1(r->fd, b, sizeof(b))) >= 0) {
		recv_data(r, b, n);
		any = true;
	}
	if (r->unacked)
		recv_ack(r);
	return any;
}

/* After the last chunk: re-ack retransmissions until 1 s of quiet. */
static void recv_linger(struct receiver *r)
{
	double quiet = now() + 1;

	while (now() < quiet) {
		wait_in(r->fd, quiet - now());
		if (recv_batch(r)) {
			recv_ack(r);
			quiet = now() + 1;
		}
	}
}

static int cmd_recv(const char *ip, const char *port, const char *mib)
{
	static struct receiver r;
	char cmd[64];
	double t0 = now(), asked = 0;

	r.fd = open_peer(ip, port);
	r.session = new_session();
	r.hash = NP_FNV_INIT;
	r.total = num(mib, 4095) * MIB;
	r.nchunks = np_chunks(r.total);
	r.progress = t0;
	r.store = malloc((size_t)RX_WIN * NP_CHUNK);
	if (!r.store)
		return 1;
	snprintf(cmd, sizeof(cmd), "SEND %s %u", mib, r.session);
	while (r.next < r.nchunks) {
		if (!r.started && now() - asked > 0.5) {
			send_text(r.fd, cmd);
			asked = now();
		}
		wait_in(r.fd, 0.1);
		recv_batch(&r);
		if (now() - r.progress > give_up) {
			fprintf(stderr, "nettool: recv: no progress for %.0f s "
				"at chunk %u of %u\n", give_up, r.next,
				r.nchunks);
			return 1;
		}
	}
	fprintf(stderr, "nettool: received %" PRIu64 " bytes in %.3f s\n",
		r.total, now() - t0);
	printf("nettool received %" PRIu64 " fnv %016" PRIx64 "\n", r.total,
	       r.hash);
	fflush(stdout);
	recv_linger(&r);
	return 0;
}

/* ---- quit and the benchmarks ---- */

/* Send @cmd until a reply starting with @want arrives (into @b). */
static ssize_t ask(int fd, const char *cmd, const char *want, uint8_t *b,
		   size_t n, int tries)
{
	ssize_t r;

	for (int i = 0; i < tries; i++) {
		double end = now() + 0.5;

		send_text(fd, cmd);
		while (now() < end) {
			wait_in(fd, end - now());
			while ((r = recv1(fd, b, n - 1)) >= 0)
				if ((size_t)r >= strlen(want) &&
				    !memcmp(b, want, strlen(want))) {
					b[r] = 0;
					return r;
				}
		}
	}
	return -1;
}

static int cmd_quit(const char *ip, const char *port)
{
	uint8_t b[64];

	if (ask(open_peer(ip, port), "QUIT", "BYE", b, sizeof(b), 6) < 0) {
		fprintf(stderr, "nettool: no BYE from the guest\n");
		return 1;
	}
	return 0;
}

static void rates(const char *what, uint64_t frames, uint64_t bytes, double s)
{
	printf("%s_frames=%" PRIu64 "\n%s_bytes=%" PRIu64 "\n", what, frames,
	       what, bytes);
	printf("%s_seconds=%.6f\n%s_pps=%.0f\n%s_mbps=%.2f\n", what, s, what,
	       s > 0 ? frames / s : 0, what, s > 0 ? bytes * 8 / s / 1e6 : 0);
}

static int cmd_bench_tx(const char *ip, const char *port, const char *frames,
			const char *size)
{
	int fd = open_peer(ip, port);
	uint8_t b[2048];
	char cmd[64];
	uint64_t got = 0, bytes = 0, sent = 0;
	double first = 0, last = 0, quiet = now() + 1;
	bool ended = false;
	ssize_t n;

	snprintf(cmd, sizeof(cmd), "BTX %lu %lu", num(frames, 1UL << 32),
		 num(size, NP_MAX_UDP));
	send_text(fd, cmd);
	while (!ended && now() < quiet) {
		wait_in(fd, quiet - now());
		while ((n = recv1(fd, b, sizeof(b))) >= 0) {
			if (n >= 8 && !memcmp(b, "BEND", 4)) {
				sent = np_get32(b + 4);
				ended = true;
			} else if (n >= 4 && !memcmp(b, "BDAT", 4)) {
				last = now();
				first = got++ ? first : last;
				bytes += n;
			}
			quiet = now() + 2;
		}
		if (!got && !ended && now() > quiet - 1)
			send_text(fd, cmd);	/* BTX lost? */
	}
	printf("requested_frames=%s\nguest_sent_frames=%" PRIu64 "\n", frames,
	       sent);
	rates("rx", got, bytes, last - first);
	return ended ? 0 : 1;
}

static int cmd_bench_rx(const char *ip, const char *port, const char *frames,
			const char *size)
{
	int fd = open_peer(ip, port);
	unsigned long nf = num(frames, 1UL << 32), sz = num(size, NP_MAX_UDP);
	uint8_t b[2048] = "BDAT";
	uint64_t gf = 0, gb = 0;
	double t0, t1;

	if (sz < 8)
		usage();
	if (ask(fd, "BRX", "BRXA", b + 1024, 1024, 6) < 0) {
		fprintf(stderr, "nettool: no BRXA from the guest\n");
		return 1;
	}
	t0 = now();
	for (unsigned long i = 0; i < nf; i++) {
		np_put32(b + 4, (uint32_t)i);
		xsend(fd, b, sz);
	}
	t1 = now();
	usleep(200000);
	if (ask(fd, "FIN", "RXD", b, sizeof(b), 6) < 0) {
		fprintf(stderr, "nettool: no RXD from the guest\n");
		return 1;
	}
	sscanf((char *)b + 4, "%" SCNu64 " %" SCNu64, &gf, &gb);
	rates("tx", nf, (uint64_t)nf * sz, t1 - t0);
	printf("guest_rx_frames=%" PRIu64 "\nguest_rx_bytes=%" PRIu64 "\n"
	       "loss_frames=%" PRIu64 "\n", gf, gb, nf - gf);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int cmd_rtt(const char *ip, const char *port, const char *count,
		   const char *size)
{
	int fd = open_peer(ip, port);
	unsigned long nc = num(count, 1000000), sz = num(size, NP_MAX_UDP);
	double *rtt = calloc(nc ? nc : 1, sizeof(double)), sum = 0;
	uint8_t b[2048] = "ECHO", r[2048];
	unsigned long ok = 0;
	ssize_t n;

	if (sz < 8 || !rtt)
		usage();
	for (unsigned long i = 0; i < nc; i++) {
		double t0 = now(), end = t0 + 1;

		np_put32(b + 4, (uint32_t)i);
		xsend(fd, b, sz);
		while (now() < end) {
			wait_in(fd, end - now());
			n = recv1(fd, r, sizeof(r));
			if (n == (ssize_t)sz && !memcmp(r, b, 8)) {
				rtt[ok] = now() - t0;
				sum += rtt[ok++];
				break;
			}
		}
	}
	qsort(rtt, ok, sizeof(double), cmp_double);
	printf("count=%lu\nlost=%lu\n", nc, nc - ok);
	if (ok)
		printf("min_us=%.1f\navg_us=%.1f\np50_us=%.1f\np99_us=%.1f\n"
		       "max_us=%.1f\n", rtt[0] * 1e6, sum / ok * 1e6,
		       rtt[ok / 2] * 1e6, rtt[(ok * 99) / 100] * 1e6,
		       rtt[ok - 1] * 1e6);
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	int c;

	srand48(getpid());
	while ((c = getopt(argc, argv, "+w:t:l:")) != -1) {
		if (c == 'l')
			loss = atof(optarg);
		else if (c == 'w')
			window = (unsigned)num(optarg, RX_WIN);
		else if (c == 't')
			give_up = (double)num(optarg, 86400);
		else
			usage();
	}
	argv += optind;
	argc -= optind;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[0], "send") && window)
		return cmd_send(argv[1], argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[0], "recv"))
		return cmd_recv(argv[1], argv[2], argv[3]);
	if (argc == 3 && !strcmp(argv[0], "recv"))
		return cmd_recv("10.77.0.2", argv[1], argv[2]);
	if (argc == 3 && !strcmp(argv[0], "quit"))
		return cmd_quit(argv[1], argv[2]);
	if (argc == 5 && !strcmp(argv[0], "bench-tx"))
		return cmd_bench_tx(argv[1], argv[2], argv[3], argv[4]);
	if (argc == 5 && !strcmp(argv[0], "bench-rx"))
		return cmd_bench_rx(argv[1], argv[2], argv[3], argv[4]);
	if ((argc == 4 || argc == 5) && !strcmp(argv[0], "rtt"))
		return cmd_rtt(argv[1], argv[2], argv[3],
			       argc == 5 ? argv[4] : "64");
	usage();
}
