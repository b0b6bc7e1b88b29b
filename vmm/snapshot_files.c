#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>

#include "snapshot_files.h"

/* Zero detection works on 4 KiB pages: the guest's page size and the usual filesystem block. */
#define SNAP_PAGE 4096
#define COPY_BUF (1 * MiB)
/* Stale trees are only ever a snapshot: files, perhaps a level of directories. */
#define REMOVE_DEPTH 8

/* ---- small helpers ---- */

static int join(char *out, size_t len, const char *a, const char *b)
{
	int n = snprintf(out, len, "%s/%s", a, b);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* @name.@suffix, as used for NAME.tmp and NAME.old.PID. */
static int suffixed(char *out, size_t len, const char *name, const char *suffix)
{
	int n = snprintf(out, len, "%s%s", name, suffix);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int tmp_name(char *out, size_t len, const char *name)
{
	return suffixed(out, len, name, ".tmp");
}

static int open_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

static int fsync_fd(int fd)
{
	return fsync(fd) ? -errno : 0;
}

/* close() can report a deferred write error (NFS, quota): keep it. */
static int close_keep(int fd, int err)
{
	if (close(fd) && !err)
		err = -errno;
	return err;
}

static int pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	const uint8_t *p = buf;

	while (len) {
		/* Linux moves at most ~2 GiB per call; ask for less, loop for the rest. */
		ssize_t n = pwrite(fd, p, len < (1U << 30) ? len : (1U << 30), off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A file name inside a snapshot directory: one component, nothing that climbs out. */
static bool file_name_ok(const char *file)
{
	return file[0] && !strchr(file, '/') && strcmp(file, ".") && strcmp(file, "..");
}

/* Remove @name in @dirfd and, if it is a directory, everything below it; never follows links. */
static int remove_tree_at(int dirfd, const char *name, int depth)
{
	struct dirent *de;
	int fd, err = 0;
	DIR *d;

	if (unlinkat(dirfd, name, 0) == 0)
		return 0;
	if (errno != EISDIR && errno != EPERM) /* Linux says EISDIR, POSIX EPERM */
		return -errno;
	if (depth <= 0)
		return -ELOOP;
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d)
		return close_keep(fd, -errno);
	while (!err && (errno = 0, de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			err = remove_tree_at(fd, de->d_name, depth - 1);
	if (!err && errno)
		err = -errno;
	closedir(d);
	if (!err && unlinkat(dirfd, name, AT_REMOVEDIR))
		err = -errno;
	return err;
}

/* As remove_tree_at, but absent is fine. */
static int remove_stale(int dirfd, const char *name)
{
	int err = remove_tree_at(dirfd, name, REMOVE_DEPTH);

	return err == -ENOENT ? 0 : err;
}

static bool exists_at(int dirfd, const char *name)
{
	struct stat st;

	return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* ---- names ---- */

static bool name_char_ok(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '_' || ch == '-';
}

int snap_name_check(const char *name)
{
	size_t n = strnlen(name, SNAP_NAME_MAX + 1);

	if (n == 0 || n > SNAP_NAME_MAX || name[0] == '.')
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!name_char_ok(name[i]))
			return -EINVAL;
	/* These would collide with the names of unfinished and replaced snapshots. */
	if ((n >= 4 && strcmp(name + n - 4, ".tmp") == 0) || strstr(name, ".old."))
		return -EINVAL;
	return 0;
}

/* ---- begin, recover ---- */

/* mkdir @dir if missing; a new directory entry is made durable in its parent. */
static int make_dir(const char *dir)
{
	char copy[PATH_MAX];
	struct stat st;
	int fd, err;

	if (mkdir(dir, 0700) == 0) {
		if (snprintf(copy, sizeof(copy), "%s", dir) >= (int)sizeof(copy))
			return -ENAMETOOLONG;
		fd = open_dir(dirname(copy));
		if (fd < 0)
			return fd;
		err = fsync_fd(fd);
		return close_keep(fd, err);
	}
	if (errno != EEXIST)
		return -errno;
	if (stat(dir, &st))
		return -errno;
	return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

/* Is @entry "@name.old.<digits>"? */
static bool is_old_of(const char *entry, const char *name)
{
	size_t n = strlen(name);

	if (strncmp(entry, name, n) || strncmp(entry + n, ".old.", 5) || !entry[n + 5])
		return false;
	for (const char *p = entry + n + 5; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

/* The first "@name.old.*" in @dirfd into @out: 1, 0 if none, or -errno. */
static int find_old(int dirfd, const char *name, char *out, size_t len)
{
	struct dirent *de;
	int fd = dup(dirfd), found = 0;
	DIR *d;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d)
		return close_keep(fd, -errno);
	rewinddir(d);
	while ((de = readdir(d)))
		if (is_old_of(de->d_name, name) && snprintf(out, len, "%s", de->d_name) < (int)len) {
			found = 1;
			break;
		}
	closedir(d);
	return found;
}

static int recover_at(int dirfd, const char *name)
{
	char old[NAME_MAX + 1];
	bool changed = false;
	int found, err = 0;

	while (!err && (found = find_old(dirfd, name, old, sizeof(old))) > 0) {
		/* NAME present: the swap finished, the old one is garbage. Absent: it is the snapshot. */
		if (exists_at(dirfd, name))
			err = remove_stale(dirfd, old);
		else if (renameat(dirfd, old, dirfd, name))
			err = -errno;
		changed = true;
	}
	if (!err && found < 0)
		err = found;
	if (!err && changed)
		err = fsync_fd(dirfd);
	return err;
}

int snap_dir_recover(const char *dir, const char *name)
{
	int fd, err;

	if (snap_name_check(name))
		return -EINVAL;
	fd = open_dir(dir);
	if (fd < 0)
		return fd;
	err = recover_at(fd, name);
	return close_keep(fd, err);
}

int snap_dir_begin(const char *dir, const char *name, char *tmp_path, size_t len)
{
	char tmp[NAME_MAX + 1];
	int fd, err;

	if (snap_name_check(name))
		return -EINVAL;
	err = tmp_name(tmp, sizeof(tmp), name);
	if (!err)
		err = join(tmp_path, len, dir, tmp);
	if (!err)
		err = make_dir(dir);
	if (err)
		return err;
	fd = open_dir(dir);
	if (fd < 0)
		return fd;
	err = recover_at(fd, name);
	if (!err)
		err = remove_stale(fd, tmp);
	if (!err && mkdirat(fd, tmp, 0700))
		err = -errno;
	return close_keep(fd, err);
}

/* ---- plain files ---- */

int snap_write_file(const char *dir_path, const char *file, const void *buf, size_t len)
{
	char path[PATH_MAX];
	int fd, err;

	if (!file_name_ok(file))
		return -EINVAL;
	err = join(path, sizeof(path), dir_path, file);
	if (err)
		return err;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	err = pwrite_all(fd, buf, len, 0);
	if (!err)
		err = fsync_fd(fd);
	err = close_keep(fd, err);
	if (err)
		unlink(path); /* no half-written file for anyone to mistake for a whole one */
	return err;
}

static int read_all(int fd, uint8_t *buf, size_t size, size_t *got)
{
	size_t done = 0;

	while (done < size) {
		ssize_t n = read(fd, buf + done, size - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break; /* shrank since fstat; the reader will find it truncated */
		done += (size_t)n;
	}
	*got = done;
	return 0;
}

int snap_read_file(const char *dir_path, const char *file, size_t max, void **buf, size_t *len)
{
	char path[PATH_MAX];
	struct stat st;
	uint8_t *p = NULL;
	int fd, err;

	*buf = NULL;
	*len = 0;
	if (!file_name_ok(file))
		return -EINVAL;
	err = join(path, sizeof(path), dir_path, file);
	if (err)
		return err;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st))
		err = -errno;
	else if (!S_ISREG(st.st_mode))
		err = -EINVAL;
	else if ((uint64_t)st.st_size > max)
		err = -EFBIG;
	else if (!(p = malloc(st.st_size ? (size_t)st.st_size : 1)))
		err = -ENOMEM;
	else
		err = read_all(fd, p, (size_t)st.st_size, len);
	close(fd);
	if (err) {
		free(p);
		*len = 0;
		return err;
	}
	*buf = p;
	return 0;
}

/* ---- memory ---- */

/* Word-wise, 64 bytes at a time: the scan must keep up with gigabytes of untouched RAM. */
static bool all_zero(const uint8_t *p, size_t n)
{
	size_t i = 0;

	for (; i + 64 <= n; i += 64) {
		uint64_t w[8];

		memcpy(w, p + i, sizeof(w));
		if (w[0] | w[1] | w[2] | w[3] | w[4] | w[5] | w[6] | w[7])
			return false;
	}
	for (; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static size_t page_len(size_t pos, size_t size)
{
	return size - pos < SNAP_PAGE ? size - pos : SNAP_PAGE;
}

/* pwrite the non-zero pages of @p[0, @size) at @off, one call per run; the rest stays holes. */
static int write_nonzero(int fd, const uint8_t *p, size_t size, off_t off)
{
	size_t pos = 0;

	while (pos < size) {
		size_t start;

		while (pos < size && all_zero(p + pos, page_len(pos, size)))
			pos += page_len(pos, size);
		start = pos;
		while (pos < size && !all_zero(p + pos, page_len(pos, size)))
			pos += page_len(pos, size);
		if (pos > start) {
			int err = pwrite_all(fd, p + start, pos - start, off + (off_t)start);

			if (err)
				return err;
		}
	}
	return 0;
}

static int memory_total(const struct guest_mem *mem, uint64_t *total)
{
	uint64_t sum = 0;

	if (mem->nregions < 0 || mem->nregions > MAX_MEM_REGIONS)
		return -EINVAL;
	for (int i = 0; i < mem->nregions; i++) {
		if (!mem->regions[i].host || mem->regions[i].size > (uint64_t)INT64_MAX - sum)
			return -EINVAL;
		sum += mem->regions[i].size;
	}
	*total = sum;
	return 0;
}

int snap_write_memory(const char *dir_path, const struct guest_mem *mem)
{
	char path[PATH_MAX];
	uint64_t total, off = 0;
	int fd, err;

	err = memory_total(mem, &total);
	if (!err)
		err = join(path, sizeof(path), dir_path, SNAP_MEMORY_FILE);
	if (err)
		return err;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	/* Full size first: whatever is never written reads back as zeros and takes no space. */
	if (ftruncate(fd, (off_t)total))
		err = -errno;
	for (int i = 0; !err && i < mem->nregions; i++) {
		err = write_nonzero(fd, mem->regions[i].host, mem->regions[i].size, (off_t)off);
		off += mem->regions[i].size;
	}
	if (!err)
		err = fsync_fd(fd);
	err = close_keep(fd, err);
	if (err)
		unlink(path);
	return err;
}

/* Everything snap_map_memory needs, checked before the first mapping is replaced. */
static int check_mappable(const struct guest_mem *mem, uint64_t *total)
{
	long pagesize = sysconf(_SC_PAGESIZE);
	int err = memory_total(mem, total);

	if (err)
		return err;
	for (int i = 0; i < mem->nregions; i++) {
		const struct mem_region *r = &mem->regions[i];

		if (!r->size || r->size % (uint64_t)pagesize || (uintptr_t)r->host % (uintptr_t)pagesize)
			return -EINVAL;
	}
	return 0;
}

int snap_map_memory(const char *dir_path, struct guest_mem *mem)
{
	char path[PATH_MAX];
	uint64_t total, off = 0;
	struct stat st;
	int fd, err;

	err = check_mappable(mem, &total);
	if (!err)
		err = join(path, sizeof(path), dir_path, SNAP_MEMORY_FILE);
	if (err)
		return err;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st))
		err = -errno;
	else if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != total)
		err = -EINVAL;
	for (int i = 0; !err && i < mem->nregions; i++) {
		struct mem_region *r = &mem->regions[i];
		/* Writable but private: the guest's writes never reach the snapshot. */
		void *p = mmap(r->host, r->size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, fd, (off_t)off);

		if (p == MAP_FAILED)
			err = -errno;
		off += r->size;
	}
	close(fd); /* the mappings keep the file */
	return err;
}

/* ---- disks ---- */

/* Copy [@pos, @end) of @src to @dst, leaving all-zero pages as holes. */
static int copy_run(int src, int dst, off_t pos, off_t end, uint8_t *buf)
{
	while (pos < end) {
		size_t want = (uint64_t)(end - pos) < COPY_BUF ? (size_t)(end - pos) : COPY_BUF;
		ssize_t n = pread(src, buf, want, pos);
		int err;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0; /* the source shrank; the final ftruncate settles the size */
		err = write_nonzero(dst, buf, (size_t)n, pos);
		if (err)
			return err;
		pos += n;
	}
	return 0;
}

/* Data runs only, found with SEEK_DATA/SEEK_HOLE; then the size. */
static int sparse_copy(int src, int dst, off_t size)
{
	uint8_t *buf = malloc(COPY_BUF);
	off_t pos = 0;
	int err = 0;

	if (!buf)
		return -ENOMEM;
	while (!err && pos < size) {
		off_t data = lseek(src, pos, SEEK_DATA), hole;

		if (data < 0 && errno == ENXIO)
			break; /* nothing but a hole to the end */
		if (data < 0)
			data = pos; /* no SEEK_DATA here: treat everything as data */
		hole = lseek(src, data, SEEK_HOLE);
		if (hole < 0 || hole > size)
			hole = size;
		err = copy_run(src, dst, data, hole, buf);
		pos = hole;
	}
	free(buf);
	if (!err && ftruncate(dst, size))
		err = -errno;
	return err;
}

/* Errors that mean "no reflink here", not "something is wrong". */
static bool clone_unsupported(int err)
{
	return err == EOPNOTSUPP || err == EXDEV || err == EINVAL || err == ENOTTY || err == ENOSYS;
}

int snap_copy_disk(int src_fd, const char *dst_path)
{
	struct stat st;
	int fd, err = 0;

	if (fstat(src_fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	fd = open(dst_path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, FICLONE, src_fd)) {
		if (clone_unsupported(errno))
			err = sparse_copy(src_fd, fd, st.st_size);
		else
			err = -errno;
	}
	if (!err)
		err = fsync_fd(fd);
	err = close_keep(fd, err);
	if (err)
		unlink(dst_path);
	return err;
}

/* ---- commit, abort, delete ---- */

/* fsync every regular file in @fd's directory, then the directory itself. */
static int sync_tree(int fd)
{
	struct dirent *de;
	int dfd = dup(fd), err = 0;
	DIR *d;

	if (dfd < 0)
		return -errno;
	d = fdopendir(dfd);
	if (!d)
		return close_keep(dfd, -errno);
	while (!err && (errno = 0, de = readdir(d))) {
		int f;

		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		f = openat(fd, de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (f < 0)
			err = -errno;
		else
			err = close_keep(f, fsync_fd(f));
	}
	if (!err && errno)
		err = -errno;
	closedir(d);
	return err ? err : fsync_fd(fd);
}

/* Open @dir and make @name.tmp's whole contents durable: nothing is renamed before that. */
static int commit_prepare(const char *dir, const char *name, char *tmp, size_t len)
{
	int dirfd, tfd, err;

	if (snap_name_check(name))
		return -EINVAL;
	err = tmp_name(tmp, len, name);
	if (err)
		return err;
	dirfd = open_dir(dir);
	if (dirfd < 0)
		return dirfd;
	tfd = openat(dirfd, tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (tfd < 0)
		return close_keep(dirfd, -errno);
	err = close_keep(tfd, sync_tree(tfd));
	if (err)
		return close_keep(dirfd, err);
	return dirfd;
}

/* The first snapshot of this name: a rename that must not replace anything. */
static int commit_new(int dirfd, const char *tmp, const char *name)
{
	if (renameat2(dirfd, tmp, dirfd, name, RENAME_NOREPLACE) == 0)
		return fsync_fd(dirfd);
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
	if (exists_at(dirfd, name))
		return -EEXIST;
	return renameat(dirfd, tmp, dirfd, name) ? -errno : fsync_fd(dirfd);
}

/*
 * Old NAME aside to NAME.old.PID, NAME.tmp to NAME, old removed. A crash
 * between the two renames leaves only NAME.old.PID, which snap_dir_recover
 * renames back; each step is made durable before the next.
 */
static int commit_aside(int dirfd, const char *tmp, const char *name)
{
	char old[NAME_MAX + 1], suffix[32];
	int err;

	if (!exists_at(dirfd, name))
		return commit_new(dirfd, tmp, name);
	snprintf(suffix, sizeof(suffix), ".old.%ld", (long)getpid());
	err = suffixed(old, sizeof(old), name, suffix);
	if (err)
		return err;
	err = remove_stale(dirfd, old);
	if (!err && renameat(dirfd, name, dirfd, old))
		err = -errno;
	if (!err)
		err = fsync_fd(dirfd);
	if (err)
		return err;
	if (renameat(dirfd, tmp, dirfd, name)) {
		err = -errno;
		renameat(dirfd, old, dirfd, name); /* put it back; recover would anyway */
		return err;
	}
	err = fsync_fd(dirfd);
	if (err)
		return err;
	/* The new snapshot is in place; a failure to remove the old is left to recover. */
	if (remove_stale(dirfd, old) == 0)
		fsync_fd(dirfd);
	return 0;
}

/*
 * One atomic swap: NAME becomes the new snapshot and NAME.tmp the old one,
 * which is then removed (or, after a crash, by the next begin).
 */
static int commit_exchange(int dirfd, const char *tmp, const char *name)
{
	int err;

	if (renameat2(dirfd, tmp, dirfd, name, RENAME_EXCHANGE)) {
		if (errno == ENOENT)
			return commit_new(dirfd, tmp, name);
		if (errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)
			return commit_aside(dirfd, tmp, name);
		return -errno;
	}
	/* The swap must be durable before the old files go, or a crash could empty NAME. */
	err = fsync_fd(dirfd);
	if (err)
		return err;
	if (remove_stale(dirfd, tmp) == 0)
		fsync_fd(dirfd);
	return 0;
}

int snap_dir_commit(const char *dir, const char *name)
{
	char tmp[NAME_MAX + 1];
	int dirfd = commit_prepare(dir, name, tmp, sizeof(tmp));

	if (dirfd < 0)
		return dirfd;
	return close_keep(dirfd, commit_exchange(dirfd, tmp, name));
}

int snap_dir_commit_fallback(const char *dir, const char *name)
{
	char tmp[NAME_MAX + 1];
	int dirfd = commit_prepare(dir, name, tmp, sizeof(tmp));

	if (dirfd < 0)
		return dirfd;
	return close_keep(dirfd, commit_aside(dirfd, tmp, name));
}

int snap_dir_abort(const char *dir, const char *name)
{
	char tmp[NAME_MAX + 1];
	int fd, err;

	if (snap_name_check(name))
		return -EINVAL;
	err = tmp_name(tmp, sizeof(tmp), name);
	if (err)
		return err;
	fd = open_dir(dir);
	if (fd < 0)
		return fd;
	return close_keep(fd, remove_stale(fd, tmp));
}

/*
 * Renamed to NAME.tmp first, so that a crash halfway through the removal
 * leaves garbage that begin cleans, never a NAME with files missing.
 */
static int delete_at(int dirfd, const char *name)
{
	char tmp[NAME_MAX + 1];
	int err = recover_at(dirfd, name);

	if (!err)
		err = tmp_name(tmp, sizeof(tmp), name);
	if (err)
		return err;
	if (!exists_at(dirfd, name))
		return -ENOENT;
	err = remove_stale(dirfd, tmp);
	if (!err && renameat(dirfd, name, dirfd, tmp))
		err = -errno;
	if (!err)
		err = fsync_fd(dirfd);
	if (!err)
		err = remove_stale(dirfd, tmp);
	return err ? err : fsync_fd(dirfd);
}

int snap_dir_delete(const char *dir, const char *name)
{
	int fd;

	if (snap_name_check(name))
		return -EINVAL;
	fd = open_dir(dir);
	if (fd < 0)
		return fd;
	return close_keep(fd, delete_at(fd, name));
}

/* ---- list ---- */

struct name_list {
	char **names;
	size_t n, cap;
};

static int name_list_add(struct name_list *l, const char *name)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		char **p = realloc(l->names, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		l->names = p;
		l->cap = cap;
	}
	l->names[l->n] = strdup(name);
	return l->names[l->n] ? (l->n++, 0) : -ENOMEM;
}

static void name_list_free(struct name_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names of directories in @dirfd that can be snapshots (so not NAME.tmp or NAME.old.*). */
static int collect_names(int dirfd, struct name_list *l)
{
	struct dirent *de;
	int fd = dup(dirfd), err = 0;
	DIR *d;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d)
		return close_keep(fd, -errno);
	while (!err && (errno = 0, de = readdir(d))) {
		struct stat st;

		if (snap_name_check(de->d_name) ||
		    fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISDIR(st.st_mode))
			continue;
		err = name_list_add(l, de->d_name);
	}
	if (!err && errno)
		err = -errno;
	closedir(d);
	if (!err)
		qsort(l->names, l->n, sizeof(*l->names), cmp_names);
	return err;
}

/* One snapshot's info; it may vanish under a concurrent delete: then -ENOENT, skipped. */
static int stat_snapshot(int dirfd, const char *name, struct snap_info *info)
{
	char mem[NAME_MAX + sizeof(SNAP_MEMORY_FILE) + 2];
	struct stat st;

	memset(info, 0, sizeof(*info));
	info->name = name;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW))
		return -errno;
	info->mtime = st.st_mtim;
	snprintf(mem, sizeof(mem), "%s/%s", name, SNAP_MEMORY_FILE);
	if (fstatat(dirfd, mem, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
		info->memory_size = (uint64_t)st.st_size;
		info->memory_alloc = (uint64_t)st.st_blocks * 512;
	}
	return 0;
}

int snap_dir_list(const char *dir, int (*cb)(const struct snap_info *info, void *opaque),
		  void *opaque)
{
	struct name_list l = { 0 };
	int fd = open_dir(dir), err;

	if (fd < 0)
		return fd;
	err = collect_names(fd, &l);
	for (size_t i = 0; !err && i < l.n; i++) {
		struct snap_info info;
		int e = stat_snapshot(fd, l.names[i], &info);

		if (e == -ENOENT)
			continue;
		err = e ? e : cb(&info, opaque);
	}
	name_list_free(&l);
	close(fd);
	return err;
}
