/*
 * 8250/16550A UART. The guest's register accesses run on vCPU threads and
 * console input arrives on the I/O thread, so all state sits under one lock.
 * Transmission is instant: THR is always empty again after a write.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../vmm/console.h"
#include "../vmm/device.h"
#include "../vmm/log.h"
#include "../vmm/vm.h"
#include "serial.h"

#define FIFO_SIZE 16

/* Register offsets */
enum { RBR_THR = 0, IER = 1, IIR_FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7 };

#define IER_RDI 0x01  /* received data available */
#define IER_THRI 0x02 /* transmitter holding register empty */
#define IER_RLSI 0x04 /* receiver line status */
#define IER_MSI 0x08  /* modem status */
#define IIR_NONE 0x01
#define IIR_MSI 0x00
#define IIR_THRI 0x02
#define IIR_RDI 0x04
#define IIR_RLSI 0x06
#define IIR_FIFO_ENABLED 0xc0
#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define LCR_DLAB 0x80
#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT1 0x04
#define MCR_OUT2 0x08
#define MCR_LOOP 0x10
#define LSR_DR 0x01
#define LSR_OE 0x02
#define LSR_THRE 0x20
#define LSR_TEMT 0x40
#define MSR_DCTS 0x01
#define MSR_CTS 0x10
#define MSR_DSR 0x20
#define MSR_RI 0x40
#define MSR_DCD 0x80

#define SERIAL_STATE_VERSION 1

/* Everything a snapshot needs; plain data so save/load is a copy. */
struct serial_regs {
	uint32_t version;
	uint8_t ier, lcr, mcr, lsr, msr, scr, dll, dlm, fcr;
	uint8_t thri_pending; /* THRE interrupt raised and not yet acknowledged */
	uint8_t rx_count, rx_head;
	uint8_t rx[FIFO_SIZE];
};

struct serial {
	pthread_mutex_t lock;
	struct serial_regs r;
	int irq_level;
	void (*output)(void *ctx, const uint8_t *buf, size_t len);
	void (*irq)(void *ctx, int level);
	void (*rx_ready)(void *ctx); /* may be NULL */
	void *ctx;
};

static uint8_t interrupt_id(const struct serial *s)
{
	if ((s->r.ier & IER_RLSI) && (s->r.lsr & LSR_OE))
		return IIR_RLSI;
	if ((s->r.ier & IER_RDI) && s->r.rx_count)
		return IIR_RDI;
	if ((s->r.ier & IER_THRI) && s->r.thri_pending)
		return IIR_THRI;
	if ((s->r.ier & IER_MSI) && (s->r.msr & 0x0f))
		return IIR_MSI;
	return IIR_NONE;
}

/* Drive the line; an edge-triggered ISA IRQ needs every change, not every level. */
static void update_irq(struct serial *s)
{
	/* OUT2 gates the interrupt line on PC serial ports. */
	int level = interrupt_id(s) != IIR_NONE && (s->r.mcr & MCR_OUT2);

	if (level != s->irq_level) {
		s->irq_level = level;
		s->irq(s->ctx, level);
	}
}

static void rx_put(struct serial *s, uint8_t c)
{
	if (s->r.rx_count == FIFO_SIZE) {
		s->r.lsr |= LSR_OE;
		return;
	}
	s->r.rx[(s->r.rx_head + s->r.rx_count) % FIFO_SIZE] = c;
	s->r.rx_count++;
	s->r.lsr |= LSR_DR;
}

static uint8_t rx_get(struct serial *s)
{
	uint8_t c;

	if (!s->r.rx_count)
		return 0;
	c = s->r.rx[s->r.rx_head];
	s->r.rx_head = (s->r.rx_head + 1) % FIFO_SIZE;
	if (--s->r.rx_count == 0)
		s->r.lsr &= ~LSR_DR;
	return c;
}

/* In loopback the modem inputs follow the modem outputs, as Linux's probe expects. */
static uint8_t modem_status(const struct serial *s)
{
	uint8_t mcr = s->r.mcr;

	if (!(mcr & MCR_LOOP))
		return s->r.msr;
	return (s->r.msr & 0x0f) | (mcr & MCR_RTS ? MSR_CTS : 0) | (mcr & MCR_DTR ? MSR_DSR : 0) |
	       (mcr & MCR_OUT1 ? MSR_RI : 0) | (mcr & MCR_OUT2 ? MSR_DCD : 0);
}

static void transmit(struct serial *s, uint8_t c)
{
	if (s->r.mcr & MCR_LOOP)
		rx_put(s, c);
	else
		s->output(s->ctx, &c, 1);
	/* The byte left at once: a new THRE interrupt, after the line dropped. */
	s->r.thri_pending = 0;
	update_irq(s);
	s->r.thri_pending = 1;
}

/*
 * The RX FIFO has room again. Called without the lock: the console reads
 * stdin only while the FIFO has room and waits for this to start again.
 * Every path that makes room must call it, or console input stops for good.
 */
static void rx_ready(struct serial *s)
{
	if (s->rx_ready)
		s->rx_ready(s->ctx);
}

static uint8_t read_reg(struct serial *s, unsigned reg, bool *drained)
{
	bool dlab = s->r.lcr & LCR_DLAB;
	uint8_t v;

	switch (reg) {
	case RBR_THR:
		if (dlab)
			return s->r.dll;
		*drained = s->r.rx_count == FIFO_SIZE;
		return rx_get(s);
	case IER: return dlab ? s->r.dlm : s->r.ier;
	case IIR_FCR:
		v = interrupt_id(s);
		if (v == IIR_THRI)
			s->r.thri_pending = 0; /* reading IIR acknowledges THRE */
		return v | (s->r.fcr & FCR_ENABLE ? IIR_FIFO_ENABLED : 0);
	case LCR: return s->r.lcr;
	case MCR: return s->r.mcr;
	case LSR:
		v = s->r.lsr;
		s->r.lsr &= ~LSR_OE; /* error bits clear on read */
		return v;
	case MSR:
		v = modem_status(s);
		s->r.msr &= 0xf0; /* delta bits clear on read */
		return v;
	default: return s->r.scr;
	}
}

static void write_reg(struct serial *s, unsigned reg, uint8_t v, bool *cleared)
{
	bool dlab = s->r.lcr & LCR_DLAB;

	switch (reg) {
	case RBR_THR:
		if (dlab)
			s->r.dll = v;
		else
			transmit(s, v);
		break;
	case IER:
		if (dlab) {
			s->r.dlm = v;
			break;
		}
		/* Enabling THRI with THR empty raises the interrupt at once. */
		if ((v & IER_THRI) && !(s->r.ier & IER_THRI))
			s->r.thri_pending = 1;
		s->r.ier = v & 0x0f;
		break;
	case IIR_FCR:
		s->r.fcr = v & 0xc9;
		if (v & FCR_CLEAR_RX) {
			s->r.rx_count = 0;
			s->r.lsr &= ~LSR_DR;
			*cleared = true;
		}
		break;
	case LCR: s->r.lcr = v; break;
	case MCR: s->r.mcr = v & 0x1f; break;
	case SCR: s->r.scr = v; break;
	default: break; /* LSR and MSR are read-only */
	}
}

void serial_read(void *opaque, uint64_t offset, void *data, unsigned size)
{
	struct serial *s = opaque;
	bool drained = false;

	memset(data, 0, size);
	pthread_mutex_lock(&s->lock);
	*(uint8_t *)data = read_reg(s, offset & 7, &drained);
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	if (drained)
		rx_ready(s);
}

void serial_write(void *opaque, uint64_t offset, const void *data, unsigned size)
{
	struct serial *s = opaque;
	bool cleared = false;

	(void)size;
	pthread_mutex_lock(&s->lock);
	write_reg(s, offset & 7, *(const uint8_t *)data, &cleared);
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	if (cleared) /* Linux clears the FIFO when the port is opened */
		rx_ready(s);
}

size_t serial_rx_space(void *opaque)
{
	struct serial *s = opaque;
	size_t space;

	pthread_mutex_lock(&s->lock);
	space = FIFO_SIZE - s->r.rx_count;
	pthread_mutex_unlock(&s->lock);
	return space;
}

void serial_rx_push(void *opaque, const uint8_t *buf, size_t len)
{
	struct serial *s = opaque;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < len; i++)
		rx_put(s, buf[i]);
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

static void serial_reset(void *opaque)
{
	struct serial *s = opaque;

	pthread_mutex_lock(&s->lock);
	memset(&s->r, 0, sizeof(s->r));
	s->r.version = SERIAL_STATE_VERSION;
	s->r.lsr = LSR_THRE | LSR_TEMT;
	s->r.msr = MSR_DCD | MSR_DSR | MSR_CTS; /* a terminal is attached */
	s->r.dll = 12; /* 9600 baud */
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	rx_ready(s); /* the FIFO is empty now, whatever it held */
}

static long serial_save(void *opaque, void *buf, size_t cap)
{
	struct serial *s = opaque;

	return device_save_plain(&s->lock, &s->r, sizeof(s->r), buf, cap);
}

static int serial_load(void *opaque, const void *buf, size_t len)
{
	struct serial *s = opaque;
	struct serial_regs r;

	if (device_check_plain(buf, len, sizeof(r), SERIAL_STATE_VERSION))
		return -EINVAL;
	memcpy(&r, buf, sizeof(r));
	if (r.rx_count > FIFO_SIZE || r.rx_head >= FIFO_SIZE)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	s->r = r;
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	/* The FIFO the console stopped on (full before loadvm) is gone. */
	if (r.rx_count < FIFO_SIZE)
		rx_ready(s);
	return 0;
}

static void serial_destroy(void *opaque)
{
	struct serial *s = opaque;

	pthread_mutex_destroy(&s->lock);
	free(s);
}

const struct device_ops serial_ops = {
	.name = "serial",
	.reset = serial_reset,
	.save = serial_save,
	.load = serial_load,
	.destroy = serial_destroy,
};

struct serial *serial_create_detached(void (*output)(void *ctx, const uint8_t *buf, size_t len),
				      void (*irq)(void *ctx, int level),
				      void (*rx_ready)(void *ctx), void *ctx)
{
	struct serial *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	pthread_mutex_init(&s->lock, NULL);
	s->output = output;
	s->irq = irq;
	s->rx_ready = rx_ready;
	s->ctx = ctx;
	serial_reset(s);
	return s;
}

static void vm_output(void *ctx, const uint8_t *buf, size_t len)
{
	struct vm *vm = ctx;

	console_write(vm->console, buf, len);
}

static void vm_irq(void *ctx, int level)
{
	vm_irq_line(ctx, COM1_IRQ, level);
}

/* vm->console is read at call time: console_init sets it after the UART exists. */
static void vm_rx_ready(void *ctx)
{
	console_rx_ready(((struct vm *)ctx)->console);
}

struct serial *serial_create(struct vm *vm)
{
	struct serial *s = serial_create_detached(vm_output, vm_irq, vm_rx_ready, vm);

	if (!s || vm_add_device(vm, &serial_ops, s) < 0)
		die(EXIT_RUNTIME, "serial: cannot create COM1");
	vm_register_pio(vm, COM1_BASE, 8, serial_read, serial_write, s);
	console_init(vm, &(struct console_frontend){ serial_rx_space, serial_rx_push, s });
	return s;
}
