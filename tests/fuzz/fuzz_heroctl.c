/*
 * Copyright (c) 2026 The herod authors
 *
 * Permission to use, copy, modify, and distribute this software for any
 * purpose with or without fee is hereby granted, provided that the above
 * copyright notice and this permission notice appear in all copies.
 *
 * THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
 * WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
 * MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
 * ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
 * WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
 * ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
 * OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.
 */

/*
 * Fuzz harness: heroctl's handling of herod's replies (ctl/output.c),
 * herod being the hostile party here (a heroctl run by an admin talks
 * to whatever listens on the control socket path).
 *
 * Input: byte 0 picks the command (CTL_LIST..CTL_VERSION_CMD; bit 0
 * logs or events for JSON lines), byte 1 bit 0 -j, bit 1 a JSON-lines
 * reply (logs, events) rather than one document; the rest is the reply, cut at each newline in JSON-lines
 * mode as heroctl.c does.  stdout goes to a memory file that is checked
 * after every input.  Checked besides memory safety:
 *  - a reply is either printed for people (0) or warned about and
 *    printed raw (-1, exactly one warning);
 *  - what is printed for people from a document or an event has no
 *    control character but newline and tab: a text from herod cannot
 *    move the cursor or recolour the operator's terminal.  (Log lines
 *    are the service's own bytes and are printed as they are.)
 */
#include <sys/mman.h>
#include <sys/types.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heroctl.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int	LLVMFuzzerInitialize(int *, char ***);

static int	 outfd = -1;
static int	 nwarn;

/* err.h's warnx, as output.c calls it: counted, not printed. */
void
warnx(const char *fmt, ...)
{
	char	 buf[512];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	nwarn++;
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fflush(stdout);
	if ((outfd = memfd_create("heroctl-out", MFD_CLOEXEC)) == -1 ||
	    dup2(outfd, STDOUT_FILENO) == -1)
		abort();
	return 0;
}

/* What was printed since the last call; checked when strict. */
static void
check_output(int strict)
{
	static char	 buf[64 * 1024];
	ssize_t		 n, i;

	fflush(stdout);
	if (strict && lseek(STDOUT_FILENO, 0, SEEK_SET) == 0) {
		while ((n = read(STDOUT_FILENO, buf, sizeof(buf))) > 0) {
			for (i = 0; i < n; i++) {
				unsigned char c = (unsigned char)buf[i];

				if ((c < 0x20 && c != '\n' && c != '\t') ||
				    c == 0x7f) {
					fprintf(stderr, "control character "
					    "0x%02x printed\n", c);
					abort();
				}
			}
		}
	}
	if (ftruncate(STDOUT_FILENO, 0) == -1 ||
	    lseek(STDOUT_FILENO, 0, SEEK_SET) == -1)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct parse_result	 res;
	char			*buf, *line, *nl;
	size_t			 len;
	int			 rv, lines;

	if (size < 2)
		return 0;
	if (outfd == -1)
		LLVMFuzzerInitialize(NULL, NULL);
	memset(&res, 0, sizeof(res));
	res.json = data[1] & 1;
	lines = (data[1] & 2) != 0;
	/* as parser.c: only logs and events read JSON lines */
	if (lines)
		res.cmd = (data[0] & 1) ? CTL_LOGS : CTL_EVENTS;
	else
		res.cmd = (enum ctl_cmd)(CTL_LIST + data[0] % CTL_VERSION_CMD);
	res.stream = lines;
	res.restart = -1;
	len = size - 2;
	/* heroctl.c keeps its buffers NUL terminated */
	if ((buf = malloc(len + 1)) == NULL)
		abort();
	memcpy(buf, data + 2, len);
	buf[len] = '\0';

	if (!lines) {
		nwarn = 0;
		rv = out_document(&res, buf, len);
		if ((rv != 0 && rv != -1) || nwarn != (rv == -1))
			abort();
		check_output(rv == 0 && !res.json);
		free(buf);
		return 0;
	}
	for (line = buf; line < buf + len; line = nl + 1) {
		if ((nl = memchr(line, '\n', (size_t)(buf + len - line))) ==
		    NULL)
			nl = buf + len;
		*nl = '\0';
		nwarn = 0;
		rv = out_line(&res, line, (size_t)(nl - line));
		if ((rv != 0 && rv != -1) || nwarn != (rv == -1))
			abort();
		check_output(rv == 0 && !res.json && res.cmd != CTL_LOGS);
	}
	free(buf);
	return 0;
}
