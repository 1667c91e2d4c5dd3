// Errors raised by gitvault's libraries.
//
// Every error carries a code (which decides behaviour: exit status, retry, whether a
// repository's failure is the repository's fault) and a message that already names the
// file, repository or command it concerns. The lowest layer that knows the path adds it.
#pragma once

#include <stdexcept>
#include <string>

namespace gitvault {

enum class ErrorCode {
  Usage,         // bad command line or option value
  Config,        // unreadable or invalid configuration (storages, config file)
  NotFound,      // a file, backup or repository that should exist does not
  Io,            // a read or write failed
  NoSpace,       // a write failed for lack of space or quota
  Corrupt,       // backup data is damaged: checksum mismatch, truncated, unparsable
  Git,           // a git command or libgit2 call failed
  PathEscape,    // a path would leave the directory it must stay in
  Verification,  // a restored repository differs from what was recorded
  Locked,        // another run holds the lock this one needs (docs/locking.md)
  Internal,
};

const char* to_string(ErrorCode code);

class Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const { return code_; }

 private:
  ErrorCode code_;
};

// The exit status of a command that stopped on `e` (docs/exit-codes.md): 2 when nothing was
// attempted (usage, configuration, not found, locked), else 1.
int exit_code_for(const Error& e);

// An Io (or NoSpace, for ENOSPC/EDQUOT/EFBIG) error: "<operation> <path>: <strerror>".
[[noreturn]] void throw_errno(const std::string& operation, const std::string& path, int err);

}  // namespace gitvault
