/*
 * libFuzzer target: virtio-net queue processing on guest-written rings. The
 * input is two control bytes and then guest RAM (1 MiB, zero past the input):
 * the TX rings live at 0x0/0x1000/0x2000, the RX rings at 0x4000/0x5000/0x6000
 * and descriptors point wherever the input says. The TX queue is served into
 * a socketpair whose other end is drained each round (every frame sent must
 * arrive whole); with bit 3 of the first byte, a packet is also received.
 *   byte 0: bit 0 MRG_RXBUF, bit 1 EVENT_IDX, bit 2 INDIRECT_DESC, bit 3 RX too
 *   byte 1: queue size = 1 << (byte % 9)
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../devices/virtio_net.h"
#include "../../vmm/guest_mem.h"

#define CHECK(cond)                                                              \
	do {                                                                     \
		if (!(cond)) {                                                   \
			fprintf(stderr, "%s:%d: %s does not hold\n", __FILE__,   \
				__LINE__, #cond);                                \
			abort();                                                 \
		}                                                                \
	} while (0)

#define RAM (1 * MiB)
#define ROUNDS 4

static struct guest_mem mem;
static struct virtio_net *net;
static int peer;
static uint8_t frame[VIRTIO_NET_MAX_PACKET + 1];

static void reg(uint64_t off, uint32_t v)
{
	virtio_mmio_write(&net->transport, off, &v, 4);
}

static void init(void)
{
	static const uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 1 };
	int sv[2];

	guest_mem_layout(&mem, RAM);
	CHECK(guest_mem_map(&mem) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv) == 0);
	peer = sv[1];
	net = virtio_net_create_detached(&mem, sv[0], mac, NULL);
	CHECK(net);
}

static void driver_init(uint8_t flags, uint32_t qsize)
{
	uint32_t lo = (flags & 1 ? 1U << VIRTIO_NET_F_MRG_RXBUF : 0) |
		      (flags & 2 ? 1U << VIRTIO_RING_F_EVENT_IDX : 0) |
		      (flags & 4 ? 1U << VIRTIO_RING_F_INDIRECT_DESC : 0) |
		      1U << VIRTIO_NET_F_CSUM | 1U << VIRTIO_NET_F_HOST_TSO4;

	reg(REG_STATUS, 0); /* reset: forget the last run */
	reg(REG_STATUS, 3);
	reg(REG_DRIVER_FEATURES_SEL, 0);
	reg(REG_DRIVER_FEATURES, lo);
	reg(REG_DRIVER_FEATURES_SEL, 1);
	reg(REG_DRIVER_FEATURES, 1); /* VERSION_1 */
	reg(REG_STATUS, 11);
	for (uint32_t q = 0; q < 2; q++) {
		reg(REG_QUEUE_SEL, q);
		reg(REG_QUEUE_NUM, qsize);
		reg(REG_QUEUE_DESC_LOW, 0x4000 * q);
		reg(REG_QUEUE_DRIVER_LOW, 0x4000 * q + 0x1000);
		reg(REG_QUEUE_DEVICE_LOW, 0x4000 * q + 0x2000);
		reg(REG_QUEUE_READY, 1);
	}
	reg(REG_STATUS, 15);
}

/* Every frame the device counted as sent arrives, each at most one packet long. */
static void drain(uint64_t *received)
{
	ssize_t n;

	while ((n = recv(peer, frame, sizeof(frame), 0)) >= 0) {
		CHECK(n >= VIRTIO_NET_HDR_BYTES && n <= VIRTIO_NET_MAX_PACKET);
		(*received)++;
	}
	CHECK(errno == EAGAIN);
}

static void receive_one(const uint8_t *data, size_t size)
{
	size_t len = VIRTIO_NET_HDR_BYTES + (size > 4 ? (data[2] << 8 | data[3]) * 4 : 60);

	if (len > VIRTIO_NET_MAX_PACKET)
		len = VIRTIO_NET_MAX_PACKET;
	memset(frame, 0x5a, len);
	if (send(peer, frame, len, 0) < 0)
		return;
	virtio_net_notify(net, VIRTIO_NET_RXQ);
	virtio_net_backend_event(net, EPOLLIN);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *ram;
	uint64_t received = 0, sent_before;

	if (!net)
		init();
	if (size < 2)
		return 0;
	ram = gpa_ptr(&mem, 0, RAM);
	memset(ram, 0, RAM);
	memcpy(ram, data + 2, size - 2 < RAM ? size - 2 : RAM);
	driver_init(data[0], 1U << (data[1] % 9));
	drain(&received); /* anything the previous input left */
	received = 0;
	sent_before = net->tx_packets;
	for (int i = 0; i < ROUNDS; i++) {
		virtio_net_notify(net, VIRTIO_NET_TXQ);
		drain(&received);
		virtio_net_backend_event(net, EPOLLOUT);
		drain(&received);
	}
	CHECK(received == net->tx_packets - sent_before);
	if (data[0] & 8)
		receive_one(data, size);
	/* Whatever the guest wrote, the device stays within its bounds. */
	CHECK(net->rx_pending_len <= VIRTIO_NET_MAX_PACKET);
	while (recv(net->fd, frame, sizeof(frame), 0) >= 0) /* RX left unread */
		;
	return 0;
}
