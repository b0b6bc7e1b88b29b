/*
 * virtio-net. TX: each chain is a vnet header and a frame, all readable; it
 * goes to the backend in one writev straight from guest memory. RX: a packet
 * is read straight into the guest's next RX chain; only one larger than that
 * chain lands partly in a bounce buffer, from where it is spread over more
 * chains (MRG_RXBUF). Neither direction drops for lack of room: a full
 * backend parks TX until EPOLLOUT, an empty RX ring stops reading the
 * backend until the guest adds buffers. Everything runs on the I/O thread
 * under the transport lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>
#include <linux/if_tun.h>

#include "../vmm/log.h"
#include "../vmm/vm.h"
#include "tap.h"
#include "virtio_net.h"

#define VIRTIO_ID_NET 1
#define NUM_BUFFERS_OFFSET 10 /* of num_buffers in struct virtio_net_hdr_v1 */
/* Packets or chains per event, so one busy direction cannot hold the I/O thread. */
#define RX_BUDGET 256
#define TX_BUDGET VIRTQ_MAX_SIZE
#define STATE_VERSION 1

/* What an RX step tells the loop. */
enum rx_result {
	RX_AGAIN,	/* a packet went in (or was dropped): try the next */
	RX_IDLE,	/* the backend has nothing more for now */
	RX_NO_BUFFERS,	/* the guest must add RX buffers first */
};

static bool has(const struct virtio_net *net, unsigned bit)
{
	return virtio_mmio_has_feature(&net->transport, bit);
}

static bool queue_live(const struct virtio_net *net, int q)
{
	const struct virtio_mmio *t = &net->transport;

	return (t->status & VIRTIO_STATUS_DRIVER_OK) && !(t->status & VIRTIO_STATUS_NEEDS_RESET) &&
	       t->queues[q].ready;
}

/* Watch the backend for what we are waiting for, and nothing else (no spinning). */
static void update_watch(struct virtio_net *net)
{
	uint32_t want = 0;

	if (net->backend_dead)
		return;
	if (!net->rx_paused)
		want |= EPOLLIN;
	if (net->tx_blocked)
		want |= EPOLLOUT;
	if (want == net->watch)
		return;
	if (net->loop && event_loop_modify(net->loop, net->fd, want) < 0)
		log_debug("virtio-net: cannot change what fd %d is watched for", net->fd);
	net->watch = want;
}

/* Hung up or failed: stop watching it (errors would be reported forever), drop TX. */
static void backend_failed(struct virtio_net *net, const char *why)
{
	if (net->backend_dead)
		return;
	log_msg("%s %s: %s; the network is down", net->is_tap ? "tap" : "backend",
		net->is_tap ? net->ifname : "fd", why);
	net->backend_dead = true;
	net->watch = 0;
	if (net->loop)
		event_loop_remove(net->loop, net->fd);
}

/* What the tap may hand us: only offloads the guest took (TSO needs checksum offload). */
static unsigned guest_offloads(const struct virtio_net *net)
{
	unsigned f;

	if (!has(net, VIRTIO_NET_F_GUEST_CSUM))
		return 0;
	f = TUN_F_CSUM;
	if (has(net, VIRTIO_NET_F_GUEST_TSO4))
		f |= TUN_F_TSO4;
	if (has(net, VIRTIO_NET_F_GUEST_TSO6))
		f |= TUN_F_TSO6;
	if (has(net, VIRTIO_NET_F_GUEST_UFO))
		f |= TUN_F_UFO;
	return f;
}

/* Features are final once the driver is live; called from every path that moves packets. */
static void sync_offloads(struct virtio_net *net)
{
	int err;

	if (net->offloads_set || !net->is_tap)
		return;
	net->offloads_set = true;
	err = tap_set_offload(net->fd, guest_offloads(net));
	if (err)
		log_msg("tap %s: TUNSETOFFLOAD: %s", net->ifname, strerror(-err));
}

/* ---- TX ---- */

static bool tx_chain_ok(const struct virtq_chain *c)
{
	return c->nin == 0 && c->out_len >= VIRTIO_NET_HDR_BYTES &&
	       c->out_len <= VIRTIO_NET_MAX_PACKET;
}

/* Hand the chain (header + frame) to the backend. false: it is full, try later. */
static bool tx_send(struct virtio_net *net)
{
	const struct virtq_chain *c = &net->chain;
	struct iovec iov[VIRTQ_MAX_CHAIN];
	ssize_t n;

	for (int i = 0; i < c->nout; i++)
		iov[i] = (struct iovec){ c->bufs[i].host, c->bufs[i].len };
	do
		n = writev(net->fd, iov, c->nout);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno == EAGAIN)
		return false;
	if (n < 0) {
		/* The frame itself was refused (a bad GSO header, say): drop it alone. */
		log_debug("virtio-net: tx: %s", strerror(errno));
		net->tx_dropped++;
	} else {
		net->tx_packets++;
	}
	return true;
}

static void process_tx(struct virtio_net *net)
{
	struct virtio_mmio *t = &net->transport;
	struct virtq *vq = &t->queues[VIRTIO_NET_TXQ];
	bool used = false;
	int i;

	for (i = 0; i < TX_BUDGET; i++) {
		int r = virtq_pop(vq, t->mem, &net->chain);

		if (r == 0)
			break;
		if (r == -EIO) {
			virtio_mmio_set_broken(t, "tx avail ring index or head out of range");
			break;
		}
		if (r == 1 && tx_chain_ok(&net->chain) && !net->backend_dead) {
			if (!tx_send(net)) {
				/* Put it back: it is sent first when the backend has room. */
				vq->last_avail_idx--;
				net->tx_blocked = true;
				break;
			}
		} else {
			net->tx_dropped++;
		}
		virtq_push(vq, t->mem, net->chain.head, 0);
		used = true;
	}
	if (i == TX_BUDGET)
		virtio_mmio_kick(t, VIRTIO_NET_TXQ);
	if (used)
		virtio_mmio_used(t, VIRTIO_NET_TXQ);
	update_watch(net);
}

/* ---- RX ---- */

/* Host address of byte @off of the chain's writable part, or NULL past its end. */
static uint8_t *in_byte(const struct virtq_chain *c, uint64_t off)
{
	for (int i = c->nout; i < c->nout + c->nin; i++) {
		if (off < c->bufs[i].len)
			return c->bufs[i].host + off;
		off -= c->bufs[i].len;
	}
	return NULL;
}

/*
 * The next RX chain that can start a packet (writable only, room for the
 * header): 1, or 0 when there is none. Unusable chains go back empty.
 */
static int rx_pop_first(struct virtio_net *net)
{
	struct virtio_mmio *t = &net->transport;
	struct virtq *vq = &t->queues[VIRTIO_NET_RXQ];

	for (;;) {
		int r = virtq_pop(vq, t->mem, &net->chain);

		if (r == 1 && net->chain.nout == 0 && net->chain.in_len >= VIRTIO_NET_HDR_BYTES)
			return 1;
		if (r == 0)
			return 0;
		if (r == -EIO) {
			virtio_mmio_set_broken(t, "rx avail ring index or head out of range");
			return 0;
		}
		virtq_push(vq, t->mem, net->chain.head, 0);
	}
}

/* num_buffers of the header at the start of @c (which holds at least the header). */
static void set_num_buffers(const struct virtq_chain *c, uint16_t count)
{
	*in_byte(c, NUM_BUFFERS_OFFSET) = count & 0xff;
	*in_byte(c, NUM_BUFFERS_OFFSET + 1) = count >> 8;
}

/* Take one chain for the packet being merged at @off; false when the ring is empty. */
static bool merge_take(struct virtio_net *net, uint32_t *off, int *good, int *bad,
		       uint8_t **nb)
{
	struct virtio_mmio *t = &net->transport;
	struct virtq_chain *c = &net->chain;
	int r = virtq_pop(&t->queues[VIRTIO_NET_RXQ], t->mem, c);

	if (r == -EIO)
		virtio_mmio_set_broken(t, "rx avail ring index or head out of range");
	if (r == 0 || r == -EIO)
		return false;
	if (r < 0 || c->nout || c->in_len < (*good ? 1 : VIRTIO_NET_HDR_BYTES)) {
		net->bad_heads[(*bad)++] = c->head; /* returned empty after the packet */
		return true;
	}
	if (*good == 0) { /* the header is in here: remember where num_buffers went */
		nb[0] = in_byte(c, NUM_BUFFERS_OFFSET);
		nb[1] = in_byte(c, NUM_BUFFERS_OFFSET + 1);
	}
	uint64_t n = virtq_copy_to_in(c, 0, net->rx_bounce + *off, net->rx_pending_len - *off);

	net->merge_heads[*good] = c->head;
	net->merge_lens[*good] = n;
	(*good)++;
	*off += n;
	return true;
}

/*
 * Spread the packet waiting in rx_bounce over as many chains as it takes
 * (MRG_RXBUF). Without enough buffers, every chain taken goes back to the
 * ring and the packet waits; it is dropped only if even a full ring cannot
 * hold it. At most the ring size of chains, so num_buffers stays bounded.
 */
static enum rx_result rx_merge(struct virtio_net *net)
{
	struct virtio_mmio *t = &net->transport;
	struct virtq *vq = &t->queues[VIRTIO_NET_RXQ];
	uint32_t off = 0;
	int good = 0, bad = 0;
	uint8_t *nb[2] = { NULL, NULL };

	while (off < net->rx_pending_len && merge_take(net, &off, &good, &bad, nb))
		;
	if (t->status & VIRTIO_STATUS_NEEDS_RESET)
		return RX_NO_BUFFERS;
	if (off < net->rx_pending_len) {
		vq->last_avail_idx -= good + bad;
		if (good + bad < vq->size)
			return RX_NO_BUFFERS;
		net->rx_pending_len = 0; /* the guest's whole ring is too small for it */
		net->rx_dropped++;
		return RX_AGAIN;
	}
	*nb[0] = good & 0xff;
	*nb[1] = good >> 8;
	for (int i = 0; i < good; i++)
		virtq_push(vq, t->mem, net->merge_heads[i], net->merge_lens[i]);
	for (int i = 0; i < bad; i++)
		virtq_push(vq, t->mem, net->bad_heads[i], 0);
	net->rx_pending_len = 0;
	net->rx_packets++;
	return RX_AGAIN;
}

/* Read one packet into the chain's buffers, then the bounce buffer past them. */
static ssize_t rx_readv(struct virtio_net *net)
{
	const struct virtq_chain *c = &net->chain;
	struct iovec iov[VIRTQ_MAX_CHAIN + 1];
	uint64_t skip = c->in_len < sizeof(net->rx_bounce) ? c->in_len : sizeof(net->rx_bounce);
	int cnt = 0;
	ssize_t n;

	for (int i = c->nout; i < c->nout + c->nin; i++)
		iov[cnt++] = (struct iovec){ c->bufs[i].host, c->bufs[i].len };
	/* Whatever the chain's size, any packet fits: the bounce covers the rest. */
	iov[cnt++] = (struct iovec){ net->rx_bounce + skip, sizeof(net->rx_bounce) - skip };
	do
		n = readv(net->fd, iov, cnt);
	while (n < 0 && errno == EINTR);
	return n;
}

/* The packet overflowed the chain: gather its start into the bounce buffer too. */
static void gather_head(struct virtio_net *net)
{
	const struct virtq_chain *c = &net->chain;
	uint64_t off = 0;

	/* Only called when the chain is shorter than the packet, so shorter than the bounce. */
	for (int i = c->nout; i < c->nout + c->nin; i++) {
		memcpy(net->rx_bounce + off, c->bufs[i].host, c->bufs[i].len);
		off += c->bufs[i].len;
	}
}

static enum rx_result rx_read(struct virtio_net *net)
{
	struct virtio_mmio *t = &net->transport;
	struct virtq *vq = &t->queues[VIRTIO_NET_RXQ];
	ssize_t n;

	if (net->backend_dead)
		return RX_IDLE;
	if (!rx_pop_first(net))
		return RX_NO_BUFFERS;
	n = rx_readv(net);
	if (n >= VIRTIO_NET_HDR_BYTES && (uint64_t)n <= net->chain.in_len) {
		set_num_buffers(&net->chain, 1); /* the tap leaves those two bytes alone */
		virtq_push(vq, t->mem, net->chain.head, n);
		net->rx_packets++;
		return RX_AGAIN;
	}
	vq->last_avail_idx--; /* not used as it is: back to the ring */
	if (n < 0 && errno == EAGAIN)
		return RX_IDLE;
	if (n <= 0) {
		backend_failed(net, n == 0 ? "closed" : strerror(errno));
		return RX_IDLE;
	}
	if (n < VIRTIO_NET_HDR_BYTES || !has(net, VIRTIO_NET_F_MRG_RXBUF)) {
		net->rx_dropped++; /* a runt, or larger than the chains this driver posts */
		return RX_AGAIN;
	}
	gather_head(net);
	net->rx_pending_len = n;
	return rx_merge(net);
}

static void process_rx(struct virtio_net *net)
{
	struct virtio_mmio *t = &net->transport;
	struct virtq *vq = &t->queues[VIRTIO_NET_RXQ];
	uint16_t before = vq->used_idx;
	enum rx_result r = RX_AGAIN;

	if (!queue_live(net, VIRTIO_NET_RXQ)) {
		net->rx_paused = true;
		return;
	}
	/* Past the budget the backend is still readable: epoll brings us back. */
	for (int i = 0; i < RX_BUDGET && r == RX_AGAIN; i++)
		r = net->rx_pending_len ? rx_merge(net) : rx_read(net);
	if (r == RX_NO_BUFFERS)
		net->rx_paused = true; /* until the guest notifies the rx queue */
	if (vq->used_idx != before)
		virtio_mmio_used(t, VIRTIO_NET_RXQ);
}

/* ---- Events ---- */

static void queue_notify(void *dev, struct virtio_mmio *t, int q)
{
	struct virtio_net *net = dev;

	(void)t;
	sync_offloads(net);
	if (q == VIRTIO_NET_RXQ) {
		net->rx_paused = false; /* new buffers, perhaps: see what fits */
		process_rx(net);
	} else if (q == VIRTIO_NET_TXQ && !net->tx_blocked) {
		process_tx(net); /* when blocked, EPOLLOUT resumes it */
	}
	update_watch(net);
}

void virtio_net_notify(struct virtio_net *net, int q)
{
	struct virtio_mmio *t = &net->transport;

	pthread_mutex_lock(&t->lock);
	if (q >= 0 && q < t->ops->nqueues && queue_live(net, q))
		queue_notify(net, t, q);
	pthread_mutex_unlock(&t->lock);
}

static void backend_event_locked(struct virtio_net *net, uint32_t events)
{
	struct virtio_mmio *t = &net->transport;

	if (events & (EPOLLERR | EPOLLHUP)) {
		backend_failed(net, "hung up or failed");
		return;
	}
	if (!(t->status & VIRTIO_STATUS_DRIVER_OK) || (t->status & VIRTIO_STATUS_NEEDS_RESET)) {
		net->rx_paused = true; /* a notification after DRIVER_OK starts it again */
		net->tx_blocked = false;
		return;
	}
	sync_offloads(net);
	if ((events & EPOLLOUT) && net->tx_blocked) {
		net->tx_blocked = false;
		if (queue_live(net, VIRTIO_NET_TXQ))
			process_tx(net);
	}
	if ((events & EPOLLIN) && !net->rx_paused)
		process_rx(net);
}

void virtio_net_backend_event(struct virtio_net *net, uint32_t events)
{
	pthread_mutex_lock(&net->transport.lock);
	backend_event_locked(net, events);
	update_watch(net);
	pthread_mutex_unlock(&net->transport.lock);
}

static void backend_event(void *opaque, uint32_t events)
{
	virtio_net_backend_event(opaque, events);
}

/* The driver reset the device (transport lock held). */
static void net_virtio_reset(void *dev)
{
	struct virtio_net *net = dev;

	net->rx_pending_len = 0;
	net->tx_blocked = false;
	net->rx_paused = true;
	if (net->is_tap && net->offloads_set)
		tap_set_offload(net->fd, 0); /* the next driver may take fewer */
	net->offloads_set = false;
	update_watch(net);
}

static const struct virtio_device_ops net_virtio_ops = {
	.name = "virtio-net",
	.device_id = VIRTIO_ID_NET,
	.nqueues = 2,
	.queue_notify = queue_notify,
	.reset = net_virtio_reset,
};

/* ---- State ---- */

struct net_state {
	uint32_t version;
	uint32_t transport_len;
	uint32_t rx_pending_len;
	uint32_t reserved;
};

/* Call with the I/O thread stopped, so no packet moves between the two halves. */
long virtio_net_save(struct virtio_net *net, void *buf, size_t cap)
{
	struct net_state s = { .version = STATE_VERSION };
	long n;

	if (cap < sizeof(s))
		return -ENOSPC;
	n = virtio_mmio_save(&net->transport, (uint8_t *)buf + sizeof(s), cap - sizeof(s));
	if (n < 0)
		return n;
	pthread_mutex_lock(&net->transport.lock);
	s.transport_len = n;
	s.rx_pending_len = net->rx_pending_len;
	if (cap - sizeof(s) - n < s.rx_pending_len) {
		pthread_mutex_unlock(&net->transport.lock);
		return -ENOSPC;
	}
	memcpy((uint8_t *)buf + sizeof(s) + n, net->rx_bounce, s.rx_pending_len);
	pthread_mutex_unlock(&net->transport.lock);
	memcpy(buf, &s, sizeof(s));
	return sizeof(s) + n + s.rx_pending_len;
}

int virtio_net_load(struct virtio_net *net, const void *buf, size_t len)
{
	struct virtio_mmio *t = &net->transport;
	const uint8_t *p = buf;
	struct net_state s;
	int err;

	if (len < sizeof(s))
		return -EINVAL;
	memcpy(&s, p, sizeof(s));
	if (s.version != STATE_VERSION || s.rx_pending_len > VIRTIO_NET_MAX_PACKET ||
	    (s.rx_pending_len && s.rx_pending_len < VIRTIO_NET_HDR_BYTES) ||
	    s.transport_len > len - sizeof(s) ||
	    len - sizeof(s) - s.transport_len != s.rx_pending_len)
		return -EINVAL;
	err = virtio_mmio_load(t, p + sizeof(s), s.transport_len);
	if (err)
		return err;
	pthread_mutex_lock(&t->lock);
	memcpy(net->rx_bounce, p + sizeof(s) + s.transport_len, s.rx_pending_len);
	net->rx_pending_len = s.rx_pending_len;
	net->rx_paused = false; /* look again: the handlers pause if there is nothing to do */
	net->tx_blocked = false;
	net->offloads_set = false;
	update_watch(net);
	pthread_mutex_unlock(&t->lock);
	return 0; /* virtio_mmio_load kicked both queues: the handlers look again */
}

/* ---- Construction ---- */

static uint64_t offered_features(bool ufo)
{
	uint64_t f = 1ULL << VIRTIO_NET_F_MAC | 1ULL << VIRTIO_NET_F_STATUS |
		     1ULL << VIRTIO_NET_F_MRG_RXBUF | 1ULL << VIRTIO_NET_F_CSUM |
		     1ULL << VIRTIO_NET_F_GUEST_CSUM | 1ULL << VIRTIO_NET_F_GUEST_TSO4 |
		     1ULL << VIRTIO_NET_F_GUEST_TSO6 | 1ULL << VIRTIO_NET_F_HOST_TSO4 |
		     1ULL << VIRTIO_NET_F_HOST_TSO6 | 1ULL << VIRTIO_NET_F_HOST_UFO |
		     1ULL << VIRTIO_RING_F_INDIRECT_DESC | 1ULL << VIRTIO_RING_F_EVENT_IDX;

	return ufo ? f | 1ULL << VIRTIO_NET_F_GUEST_UFO : f;
}

static struct virtio_net *create(const struct guest_mem *mem, int fd, const uint8_t mac[6],
				 struct event_loop *loop, bool ufo)
{
	struct virtio_net *net = calloc(1, sizeof(*net));

	if (!net)
		return NULL;
	net->fd = fd;
	net->loop = loop;
	net->rx_paused = true; /* until the driver has posted RX buffers */
	memcpy(net->config.mac, mac, 6);
	net->config.status = VIRTIO_NET_S_LINK_UP;
	net->config.max_virtqueue_pairs = 1;
	net->config.mtu = 1500; /* MTU is not offered: informative only */
	virtio_mmio_init(&net->transport, &net_virtio_ops, net, mem, offered_features(ufo),
			 &net->config, sizeof(net->config));
	if (loop && event_loop_add(loop, fd, 0, backend_event, net) < 0) {
		virtio_mmio_destroy(&net->transport);
		free(net);
		return NULL;
	}
	return net;
}

struct virtio_net *virtio_net_create_detached(const struct guest_mem *mem, int fd,
					      const uint8_t mac[6], struct event_loop *loop)
{
	return create(mem, fd, mac, loop, true);
}

void virtio_net_free(struct virtio_net *net)
{
	if (net->loop && !net->backend_dead)
		event_loop_remove(net->loop, net->fd);
	virtio_mmio_destroy(&net->transport);
	free(net);
}

static void net_reset(void *dev)
{
	virtio_mmio_reset(&((struct virtio_net *)dev)->transport);
}

static long net_save(void *dev, void *buf, size_t cap)
{
	return virtio_net_save(dev, buf, cap);
}

static int net_load(void *dev, const void *buf, size_t len)
{
	return virtio_net_load(dev, buf, len);
}

static void net_destroy(void *dev)
{
	struct virtio_net *net = dev;
	int fd = net->fd;

	virtio_net_free(net);
	close(fd); /* a tap we created goes away with its last fd */
}

static const struct device_ops net_device_ops = {
	.name = "virtio-net",
	.reset = net_reset,
	.save = net_save,
	.load = net_load,
	.destroy = net_destroy,
};

/* Whether this kernel still lets a tap hand us UFO frames; offer GUEST_UFO only then. */
static bool tap_has_ufo(int fd)
{
	bool ok = tap_set_offload(fd, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_UFO) == 0;

	tap_set_offload(fd, 0);
	return ok;
}

struct virtio_net *virtio_net_create(struct vm *vm, const struct net_config *cfg)
{
	char ifname[TAP_IFNAMSIZ];
	uint8_t mac[6];
	int fd = tap_open(cfg->tap, ifname);
	struct virtio_net *net;

	if (fd < 0)
		die(EXIT_RUNTIME, "tap %s: %s", cfg->tap, tap_strerror(fd));
	if (cfg->has_mac)
		memcpy(mac, cfg->mac, 6);
	else
		random_mac(mac);
	net = create(&vm->mem, fd, mac, &vm->loop, tap_has_ufo(fd));
	if (!net || vm_add_device(vm, &net_device_ops, net) < 0)
		die(EXIT_RUNTIME, "tap %s: cannot create the device", cfg->tap);
	net->is_tap = true;
	memcpy(net->ifname, ifname, sizeof(net->ifname));
	virtio_mmio_attach(&net->transport, vm);
	log_debug("virtio-net: tap %s, mac %02x:%02x:%02x:%02x:%02x:%02x", ifname, mac[0], mac[1],
		  mac[2], mac[3], mac[4], mac[5]);
	return net;
}

/* ---- Command line ---- */

/* What the kernel takes as an interface name (dev_valid_name). */
static bool valid_ifname(const char *s)
{
	if (!*s || strlen(s) >= TAP_IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || *s == ' ' || (*s >= '\t' && *s <= '\r'))
			return false;
	return true;
}

static int net_option(char *opt, struct net_config *cfg, const char **why)
{
	if (!strncmp(opt, "tap=", 4)) {
		if (cfg->tap)
			return *why = "tap= given twice", -1;
		if (!valid_ifname(opt + 4))
			return *why = "tap= needs an interface name of 1 to 15 characters, "
				      "without '/', ':' or spaces", -1;
		cfg->tap = opt + 4;
		return 0;
	}
	if (!strncmp(opt, "mac=", 4)) {
		if (cfg->has_mac)
			return *why = "mac= given twice", -1;
		if (parse_mac(opt + 4, cfg->mac) < 0)
			return *why = "mac= needs six hex octets: xx:xx:xx:xx:xx:xx", -1;
		if (cfg->mac[0] & 1)
			return *why = "mac= is a multicast address", -1;
		if (!memcmp(cfg->mac, "\0\0\0\0\0\0", 6))
			return *why = "mac= is all zeroes", -1;
		cfg->has_mac = true;
		return 0;
	}
	return *why = "unknown option (tap=NAME, mac=MAC)", -1;
}

int net_config_parse(char *arg, struct net_config *cfg, const char **why)
{
	char *save = NULL;

	*cfg = (struct net_config){ 0 };
	if (!arg || !*arg || *arg == ',' || arg[strlen(arg) - 1] == ',' || strstr(arg, ",,"))
		return *why = "expected tap=NAME[,mac=MAC]", -1;
	for (char *opt = strtok_r(arg, ",", &save); opt; opt = strtok_r(NULL, ",", &save))
		if (net_option(opt, cfg, why) < 0)
			return -1;
	if (!cfg->tap)
		return *why = "missing tap=NAME", -1;
	return 0;
}
