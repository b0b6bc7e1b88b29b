/*
 * virtio-net over virtio-mmio (virtio 1.x, 5.1), backed by a tap interface
 * (or, for tests, any fd that keeps packet boundaries: a SOCK_SEQPACKET
 * socket). Queues: rx (0) and tx (1); no control queue, one queue pair.
 */
#ifndef MINIVMM_VIRTIO_NET_H
#define MINIVMM_VIRTIO_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio_mmio.h"

#define VIRTIO_NET_RXQ 0
#define VIRTIO_NET_TXQ 1
#define VIRTIO_NET_HDR_BYTES 12 /* struct virtio_net_hdr_v1 */
/* The largest frame we move: a 64 KiB GSO frame plus room for L2 headers. */
#define VIRTIO_NET_MAX_FRAME (65536 + 256)
#define VIRTIO_NET_MAX_PACKET (VIRTIO_NET_HDR_BYTES + VIRTIO_NET_MAX_FRAME)

/* Feature bits (5.1.3) */
#define VIRTIO_NET_F_CSUM 0
#define VIRTIO_NET_F_GUEST_CSUM 1
#define VIRTIO_NET_F_MTU 3
#define VIRTIO_NET_F_MAC 5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_UFO 10
#define VIRTIO_NET_F_HOST_TSO4 11
#define VIRTIO_NET_F_HOST_TSO6 12
#define VIRTIO_NET_F_HOST_UFO 14
#define VIRTIO_NET_F_MRG_RXBUF 15
#define VIRTIO_NET_F_STATUS 16

#define VIRTIO_NET_S_LINK_UP 1

struct vm;
struct event_loop;

struct virtio_net_hdr_v1 {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers; /* RX with MRG_RXBUF: chains this packet spans */
} __attribute__((packed));

struct virtio_net_config {
	uint8_t mac[6];
	uint16_t status;
	uint16_t max_virtqueue_pairs;
	uint16_t mtu;
} __attribute__((packed));

/* "--net tap=NAME[,mac=MAC]" */
struct net_config {
	const char *tap;
	uint8_t mac[6];
	bool has_mac;
};

/* Parse "tap=NAME[,mac=MAC]" into @cfg (which keeps pointers into @arg). -1 with @why. */
int net_config_parse(char *arg, struct net_config *cfg, const char **why);

struct virtio_net {
	struct virtio_mmio transport;
	struct virtio_net_config config;
	int fd;			  /* the backend: a tap, or a SOCK_SEQPACKET socket in tests */
	bool is_tap;		  /* offloads are set with TUNSETOFFLOAD */
	char ifname[16];
	struct event_loop *loop;  /* where fd is watched; NULL when detached */
	uint32_t watch;		  /* the events fd is watched for now */
	bool rx_paused;		  /* until the guest adds RX buffers (rx notification) */
	bool tx_blocked;	  /* the backend was full: resume on EPOLLOUT */
	bool backend_dead;	  /* hung up or failed: TX is dropped, RX is off */
	bool offloads_set;	  /* TUNSETOFFLOAD done for the current negotiation */
	uint32_t rx_pending_len;  /* a packet in rx_bounce, waiting for RX buffers */
	uint64_t rx_packets, rx_dropped, tx_packets, tx_dropped;
	uint16_t merge_heads[VIRTQ_MAX_SIZE]; /* chains of the packet being merged */
	uint32_t merge_lens[VIRTQ_MAX_SIZE];
	uint16_t bad_heads[VIRTQ_MAX_SIZE];   /* malformed chains met while merging */
	struct virtq_chain chain;	      /* scratch for the chain being served */
	uint8_t rx_bounce[VIRTIO_NET_MAX_PACKET];
};

/* Open the tap and attach the device to @vm. Dies with a one-line error (status 1). */
struct virtio_net *virtio_net_create(struct vm *vm, const struct net_config *cfg);

/*
 * For tests and fuzzing: a device on an open packet @fd (not a tap: no
 * offload ioctls), over @mem, not attached to a VM. With @loop, @fd is
 * added to it; without, tests call virtio_net_backend_event() themselves
 * and read ->watch. Returns NULL on allocation failure.
 */
struct virtio_net *virtio_net_create_detached(const struct guest_mem *mem, int fd,
					      const uint8_t mac[6], struct event_loop *loop);
/* Free the device (the fd is left open). */
void virtio_net_free(struct virtio_net *net);

/* What the I/O thread does on a notification of queue @q (takes the transport lock). */
void virtio_net_notify(struct virtio_net *net, int q);
/* What the I/O thread does when the backend fd reports @events (takes the lock). */
void virtio_net_backend_event(struct virtio_net *net, uint32_t events);

/* Device state for snapshots (transport, plus a received packet waiting for buffers). */
long virtio_net_save(struct virtio_net *net, void *buf, size_t cap);
int virtio_net_load(struct virtio_net *net, const void *buf, size_t len);

#endif
