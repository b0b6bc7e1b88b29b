/*
 * virtio-net, detached: a driver written here sets up the rings in a small
 * guest RAM, and the backend is one end of a SOCK_SEQPACKET socketpair
 * (packet boundaries kept, like a tap); the test holds the other end.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "virtio_harness.h"
#include "../../devices/tap.h"
#include "../../devices/virtio_net.h"

#define RAM (1 * MiB)
#define QSIZE 64
#define DATA_BASE 0x40000ULL
#define HDR VIRTIO_NET_HDR_BYTES

struct fixture {
	struct virtio_net *net;
	int peer; /* the test's end of the backend */
	struct test_ring rx, tx; /* the driver's side of the two queues */
	uint64_t next_data;
};

static uint64_t desc_gpa(int q) { return 0x10000ULL * (q + 1); }
static uint64_t avail_gpa(int q) { return desc_gpa(q) + 0x1000; }
static uint64_t used_gpa(int q) { return desc_gpa(q) + 0x2000; }

static struct test_ring queue_ring(int q)
{
	return (struct test_ring){ desc_gpa(q), avail_gpa(q), used_gpa(q), QSIZE };
}

static void *host(uint64_t gpa, uint64_t len)
{
	void *p = gpa_ptr(&mem, gpa, len);

	assert_non_null(p);
	return p;
}

/* Negotiate @features (VERSION_1 added) and set up both queues, as a driver would. */
static void driver_init(struct fixture *f, uint64_t features)
{
	struct virtio_mmio *t = &f->net->transport;

	features |= 1ULL << VIRTIO_F_VERSION_1;
	assert_int_equal(negotiate(t, features) & FEATURES_OK, FEATURES_OK);
	for (int q = 0; q < 2; q++) {
		setup_queue(t, q, QSIZE, desc_gpa(q), avail_gpa(q), used_gpa(q));
		mmio_write32(t, REG_QUEUE_READY, 1);
	}
	mmio_write32(t, REG_STATUS, LIVE);
	assert_int_equal(mmio_read32(t, REG_STATUS), LIVE);
}

/* Guest memory for a buffer of @len bytes. */
static uint64_t alloc_data(struct fixture *f, uint32_t len)
{
	uint64_t gpa = f->next_data;

	f->next_data += (len + 15) & ~15ULL;
	assert_true(f->next_data <= RAM);
	return gpa;
}

/* A one-buffer writable RX chain of @len bytes, filled with 0xee. */
static uint64_t add_rx(struct fixture *f, uint32_t len)
{
	struct ring_buf b = { alloc_data(f, len), len, true };

	memset(host(b.gpa, len), 0xee, len);
	ring_add_chain(&f->rx, &b, 1);
	return b.gpa;
}

static void fill(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 7);
}

static int setup(void **state)
{
	static struct fixture f;
	static const uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 1 };
	int sv[2];

	memset(&f, 0, sizeof(f));
	if (guest_ram_map(RAM))
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv) < 0)
		return -1;
	f.peer = sv[1];
	f.net = virtio_net_create_detached(&mem, sv[0], mac, NULL);
	if (!f.net)
		return -1;
	f.rx = queue_ring(VIRTIO_NET_RXQ);
	f.tx = queue_ring(VIRTIO_NET_TXQ);
	f.next_data = DATA_BASE;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	close(f->net->fd);
	virtio_net_free(f->net);
	close(f->peer);
	guest_mem_unmap(&mem);
	return 0;
}

/* ---- Layout and features ---- */

static void test_header_layout(void **state)
{
	struct fixture *f = *state;

	(void)state;
	assert_int_equal(sizeof(struct virtio_net_hdr_v1), 12);
	assert_int_equal(offsetof(struct virtio_net_hdr_v1, num_buffers), 10);
	assert_int_equal(offsetof(struct virtio_net_config, status), 6);
	assert_int_equal(offsetof(struct virtio_net_config, max_virtqueue_pairs), 8);
	assert_int_equal(f->net->config.status, VIRTIO_NET_S_LINK_UP);
	assert_int_equal(f->net->config.max_virtqueue_pairs, 1);
}

static void test_features_offered(void **state)
{
	struct fixture *f = *state;
	uint64_t feat = device_features(&f->net->transport);
	static const unsigned want[] = {
		VIRTIO_F_VERSION_1, VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS, VIRTIO_NET_F_MRG_RXBUF,
		VIRTIO_NET_F_CSUM, VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_TSO4,
		VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6,
		VIRTIO_NET_F_HOST_UFO, VIRTIO_RING_F_INDIRECT_DESC, VIRTIO_RING_F_EVENT_IDX,
	};

	for (size_t i = 0; i < ARRAY_SIZE(want); i++)
		assert_true(feat >> want[i] & 1);
	assert_false(feat >> 17 & 1); /* no control queue */
	/* The MAC is in config space. */
	uint8_t mac[6];

	virtio_mmio_read(&f->net->transport, REG_CONFIG, mac, 6);
	assert_memory_equal(mac, f->net->config.mac, 6);
}

/* ---- TX ---- */

static void test_tx_chain_of_several_buffers(void **state)
{
	struct fixture *f = *state;
	uint8_t frame[12 + 300], got[1024];
	struct ring_buf b[3] = { { alloc_data(f, 12), 12, false },
				 { alloc_data(f, 100), 100, false },
				 { alloc_data(f, 200), 200, false } };

	driver_init(f, 1ULL << VIRTIO_RING_F_EVENT_IDX);
	fill(frame, sizeof(frame), 3);
	memcpy(host(b[0].gpa, 12), frame, 12);
	memcpy(host(b[1].gpa, 100), frame + 12, 100);
	memcpy(host(b[2].gpa, 200), frame + 112, 200);
	uint16_t head = ring_add_chain(&f->tx, b, 3);

	virtio_net_notify(f->net, VIRTIO_NET_TXQ);
	assert_int_equal(recv(f->peer, got, sizeof(got), 0), sizeof(frame));
	assert_memory_equal(got, frame, sizeof(frame));
	assert_int_equal(recv(f->peer, got, sizeof(got), 0), -1); /* one packet, not three */
	assert_int_equal(errno, EAGAIN);

	uint32_t h, len;

	ring_next_used(&f->tx, &h, &len);
	assert_int_equal(h, head);
	assert_int_equal(len, 0);
	assert_int_equal(f->net->tx_packets, 1);
}

static void test_tx_malformed_dropped(void **state)
{
	struct fixture *f = *state;
	uint8_t got[256];
	struct ring_buf writable_after[2] = { { alloc_data(f, 64), 64, false },
					      { alloc_data(f, 64), 64, true } };
	struct ring_buf short_hdr = { alloc_data(f, 8), 8, false };
	struct ring_buf only_writable = { alloc_data(f, 64), 64, true };
	struct ring_buf too_big = { alloc_data(f, VIRTIO_NET_MAX_PACKET + 1),
				    VIRTIO_NET_MAX_PACKET + 1, false };
	struct ring_buf outside = { RAM - 10, 64, false };
	struct ring_buf good = { alloc_data(f, 60), 60, false };

	driver_init(f, 0);
	ring_add_chain(&f->tx, writable_after, 2);
	ring_add_chain(&f->tx, &short_hdr, 1);
	ring_add_chain(&f->tx, &only_writable, 1);
	ring_add_chain(&f->tx, &too_big, 1);
	ring_add_chain(&f->tx, &outside, 1);
	ring_add_chain(&f->tx, &good, 1);
	virtio_net_notify(f->net, VIRTIO_NET_TXQ);

	for (int i = 0; i < 6; i++) {
		uint32_t h, len;

		ring_next_used(&f->tx, &h, &len);
		assert_int_equal(len, 0);
	}
	assert_int_equal(f->net->tx_dropped, 5);
	assert_int_equal(recv(f->peer, got, sizeof(got), 0), 60); /* only the good one */
	assert_int_equal(recv(f->peer, got, sizeof(got), 0), -1);
	assert_false(f->net->transport.status & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_tx_backpressure(void **state)
{
	struct fixture *f = *state;
	enum { N = 24, LEN = 2000 };
	uint8_t got[4096];
	int sndbuf = 4096;

	setsockopt(f->net->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	driver_init(f, 0);
	for (int i = 0; i < N; i++) {
		struct ring_buf b = { alloc_data(f, LEN), LEN, false };

		fill(host(b.gpa, LEN), LEN, i);
		ring_add_chain(&f->tx, &b, 1);
	}
	virtio_net_notify(f->net, VIRTIO_NET_TXQ);
	assert_true(f->net->tx_blocked);
	assert_true(f->net->watch & EPOLLOUT);
	uint16_t sent = ring_used_idx(&f->tx);

	assert_true(sent < N);
	/* A notification while blocked changes nothing: no spinning on a full backend. */
	virtio_net_notify(f->net, VIRTIO_NET_TXQ);
	assert_int_equal(ring_used_idx(&f->tx), sent);

	int received = 0;

	for (int rounds = 0; received < N && rounds < 100; rounds++) {
		ssize_t n;

		while ((n = recv(f->peer, got, sizeof(got), 0)) > 0) {
			uint8_t want[LEN];

			fill(want, LEN, received);
			assert_int_equal(n, LEN);
			assert_memory_equal(got, want, LEN); /* in order, none lost */
			received++;
		}
		virtio_net_backend_event(f->net, EPOLLOUT);
	}
	assert_int_equal(received, N);
	assert_int_equal(ring_used_idx(&f->tx), N);
	assert_false(f->net->tx_blocked);
	assert_false(f->net->watch & EPOLLOUT);
	assert_int_equal(f->net->tx_dropped, 0);
}

/* ---- RX ---- */

static void send_packet(struct fixture *f, uint8_t *pkt, size_t len, unsigned seed)
{
	fill(pkt, len, seed);
	memset(pkt + 10, 0, 2); /* a tap leaves num_buffers to us */
	assert_int_equal(send(f->peer, pkt, len, 0), (ssize_t)len);
}

static uint16_t num_buffers_at(uint64_t gpa)
{
	uint16_t v;

	memcpy(&v, host(gpa + 10, 2), 2);
	return v;
}

static void test_rx_one_chain(void **state)
{
	struct fixture *f = *state;
	uint8_t pkt[HDR + 100];

	driver_init(f, 0);
	uint64_t gpa = add_rx(f, 2048);

	add_rx(f, 2048); /* a spare: with an empty ring the device stops reading */
	send_packet(f, pkt, sizeof(pkt), 1);
	virtio_net_notify(f->net, VIRTIO_NET_RXQ);

	uint32_t h, len;

	ring_next_used(&f->rx, &h, &len);
	assert_int_equal(len, sizeof(pkt));
	assert_memory_equal(host(gpa, 10), pkt, 10);
	assert_memory_equal(host(gpa + HDR, 100), pkt + HDR, 100);
	assert_int_equal(num_buffers_at(gpa), 1); /* was 0xeeee */
	assert_true(f->net->watch & EPOLLIN);
	assert_int_equal(ring_used_idx(&f->rx), 1);
}

static void test_rx_merged_across_chains(void **state)
{
	struct fixture *f = *state;
	static uint8_t pkt[HDR + 4000];
	uint64_t gpa[4];

	driver_init(f, 1ULL << VIRTIO_NET_F_MRG_RXBUF | 1ULL << VIRTIO_RING_F_EVENT_IDX);
	for (int i = 0; i < 4; i++)
		gpa[i] = add_rx(f, 1500);
	send_packet(f, pkt, sizeof(pkt), 9);
	virtio_net_notify(f->net, VIRTIO_NET_RXQ);

	uint32_t h, len, total = 0;
	static const uint32_t want[3] = { 1500, 1500, HDR + 4000 - 3000 };

	for (int i = 0; i < 3; i++) {
		ring_next_used(&f->rx, &h, &len);
		assert_int_equal(h, i);
		assert_int_equal(len, want[i]);
		if (i == 0)
			assert_memory_equal(host(gpa[0], 10), pkt, 10);
		else
			assert_memory_equal(host(gpa[i], len), pkt + total, len);
		total += len;
	}
	assert_memory_equal(host(gpa[0] + HDR, 1500 - HDR), pkt + HDR, 1500 - HDR);
	assert_int_equal(num_buffers_at(gpa[0]), 3);
	assert_int_equal(ring_used_idx(&f->rx), 3); /* the fourth chain is still free */
	assert_int_equal(f->net->rx_packets, 1);

	/* The next small packet goes into the fourth chain, alone. */
	send_packet(f, pkt, HDR + 50, 4);
	virtio_net_backend_event(f->net, EPOLLIN);
	ring_next_used(&f->rx, &h, &len);
	assert_int_equal(h, 3);
	assert_int_equal(len, HDR + 50);
	assert_int_equal(num_buffers_at(gpa[3]), 1);
}

/* The header split over two buffers of the first chain, merged packet. */
static void test_rx_header_split_over_buffers(void **state)
{
	struct fixture *f = *state;
	static uint8_t pkt[HDR + 3000];
	struct ring_buf first[2] = { { alloc_data(f, 11), 11, true },
				     { alloc_data(f, 989), 989, true } };

	driver_init(f, 1ULL << VIRTIO_NET_F_MRG_RXBUF);
	ring_add_chain(&f->rx, first, 2);
	uint64_t second = add_rx(f, 4096);

	send_packet(f, pkt, sizeof(pkt), 5);
	virtio_net_notify(f->net, VIRTIO_NET_RXQ);

	uint32_t h, len;

	ring_next_used(&f->rx, &h, &len);
	assert_int_equal(len, 1000);
	ring_next_used(&f->rx, &h, &len);
	assert_int_equal(len, sizeof(pkt) - 1000);
	assert_memory_equal(host(second, len), pkt + 1000, len);
	/* num_buffers = 2: low byte at offset 10 of buffer one, high byte first in buffer two. */
	assert_int_equal(*(uint8_t *)host(first[0].gpa + 10, 1), 2);
	assert_int_equal(*(uint8_t *)host(first[1].gpa, 1), 0);
}

static void test_rx_no_buffers_pauses_then_resumes(void **state)
{
	struct fixture *f = *state;
	uint8_t pkt[HDR + 64];

	driver_init(f, 0);
	assert_false(f->net->watch & EPOLLIN); /* nothing read before the driver posts buffers */
	send_packet(f, pkt, sizeof(pkt), 2);
	virtio_net_notify(f->net, VIRTIO_NET_RXQ); /* a notification, but an empty ring */
	assert_true(f->net->rx_paused);
	assert_false(f->net->watch & EPOLLIN);
	assert_int_equal(ring_used_idx(&f->rx), 0);

	uint64_t gpa = add_rx(f, 1600);

	add_rx(f, 1600);
	virtio_net_notify(f->net, VIRTIO_NET_RXQ);
	assert_int_equal(ring_used_idx(&f->rx), 1);
	assert_memory_equal(host(gpa + HDR, 64), pkt + HDR, 64);
	assert_true(f->net->watch & EPOLLIN);
	assert_int_equal(f->net->rx_dropped, 0);
}

/* Merged: too few buffers for the packet: it waits (no drop), then completes. */
static void test_rx_merge_waits_for_buffers(void **state)
{
	struct fixture *f = *state;
	static uint8_t pkt[HDR + 4000];

	driver_init(f, 1ULL << VIRTIO_NET_F_MRG_RXBUF | 1ULL << VIRTIO_RING_F_EVENT_IDX);
	uint64_t first = add_rx(f, 1500);

	send_packet(f, pkt, sizeof(pkt), 6);
	virtio_net_notify(f->net, VIRTIO_NET_RXQ);
	assert_int_equal(ring_used_idx(&f->rx), 0);
	assert_true(f->net->rx_paused);
	assert_int_equal(f->net->rx_pending_len, sizeof(pkt));
	add_rx(f, 1500);
	uint64_t third = add_rx(f, 2000);

	add_rx(f, 2000);
	virtio_net_notify(f->net, VIRTIO_NET_RXQ);
	assert_int_equal(ring_used_idx(&f->rx), 3);
	assert_int_equal(num_buffers_at(first), 3);
	assert_memory_equal(host(third, sizeof(pkt) - 3000), pkt + 3000, sizeof(pkt) - 3000);
	assert_int_equal(f->net->rx_pending_len, 0);
	assert_false(f->net->rx_paused);
}

/* Without MRG_RXBUF a chain must hold the whole packet; a larger one is dropped. */
static void test_rx_without_mrg_needs_whole_packet(void **state)
{
	struct fixture *f = *state;
	static uint8_t pkt[HDR + 4000];

	driver_init(f, 0);
	uint64_t gpa = add_rx(f, 1600);

	send_packet(f, pkt, sizeof(pkt), 7);
	send_packet(f, pkt, HDR + 80, 8);
	virtio_net_notify(f->net, VIRTIO_NET_RXQ);
	assert_int_equal(f->net->rx_dropped, 1);
	assert_int_equal(ring_used_idx(&f->rx), 1);

	uint32_t h, len;

	ring_next_used(&f->rx, &h, &len);
	assert_int_equal(len, HDR + 80);
	assert_memory_equal(host(gpa + HDR, 80), pkt + HDR, 80);
}

static void test_rx_malformed_chains_returned_empty(void **state)
{
	struct fixture *f = *state;
	uint8_t pkt[HDR + 20];
	struct ring_buf readable = { alloc_data(f, 100), 100, false };
	struct ring_buf tiny = { alloc_data(f, 8), 8, true };

	driver_init(f, 0);
	ring_add_chain(&f->rx, &readable, 1);
	ring_add_chain(&f->rx, &tiny, 1);
	add_rx(f, 1600);
	send_packet(f, pkt, sizeof(pkt), 1);
	virtio_net_notify(f->net, VIRTIO_NET_RXQ);

	uint32_t h, len;

	ring_next_used(&f->rx, &h, &len);
	assert_int_equal(len, 0);
	ring_next_used(&f->rx, &h, &len);
	assert_int_equal(len, 0);
	ring_next_used(&f->rx, &h, &len);
	assert_int_equal(len, sizeof(pkt));
}

/* A ring index far ahead of ours: the device asks for a reset instead of reading on. */
static void test_rx_broken_ring(void **state)
{
	struct fixture *f = *state;

	driver_init(f, 0);
	*(uint16_t *)host(avail_gpa(VIRTIO_NET_RXQ) + 2, 2) = QSIZE + 5;
	virtio_net_notify(f->net, VIRTIO_NET_RXQ);
	assert_true(f->net->transport.status & VIRTIO_STATUS_NEEDS_RESET);
	assert_false(f->net->watch & EPOLLIN);
}

static void test_reset_clears_state(void **state)
{
	struct fixture *f = *state;
	static uint8_t pkt[HDR + 4000];

	driver_init(f, 1ULL << VIRTIO_NET_F_MRG_RXBUF);
	add_rx(f, 1500);
	send_packet(f, pkt, sizeof(pkt), 6);
	virtio_net_notify(f->net, VIRTIO_NET_RXQ);
	assert_int_not_equal(f->net->rx_pending_len, 0);
	mmio_write32(&f->net->transport, REG_STATUS, 0);
	assert_int_equal(f->net->rx_pending_len, 0);
	assert_true(f->net->rx_paused);
	assert_int_equal(f->net->watch, 0);
}

static void test_save_load(void **state)
{
	struct fixture *f = *state;
	static uint8_t pkt[HDR + 4000], buf[128 * 1024];
	static const uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 2 };
	int sv[2];

	driver_init(f, 1ULL << VIRTIO_NET_F_MRG_RXBUF);
	add_rx(f, 1500);
	send_packet(f, pkt, sizeof(pkt), 6);
	virtio_net_notify(f->net, VIRTIO_NET_RXQ);
	long n = virtio_net_save(f->net, buf, sizeof(buf));

	assert_true(n > (long)sizeof(pkt));
	assert_int_equal(virtio_net_save(f->net, buf, 100), -ENOSPC);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv), 0);
	struct virtio_net *other = virtio_net_create_detached(&mem, sv[0], mac, NULL);

	assert_int_equal(virtio_net_load(other, buf, n - 1), -EINVAL);
	buf[0] ^= 0xff; /* the version */
	assert_int_equal(virtio_net_load(other, buf, n), -EINVAL);
	buf[0] ^= 0xff;
	assert_int_equal(virtio_net_load(other, buf, n), 0);
	assert_int_equal(other->rx_pending_len, sizeof(pkt));
	assert_memory_equal(other->rx_bounce, pkt, sizeof(pkt));
	assert_int_equal(other->transport.status, 15);
	virtio_net_free(other);
	close(sv[0]);
	close(sv[1]);
}

/* ---- MAC and command line ---- */

static void test_parse_mac(void **state)
{
	uint8_t mac[6] = { 0 };
	static const uint8_t want[6] = { 0x52, 0x54, 0x00, 0xab, 0xCD, 0xef };
	static const char *const bad[] = {
		"", "52:54:00:ab:cd", "52:54:00:ab:cd:ef:01", "52:54:00:ab:cd:eg",
		"52-54-00-ab-cd-ef", "5254.00ab.cdef", "52:54:00:ab:cd:e", "2:54:00:ab:cd:ef0",
		"52:54:00:ab:cd:ef ", " 52:54:00:ab:cd:ef", "52::54:00:ab:cd:e", "0x:54:00:ab:cd:ef",
	};

	(void)state;
	assert_int_equal(parse_mac("52:54:00:ab:CD:ef", mac), 0);
	assert_memory_equal(mac, want, 6);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		uint8_t m[6] = { 1, 2, 3, 4, 5, 6 };

		assert_int_equal(parse_mac(bad[i], m), -1);
		assert_int_equal(m[0], 1); /* untouched on failure */
	}
	assert_int_equal(parse_mac(NULL, mac), -1);
}

static void test_random_mac(void **state)
{
	uint8_t a[6], b[6];

	(void)state;
	for (int i = 0; i < 64; i++) {
		random_mac(a);
		assert_int_equal(a[0] & 1, 0); /* unicast */
		assert_int_equal(a[0] & 2, 2); /* locally administered */
	}
	random_mac(b);
	assert_memory_not_equal(a, b, 6);
}

static void test_net_config_parse(void **state)
{
	struct net_config cfg;
	const char *why = NULL;
	char ok1[] = "tap=tap0", ok2[] = "tap=vm-tap1,mac=52:54:00:12:34:56";
	char ok3[] = "mac=02:00:00:00:00:01,tap=t";
	static const char *const bad[] = {
		"", "tap=", "mac=52:54:00:12:34:56", "tap=tap0,mac=52:54:00:12:34",
		"tap=tap0,mac=zz:54:00:12:34:56", "tap=tap0,bogus=1", "tap=tap0,", ",tap=tap0",
		"tap=a,,mac=02:00:00:00:00:01", "tap=0123456789abcdef", "tap=a/b", "tap=a,tap=b",
		"tap=tap0,mac=01:00:5e:00:00:01", "tap=tap0,mac=00:00:00:00:00:00", "tap0",
		"tap=tap0,mac=02:00:00:00:00:01,mac=02:00:00:00:00:02",
	};

	(void)state;
	assert_int_equal(net_config_parse(ok1, &cfg, &why), 0);
	assert_string_equal(cfg.tap, "tap0");
	assert_false(cfg.has_mac);
	assert_int_equal(net_config_parse(ok2, &cfg, &why), 0);
	assert_string_equal(cfg.tap, "vm-tap1");
	assert_true(cfg.has_mac);
	assert_int_equal(cfg.mac[5], 0x56);
	assert_int_equal(net_config_parse(ok3, &cfg, &why), 0);
	assert_string_equal(cfg.tap, "t");
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		char copy[64];

		why = NULL;
		strcpy(copy, bad[i]);
		assert_int_equal(net_config_parse(copy, &cfg, &why), -1);
		assert_non_null(why);
	}
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_header_layout),
		T(test_features_offered),
		T(test_tx_chain_of_several_buffers),
		T(test_tx_malformed_dropped),
		T(test_tx_backpressure),
		T(test_rx_one_chain),
		T(test_rx_merged_across_chains),
		T(test_rx_header_split_over_buffers),
		T(test_rx_no_buffers_pauses_then_resumes),
		T(test_rx_merge_waits_for_buffers),
		T(test_rx_without_mrg_needs_whole_packet),
		T(test_rx_malformed_chains_returned_empty),
		T(test_rx_broken_ring),
		T(test_reset_clears_state),
		T(test_save_load),
		cmocka_unit_test(test_parse_mac),
		cmocka_unit_test(test_random_mac),
		cmocka_unit_test(test_net_config_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
