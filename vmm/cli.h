/* The command line: what the user asked for, checked before anything is opened. */
#ifndef MINIVMM_CLI_H
#define MINIVMM_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "../devices/virtio_net.h"

#define DEFAULT_CMDLINE "console=ttyS0 reboot=k panic=-1"
#define DEFAULT_CMDLINE_HVC "console=hvc0 reboot=k panic=-1"
#define DEFAULT_MEM (256ULL << 20)
#define MAX_CPUS 254 /* xAPIC IDs in the MP table are 8 bits; 255 is broadcast */

#define MAX_DISKS 8
#define MAX_NETS 4
#define DISK_SERIAL_MAX 20 /* virtio-blk GET_ID bytes */

struct disk_config {
	const char *path;
	bool read_only;
	char serial[DISK_SERIAL_MAX + 1];
};

struct config {
	const char *kernel;
	const char *initrd;
	const char *cmdline;
	uint64_t mem_size;
	int cpus;
	const char *cpu_features; /* "-cx16,+x2apic", applied to CPUID */
	struct disk_config disks[MAX_DISKS];
	int ndisks;
	struct net_config nets[MAX_NETS];
	int nnets;
	bool no_acpi;
	bool virtio_console; /* console input to a virtio console instead of the UART */
	const char *monitor;	  /* control socket path */
	const char *snapshot_dir; /* where savevm writes (default: by the first disk, or .) */
	const char *restore;	  /* start from this snapshot directory */
	bool debug;
};

/*
 * Parse argv into @cfg. Returns 0 to run, 1 when --help/--version printed
 * and the program should exit 0, or -1 after printing a one-line error
 * (exit status 2).
 */
int cli_parse(int argc, char **argv, struct config *cfg);

/* "PATH[,ro][,serial=ID]" into @disk (which keeps pointers into @arg). -1 with @why. */
int parse_disk(char *arg, struct disk_config *disk, const char **why);

/*
 * "256M", "1G", "4096K", "65536" (MiB, as QEMU reads it). Returns 0, or -1
 * with the reason in @why. The result is a non-zero multiple of 4 KiB.
 */
int parse_size(const char *s, uint64_t *out, const char **why);

#endif
