/*
 * The UDP protocol between minitest's network modes and the host tool
 * tests/integration/nettool.c (which includes this file).  Integers are
 * big-endian.  Every datagram starts with a 4-byte ASCII tag:
 *
 *   "DATA" session seq total  + payload   a chunk of the transfer stream
 *   "ACK " session next                   cumulative: chunks < next arrived
 *   "SEND <MiB> <session>"                host asks the guest to send
 *   "QUIT"                                guest answers "BYE ", powers off
 *   "BTX <frames> <size>"                 netbench: guest blasts frames
 *   "BDAT" seq  + padding                 a netbench frame (either way)
 *   "BEND" frames                         guest's end of a blast (3 times)
 *   "BRX"                                 netbench: guest counts; "BRXA"
 *   "FIN"                                 end of a host blast; "RXD f b"
 *   "ECHO" ...                            echoed back unchanged
 *
 * The transfer stream is NP_CHUNK bytes per chunk (the last one shorter)
 * of np_word() data, little-endian words, so any offset can be rebuilt.
 */
#ifndef MINITEST_NETPROTO_H
#define MINITEST_NETPROTO_H

#include <stddef.h>
#include <stdint.h>

#define NP_PORT_DEFAULT	7777
#define NP_HDR		16
#define NP_CHUNK	1456		/* 1500 - 20 (IP) - 8 (UDP) - 16 */
#define NP_MAX_UDP	1472

static inline uint32_t np_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline void np_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* splitmix64 of the word index: word k covers stream bytes 8k..8k+7. */
static inline uint64_t np_word(uint64_t k)
{
	uint64_t z = k * 0x9e3779b97f4a7c15ULL + 0x6d696e6974657374ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/*
 * Stream bytes [off, off + n); off must be a multiple of 8.  Whole words
 * are stored at once (both ends are little-endian x86): under a slow
 * emulator every instruction per byte counts.
 */
static inline void np_fill(uint8_t *p, uint64_t off, uint32_t n)
{
	uint64_t k = off / 8, w;
	uint32_t i = 0;

	for (; i + 8 <= n; i += 8) {
		w = np_word(k++);
		__builtin_memcpy(p + i, &w, 8);
	}
	for (w = np_word(k); i < n; i++, w >>= 8)
		p[i] = (uint8_t)w;
}

#define NP_FNV_INIT	0xcbf29ce484222325ULL

/* FNV-1a 64, unrolled: 3 instructions a byte. */
static inline uint64_t np_fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (; n >= 8; n -= 8, p += 8) {
#pragma GCC unroll 8
		for (int j = 0; j < 8; j++)
			h = (h ^ p[j]) * 0x100000001b3ULL;
	}
	while (n--)
		h = (h ^ *p++) * 0x100000001b3ULL;
	return h;
}

static inline uint32_t np_chunks(uint64_t total)
{
	return (uint32_t)((total + NP_CHUNK - 1) / NP_CHUNK);
}

static inline uint32_t np_chunk_len(uint64_t total, uint32_t seq)
{
	uint64_t off = (uint64_t)seq * NP_CHUNK;

	return total - off < NP_CHUNK ? (uint32_t)(total - off) : NP_CHUNK;
}

#endif
