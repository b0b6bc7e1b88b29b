#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"

#ifndef MINIVMM_VERSION
#define MINIVMM_VERSION "0.1"
#endif

static const char usage_text[] =
	"Usage: minivmm --kernel BZIMAGE [options]\n"
	"       minivmm --restore SNAPSHOT_DIR [options]\n"
	"Boot a Linux kernel (bzImage) in a KVM virtual machine.\n"
	"\n"
	"  -k, --kernel PATH        kernel to boot (bzImage, boot protocol 2.06 or later)\n"
	"  -i, --initrd PATH        initial ramdisk\n"
	"  -a, --cmdline STR        kernel command line\n"
	"                           (default \"" DEFAULT_CMDLINE "\")\n"
	"  -m, --mem SIZE           guest RAM, with suffix K, M or G (default 256M;\n"
	"                           a bare number is MiB)\n"
	"  -c, --cpus N             number of vCPUs (default 1)\n"
	"  -d, --disk PATH[,ro][,serial=ID]\n"
	"                           a raw disk image as virtio-blk (repeatable: vda, vdb, ...)\n"
"  -n, --net tap=NAME[,mac=MAC]\n"
	"                           a host tap interface as virtio-net (repeatable: eth0, ...);\n"
	"                           a missing tap is created; default MAC random, locally administered\n"
"      --console serial|virtio\n"
	"                           where console input goes: the UART (default) or a\n"
	"                           virtio console (hvc0; default command line then\n"
	"                           \"" DEFAULT_CMDLINE_HVC "\")\n"
"  -M, --monitor PATH       a control socket (see docs/monitor.md): stop, cont,\n"
	"                           savevm, loadvm, system_powerdown, quit, ...\n"
	"      --snapshot-dir DIR   where savevm keeps snapshots (default: the first\n"
	"                           disk's directory, else the working directory)\n"
	"      --restore DIR        start from a snapshot directory (DIR/NAME) instead of\n"
	"                           booting; give the same --mem, --cpus and devices\n"
	"      --no-acpi            no ACPI tables: MP table, and virtio_mmio.device= on the\n"
	"                           command line for kernels built to read it\n"
	"      --cpu-features LIST  drop or add CPUID features, e.g. -cx16,-xsave,+x2apic\n"
	"      --debug              log debug messages (unhandled I/O, ...)\n"
	"  -h, --help               show this help\n"
	"  -V, --version            show the version\n"
	"\n"
	"On the console, Ctrl-A x quits and Ctrl-A Ctrl-A sends Ctrl-A.\n"
	"Exit status: 0 guest powered off or user quit, 1 runtime error, 2 usage\n"
	"error, 3 guest reset or rebooted, 4 guest crashed.\n";

enum { OPT_CPU_FEATURES = 256, OPT_DEBUG, OPT_NO_ACPI, OPT_CONSOLE, OPT_SNAPSHOT_DIR, OPT_RESTORE };

static const struct option long_options[] = {
	{ "kernel", required_argument, NULL, 'k' },
	{ "initrd", required_argument, NULL, 'i' },
	{ "cmdline", required_argument, NULL, 'a' },
	{ "mem", required_argument, NULL, 'm' },
	{ "cpus", required_argument, NULL, 'c' },
	{ "disk", required_argument, NULL, 'd' },
	{ "net", required_argument, NULL, 'n' },
	{ "no-acpi", no_argument, NULL, OPT_NO_ACPI },
	{ "console", required_argument, NULL, OPT_CONSOLE },
	{ "monitor", required_argument, NULL, 'M' },
	{ "snapshot-dir", required_argument, NULL, OPT_SNAPSHOT_DIR },
	{ "restore", required_argument, NULL, OPT_RESTORE },
	{ "cpu-features", required_argument, NULL, OPT_CPU_FEATURES },
	{ "debug", no_argument, NULL, OPT_DEBUG },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

int parse_size(const char *s, uint64_t *out, const char **why)
{
	char *end;
	unsigned long long n;
	unsigned shift = 20;

	*why = "not a size (use e.g. 512M or 2G)";
	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	n = strtoull(s, &end, 10);
	if (errno)
		return *why = "too large", -1;
	switch (toupper((unsigned char)*end)) {
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case 'T': shift = 40; end++; break;
	case '\0': break;
	default: return -1;
	}
	if (toupper((unsigned char)*end) == 'B' || toupper((unsigned char)*end) == 'I')
		end++; /* allow 512MB / 512Mi */
	if (*end)
		return -1;
	if (n == 0)
		return *why = "must not be zero", -1;
	if (n > (~0ULL >> shift))
		return *why = "too large", -1;
	n <<= shift;
	if (n & 4095)
		return *why = "not a multiple of 4 KiB", -1;
	*out = n;
	return 0;
}

static int parse_cpus(const char *s, int *out)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (errno || end == s || *end || n < 1 || n > MAX_CPUS) {
		log_msg("--cpus %s: must be a number from 1 to %d", s, MAX_CPUS);
		return -1;
	}
	*out = (int)n;
	return 0;
}

int parse_disk(char *arg, struct disk_config *disk, const char **why)
{
	char *opt, *save = NULL;

	*disk = (struct disk_config){ .path = strtok_r(arg, ",", &save) };
	if (!disk->path || !*disk->path || *arg == ',')
		return *why = "no image path", -1;
	while ((opt = strtok_r(NULL, ",", &save))) {
		if (strcmp(opt, "ro") == 0) {
			disk->read_only = true;
		} else if (strncmp(opt, "serial=", 7) == 0) {
			if (strlen(opt + 7) > DISK_SERIAL_MAX)
				return *why = "serial longer than 20 bytes", -1;
			strcpy(disk->serial, opt + 7);
		} else {
			return *why = "unknown disk option (ro, serial=ID)", -1;
		}
	}
	return 0;
}

/*
 * A repeatable device option: parse a private copy of @arg (the config keeps
 * pointers into it, for the life of the process) into the next of @max slots.
 */
static int add_device_option(const char *opt, const char *arg, int *count, int max,
			     const char *what, int (*parse)(char *arg, void *slot, const char **why),
			     void *slot)
{
	const char *why;
	char *copy;

	if (*count == max) {
		log_msg("%s %s: at most %d %s", opt, arg, max, what);
		return -1;
	}
	copy = strdup(arg);
	if (!copy || parse(copy, slot, &why) < 0) {
		log_msg("%s %s: %s", opt, arg, copy ? why : "out of memory");
		free(copy);
		return -1;
	}
	(*count)++;
	return 0;
}

static int parse_disk_slot(char *arg, void *slot, const char **why)
{
	return parse_disk(arg, slot, why);
}

static int parse_net_slot(char *arg, void *slot, const char **why)
{
	return net_config_parse(arg, slot, why);
}

static int add_disk(const char *arg, struct config *cfg)
{
	return add_device_option("--disk", arg, &cfg->ndisks, MAX_DISKS, "disks", parse_disk_slot,
				 &cfg->disks[cfg->ndisks < MAX_DISKS ? cfg->ndisks : 0]);
}

static int add_net(const char *arg, struct config *cfg)
{
	return add_device_option("--net", arg, &cfg->nnets, MAX_NETS, "network devices",
				 parse_net_slot, &cfg->nets[cfg->nnets < MAX_NETS ? cfg->nnets : 0]);
}

static int parse_option(int opt, const char *arg, struct config *cfg)
{
	const char *why;

	switch (opt) {
	case 'k': cfg->kernel = arg; return 0;
	case 'i': cfg->initrd = arg; return 0;
	case 'a': cfg->cmdline = arg; return 0;
	case 'c': return parse_cpus(arg, &cfg->cpus);
	case 'd': return add_disk(arg, cfg);
	case 'n': return add_net(arg, cfg);
	case OPT_NO_ACPI: cfg->no_acpi = true; return 0;
	case 'M': cfg->monitor = arg; return 0;
	case OPT_SNAPSHOT_DIR: cfg->snapshot_dir = arg; return 0;
	case OPT_RESTORE: cfg->restore = arg; return 0;
	case OPT_CONSOLE:
		if (strcmp(arg, "serial") == 0 || strcmp(arg, "virtio") == 0) {
			cfg->virtio_console = arg[0] == 'v';
			return 0;
		}
		log_msg("--console %s: expected serial or virtio", arg);
		return -1;
	case OPT_CPU_FEATURES: cfg->cpu_features = arg; return 0;
	case OPT_DEBUG: cfg->debug = true; return 0;
	case 'm':
		if (parse_size(arg, &cfg->mem_size, &why) == 0)
			return 0;
		log_msg("--mem %s: %s", arg, why);
		return -1;
	case 'h': fputs(usage_text, stdout); return 1;
	case 'V': printf("minivmm %s\n", MINIVMM_VERSION); return 1;
	default: return -1;
	}
}

int cli_parse(int argc, char **argv, struct config *cfg)
{
	static const char default_cmdline[] = DEFAULT_CMDLINE;

	int opt, rc;

	*cfg = (struct config){ .cmdline = default_cmdline, .mem_size = DEFAULT_MEM, .cpus = 1 };
	opterr = 0; /* we word the errors ourselves */
	optind = 0; /* glibc's full reset, also of a half-read option group */
	while ((opt = getopt_long(argc, argv, ":k:i:a:m:c:d:n:M:hV", long_options, NULL)) != -1) {
		if (opt == '?' || opt == ':') {
			char shortopt[3] = { '-', (char)optopt, 0 };
			const char *word = argv[optind - 1];

			/* A long option is the last word read; a short one may sit in a group. */
			log_msg("%s: %s (see --help)",
				strncmp(word, "--", 2) == 0 || !optopt ? word : shortopt,
				opt == '?' ? "unknown option" : "needs an argument");
			return -1;
		}
		rc = parse_option(opt, optarg, cfg);
		if (rc)
			return rc;
	}
	if (optind < argc) {
		log_msg("%s: unexpected argument (see --help)", argv[optind]);
		return -1;
	}
	if (cfg->virtio_console && cfg->cmdline == default_cmdline)
		cfg->cmdline = DEFAULT_CMDLINE_HVC;
	if (!cfg->kernel && !cfg->restore) {
		log_msg("--kernel: missing; a kernel to boot is required (see --help)");
		return -1;
	}
	return 0;
}
