// Helpers for gitvault's tests: scratch directories, the fixture script that makes real
// repositories with git, running git and the real gitvault binary.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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
// The source tree's tests/fixtures (the scripts that make storages with git).
std::string fixtures_dir();
// A record entry's earlier steps: from the chain file it names (docs/backup-format.md,
// "Chains"; the entry then repeats none), else its own previous_steps. `backups` is the
// backup directory.
nlohmann::json chain_steps_of(const std::string& backups, const nlohmann::json& entry);

std::string read_text(const std::string& path);
void write_text(const std::string& path, const std::string& text);
// Files whose name contains ".tmp-" under dir (temporary files left behind).
std::vector<std::string> temp_files_under(const std::string& dir);

// The S3 test server (scripts/s3-server, started by scripts/test): the URL of its test
// bucket with a fresh prefix of its own for the calling test, "s3://bucket/PREFIX?...".
// Empty when no server was started — then the test is skipped, except under CI=true,
// where it fails: CI always has the server.
std::string s3_test_url(const std::string& extra_query = "");
// The same in the server's versioned bucket with Object Lock enabled.
std::string s3_locked_test_url(const std::string& extra_query = "");
// Skips (or under CI fails) the calling test when there is no S3 server; use as
// `GITVAULT_REQUIRE_S3(url);`.
#define GITVAULT_REQUIRE_S3(url)                                                             \
  std::string url = ::gitvault::testing::s3_test_url();                                     \
  if (url.empty()) {                                                                        \
    if (::gitvault::testing::running_in_ci()) FAIL() << "no S3 server (scripts/s3-server)"; \
    GTEST_SKIP() << "no S3 server: run scripts/test, which starts one";                    \
  }
bool running_in_ci();
// The same for the server's bucket with Object Lock: `url` a fresh prefix there with `query`.
#define GITVAULT_REQUIRE_S3_LOCKED(url, query)                                              \
  std::string url = ::gitvault::testing::s3_locked_test_url(query);                         \
  if (url.empty()) {                                                                        \
    if (::gitvault::testing::running_in_ci()) FAIL() << "no S3 server (scripts/s3-server)"; \
    GTEST_SKIP() << "no S3 server: run scripts/test, which starts one";                    \
  }

}  // namespace gitvault::testing
