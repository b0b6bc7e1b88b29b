/*
 * Putting a snapshot's disk copies back, without ever risking the live image:
 * each copy is made next to the image first (a reflink where the filesystem
 * has them, else a sparse copy that works across filesystems) and only when
 * every copy is complete and durable does each replace its image, by rename,
 * with the open descriptor swapped underneath the device by dup2. Until that
 * last step a failure leaves the images exactly as they were.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../devices/virtio_blk.h"
#include "snapshot_disks.h"
#include "snapshot_files.h"

static void say(char *why, size_t whylen, const char *what, const char *path, int err)
{
	snprintf(why, whylen, "%s %s: %s", what, path, strerror(err));
}

/* The copy must look like the image to its owner: same mode, same owner. */
static int match_image(int fd, int image_fd)
{
	struct stat st;

	if (fstat(image_fd, &st) < 0 || fchmod(fd, st.st_mode & 07777) < 0)
		return -errno;
	if (fchown(fd, st.st_uid, st.st_gid) < 0 && errno != EPERM)
		return -errno;
	return 0;
}

int disk_restore_stage(struct disk_restore *r, struct virtio_blk *blk, const char *copy_path,
		       char *why, size_t whylen)
{
	int src, err;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->blk = blk;
	/* The image itself, not a symlink to it, is what gets replaced. */
	if (!realpath(blk->path, r->target)) {
		say(why, whylen, "disk", blk->path, errno);
		return -1;
	}
	if (snprintf(r->tmp, sizeof(r->tmp), "%s.restore-%d", r->target, (int)getpid()) >=
	    (int)sizeof(r->tmp)) {
		say(why, whylen, "disk", blk->path, ENAMETOOLONG);
		return -1;
	}
	src = open(copy_path, O_RDONLY | O_CLOEXEC);
	if (src < 0) {
		say(why, whylen, "snapshot disk", copy_path, errno);
		return -1;
	}
	err = snap_copy_disk(src, r->tmp); /* fsynced; removed again on failure */
	close(src);
	if (err < 0) {
		snprintf(why, whylen, "disk %s: copying %s next to it: %s", blk->path, copy_path,
			 strerror(-err));
		return -1;
	}
	r->fd = open(r->tmp, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	err = r->fd < 0 ? -errno : match_image(r->fd, blk->fd);
	/* A fresh inode nobody else has open: the lock cannot be contended. */
	if (!err && flock(r->fd, LOCK_EX | LOCK_NB) < 0)
		err = -errno;
	if (err) {
		say(why, whylen, "disk copy", r->tmp, -err);
		disk_restore_abort(r);
		return -1;
	}
	return 0;
}

void disk_restore_abort(struct disk_restore *r)
{
	if (r->fd >= 0)
		close(r->fd);
	if (r->tmp[0])
		unlink(r->tmp);
	r->fd = -1;
	r->tmp[0] = '\0';
}

static void sync_parent(const char *path)
{
	char copy[PATH_MAX];
	int dfd;

	snprintf(copy, sizeof(copy), "%s", path);
	dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
}

int disk_restore_commit(struct disk_restore *r, char *why, size_t whylen)
{
	off_t size = lseek(r->fd, 0, SEEK_END);

	if (size < 0 || rename(r->tmp, r->target) < 0) {
		say(why, whylen, "disk", r->target, errno);
		disk_restore_abort(r);
		return -1;
	}
	r->tmp[0] = '\0';
	/* Same descriptor number: everything holding blk->fd now reads the copy. */
	if (dup2(r->fd, r->blk->fd) < 0) {
		say(why, whylen, "disk", r->target, errno);
		disk_restore_abort(r);
		return -1;
	}
	close(r->fd);
	r->fd = -1;
	sync_parent(r->target);
	virtio_blk_image_replaced(r->blk, (uint64_t)size);
	return 0;
}
