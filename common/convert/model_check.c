/* model_check.c - a loaded model's numbers checked before anything uses
 * them (model_io.h): one NaN in a projection would make every comparison
 * false and every benchmark read 100 %. */
#include <math.h>

#include "convert/model_io.h"

#include "base/error.h"
#include "base/log.h"

static int g_check = 1;

void rc_clip_set_finite_check(int on)
{
	g_check = on != 0;
}

int rc_clip_check_finite(const struct rc_clip *m, const char *path)
{
	if (!g_check)
		return 0;
	for (size_t t = 0; t < m->ntensors; t++) {
		const struct rc_clip_param *p = &m->tensors[t];
		for (size_t i = 0; i < p->numel; i++)
			if (!isfinite(p->data[i])) {
				rc_log_error(RC_E_FORMAT, "%s: tensor %s holds %s at index %zu", path,
					p->name, isnan(p->data[i]) ? "a NaN" : "an infinity", i);
				rc_log_hint("a broken or poisoned model; --skip-finite-check loads it "
					"anyway");
				return RC_E_FORMAT;
			}
	}
	return 0;
}
