/*
 * savevm / loadvm / delvm / info snapshots, and --restore. The directory
 * layer (atomic NAME.tmp -> NAME, sparse memory, disk copies) is in
 * snapshot_files.c, the state file's sections in snapshot_format.c, the KVM
 * records in machine_state.c. Everything here runs on the I/O thread with
 * the VM paused.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/fs.h>
#include <unistd.h>

#include "../devices/virtio_blk.h"
#include "cpuid.h"
#include "log.h"
#include "machine_state.h"
#include "snapshot.h"
#include "snapshot_disks.h"
#include "snapshot_files.h"
#include "snapshot_format.h"
#include "vm.h"

#define CONFIG_VERSION 2
#define DEVICE_STATE_MAX (256 * 1024)

#define NFEATURE_WORDS 8
#define DEVICE_READ_ONLY 1 /* config's per-device flags */

static void cpu_features(const struct vm *vm, uint32_t *out);
static uint32_t tsc_khz(const struct vm *vm);
static uint8_t device_flags(const struct device *d);

#define REFUSE(...)                                   \
	do {                                          \
		snprintf(why, whylen, __VA_ARGS__);   \
		return -1;                            \
	} while (0)

static bool is_writable_disk(const struct device *d)
{
	return strcmp(d->ops->name, "virtio-blk") == 0 &&
	       !((const struct virtio_blk *)d->dev)->read_only;
}

/* What a snapshot must match to be restored here: vCPUs, RAM, the devices in order. */
static int put_config(struct snap_writer *w, const struct vm *vm)
{
	uint8_t buf[4096];
	struct snap_cursor c;

	snap_cursor_put_init(&c, buf, sizeof(buf));
	snap_put_u32(&c, vm->ncpus);
	snap_put_u64(&c, vm->mem.ram_size);
	snap_put_u32(&c, vm->ndevices);
	for (int i = 0; i < vm->ndevices; i++) {
		const char *name = vm->devices[i].ops->name;

		snap_put_u8(&c, strlen(name));
		snap_put_bytes(&c, name, strlen(name));
		snap_put_u8(&c, device_flags(&vm->devices[i]));
	}
	snap_put_u32(&c, tsc_khz(vm));
	uint32_t features[NFEATURE_WORDS];

	cpu_features(vm, features);
	for (int i = 0; i < NFEATURE_WORDS; i++)
		snap_put_u32(&c, features[i]);
	if (snap_cursor_ok(&c) < 0)
		return -ENOSPC;
	return snap_write_section(w, "config", CONFIG_VERSION, buf, snap_cursor_pos(&c));
}

/*
 * The CPUID words that say which instructions the guest may use. A guest
 * that found AVX at boot keeps using it, so a snapshot only restores where
 * the vCPUs offer at least what it was taken with.
 */
static const struct feature_word {
	uint32_t leaf, subleaf;
	int reg; /* 0 eax, 1 ebx, 2 ecx, 3 edx */
	const char *name;
} feature_words[] = {
	{ 1, 0, 2, "1.ecx" },	    { 1, 0, 3, "1.edx" },	  { 7, 0, 1, "7.ebx" },
	{ 7, 0, 2, "7.ecx" },	    { 7, 0, 3, "7.edx" },	  { 0xd, 1, 0, "0xd.1.eax" },
	{ 0x80000001, 0, 2, "0x80000001.ecx" }, { 0x80000001, 0, 3, "0x80000001.edx" },
};

static void cpu_features(const struct vm *vm, uint32_t *out)
{
	for (int i = 0; i < NFEATURE_WORDS; i++) {
		const struct feature_word *f = &feature_words[i];
		const struct kvm_cpuid_entry2 *e = cpuid_find(vm->cpuid, f->leaf, f->subleaf);
		const uint32_t regs[4] = { e ? e->eax : 0, e ? e->ebx : 0, e ? e->ecx : 0,
					   e ? e->edx : 0 };

		out[i] = regs[f->reg];
	}
}

/* The vCPUs' TSC rate in kHz, or 0 where KVM cannot tell. */
static uint32_t tsc_khz(const struct vm *vm)
{
	int khz = vm->ncpus ? ioctl(vm->vcpus[0].fd, KVM_GET_TSC_KHZ) : -1;

	return khz > 0 ? (uint32_t)khz : 0;
}

static uint8_t device_flags(const struct device *d)
{
	bool ro = strcmp(d->ops->name, "virtio-blk") == 0 &&
		  ((const struct virtio_blk *)d->dev)->read_only;

	return ro ? DEVICE_READ_ONLY : 0;
}

/* Every feature the snapshot's vCPUs had must be here too. */
static int check_features(struct snap_cursor *c, const struct vm *vm, char *why, size_t whylen)
{
	uint32_t have[NFEATURE_WORDS], had;

	cpu_features(vm, have);
	for (int i = 0; i < NFEATURE_WORDS; i++) {
		snap_get_u32(c, &had);
		if (snap_cursor_ok(c) < 0)
			REFUSE("machine description truncated");
		if (had & ~have[i])
			REFUSE("taken on vCPUs with features this VM lacks (CPUID %s bits 0x%x); "
			       "restore on the same kind of host with the same --cpu-features",
			       feature_words[i].name, had & ~have[i]);
	}
	return 0;
}

static int check_config(const struct snap_reader *r, const struct vm *vm, uint32_t *khz,
			char *why, size_t whylen)
{
	uint32_t version, ncpus, ndevices;
	uint64_t mem;
	const void *data;
	size_t len;
	struct snap_cursor c;

	if (snap_reader_find(r, "config", &version, &data, &len) < 0)
		REFUSE("no machine description in the snapshot");
	if (version != CONFIG_VERSION)
		REFUSE("machine description version %u, this minivmm reads %d", version,
		       CONFIG_VERSION);
	snap_cursor_get_init(&c, data, len);
	snap_get_u32(&c, &ncpus);
	snap_get_u64(&c, &mem);
	snap_get_u32(&c, &ndevices);
	if (snap_cursor_ok(&c) < 0)
		REFUSE("machine description truncated");
	if (ncpus != (uint32_t)vm->ncpus)
		REFUSE("taken with %u vCPUs, this VM has %d", ncpus, vm->ncpus);
	if (mem != vm->mem.ram_size)
		REFUSE("taken with %lluM of RAM, this VM has %lluM", (unsigned long long)(mem >> 20),
		       (unsigned long long)(vm->mem.ram_size >> 20));
	if (ndevices != (uint32_t)vm->ndevices)
		REFUSE("taken with %u devices, this VM has %d", ndevices, vm->ndevices);
	for (int i = 0; i < vm->ndevices; i++) {
		uint8_t n;
		char name[256] = "";

		uint8_t flags = 0;

		snap_get_u8(&c, &n);
		snap_get_bytes(&c, name, n);
		snap_get_u8(&c, &flags);
		if (snap_cursor_ok(&c) < 0 || strcmp(name, vm->devices[i].ops->name) != 0)
			REFUSE("device %d differs (snapshot: '%s', this VM: %s)", i, name,
			       vm->devices[i].ops->name);
		if (flags != device_flags(&vm->devices[i]))
			REFUSE("device %d (%s) was %s when the snapshot was taken", i, name,
			       flags & DEVICE_READ_ONLY ? "read-only" : "writable");
	}
	snap_get_u32(&c, khz);
	if (snap_cursor_ok(&c) < 0)
		REFUSE("machine description truncated");
	return check_features(&c, vm, why, whylen);
}

/*
 * Keep the guest's TSC at the rate it was calibrated to on the snapshot's host.
 * Before the MSRs go in: KVM scales the saved TSC value by the rate.
 */
static void match_tsc_rate(struct vm *vm, uint32_t khz)
{
	if (!khz || khz == tsc_khz(vm))
		return;
	for (int i = 0; i < vm->ncpus; i++)
		if (ioctl(vm->vcpus[i].fd, KVM_SET_TSC_KHZ, khz) < 0) {
			log_msg("snapshot taken with a %u kHz TSC, this host's is %u kHz and KVM "
				"cannot scale it (%s): a guest timing by the TSC will drift",
				khz, tsc_khz(vm), strerror(errno));
			return;
		}
}

static int put_machine(struct snap_writer *w, struct vm *vm, char *why, size_t whylen)
{
	static struct vcpu_state vs; /* large: not on the stack */
	struct vm_state ms;
	char tag[SNAP_TAG_LEN];

	if (vm_state_save(vm, &ms, why, whylen) < 0 ||
	    snap_write_section(w, "vm", VM_STATE_VERSION, &ms, sizeof(ms)) < 0)
		return -1;
	for (int i = 0; i < vm->ncpus; i++) {
		snprintf(tag, sizeof(tag), "vcpu.%d", i);
		if (vcpu_state_save(&vm->vcpus[i], &vs, why, whylen) < 0)
			return -1;
		if (snap_write_section(w, tag, VCPU_STATE_VERSION, &vs, sizeof(vs)) < 0)
			REFUSE("state: out of memory");
	}
	return 0;
}

static int put_devices(struct snap_writer *w, struct vm *vm, char *why, size_t whylen)
{
	uint8_t *buf = malloc(DEVICE_STATE_MAX);
	char tag[SNAP_TAG_LEN];
	int err = 0;

	if (!buf)
		REFUSE("state: out of memory");
	for (int i = 0; i < vm->ndevices && !err; i++) {
		const struct device *d = &vm->devices[i];
		long n = d->ops->save ? d->ops->save(d->dev, buf, DEVICE_STATE_MAX) : 0;

		snprintf(tag, sizeof(tag), "dev.%d", i);
		if (n < 0) {
			snprintf(why, whylen, "device %s: cannot save its state", d->ops->name);
			err = -1;
		} else if (snap_write_section(w, tag, 1, buf, n) < 0) {
			snprintf(why, whylen, "state: out of memory");
			err = -1;
		}
	}
	free(buf);
	return err;
}

static int write_state(struct vm *vm, const char *tmp, char *why, size_t whylen)
{
	struct snap_writer w;
	const void *buf;
	size_t len;
	int err;

	snap_writer_init(&w);
	err = put_config(&w, vm) < 0 ? -1 : 0;
	if (!err)
		err = put_machine(&w, vm, why, whylen);
	if (!err)
		err = put_devices(&w, vm, why, whylen);
	if (!err && snap_writer_finish(&w, &buf, &len) == 0) {
		int e = snap_write_file(tmp, SNAP_STATE_FILE, buf, len);

		if (e < 0) {
			snprintf(why, whylen, "%s/state: %s", tmp, strerror(-e));
			err = -1;
		}
	} else if (!err) {
		snprintf(why, whylen, "state: out of memory");
		err = -1;
	}
	snap_writer_free(&w);
	return err;
}

/* DIR/disk.N: where device N's disk goes in a snapshot. */
static int disk_path(char *path, size_t len, const char *dir, int n)
{
	int r = snprintf(path, len, "%s/disk.%d", dir, n);

	return r < 0 || (size_t)r >= len ? -1 : 0;
}

/* Each writable disk as disk.N beside the memory, so the pair never drifts apart. */
static int copy_disks(struct vm *vm, const char *tmp, char *why, size_t whylen)
{
	char path[PATH_MAX];

	for (int i = 0; i < vm->ndevices; i++) {
		if (!is_writable_disk(&vm->devices[i]))
			continue;
		const struct virtio_blk *blk = vm->devices[i].dev;
		int err;

		if (disk_path(path, sizeof(path), tmp, i) < 0)
			REFUSE("%s: path too long", tmp);
		err = snap_copy_disk(blk->fd, path);
		if (err < 0)
			REFUSE("%s: copying disk %s: %s", path, blk->path, strerror(-err));
	}
	return 0;
}

int snapshot_save(struct vm *vm, const char *name, char *why, size_t whylen)
{
	const char *dir = vm->snapshot_dir;
	char tmp[PATH_MAX];
	int err = snap_dir_begin(dir, name, tmp, sizeof(tmp));

	if (err == -EINVAL)
		REFUSE("'%s': a snapshot name is 1 to 64 of A-Z a-z 0-9 . _ - (no leading dot)",
		       name);
	if (err < 0)
		REFUSE("%s/%s: %s", dir, name, strerror(-err));
	err = write_state(vm, tmp, why, whylen);
	if (!err) {
		int e = snap_write_memory(tmp, &vm->mem);

		if (e < 0) {
			snprintf(why, whylen, "%s/memory: %s", tmp, strerror(-e));
			err = -1;
		}
	}
	if (!err)
		err = copy_disks(vm, tmp, why, whylen);
	if (!err && (err = snap_dir_commit(dir, name)) < 0)
		snprintf(why, whylen, "%s/%s: %s", dir, name, strerror(-err));
	if (err)
		snap_dir_abort(dir, name);
	return err ? -1 : 0;
}

/* All of a snapshot's state, parsed and checked before anything is applied. */
struct loaded_state {
	void *file; /* the state file; sections point into it */
	size_t file_len;
	struct snap_reader reader;
	const struct vm_state *vm;
	uint32_t tsc_khz; /* the vCPUs' TSC rate at the save, 0 if unknown */
	const struct vcpu_state *vcpus[MAX_CPUS];
	struct snap_section devices[MAX_DEVICES];
};

/* Find section @tag of @version and exactly @size bytes. */
static const void *fixed_section(const struct snap_reader *r, const char *tag, uint32_t version,
				 size_t size)
{
	uint32_t v;
	const void *data;
	size_t len;

	if (snap_reader_find(r, tag, &v, &data, &len) < 0 || v != version || len != size)
		return NULL;
	return data;
}

/* Check and index a state file's contents (@path names it in messages). */
static int parse_state_buf(struct vm *vm, const void *buf, size_t len, const char *path,
			   struct loaded_state *ls, char *why, size_t whylen)
{
	char tag[SNAP_TAG_LEN];

	if (snap_reader_open(&ls->reader, buf, len, why, whylen) < 0)
		return -1;
	if (check_config(&ls->reader, vm, &ls->tsc_khz, why, whylen) < 0)
		return -1;
	ls->vm = fixed_section(&ls->reader, "vm", VM_STATE_VERSION, sizeof(struct vm_state));
	if (!ls->vm)
		REFUSE("%s: no usable irqchip/PIT/clock section", path);
	for (int i = 0; i < vm->ncpus; i++) {
		snprintf(tag, sizeof(tag), "vcpu.%d", i);
		ls->vcpus[i] = fixed_section(&ls->reader, tag, VCPU_STATE_VERSION,
					     sizeof(struct vcpu_state));
		if (!ls->vcpus[i])
			REFUSE("%s: no usable state for vCPU %d", path, i);
	}
	for (int i = 0; i < vm->ndevices; i++) {
		struct snap_section *s = &ls->devices[i];

		snprintf(tag, sizeof(tag), "dev.%d", i);
		if (snap_reader_find(&ls->reader, tag, &s->version, &s->data, &s->len) < 0)
			REFUSE("%s: no state for device %s", path, vm->devices[i].ops->name);
	}
	return 0;
}

static int parse_state(struct vm *vm, const char *dir, struct loaded_state *ls, char *why,
		       size_t whylen)
{
	int err = snap_read_file(dir, SNAP_STATE_FILE, SNAP_STATE_MAX, &ls->file, &ls->file_len);

	if (err < 0)
		REFUSE("%s/%s: %s", dir, SNAP_STATE_FILE, strerror(-err));
	return parse_state_buf(vm, ls->file, ls->file_len, dir, ls, why, whylen);
}

static int apply_state(struct vm *vm, const struct loaded_state *ls, char *why, size_t whylen)
{
	if (vm_state_load(vm, ls->vm, why, whylen) < 0)
		return -1;
	match_tsc_rate(vm, ls->tsc_khz);
	for (int i = 0; i < vm->ncpus; i++)
		if (vcpu_state_load(&vm->vcpus[i], ls->vcpus[i], why, whylen) < 0)
			return -1;
	for (int i = 0; i < vm->ndevices; i++) {
		const struct device *d = &vm->devices[i];

		if (d->ops->load && d->ops->load(d->dev, ls->devices[i].data, ls->devices[i].len))
			REFUSE("device %s: its saved state does not fit this VM", d->ops->name);
	}
	return 0;
}

static int check_disks(struct vm *vm, const char *dir, char *why, size_t whylen)
{
	char path[PATH_MAX];
	struct stat st;

	for (int i = 0; i < vm->ndevices; i++) {
		if (disk_path(path, sizeof(path), dir, i) < 0)
			REFUSE("%s: path too long", dir);
		if (is_writable_disk(&vm->devices[i]) && stat(path, &st) < 0)
			REFUSE("%s: %s", path, strerror(errno));
	}
	return 0;
}

/* Copy every writable disk's disk.N next to its image; nothing live changes yet. */
static int stage_disks(struct vm *vm, const char *dir, struct disk_restore *staged, int *nstaged,
		       char *why, size_t whylen)
{
	char path[PATH_MAX];

	*nstaged = 0;
	for (int i = 0; i < vm->ndevices; i++) {
		if (!is_writable_disk(&vm->devices[i]))
			continue;
		disk_path(path, sizeof(path), dir, i); /* checked by check_disks() */
		if (disk_restore_stage(&staged[*nstaged], vm->devices[i].dev, path, why,
				       whylen) < 0)
			return -1;
		(*nstaged)++;
	}
	return 0;
}

static void abort_disks(struct disk_restore *staged, int n)
{
	for (int i = 0; i < n; i++)
		disk_restore_abort(&staged[i]);
}

/* Past this point there is no way back; a failure leaves the VM unable to resume. */
static int commit_disks(struct disk_restore *staged, int n, char *why, size_t whylen)
{
	for (int i = 0; i < n; i++)
		if (disk_restore_commit(&staged[i], why, whylen) < 0)
			return -1; /* the caller drops what is still staged */
	return 0;
}

/*
 * Load the snapshot directory @dir into @vm. Everything that can be checked
 * is checked, and every disk copy staged, before anything changes; if putting
 * the CPU and device state in then fails, the caller can put the VM's own
 * back (returns -1). If swapping in memory or the disks fails after that, the
 * VM is a mix of both and must not run: returns -2.
 */
static int load_dir(struct vm *vm, const char *dir, char *why, size_t whylen)
{
	struct loaded_state *ls = calloc(1, sizeof(*ls));
	struct disk_restore *staged = calloc(MAX_DEVICES, sizeof(*staged));
	int err = -1, nstaged = 0;

	if (!ls || !staged) {
		snprintf(why, whylen, "out of memory");
	} else if (parse_state(vm, dir, ls, why, whylen) == 0 &&
		   check_disks(vm, dir, why, whylen) == 0 &&
		   stage_disks(vm, dir, staged, &nstaged, why, whylen) == 0 &&
		   apply_state(vm, ls, why, whylen) == 0) {
		int e = snap_map_memory(dir, &vm->mem);

		err = -2;
		if (e < 0)
			snprintf(why, whylen, "%s/memory: %s", dir, strerror(-e));
		else if (commit_disks(staged, nstaged, why, whylen) == 0)
			err = 0;
	}
	if (staged)
		abort_disks(staged, nstaged);
	if (ls)
		free(ls->file);
	free(ls);
	free(staged);
	return err;
}

static int snapshot_path(const struct vm *vm, const char *name, char *path, size_t len)
{
	int r = snprintf(path, len, "%s/%s", vm->snapshot_dir, name);

	return r < 0 || (size_t)r >= len ? -1 : 0;
}

int snapshot_load(struct vm *vm, const char *name, char *why, size_t whylen)
{
	char dir[PATH_MAX], rollback_why[256];
	struct stat st;

	if (snap_name_check(name) == 0)
		snap_dir_recover(vm->snapshot_dir, name); /* a save that crashed mid-commit */
	if (snap_name_check(name) != 0 || snapshot_path(vm, name, dir, sizeof(dir)) < 0 ||
	    stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		REFUSE("no snapshot '%s' in %s", name, vm->snapshot_dir);
	/* Keep the running machine's state to fall back on. */
	struct snap_writer w;
	const void *buf;
	size_t len;

	snap_writer_init(&w);
	if (put_config(&w, vm) < 0 || put_machine(&w, vm, why, whylen) < 0 ||
	    put_devices(&w, vm, why, whylen) < 0 || snap_writer_finish(&w, &buf, &len) < 0) {
		snap_writer_free(&w);
		return -1;
	}
	int err = load_dir(vm, dir, why, whylen);

	if (err == -2) {
		/* Part of memory or of the disks is the snapshot's: running on would corrupt both. */
		snprintf(vm->cannot_resume, sizeof(vm->cannot_resume),
			 "loadvm %s failed after RAM or disks were replaced (%s); load a snapshot "
			 "or system_reset", name, why);
		log_msg("%s", vm->cannot_resume);
	} else if (err) {
		struct loaded_state *ls = calloc(1, sizeof(*ls));

		if (!ls ||
		    parse_state_buf(vm, buf, len, "rollback", ls, rollback_why,
				    sizeof(rollback_why)) < 0 ||
		    apply_state(vm, ls, rollback_why, sizeof(rollback_why)) < 0)
			log_msg("loadvm %s: could not put the VM back: %s", name, rollback_why);
		free(ls);
	}
	if (!err)
		vm->cannot_resume[0] = '\0';
	snap_writer_free(&w);
	return err < 0 ? -1 : 0;
}

int snapshot_delete(struct vm *vm, const char *name, char *why, size_t whylen)
{
	int err = snap_name_check(name) == 0 ? snap_dir_delete(vm->snapshot_dir, name) : -ENOENT;

	if (err == -ENOENT)
		REFUSE("no snapshot '%s' in %s", name, vm->snapshot_dir);
	if (err < 0)
		REFUSE("%s/%s: %s", vm->snapshot_dir, name, strerror(-err));
	return 0;
}

void snapshot_restore_at_start(struct vm *vm, const char *dir)
{
	char why[512];
	struct kvm_clock_data clock;

	if (load_dir(vm, dir, why, sizeof(why)) < 0)
		die(EXIT_RUNTIME, "--restore %s: %s", dir, why);
	clock = (struct kvm_clock_data){ .clock = vm->clock.clock };
	if (ioctl(vm->vm_fd, KVM_SET_CLOCK, &clock) < 0)
		die(EXIT_RUNTIME, "--restore %s: KVM_SET_CLOCK: %s", dir, strerror(errno));
}

struct list_ctx {
	void (*print)(void *ctx, const char *line);
	void *ctx;
	int count;
	const char *dir;
};

static int list_one(const struct snap_info *info, void *opaque)
{
	struct list_ctx *l = opaque;
	char line[256], date[32];
	struct tm tm;
	struct stat st;

	/* The snapshot directory may hold other things: only list snapshots. */
	snprintf(line, sizeof(line), "%s/%s/%s", l->dir, info->name, SNAP_STATE_FILE);
	if (stat(line, &st) < 0)
		return 0;
	localtime_r(&info->mtime.tv_sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm);
	snprintf(line, sizeof(line), "%-24s %10lluM %10lluM  %s", info->name,
		 (unsigned long long)(info->memory_size >> 20),
		 (unsigned long long)(info->memory_alloc >> 20), date);
	l->print(l->ctx, line);
	l->count++;
	return 0;
}

int snapshot_list(struct vm *vm, void (*print)(void *ctx, const char *line), void *ctx,
		  char *why, size_t whylen)
{
	struct list_ctx l = { print, ctx, 0, vm->snapshot_dir };
	char header[128];

	snprintf(header, sizeof(header), "%-24s %11s %11s  %s", "NAME", "RAM", "ON DISK", "DATE");
	print(ctx, header);
	int err = snap_dir_list(vm->snapshot_dir, list_one, &l);

	if (err < 0 && err != -ENOENT)
		REFUSE("%s: %s", vm->snapshot_dir, strerror(-err));
	if (l.count == 0)
		print(ctx, "(no snapshots)");
	return 0;
}
