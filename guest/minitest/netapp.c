/*
 * The UDP service of test=net and test=netbench (protocol: netproto.h).
 * Transfers: the receiver acks cumulatively (every 16 in-order chunks,
 * at the end of each receive batch, and at once for every chunk out of
 * order, which it keeps if within RX_WIN of the next expected one).  The
 * sender keeps a window of chunks in flight and, NewReno-like, resends
 * the first unacked chunk after 3 duplicate acks, on each partial ack
 * until the recovery point, and on a retransmission timeout (200 ms,
 * doubling to 2 s); it gives up after 30 s without progress.
 */
#include "net.h"

#define MS		1000000ULL
#define RTO_MIN		(200 * MS)
#define RTO_MAX		(2000 * MS)
#define GIVE_UP		(30000 * MS)
#define ACK_EVERY	16
#define RX_WIN		1024
#define MIB		(1024 * 1024)

struct peer {
	struct net *nt;
	uint8_t mac[6];
	uint32_t ip;
	uint16_t port;
};

static struct {
	bool active;
	uint32_t session, nchunks, next, unacked;
	uint64_t total, hash;
	struct peer p;
} rxs;

static uint8_t *rx_store;		/* RX_WIN x NP_CHUNK, out-of-order chunks */
static uint32_t rx_have[RX_WIN];	/* seq + 1 held in each slot, or 0 */

static struct {
	bool active;
	uint32_t session, nchunks, base, hi, dups, recover;
	uint64_t total, hash, progress, rto, rto_at;
	bool recovering, retx;
	struct peer p;
} txs;

static struct {
	bool active;
	uint64_t frames, bytes;
} brx;

static uint32_t window = 128;
static bool quit;

static void peer_set(struct peer *p, struct net *nt, const uint8_t *mac,
		     uint32_t ip, uint16_t port)
{
	p->nt = nt;
	memcpy(p->mac, mac, 6);
	p->ip = ip;
	p->port = port;
}

static void reply(const struct peer *p, const void *d, uint32_t len)
{
	udp_send(p->nt, p->mac, p->ip, app_port, p->port, d, len);
	net_tx_flush(p->nt);
}

static void reply_text(const struct peer *p, const char *s)
{
	reply(p, s, (uint32_t)strlen(s));
}

static void send_ack(const struct peer *p, uint32_t session, uint32_t next)
{
	uint8_t a[12] = { 'A', 'C', 'K', ' ' };

	np_put32(a + 4, session);
	np_put32(a + 8, next);
	reply(p, a, sizeof(a));
}

/* Numbers after the 4-byte tag of a text datagram, space-separated. */
static unsigned text_args(const uint8_t *d, uint32_t len, uint64_t *v,
			  unsigned max)
{
	unsigned n = 0;
	uint32_t i = 0;

	while (i < len && d[i] != ' ')
		i++;
	while (i < len && n < max) {
		while (i < len && d[i] == ' ')
			i++;
		if (i >= len || d[i] < '0' || d[i] > '9')
			break;
		for (v[n] = 0; i < len && d[i] >= '0' && d[i] <= '9'; i++)
			v[n] = v[n] * 10 + (d[i] - '0');
		n++;
	}
	return n;
}

/* ---- receiving a stream ---- */

static void rx_reset(uint32_t session, uint64_t total)
{
	rxs.active = true;
	rxs.session = session;
	rxs.total = total;
	rxs.nchunks = np_chunks(total);
	rxs.next = rxs.unacked = 0;
	rxs.hash = NP_FNV_INIT;
	memset(rx_have, 0, sizeof(rx_have));
}

/* Unaligned-friendly copy of a chunk (lib.c's memcpy goes bytewise). */
static void copy_chunk(uint8_t *d, const uint8_t *s, uint32_t n)
{
	uint64_t w;
	uint32_t i = 0;

	for (; i + 8 <= n; i += 8) {
		__builtin_memcpy(&w, s + i, 8);
		__builtin_memcpy(d + i, &w, 8);
	}
	for (; i < n; i++)
		d[i] = s[i];
}

/* Keep a chunk that arrived early, if it fits in the window. */
static void rx_keep(uint32_t seq, const uint8_t *p, uint32_t n)
{
	uint32_t slot = seq % RX_WIN;

	if (seq <= rxs.next || seq - rxs.next >= RX_WIN ||
	    rx_have[slot] == seq + 1)
		return;
	copy_chunk(rx_store + (uint64_t)slot * NP_CHUNK, p, n);
	rx_have[slot] = seq + 1;
}

static void rx_consume(const uint8_t *p, uint32_t n)
{
	rxs.hash = np_fnv(rxs.hash, p, n);
	rxs.next++;
	rxs.unacked++;
}

static void data_in(const struct peer *p, const uint8_t *d, uint32_t len)
{
	uint32_t session = np_get32(d + 4), seq = np_get32(d + 8), slot;
	uint64_t total = np_get32(d + 12);

	if (!total || total > 1024ULL * MIB)
		return;
	if (!rxs.active || session != rxs.session)
		rx_reset(session, total);
	rxs.p = *p;
	if (total != rxs.total || seq >= rxs.nchunks ||
	    len - NP_HDR != np_chunk_len(total, seq))
		return;
	if (seq != rxs.next) {		/* duplicate ack at once */
		rx_keep(seq, d + NP_HDR, len - NP_HDR);
		send_ack(&rxs.p, rxs.session, rxs.next);
		rxs.unacked = 0;
		return;
	}
	rx_consume(d + NP_HDR, len - NP_HDR);
	while (rx_have[slot = rxs.next % RX_WIN] == rxs.next + 1) {
		rx_have[slot] = 0;
		rx_consume(rx_store + (uint64_t)slot * NP_CHUNK,
			   np_chunk_len(total, rxs.next));
	}
	if (rxs.next == rxs.nchunks)
		say("net rx %lu fnv %016lx", rxs.total, rxs.hash);
	if (rxs.unacked >= ACK_EVERY || rxs.next == rxs.nchunks) {
		send_ack(&rxs.p, rxs.session, rxs.next);
		rxs.unacked = 0;
	}
}

static void batch_end(void)
{
	if (rxs.active && rxs.unacked)
		send_ack(&rxs.p, rxs.session, rxs.next);
	rxs.unacked = 0;
}

/* ---- sending a stream ---- */

static void send_cmd(const struct peer *p, const uint8_t *d, uint32_t len)
{
	uint64_t v[2] = { 0, 0 };

	if (text_args(d, len, v, 2) < 1 || !v[0] || v[0] > 1024 ||
	    (txs.active && txs.session == (uint32_t)v[1]))
		return;
	memset(&txs, 0, sizeof(txs));
	txs.active = true;
	txs.session = (uint32_t)v[1];
	txs.total = v[0] * MIB;
	txs.nchunks = np_chunks(txs.total);
	txs.hash = NP_FNV_INIT;
	txs.rto = RTO_MIN;
	txs.progress = now_ns();
	txs.rto_at = txs.progress + txs.rto;
	txs.p = *p;
}

static void tx_progress(uint32_t next)
{
	txs.base = next;
	txs.dups = 0;
	txs.rto = RTO_MIN;
	txs.progress = now_ns();
	txs.rto_at = txs.progress + txs.rto;
	if (txs.recovering && next < txs.recover)
		txs.retx = true;	/* partial ack: the next hole */
	else
		txs.recovering = false;
}

static void ack_in(const uint8_t *d, uint32_t len)
{
	uint32_t next = np_get32(d + 8);

	if (len < 12 || !txs.active || np_get32(d + 4) != txs.session ||
	    next > txs.hi)
		return;
	if (next > txs.base) {
		tx_progress(next);
	} else if (next == txs.base && next < txs.hi && ++txs.dups >= 3 &&
		   !txs.recovering) {
		txs.recovering = txs.retx = true;
		txs.recover = txs.hi;
	}
	if (txs.base == txs.nchunks) {
		say("net tx %lu fnv %016lx", txs.total, txs.hash);
		txs.active = false;
	}
}

static void send_chunk(uint32_t seq, uint8_t *p, unsigned slot)
{
	uint32_t n = np_chunk_len(txs.total, seq);

	memcpy(p, "DATA", 4);
	np_put32(p + 4, txs.session);
	np_put32(p + 8, seq);
	np_put32(p + 12, (uint32_t)txs.total);
	np_fill(p + NP_HDR, (uint64_t)seq * NP_CHUNK, n);
	if (seq == txs.hi) {
		txs.hash = np_fnv(txs.hash, p + NP_HDR, n);
		txs.hi++;
	}
	udp_finish(txs.p.nt, slot, txs.p.mac, txs.p.ip, app_port, txs.p.port,
		   NP_HDR + n);
}

static bool tx_window_open(void)
{
	return txs.active && (txs.retx || (txs.hi < txs.nchunks &&
					   txs.hi < txs.base + window));
}

static void tx_timers(void)
{
	uint64_t t = now_ns();

	if (t - txs.progress > GIVE_UP) {
		say("net tx FAIL timeout at chunk %u of %u", txs.base,
		    txs.nchunks);
		txs.active = false;
	} else if (t >= txs.rto_at) {
		txs.retx = txs.recovering = true;
		txs.recover = txs.hi;
		txs.rto = txs.rto * 2 > RTO_MAX ? RTO_MAX : txs.rto * 2;
		txs.rto_at = t + txs.rto;
	}
}

/* A resend of the first unacked chunk if due, then new chunks. */
static void tx_pump(void)
{
	struct net *nt = txs.p.nt;
	unsigned slot;
	uint8_t *p;

	if (!txs.active)
		return;
	tx_timers();
	net_tx_reclaim(nt);
	while (txs.active && tx_window_open() && nt->ntxfree &&
	       (p = udp_begin(nt, &slot))) {
		if (txs.retx)
			send_chunk(txs.base, p, slot);
		else
			send_chunk(txs.hi, p, slot);
		txs.retx = false;
	}
	net_tx_flush(nt);
}

/* ---- netbench ---- */

static void bench_tx(const struct peer *p, const uint8_t *d, uint32_t len)
{
	uint64_t v[2] = { 0, 1472 };
	uint8_t end[8] = { 'B', 'E', 'N', 'D' };
	unsigned slot;
	uint8_t *u;
	uint64_t i;

	if (text_args(d, len, v, 2) < 1 || v[1] < 8 || v[1] > NP_MAX_UDP)
		return;
	say("netbench tx start");
	for (i = 0; i < v[0] && (u = udp_begin(p->nt, &slot)); i++) {
		memcpy(u, "BDAT", 4);
		np_put32(u + 4, (uint32_t)i);
		udp_finish(p->nt, slot, p->mac, p->ip, app_port, p->port,
			   (uint32_t)v[1]);
	}
	np_put32(end + 4, (uint32_t)i);
	for (int k = 0; k < 3; k++)
		reply(p, end, sizeof(end));
	say("netbench tx done %lu", i);
}

static void bench_fin(const struct peer *p)
{
	char s[48];

	if (brx.active)
		say("netbench rx done %lu %lu", brx.frames, brx.bytes);
	brx.active = false;
	ksnprintf(s, sizeof(s), "RXD %lu %lu", brx.frames, brx.bytes);
	reply_text(p, s);
}

static bool tag(const uint8_t *d, uint32_t len, const char *t)
{
	uint32_t n = (uint32_t)strlen(t);

	return len >= n && !memcmp(d, t, n);
}

void app_udp(struct net *nt, const uint8_t *mac, uint32_t ip, uint16_t port,
	     const uint8_t *d, uint32_t len)
{
	struct peer p;

	peer_set(&p, nt, mac, ip, port);
	if (tag(d, len, "DATA") && len > NP_HDR) {
		data_in(&p, d, len);
	} else if (tag(d, len, "ACK ")) {
		ack_in(d, len);
	} else if (tag(d, len, "BDAT")) {
		brx.frames += brx.active;
		brx.bytes += brx.active ? len : 0;
	} else if (tag(d, len, "SEND")) {
		send_cmd(&p, d, len);
	} else if (tag(d, len, "ECHO")) {
		reply(&p, d, len);
	} else if (tag(d, len, "BTX")) {
		bench_tx(&p, d, len);
	} else if (tag(d, len, "BRX")) {
		if (!brx.active)
			say("netbench rx start");
		brx.active = true;
		brx.frames = brx.bytes = 0;
		reply_text(&p, "BRXA");
	} else if (tag(d, len, "FIN")) {
		bench_fin(&p);
	} else if (tag(d, len, "QUIT")) {
		reply_text(&p, "BYE ");
		quit = true;
	}
}

/* ---- the service loop ---- */

static void serve(void)
{
	for (;;) {
		unsigned work = 0;

		for (unsigned i = 0; i < nnet; i++) {
			work += net_rx_poll(&nets[i], net_frame_in);
			net_tx_reclaim(&nets[i]);	/* else idle never sleeps */
		}
		batch_end();
		tx_pump();
		if (quit)
			return;
		if (!work && !(tx_window_open() && txs.p.nt->ntxfree))
			net_idle_wait();
	}
}

/* Give the last replies 100 ms to leave before powering off. */
static void drain(void)
{
	uint64_t end = now_ns() + 100 * MS;

	for (unsigned i = 0; i < nnet; i++)
		while (nets[i].ntxfree < nets[i].tx.qsz && now_ns() < end) {
			net_tx_reclaim(&nets[i]);
			net_idle_wait();
		}
}

void mode_net(void)
{
	char ip[16];

	lapic_timer_periodic(VEC_TIMER);
	if (!net_open_all()) {
		say("result FAIL no virtio-net device");
		power_off_or_reset();
	}
	nets[0].ip = ip_arg("ip", "10.77.0.2");
	nets[1].ip = ip_arg("ip2", "10.78.0.2");
	app_port = (uint16_t)cmdline_u64("port", NP_PORT_DEFAULT);
	window = (uint32_t)cmdline_u64("window", 128);
	rx_store = dma_alloc((uint64_t)RX_WIN * NP_CHUNK);
	if (!window || window > RX_WIN)
		fail("bad window=%u", window);
	for (unsigned i = 0; i < nnet; i++) {
		fmt_ip(ip, sizeof(ip), nets[i].ip);
		say("net ready ip %s", ip);
	}
	serve();
	drain();
	lapic_timer_stop();
	say("result ok");
	power_off_or_reset();
}
