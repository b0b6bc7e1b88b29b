/* tap_open against the real /dev/net/tun: needs root (CAP_NET_ADMIN), skipped otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/if.h>
#include <linux/if_tun.h>

#include "unit.h"
#include "../../devices/tap.h"

static bool tun_usable(void)
{
	int fd;

	if (geteuid() != 0)
		return false;
	fd = open("/dev/net/tun", O_RDWR);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* A name no other run uses at the same time. */
static void unique_name(char *name, size_t len)
{
	snprintf(name, len, "mvt%d", (int)getpid() % 1000000);
}

static bool link_exists(const char *name)
{
	char path[64];

	snprintf(path, sizeof(path), "/sys/class/net/%s", name);
	return access(path, F_OK) == 0;
}

static void test_tap_open_vnet_hdr(void **state)
{
	char name[TAP_IFNAMSIZ], got[TAP_IFNAMSIZ];
	struct ifreq ifr;
	int hdr = 0, fd;

	(void)state;
	if (!tun_usable()) {
		print_message("not root or no /dev/net/tun: tap tests skipped\n");
		skip();
	}
	unique_name(name, sizeof(name));
	fd = tap_open(name, got);
	assert_true(fd >= 0);
	assert_string_equal(got, name);
	memset(&ifr, 0, sizeof(ifr));
	assert_int_equal(ioctl(fd, TUNGETIFF, &ifr), 0);
	assert_true(ifr.ifr_flags & IFF_TAP);
	assert_true(ifr.ifr_flags & IFF_NO_PI);
	assert_true(ifr.ifr_flags & IFF_VNET_HDR);
	assert_int_equal(ioctl(fd, TUNGETVNETHDRSZ, &hdr), 0);
	assert_int_equal(hdr, 12);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(tap_set_offload(fd, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6), 0);
	assert_int_equal(tap_set_offload(fd, 0), 0);
	/* Non-blocking: nothing to read yet (the link is down). */
	char buf[64];

	assert_int_equal(read(fd, buf, sizeof(buf)), -1);
	assert_true(errno == EAGAIN || errno == EIO);
	assert_true(link_exists(name));
	close(fd);
	assert_false(link_exists(name)); /* not persistent: gone with its last fd */
}

static void test_tap_open_busy_and_names(void **state)
{
	char name[TAP_IFNAMSIZ], got[TAP_IFNAMSIZ];
	int fd, fd2;

	(void)state;
	assert_int_equal(tap_open("0123456789abcdef", NULL), -ENAMETOOLONG);
	assert_non_null(tap_strerror(-ENAMETOOLONG));
	assert_non_null(strstr(tap_strerror(-EBUSY), "busy"));
	if (!tun_usable()) {
		print_message("not root or no /dev/net/tun: tap tests skipped\n");
		skip();
	}
	unique_name(name, sizeof(name));
	fd = tap_open(name, got);
	assert_true(fd >= 0);
	fd2 = tap_open(name, NULL); /* one queue: a second user is refused */
	assert_int_equal(fd2, -EBUSY);
	close(fd);
	fd = tap_open(NULL, got); /* the kernel picks a name */
	assert_true(fd >= 0);
	assert_true(strlen(got) > 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tap_open_vnet_hdr),
		cmocka_unit_test(test_tap_open_busy_and_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
