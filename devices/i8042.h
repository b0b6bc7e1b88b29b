/* i8042 keyboard controller: ports 0x60 and 0x64, for the reset line. */
#ifndef MINIVMM_I8042_H
#define MINIVMM_I8042_H

#include <stdint.h>

struct vm;
struct i8042;

struct i8042 *i8042_create(struct vm *vm);

/* Exposed for unit tests: a controller whose reset line calls @reset. */
struct i8042 *i8042_create_detached(void (*reset)(void *ctx), void *ctx);
void i8042_read(void *opaque, uint64_t offset, void *data, unsigned size);
void i8042_write(void *opaque, uint64_t offset, const void *data, unsigned size);
extern const struct device_ops i8042_ops;

#endif
