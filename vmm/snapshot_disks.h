/* Putting a snapshot's disk copies back in two steps: stage every copy, then commit. */
#ifndef MINIVMM_SNAPSHOT_DISKS_H
#define MINIVMM_SNAPSHOT_DISKS_H

#include <limits.h>
#include <stddef.h>

struct virtio_blk;

struct disk_restore {
	struct virtio_blk *blk;
	int fd;			/* the staged copy, open and locked */
	char tmp[PATH_MAX];	/* where it is staged, next to the image */
	char target[PATH_MAX];	/* the image, symlinks resolved */
};

/*
 * Copy @copy_path (a snapshot's disk.N) next to @blk's image, durable and
 * locked, with the image's mode and owner. The image is not touched.
 * Returns 0, or -1 with a one-line reason in @why.
 */
int disk_restore_stage(struct disk_restore *r, struct virtio_blk *blk, const char *copy_path,
		       char *why, size_t whylen);

/* Replace the image by the staged copy (rename), under the device's open descriptor (dup2). */
int disk_restore_commit(struct disk_restore *r, char *why, size_t whylen);

/* Drop a staged copy that will not be used. Safe to call twice. */
void disk_restore_abort(struct disk_restore *r);

#endif
