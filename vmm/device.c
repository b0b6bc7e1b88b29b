#include <errno.h>
#include <string.h>

#include "device.h"

long device_save_plain(pthread_mutex_t *lock, const void *state, size_t size, void *buf,
		       size_t cap)
{
	if (cap < size)
		return -ENOSPC;
	pthread_mutex_lock(lock);
	memcpy(buf, state, size);
	pthread_mutex_unlock(lock);
	return size;
}

int device_check_plain(const void *buf, size_t len, size_t size, uint32_t version)
{
	uint32_t v;

	if (len != size || len < sizeof(v))
		return -EINVAL;
	memcpy(&v, buf, sizeof(v));
	return v == version ? 0 : -EINVAL;
}

int device_load_plain(pthread_mutex_t *lock, void *state, size_t size, uint32_t version,
		      const void *buf, size_t len)
{
	int err = device_check_plain(buf, len, size, version);

	if (err)
		return err;
	pthread_mutex_lock(lock);
	memcpy(state, buf, size);
	pthread_mutex_unlock(lock);
	return 0;
}
