/*
 * A small virtio-net driver over virtio-mmio, set up the way Linux's
 * virtio_net does it: VERSION_1, MAC, STATUS and MRG_RXBUF of those
 * offered, receiveq 0 and transmitq 1, no offloads (the 12-byte header's
 * fields are all 0 on transmit; num_buffers is read on receive).
 * Receive buffers are rxsz bytes each (rxbuf=, default 2048); a frame
 * may span several with MRG_RXBUF.  Each transmit slot is one readable
 * descriptor holding the header and the frame.  Interrupts are suppressed
 * (VRING_AVAIL_F_NO_INTERRUPT) except while the CPU sleeps in net_idle_wait.
 */
#include "net.h"

#define TX_BATCH	32
#define NS_PER_MS	1000000ULL

struct net nets[MAX_NET];
unsigned nnet;

static uint8_t cfg8(const struct net *nt, unsigned off)
{
	return *(volatile uint8_t *)(nt->v->r.base + VR_CONFIG + off);
}

bool net_link_up(const struct net *nt)
{
	if (!(nt->feat & NF_STATUS))
		return true;
	return *(volatile uint16_t *)(nt->v->r.base + VR_CONFIG + 6) & 1;
}

static void read_mac(struct net *nt)
{
	if (!(nt->feat & NF_MAC)) {	/* as Linux: a random local address */
		static const uint8_t def[6] = { 0x52, 0x54, 0x00, 0x6d, 0x74, 0 };

		memcpy(nt->mac, def, 6);
		nt->mac[5] = (uint8_t)nt->n;
		return;
	}
	for (int i = 0; i < 6; i++)
		nt->mac[i] = cfg8(nt, i);
}

static void alloc_buffers(struct net *nt)
{
	if (nt->qmem)
		return;
	nt->rxsz = (uint32_t)cmdline_u64("rxbuf", 2048);
	if (nt->rxsz < 64 || nt->rxsz > 65536)
		fail("rxbuf=%u out of range 64..65536", nt->rxsz);
	nt->qmem = dma_alloc(2 * VQ_MEM);
	nt->rxbuf = dma_alloc((uint64_t)VQ_MAX * nt->rxsz);
	nt->txbuf = dma_alloc((uint64_t)VQ_MAX * TX_SLOT);
}

static void rx_post(struct net *nt, uint16_t id)
{
	nt->rx.desc[id] = (struct vdesc){ (uint64_t)nt->rxbuf +
		(uint64_t)id * nt->rxsz, nt->rxsz, VD_WRITE, 0 };
	vq_publish(&nt->rx, id);
	nt->rx_unkicked++;
}

static void rings_fill(struct net *nt)
{
	for (uint16_t i = 0; i < nt->rx.qsz; i++)
		rx_post(nt, i);
	nt->ntxfree = 0;
	for (uint16_t i = 0; i < nt->tx.qsz; i++)
		nt->txfree[nt->ntxfree++] = i;
	nt->rx.avail[0] = VRING_AVAIL_NO_INTERRUPT;
	nt->tx.avail[0] = VRING_AVAIL_NO_INTERRUPT;
	nt->tx_unkicked = 0;
}

/* Reset, features, queues, buffers, DRIVER_OK, receive buffers kicked. */
const char *net_init(struct net *nt)
{
	uint64_t want = VF_VERSION_1 | NF_MAC | NF_STATUS;
	const char *err;

	if (cmdline_u64("mrg", 1))
		want |= NF_MRG_RXBUF;
	if ((err = vdev_negotiate(nt->v, want, &nt->feat)))
		return err;
	alloc_buffers(nt);
	if (!(nt->feat & NF_MRG_RXBUF) && nt->rxsz < VNET_HDR + FRAME_MAX)
		return "rxbuf= too small without MRG_RXBUF";
	if ((err = vq_setup(&nt->rx, nt->v, 0, nt->qmem, VQ_MAX)) ||
	    (err = vq_setup(&nt->tx, nt->v, 1, nt->qmem + VQ_MEM, VQ_MAX)))
		return err;
	read_mac(nt);
	rings_fill(nt);
	vdev_driver_ok(nt->v);
	vq_kick(&nt->rx);
	nt->rx_unkicked = 0;
	return NULL;
}

static void print_mac(const struct net *nt)
{
	const uint8_t *m = nt->mac;

	say("net%u mac %02x:%02x:%02x:%02x:%02x:%02x link %s mrg %u", nt->n,
	    m[0], m[1], m[2], m[3], m[4], m[5], net_link_up(nt) ? "up" : "down",
	    nt->feat & NF_MRG_RXBUF ? 1 : 0);
}

/* Every virtio-net device, in discovery order, up to MAX_NET. */
unsigned net_open_all(void)
{
	const char *err;

	for (unsigned i = 0; i < sys.nvdev && nnet < MAX_NET; i++) {
		struct net *nt = &nets[nnet];

		if (sys.vdev[i].id != VIRTIO_ID_NET)
			continue;
		nt->v = &sys.vdev[i];
		nt->n = nnet;
		nt->vidx = i;
		gsi_route(nt->v->r.gsi, VEC_VIRTIO + i);
		if ((err = net_init(nt)))
			fail("net%u init: %s", nnet, err);
		print_mac(nt);
		nnet++;
	}
	return nnet;
}

/* ---- receive ---- */

static uint16_t num_buffers(const struct net *nt, const uint8_t *b,
			    uint16_t avail)
{
	uint16_t nb = (uint16_t)(b[10] | b[11] << 8);

	if (!(nt->feat & NF_MRG_RXBUF) || !nb || nb > nt->rx.qsz)
		return 1;
	return nb > avail ? 0 : nb;	/* 0: the rest is not there yet */
}

/* Pop @nb used buffers of one frame, hand it to @fn, post them again. */
static void rx_frame(struct net *nt, uint16_t nb, frame_fn fn)
{
	uint16_t ids[VQ_MAX];
	uint32_t id, len, have = 0;

	for (uint16_t i = 0; i < nb; i++) {
		vq_pop(&nt->rx, &id, &len);
		ids[i] = (uint16_t)(id % nt->rx.qsz);
		uint8_t *b = nt->rxbuf + (uint64_t)ids[i] * nt->rxsz;
		uint32_t skip = i ? 0 : VNET_HDR;

		len = len > nt->rxsz ? nt->rxsz : len;
		if (len < skip)
			len = skip;
		if (nb == 1)
			fn(nt, b + skip, len - skip);
		else if (have + len - skip <= sizeof(nt->frame))
			memcpy(nt->frame + have, b + skip, len - skip);
		have += len - skip;
	}
	if (nb > 1 && have <= sizeof(nt->frame))
		fn(nt, nt->frame, have);
	for (uint16_t i = 0; i < nb; i++)
		rx_post(nt, ids[i]);
}

/* Every complete frame in the used ring; returns how many. */
unsigned net_rx_poll(struct net *nt, frame_fn fn)
{
	struct vq *q = &nt->rx;
	unsigned frames = 0;

	for (;;) {
		uint16_t avail = (uint16_t)(vq_used_idx(q) - q->last_used), nb;
		volatile const uint32_t *e;

		if (!avail)
			break;
		barrier();
		e = (volatile const uint32_t *)(q->used + 4 +
						8 * (q->last_used % q->qsz));
		nb = num_buffers(nt, nt->rxbuf + (uint64_t)(e[0] % q->qsz) *
				 nt->rxsz, avail);
		if (!nb)
			break;
		rx_frame(nt, nb, fn);
		frames++;
	}
	if (nt->rx_unkicked) {
		vq_kick(q);
		nt->rx_unkicked = 0;
	}
	return frames;
}

/* ---- transmit ---- */

void net_tx_reclaim(struct net *nt)
{
	uint32_t id, len;

	while (vq_pop(&nt->tx, &id, &len))
		if (id < nt->tx.qsz && nt->ntxfree < nt->tx.qsz)
			nt->txfree[nt->ntxfree++] = (uint16_t)id;
}

void net_tx_flush(struct net *nt)
{
	if (nt->tx_unkicked) {
		vq_kick(&nt->tx);
		nt->tx_unkicked = 0;
	}
}

/* Sleep until the device hands back a transmit slot (1 s at most). */
static bool tx_wait_slot(struct net *nt)
{
	uint64_t deadline = now_ns() + 1000 * NS_PER_MS;

	net_tx_flush(nt);
	while (!nt->ntxfree && now_ns() < deadline) {
		cli();
		nt->tx.avail[0] = 0;
		mb();
		if (!vq_pending(&nt->tx))
			sti_hlt();
		sti();
		nt->tx.avail[0] = VRING_AVAIL_NO_INTERRUPT;
		net_tx_reclaim(nt);
	}
	return nt->ntxfree;
}

/* The frame area of a free slot (after the header), or NULL. */
uint8_t *net_tx_alloc(struct net *nt, unsigned *slot)
{
	net_tx_reclaim(nt);
	if (!nt->ntxfree && !tx_wait_slot(nt))
		return NULL;
	*slot = nt->txfree[--nt->ntxfree];
	return nt->txbuf + (uint64_t)*slot * TX_SLOT + VNET_HDR;
}

void net_tx_commit(struct net *nt, unsigned slot, uint32_t len)
{
	uint8_t *b = nt->txbuf + (uint64_t)slot * TX_SLOT;

	memset(b, 0, VNET_HDR);
	nt->tx.desc[slot] = (struct vdesc){ (uint64_t)b, VNET_HDR + len, 0, 0 };
	vq_publish(&nt->tx, (uint16_t)slot);
	if (++nt->tx_unkicked >= TX_BATCH)
		net_tx_flush(nt);
}

static bool any_pending(void)
{
	for (unsigned i = 0; i < nnet; i++)
		if (vq_pending(&nets[i].rx) || vq_pending(&nets[i].tx))
			return true;
	return false;
}

static void set_irqs(uint16_t flags)
{
	for (unsigned i = 0; i < nnet; i++) {
		nets[i].rx.avail[0] = flags;
		nets[i].tx.avail[0] = flags;
	}
}

/* Nothing to do: sleep until a device interrupt or the periodic tick. */
void net_idle_wait(void)
{
	cli();
	set_irqs(0);
	mb();
	if (!any_pending())
		sti_hlt();
	sti();
	set_irqs(VRING_AVAIL_NO_INTERRUPT);
}
