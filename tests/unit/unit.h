/* Shared includes for the cmocka unit tests. */
#ifndef MINIVMM_UNIT_H
#define MINIVMM_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
