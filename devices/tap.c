#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <linux/if.h>
#include <linux/if_tun.h>

#include "tap.h"

#define VNET_HDR_BYTES 12 /* struct virtio_net_hdr_v1, what VERSION_1 drivers use */

int tap_set_offload(int fd, unsigned flags)
{
	return ioctl(fd, TUNSETOFFLOAD, (unsigned long)flags) < 0 ? -errno : 0;
}

/* TUNSETIFF attaches to @name, creating it if missing (needs CAP_NET_ADMIN). */
static int set_iff(int fd, const char *name, char *ifname_out)
{
	struct ifreq ifr;
	unsigned features = 0;

	if (ioctl(fd, TUNGETFEATURES, &features) == 0 && !(features & IFF_VNET_HDR))
		return -EPROTONOSUPPORT;
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (name)
		memcpy(ifr.ifr_name, name, strlen(name));
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		return -errno;
	if (ifname_out) {
		memcpy(ifname_out, ifr.ifr_name, IFNAMSIZ);
		ifname_out[IFNAMSIZ - 1] = '\0';
	}
	return 0;
}

int tap_open(const char *name, char *ifname_out)
{
	int hdr = VNET_HDR_BYTES;
	int fd, err;

	if (name && strlen(name) >= IFNAMSIZ)
		return -ENAMETOOLONG;
	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = set_iff(fd, name, ifname_out);
	if (!err && ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0)
		err = -errno;
	/* No offloads until the guest says which it takes (at DRIVER_OK). */
	if (!err)
		err = tap_set_offload(fd, 0);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

const char *tap_strerror(int err)
{
	switch (err) {
	case -ENOENT:
	case -ENODEV:
		return "no /dev/net/tun (is the tun module loaded?)";
	case -EACCES:
	case -EPERM:
		return "not permitted (creating a tap needs CAP_NET_ADMIN; "
		       "or create it with 'ip tuntap add mode tap user USER')";
	case -EBUSY:
		return "busy: attached to another process";
	case -EINVAL:
		return "not a tap with vnet header support (a tun interface, or a bad name?)";
	case -ENAMETOOLONG:
		return "name longer than 15 characters";
	case -EPROTONOSUPPORT:
		return "the kernel's tun driver lacks IFF_VNET_HDR";
	default:
		return strerror(-err);
	}
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int parse_mac(const char *s, uint8_t mac[6])
{
	uint8_t out[6];

	if (!s || strlen(s) != 17)
		return -1;
	for (int i = 0; i < 6; i++) {
		int hi = hex_digit(s[3 * i]), lo = hex_digit(s[3 * i + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':'))
			return -1;
		out[i] = hi << 4 | lo;
	}
	memcpy(mac, out, 6);
	return 0;
}

void random_mac(uint8_t mac[6])
{
	size_t got = 0;

	while (got < 6) {
		ssize_t n = getrandom(mac + got, 6 - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += n;
	}
	if (got < 6) { /* no getrandom (very old kernel): still unlikely to collide */
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		uint64_t x = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid() << 32;

		memcpy(mac, &x, 6);
	}
	mac[0] = (mac[0] & 0xfe) | 0x02; /* unicast, locally administered */
}
