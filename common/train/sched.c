/* sched.c - the learning-rate and stage-1 weight schedules (sched.h). */
#include "train/sched.h"

#include <math.h>

long rc_sched_warmup_steps(double frac, long total)
{
	if (!(frac > 0))
		return 0;
	long w = (long)ceil((double)total * frac);
	return w > total ? total : w;
}

double rc_sched_lr_mult(long s, long total, long W)
{
	if (s < W)
		return (double)s / (double)(W > 1 ? W : 1);
	const double progress = (double)(s - W) / (double)(total - W > 1 ? total - W : 1);
	const double f = 0.5 * (1.0 + cos(M_PI * progress));
	return f > 0 ? f : 0.0;
}

double rc_sched_stage1_w(double p, const double tb[3])
{
	if (p <= 0.2)
		return tb[0];
	if (p <= 0.8)
		return tb[0] + (tb[1] - tb[0]) * ((p - 0.2) / (0.8 - 0.2));
	return tb[2];
}
