/* libFuzzer: the monitor's line splitting on arbitrary bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../vmm/monitor_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[MONITOR_LINE_MAX + 1];
	char *words[MONITOR_MAX_WORDS];
	const char *why;

	if (size > MONITOR_LINE_MAX)
		size = MONITOR_LINE_MAX;
	memcpy(line, data, size);
	line[size] = '\0';
	int n = monitor_split(line, words, &why);

	if (n > MONITOR_MAX_WORDS || n < -1)
		abort();
	for (int i = 0; i < n; i++)
		if (words[i] < line || words[i] > line + size)
			abort();
	return 0;
}
