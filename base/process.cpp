#include "base/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

// glibc has vfork; Boost's feature test only admits it for old _XOPEN_SOURCE levels.
#define BOOST_POSIX_HAS_VFORK 1
#include <boost/process.hpp>
#include <boost/process/posix.hpp>
#include <cerrno>
#include <cstdlib>
#include <exception>
#include <map>
#include <mutex>
#include <thread>

#include "base/error.h"
#include "base/files.h"

namespace bp = boost::process;

namespace gitvault {
namespace {

constexpr std::size_t kMaxStderr = 64 * 1024;

void ignore_sigpipe_once() {
  static std::once_flag once;
  std::call_once(once, [] { ::signal(SIGPIPE, SIG_IGN); });
}

// A Boost pipe whose two descriptors are close-on-exec from birth.
bp::pipe cloexec_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2", "", errno);
  bp::pipe p;
  ::close(p.native_source());
  ::close(p.native_sink());
  p.assign_source(fds[0]);
  p.assign_sink(fds[1]);
  return p;
}

// PATH lookups are remembered: a run starts git for many repositories, and each lookup is a
// stat per PATH entry. (PATH does not change during a run.)
boost::filesystem::path search_path_cached(const std::string& program) {
  static std::mutex mu;
  static std::map<std::string, boost::filesystem::path> found;
  std::lock_guard<std::mutex> lock(mu);
  auto it = found.find(program);
  if (it != found.end()) return it->second;
  boost::filesystem::path exe = bp::search_path(program);
  if (!exe.empty()) found[program] = exe;
  return exe;
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

bool PipeWriter::write(const void* data, std::size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd_, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EPIPE) return false;
      throw_errno("write to child's standard input", "", errno);
    }
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

std::string ProcessResult::describe() const {
  std::string s = signal ? "killed by signal " + std::to_string(signal)
                         : "exit status " + std::to_string(exit_code);
  std::string e = err;
  while (!e.empty() && (e.back() == '\n' || e.back() == '\r' || e.back() == ' ')) e.pop_back();
  // Keep the last few lines: git puts the reason last.
  std::size_t pos = e.size();
  for (int lines = 0; lines < 3 && pos != std::string::npos && pos > 0; ++lines)
    pos = e.rfind('\n', pos - 1);
  if (pos != std::string::npos && pos < e.size()) e = e.substr(pos + 1);
  for (char& c : e)
    if (c == '\n' || c == '\r') c = ' ';
  if (!e.empty()) s += ": " + e;
  return s;
}

namespace {

// Reads the child's standard output to its end: to spec.stdout_consumer, or into
// result.out. Returns what went wrong (a read error, the consumer's exception), null if nothing.
std::exception_ptr read_stdout(int out_fd, const ProcessSpec& spec, ProcessResult& result) {
  StreamBuffer buf(std::size_t{1} << 17);
  for (;;) {
    ssize_t n = ::read(out_fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return std::make_exception_ptr(
          Error(ErrorCode::Io, std::string("read from ") + spec.program + ": " + std::strerror(errno)));
    if (n == 0) return nullptr;
    if (!spec.stdout_consumer) {
      result.out.append(buf.data(), static_cast<std::size_t>(n));
      continue;
    }
    try {
      spec.stdout_consumer(buf.data(), static_cast<std::size_t>(n));
    } catch (...) {
      return std::current_exception();
    }
  }
}

// Reaps the child ourselves to learn about signals (Boost folds them into the exit code).
void reap(bp::child& child, ProcessResult& result) {
  int status = 0;
  pid_t pid = child.id();
  child.detach();
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
}

// Starts spec.program with its arguments, environment and directory, its standard streams on
// the three pipes.
bp::child spawn(const ProcessSpec& spec, bp::pipe& in_pipe, bp::pipe& out_pipe, bp::pipe& err_pipe) {
  auto env = boost::this_process::environment();
  bp::environment child_env = env;
  for (const auto& name : spec.env_unset) child_env.erase(name);
  for (const auto& [k, v] : spec.env_set) child_env[k] = v;

  boost::filesystem::path exe = spec.program;
  if (spec.program.find('/') == std::string::npos) {
    exe = search_path_cached(spec.program);
    if (exe.empty()) throw Error(ErrorCode::Git, "cannot start " + spec.program + ": not found in PATH");
  }

  // vfork: the child borrows our address space until it execs, instead of fork copying
  // the page tables of a process that may hold a large backup record.
  try {
    if (spec.working_dir.empty())
      return bp::child(exe, bp::args = spec.args, bp::env = child_env, bp::std_in < in_pipe, bp::std_out > out_pipe,
                       bp::std_err > err_pipe, bp::posix::use_vfork);
    return bp::child(exe, bp::args = spec.args, bp::env = child_env, bp::std_in < in_pipe, bp::std_out > out_pipe,
                     bp::std_err > err_pipe, bp::start_dir = spec.working_dir, bp::posix::use_vfork);
  } catch (const std::exception& e) {
    throw Error(ErrorCode::Git, "cannot start " + exe.string() + ": " + e.what());
  }
}

}  // namespace

ProcessResult run_process(const ProcessSpec& spec) {
  ignore_sigpipe_once();
  bp::pipe out_pipe = cloexec_pipe();
  bp::pipe err_pipe = cloexec_pipe();
  bp::pipe in_pipe = cloexec_pipe();
  // A larger standard-input pipe lets a producer hand over a bundle in 1 MiB steps rather
  // than 64 KiB ones: fewer context switches between us and git. Best effort (the limit is
  // /proc/sys/fs/pipe-max-size).
  if (spec.stdin_producer) (void)::fcntl(in_pipe.native_sink(), F_SETPIPE_SZ, 1 << 20);

  bp::child child = spawn(spec, in_pipe, out_pipe, err_pipe);

  // After the spawn Boost has closed our copies of the child's ends.
  int in_fd = in_pipe.native_sink();
  in_pipe.assign_sink(-1);
  int out_fd = out_pipe.native_source();
  out_pipe.assign_source(-1);
  int err_fd = err_pipe.native_source();
  err_pipe.assign_source(-1);

  ProcessResult result;
  std::thread err_thread([&] {
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(err_fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (result.err.size() < kMaxStderr)
        result.err.append(buf, std::min<std::size_t>(static_cast<std::size_t>(n), kMaxStderr - result.err.size()));
    }
  });

  std::exception_ptr producer_error;
  std::thread in_thread;
  if (spec.stdin_producer) {
    in_thread = std::thread([&] {
      try {
        PipeWriter writer(in_fd);
        spec.stdin_producer(writer);
      } catch (...) {
        producer_error = std::current_exception();
      }
      close_fd(in_fd);
    });
  } else {
    close_fd(in_fd);
  }

  std::exception_ptr consumer_error = read_stdout(out_fd, spec, result);
  if (consumer_error) {
    std::error_code ignored;
    child.terminate(ignored);
  }
  close_fd(out_fd);
  if (in_thread.joinable()) in_thread.join();
  err_thread.join();
  close_fd(err_fd);

  reap(child, result);

  if (consumer_error) std::rethrow_exception(consumer_error);
  if (producer_error) std::rethrow_exception(producer_error);
  return result;
}

std::string git_program() {
  const char* g = std::getenv("GITVAULT_GIT");
  return g && *g ? g : "git";
}

std::vector<std::string> git_repo_args(const std::string& repo_path) {
  return {"-c", "safe.directory=*", "--git-dir=" + repo_path};
}

ProcessSpec git_command(const std::string& repo_path, std::vector<std::string> args) {
  ProcessSpec spec;
  spec.program = git_program();
  spec.args = repo_path.empty() ? std::vector<std::string>{"-c", "safe.directory=*"} : git_repo_args(repo_path);
  spec.args.insert(spec.args.end(), args.begin(), args.end());
  spec.env_unset = {"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
                    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE", "GIT_CEILING_DIRECTORIES",
                    "GIT_CONFIG_PARAMETERS", "GIT_QUARANTINE_PATH"};
  spec.env_set = {{"GIT_TERMINAL_PROMPT", "0"}, {"LC_ALL", "C"}};
  return spec;
}

}  // namespace gitvault
