#include "base/error.h"

#include <cerrno>
#include <cstring>

namespace gitvault {

const char* to_string(ErrorCode code) {
  switch (code) {
    case ErrorCode::Usage: return "usage";
    case ErrorCode::Config: return "config";
    case ErrorCode::NotFound: return "not_found";
    case ErrorCode::Io: return "io";
    case ErrorCode::NoSpace: return "no_space";
    case ErrorCode::Corrupt: return "corrupt";
    case ErrorCode::Git: return "git";
    case ErrorCode::PathEscape: return "path_escape";
    case ErrorCode::Verification: return "verification";
    case ErrorCode::Locked: return "locked";
    case ErrorCode::Internal: return "internal";
  }
  return "unknown";
}

void throw_errno(const std::string& operation, const std::string& path, int err) {
  ErrorCode code = ErrorCode::Io;
  if (err == ENOSPC || err == EDQUOT || err == EFBIG) code = ErrorCode::NoSpace;
  if (err == ENOENT) code = ErrorCode::NotFound;
  throw Error(code, operation + " " + path + ": " + std::strerror(err));
}

int exit_code_for(const Error& e) {
  switch (e.code()) {
    case ErrorCode::Usage:
    case ErrorCode::Config:
    case ErrorCode::NotFound:
    case ErrorCode::Locked:
      return 2;
    default:
      return 1;
  }
}

}  // namespace gitvault
