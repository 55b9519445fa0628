/* options.c - the programs' shared options (options.h). */
#include "model/options.h"

#include <string.h>

#include "base/cli.h"
#include "text/bpe.h"

int rc_device_option(const char *s, struct rc_device *d)
{
	if (rc_device_parse(s, d) < 0)
		return rc_cli_usage_error("--device: '%s' (expected cpu, cuda, cuda:N or auto)", s);
	return 0;
}

int rc_precision_option(const char *s, struct rc_device *d, const char *expected)
{
	if (rc_precision_parse(s, d) < 0)
		return rc_cli_usage_error("--precision: '%s' (expected %s)", s, expected);
	return 0;
}

int rc_tokenizer_option(const char *s, int *out)
{
	*out = -1;
	if (strcmp(s, "auto") && (*out = rc_bpe_semantics_parse(s)) < 0)
		return rc_cli_usage_error("--tokenizer: '%s' (expected hf, open_clip or auto)", s);
	return 0;
}
