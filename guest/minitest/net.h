/* virtio-net driver (net.c), a tiny IPv4 stack (netstack.c), the UDP
 * transfer and benchmark service (netapp.c). */
#ifndef MINITEST_NET_H
#define MINITEST_NET_H

#include "virtio.h"
#include "netproto.h"

#define MAX_NET		2
#define VNET_HDR	12		/* virtio_net_hdr_v1 (VERSION_1) */
#define FRAME_MAX	1514
#define TX_SLOT		2048

#define NF_MAC		(1ULL << 5)
#define NF_MRG_RXBUF	(1ULL << 15)
#define NF_STATUS	(1ULL << 16)

struct net {
	struct vdev *v;
	unsigned n;		/* net<n> */
	unsigned vidx;		/* transport index */
	uint64_t feat;
	uint8_t mac[6];
	uint32_t ip;
	struct vq rx, tx;
	uint8_t *qmem;		/* 2 x VQ_MEM */
	uint8_t *rxbuf;		/* rx.qsz x rxsz */
	uint32_t rxsz;
	uint8_t *txbuf;		/* tx.qsz x TX_SLOT */
	uint16_t txfree[VQ_MAX];
	unsigned ntxfree, tx_unkicked, rx_unkicked;
	uint8_t frame[FRAME_MAX + 64];	/* a frame spread over buffers */
};

extern struct net nets[MAX_NET];
extern unsigned nnet;

typedef void (*frame_fn)(struct net *nt, uint8_t *f, uint32_t len);

/* net.c */
const char *net_init(struct net *nt);
unsigned net_open_all(void);
unsigned net_rx_poll(struct net *nt, frame_fn fn);
void net_tx_reclaim(struct net *nt);
uint8_t *net_tx_alloc(struct net *nt, unsigned *slot);
void net_tx_commit(struct net *nt, unsigned slot, uint32_t len);
void net_tx_flush(struct net *nt);
void net_idle_wait(void);
bool net_link_up(const struct net *nt);
void mode_nethostile(void) __attribute__((noreturn));

/* netstack.c */
void net_frame_in(struct net *nt, uint8_t *f, uint32_t len);
bool udp_send(struct net *nt, const uint8_t *mac, uint32_t ip, uint16_t sport,
	      uint16_t dport, const void *data, uint32_t len);
uint8_t *udp_begin(struct net *nt, unsigned *slot);
void udp_finish(struct net *nt, unsigned slot, const uint8_t *mac, uint32_t ip,
		uint16_t sport, uint16_t dport, uint32_t len);
uint32_t garp_build(struct net *nt, uint8_t *f);
void fmt_ip(char *buf, size_t n, uint32_t ip);
uint32_t ip_arg(const char *key, const char *def);
uint16_t be16(const uint8_t *p);
extern uint16_t app_port;
void put16(uint8_t *p, uint16_t v);

/* netapp.c: called for each UDP datagram to our port */
void app_udp(struct net *nt, const uint8_t *mac, uint32_t ip, uint16_t port,
	     const uint8_t *d, uint32_t len);
void mode_net(void) __attribute__((noreturn));

#endif
