/* error.c - names for the RC_E_* codes of error.h. */
#include "base/error.h"

const char *rc_strerror(int code)
{
	switch (code) {
	case RC_OK:            return "success";
	case RC_E_NOMEM:       return "out of memory";
	case RC_E_IO:          return "input/output error";
	case RC_E_FORMAT:      return "malformed input";
	case RC_E_CHECKSUM:    return "checksum mismatch";
	case RC_E_VERSION:     return "unsupported format version";
	case RC_E_RANGE:       return "value out of range";
	case RC_E_ARG:         return "invalid argument";
	case RC_E_NOTFOUND:    return "not found";
	case RC_E_UNSUPPORTED: return "unsupported";
	case RC_E_INTERRUPTED: return "interrupted";
	case RC_E_TRUNCATED:   return "truncated input";
	}
	return "unknown error";
}
