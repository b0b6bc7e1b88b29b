/* The monitor's commands: each checks its arguments and answers on one client. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>


#include "../devices/ged.h"
#include "../devices/virtio_blk.h"
#include "../devices/virtio_net.h"
#include "log.h"
#include "monitor.h"
#include "snapshot.h"
#include "vm.h"

#ifndef MINIVMM_VERSION
#define MINIVMM_VERSION "0.1"
#endif

struct command {
	const char *name;
	const char *args;
	int min_args, max_args;
	void (*run)(struct monitor_client *c, struct vm *vm, char **argv, int argc);
	const char *help;
};

static void status(struct monitor_client *c, struct vm *vm, char **argv, int argc)
{
	(void)argv;
	(void)argc;
	monitor_printf(c, "VM status: %s\n", vm_exiting(vm) ? "shutdown" :
					    vm->paused	     ? "paused" : "running");
}

/* vm_pause, with its failure told to the client in one line; returns 0 if paused. */
static int pause_or_say(struct monitor_client *c, struct vm *vm)
{
	int err = vm_pause(vm);

	if (err == -ETIMEDOUT)
		monitor_printf(c, "Error: a vCPU did not stop within 3 s (is its console output "
				  "blocked?); the VM runs on\n");
	else if (err < 0)
		monitor_printf(c, "Error: cannot read the guest clock to pause: %s\n",
			       strerror(-err));
	return err;
}

/* KVM_GET_REGS waits for a running vCPU, so look at them paused. */
static void cpus(struct monitor_client *c, struct vm *vm, char **argv, int argc)
{
	bool was_paused = vm->paused;

	(void)argv;
	(void)argc;
	if (pause_or_say(c, vm) == -ETIMEDOUT)
		return;
	for (int i = 0; i < vm->ncpus; i++) {
		struct kvm_regs regs = { 0 };
		struct kvm_mp_state mp = { 0 };

		ioctl(vm->vcpus[i].fd, KVM_GET_REGS, &regs);
		ioctl(vm->vcpus[i].fd, KVM_GET_MP_STATE, &mp);
		monitor_printf(c, "%s CPU #%d: thread_id=%d pc=0x%016llx%s\n", i == 0 ? "*" : " ",
			       i, atomic_load(&vm->vcpus[i].tid), regs.rip,
			       mp.mp_state == KVM_MP_STATE_HALTED ? " (halted)" :
			       mp.mp_state == KVM_MP_STATE_RUNNABLE ? "" : " (waiting for SIPI)");
	}
	if (!was_paused)
		vm_resume(vm);
}

static void block(struct monitor_client *c, struct vm *vm, char **argv, int argc)
{
	int n = 0;

	(void)argv;
	(void)argc;
	for (int i = 0; i < vm->ndevices; i++) {
		const struct virtio_blk *blk = vm->devices[i].dev;

		if (strcmp(vm->devices[i].ops->name, "virtio-blk") != 0)
			continue;
		monitor_printf(c, "vd%c: %s (raw, %s, %llu bytes%s%s)\n", 'a' + n++, blk->path,
			       blk->read_only ? "read-only" : "read-write",
			       (unsigned long long)blk->size, blk->serial[0] ? ", serial " : "",
			       blk->serial[0] ? blk->serial : "");
	}
	if (!n)
		monitor_printf(c, "no block devices\n");
}

static void network(struct monitor_client *c, struct vm *vm, char **argv, int argc)
{
	int n = 0;

	(void)argv;
	(void)argc;
	for (int i = 0; i < vm->ndevices; i++) {
		const struct virtio_net *net = vm->devices[i].dev;
		const uint8_t *m = net->config.mac;

		if (strcmp(vm->devices[i].ops->name, "virtio-net") != 0)
			continue;
		monitor_printf(c, "net%d: tap %s, mac %02x:%02x:%02x:%02x:%02x:%02x, rx %llu "
				  "tx %llu packets\n",
			       n++, net->ifname, m[0], m[1], m[2], m[3], m[4], m[5],
			       (unsigned long long)net->rx_packets,
			       (unsigned long long)net->tx_packets);
	}
	if (!n)
		monitor_printf(c, "no network devices\n");
}

static void print_line(void *ctx, const char *line)
{
	monitor_printf(ctx, "%s\n", line);
}

static void snapshots(struct monitor_client *c, struct vm *vm, char **argv, int argc)
{
	char why[256];

	(void)argv;
	(void)argc;
	if (snapshot_list(vm, print_line, c, why, sizeof(why)) < 0)
		monitor_printf(c, "Error: %s\n", why);
}

static void version(struct monitor_client *c, struct vm *vm, char **argv, int argc)
{
	(void)vm;
	(void)argv;
	(void)argc;
	monitor_printf(c, "minivmm %s\n", MINIVMM_VERSION);
}

static const struct command info_commands[] = {
	{ "status", "", 0, 0, status, "whether the VM runs, is paused or shuts down" },
	{ "cpus", "", 0, 0, cpus, "each vCPU: host thread, RIP, halted" },
	{ "block", "", 0, 0, block, "disks" },
	{ "network", "", 0, 0, network, "network devices" },
	{ "snapshots", "", 0, 0, snapshots, "snapshots in the snapshot directory" },
	{ "version", "", 0, 0, version, "the minivmm version" },
};

static void stop(struct monitor_client *c, struct vm *vm, char **argv, int argc)
{
	(void)argv;
	(void)argc;
	pause_or_say(c, vm);
}

static void cont(struct monitor_client *c, struct vm *vm, char **argv, int argc)
{
	(void)argv;
	(void)argc;
	if (vm_resume(vm) < 0)
		monitor_printf(c, "Error: cannot resume: %s\n", vm->cannot_resume);
}

static void quit(struct monitor_client *c, struct vm *vm, char **argv, int argc)
{
	(void)c;
	(void)argv;
	(void)argc;
	log_msg("quit (monitor)");
	vm_request_exit(vm, EXIT_POWEROFF);
}

static void powerdown(struct monitor_client *c, struct vm *vm, char **argv, int argc)
{
	(void)argv;
	(void)argc;
	if (!vm->ged)
		monitor_printf(c, "Error: no ACPI power button (started with --no-acpi)\n");
	else
		ged_power_button(vm->ged);
}

/* Run a snapshot operation with the VM paused, resuming it after if it ran. */
static void with_pause(struct monitor_client *c, struct vm *vm, const char *name,
		       int (*op)(struct vm *, const char *, char *, size_t))
{
	bool was_paused = vm->paused;
	char why[512];

	if (pause_or_say(c, vm) == 0 && op(vm, name, why, sizeof(why)) < 0)
		monitor_printf(c, "Error: %s\n", why);
	if (!was_paused && vm->paused && vm_resume(vm) < 0)
		monitor_printf(c, "Error: the VM stays paused: %s\n", vm->cannot_resume);
}

static int reset_op(struct vm *vm, const char *name, char *why, size_t len)
{
	(void)name;
	return vm_reset(vm, why, len);
}

static void reset(struct monitor_client *c, struct vm *vm, char **argv, int argc)
{
	(void)argv;
	(void)argc;
	with_pause(c, vm, NULL, reset_op);
}

static void savevm(struct monitor_client *c, struct vm *vm, char **argv, int argc)
{
	(void)argc;
	with_pause(c, vm, argv[1], snapshot_save);
}

static void loadvm(struct monitor_client *c, struct vm *vm, char **argv, int argc)
{
	(void)argc;
	with_pause(c, vm, argv[1], snapshot_load);
}

static void delvm(struct monitor_client *c, struct vm *vm, char **argv, int argc)
{
	char why[512];

	(void)argc;
	if (snapshot_delete(vm, argv[1], why, sizeof(why)) < 0)
		monitor_printf(c, "Error: %s\n", why);
}

static void help(struct monitor_client *c, struct vm *vm, char **argv, int argc);
static void info(struct monitor_client *c, struct vm *vm, char **argv, int argc);

static const struct command commands[] = {
	{ "help", "[COMMAND]", 0, 1, help, "list commands, or explain one" },
	{ "info", "SUBCOMMAND", 1, 1, info, "show something: 'help info' lists what" },
	{ "stop", "", 0, 0, stop, "pause the VM: vCPUs and devices stop, the guest clock too" },
	{ "cont", "", 0, 0, cont, "resume a paused VM" },
	{ "system_reset", "", 0, 0, reset, "reset the machine and boot again" },
	{ "system_powerdown", "", 0, 0, powerdown, "press the ACPI power button" },
	{ "savevm", "NAME", 1, 1, savevm, "save a snapshot of the whole machine" },
	{ "loadvm", "NAME", 1, 1, loadvm, "put the whole machine back as snapshot NAME was" },
	{ "delvm", "NAME", 1, 1, delvm, "delete snapshot NAME" },
	{ "quit", "", 0, 0, quit, "stop the VM and exit minivmm (status 0)" },
};

#define COUNT(a) (int)(sizeof(a) / sizeof((a)[0]))

static const struct command *lookup(const struct command *table, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(table[i].name, name) == 0)
			return &table[i];
	return NULL;
}

static void help_table(struct monitor_client *c, const char *prefix, const struct command *t,
		       int n)
{
	for (int i = 0; i < n; i++)
		monitor_printf(c, "%s%s %s -- %s\n", prefix, t[i].name, t[i].args, t[i].help);
}

static void help(struct monitor_client *c, struct vm *vm, char **argv, int argc)
{
	(void)vm;
	if (argc == 1) {
		help_table(c, "", commands, COUNT(commands));
	} else if (strcmp(argv[1], "info") == 0) {
		help_table(c, "info ", info_commands, COUNT(info_commands));
	} else {
		const struct command *cmd = lookup(commands, COUNT(commands), argv[1]);

		if (cmd)
			help_table(c, "", cmd, 1);
		else
			monitor_printf(c, "Error: unknown command '%s'\n", argv[1]);
	}
}

/* Dispatch @argv[0] in @table, checking the argument count. */
static void dispatch(struct monitor_client *c, struct vm *vm, const struct command *table,
		     int n, char **argv, int argc, const char *what)
{
	const struct command *cmd = lookup(table, n, argv[0]);

	if (!cmd)
		monitor_printf(c, "Error: unknown %s '%s' (try 'help')\n", what, argv[0]);
	else if (argc - 1 < cmd->min_args)
		monitor_printf(c, "Error: %s needs %s\n", cmd->name, cmd->args);
	else if (argc - 1 > cmd->max_args)
		monitor_printf(c, "Error: too many arguments to %s\n", cmd->name);
	else
		cmd->run(c, vm, argv, argc);
}

static void info(struct monitor_client *c, struct vm *vm, char **argv, int argc)
{
	dispatch(c, vm, info_commands, COUNT(info_commands), argv + 1, argc - 1, "info subcommand");
}

void monitor_execute(struct monitor_client *c, char *line)
{
	char *argv[MONITOR_MAX_WORDS];
	const char *why;
	int argc = monitor_split(line, argv, &why);

	if (argc < 0)
		monitor_printf(c, "Error: %s\n", why);
	else if (argc > 0)
		dispatch(c, c->mon->vm, commands, COUNT(commands), argv, argc, "command");
}
