/*
 * Just enough IPv4 for the network tests: ARP replies for our address,
 * ICMP echo replies, UDP to our port (netapp.c), all checksums computed
 * here (no offloads).  Frames in: Ethernet II, no VLANs, no fragments.
 */
#include "net.h"

#define ETH_ARP		0x0806
#define ETH_IP		0x0800
#define IP_ICMP		1
#define IP_UDP		17

static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static uint16_t ip_id;
uint16_t app_port = NP_PORT_DEFAULT;

uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/*
 * Add @p[0..n) as big-endian 16-bit words to @sum.  Summed as native
 * 64-bit words with end-around carry, folded and byte-swapped (RFC 1071:
 * the one's complement sum does not care about byte order).
 */
static uint32_t csum_add(uint32_t sum, const uint8_t *p, uint32_t n)
{
	uint64_t s = 0, w;

	for (; n >= 8; n -= 8, p += 8) {
		__builtin_memcpy(&w, p, 8);
		s += w;
		s += s < w;
	}
	for (w = 0; n >= 2; n -= 2, p += 2)
		w += (uint64_t)(p[0] | p[1] << 8);
	if (n)
		w += p[0];
	s += w;
	s += s < w;
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return sum + (uint32_t)((s & 0xff) << 8 | s >> 8);
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

void fmt_ip(char *buf, size_t n, uint32_t ip)
{
	ksnprintf(buf, n, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff,
		  (ip >> 8) & 0xff, ip & 0xff);
}

static bool parse_ip(const char *s, uint32_t *ip)
{
	uint32_t v = 0, part = 0;
	int dots = 0, digits = 0;

	for (;; s++) {
		if (*s >= '0' && *s <= '9' && digits < 3) {
			part = part * 10 + (uint32_t)(*s - '0');
			digits++;
		} else if ((*s == '.' || !*s) && digits && part < 256) {
			v = v << 8 | part;
			part = 0;
			digits = 0;
			if (!*s)
				break;
			dots++;
		} else {
			return false;
		}
	}
	*ip = v;
	return dots == 3;
}

uint32_t ip_arg(const char *key, const char *def)
{
	char val[32];
	uint32_t ip;

	if (!cmdline_get(sys.cmdline, key, val, sizeof(val)))
		ksnprintf(val, sizeof(val), "%s", def);
	if (!parse_ip(val, &ip))
		fail("bad %s=%s", key, val);
	return ip;
}

static void eth_fill(uint8_t *f, const uint8_t *dst, const uint8_t *src,
		     uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	put16(f + 12, type);
}

/* ---- ARP ---- */

static uint32_t arp_build(struct net *nt, uint8_t *f, uint16_t op,
			  const uint8_t *tha, uint32_t tpa, const uint8_t *dst)
{
	uint8_t *a = f + 14;

	eth_fill(f, dst, nt->mac, ETH_ARP);
	put16(a, 1);
	put16(a + 2, ETH_IP);
	a[4] = 6;
	a[5] = 4;
	put16(a + 6, op);
	memcpy(a + 8, nt->mac, 6);
	np_put32(a + 14, nt->ip);
	memcpy(a + 18, tha, 6);
	np_put32(a + 24, tpa);
	memset(f + 42, 0, 18);		/* pad to the 60-byte minimum */
	return 60;
}

/* A gratuitous ARP: request for our own address, broadcast. */
uint32_t garp_build(struct net *nt, uint8_t *f)
{
	static const uint8_t zero[6];

	return arp_build(nt, f, 1, zero, nt->ip, bcast);
}

static void arp_in(struct net *nt, const uint8_t *a, uint32_t len)
{
	unsigned slot;
	uint8_t *f;

	if (len < 28 || be16(a) != 1 || be16(a + 2) != ETH_IP ||
	    a[4] != 6 || a[5] != 4 || be16(a + 6) != 1 ||
	    np_get32(a + 24) != nt->ip)
		return;
	if (!(f = net_tx_alloc(nt, &slot)))
		return;
	net_tx_commit(nt, slot, arp_build(nt, f, 2, a + 8, np_get32(a + 14),
					  a + 8));
	net_tx_flush(nt);
}

/* ---- IPv4 ---- */

static void ip_fill(uint8_t *ip, uint8_t proto, uint32_t src, uint32_t dst,
		    uint32_t payload)
{
	ip[0] = 0x45;
	ip[1] = 0;
	put16(ip + 2, (uint16_t)(20 + payload));
	put16(ip + 4, ip_id++);
	put16(ip + 6, 0x4000);		/* DF */
	ip[8] = 64;
	ip[9] = proto;
	put16(ip + 10, 0);
	np_put32(ip + 12, src);
	np_put32(ip + 16, dst);
	put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
}

static void icmp_in(struct net *nt, const uint8_t *f, const uint8_t *ip,
		    const uint8_t *p, uint32_t len)
{
	unsigned slot;
	uint8_t *o;

	if (len < 8 || p[0] != 8 || csum_fold(csum_add(0, p, len)) ||
	    len > FRAME_MAX - 34 || !(o = net_tx_alloc(nt, &slot)))
		return;
	eth_fill(o, f + 6, nt->mac, ETH_IP);
	memcpy(o + 34, p, len);
	o[34] = 0;			/* echo reply */
	put16(o + 36, 0);
	put16(o + 36, csum_fold(csum_add(0, o + 34, len)));
	ip_fill(o + 14, IP_ICMP, nt->ip, np_get32(ip + 12), len);
	net_tx_commit(nt, slot, len + 34 < 60 ? 60 : len + 34);
	net_tx_flush(nt);
}

static uint32_t pseudo_sum(uint32_t src, uint32_t dst, uint32_t ulen)
{
	return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) +
	       IP_UDP + ulen;
}

static void udp_in(struct net *nt, const uint8_t *f, const uint8_t *ip,
		   const uint8_t *u, uint32_t len)
{
	uint32_t ulen;

	if (len < 8 || (ulen = be16(u + 4)) < 8 || ulen > len ||
	    be16(u + 2) != app_port)
		return;
	if (be16(u + 6) && csum_fold(csum_add(pseudo_sum(np_get32(ip + 12),
			np_get32(ip + 16), ulen), u, ulen)))
		return;
	app_udp(nt, f + 6, np_get32(ip + 12), be16(u), u + 8, ulen - 8);
}

static void ip_in(struct net *nt, const uint8_t *f, const uint8_t *ip,
		  uint32_t len)
{
	uint32_t hl, tot;

	if (len < 20 || (ip[0] >> 4) != 4 || (hl = (ip[0] & 15) * 4u) < 20 ||
	    (tot = be16(ip + 2)) < hl || tot > len ||
	    (be16(ip + 6) & 0x3fff) || np_get32(ip + 16) != nt->ip ||
	    csum_fold(csum_add(0, ip, hl)))
		return;
	if (ip[9] == IP_ICMP)
		icmp_in(nt, f, ip, ip + hl, tot - hl);
	else if (ip[9] == IP_UDP)
		udp_in(nt, f, ip, ip + hl, tot - hl);
}

void net_frame_in(struct net *nt, uint8_t *f, uint32_t len)
{
	if (len < 14 || (memcmp(f, nt->mac, 6) && memcmp(f, bcast, 6)))
		return;
	if (be16(f + 12) == ETH_ARP)
		arp_in(nt, f + 14, len - 14);
	else if (be16(f + 12) == ETH_IP)
		ip_in(nt, f, f + 14, len - 14);
}

/* ---- UDP out ---- */

/* The UDP payload area of a free transmit slot, or NULL. */
uint8_t *udp_begin(struct net *nt, unsigned *slot)
{
	uint8_t *f = net_tx_alloc(nt, slot);

	return f ? f + 42 : NULL;
}

void udp_finish(struct net *nt, unsigned slot, const uint8_t *mac, uint32_t ip,
		uint16_t sport, uint16_t dport, uint32_t len)
{
	uint8_t *f = nt->txbuf + (uint64_t)slot * TX_SLOT + VNET_HDR;
	uint8_t *u = f + 34;
	uint16_t c;

	eth_fill(f, mac, nt->mac, ETH_IP);
	ip_fill(f + 14, IP_UDP, nt->ip, ip, len + 8);
	put16(u, sport);
	put16(u + 2, dport);
	put16(u + 4, (uint16_t)(len + 8));
	put16(u + 6, 0);
	c = csum_fold(csum_add(pseudo_sum(nt->ip, ip, len + 8), u, len + 8));
	put16(u + 6, c ? c : 0xffff);
	if (len + 42 < 60)
		memset(f + 42 + len, 0, 60 - 42 - len);
	net_tx_commit(nt, slot, len + 42 < 60 ? 60 : len + 42);
}

bool udp_send(struct net *nt, const uint8_t *mac, uint32_t ip, uint16_t sport,
	      uint16_t dport, const void *data, uint32_t len)
{
	unsigned slot;
	uint8_t *p;

	if (len > NP_MAX_UDP || !(p = udp_begin(nt, &slot)))
		return false;
	memcpy(p, data, len);
	udp_finish(nt, slot, mac, ip, sport, dport, len);
	return true;
}
