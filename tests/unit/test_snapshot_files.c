/*
 * The snapshot directory layer on a real filesystem (a temporary directory):
 * begin/commit/abort, crash leftovers, replacement, names, sparse memory
 * written and mapped back, sparse disk copies, delete and list, and write
 * errors (EFBIG through RLIMIT_FSIZE, ENOSPC on a tiny tmpfs when we may mount).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit.h"
#include "../../vmm/snapshot_files.h"

/* snprintf into an array, failing the test if it does not fit. */
#define PATHF(buf, ...) assert_true((size_t)snprintf(buf, sizeof(buf), __VA_ARGS__) < sizeof(buf))

struct fixture {
	char base[PATH_MAX]; /* from mkdtemp */
	char dir[PATH_MAX];  /* base/snaps, not created yet */
};

static int rm_rf(const char *path)
{
	char cmd[PATH_MAX + 32];

	PATHF(cmd, "rm -rf '%s'", path);
	return system(cmd);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");

	if (!f)
		return -1;
	PATHF(f->base, "%s/snaptest.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(f->base))
		return -1;
	PATHF(f->dir, "%s/snaps", f->base);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	rm_rf(f->base);
	free(f);
	return 0;
}

static bool path_exists(const char *dir, const char *name)
{
	char p[PATH_MAX];
	struct stat st;

	PATHF(p, "%s/%s", dir, name);
	return lstat(p, &st) == 0;
}

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)))
		n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
	closedir(d);
	return n;
}

/* A snapshot @name whose `state` file holds @text, saved start to finish. */
static void save_text(const char *dir, const char *name, const char *text)
{
	char tmp[PATH_MAX];

	assert_int_equal(snap_dir_begin(dir, name, tmp, sizeof(tmp)), 0);
	assert_int_equal(snap_write_file(tmp, SNAP_STATE_FILE, text, strlen(text)), 0);
	assert_int_equal(snap_dir_commit(dir, name), 0);
}

static void assert_state_text(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];
	void *buf;
	size_t len;

	PATHF(path, "%s/%s", dir, name);
	assert_int_equal(snap_read_file(path, SNAP_STATE_FILE, SNAP_STATE_MAX, &buf, &len), 0);
	assert_int_equal(len, strlen(text));
	assert_memory_equal(buf, text, len);
	free(buf);
}

static void test_names(void **state)
{
	static const char *const good[] = { "s1", "a", "before-upgrade", "v1.2_rc3", "A.b-C_d",
					    "x.tmpfile", "old.1", "tmp", "-" };
	static const char *const bad[] = { "", ".hidden", ".", "..", "a/b", "a b", "ünï", "s1.tmp",
					   "x.old.3", "a\nb", "a*", "a\x01" };
	char name[80];

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		assert_int_equal(snap_name_check(good[i]), 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(snap_name_check(bad[i]), -EINVAL);
	memset(name, 'n', 64);
	name[64] = '\0';
	assert_int_equal(snap_name_check(name), 0);
	name[64] = 'n';
	name[65] = '\0';
	assert_int_equal(snap_name_check(name), -EINVAL);
}

static void test_invalid_names_refused(void **state)
{
	struct fixture *f = *state;
	char tmp[PATH_MAX];

	assert_int_equal(snap_dir_begin(f->dir, "../escape", tmp, sizeof(tmp)), -EINVAL);
	assert_int_equal(snap_dir_begin(f->dir, ".x", tmp, sizeof(tmp)), -EINVAL);
	assert_int_equal(snap_dir_begin(f->dir, "s.tmp", tmp, sizeof(tmp)), -EINVAL);
	assert_false(path_exists(f->base, "snaps")); /* refused before anything was created */
	assert_int_equal(snap_dir_commit(f->dir, "a/b"), -EINVAL);
	assert_int_equal(snap_dir_abort(f->dir, ""), -EINVAL);
	assert_int_equal(snap_dir_delete(f->dir, ".."), -EINVAL);
	assert_int_equal(snap_dir_recover(f->dir, "x.old.1"), -EINVAL);
	/* Too small a buffer for the path. */
	assert_int_equal(snap_dir_begin(f->dir, "s1", tmp, 8), -ENAMETOOLONG);
}

static void test_begin_commit_abort(void **state)
{
	struct fixture *f = *state;
	char tmp[PATH_MAX], want[PATH_MAX];
	struct stat st;

	assert_int_equal(snap_dir_begin(f->dir, "s1", tmp, sizeof(tmp)), 0);
	PATHF(want, "%s/s1.tmp", f->dir);
	assert_string_equal(tmp, want);
	assert_int_equal(stat(tmp, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(stat(f->dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(snap_write_file(tmp, SNAP_STATE_FILE, "one", 3), 0);
	assert_int_equal(snap_write_file(tmp, "disk0.raw", "", 0), 0);
	assert_int_equal(snap_dir_commit(f->dir, "s1"), 0);
	assert_false(path_exists(f->dir, "s1.tmp"));
	assert_true(path_exists(f->dir, "s1/disk0.raw"));
	assert_state_text(f->dir, "s1", "one");

	/* A save given up leaves the committed one alone. */
	assert_int_equal(snap_dir_begin(f->dir, "s1", tmp, sizeof(tmp)), 0);
	assert_int_equal(snap_write_file(tmp, SNAP_STATE_FILE, "two", 3), 0);
	assert_int_equal(snap_dir_abort(f->dir, "s1"), 0);
	assert_false(path_exists(f->dir, "s1.tmp"));
	assert_state_text(f->dir, "s1", "one");
	assert_int_equal(snap_dir_abort(f->dir, "s1"), 0); /* nothing to abort: fine */
	/* Committing what was never begun. */
	assert_int_equal(snap_dir_commit(f->dir, "s2"), -ENOENT);
	assert_false(path_exists(f->dir, "s2"));
	assert_int_equal(count_entries(f->dir), 1);
}

static void test_begin_needs_parent(void **state)
{
	struct fixture *f = *state;
	char dir[PATH_MAX], tmp[PATH_MAX];

	PATHF(dir, "%s/no/such", f->base);
	assert_int_equal(snap_dir_begin(dir, "s1", tmp, sizeof(tmp)), -ENOENT);
	PATHF(dir, "%s/file", f->base);
	assert_int_equal(snap_write_file(f->base, "file", "x", 1), 0);
	assert_int_equal(snap_dir_begin(dir, "s1", tmp, sizeof(tmp)), -ENOTDIR);
}

/* What a crash leaves behind is cleaned by the next begin. */
static void test_crash_leftovers(void **state)
{
	struct fixture *f = *state;
	char tmp[PATH_MAX], sub[PATH_MAX + 8];

	save_text(f->dir, "s1", "old");
	/* A crash mid-save: a half-written NAME.tmp with a file and a subdirectory. */
	assert_int_equal(snap_dir_begin(f->dir, "s1", tmp, sizeof(tmp)), 0);
	assert_int_equal(snap_write_file(tmp, "memory", "partial", 7), 0);
	PATHF(sub, "%s/sub", tmp);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(snap_write_file(sub, "x", "y", 1), 0);
	assert_int_equal(symlink("/etc/passwd", strcat(sub, "/link")), 0);
	/* Next start: begin again, and the leftovers are gone. */
	assert_int_equal(snap_dir_begin(f->dir, "s1", tmp, sizeof(tmp)), 0);
	assert_int_equal(count_entries(tmp), 0);
	assert_state_text(f->dir, "s1", "old");
	assert_int_equal(access("/etc/passwd", F_OK), 0); /* the link was not followed */
	assert_int_equal(snap_dir_abort(f->dir, "s1"), 0);
	assert_int_equal(count_entries(f->dir), 1);
}

/* The fallback commit's crash windows: NAME.old.PID alone, or beside the new NAME. */
static void test_recover_old(void **state)
{
	struct fixture *f = *state;
	char a[PATH_MAX], b[PATH_MAX];

	save_text(f->dir, "s1", "old");
	/* Crash between the two renames: only s1.old.123 is left. */
	PATHF(a, "%s/s1", f->dir);
	PATHF(b, "%s/s1.old.123", f->dir);
	assert_int_equal(rename(a, b), 0);
	assert_int_equal(snap_dir_recover(f->dir, "s1"), 0);
	assert_state_text(f->dir, "s1", "old");
	assert_false(path_exists(f->dir, "s1.old.123"));
	/* Crash before the old one was removed: both are there, the old one goes. */
	save_text(f->dir, "s2", "stale");
	PATHF(a, "%s/s2", f->dir);
	assert_int_equal(rename(a, b), 0);
	assert_int_equal(snap_dir_begin(f->dir, "s1", a, sizeof(a)), 0);
	assert_false(path_exists(f->dir, "s1.old.123"));
	assert_state_text(f->dir, "s1", "old");
	assert_int_equal(snap_dir_abort(f->dir, "s1"), 0);
	/* Another name's old copies are none of its business. */
	PATHF(b, "%s/s10.old.5", f->dir);
	assert_int_equal(mkdir(b, 0700), 0);
	assert_int_equal(snap_dir_recover(f->dir, "s1"), 0);
	assert_true(path_exists(f->dir, "s10.old.5"));
}

static void test_replace_keeps_one(void **state)
{
	struct fixture *f = *state;
	char tmp[PATH_MAX];

	save_text(f->dir, "s1", "first");
	save_text(f->dir, "s1", "second");
	assert_int_equal(count_entries(f->dir), 1);
	assert_state_text(f->dir, "s1", "second");
	/* A replaced snapshot with an extra file loses it: the directory is swapped whole. */
	assert_int_equal(snap_dir_begin(f->dir, "s1", tmp, sizeof(tmp)), 0);
	assert_int_equal(snap_write_file(tmp, SNAP_STATE_FILE, "third", 5), 0);
	assert_int_equal(snap_write_file(tmp, "disk1.raw", "d", 1), 0);
	assert_int_equal(snap_dir_commit(f->dir, "s1"), 0);
	save_text(f->dir, "s1", "fourth");
	assert_false(path_exists(f->dir, "s1/disk1.raw"));
	assert_int_equal(count_entries(f->dir), 1);
	assert_int_equal(count_entries(f->base), 1);
}

static void test_replace_fallback(void **state)
{
	struct fixture *f = *state;
	char tmp[PATH_MAX];

	/* First save through the fallback: nothing to set aside. */
	assert_int_equal(snap_dir_begin(f->dir, "s1", tmp, sizeof(tmp)), 0);
	assert_int_equal(snap_write_file(tmp, SNAP_STATE_FILE, "first", 5), 0);
	assert_int_equal(snap_dir_commit_fallback(f->dir, "s1"), 0);
	assert_state_text(f->dir, "s1", "first");
	assert_int_equal(snap_dir_begin(f->dir, "s1", tmp, sizeof(tmp)), 0);
	assert_int_equal(snap_write_file(tmp, SNAP_STATE_FILE, "second", 6), 0);
	assert_int_equal(snap_dir_commit_fallback(f->dir, "s1"), 0);
	assert_state_text(f->dir, "s1", "second");
	assert_int_equal(count_entries(f->dir), 1);
	assert_int_equal(snap_dir_commit_fallback(f->dir, "s1"), -ENOENT);
}

static void test_file_names(void **state)
{
	struct fixture *f = *state;
	void *buf;
	size_t len;

	assert_int_equal(snap_write_file(f->base, "", "x", 1), -EINVAL);
	assert_int_equal(snap_write_file(f->base, "a/b", "x", 1), -EINVAL);
	assert_int_equal(snap_write_file(f->base, "..", "x", 1), -EINVAL);
	assert_int_equal(snap_read_file(f->base, "../x", 10, &buf, &len), -EINVAL);
	assert_int_equal(snap_read_file(f->base, "absent", 10, &buf, &len), -ENOENT);
	assert_int_equal(snap_write_file(f->base, "big", "0123456789", 10), 0);
	assert_int_equal(snap_read_file(f->base, "big", 9, &buf, &len), -EFBIG);
	assert_null(buf);
	assert_int_equal(snap_read_file(f->base, "big", 10, &buf, &len), 0);
	assert_int_equal(len, 10);
	free(buf);
	/* Rewriting replaces the contents, never appends. */
	assert_int_equal(snap_write_file(f->base, "big", "ab", 2), 0);
	assert_int_equal(snap_read_file(f->base, "big", 10, &buf, &len), 0);
	assert_int_equal(len, 2);
	free(buf);
	assert_int_equal(snap_write_file("/nonexistent-dir", "x", "x", 1), -ENOENT);
}

/* A few non-zero pages in @mem, including a region's first and last bytes. */
static void scribble(struct guest_mem *mem)
{
	uint8_t *h = mem->regions[0].host;
	uint64_t size = mem->regions[0].size;

	h[0] = 1;
	memset(h + 5 * MiB + 123, 0xab, 10000); /* straddles three pages */
	h[33 * MiB + 4095] = 7;		       /* the last byte of a page */
	h[size - 1] = 0xff;
}

static void test_memory_sparse_round_trip(void **state)
{
	struct fixture *f = *state;
	struct guest_mem mem, back;
	char path[PATH_MAX], tmp[PATH_MAX];
	uint8_t *host;
	struct stat st;
	uint8_t byte;
	int fd;

	guest_mem_layout(&mem, 64 * MiB);
	assert_int_equal(guest_mem_map(&mem), 0);
	scribble(&mem);
	assert_int_equal(snap_dir_begin(f->dir, "m", tmp, sizeof(tmp)), 0);
	assert_int_equal(snap_write_memory(tmp, &mem), 0);
	assert_int_equal(snap_dir_commit(f->dir, "m"), 0);
	PATHF(path, "%s/m/memory", f->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 64 * MiB);
	/* 5 pages of data (20 KiB); allow the filesystem its metadata and rounding. */
	assert_true((uint64_t)st.st_blocks * 512 <= 512 * KiB);

	guest_mem_layout(&back, 64 * MiB);
	assert_int_equal(guest_mem_map(&back), 0);
	host = back.regions[0].host;
	memset(host, 0x5a, 64 * KiB); /* the old contents must disappear */
	PATHF(path, "%s/m", f->dir);
	assert_int_equal(snap_map_memory(path, &back), 0);
	assert_ptr_equal(back.regions[0].host, host); /* KVM's slot keeps its address */
	assert_memory_equal(host, mem.regions[0].host, 64 * MiB);
	/* Private: the guest's writes do not reach the snapshot. */
	host[0] = 99;
	PATHF(path, "%s/m/memory", f->dir);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &byte, 1, 0), 1);
	assert_int_equal(byte, 1);
	close(fd);
	guest_mem_unmap(&back);
	guest_mem_unmap(&mem);
}

/* Two regions (low and high RAM): region 1 sits right after region 0 in the file. */
static void test_memory_two_regions(void **state)
{
	struct fixture *f = *state;
	struct guest_mem mem = { .nregions = 2, .ram_size = 3 * MiB }, back;
	char path[PATH_MAX];
	uint8_t b[2];
	int fd;

	mem.regions[0] = (struct mem_region){ .gpa = 0, .size = 1 * MiB };
	mem.regions[1] = (struct mem_region){ .gpa = HIGH_RAM_START, .size = 2 * MiB };
	back = mem;
	for (int i = 0; i < 2; i++) {
		mem.regions[i].host = mmap(NULL, mem.regions[i].size, PROT_READ | PROT_WRITE,
					   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		back.regions[i].host = mmap(NULL, mem.regions[i].size, PROT_READ | PROT_WRITE,
					    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		assert_true(mem.regions[i].host != MAP_FAILED && back.regions[i].host != MAP_FAILED);
	}
	mem.regions[0].host[MiB - 1] = 0x11;
	mem.regions[1].host[0] = 0x22;
	mem.regions[1].host[2 * MiB - 1] = 0x33;
	assert_int_equal(snap_write_memory(f->base, &mem), 0);
	PATHF(path, "%s/memory", f->base);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, b, 2, MiB - 1), 2);
	assert_int_equal(b[0], 0x11);
	assert_int_equal(b[1], 0x22);
	close(fd);
	assert_int_equal(snap_map_memory(f->base, &back), 0);
	for (int i = 0; i < 2; i++) {
		assert_memory_equal(back.regions[i].host, mem.regions[i].host, mem.regions[i].size);
		munmap(mem.regions[i].host, mem.regions[i].size);
		munmap(back.regions[i].host, back.regions[i].size);
	}
}

static void test_map_memory_refusals(void **state)
{
	struct fixture *f = *state;
	struct guest_mem mem, other;
	uint8_t *keep;

	guest_mem_layout(&mem, 16 * MiB);
	assert_int_equal(guest_mem_map(&mem), 0);
	mem.regions[0].host[100] = 1;
	assert_int_equal(snap_map_memory(f->base, &mem), -ENOENT);
	assert_int_equal(snap_write_memory(f->base, &mem), 0);
	/* A VM of another size. */
	guest_mem_layout(&other, 32 * MiB);
	assert_int_equal(guest_mem_map(&other), 0);
	assert_int_equal(snap_map_memory(f->base, &other), -EINVAL);
	guest_mem_unmap(&other);
	/* Not mapped, or not page-aligned: refused before anything is replaced. */
	guest_mem_layout(&other, 16 * MiB);
	assert_int_equal(snap_map_memory(f->base, &other), -EINVAL);
	assert_int_equal(snap_write_memory(f->base, &other), -EINVAL);
	keep = mem.regions[0].host;
	mem.regions[0].host = keep + 1;
	assert_int_equal(snap_map_memory(f->base, &mem), -EINVAL);
	mem.regions[0].host = keep;
	mem.regions[0].size -= 100;
	assert_int_equal(snap_map_memory(f->base, &mem), -EINVAL);
	mem.regions[0].size += 100;
	assert_int_equal(keep[100], 1);
	guest_mem_unmap(&mem);
}

/* A 16 MiB sparse image: data at 0, 5 MiB and the end, and 1 MiB of written zeros. */
static int make_sparse_disk(const char *path)
{
	static uint8_t zeros[MiB];
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 16 * MiB), 0);
	assert_int_equal(pwrite(fd, "boot", 4, 0), 4);
	assert_int_equal(pwrite(fd, zeros, sizeof(zeros), 8 * MiB), (ssize_t)sizeof(zeros));
	assert_int_equal(pwrite(fd, "middle", 6, 5 * MiB + 4090), 6); /* across a page */
	assert_int_equal(pwrite(fd, "end", 3, 16 * MiB - 3), 3);
	assert_int_equal(fsync(fd), 0);
	return fd;
}

static void assert_same_file(int a, const char *path)
{
	static uint8_t x[MiB], y[MiB];
	int b = open(path, O_RDONLY);
	struct stat sa, sb;

	assert_true(b >= 0);
	assert_int_equal(fstat(a, &sa), 0);
	assert_int_equal(fstat(b, &sb), 0);
	assert_int_equal(sa.st_size, sb.st_size);
	for (off_t off = 0; off < sa.st_size; off += MiB) {
		ssize_t n = pread(a, x, MiB, off);

		assert_true(n > 0);
		assert_int_equal(pread(b, y, MiB, off), n);
		assert_memory_equal(x, y, n);
	}
	close(b);
}

static void test_copy_disk_sparse(void **state)
{
	struct fixture *f = *state;
	char src[PATH_MAX], dst[PATH_MAX];
	struct stat st;
	int fd, p[2];

	PATHF(src, "%s/disk.raw", f->base);
	PATHF(dst, "%s/copy.raw", f->base);
	fd = make_sparse_disk(src);
	assert_int_equal(snap_copy_disk(fd, dst), 0);
	assert_same_file(fd, dst);
	assert_int_equal(stat(dst, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* A reflink shares everything; a copy holds 4 pages: either way, far below 1 MiB. */
	assert_true((uint64_t)st.st_blocks * 512 < 512 * KiB);
	/* Copying again over an existing copy. */
	assert_int_equal(pwrite(fd, "changed", 7, 100), 7);
	assert_int_equal(snap_copy_disk(fd, dst), 0);
	assert_same_file(fd, dst);
	close(fd);
	/* Not a regular file. */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(snap_copy_disk(p[0], dst), -EINVAL);
	close(p[0]);
	close(p[1]);
	PATHF(dst, "%s/no/such/copy.raw", f->base);
	fd = open(src, O_RDONLY);
	assert_int_equal(snap_copy_disk(fd, dst), -ENOENT);
	close(fd);
}

static void test_copy_disk_empty(void **state)
{
	struct fixture *f = *state;
	char src[PATH_MAX], dst[PATH_MAX];
	int fd;

	PATHF(src, "%s/empty.raw", f->base);
	PATHF(dst, "%s/copy.raw", f->base);
	fd = open(src, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(snap_copy_disk(fd, dst), 0);
	assert_same_file(fd, dst);
	/* All hole. */
	assert_int_equal(ftruncate(fd, 3 * MiB + 512), 0);
	assert_int_equal(snap_copy_disk(fd, dst), 0);
	assert_same_file(fd, dst);
	close(fd);
}

struct seen {
	char names[8][SNAP_NAME_MAX + 1];
	struct snap_info info[8];
	int n, stop_at;
};

static int note(const struct snap_info *info, void *opaque)
{
	struct seen *s = opaque;

	if (s->n == s->stop_at)
		return 42;
	snprintf(s->names[s->n], sizeof(s->names[0]), "%s", info->name);
	s->info[s->n] = *info;
	s->info[s->n].name = s->names[s->n];
	s->n++;
	return 0;
}

static void test_delete_and_list(void **state)
{
	struct fixture *f = *state;
	struct seen seen = { .stop_at = -1 };
	struct guest_mem mem;
	char tmp[PATH_MAX], p[PATH_MAX + 16];

	assert_int_equal(snap_dir_list(f->dir, note, &seen), -ENOENT);
	save_text(f->dir, "zeta", "z");
	guest_mem_layout(&mem, 16 * MiB);
	assert_int_equal(guest_mem_map(&mem), 0);
	mem.regions[0].host[MiB] = 1;
	assert_int_equal(snap_dir_begin(f->dir, "alpha", tmp, sizeof(tmp)), 0);
	assert_int_equal(snap_write_memory(tmp, &mem), 0);
	assert_int_equal(snap_dir_commit(f->dir, "alpha"), 0);
	guest_mem_unmap(&mem);
	/* Things that are not complete snapshots. */
	assert_int_equal(snap_dir_begin(f->dir, "unfinished", tmp, sizeof(tmp)), 0);
	PATHF(p, "%s/zeta.old.99", f->dir);
	assert_int_equal(mkdir(p, 0700), 0);
	assert_int_equal(snap_write_file(f->dir, "notes", "x", 1), 0);
	PATHF(p, "%s/.hidden", f->dir);
	assert_int_equal(mkdir(p, 0700), 0);

	assert_int_equal(snap_dir_list(f->dir, note, &seen), 0);
	assert_int_equal(seen.n, 2);
	assert_string_equal(seen.names[0], "alpha");
	assert_string_equal(seen.names[1], "zeta");
	assert_int_equal(seen.info[0].memory_size, 16 * MiB);
	assert_true(seen.info[0].memory_alloc > 0 && seen.info[0].memory_alloc < MiB);
	assert_true(seen.info[0].mtime.tv_sec > 0);
	assert_int_equal(seen.info[1].memory_size, 0);
	/* A callback's non-zero return stops the walk and comes back. */
	seen = (struct seen){ .stop_at = 1 };
	assert_int_equal(snap_dir_list(f->dir, note, &seen), 42);
	assert_int_equal(seen.n, 1);

	assert_int_equal(snap_dir_delete(f->dir, "alpha"), 0);
	assert_false(path_exists(f->dir, "alpha"));
	assert_false(path_exists(f->dir, "alpha.tmp"));
	assert_int_equal(snap_dir_delete(f->dir, "alpha"), -ENOENT);
	assert_int_equal(snap_dir_delete(f->dir, "never"), -ENOENT);
	seen = (struct seen){ .stop_at = -1 };
	assert_int_equal(snap_dir_list(f->dir, note, &seen), 0);
	assert_int_equal(seen.n, 1);
	assert_string_equal(seen.names[0], "zeta");
	/* The unfinished save is still there to commit. */
	assert_int_equal(snap_dir_commit(f->dir, "unfinished"), 0);
}

static void set_fsize_limit(struct rlimit *old, rlim_t soft)
{
	struct rlimit rl;

	assert_int_equal(getrlimit(RLIMIT_FSIZE, old), 0);
	rl = *old;
	rl.rlim_cur = soft;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

/* RLIMIT_FSIZE makes writes past it fail with EFBIG (SIGXFSZ ignored): errors come back whole. */
static void test_write_errors_surface(void **state)
{
	struct fixture *f = *state;
	struct guest_mem mem;
	struct rlimit old;
	char tmp[PATH_MAX], src[PATH_MAX], dst[PATH_MAX + 16];
	static uint8_t big[256 * KiB];
	struct seen seen = { .stop_at = -1 };
	void (*prev)(int);
	int fd;

	save_text(f->dir, "good", "kept");
	PATHF(src, "%s/disk.raw", f->base);
	fd = make_sparse_disk(src);
	guest_mem_layout(&mem, 16 * MiB);
	assert_int_equal(guest_mem_map(&mem), 0);
	mem.regions[0].host[0] = 1;
	memset(big, 0x77, sizeof(big));

	prev = signal(SIGXFSZ, SIG_IGN);
	set_fsize_limit(&old, 64 * KiB);
	assert_int_equal(snap_dir_begin(f->dir, "good", tmp, sizeof(tmp)), 0);
	/* A short write first (up to the limit), then EFBIG: retried, then reported. */
	assert_int_equal(snap_write_file(tmp, SNAP_STATE_FILE, big, sizeof(big)), -EFBIG);
	assert_false(path_exists(tmp, SNAP_STATE_FILE));
	assert_int_equal(snap_write_memory(tmp, &mem), -EFBIG);
	assert_false(path_exists(tmp, SNAP_MEMORY_FILE));
	PATHF(dst, "%s/disk0.raw", tmp);
	assert_int_equal(snap_copy_disk(fd, dst), -EFBIG);
	assert_false(path_exists(tmp, "disk0.raw"));
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, prev);

	/* The caller aborts; the earlier snapshot is whole and alone. */
	assert_int_equal(snap_dir_abort(f->dir, "good"), 0);
	assert_state_text(f->dir, "good", "kept");
	assert_int_equal(snap_dir_list(f->dir, note, &seen), 0);
	assert_int_equal(seen.n, 1);
	assert_int_equal(count_entries(f->dir), 1);
	guest_mem_unmap(&mem);
	close(fd);
}

/* In the child: each write must fail with ENOSPC on a 64 KiB tmpfs. Exit 0 if so. */
static int enospc_child(const char *dir)
{
	static uint8_t big[256 * KiB];
	struct guest_mem mem;
	char tmp[PATH_MAX];

	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
	    mkdir(dir, 0700) || mount("none", dir, "tmpfs", 0, "size=64k"))
		return 77;
	memset(big, 1, sizeof(big));
	if (snap_dir_begin(dir, "s", tmp, sizeof(tmp)))
		return 1;
	if (snap_write_file(tmp, SNAP_STATE_FILE, big, sizeof(big)) != -ENOSPC)
		return 2;
	guest_mem_layout(&mem, 16 * MiB);
	if (guest_mem_map(&mem))
		return 3;
	for (uint64_t off = 0; off < 16 * MiB; off += 64 * KiB)
		mem.regions[0].host[off] = 1;
	if (snap_write_memory(tmp, &mem) != -ENOSPC)
		return 4;
	if (snap_dir_abort(dir, "s") || snap_dir_commit(dir, "s") != -ENOENT)
		return 5;
	return 0;
}

static void test_enospc_tmpfs(void **state)
{
	struct fixture *f = *state;
	char dir[PATH_MAX];
	int status;
	pid_t pid;

	PATHF(dir, "%s/tiny", f->base);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(enospc_child(dir));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip(); /* no right to mount here: test_write_errors_surface covers the paths */
	assert_int_equal(WEXITSTATUS(status), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		T(test_invalid_names_refused),
		T(test_begin_commit_abort),
		T(test_begin_needs_parent),
		T(test_crash_leftovers),
		T(test_recover_old),
		T(test_replace_keeps_one),
		T(test_replace_fallback),
		T(test_file_names),
		T(test_memory_sparse_round_trip),
		T(test_memory_two_regions),
		T(test_map_memory_refusals),
		T(test_copy_disk_sparse),
		T(test_copy_disk_empty),
		T(test_delete_and_list),
		T(test_write_errors_surface),
		T(test_enospc_tmpfs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
