// Running child processes (git, the gitaly-backup worker) with Boost.Process.
//
// Standard input is fed by a producer on its own thread, standard output is handed to a
// consumer on the calling thread, standard error is collected (bounded) on a third thread,
// so no combination of pipe sizes can deadlock. Pipes are close-on-exec, so children
// spawned concurrently from several threads never inherit each other's pipes.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace gitvault {

// Writes into a child's standard input. write() returns false once the child has closed
// its end (it exited or stopped reading); the producer should then stop.
class PipeWriter {
 public:
  explicit PipeWriter(int fd) : fd_(fd) {}
  bool write(const void* data, std::size_t size);

 private:
  int fd_;
};

struct ProcessSpec {
  std::string program;              // a path, or a name looked up in PATH
  std::vector<std::string> args;    // argv[1..]
  std::string working_dir;          // empty: inherit
  std::vector<std::pair<std::string, std::string>> env_set;  // added to the environment
  std::vector<std::string> env_unset;                          // removed from it
  // Feeds standard input; empty means the child reads /dev/null.
  std::function<void(PipeWriter&)> stdin_producer;
  // Receives standard output in chunks; empty means it is collected into ProcessResult::out.
  std::function<void(const char*, std::size_t)> stdout_consumer;
};

struct ProcessResult {
  int exit_code = -1;        // -1 when killed by a signal
  int signal = 0;            // the signal that ended it, if any
  std::string out;           // standard output when no consumer was given
  std::string err;           // standard error, at most 64 KiB
  bool ok() const { return exit_code == 0; }
  // "exit status N" or "killed by signal N", then the last line(s) of standard error.
  std::string describe() const;
};

// Runs the process to completion. Exceptions thrown by the producer or the consumer are
// rethrown after the child has been stopped and reaped; failure to start throws Error(Git).
ProcessResult run_process(const ProcessSpec& spec);

// The git executable: $GITVAULT_GIT if set, else "git" from PATH.
std::string git_program();

// Arguments that make git work on the bare repository at repo_path regardless of the
// caller's environment and of the repository's owner: -c safe.directory=* --git-dir=...
std::vector<std::string> git_repo_args(const std::string& repo_path);

// A ProcessSpec for `git <repo args> <args...>` with a clean GIT_* environment.
ProcessSpec git_command(const std::string& repo_path, std::vector<std::string> args);

}  // namespace gitvault
