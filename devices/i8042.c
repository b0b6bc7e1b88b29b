/*
 * Just enough of the i8042 keyboard controller for a guest to reset the
 * machine through it (Linux's reboot=k) and to probe it without hanging.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "../vmm/device.h"
#include "../vmm/log.h"
#include "../vmm/vm.h"
#include "i8042.h"

#define DATA_PORT 0x60
#define CMD_PORT 0x64 /* status on read */

#define STATUS_OBF 0x01 /* output buffer full: data for the guest at 0x60 */
#define STATUS_SYS 0x04 /* passed self-test */
#define CMD_READ_CTR 0x20
#define CMD_WRITE_CTR 0x60
#define CMD_WRITE_OUTPUT 0xd1
#define CMD_SELF_TEST 0xaa
#define CMD_KBD_TEST 0xab
#define CMD_AUX_TEST 0xa9
#define CMD_PULSE_RESET 0xfe
#define OUTPUT_RESET_LINE 0x01 /* 0 asserts the CPU reset line */

#define I8042_STATE_VERSION 1

struct i8042_regs {
	uint32_t version;
	uint8_t status;
	uint8_t ctr; /* controller configuration byte */
	uint8_t out; /* byte waiting at the data port */
	uint8_t pending_cmd; /* command waiting for its data byte */
};

struct i8042 {
	pthread_mutex_t lock;
	struct i8042_regs r;
	void (*reset)(void *ctx);
	void *ctx;
};

static void reply(struct i8042 *k, uint8_t byte)
{
	k->r.out = byte;
	k->r.status |= STATUS_OBF;
}

static void command(struct i8042 *k, uint8_t cmd)
{
	switch (cmd) {
	case CMD_READ_CTR: reply(k, k->r.ctr); break;
	case CMD_WRITE_CTR:
	case CMD_WRITE_OUTPUT: k->r.pending_cmd = cmd; break;
	case CMD_SELF_TEST: reply(k, 0x55); break;
	case CMD_KBD_TEST:
	case CMD_AUX_TEST: reply(k, 0x00); break;
	case CMD_PULSE_RESET: k->reset(k->ctx); break;
	default: break; /* enable/disable ports and the like: nothing to model */
	}
}

static void data_write(struct i8042 *k, uint8_t v)
{
	uint8_t cmd = k->r.pending_cmd;

	k->r.pending_cmd = 0;
	if (cmd == CMD_WRITE_CTR)
		k->r.ctr = v;
	else if (cmd == CMD_WRITE_OUTPUT && !(v & OUTPUT_RESET_LINE))
		k->reset(k->ctx);
	/* A byte for a keyboard that is not there: no answer, as with none plugged in. */
}

void i8042_read(void *opaque, uint64_t offset, void *data, unsigned size)
{
	struct i8042 *k = opaque;
	uint8_t v;

	pthread_mutex_lock(&k->lock);
	if (offset == CMD_PORT - DATA_PORT) {
		v = k->r.status;
	} else if (offset != 0) {
		v = 0xff; /* 0x62, 0x63: nothing there */
	} else {
		v = k->r.out;
		k->r.status &= ~STATUS_OBF;
	}
	pthread_mutex_unlock(&k->lock);
	memset(data, 0, size);
	*(uint8_t *)data = v;
}

void i8042_write(void *opaque, uint64_t offset, const void *data, unsigned size)
{
	struct i8042 *k = opaque;
	uint8_t v = *(const uint8_t *)data;

	(void)size;
	pthread_mutex_lock(&k->lock);
	if (offset == CMD_PORT - DATA_PORT)
		command(k, v);
	else if (offset == 0)
		data_write(k, v);
	pthread_mutex_unlock(&k->lock);
}

static void i8042_reset(void *opaque)
{
	struct i8042 *k = opaque;

	pthread_mutex_lock(&k->lock);
	k->r = (struct i8042_regs){ .version = I8042_STATE_VERSION, .status = STATUS_SYS,
				    .ctr = 0x01 | 0x04 }; /* keyboard IRQ on, system flag */
	pthread_mutex_unlock(&k->lock);
}

static long i8042_save(void *opaque, void *buf, size_t cap)
{
	struct i8042 *k = opaque;

	return device_save_plain(&k->lock, &k->r, sizeof(k->r), buf, cap);
}

static int i8042_load(void *opaque, const void *buf, size_t len)
{
	struct i8042 *k = opaque;

	return device_load_plain(&k->lock, &k->r, sizeof(k->r), I8042_STATE_VERSION, buf, len);
}

static void i8042_destroy(void *opaque)
{
	struct i8042 *k = opaque;

	pthread_mutex_destroy(&k->lock);
	free(k);
}

const struct device_ops i8042_ops = {
	.name = "i8042",
	.reset = i8042_reset,
	.save = i8042_save,
	.load = i8042_load,
	.destroy = i8042_destroy,
};

struct i8042 *i8042_create_detached(void (*reset)(void *ctx), void *ctx)
{
	struct i8042 *k = calloc(1, sizeof(*k));

	if (!k)
		return NULL;
	pthread_mutex_init(&k->lock, NULL);
	k->reset = reset;
	k->ctx = ctx;
	i8042_reset(k);
	return k;
}

static void vm_reset(void *ctx)
{
	vm_request_exit(ctx, EXIT_RESET);
}

struct i8042 *i8042_create(struct vm *vm)
{
	struct i8042 *k = i8042_create_detached(vm_reset, vm);

	if (!k || vm_add_device(vm, &i8042_ops, k) < 0)
		die(EXIT_RUNTIME, "i8042: cannot create the keyboard controller");
	/* 0x61 in between is the PIT's speaker port; the in-kernel PIT takes it first. */
	vm_register_pio(vm, DATA_PORT, CMD_PORT - DATA_PORT + 1, i8042_read, i8042_write, k);
	return k;
}
