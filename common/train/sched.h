/* sched.h - the schedules of the training recipes (DESIGN.md §5), as the
 * official training code runs them: Hugging Face's linear warmup and
 * cosine (transformers' get_cosine_schedule_with_warmup, with the
 * Trainer's ceil(warmup_ratio · steps) warmup steps), and stage 1's
 * weight w(p) of the descriptive stream. Pure functions of the step.
 *
 *     long W = rc_sched_warmup_steps(0.1, total);
 *     double lr = base_lr * rc_sched_lr_mult(step, total, W);
 *     const double tb[3] = { 0.7, 0.5, 0.6 };
 *     double w = rc_sched_stage1_w((double)step / (double)total, tb);
 */
#ifndef RCLIP_SCHED_H
#define RCLIP_SCHED_H

/* rc_sched_warmup_steps - ceil(total · frac) warmup steps (frac in
 * [0,1]), the product in double as Python takes it: 0.07 of 100 steps is
 * 7.000000000000001, so 8 steps, as the Trainer gives. */
long rc_sched_warmup_steps(double frac, long total);

/* rc_sched_lr_mult - the learning rate's factor at optimizer step s
 * (0-based) of total with W warmup steps: s/W while s < W (the first
 * step at 0), then ½(1 + cos(π·(s-W)/max(1, total-W))), never below 0. */
double rc_sched_lr_mult(long s, long total, long W);

/* rc_sched_stage1_w - stage 1's weight of the descriptive stream at
 * progress p = step/steps for the weights tb = {start, mid, end}: start
 * up to p = 0.2, linear to mid at p = 0.8, then end (the official
 * make_tb_schedule with its break points 0.2 and 0.8). The CLIP run's
 * weights are {0.7, 0.5, 0.6}, the SigLIP runs' {0.6, 0.3, 0.5}. */
double rc_sched_stage1_w(double p, const double tb[3]);

#endif
