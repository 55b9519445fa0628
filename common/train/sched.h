/* sched.h - the schedules of the training recipes (DESIGN.md §5): the
 * learning rate's cosine with linear warmup, and stage 1's weight w(p) of
 * the descriptive stream. Pure functions of the step.
 *
 *     long W = rc_sched_warmup_steps(0.1, total);
 *     double lr = base_lr * rc_sched_lr_mult(step, total, W);
 *     double w = rc_sched_stage1_w((double)step / (double)total);
 */
#ifndef RCLIP_SCHED_H
#define RCLIP_SCHED_H

/* rc_sched_warmup_steps - floor(frac · total) warmup steps (frac in [0,1]). */
long rc_sched_warmup_steps(double frac, long total);

/* rc_sched_lr_mult - the learning rate's factor at step s (0-based) of
 * total with W warmup steps: (s+1)/W while s < W, then the cosine
 * ½(1 + cos(π·(s-W)/(total-W))) down toward 0 at the end. */
double rc_sched_lr_mult(long s, long total, long W);

/* rc_sched_stage1_w - stage 1's weight of the descriptive stream at
 * progress p = step/steps: 0.7 up to p = 0.2, linear down to 0.5 at
 * p = 0.8, then 0.6 (the official recipe's step back up). */
double rc_sched_stage1_w(double p);

#endif
