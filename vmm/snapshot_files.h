/*
 * The snapshot directory: DIR/NAME/ holds `state`, `memory` and disk copies.
 * A save builds DIR/NAME.tmp/, fsyncs it and swaps it in, so that after a
 * crash at any point DIR/NAME is either the old snapshot or the new one,
 * complete. docs/snapshot-format.md gives the whole argument.
 *
 * Every function returns 0 (or a count) or -errno; the caller turns that into
 * one message naming the path. One process at a time may write to a DIR.
 */
#ifndef MINIVMM_SNAPSHOT_FILES_H
#define MINIVMM_SNAPSHOT_FILES_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "guest_mem.h"

#define SNAP_NAME_MAX 64
#define SNAP_MEMORY_FILE "memory"
#define SNAP_STATE_FILE "state"
/* What snap_read_file takes by default for `state`: far more than any VM's device state. */
#define SNAP_STATE_MAX (64 * MiB)

/*
 * 0 if @name can name a snapshot: 1-64 characters of [A-Za-z0-9._-], not
 * starting with '.', not ending in ".tmp" and not containing ".old." (those
 * are the names of unfinished and replaced snapshots); else -EINVAL.
 */
int snap_name_check(const char *name);

/*
 * Start a save: create @dir (one level, mode 0700) if missing, finish or undo
 * what a crash in an earlier commit left (see snap_dir_recover), remove a stale
 * @dir/@name.tmp, and create it empty (0700). Its path goes to @tmp_path.
 */
int snap_dir_begin(const char *dir, const char *name, char *tmp_path, size_t len);

/* Write @file in directory @dir_path (created 0600, replaced if present) and fsync it. */
int snap_write_file(const char *dir_path, const char *file, const void *buf, size_t len);

/*
 * Read the whole of @dir_path/@file into a malloc'd buffer (*buf, *len; free
 * it). -EFBIG if it is larger than @max: a state file is read whole, so its
 * size is bounded before allocating.
 */
int snap_read_file(const char *dir_path, const char *file, size_t max, void **buf, size_t *len);

/*
 * Write guest RAM to @dir_path/memory: region i at the sum of the sizes of
 * regions 0..i-1, all-zero 4 KiB pages left as holes, then fsync. The vCPUs
 * must be paused (the memory is read as it is).
 */
int snap_write_memory(const char *dir_path, const struct guest_mem *mem);

/*
 * Restore: map @dir_path/memory MAP_PRIVATE over each region's existing host
 * mapping (MAP_FIXED, same addresses, so KVM memory slots stay valid) so that
 * pages load from the file on first touch and guest writes stay private.
 * Every region must be mapped, page-aligned and page-sized, and the file's
 * size must equal the sum of the region sizes; all is checked before anything
 * is replaced (-EINVAL). The VM must be paused: no vCPU may run while its
 * memory is swapped under it. If an mmap fails midway, the regions hold a mix
 * of old and new memory (or none): the caller must not resume the VM.
 * The file must never be written in place afterwards (saves always create
 * new files, so replacing or deleting the snapshot is safe).
 */
int snap_map_memory(const char *dir_path, struct guest_mem *mem);

/*
 * Copy a disk image open on @src_fd (readable, not O_DIRECT) to @dst_path:
 * a reflink (FICLONE) where the filesystem can, else a copy of the data runs
 * (SEEK_DATA/SEEK_HOLE) that leaves holes, and all-zero 4 KiB blocks, as
 * holes. fsynced. The guest must not write the disk meanwhile.
 */
int snap_copy_disk(int src_fd, const char *dst_path);

/*
 * Finish a save: fsync every file in @dir/@name.tmp and the directory, then
 * swap it in as @dir/@name (replacing an existing snapshot of that name),
 * remove the old one, fsync @dir.
 */
int snap_dir_commit(const char *dir, const char *name);

/* Give up a save: remove @dir/@name.tmp. 0 if there was none. */
int snap_dir_abort(const char *dir, const char *name);

/* Remove snapshot @dir/@name; -ENOENT if there is none. */
int snap_dir_delete(const char *dir, const char *name);

/*
 * Where a crash in the middle of snap_dir_commit's fallback path (filesystems
 * without RENAME_EXCHANGE) left @name only as @name.old.PID: rename it back;
 * where both exist, remove the old ones. Restore should call this before
 * loading @name; snap_dir_begin does.
 */
int snap_dir_recover(const char *dir, const char *name);

struct snap_info {
	const char *name;
	struct timespec mtime;	 /* of the snapshot directory: when it was saved */
	uint64_t memory_size;	 /* st_size of `memory`, 0 if it has none */
	uint64_t memory_alloc;	 /* st_blocks * 512: what it really takes on disk */
};

/*
 * Call @cb for every complete snapshot in @dir, sorted by name (unfinished
 * NAME.tmp and replaced NAME.old.* are skipped). 0, -errno (-ENOENT if @dir
 * does not exist), or the first non-zero value @cb returns, which stops the walk.
 */
int snap_dir_list(const char *dir, int (*cb)(const struct snap_info *info, void *opaque),
		  void *opaque);

/*
 * The replace-by-two-renames commit used where renameat2(RENAME_EXCHANGE) is
 * not supported; exposed so that the tests can run it on any filesystem.
 */
int snap_dir_commit_fallback(const char *dir, const char *name);

#endif
