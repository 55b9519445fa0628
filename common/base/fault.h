/* fault.h - crash points for the fault-injection tests (tests/fault/).
 *
 * Every step of writing a file calls rc_fault_point(): each buffered or
 * direct write (rc_io_write_all, rc_io_write_fd) and each stage of an
 * atomic commit. In the library and the installed programs it does
 * nothing. The test programs of tests/fault/ compile fault.c again with
 * RC_FAULT_INJECTION defined, and there the environment decides:
 *
 *   RCLIP_FAULT_AT=N      the Nth crash point reached kills the process
 *                         with SIGKILL (as kill -9 or a power cut would)
 *   RCLIP_FAULT_COUNT=F   at exit, append the number of points reached
 *                         to the file F (the test counts the steps)
 *
 * so that a test can stop a writer at every step in turn and look at what
 * is left under the final name. */
#ifndef RCLIP_FAULT_H
#define RCLIP_FAULT_H

/* rc_fault_point - one write step; what names it (unused but for
 * debugging: RCLIP_FAULT_TRACE=1 prints "fault N: what" to stderr in a
 * test build). Returns normally, or not at all. */
void rc_fault_point(const char *what);

#endif
