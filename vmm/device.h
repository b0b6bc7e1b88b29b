/*
 * What every device offers the VM: reset, save and load of its state (for
 * snapshots), destroy. Devices are realized by their own constructors, which
 * register bus ranges and then vm_add_device().
 */
#ifndef MINIVMM_DEVICE_H
#define MINIVMM_DEVICE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

struct device_ops {
	const char *name;
	void (*reset)(void *dev);
	/* Write the state into @buf (at most @cap bytes); return its length or -ENOSPC. */
	long (*save)(void *dev, void *buf, size_t cap);
	/* Take back a state save() wrote; -EINVAL if it is not one (wrong size or version). */
	int (*load)(void *dev, const void *buf, size_t len);
	void (*destroy)(void *dev);
};

struct device {
	const struct device_ops *ops;
	void *dev;
};

/*
 * For devices whose whole state is one plain struct beginning with a uint32_t
 * version, guarded by @lock: save copies it out; load takes a buffer only if it
 * has exactly that size and version (then the device may check more).
 */
long device_save_plain(pthread_mutex_t *lock, const void *state, size_t size, void *buf,
		       size_t cap);
int device_check_plain(const void *buf, size_t len, size_t size, uint32_t version);
int device_load_plain(pthread_mutex_t *lock, void *state, size_t size, uint32_t version,
		      const void *buf, size_t len);

#endif
