/* options.h - the options the programs that compute share (--device,
 * --precision, --tokenizer), each parsed and refused in one place with
 * the same usage error. Each returns 0, or RC_EXIT_USAGE after
 * rc_cli_usage_error has said which value is wrong and what is expected.
 *
 *     case OPT_DEVICE:
 *             if (rc_device_option(optarg, &o->device))
 *                     return RC_EXIT_USAGE;
 */
#ifndef RCLIP_OPTIONS_H
#define RCLIP_OPTIONS_H

#include "model/backend.h"

/* rc_device_option - --device: cpu, cuda, cuda:N or auto into d. */
int rc_device_option(const char *s, struct rc_device *d);

/* rc_precision_option - --precision into d; expected lists what this
 * program takes, for the message ("fp32, bf16, int8 or auto"). */
int rc_precision_option(const char *s, struct rc_device *d, const char *expected);

/* rc_tokenizer_option - --tokenizer hf, open_clip or auto into *out
 * (enum rc_bpe_semantics; auto: -1, the model's own). */
int rc_tokenizer_option(const char *s, int *out);

#endif
