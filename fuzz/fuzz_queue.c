/* libFuzzer target: the queue file formats qmail-queue writes and
 * qmail-send reads back (lib/queue): the envelope check qmail-queue applies
 * to what its caller sends on fd 1, the mess/ header and the info/ file.
 * The first byte picks the parser. A header or info file that parses must
 * format back to text that parses to the same values; a valid envelope
 * starts with 'F' and ends with a NUL. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void header(const char *s, size_t n)
{
	struct queue_header h, h2;
	char out[QUEUE_HEADER_LEN];
	if (queue_header_parse(s, n, &h) != 0) return;
	queue_header_format(out, &h);
	if (queue_header_parse(out, sizeof out, &h2) != 0) abort();
	if (memcmp(&h, &h2, sizeof h) != 0) abort();
}

static void info(const char *s, size_t n)
{
	struct queue_info in, in2;
	char out[QUEUE_INFO_HEADER_LEN];
	memset(&in, 0, sizeof in);
	memset(&in2, 0, sizeof in2);
	if (queue_info_parse(s, n, &in) == 0) {
		queue_info_format_header(out, &in);
		if (n >= QUEUE_INFO_HEADER_LEN) {
			struct str again = STR_INIT;
			str_copyb(&again, out, sizeof out);
			str_catb(&again, s + QUEUE_INFO_HEADER_LEN, n - QUEUE_INFO_HEADER_LEN);
			if (queue_info_parse(again.s, again.len, &in2) != 0) abort();
			if (in.birth != in2.birth || in.nrecip != in2.nrecip ||
			    in.next[0] != in2.next[0] || in.next[1] != in2.next[1])
				abort();
			str_free(&again);
		}
	}
	str_free(&in.sender);
	str_free(&in.recips);
	str_free(&in2.sender);
	str_free(&in2.recips);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data + 1;
	size_t n;
	if (size < 1) return 0;
	n = size - 1;
	switch (data[0] % 3) {
	case 0:
		if (queue_envelope_valid(s, n) && (n < 2 || s[0] != 'F' || s[n - 1] != 0)) abort();
		break;
	case 1: header(s, n); break;
	default: info(s, n); break;
	}
	return 0;
}
