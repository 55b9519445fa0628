/* sched.c - the learning-rate and stage-1 weight schedules (sched.h). */
#include "train/sched.h"

#include <math.h>

long rc_sched_warmup_steps(double frac, long total)
{
	if (!(frac > 0))
		return 0;
	long w = (long)floor(frac * (double)total + 1e-9);
	return w > total ? total : w;
}

double rc_sched_lr_mult(long s, long total, long W)
{
	if (s < W)
		return (double)(s + 1) / (double)W;
	if (total <= W)
		return 1.0;
	return 0.5 * (1.0 + cos(M_PI * (double)(s - W) / (double)(total - W)));
}

double rc_sched_stage1_w(double p)
{
	if (p <= 0.2)
		return 0.7;
	if (p <= 0.8)
		return 0.7 - 0.2 * (p - 0.2) / 0.6;
	return 0.6;
}
