/*
 * Linux tap interfaces as network backends, and MAC address helpers. A tap
 * fd carries one Ethernet frame per read or write, each preceded by a
 * virtio-net header (IFF_VNET_HDR), so frames pass between guest and host
 * with their checksum and segmentation offload state intact.
 */
#ifndef MINIVMM_TAP_H
#define MINIVMM_TAP_H

#include <stdint.h>

#define TAP_IFNAMSIZ 16 /* IFNAMSIZ: room for @ifname_out, NUL included */

/*
 * Open tap @name (attach to an existing one, or create it when permitted;
 * NULL or "" lets the kernel pick "tapN") with IFF_NO_PI | IFF_VNET_HDR,
 * non-blocking, close-on-exec, a 12-byte (virtio 1.x) vnet header and no
 * offloads yet. Writes the interface name to @ifname_out (TAP_IFNAMSIZ bytes)
 * if not NULL. Returns the fd or -errno; tap_strerror() explains the error.
 */
int tap_open(const char *name, char *ifname_out);

/* Why tap_open() failed with @err (a -errno), in words for "tap NAME: <reason>". */
const char *tap_strerror(int err);

/* Which offloads (TUN_F_*) the host may hand us in frames we read. 0 or -errno. */
int tap_set_offload(int fd, unsigned flags);

/* "xx:xx:xx:xx:xx:xx", two hex digits per octet: 0, or -1 if malformed. */
int parse_mac(const char *s, uint8_t mac[6]);

/* A random locally administered unicast address. */
void random_mac(uint8_t mac[6]);

#endif
