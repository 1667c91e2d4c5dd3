// Helpers for gitvault's tests: scratch directories, the fixture script that makes real
// repositories with git, running git and the real gitvault binary.
#pragma once

#include <string>
#include <vector>

#include "base/process.h"

namespace gitvault::testing {

// A fresh directory removed at destruction (kept when GITVAULT_KEEP_TEST_DIRS is set).
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

// Runs tests/fixtures/make-storage.sh into dir (see the script for what it makes).
void make_fixture_storage(const std::string& dir, int many_refs = 200);

// Runs a shell command; fails the test (throws) when it exits non-zero.
std::string sh(const std::string& command);
// Runs a shell command and returns its exit status, output in *out.
int sh_status(const std::string& command, std::string* out = nullptr);

// `git show-ref --head` of a bare repository ("" for an empty one).
std::string show_ref(const std::string& repo);
// The symbolic target of HEAD, "" when detached.
std::string symbolic_head(const std::string& repo);

struct CommandResult {
  int exit_code;
  std::string out;
  std::string err;
};
// Runs the gitvault binary with args.
CommandResult gitvault(const std::vector<std::string>& args,
                       const std::vector<std::pair<std::string, std::string>>& env = {});
std::string gitvault_binary();

std::string read_text(const std::string& path);
void write_text(const std::string& path, const std::string& text);
// Files whose name contains ".tmp-" under dir (temporary files left behind).
std::vector<std::string> temp_files_under(const std::string& dir);

}  // namespace gitvault::testing
