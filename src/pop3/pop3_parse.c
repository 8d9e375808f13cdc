/* POP3 command parsing.
 * SECURITY: reads client input; lines are bounded by the caller and
 * may contain any byte, including NUL. */
#include "pop3/pop3_parse.h"

#include <string.h>

int
pop3_parse_command(const char *line, size_t len, char verb[5],
    const char **args_r)
{
	size_t n = 0;

	while (n < len && n < 4 && ((line[n] >= 'A' && line[n] <= 'Z') ||
	    (line[n] >= 'a' && line[n] <= 'z'))) {
		verb[n] = (char)(line[n] & ~0x20);
		n++;
	}
	verb[n] = '\0';
	if (n < 3 || (n < len && line[n] != ' '))
		return -1;
	if (memchr(line, '\0', len) != NULL)
		return -1;
	*args_r = n < len ? line + n + 1 : line + n;
	return 0;
}

int
pop3_parse_numbers(const char *args, int nmin, int nmax, uint32_t *nums)
{
	const char *p = args;
	int count = 0;

	if (*p == '\0')
		return nmin == 0 ? 0 : -1;
	for (;;) {
		uint64_t v = 0;
		size_t digits = 0;

		if (count == nmax)
			return -1;
		while (*p >= '0' && *p <= '9') {
			v = v * 10 + (uint64_t)(*p++ - '0');
			if (++digits > 10 || v > UINT32_MAX)
				return -1;
		}
		if (digits == 0)
			return -1;
		nums[count++] = (uint32_t)v;
		if (*p == '\0')
			break;
		if (*p++ != ' ')
			return -1;
	}
	return count >= nmin ? count : -1;
}
