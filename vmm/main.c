/* minivmm: boot a Linux kernel under KVM. The main thread becomes the I/O thread. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "../devices/acpi_pm.h"
#include "../devices/ged.h"
#include "../devices/i8042.h"
#include "../devices/serial.h"
#include "../devices/virtio_blk.h"
#include "../devices/virtio_console.h"
#include "../devices/virtio_net.h"
#include "boot.h"
#include "cli.h"
#include "console.h"
#include "log.h"
#include "machine_state.h"
#include "monitor.h"
#include "snapshot.h"
#include "vm.h"

static void on_exit_request(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;

	(void)events;
	vm->loop.quit = true;
}

static void on_signal(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	struct signalfd_siginfo si;
	int fd = vm->signal_fd;

	(void)events;
	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	log_msg("terminating on signal %u (%s)", si.ssi_signo, strsignal(si.ssi_signo));
	vm_request_exit(vm, EXIT_POWEROFF);
}

/*
 * Termination signals become events on the loop, so teardown always runs on
 * this thread. Every thread inherits the mask; vCPU threads unblock their kick.
 */
static void setup_signals(struct vm *vm)
{
	sigset_t set;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	sigdelset(&set, SIGUSR1);
	vm->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (vm->signal_fd < 0 ||
	    event_loop_add_control(&vm->loop, vm->signal_fd, EPOLLIN, on_signal, vm) < 0 ||
	    event_loop_add_control(&vm->loop, vm->exit_eventfd, EPOLLIN, on_exit_request, vm) < 0)
		die(EXIT_RUNTIME, "signals: %s", strerror(errno));
}

/* Beside the first disk image, where a user looks for it; else the working directory. */
static const char *default_snapshot_dir(const struct config *cfg)
{
	const char *slash;
	char *dir;

	if (cfg->snapshot_dir)
		return cfg->snapshot_dir;
	if (cfg->ndisks == 0 || !(slash = strrchr(cfg->disks[0].path, '/')))
		return ".";
	if (slash == cfg->disks[0].path)
		return "/";
	dir = strndup(cfg->disks[0].path, slash - cfg->disks[0].path); /* lives with the VM */
	if (!dir)
		die(EXIT_RUNTIME, "out of memory");
	return dir;
}

static void create_devices(struct vm *vm)
{
	struct virtio_console *vc = NULL;

	i8042_create(vm);
	if (!vm->cfg->no_acpi) {
		acpi_pm_create(vm);
		vm->ged = ged_create(vm); /* the power button */
	}
	for (int i = 0; i < vm->cfg->ndisks; i++)
		virtio_blk_create(vm, &vm->cfg->disks[i]);
	for (int i = 0; i < vm->cfg->nnets; i++)
		virtio_net_create(vm, &vm->cfg->nets[i]);
	if (vm->cfg->virtio_console)
		vc = virtio_console_create(vm);
	serial_create(vm); /* last: it puts the terminal in raw mode */
	/* The UART keeps printing early boot output; input goes to one device. */
	if (vc)
		console_set_frontend(vm->console, &(struct console_frontend){
			virtio_console_rx_space, virtio_console_rx_push, vc });
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct vm vm;
	struct monitor mon = { .listen_fd = -1 };
	struct boot_info boot = { 0 };
	int rc = cli_parse(argc, argv, &cfg);

	if (rc)
		return rc > 0 ? 0 : EXIT_USAGE;
	log_debug_enabled = cfg.debug;

	vm_create(&vm, &cfg);
	setup_signals(&vm);
	create_devices(&vm);
	vm.snapshot_dir = default_snapshot_dir(&cfg);
	/* After the devices: the firmware tables describe them. */
	if (!cfg.restore)
		boot_load(&vm, &boot);
	vcpus_create(&vm, boot.entry, boot.boot_params);
	machine_state_init(&vm);
	if (cfg.restore)
		snapshot_restore_at_start(&vm, cfg.restore);
	else
		vm_record_power_on(&vm);
	if (cfg.monitor)
		monitor_init(&mon, &vm, cfg.monitor);

	vcpus_start(&vm);
	if (event_loop_run(&vm.loop) < 0)
		vm_request_exit(&vm, EXIT_RUNTIME);
	vcpus_stop(&vm);

	int status = atomic_load(&vm.exit_status);

	monitor_destroy(&mon);
	console_destroy(vm.console);
	vm_destroy(&vm);
	return status;
}
