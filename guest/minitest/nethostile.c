/*
 * test=nethostile: malformed chains on net0's transmit queue, each
 * followed by a gratuitous ARP that must still go out.  A chain must come
 * back in the used ring with len 0, or the device may set NEEDS_RESET
 * (then net0 is reset and set up again before the ARP).
 */
#include "net.h"

#define NS_PER_MS	1000000ULL

enum { H_LOOP, H_OOB, H_HDR_ONLY, H_WRITABLE, H_N };

static const char *const hname[H_N] = {
	"loop", "oob-addr", "header-only", "writable",
};

enum { W_USED, W_RESET, W_RESET_NOIRQ, W_TIMEOUT };

static unsigned take_slot(struct net *nt)
{
	net_tx_reclaim(nt);
	return nt->txfree[--nt->ntxfree];	/* all free between tests */
}

/* Lay out the bad chain of @kind at free slots and tell the device. */
static void hostile_post(struct net *nt, int kind)
{
	unsigned s = take_slot(nt), s2;
	uint8_t *b = nt->txbuf + (uint64_t)s * TX_SLOT;
	uint32_t flen = garp_build(nt, b + VNET_HDR);
	struct vdesc *d = nt->tx.desc;

	memset(b, 0, VNET_HDR);
	switch (kind) {
	case H_LOOP:
		d[s] = (struct vdesc){ (uint64_t)b, VNET_HDR, VD_NEXT,
				       (uint16_t)s };
		break;
	case H_OOB:
		d[s] = (struct vdesc){ 1ULL << 40, VNET_HDR + flen, 0, 0 };
		break;
	case H_HDR_ONLY:
		d[s] = (struct vdesc){ (uint64_t)b, VNET_HDR, 0, 0 };
		break;
	case H_WRITABLE:	/* a whole frame, then a writable buffer */
		s2 = take_slot(nt);
		d[s] = (struct vdesc){ (uint64_t)b, VNET_HDR + flen, VD_NEXT,
				       (uint16_t)s2 };
		d[s2] = (struct vdesc){ (uint64_t)nt->txbuf +
			(uint64_t)s2 * TX_SLOT, 64, VD_WRITE, 0 };
		break;
	}
	nt->v->isr = 0;
	vq_publish(&nt->tx, (uint16_t)s);
	vq_kick(&nt->tx);
}

static int check(struct net *nt, uint64_t end)
{
	if (vq_pending(&nt->tx))
		return W_USED;
	if ((nt->v->isr & VISR_CONFIG) && (vr(nt->v, VR_STATUS) & VS_NEEDS_RESET))
		return W_RESET;
	if (now_ns() >= end)
		return vr(nt->v, VR_STATUS) & VS_NEEDS_RESET ? W_RESET_NOIRQ :
							       W_TIMEOUT;
	return -1;
}

/* Sleep (transmit interrupts on) until something happens or @ms pass. */
static int tx_wait(struct net *nt, uint64_t ms)
{
	uint64_t end = now_ns() + ms * NS_PER_MS;
	int r;

	nt->tx.avail[0] = 0;
	for (;;) {
		cli();
		if ((r = check(nt, end)) >= 0)
			break;
		sti_hlt();
	}
	sti();
	nt->tx.avail[0] = VRING_AVAIL_NO_INTERRUPT;
	return r;
}

static const char *outcome(struct net *nt, char *tmp, size_t n, bool *bad)
{
	uint32_t id, len = 0, got = 0;

	switch (tx_wait(nt, 3000)) {
	case W_USED:
		while (vq_pop(&nt->tx, &id, &len))	/* the chain's head */
			if (id < nt->tx.qsz && nt->ntxfree < nt->tx.qsz)
				nt->txfree[nt->ntxfree++] = (uint16_t)id;
		got = len;
		*bad = got != 0;
		ksnprintf(tmp, n, "used-len%u", got);
		return tmp;
	case W_RESET:
		return "needs-reset";
	case W_RESET_NOIRQ:
		return "needs-reset-noirq";
	default:
		*bad = true;
		return "timeout";
	}
}

/* Free every slot the device will not hand back (the writable test's). */
static void slots_all_free(struct net *nt)
{
	nt->ntxfree = 0;
	for (uint16_t i = 0; i < nt->tx.qsz; i++)
		nt->txfree[nt->ntxfree++] = i;
}

static bool garp_out(struct net *nt)
{
	unsigned slot;
	uint8_t *f = net_tx_alloc(nt, &slot);
	uint32_t id, len;

	if (!f)
		return false;
	net_tx_commit(nt, slot, garp_build(nt, f));
	net_tx_flush(nt);
	if (tx_wait(nt, 1000) != W_USED)
		return false;
	while (vq_pop(&nt->tx, &id, &len))
		;
	slots_all_free(nt);
	return true;
}

static unsigned hostile(struct net *nt, int kind)
{
	char tmp[24];
	const char *out;
	bool bad = false, ok;

	hostile_post(nt, kind);
	out = outcome(nt, tmp, sizeof(tmp), &bad);
	if (strncmp(out, "used-", 5)) {
		const char *err = net_init(nt);

		if (err) {
			say("net hostile %s %s then reinit FAIL %s", hname[kind],
			    out, err);
			return 1;
		}
	}
	slots_all_free(nt);
	ok = garp_out(nt);
	say("net hostile %s %s then tx %s", hname[kind], out, ok ? "ok" : "FAIL");
	return bad || !ok;
}

void mode_nethostile(void)
{
	unsigned failures = 0;

	lapic_timer_periodic(VEC_TIMER);
	if (!net_open_all()) {
		say("result FAIL no virtio-net device");
		power_off_or_reset();
	}
	nets[0].ip = ip_arg("ip", "10.77.0.2");
	for (int k = 0; k < H_N; k++)
		failures += hostile(&nets[0], k);
	lapic_timer_stop();
	if (failures)
		say("result FAIL %u net checks failed", failures);
	else
		say("result ok");
	power_off_or_reset();
}
