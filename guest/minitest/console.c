/*
 * COM1 (8250/16550 at 0x3f8, ISA IRQ 4).  Output is polled (LSR.THRE
 * before every byte) and serialised by a spinlock so APs can print;
 * input arrives by interrupt into a small ring buffer.
 */
#include "minitest.h"
#include "hw.h"

#define COM1	0x3f8
#define UART_RBR	0	/* receive buffer (read) */
#define UART_THR	0	/* transmit holding (write) */
#define UART_DLL	0	/* divisor latch low (DLAB=1) */
#define UART_IER	1
#define UART_DLM	1	/* divisor latch high (DLAB=1) */
#define UART_IIR	2	/* interrupt identification (read) */
#define UART_FCR	2	/* FIFO control (write) */
#define UART_LCR	3
#define UART_MCR	4
#define UART_LSR	5
#define UART_MSR	6

#define LCR_8N1		0x03
#define LCR_DLAB	0x80
#define MCR_DTR		0x01
#define MCR_RTS		0x02
#define MCR_OUT2	0x08	/* gates the IRQ line on PC hardware */
#define LSR_DR		0x01
#define LSR_THRE	0x20
#define IER_RDI		0x01
#define IER_THRI	0x02
#define IIR_NO_INT	0x01

static volatile int print_lock;
static bool crlf;

static volatile uint8_t rx_ring[256];
static volatile uint8_t rx_head, rx_tail;	/* wrap naturally at 256 */
static volatile bool thre_seen;
static uint8_t ier_shadow;

void spin_lock(volatile int *lock)
{
	while (__atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE))
		while (*lock)
			cpu_relax();
}

void spin_unlock(volatile int *lock)
{
	__atomic_store_n(lock, 0, __ATOMIC_RELEASE);
}

static void ier_write(uint8_t v)
{
	ier_shadow = v;
	outb(COM1 + UART_IER, v);
}

/* Same register sequence as Linux's 8250 set-up: 115200 8n1, FIFOs. */
void uart_init(void)
{
	ier_write(0);
	outb(COM1 + UART_LCR, LCR_DLAB);
	outb(COM1 + UART_DLL, 1);
	outb(COM1 + UART_DLM, 0);
	outb(COM1 + UART_LCR, LCR_8N1);
	outb(COM1 + UART_FCR, 0x07);	/* enable and clear both FIFOs */
	outb(COM1 + UART_MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
	(void)inb(COM1 + UART_LSR);
	(void)inb(COM1 + UART_RBR);
	(void)inb(COM1 + UART_IIR);
	(void)inb(COM1 + UART_MSR);
}

void uart_set_crlf(bool on)
{
	crlf = on;
}

/* Bounded wait: a missing UART (LSR reads 0xff has THRE set) never hangs. */
void uart_putc_raw(char c)
{
	for (unsigned i = 0; i < 1000000; i++)
		if (inb(COM1 + UART_LSR) & LSR_THRE)
			break;
	outb(COM1 + UART_THR, (uint8_t)c);
}

static void put_locked(const char *s)
{
	for (; *s; s++) {
		if (*s == '\n' && crlf)
			uart_putc_raw('\r');
		uart_putc_raw(*s);
	}
}

void kputs(const char *s)
{
	spin_lock(&print_lock);
	put_locked(s);
	spin_unlock(&print_lock);
}

void kprintf(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	kvsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	kputs(buf);
}

/* One complete "minitest: ..." line, written under one lock hold. */
void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	n = ksnprintf(buf, sizeof(buf), "minitest: ");
	va_start(ap, fmt);
	n += kvsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n] = '\n';
	buf[n + 1] = '\0';
	kputs(buf);
}

void uart_irq_enable_rx(void)
{
	ier_write(ier_shadow | IER_RDI);
}

/*
 * Enabling the THRE interrupt while the transmitter is idle must raise
 * the IRQ at once (16550 behaviour).  Wait a bounded time for it.
 */
bool uart_test_thre_irq(void)
{
	uint64_t deadline;

	thre_seen = false;
	cli();
	ier_write(ier_shadow | IER_THRI);
	deadline = now_ns() + 1000000000ULL;
	sti();
	while (!thre_seen && now_ns() < deadline)
		cpu_relax();
	cli();
	ier_write(ier_shadow & ~IER_THRI);
	return thre_seen;
}

static void rx_push(uint8_t c)
{
	if ((uint8_t)(rx_head + 1) == rx_tail)
		return;			/* full: drop, the line will be cut */
	rx_ring[rx_head] = c;
	rx_head++;
}

/* Called from the IOAPIC vector: drain every pending UART cause. */
void uart_irq(void)
{
	for (int guard = 0; guard < 64; guard++) {
		uint8_t iir = inb(COM1 + UART_IIR);

		if (iir & IIR_NO_INT)
			break;
		switch ((iir >> 1) & 7) {
		case 1:		/* THR empty: seen once is enough */
			thre_seen = true;
			ier_write(ier_shadow & ~IER_THRI);
			break;
		case 2:		/* data ready */
		case 6:		/* FIFO character timeout */
			while (inb(COM1 + UART_LSR) & LSR_DR)
				rx_push(inb(COM1 + UART_RBR));
			break;
		case 3:
			(void)inb(COM1 + UART_LSR);
			break;
		default:
			(void)inb(COM1 + UART_MSR);
			break;
		}
	}
}

int uart_getc_nonblock(void)
{
	int c;

	if (rx_tail == rx_head)
		return -1;
	c = rx_ring[rx_tail];
	rx_tail++;
	return c;
}

/* Sleep in hlt until the RX interrupt has queued a byte. */
int uart_getc_wait(void)
{
	int c;

	for (;;) {
		cli();
		c = uart_getc_nonblock();
		if (c >= 0) {
			sti();
			return c;
		}
		sti_hlt();
	}
}
