/*
 * test=demo: a small interactive console for people poking at a VMM by
 * hand.  Interrupt-driven input with local echo and backspace.
 */
#include "minitest.h"
#include "hw.h"

static const char *e820_name(uint32_t type)
{
	switch (type) {
	case 1: return "usable";
	case 2: return "reserved";
	case 3: return "ACPI data";
	case 4: return "ACPI NVS";
	case 5: return "unusable";
	default: return "other";
	}
}

static void show_mem(void)
{
	say("memory: %lu MiB usable, highest RAM ends at 0x%lx",
	    sys.ram.total >> 20, sys.ram.top);
	for (unsigned i = 0; i < sys.e820_n; i++) {
		const struct e820_entry *e = &sys.e820[i];

		say("  %016lx-%016lx %s", e->addr, e->addr + e->size - 1,
		    e820_name(e->type));
	}
}

static void show_cpus(void)
{
	if (!sys.mp_found) {
		say("cpus: no MP table, only the boot CPU (apic %u) is known",
		    cpu_apic_id());
		return;
	}
	say("cpus: %u in MP table, %u online", sys.mp.ncpus, sys.cpus_online);
	for (unsigned i = 0; i < sys.mp.ncpus; i++)
		say("  apic id %u%s", sys.mp.apic_id[i],
		    sys.mp.bsp[i] ? " (boot CPU)" : "");
}

void demo_summary(void)
{
	say("hello from minitest, a tiny test kernel");
	say("hypervisor: %s", sys.kvm_sig[0] ? sys.kvm_sig : "not KVM");
	show_cpus();
	show_mem();
	say("type 'help' for commands");
}

static void help(void)
{
	say("commands:");
	say("  help        this list");
	say("  info        the start-up summary again");
	say("  cpus        processors from the MP table");
	say("  mem         the e820 memory map");
	say("  echo TEXT   print TEXT");
	say("  reset       reset the machine (i8042, then triple fault)");
	say("  crash       triple fault on purpose");
}

static void run_command(const char *cmd)
{
	if (!cmd[0])
		return;
	if (!strcmp(cmd, "help"))
		help();
	else if (!strcmp(cmd, "info"))
		demo_summary();
	else if (!strcmp(cmd, "cpus"))
		show_cpus();
	else if (!strcmp(cmd, "mem"))
		show_mem();
	else if (!strncmp(cmd, "echo", 4) && (cmd[4] == ' ' || !cmd[4]))
		say("%s", cmd[4] ? cmd + 5 : "");
	else if (!strcmp(cmd, "reset"))
		machine_reset();
	else if (!strcmp(cmd, "crash")) {
		say("triple fault now");
		triple_fault();
	} else
		say("unknown command '%s' (try 'help')", cmd);
}

/* Read one line with echo; backspace/DEL erase, CR or LF end it. */
static void read_line(char *buf, size_t size)
{
	size_t n = 0;
	char s[2] = { 0, 0 };

	for (;;) {
		int c = uart_getc_wait();

		if (c == '\r' || c == '\n') {
			kputs("\n");
			break;
		}
		if (c == 0x08 || c == 0x7f) {
			if (n) {
				n--;
				kputs("\b \b");
			}
			continue;
		}
		if (c < 0x20 || c > 0x7e || n + 1 >= size)
			continue;
		buf[n++] = (char)c;
		s[0] = (char)c;
		kputs(s);
	}
	buf[n] = '\0';
}

void demo_run(void)
{
	char line[128];

	irq_setup();
	uart_irq_enable_rx();
	sti();
	demo_summary();
	for (;;) {
		kputs("minitest> ");
		read_line(line, sizeof(line));
		run_command(line);
	}
}
